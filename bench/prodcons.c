// SPDX-License-Identifier: MIT
/*
 * prodcons - objects allocated by producers, freed by consumers.
 *
 * The threads form producer/consumer pairs (-t 2 gives one pair). A
 * producer allocates objects, fills batches of them and passes the batches
 * through a bounded queue (mutex + condition variables) to its consumer,
 * which checks and frees every object and the batch itself. Every free is
 * thus a remote free, the pattern that stresses an allocator's cross-thread
 * return path.
 *
 * -n is the number of objects per producer; one op is one malloc or free.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <pthread.h>
#include "bench_util.h"

#define NAME "prodcons"
#define PC_QCAP 64
#define PC_BATCH 64

struct pc_batch {
	unsigned int n;
	void *obj[PC_BATCH];
	size_t size[PC_BATCH];
};

struct pc_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	struct pc_batch *item[PC_QCAP];
	unsigned int head;
	unsigned int count;
};

struct pc_pair {
	BENCH_PRIVATE struct pc_queue q;
	pthread_t prod;
	pthread_t cons;
	unsigned int id;
	/* each written by one side only: on blocks of their own */
	BENCH_PRIVATE unsigned long prod_ops;
	BENCH_PRIVATE unsigned long cons_ops;
};

static struct bench_opts opts;
static atomic_int stop_flag;

static void pc_push(struct pc_queue *q, struct pc_batch *b)
{
	pthread_mutex_lock(&q->lock);
	while (q->count == PC_QCAP)
		pthread_cond_wait(&q->not_full, &q->lock);
	q->item[(q->head + q->count) % PC_QCAP] = b;
	if (q->count++ == 0)
		pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

static struct pc_batch *pc_pop(struct pc_queue *q)
{
	struct pc_batch *b;

	pthread_mutex_lock(&q->lock);
	while (q->count == 0)
		pthread_cond_wait(&q->not_empty, &q->lock);
	b = q->item[q->head];
	q->head = (q->head + 1) % PC_QCAP;
	if (q->count-- == PC_QCAP)
		pthread_cond_signal(&q->not_full);
	pthread_mutex_unlock(&q->lock);
	return b;
}

static void *pc_producer(void *arg)
{
	struct pc_pair *pair = arg;
	uint64_t rng = bench_seed(opts.seed, pair->id);
	unsigned long made = 0;
	struct pc_batch *b;
	unsigned int i;

	while (!bench_finished(&opts, &stop_flag, made)) {
		b = malloc(sizeof(*b));
		if (!b)
			bench_oom(NAME, sizeof(*b));
		b->n = PC_BATCH;
		for (i = 0; i < PC_BATCH; i++) {
			b->size[i] = bench_rand_range(&rng, opts.min_size,
						      opts.max_size);
			b->obj[i] = malloc(b->size[i]);
			if (!b->obj[i])
				bench_oom(NAME, b->size[i]);
			bench_fill(b->obj[i], b->size[i]);
		}
		made += PC_BATCH;
		pair->prod_ops += PC_BATCH + 1;
		pc_push(&pair->q, b);
	}
	pc_push(&pair->q, NULL);
	return NULL;
}

static void *pc_consumer(void *arg)
{
	struct pc_pair *pair = arg;
	struct pc_batch *b;
	unsigned int i;

	while ((b = pc_pop(&pair->q)) != NULL) {
		for (i = 0; i < b->n; i++) {
			if (bench_check(b->obj[i], b->size[i]))
				bench_corrupt(NAME, b->obj[i], b->size[i]);
			free(b->obj[i]);
		}
		pair->cons_ops += b->n + 1;
		free(b);
	}
	return NULL;
}

static void pc_pair_init(struct pc_pair *pair, unsigned int id)
{
	memset(pair, 0, sizeof(*pair));
	pair->id = id;
	pthread_mutex_init(&pair->q.lock, NULL);
	pthread_cond_init(&pair->q.not_empty, NULL);
	pthread_cond_init(&pair->q.not_full, NULL);
}

static void parse_args(int argc, char **argv)
{
	int c;

	bench_opts_init(&opts, 2, 16, 512, 4000000);
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
	struct pc_pair *pairs;
	unsigned long ops = 0;
	int i, npairs;
	double t0, secs;

	parse_args(argc, argv);
	npairs = opts.threads < 2 ? 1 : opts.threads / 2;
	pairs = bench_alloc_threads((size_t)npairs, sizeof(*pairs));
	if (!pairs)
		bench_oom(NAME, sizeof(*pairs));
	t0 = bench_now();
	for (i = 0; i < npairs; i++) {
		pc_pair_init(&pairs[i], (unsigned int)i);
		if (pthread_create(&pairs[i].cons, NULL, pc_consumer,
				   &pairs[i]) ||
		    pthread_create(&pairs[i].prod, NULL, pc_producer,
				   &pairs[i])) {
			fprintf(stderr, NAME ": pthread_create failed\n");
			return 1;
		}
	}
	if (opts.secs > 0) {
		bench_sleep(opts.secs);
		atomic_store(&stop_flag, 1);
	}
	for (i = 0; i < npairs; i++) {
		pthread_join(pairs[i].prod, NULL);
		pthread_join(pairs[i].cons, NULL);
		ops += pairs[i].prod_ops + pairs[i].cons_ops;
	}
	secs = bench_now() - t0;
	free(pairs);
	printf("RESULT name=" NAME " threads=%d pairs=%d ops=%lu secs=%.3f "
	       "ops_per_sec=%.4g peak_rss_kb=%ld rss_kb=%ld\n",
	       npairs * 2, npairs, ops, secs, (double)ops / secs,
	       bench_peak_rss_kb(), bench_cur_rss_kb());
	return 0;
}
