/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the hakmem benchmark programs: option parsing, a
 * deterministic xorshift RNG, clocks, RSS readings and cheap object
 * patterns that detect corruption.
 *
 * Everything here is static inline so that each benchmark stays a single
 * translation unit built with a plain "cc -O2 -g -pthread prog.c". The
 * header also compiles as C++23 (g++ 12 -std=gnu++23, whose <stdatomic.h>
 * gives the C atomics), for the C++ workloads.
 */
#ifndef HAKMEM_BENCH_UTIL_H
#define HAKMEM_BENCH_UTIL_H

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

/* Options common to every benchmark. */
#define BENCH_COMMON_OPTS "t:s:S:n:d:r:h"

/* Exit status when a benchmark finds a damaged object. */
#define BENCH_EXIT_CORRUPT 2

/**
 * struct bench_opts - options common to all benchmarks
 * @threads: number of worker threads (-t)
 * @min_size: smallest request size in bytes (-s)
 * @max_size: largest request size in bytes (-S)
 * @iters: iterations per thread (-n); meaning depends on the program
 * @secs: run for this many seconds instead of @iters (-d), 0 if unset
 * @seed: RNG seed (-r)
 */
struct bench_opts {
	int threads;
	size_t min_size;
	size_t max_size;
	unsigned long iters;
	double secs;
	uint64_t seed;
};

/**
 * bench_opts_init() - set defaults
 * @o: options to fill
 * @threads: default thread count
 * @min_size: default smallest size
 * @max_size: default largest size
 * @iters: default iteration count
 */
static inline void bench_opts_init(struct bench_opts *o, int threads,
				   size_t min_size, size_t max_size,
				   unsigned long iters)
{
	o->threads = threads;
	o->min_size = min_size;
	o->max_size = max_size;
	o->iters = iters;
	o->secs = 0;
	o->seed = 42;
}

/**
 * bench_parse_common() - handle one of the common getopt options
 * @o: options to update
 * @c: option character returned by getopt()
 * @arg: optarg
 *
 * Return: 0 if @c was a common option, -1 otherwise.
 */
static inline int bench_parse_common(struct bench_opts *o, int c,
				     const char *arg)
{
	switch (c) {
	case 't':
		o->threads = atoi(arg);
		break;
	case 's':
		o->min_size = strtoull(arg, NULL, 0);
		break;
	case 'S':
		o->max_size = strtoull(arg, NULL, 0);
		break;
	case 'n':
		o->iters = strtoul(arg, NULL, 0);
		break;
	case 'd':
		o->secs = strtod(arg, NULL);
		break;
	case 'r':
		o->seed = strtoull(arg, NULL, 0);
		break;
	default:
		return -1;
	}
	return 0;
}

/**
 * bench_usage() - print the usage line and exit
 * @name: program name
 * @extra: description of program-specific options, or ""
 */
static inline void bench_usage(const char *name, const char *extra)
{
	fprintf(stderr,
		"usage: %s [-t threads] [-s minsize] [-S maxsize] "
		"[-n iterations | -d seconds] [-r seed]%s\n", name, extra);
	exit(1);
}

/**
 * bench_opts_check() - validate common options, exit on nonsense
 * @o: options
 * @name: program name for messages
 */
static inline void bench_opts_check(struct bench_opts *o, const char *name)
{
	if (o->threads < 1 || o->min_size < 1 || o->min_size > o->max_size ||
	    o->iters < 1 || o->secs < 0) {
		fprintf(stderr, "%s: invalid options\n", name);
		exit(1);
	}
	if (o->seed == 0)
		o->seed = 1;
}

/**
 * bench_finished() - whether a thread's loop is over
 * @o: options: a run of o->secs seconds when positive, else o->iters
 *	iterations
 * @stop: the flag the main thread raises once the seconds are over
 * @done: iterations done so far
 */
static inline int bench_finished(const struct bench_opts *o, atomic_int *stop,
				 unsigned long done)
{
	if (o->secs > 0)
		return atomic_load_explicit(stop, memory_order_relaxed);
	return done >= o->iters;
}

/**
 * bench_parse_count() - parse the common options and one count option
 * @argc: argument count
 * @argv: arguments
 * @o: options, set up by bench_opts_init()
 * @name: program name for messages
 * @opt: the letter of the count option
 * @count: its value, holding the default on entry; must end at least 1
 * @usage: the count option's part of the usage message
 *
 * Exits with status 1 (through bench_usage()) on a bad option.
 */
static inline void bench_parse_count(int argc, char **argv,
				     struct bench_opts *o, const char *name,
				     char opt, unsigned long *count,
				     const char *usage)
{
	char optstring[sizeof(BENCH_COMMON_OPTS) + 2];
	int c;

	snprintf(optstring, sizeof(optstring), "%s%c:", BENCH_COMMON_OPTS, opt);
	while ((c = getopt(argc, argv, optstring)) != -1) {
		if (bench_parse_common(o, c, optarg) == 0)
			continue;
		if (c == opt)
			*count = strtoul(optarg, NULL, 0);
		else
			bench_usage(name, usage);
	}
	bench_opts_check(o, name);
	if (*count < 1)
		bench_usage(name, usage);
}

