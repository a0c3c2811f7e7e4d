// SPDX-License-Identifier: MIT
/*
 * random_free - random-order allocation and release.
 *
 * Every thread owns a slot array. Each step picks a random slot: an empty
 * slot gets a new object, a full one is freed. Object lifetimes are thus
 * random (geometric), not FIFO or LIFO, and about half of the slots are
 * live at any time. Sizes come from a uniform or a power-law distribution
 * (-p uniform|powerlaw); the power law halves the probability with every
 * doubling of the size.
 *
 * One op is one malloc or one free call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <pthread.h>
#include "bench_util.h"

#define NAME "random_free"

struct rf_thread {
	struct bench_thread bt;	/* first: bench_run_threads() */
};

static struct bench_opts opts;
static unsigned long nslots = 8192;
static int powerlaw;
static atomic_int stop_flag;

static size_t rf_size(uint64_t *rng)
{
	size_t lo = opts.min_size, hi;
	uint64_t r;
	int k;

	if (!powerlaw)
		return bench_rand_range(rng, opts.min_size, opts.max_size);
	/* Doubling bucket k has probability 2^-(k+1). */
	r = bench_rand(rng);
	k = r ? __builtin_ctzll(r) : 63;
	while (k-- > 0 && lo * 2 <= opts.max_size)
		lo *= 2;
	hi = lo * 2 - 1;
	if (hi > opts.max_size)
		hi = opts.max_size;
	return bench_rand_range(rng, lo, hi);
}

static void rf_release(void **obj, size_t *size, unsigned long k)
{
	if (bench_check(obj[k], size[k]))
		bench_corrupt(NAME, obj[k], size[k]);
	free(obj[k]);
	obj[k] = NULL;
}

static void *rf_thread(void *arg)
{
	struct rf_thread *t = arg;
	uint64_t rng = bench_seed(opts.seed, t->bt.id);
	void **obj = calloc(nslots, sizeof(*obj));
	size_t *size = calloc(nslots, sizeof(*size));
	unsigned long k, done = 0;

	if (!obj || !size)
		bench_oom(NAME, nslots * sizeof(void *));
	while (!bench_finished(&opts, &stop_flag, done)) {
		k = bench_rand(&rng) % nslots;
		if (obj[k]) {
			rf_release(obj, size, k);
		} else {
			size[k] = rf_size(&rng);
			obj[k] = malloc(size[k]);
			if (!obj[k])
				bench_oom(NAME, size[k]);
			bench_fill(obj[k], size[k]);
		}
		done++;
	}
	for (k = 0; k < nslots; k++)
		if (obj[k])
			rf_release(obj, size, k);
	free(obj);
	free(size);
	t->bt.ops = done;
	return NULL;
}

static void parse_args(int argc, char **argv)
{
	const char *extra = " [-k slots] [-p uniform|powerlaw]";
	int c;

	bench_opts_init(&opts, 2, 16, 2048, 5000000);
	while ((c = getopt(argc, argv, BENCH_COMMON_OPTS "k:p:")) != -1) {
		if (bench_parse_common(&opts, c, optarg) == 0)
			continue;
		if (c == 'k') {
			nslots = strtoul(optarg, NULL, 0);
		} else if (c == 'p' && strcmp(optarg, "powerlaw") == 0) {
			powerlaw = 1;
		} else if (c == 'p' && strcmp(optarg, "uniform") == 0) {
			powerlaw = 0;
		} else {
			bench_usage(NAME, extra);
		}
	}
	bench_opts_check(&opts, NAME);
	if (nslots < 1)
		bench_usage(NAME, extra);
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
	parse_args(argc, argv);
	bench_run_workload(NAME, powerlaw ? "dist=powerlaw" : "dist=uniform",
			   sizeof(struct rf_thread), opts.threads, rf_thread,
			   opts.secs, &stop_flag);
	return 0;
}
