/* SPDX-License-Identifier: MIT */
/*
 * larson.h - the Larson & Krishnan server simulation, shared by larson.c
 * (malloc and free) and larson_cxx.cc (operator new and the sized
 * operator delete). Written in the common subset of C11 and C++23.
 *
 * Every thread owns an array of slots. It repeatedly frees the object in a
 * random slot and puts a new object of random size there. After each round
 * the thread hands its slot array over to a freshly created thread and
 * exits, so objects are routinely freed by a thread other than the one that
 * allocated them (the slots are first filled by the main thread).
 *
 * One op is one free+malloc replacement. The including file defines NAME
 * before it includes this header, and then the two calls the loop
 * measures:
 *
 *   static void *larson_new(size_t size);        fills with bench_fill()
 *   static void larson_delete(void *p, size_t size);   checks first
 */
#ifndef HAK_BENCH_LARSON_H
#define HAK_BENCH_LARSON_H

#include <getopt.h>
#include <pthread.h>
#include "bench_util.h"

struct larson_set {
	BENCH_PRIVATE void **obj;
	size_t *size;
	uint64_t rng;
	unsigned long done;
};

static struct bench_opts opts;
static unsigned long nslots = 1000;
static unsigned long round_ops = 10000;
static atomic_int stop_flag;
static atomic_ulong threads_created;
static pthread_attr_t detached;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int chains_left;

static void *larson_new(size_t size);
static void larson_delete(void *p, size_t size);

static void larson_round(struct larson_set *set)
{
	unsigned long i;

	for (i = 0; i < round_ops; i++) {
		unsigned long k = bench_rand(&set->rng) % nslots;
		size_t sz = bench_rand_range(&set->rng, opts.min_size,
					     opts.max_size);

		larson_delete(set->obj[k], set->size[k]);
		set->obj[k] = larson_new(sz);
		set->size[k] = sz;
	}
	set->done += round_ops;
}

static void *larson_thread(void *arg)
{
	struct larson_set *set = (struct larson_set *)arg;
	pthread_t next;

	for (;;) {
		larson_round(set);
		if (bench_finished(&opts, &stop_flag, set->done))
			break;
		/* Hand the slot set over to a new thread. */
		if (pthread_create(&next, &detached, larson_thread, set) == 0) {
			atomic_fetch_add(&threads_created, 1);
			return NULL;
		}
	}
	pthread_mutex_lock(&done_lock);
	chains_left--;
	pthread_cond_signal(&done_cond);
	pthread_mutex_unlock(&done_lock);
	return NULL;
}

static void larson_fill(struct larson_set *set, int id)
{
	unsigned long k;

	set->obj = (void **)calloc(nslots, sizeof(*set->obj));
	set->size = (size_t *)calloc(nslots, sizeof(*set->size));
	if (!set->obj || !set->size)
		bench_oom(NAME, nslots * sizeof(void *));
	set->rng = bench_seed(opts.seed, (unsigned int)id);
	set->done = 0;
	for (k = 0; k < nslots; k++) {
		set->size[k] = bench_rand_range(&set->rng, opts.min_size,
						opts.max_size);
		set->obj[k] = larson_new(set->size[k]);
	}
}

static void larson_release(struct larson_set *set)
{
	unsigned long k;

	for (k = 0; k < nslots; k++)
		larson_delete(set->obj[k], set->size[k]);
	free(set->obj);
	free(set->size);
}

static void larson_parse_args(int argc, char **argv)
{
	int c;

	bench_opts_init(&opts, 2, 8, 128, 10000000);
	while ((c = getopt(argc, argv, BENCH_COMMON_OPTS "k:R:")) != -1) {
		if (bench_parse_common(&opts, c, optarg) == 0)
			continue;
		if (c == 'k')
			nslots = strtoul(optarg, NULL, 0);
		else if (c == 'R')
			round_ops = strtoul(optarg, NULL, 0);
		else
			bench_usage(NAME, " [-k slots] [-R ops_per_round]");
	}
	bench_opts_check(&opts, NAME);
	if (nslots < 1 || round_ops < 1)
		bench_usage(NAME, " [-k slots] [-R ops_per_round]");
}

/* Starts one chain of threads per set and waits until every chain ends. */
static double larson_run_chains(struct larson_set *sets)
{
	double t0 = bench_now();
	pthread_t tid;
	int i;

	pthread_attr_init(&detached);
	pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
	chains_left = opts.threads;
	for (i = 0; i < opts.threads; i++) {
		if (pthread_create(&tid, &detached, larson_thread, &sets[i])) {
			fprintf(stderr, NAME ": pthread_create failed\n");
			exit(1);
		}
	}
	if (opts.secs > 0) {
		bench_sleep(opts.secs);
		atomic_store(&stop_flag, 1);
	}
	pthread_mutex_lock(&done_lock);
	while (chains_left > 0)
		pthread_cond_wait(&done_cond, &done_lock);
	pthread_mutex_unlock(&done_lock);
	return bench_now() - t0;
}

/* The whole benchmark: main() of both programs. */
static int larson_main(int argc, char **argv)
{
	struct larson_set *sets;
	unsigned long ops = 0;
	double secs;
	int i;

	larson_parse_args(argc, argv);
	sets = (struct larson_set *)bench_alloc_threads((size_t)opts.threads,
							sizeof(*sets));
	if (!sets)
		bench_oom(NAME, sizeof(*sets));
	for (i = 0; i < opts.threads; i++)
		larson_fill(&sets[i], i);
	secs = larson_run_chains(sets);
	for (i = 0; i < opts.threads; i++) {
		ops += sets[i].done;
		larson_release(&sets[i]);
	}
	free(sets);
	printf("RESULT name=" NAME " threads=%d ops=%lu secs=%.3f "
	       "ops_per_sec=%.4g peak_rss_kb=%ld rss_kb=%ld "
	       "threads_created=%lu\n",
	       opts.threads, ops, secs, (double)ops / secs, bench_peak_rss_kb(),
	       bench_cur_rss_kb(), atomic_load(&threads_created));
	return 0;
}

#endif /* HAK_BENCH_LARSON_H */