/**
 * bench_rand() - xorshift64* step
 * @s: RNG state, never 0
 *
 * Return: next pseudo-random 64-bit value.
 */
static inline uint64_t bench_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/**
 * bench_rand_range() - uniform value in [@lo, @hi]
 * @s: RNG state
 * @lo: lower bound
 * @hi: upper bound (inclusive), >= @lo
 *
 * Return: the value.
 */
static inline size_t bench_rand_range(uint64_t *s, size_t lo, size_t hi)
{
	return lo + (size_t)(bench_rand(s) % (hi - lo + 1));
}

/**
 * bench_seed() - derive a per-thread RNG state (splitmix64)
 * @seed: global seed
 * @id: thread index
 *
 * Return: a non-zero RNG state.
 */
static inline uint64_t bench_seed(uint64_t seed, unsigned int id)
{
	uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (id + 1);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return z ? z : 1;
}

/**
 * bench_now_ns() - monotonic clock
 *
 * Return: nanoseconds since an arbitrary origin.
 */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/**
 * bench_now() - monotonic clock in seconds
 *
 * Return: seconds since an arbitrary origin.
 */
static inline double bench_now(void)
{
	return (double)bench_now_ns() / 1e9;
}

/**
 * bench_sleep() - sleep for a fractional number of seconds
 * @secs: duration
 */
static inline void bench_sleep(double secs)
{
	struct timespec ts;

	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0)
		;
}

/**
 * bench_peak_rss_kb() - peak resident set size of the process
 *
 * Return: getrusage(RUSAGE_SELF).ru_maxrss in KiB.
 */
static inline long bench_peak_rss_kb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss;
}

/**
 * bench_cur_rss_kb() - current resident set size of the process
 *
 * Return: the resident field of /proc/self/statm in KiB, or -1.
 */
