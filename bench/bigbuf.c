// SPDX-License-Identifier: MIT
/*
 * bigbuf - large buffers replaced over and over.
 *
 * Keeps -k buffers (20 by default) of -s..-S bytes (5..25 MiB). -n times
 * (2000 by default) it picks one at random and replaces it with a new
 * zero-filled buffer of a random size: malloc + memset, then free of the
 * old one, as "buf[i] = std::make_unique<char[]>(n)" does. The seed is
 * fixed (-r), so every allocator sees the same sizes.
 *
 * An allocator that hands large blocks back to the kernel on free pays a
 * page fault per page on the next memset; one that keeps and reuses them
 * does not. The RESULT line gives the time of the replacements (secs;
 * ops_per_sec counts replacements) and of the first -k buffers
 * (fill_secs), the peak RSS, the minor faults of the replacements
 * (step_minflt) and of the whole run (minflt, getrusage ru_minflt), the
 * major faults and the user and system CPU time of the whole run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include "bench_util.h"

#define NAME "bigbuf"
#define MIB (1024UL * 1024)

struct bigbuf {
	unsigned char *p;
	size_t size;
};

static struct bench_opts opts;

/*
 * memset through a pointer the compiler cannot see through: gcc turns
 * malloc + memset(0) into calloc, which may skip the clearing of fresh
 * pages; operator new + clearing (make_unique<char[]>) never does.
 */
static void *(*volatile bigbuf_memset)(void *, int, size_t) = memset;

static unsigned char *bigbuf_new(size_t size)
{
	unsigned char *p = malloc(size);

	if (!p)
		bench_oom(NAME, size);
	bigbuf_memset(p, 0, size);
	bench_fill(p, size);
	return p;
}

static void bigbuf_replace(struct bigbuf *b, uint64_t *rng)
{
	size_t size = bench_rand_range(rng, opts.min_size, opts.max_size);
	unsigned char *p = bigbuf_new(size);

	if (bench_check(b->p, b->size))
		bench_corrupt(NAME, b->p, b->size);
	free(b->p);
	b->p = p;
	b->size = size;
}

static double tv_secs(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static long bigbuf_minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
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
	unsigned long nbufs = 20, i;
	struct bigbuf *bufs;
	struct rusage ru;
	uint64_t rng;
	double t0, fill_secs, secs;
	long flt0;

	bench_opts_init(&opts, 1, 5 * MIB, 25 * MIB, 2000);
	bench_parse_count(argc, argv, &opts, NAME, 'k', &nbufs,
			  " [-k buffers]");
	rng = bench_seed(opts.seed, 0);
	bufs = calloc(nbufs, sizeof(*bufs));
	if (!bufs)
		bench_oom(NAME, nbufs * sizeof(*bufs));

	t0 = bench_now();
	for (i = 0; i < nbufs; i++) {
		bufs[i].size =
			bench_rand_range(&rng, opts.min_size, opts.max_size);
		bufs[i].p = bigbuf_new(bufs[i].size);
	}
	fill_secs = bench_now() - t0;

	flt0 = bigbuf_minflt();
	t0 = bench_now();
	for (i = 0; i < opts.iters; i++)
		bigbuf_replace(&bufs[bench_rand(&rng) % nbufs], &rng);
	secs = bench_now() - t0;
	flt0 = bigbuf_minflt() - flt0;

	for (i = 0; i < nbufs; i++)
		free(bufs[i].p);
	free(bufs);
	getrusage(RUSAGE_SELF, &ru);
	printf("RESULT name=" NAME " threads=1 ops=%lu secs=%.3f "
	       "ops_per_sec=%.4g fill_secs=%.3f peak_rss_kb=%ld rss_kb=%ld "
	       "step_minflt=%ld minflt=%ld majflt=%ld utime_s=%.2f "
	       "stime_s=%.2f\n",
	       opts.iters, secs, (double)opts.iters / secs, fill_secs,
	       ru.ru_maxrss, bench_cur_rss_kb(), flt0, ru.ru_minflt,
	       ru.ru_majflt, tv_secs(ru.ru_utime), tv_secs(ru.ru_stime));
	return 0;
}
