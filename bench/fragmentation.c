// SPDX-License-Identifier: MIT
/*
 * fragmentation - a long run whose size mix changes in phases.
 *
 * Every thread owns a slot array. Each phase has a size range and a target
 * number of live objects; a step picks a random slot and allocates into it
 * (below target), frees it (above target) or replaces it (at target). Slots
 * are freed at random, so objects of earlier phases survive scattered among
 * the new ones. The last phase shrinks to a small live set, which shows
 * whether the allocator can give back memory pinned by sparse survivors.
 *
 * At each phase boundary all threads meet; the live bytes (requested sizes)
 * are summed there, which gives the peak live bytes exactly up to one
 * object per thread. The live bytes include the benchmark's own slot
 * arrays (FR_CAP * 16 bytes per thread), which are resident too. Reported:
 * peak RSS against peak live bytes and the final RSS (with the final live
 * set still allocated) against the final live bytes.
 *
 * -n is the number of steps per thread over all phases; -d, if given,
 * splits the duration evenly between the phases instead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <pthread.h>
#include "bench_util.h"

#define NAME "fragmentation"
#define FR_CAP 300000UL

struct fr_phase {
	size_t min_size;
	size_t max_size;
	unsigned long target;
};

static const struct fr_phase phases[] = {
	{ 16, 256, 120000 },
	{ 1024, 8192, 3000 },
	{ 16, 64, 250000 },
	{ 256, 1024, 20000 },
	{ 32, 4096, 30000 },
	{ 16, 128, 8000 },
};

#define FR_NPHASES (sizeof(phases) / sizeof(phases[0]))

struct fr_thread {
	struct bench_thread bt;	/* first: bench_run_threads() */
	unsigned long live;
	size_t live_bytes;
};

static struct bench_opts opts;
static struct fr_thread *th;
static pthread_barrier_t phase_end;
static size_t peak_live_bytes;
static long phase_rss_kb[FR_NPHASES];
static size_t phase_live_bytes[FR_NPHASES];

/* Called by one thread at each phase boundary while the others wait. */
static void fr_sample(unsigned int phase)
{
	size_t live = 0;
	int i;

	for (i = 0; i < opts.threads; i++)
		live += th[i].live_bytes;
	if (live > peak_live_bytes)
		peak_live_bytes = live;
	phase_live_bytes[phase] = live;
	phase_rss_kb[phase] = bench_cur_rss_kb();
}

static void fr_step(struct fr_thread *t, const struct fr_phase *ph,
		    void **obj, size_t *size, uint64_t *rng)
{
	unsigned long k = bench_rand(rng) % FR_CAP;

	if (obj[k] && t->live >= ph->target) {
		if (bench_check(obj[k], size[k]))
			bench_corrupt(NAME, obj[k], size[k]);
		free(obj[k]);
		obj[k] = NULL;
		t->live--;
		t->live_bytes -= size[k];
		t->bt.ops++;
	}
	if (!obj[k] && t->live < ph->target) {
		size[k] = bench_rand_range(rng, ph->min_size, ph->max_size);
		obj[k] = malloc(size[k]);
		if (!obj[k])
			bench_oom(NAME, size[k]);
		bench_fill(obj[k], size[k]);
		t->live++;
		t->live_bytes += size[k];
		t->bt.ops++;
	}
}

static void fr_run_phase(struct fr_thread *t, unsigned int p, void **obj,
			 size_t *size, uint64_t *rng)
{
	unsigned long steps = opts.iters / FR_NPHASES, i;
	uint64_t end = bench_now_ns() + (uint64_t)(opts.secs * 1e9 /
						   FR_NPHASES);

	for (i = 0;; i++) {
		if (opts.secs > 0) {
			if ((i & 1023) == 0 && bench_now_ns() >= end)
				break;
		} else if (i >= steps) {
			break;
		}
		fr_step(t, &phases[p], obj, size, rng);
	}
}

static void *fr_thread(void *arg)
{
	struct fr_thread *t = arg;
	uint64_t rng = bench_seed(opts.seed, t->bt.id);
	void **obj = calloc(FR_CAP, sizeof(*obj));
	size_t *size = calloc(FR_CAP, sizeof(*size));
	unsigned long k;
	unsigned int p;

	if (!obj || !size)
		bench_oom(NAME, FR_CAP * sizeof(void *));
	t->live_bytes = FR_CAP * (sizeof(*obj) + sizeof(*size));
	for (p = 0; p < FR_NPHASES; p++) {
		fr_run_phase(t, p, obj, size, &rng);
		if (pthread_barrier_wait(&phase_end) ==
		    PTHREAD_BARRIER_SERIAL_THREAD)
			fr_sample(p);
		pthread_barrier_wait(&phase_end);
	}
	for (k = 0; k < FR_CAP; k++) {
		if (!obj[k])
			continue;
		if (bench_check(obj[k], size[k]))
			bench_corrupt(NAME, obj[k], size[k]);
		free(obj[k]);
	}
	free(obj);
	free(size);
	return NULL;
}

static void parse_args(int argc, char **argv)
{
	int c;

	bench_opts_init(&opts, 2, 16, 8192, 3000000);
	while ((c = getopt(argc, argv, BENCH_COMMON_OPTS)) != -1)
		if (bench_parse_common(&opts, c, optarg))
			bench_usage(NAME, "");
	bench_opts_check(&opts, NAME);
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
	unsigned long ops = 0;
	size_t final_live;
	long final_rss, peak_rss;
	double secs;

	parse_args(argc, argv);
	th = bench_alloc_threads((size_t)opts.threads, sizeof(*th));
	if (!th)
		bench_oom(NAME, sizeof(*th));
	pthread_barrier_init(&phase_end, NULL, (unsigned int)opts.threads);
	secs = bench_run_threads(NAME, th, sizeof(*th), opts.threads, fr_thread,
				 opts.secs, NULL, &ops);
	pthread_barrier_destroy(&phase_end);
	free(th);
	final_live = phase_live_bytes[FR_NPHASES - 1];
	final_rss = phase_rss_kb[FR_NPHASES - 1];
	peak_rss = bench_peak_rss_kb();
	printf("RESULT name=" NAME " threads=%d ops=%lu secs=%.3f "
	       "ops_per_sec=%.4g peak_rss_kb=%ld peak_live_kb=%zu "
	       "peak_rss_over_live=%.2f final_rss_kb=%ld final_live_kb=%zu "
	       "final_rss_over_live=%.2f\n",
	       opts.threads, ops, secs, (double)ops / secs, peak_rss,
	       peak_live_bytes / 1024,
	       (double)peak_rss * 1024 / (double)peak_live_bytes,
	       final_rss, final_live / 1024,
	       (double)final_rss * 1024 / (double)final_live);
	return 0;
}
