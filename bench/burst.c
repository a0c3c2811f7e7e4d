// SPDX-License-Identifier: MIT
/*
 * burst - one thread allocates a burst of objects and frees it again.
 *
 * For each burst length n in 25, 100, 400 and 1600: allocate n objects of
 * one size, write every byte of each, then free the first half in FIFO
 * order (oldest first) and the rest in LIFO order (newest first). Bursts
 * repeat until -n objects have passed through for that n (2000000 by
 * default). A burst longer than an allocator's per-CPU or per-thread cache
 * runs into its refill and drain paths, which this measures.
 *
 * The objects of a burst have one size, drawn per burst from -s..-S (64
 * bytes by default). One op is one object (one malloc and one free).
 * Single-threaded; -t is accepted and ignored.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include "bench_util.h"

#define NAME "burst"
#define BURST_LENS 4

static const unsigned long burst_len[BURST_LENS] = { 25, 100, 400, 1600 };
static struct bench_opts opts;
static void *objs[1600];

static void burst_free(size_t size, unsigned long k)
{
	if (bench_check(objs[k], size))
		bench_corrupt(NAME, objs[k], size);
	free(objs[k]);
}

static void burst_once(unsigned long n, size_t size)
{
	unsigned long k, half = n / 2;

	for (k = 0; k < n; k++) {
		objs[k] = malloc(size);
		if (!objs[k])
			bench_oom(NAME, size);
		memset(objs[k], (int)k, size);
		bench_fill(objs[k], size);
	}
	for (k = 0; k < half; k++)
		burst_free(size, k);
	for (k = n; k-- > half;)
		burst_free(size, k);
}

/*
 * All bursts of length @n until @total objects have passed through.
 * Return: the objects done (a whole number of bursts, >= @total).
 */
static unsigned long burst_run(unsigned long n, unsigned long total,
			       uint64_t *rng)
{
	unsigned long done = 0;

	while (done < total) {
		burst_once(n,
			   bench_rand_range(rng, opts.min_size, opts.max_size));
		done += n;
	}
	return done;
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
	double secs[BURST_LENS], total_secs = 0;
	unsigned long done[BURST_LENS], total = 0;
	uint64_t rng;
	int c, i;

	bench_opts_init(&opts, 1, 64, 64, 2000000);
	while ((c = getopt(argc, argv, BENCH_COMMON_OPTS)) != -1)
		if (bench_parse_common(&opts, c, optarg))
			bench_usage(NAME, "");
	bench_opts_check(&opts, NAME);
	rng = bench_seed(opts.seed, 0);

	for (i = 0; i < BURST_LENS; i++) {
		double t0 = bench_now();

		done[i] = burst_run(burst_len[i], opts.iters, &rng);
		secs[i] = bench_now() - t0;
		total += done[i];
		total_secs += secs[i];
	}
	printf("RESULT name=" NAME " threads=1 ops=%lu secs=%.3f "
	       "ops_per_sec=%.4g",
	       total, total_secs, (double)total / total_secs);
	for (i = 0; i < BURST_LENS; i++)
		printf(" n%lu_ops_per_sec=%.4g", burst_len[i],
		       (double)done[i] / secs[i]);
	printf(" peak_rss_kb=%ld rss_kb=%ld\n", bench_peak_rss_kb(),
	       bench_cur_rss_kb());
	return 0;
}
