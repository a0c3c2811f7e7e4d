// SPDX-License-Identifier: MIT
/*
 * storm - malloc storms.
 *
 * Every thread repeatedly allocates a large batch of objects (a storm),
 * then frees them all: in allocation order on even storms, in reverse order
 * on odd ones. After the last storm, with everything freed and the
 * threads joined, the resident set size is read from /proc/self/statm
 * (rss_end_kb); then the program sleeps for -w milliseconds without any
 * call into the allocator (the statm reads use no stdio) and reads it again
 * (rss_after_kb): how much memory the allocator gives back by itself, at
 * once and within its decay time (malloc_trim() is not called).
 *
 * -n is the number of storms per thread; one op is one malloc or free call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <unistd.h>
#include "bench_util.h"

#define NAME "storm"

struct storm_thread {
	struct bench_thread bt;	/* first: bench_run_threads() */
	unsigned long storms;
};

static struct bench_opts opts;
static unsigned long storm_objs = 200000;
static unsigned long wait_ms;
static atomic_int stop_flag;

static int storm_finished(unsigned long storms)
{
	if (opts.secs > 0)
		return storms > 0 &&
		       atomic_load_explicit(&stop_flag, memory_order_relaxed);
	return storms >= opts.iters;
}

static void storm_free(void **obj, size_t *size, unsigned long k)
{
	if (bench_check(obj[k], size[k]))
		bench_corrupt(NAME, obj[k], size[k]);
	free(obj[k]);
}

static void storm_once(void **obj, size_t *size, uint64_t *rng, int reverse)
{
	unsigned long k;

	for (k = 0; k < storm_objs; k++) {
		size[k] = bench_rand_range(rng, opts.min_size, opts.max_size);
		obj[k] = malloc(size[k]);
		if (!obj[k])
			bench_oom(NAME, size[k]);
		bench_fill(obj[k], size[k]);
	}
	if (reverse) {
		for (k = storm_objs; k-- > 0;)
			storm_free(obj, size, k);
	} else {
		for (k = 0; k < storm_objs; k++)
			storm_free(obj, size, k);
	}
}

static void *storm_thread(void *arg)
{
	struct storm_thread *t = arg;
	uint64_t rng = bench_seed(opts.seed, t->bt.id);
	void **obj = calloc(storm_objs, sizeof(*obj));
	size_t *size = calloc(storm_objs, sizeof(*size));

	if (!obj || !size)
		bench_oom(NAME, storm_objs * sizeof(void *));
	while (!storm_finished(t->storms)) {
		storm_once(obj, size, &rng, (int)(t->storms & 1));
		t->storms++;
	}
	t->bt.ops = t->storms * storm_objs * 2;
	free(obj);
	free(size);
	return NULL;
}

#define USAGE " [-k objects_per_storm] [-w wait_ms]"

static void parse_args(int argc, char **argv)
{
	int c;

	bench_opts_init(&opts, 2, 16, 256, 10);
	while ((c = getopt(argc, argv, BENCH_COMMON_OPTS "k:w:")) != -1) {
		if (bench_parse_common(&opts, c, optarg) == 0)
			continue;
		if (c == 'k')
			storm_objs = strtoul(optarg, NULL, 0);
		else if (c == 'w')
			wait_ms = strtoul(optarg, NULL, 0);
		else
			bench_usage(NAME, USAGE);
	}
	bench_opts_check(&opts, NAME);
	if (storm_objs < 1)
		bench_usage(NAME, USAGE);
}

/*
 * The resident set in KiB from /proc/self/statm, or -1: with open() and
 * read() only, so that reading it calls no allocator function (stdio's
 * fopen() would, and would give the allocator a chance to purge).
 */
static long storm_rss_kb(void)
{
	char buf[128], *p;
	long resident;
	ssize_t n;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	strtol(buf, &p, 10);		/* size */
	resident = strtol(p, NULL, 10);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/**
 * main() - run the benchmark and print its RESULT line
 * @argc: argument count
 * @argv: arguments, see the usage message
 *
 * Return: 0 on success; the program exits with 1 on bad options, 2 on a
 * damaged object (BENCH_EXIT_CORRUPT) and 3 when an allocation fails.
 */
int main(int argc, char **argv)
{
	struct storm_thread *th;
	unsigned long ops = 0, storms = 0;
	long rss_end, rss_after;
	double secs;
	int i;

	parse_args(argc, argv);
	th = bench_alloc_threads((size_t)opts.threads, sizeof(*th));
	if (!th)
		bench_oom(NAME, sizeof(*th));
	secs = bench_run_threads(NAME, th, sizeof(*th), opts.threads, storm_thread,
				 opts.secs, &stop_flag, &ops);
	for (i = 0; i < opts.threads; i++)
		storms += th[i].storms;
	free(th);
	/* from here to the RESULT line: no call into the allocator */
	rss_end = storm_rss_kb();
	if (wait_ms)
		bench_sleep((double)wait_ms / 1000);
	rss_after = storm_rss_kb();
	printf("RESULT name=" NAME " threads=%d storms=%lu objs_per_storm=%lu "
	       "ops=%lu secs=%.3f ops_per_sec=%.4g peak_rss_kb=%ld "
	       "rss_end_kb=%ld wait_ms=%lu rss_after_kb=%ld\n",
	       opts.threads, storms, storm_objs, ops, secs,
	       (double)ops / secs, bench_peak_rss_kb(), rss_end, wait_ms,
	       rss_after);
	return 0;
}
