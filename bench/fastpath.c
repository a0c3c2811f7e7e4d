// SPDX-License-Identifier: MIT
/*
 * fastpath - cost of one malloc+free pair on the allocator's fast path.
 *
 * A ring of 64 live objects; every iteration frees the oldest and puts a
 * new one in its place. Sizes cycle through eight steps from -s to -S
 * (16..128 by default), shifted by one step per lap of the ring so that a
 * slot does not always get the size it just freed. The loop body is kept
 * minimal: it is also run under callgrind with two iteration counts, and
 * the instruction difference divided by the iteration difference gives the
 * instructions per pair (loop overhead of a few instructions included).
 *
 * Single-threaded; -t is accepted and ignored. -n counts iterations (pairs).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include "bench_util.h"

#define NAME "fastpath"
#define FP_RING 64
#define FP_SIZES 8

static struct bench_opts opts;
static size_t sizes[FP_SIZES];
static unsigned char *ring[FP_RING];

static void fp_setup(void)
{
	unsigned int k;

	for (k = 0; k < FP_SIZES; k++)
		sizes[k] = opts.min_size +
			   (opts.max_size - opts.min_size) * k / (FP_SIZES - 1);
	for (k = 0; k < FP_RING; k++) {
		ring[k] = malloc(sizes[k % FP_SIZES]);
		if (!ring[k])
			bench_oom(NAME, sizes[k % FP_SIZES]);
		ring[k][0] = (unsigned char)k;
	}
}

/*
 * The measured loop. noinline keeps it a single function that is easy to
 * find in a callgrind profile.
 */
static __attribute__((noinline)) void fp_loop(unsigned long start,
					      unsigned long n)
{
	unsigned long i;

	for (i = start; i < start + n; i++) {
		unsigned int j = (unsigned int)i & (FP_RING - 1);
		unsigned char *p = ring[j];

		if (p[0] != (unsigned char)j)
			bench_corrupt(NAME, p, 1);
		free(p);
		p = malloc(sizes[(i + (i >> 6)) & (FP_SIZES - 1)]);
		if (!p)
			bench_oom(NAME, 0);
		p[0] = (unsigned char)j;
		ring[j] = p;
	}
}

static void fp_teardown(void)
{
	unsigned int k;

	for (k = 0; k < FP_RING; k++)
		free(ring[k]);
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
	unsigned long done = 0, chunk = 1UL << 16;
	uint64_t t0, ns;
	int c;

	bench_opts_init(&opts, 1, 16, 128, 50000000);
	while ((c = getopt(argc, argv, BENCH_COMMON_OPTS)) != -1)
		if (bench_parse_common(&opts, c, optarg))
			bench_usage(NAME, "");
	bench_opts_check(&opts, NAME);
	fp_setup();

	t0 = bench_now_ns();
	if (opts.secs > 0) {
		uint64_t end = t0 + (uint64_t)(opts.secs * 1e9);

		do {
			fp_loop(done, chunk);
			done += chunk;
		} while (bench_now_ns() < end);
	} else {
		fp_loop(0, opts.iters);
		done = opts.iters;
	}
	ns = bench_now_ns() - t0;
	fp_teardown();
	printf("RESULT name=" NAME " threads=1 ops=%lu secs=%.3f "
	       "ops_per_sec=%.4g ns_per_pair=%.2f peak_rss_kb=%ld rss_kb=%ld\n",
	       done, (double)ns / 1e9, (double)done / ((double)ns / 1e9),
	       (double)ns / (double)done, bench_peak_rss_kb(),
	       bench_cur_rss_kb());
	return 0;
}
