// SPDX-License-Identifier: MIT
/*
 * larson_cxx - larson (see larson.c) as a C++ program: objects come from
 * operator new and go back through the sized operator delete.
 *
 * Every thread (two by default) owns an array of slots; it repeatedly
 * deletes the object in a random slot and puts a new one (8..128 bytes)
 * there. After each round the slot array passes to a freshly created
 * thread, so objects are routinely deleted by a thread other than the one
 * that allocated them.
 *
 * The calls are "::operator new(size)" and "::operator delete(p, size)",
 * the pair std::allocator and the node containers use when built with
 * -fsized-deallocation: an allocator that exports the sized delete can
 * free without looking the size up; under LD_PRELOAD of one that does not,
 * libstdc++'s operator delete calls free(). One op is one delete+new
 * replacement.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <pthread.h>
#include <new>
#include "bench_util.h"

#define NAME "larson_cxx"

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

static void *larson_new(size_t size)
{
	void *p = ::operator new(size);

	bench_fill(p, size);
	return p;
}

static void larson_delete(void *p, size_t size)
{
	if (bench_check(p, size))
		bench_corrupt(NAME, p, size);
	::operator delete(p, size);
}

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

	set->obj = new void *[nslots];
	set->size = new size_t[nslots];
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
	delete[] set->obj;
	delete[] set->size;
}

static void parse_args(int argc, char **argv)
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

static void larson_wait(void)
{
	pthread_mutex_lock(&done_lock);
	while (chains_left > 0)
		pthread_cond_wait(&done_cond, &done_lock);
	pthread_mutex_unlock(&done_lock);
}

/**
 * main() - run the benchmark and print its RESULT line
 * @argc: argument count
 * @argv: arguments, see the usage message
 *
 * Return: 0 on success; the program exits with 1 on bad options, 2 on a
 * damaged object (BENCH_EXIT_CORRUPT); std::bad_alloc terminates it when
 * an allocation fails.
 */
int main(int argc, char **argv)
{
	struct larson_set *sets;
	unsigned long ops = 0;
	double t0, secs;
	pthread_t tid;
	int i;

	parse_args(argc, argv);
	sets = new larson_set[opts.threads];
	for (i = 0; i < opts.threads; i++)
		larson_fill(&sets[i], i);
	pthread_attr_init(&detached);
	pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
	chains_left = opts.threads;

	t0 = bench_now();
	for (i = 0; i < opts.threads; i++) {
		if (pthread_create(&tid, &detached, larson_thread, &sets[i])) {
			fprintf(stderr, NAME ": pthread_create failed\n");
			return 1;
		}
	}
	if (opts.secs > 0) {
		bench_sleep(opts.secs);
		atomic_store(&stop_flag, 1);
	}
	larson_wait();
	secs = bench_now() - t0;

	for (i = 0; i < opts.threads; i++) {
		ops += sets[i].done;
		larson_release(&sets[i]);
	}
	delete[] sets;
	printf("RESULT name=" NAME " threads=%d ops=%lu secs=%.3f "
	       "ops_per_sec=%.4g peak_rss_kb=%ld rss_kb=%ld "
	       "threads_created=%lu\n",
	       opts.threads, ops, secs, (double)ops / secs, bench_peak_rss_kb(),
	       bench_cur_rss_kb(), atomic_load(&threads_created));
	return 0;
}
