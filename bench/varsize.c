// SPDX-License-Identifier: MIT
/*
 * varsize - widely varying sizes, from a few bytes to about a megabyte.
 *
 * Sizes are log-uniform between -s and -S (every power of two is equally
 * likely), so small, medium, page-sized and huge requests all occur. Every
 * thread keeps a slot array; seven steps out of eight replace a random slot
 * (touching every page of the new object, as a real user would), the
 * eighth runs a realloc growth chain: a buffer starts small and grows by
 * about 1.5x per realloc() up to a random limit, its contents checked
 * after each move.
 *
 * -n counts steps per thread; one op is one malloc, realloc or free call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <pthread.h>
#include "bench_util.h"

#define NAME "varsize"
#define VS_HEAD 16

struct vs_thread {
	struct bench_thread bt;	/* first: bench_run_threads() */
};

static struct bench_opts opts;
static unsigned long nslots = 64;
static atomic_int stop_flag;

static int vs_log2(size_t x)
{
	return 63 - __builtin_clzll((unsigned long long)x);
}

/* Log-uniform size: pick a power-of-two bucket, then a size inside it. */
static size_t vs_size(uint64_t *rng)
{
	int lo = vs_log2(opts.min_size), hi = vs_log2(opts.max_size);
	int b = lo + (int)(bench_rand(rng) % (uint64_t)(hi - lo + 1));
	size_t a = (size_t)1 << b, z = a * 2 - 1;

	if (a < opts.min_size)
		a = opts.min_size;
	if (z > opts.max_size)
		z = opts.max_size;
	return bench_rand_range(rng, a, z);
}

static void *vs_alloc(size_t size)
{
	void *p = malloc(size);

	if (!p)
		bench_oom(NAME, size);
	bench_fill(p, size);
	bench_touch_pages(p, size);
	return p;
}

static void vs_free(void *p, size_t size)
{
	if (bench_check(p, size))
		bench_corrupt(NAME, p, size);
	free(p);
}

static void vs_chain_mark(unsigned char *p, size_t size, unsigned char seed)
{
	memset(p, seed, size < VS_HEAD ? size : VS_HEAD);
	p[size - 1] = (unsigned char)(seed ^ 0xa5);
}

static void vs_chain_verify(const unsigned char *p, size_t old, size_t size,
			    unsigned char seed)
{
	size_t i, n = old - 1 < VS_HEAD ? old - 1 : VS_HEAD;

	for (i = 0; i < n; i++)
		if (p[i] != seed)
			bench_corrupt(NAME, p, size);
	if (p[old - 1] != (unsigned char)(seed ^ 0xa5))
		bench_corrupt(NAME, p, size);
}

/* A realloc growth chain; returns the number of allocator calls. */
static unsigned long vs_chain(uint64_t *rng)
{
	unsigned char seed = (unsigned char)bench_rand(rng);
	size_t size = opts.min_size, limit = vs_size(rng), next;
	unsigned char *p = malloc(size), *q;
	unsigned long calls = 2;

	if (!p)
		bench_oom(NAME, size);
	vs_chain_mark(p, size, seed);
	while (size < limit) {
		next = size + size / 2 + (bench_rand(rng) & 15) + 1;
		q = realloc(p, next);
		if (!q)
			bench_oom(NAME, next);
		vs_chain_verify(q, size, next, seed);
		p = q;
		size = next;
		vs_chain_mark(p, size, seed);
		calls++;
	}
	free(p);
	return calls;
}

static void *vs_thread(void *arg)
{
	struct vs_thread *t = arg;
	uint64_t rng = bench_seed(opts.seed, t->bt.id);
	void **obj = calloc(nslots, sizeof(*obj));
	size_t *size = calloc(nslots, sizeof(*size));
	unsigned long k, step = 0;

	if (!obj || !size)
		bench_oom(NAME, nslots * sizeof(void *));
	for (k = 0; k < nslots; k++) {
		size[k] = vs_size(&rng);
		obj[k] = vs_alloc(size[k]);
	}
	for (;; step++) {
		if (bench_finished(&opts, &stop_flag, step))
			break;
		if ((step & 7) == 7) {
			t->bt.ops += vs_chain(&rng);
			continue;
		}
		k = bench_rand(&rng) % nslots;
		vs_free(obj[k], size[k]);
		size[k] = vs_size(&rng);
		obj[k] = vs_alloc(size[k]);
		t->bt.ops += 2;
	}
	for (k = 0; k < nslots; k++)
		vs_free(obj[k], size[k]);
	free(obj);
	free(size);
	return NULL;
}

static void parse_args(int argc, char **argv)
{
	bench_opts_init(&opts, 2, 8, 1 << 20, 60000);
	bench_parse_count(argc, argv, &opts, NAME, 'k', &nslots, " [-k slots]");
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
	bench_run_workload(NAME, "", sizeof(struct vs_thread), opts.threads,
			   vs_thread, opts.secs, &stop_flag);
	return 0;
}
