// SPDX-License-Identifier: MIT
/*
 * bulk - hak_cache_alloc_bulk()/hak_cache_free_bulk() against a loop of
 * single calls, for batches of 16, 64 and 256 objects of 64 bytes.
 *
 * Each round allocates a batch, writes one word of each object and frees
 * the batch. Built with -DBENCH_HAKMEM the "bulk" figures use the bulk
 * calls and the "loop" figures hak_cache_alloc()/hak_cache_free() on the
 * same cache; without it both are loops of malloc()/free() (libc has no
 * bulk call). -n counts objects per batch size; one op is one allocation
 * or free. Single-threaded (-t is ignored).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_util.h"
#ifdef BENCH_HAKMEM
#include <hakmem/hakmem.h>
#define VARIANT "hakmem"
#else
#define VARIANT "libc"
#endif

#define NAME "bulk"
#define OBJ_SIZE 64

#ifdef BENCH_HAKMEM
static struct hak_cache *cache;
#endif

static void loop_round(void **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
#ifdef BENCH_HAKMEM
		v[i] = hak_cache_alloc(cache);
#else
		v[i] = malloc(OBJ_SIZE);
#endif
		if (!v[i])
			bench_oom(NAME, OBJ_SIZE);
		*(volatile uintptr_t *)v[i] = i;
	}
	for (size_t i = 0; i < n; i++) {
#ifdef BENCH_HAKMEM
		hak_cache_free(cache, v[i]);
#else
		free(v[i]);
#endif
	}
}

static void bulk_round(void **v, size_t n)
{
#ifdef BENCH_HAKMEM
	if (hak_cache_alloc_bulk(cache, n, v) != n)
		bench_oom(NAME, OBJ_SIZE);
	for (size_t i = 0; i < n; i++)
		*(volatile uintptr_t *)v[i] = i;
	hak_cache_free_bulk(cache, n, v);
#else
	loop_round(v, n);
#endif
}

/* Ops per second of @n-object rounds until @total objects went through. */
static double run(void (*round)(void **, size_t), size_t n, unsigned long total)
{
	void *v[256];
	unsigned long rounds = total / n;
	double t0;

	round(v, n);	/* warm up: the bin and the spans exist */
	t0 = bench_now();
	for (unsigned long r = 0; r < rounds; r++)
		round(v, n);
	return 2.0 * (double)(rounds * n) / (bench_now() - t0);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 16, 64, 256 };
	unsigned long unused = 1;
	struct bench_opts opts;
	char tags[512];
	int len;

	bench_opts_init(&opts, 1, OBJ_SIZE, OBJ_SIZE, 20000000UL);
	bench_parse_count(argc, argv, &opts, NAME, 'k', &unused,
			  " [-k unused]");
#ifdef BENCH_HAKMEM
	cache = hak_cache_create("bench_bulk", OBJ_SIZE, 0, 0, NULL);
	if (!cache)
		bench_oom(NAME, OBJ_SIZE);
#endif
	len = snprintf(tags, sizeof(tags), "variant=" VARIANT);
	for (unsigned int k = 0; k < 3; k++) {
		double loop = run(loop_round, sizes[k], opts.iters);
		double bulk = run(bulk_round, sizes[k], opts.iters);

		len += snprintf(tags + len, sizeof(tags) - (size_t)len,
				" n%zu_loop_ops_per_sec=%.4g n%zu_bulk_ops_per_sec=%.4g n%zu_speedup=%.2f",
				sizes[k], loop, sizes[k], bulk, sizes[k],
				bulk / loop);
	}
	bench_print_result(NAME, tags, 1, 12UL * opts.iters, 1.0);
	return 0;
}
