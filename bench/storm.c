// SPDX-License-Identifier: MIT
/*
 * storm - malloc storms.
 *
 * Every thread repeatedly allocates a large batch of objects (a storm),
 * then frees them all: in allocation order on even storms, in reverse order
 * on odd ones. After the last storm, with everything freed, the resident
 * set size is read from /proc/self/statm: it shows how much memory the
 * allocator gives back by itself (malloc_trim() is not called).
 *
 * -n is the number of storms per thread; one op is one malloc or free call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <pthread.h>
#include "bench_util.h"

#define NAME "storm"

struct storm_thread {
	struct bench_thread bt;	/* first: bench_run_threads() */
	unsigned long storms;
};

static struct bench_opts opts;
static unsigned long storm_objs = 200000;
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

static void parse_args(int argc, char **argv)
{
	bench_opts_init(&opts, 2, 16, 256, 10);
	bench_parse_count(argc, argv, &opts, NAME, 'k', &storm_objs,
			  " [-k objects_per_storm]");
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
	printf("RESULT name=" NAME " threads=%d storms=%lu objs_per_storm=%lu "
	       "ops=%lu secs=%.3f ops_per_sec=%.4g peak_rss_kb=%ld "
	       "rss_after_kb=%ld\n",
	       opts.threads, storms, storm_objs, ops, secs,
	       (double)ops / secs, bench_peak_rss_kb(), bench_cur_rss_kb());
	return 0;
}