static inline long bench_cur_rss_kb(void)
{
	long size = 0, resident = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	if (resident < 0)
		return -1;
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/**
 * bench_tag() - pattern byte for an object
 * @p: object address
 * @size: object size
 *
 * Return: a byte derived from the address and size.
 */
static inline unsigned char bench_tag(const void *p, size_t size)
{
	uintptr_t x = (uintptr_t)p ^ (size * 0x9E3779B1U);

	return (unsigned char)((x ^ (x >> 8) ^ (x >> 16) ^ (x >> 29)) | 1);
}

/**
 * bench_fill() - write the check pattern into an object
 * @p: object
 * @size: object size, >= 1
 *
 * Writes the first, middle and last bytes only, so that it stays cheap.
 */
static inline void bench_fill(void *p, size_t size)
{
	unsigned char t = bench_tag(p, size);
	unsigned char *c = (unsigned char *)p;

	c[0] = t;
	c[size / 2] = (unsigned char)(t + 1);
	c[size - 1] = (unsigned char)(t ^ 0x5a);
}

/**
 * bench_check() - verify the pattern written by bench_fill()
 * @p: object
 * @size: object size
 *
 * Return: 0 if intact, -1 if damaged.
 */
static inline int bench_check(const void *p, size_t size)
{
	unsigned char t = bench_tag(p, size);
	const unsigned char *c = (const unsigned char *)p;

	if (c[0] != t || c[size - 1] != (unsigned char)(t ^ 0x5a))
		return -1;
	if (size > 2 && c[size / 2] != (unsigned char)(t + 1))
		return -1;
	return 0;
}

/**
 * bench_corrupt() - report a damaged object and exit
 * @name: program name
 * @p: object
 * @size: object size
 */
static inline void bench_corrupt(const char *name, const void *p, size_t size)
{
	fprintf(stderr, "%s: CORRUPTION detected in object %p (size %zu)\n",
		name, p, size);
	fflush(stderr);
	exit(BENCH_EXIT_CORRUPT);
}

/**
 * bench_oom() - report an allocation failure and exit
 * @name: program name
 * @size: requested size
 */
static inline void bench_oom(const char *name, size_t size)
{
	fprintf(stderr, "%s: allocation of %zu bytes failed\n", name, size);
	exit(3);
}

/**
 * bench_touch_pages() - write one byte in every page of a large object
 * @p: object
 * @size: object size
 *
 * Leaves alone the first, middle and last bytes, which carry the check
 * pattern of bench_fill().
 */
static inline void bench_touch_pages(void *p, size_t size)
{
	unsigned char *c = (unsigned char *)p;
	size_t off;

	for (off = 4096; off + 1 < size; off += 4096)
		if (off != size / 2)
			c[off] = (unsigned char)(off >> 12);
}

/*
 * Per-thread structs are written in the workloads' loops, so each starts
 * a 128-byte block of its own (two lines: the adjacent-line prefetcher
 * pairs them). Otherwise the allocator's placement of one calloc() of the
 * array would decide whether two threads share a line, and that would be
 * measured instead of the allocator.
 */
#define BENCH_LINE	128
#ifdef __cplusplus
#define BENCH_PRIVATE	alignas(BENCH_LINE)
#else
#define BENCH_PRIVATE	_Alignas(BENCH_LINE)
#endif

/**
 * bench_alloc_threads() - a zeroed array of per-thread structs
 * @n: number of structs
 * @size: size of one, a multiple of BENCH_LINE (its first member is
 *	declared BENCH_PRIVATE)
 *
 * Return: the array, BENCH_LINE aligned (free() releases it), or NULL.
 */
static inline void *bench_alloc_threads(size_t n, size_t size)
{
	size_t bytes = n * size;
	void *p;

	if (size % BENCH_LINE || !bytes) {
		fprintf(stderr, "bench_alloc_threads: bad size %zu x %zu\n",
			n, size);
		exit(1);
	}
	p = aligned_alloc(BENCH_LINE, bytes);
	return p ? memset(p, 0, bytes) : NULL;
}

/*
 * The driver most workloads share: each keeps an array of per-thread
 * structs whose first member is a struct bench_thread.
 */
struct bench_thread {
	BENCH_PRIVATE pthread_t tid;
	unsigned int id;
	unsigned long ops;
};

/**
 * bench_run_threads() - start, time and join the threads of a workload
 * @name: workload name, for messages
 * @arr: @n structs of @size bytes, each starting with struct bench_thread
 * @size: size of one struct
 * @n: number of threads
 * @fn: thread function, given a pointer to its struct
 * @secs: run length in duration mode; 0 when the threads stop by count
 * @stop: flag set after @secs (NULL when the workload has none)
 * @ops: set to the sum of the threads' ops
 *
 * Exits with status 1 when a thread cannot be created.
 *
 * Return: seconds from the first thread's start to the last join.
 */
static inline double bench_run_threads(const char *name, void *arr, size_t size,
				       int n, void *(*fn)(void *), double secs,
				       atomic_int *stop, unsigned long *ops)
{
	char *base = (char *)arr;
	double t0 = bench_now();
	int i;

	for (i = 0; i < n; i++) {
		struct bench_thread *t = (struct bench_thread *)(base + (size_t)i * size);

		t->id = (unsigned int)i;
		if (pthread_create(&t->tid, NULL, fn, t)) {
			fprintf(stderr, "%s: pthread_create failed\n", name);
			exit(1);
		}
	}
	if (secs > 0 && stop) {
		bench_sleep(secs);
		atomic_store(stop, 1);
	}
	*ops = 0;
	for (i = 0; i < n; i++) {
		struct bench_thread *t = (struct bench_thread *)(base + (size_t)i * size);

		pthread_join(t->tid, NULL);
		*ops += t->ops;
	}
	return bench_now() - t0;
}

/**
 * bench_print_result() - print the RESULT line most workloads share
 * @name: workload name
 * @tags: extra "key=value" words after the name ("" for none)
 * @threads: threads run
 * @ops: allocator calls made
 * @secs: elapsed seconds
 */
static inline void bench_print_result(const char *name, const char *tags,
				      int threads, unsigned long ops, double secs)
{
	printf("RESULT name=%s%s%s threads=%d ops=%lu secs=%.3f "
	       "ops_per_sec=%.4g peak_rss_kb=%ld rss_kb=%ld\n",
	       name, *tags ? " " : "", tags, threads, ops, secs,
	       (double)ops / secs, bench_peak_rss_kb(), bench_cur_rss_kb());
}

/**
 * bench_run_workload() - the main() of most workloads after their options
 * @name: workload name
 * @tags: extra "key=value" words for the RESULT line ("" for none)
 * @size: size of one per-thread struct (see bench_alloc_threads())
 * @n: number of threads
 * @fn: thread function, given its struct
 * @secs: run length in duration mode; 0 when the threads stop by count
 * @stop: flag set after @secs
 *
 * Exits with status 3 when the thread array cannot be allocated.
 */
static inline void bench_run_workload(const char *name, const char *tags,
				      size_t size, int n, void *(*fn)(void *),
				      double secs, atomic_int *stop)
{
	void *th = bench_alloc_threads((size_t)n, size);
	unsigned long ops = 0;
	double t;

	if (!th)
		bench_oom(name, size);
	t = bench_run_threads(name, th, size, n, fn, secs, stop, &ops);
	free(th);
	bench_print_result(name, tags, n, ops, t);
}

#endif /* HAKMEM_BENCH_UTIL_H */
