// SPDX-License-Identifier: MIT
/*
 * batch - one thread's malloc+free pairs of 64-byte objects, in two shapes.
 *
 * -m batch: allocate -k objects (100 by default), then free all of them in
 *	the order they were allocated; repeat. A batch longer than a per-CPU
 *	or per-thread cache goes through the refill and drain paths.
 * -m ring:  keep -k live objects (64 by default) in a ring; each step frees
 *	the oldest and allocates one in its place (the one-thread pair on a
 *	warm cache).
 *
 * -n counts malloc+free pairs (30000000 by default); -s sets the object
 * size (64). Single-threaded; -t is accepted and ignored. The RESULT line
 * gives pairs/s as ops_per_sec and ns_per_pair.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include "bench_util.h"

#define NAME "batch"
#define BATCH_MAX 4096

enum batch_mode {
	MODE_BATCH,
	MODE_RING
};

static struct bench_opts opts;
static enum batch_mode mode = MODE_BATCH;
static unsigned long live;
static unsigned char *objs[BATCH_MAX];

static unsigned char *batch_alloc(unsigned long k)
{
	unsigned char *p = malloc(opts.min_size);

	if (!p)
		bench_oom(NAME, opts.min_size);
	p[0] = (unsigned char)k;
	return p;
}

static void batch_free(unsigned long k)
{
	if (objs[k][0] != (unsigned char)k)
		bench_corrupt(NAME, objs[k], opts.min_size);
	free(objs[k]);
}

/* Whole batches of @live pairs until at least @n pairs are done. */
static __attribute__((noinline)) unsigned long batch_loop(unsigned long n)
{
	unsigned long done, k;

	for (done = 0; done < n; done += live) {
		for (k = 0; k < live; k++)
			objs[k] = batch_alloc(k);
		for (k = 0; k < live; k++)
			batch_free(k);
	}
	return done;
}

/* @n steps of the ring: free the oldest, allocate one in its place. */
static __attribute__((noinline)) unsigned long ring_loop(unsigned long n)
{
	unsigned long i, k = 0;

	for (i = 0; i < live; i++)
		objs[i] = batch_alloc(i);
	for (i = 0; i < n; i++) {
		batch_free(k);
		objs[k] = batch_alloc(k);
		if (++k == live)
			k = 0;
	}
	for (i = 0; i < live; i++)
		batch_free(i);
	return n;
}

static void parse_args(int argc, char **argv)
{
	const char *usage = " [-m batch|ring] [-k objects]";
	int c;

	bench_opts_init(&opts, 1, 64, 64, 30000000);
	while ((c = getopt(argc, argv, BENCH_COMMON_OPTS "m:k:")) != -1) {
		if (bench_parse_common(&opts, c, optarg) == 0)
			continue;
		if (c == 'm' && !strcmp(optarg, "batch"))
			mode = MODE_BATCH;
		else if (c == 'm' && !strcmp(optarg, "ring"))
			mode = MODE_RING;
		else if (c == 'k')
			live = strtoul(optarg, NULL, 0);
		else
			bench_usage(NAME, usage);
	}
	if (!live)
		live = mode == MODE_BATCH ? 100 : 64;
	opts.max_size = opts.min_size;
	bench_opts_check(&opts, NAME);
	if (live > BATCH_MAX)
		bench_usage(NAME, usage);
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
	unsigned long done;
	uint64_t t0, ns;

	parse_args(argc, argv);
	t0 = bench_now_ns();
	if (mode == MODE_BATCH)
		done = batch_loop(opts.iters);
	else
		done = ring_loop(opts.iters);
	ns = bench_now_ns() - t0;
	printf("RESULT name=" NAME " mode=%s live=%lu size=%zu threads=1 "
	       "ops=%lu secs=%.3f ops_per_sec=%.4g ns_per_pair=%.2f "
	       "peak_rss_kb=%ld rss_kb=%ld\n",
	       mode == MODE_BATCH ? "batch" : "ring", live, opts.min_size, done,
	       (double)ns / 1e9, (double)done / ((double)ns / 1e9),
	       (double)ns / (double)done, bench_peak_rss_kb(),
	       bench_cur_rss_kb());
	return 0;
}
