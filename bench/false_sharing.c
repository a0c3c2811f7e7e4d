// SPDX-License-Identifier: MIT
/*
 * false_sharing - cache-scratch (after Hoard's benchmark of that name).
 *
 * The main thread allocates one small object per worker, back to back, so
 * that they are likely to share a cache line, and hands them out. Each
 * worker writes its object repeatedly, frees it, then loops: allocate an
 * object of the same size, write it repeatedly, free it. An allocator that
 * keeps returning the handed-over object (or neighbours of the other
 * workers' objects) makes the workers fight over cache lines: passive
 * false sharing, which shows as a collapse of the write rate.
 *
 * -n is objects per thread, -w writes per object; one op is one write.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <pthread.h>
#include "bench_util.h"

#define NAME "false_sharing"

struct fs_thread {
	BENCH_PRIVATE pthread_t tid;
	unsigned char *first;
	unsigned long ops;
};

static struct bench_opts opts;
static unsigned long writes = 1000;
static atomic_int stop_flag;
static pthread_barrier_t start;

static void fs_scratch(unsigned char *obj, size_t size)
{
	volatile unsigned char *p = obj;
	unsigned long w = 0;
	unsigned char expect;
	size_t j;

	memset(obj, 0, size);
	while (w < writes)
		for (j = 0; j < size && w < writes; j++, w++)
			p[j]++;
	expect = (unsigned char)(writes / size + (writes % size ? 1 : 0));
	if (p[0] != expect)
		bench_corrupt(NAME, obj, size);
}

static void *fs_thread(void *arg)
{
	struct fs_thread *t = arg;
	size_t size = opts.min_size;
	unsigned char *obj = t->first;
	unsigned long done = 0;

	pthread_barrier_wait(&start);
	do {
		fs_scratch(obj, size);
		free(obj);
		done++;
		obj = malloc(size);
		if (!obj)
			bench_oom(NAME, size);
	} while (!bench_finished(&opts, &stop_flag, done));
	free(obj);
	t->ops = done * writes;
	return NULL;
}

static void parse_args(int argc, char **argv)
{
	bench_opts_init(&opts, 2, 8, 8, 500000);
	bench_parse_count(argc, argv, &opts, NAME, 'w', &writes,
			  " [-w writes_per_object]");
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
	struct fs_thread *th;
	unsigned long ops = 0;
	double t0, secs;
	int i;

	parse_args(argc, argv);
	th = bench_alloc_threads((size_t)opts.threads, sizeof(*th));
	if (!th)
		bench_oom(NAME, sizeof(*th));
	for (i = 0; i < opts.threads; i++) {
		th[i].first = malloc(opts.min_size);
		if (!th[i].first)
			bench_oom(NAME, opts.min_size);
	}
	pthread_barrier_init(&start, NULL, (unsigned int)opts.threads + 1);
	for (i = 0; i < opts.threads; i++) {
		if (pthread_create(&th[i].tid, NULL, fs_thread, &th[i])) {
			fprintf(stderr, NAME ": pthread_create failed\n");
			return 1;
		}
	}
	t0 = bench_now();
	pthread_barrier_wait(&start);
	if (opts.secs > 0) {
		bench_sleep(opts.secs);
		atomic_store(&stop_flag, 1);
	}
	for (i = 0; i < opts.threads; i++) {
		pthread_join(th[i].tid, NULL);
		ops += th[i].ops;
	}
	secs = bench_now() - t0;
	free(th);
	pthread_barrier_destroy(&start);
	printf("RESULT name=" NAME " threads=%d objsize=%zu writes=%lu ops=%lu "
	       "secs=%.3f ops_per_sec=%.4g peak_rss_kb=%ld rss_kb=%ld\n",
	       opts.threads, opts.min_size, writes, ops, secs,
	       (double)ops / secs, bench_peak_rss_kb(), bench_cur_rss_kb());
	return 0;
}
