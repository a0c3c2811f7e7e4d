// SPDX-License-Identifier: MIT
/*
 * mixed_lifetime - long-lived and short-lived objects interleaved.
 *
 * Every thread keeps three populations, all drawn from the same size range
 * so that they share size classes:
 *  - long-lived: a large pool, one random member replaced per step;
 *  - medium-lived: a FIFO queue, the oldest replaced per step;
 *  - short-lived: a burst of 1..32 objects allocated and freed LIFO within
 *    the step.
 * Short-lived allocations land between long-lived ones, which punishes
 * allocators that cannot reuse holes or that mix lifetimes in a page.
 *
 * -n counts steps per thread; one op is one malloc or free call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <pthread.h>
#include "bench_util.h"

#define NAME "mixed_lifetime"
#define ML_FIFO 1024
#define ML_BURST 32

struct ml_pool {
	void **obj;
	size_t *size;
	unsigned long n;
};

struct ml_thread {
	struct bench_thread bt;	/* first: bench_run_threads() */
};

static struct bench_opts opts;
static unsigned long long_lived = 20000;
static atomic_int stop_flag;

static void *ml_alloc(uint64_t *rng, size_t *size)
{
	void *p;

	*size = bench_rand_range(rng, opts.min_size, opts.max_size);
	p = malloc(*size);
	if (!p)
		bench_oom(NAME, *size);
	bench_fill(p, *size);
	return p;
}

static void ml_free(void *p, size_t size)
{
	if (bench_check(p, size))
		bench_corrupt(NAME, p, size);
	free(p);
}

static void ml_pool_init(struct ml_pool *pool, unsigned long n, uint64_t *rng)
{
	unsigned long k;

	pool->n = n;
	pool->obj = calloc(n, sizeof(*pool->obj));
	pool->size = calloc(n, sizeof(*pool->size));
	if (!pool->obj || !pool->size)
		bench_oom(NAME, n * sizeof(void *));
	for (k = 0; k < n; k++)
		pool->obj[k] = ml_alloc(rng, &pool->size[k]);
}

static void ml_pool_replace(struct ml_pool *pool, unsigned long k,
			    uint64_t *rng)
{
	ml_free(pool->obj[k], pool->size[k]);
	pool->obj[k] = ml_alloc(rng, &pool->size[k]);
}

static void ml_pool_destroy(struct ml_pool *pool)
{
	unsigned long k;

	for (k = 0; k < pool->n; k++)
		ml_free(pool->obj[k], pool->size[k]);
	free(pool->obj);
	free(pool->size);
}

static unsigned long ml_step(struct ml_pool *lng, struct ml_pool *fifo,
			     unsigned long step, uint64_t *rng)
{
	void *burst[ML_BURST];
	size_t bsize[ML_BURST];
	unsigned long nb, i;

	ml_pool_replace(lng, bench_rand(rng) % lng->n, rng);
	ml_pool_replace(fifo, step % fifo->n, rng);
	nb = 1 + bench_rand(rng) % ML_BURST;
	for (i = 0; i < nb; i++)
		burst[i] = ml_alloc(rng, &bsize[i]);
	while (i-- > 0)
		ml_free(burst[i], bsize[i]);
	return 4 + 2 * nb;
}

static void *ml_thread(void *arg)
{
	struct ml_thread *t = arg;
	uint64_t rng = bench_seed(opts.seed, t->bt.id);
	struct ml_pool lng, fifo;
	unsigned long step = 0;

	ml_pool_init(&lng, long_lived, &rng);
	ml_pool_init(&fifo, ML_FIFO, &rng);
	for (;;) {
		if (bench_finished(&opts, &stop_flag, step))
			break;
		t->bt.ops += ml_step(&lng, &fifo, step, &rng);
		step++;
	}
	ml_pool_destroy(&lng);
	ml_pool_destroy(&fifo);
	return NULL;
}

static void parse_args(int argc, char **argv)
{
	bench_opts_init(&opts, 2, 16, 512, 400000);
	bench_parse_count(argc, argv, &opts, NAME, 'k', &long_lived,
			  " [-k long_lived_objects]");
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
	bench_run_workload(NAME, "", sizeof(struct ml_thread), opts.threads,
			   ml_thread, opts.secs, &stop_flag);
	return 0;
}
