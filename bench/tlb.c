// SPDX-License-Identifier: MIT
/*
 * tlb - random reads over a large heap of small objects.
 *
 * Allocates -m MiB (1024 by default) worth of -s byte objects (64), each
 * with its own malloc and its index written into it, and shuffles the
 * array of pointers (fixed seed, -r). The timed read phase walks the
 * shuffled array -p times (once by default) and reads the first word of
 * every object: the array is read in order, the objects in random order,
 * so nearly every read misses the TLB unless the heap is backed by huge
 * pages. The sum of the words is checked against the expected one.
 *
 * The RESULT line gives the read phase's time (secs; ops_per_sec counts
 * reads), the allocation phase's time (alloc_secs), the peak RSS and
 * AnonHugePages of /proc/self/smaps_rollup after the allocation phase
 * (anon_huge_kb, -1 if the kernel does not have the file). The objects are
 * not freed (that would cost seconds per run). Single-threaded; -t is
 * accepted and ignored.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include "bench_util.h"

#define NAME "tlb"

static struct bench_opts opts;

/* AnonHugePages of the process in KiB, or -1. */
static long tlb_anon_huge_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static uint64_t **tlb_alloc(unsigned long n)
{
	uint64_t **obj = malloc(n * sizeof(*obj));
	unsigned long i;

	if (!obj)
		bench_oom(NAME, n * sizeof(*obj));
	for (i = 0; i < n; i++) {
		obj[i] = malloc(opts.min_size);
		if (!obj[i])
			bench_oom(NAME, opts.min_size);
		obj[i][0] = i;
	}
	return obj;
}

static void tlb_shuffle(uint64_t **obj, unsigned long n, uint64_t *rng)
{
	unsigned long i, j;
	uint64_t *t;

	for (i = n - 1; i > 0; i--) {
		j = bench_rand(rng) % (i + 1);
		t = obj[i];
		obj[i] = obj[j];
		obj[j] = t;
	}
}

/* The timed phase. Return: the sum of the words read. */
static __attribute__((noinline)) uint64_t
tlb_read(uint64_t **obj, unsigned long n, unsigned long passes)
{
	uint64_t sum = 0;
	unsigned long i, p;

	for (p = 0; p < passes; p++)
		for (i = 0; i < n; i++)
			sum += *obj[i];
	return sum;
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
	unsigned long mib = 1024, passes = 1, n;
	uint64_t **obj, rng, sum;
	double t0, alloc_secs, secs;
	long huge_kb;
	int c;

	bench_opts_init(&opts, 1, 64, 64, 1);
	while ((c = getopt(argc, argv, BENCH_COMMON_OPTS "m:p:")) != -1) {
		if (bench_parse_common(&opts, c, optarg) == 0)
			continue;
		if (c == 'm')
			mib = strtoul(optarg, NULL, 0);
		else if (c == 'p')
			passes = strtoul(optarg, NULL, 0);
		else
			bench_usage(NAME, " [-m MiB] [-p passes]");
	}
	opts.max_size = opts.min_size;
	bench_opts_check(&opts, NAME);
	if (opts.min_size < sizeof(uint64_t) || !mib || !passes)
		bench_usage(NAME, " [-m MiB] [-p passes]");
	n = (mib << 20) / opts.min_size;
	rng = bench_seed(opts.seed, 0);

	t0 = bench_now();
	obj = tlb_alloc(n);
	tlb_shuffle(obj, n, &rng);
	alloc_secs = bench_now() - t0;
	huge_kb = tlb_anon_huge_kb();

	t0 = bench_now();
	sum = tlb_read(obj, n, passes);
	secs = bench_now() - t0;
	if (sum != (uint64_t)passes * ((uint64_t)n * (n - 1) / 2)) {
		fprintf(stderr, NAME ": CORRUPTION detected: the objects' "
				     "words do not add up\n");
		exit(BENCH_EXIT_CORRUPT);
	}

	printf("RESULT name=" NAME " threads=1 objects=%lu size=%zu ops=%lu "
	       "secs=%.3f ops_per_sec=%.4g alloc_secs=%.3f anon_huge_kb=%ld "
	       "peak_rss_kb=%ld rss_kb=%ld\n",
	       n, opts.min_size, n * passes, secs, (double)(n * passes) / secs,
	       alloc_secs, huge_kb, bench_peak_rss_kb(), bench_cur_rss_kb());
	/* The objects are left to exit: freeing millions costs seconds. */
	return 0;
}
