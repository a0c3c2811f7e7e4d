// SPDX-License-Identifier: MIT
/*
 * cache_churn - object-cache churn, as a kernel subsystem would cause it.
 *
 * Four caches of fixed-size objects (sizes spread between -s and -S) hold
 * objects with a constructed state: a magic number, a self-linked list
 * head, a zero reference count and zeroed statistics. Every thread keeps a
 * working set of objects; a step frees a random one (restoring the
 * constructed state first, as the object-cache contract requires) and
 * allocates a replacement from a random cache, checking that it arrives
 * constructed. Every few thousand steps the whole working set is freed and
 * refilled at once (a burst of churn, like dropping a directory cache).
 *
 * Built with -DBENCH_HAKMEM, it uses hak_cache_create() with a constructor
 * that hakmem runs only when a slab is carved. Without it, it uses malloc()
 * followed by an explicit call of the same constructor on every
 * allocation: the usual pattern of code without object caches.
 *
 * -n counts steps per thread; one op is one allocation or free.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <pthread.h>
#include "bench_util.h"
#ifdef BENCH_HAKMEM
#include <hakmem/hakmem.h>
#define VARIANT "hakmem-cache"
#else
#define VARIANT "malloc+ctor"
#endif

#define NAME "cache_churn"
#define CC_NCACHES 4
#define CC_MAGIC 0x6361636865636f6eULL
#define CC_NOCACHE 0xffffffffU

struct cc_obj {
	uint64_t magic;
	struct cc_obj *next;
	struct cc_obj *prev;
	uint32_t refcnt;
	uint32_t cache;
	uint64_t stats[8];
};

struct cc_cache {
	size_t size;
#ifdef BENCH_HAKMEM
	struct hak_cache *hc;
#endif
};

struct cc_thread {
	struct bench_thread bt;	/* first: bench_run_threads() */
};

static struct bench_opts opts;
static unsigned long nslots = 2048;
static struct cc_cache caches[CC_NCACHES];
static atomic_int stop_flag;

/* The constructor: puts an object in its constructed (free) state. */
static void cc_ctor(void *p)
{
	struct cc_obj *o = p;

	o->magic = CC_MAGIC;
	o->next = o;
	o->prev = o;
	o->refcnt = 0;
	o->cache = CC_NOCACHE;
	memset(o->stats, 0, sizeof(o->stats));
}

static void cc_cache_init(struct cc_cache *c, unsigned int idx)
{
	size_t size = opts.min_size +
		      (opts.max_size - opts.min_size) * idx / (CC_NCACHES - 1);

	size = (size + 7) & ~(size_t)7;
	if (size < sizeof(struct cc_obj) + 1)
		size = sizeof(struct cc_obj) + 8;
	c->size = size;
#ifdef BENCH_HAKMEM
	{
		char name[32];

		snprintf(name, sizeof(name), "churn-%zu", size);
		c->hc = hak_cache_create(name, size, 0, 0, cc_ctor);
		if (!c->hc) {
			fprintf(stderr, NAME ": hak_cache_create failed\n");
			exit(1);
		}
	}
#endif
}

static struct cc_obj *cc_alloc(unsigned int idx)
{
	struct cc_cache *c = &caches[idx];
	struct cc_obj *o;

#ifdef BENCH_HAKMEM
	o = hak_cache_alloc(c->hc);
#else
	o = malloc(c->size);
	if (o)
		cc_ctor(o);
#endif
	if (!o)
		bench_oom(NAME, c->size);
	if (o->magic != CC_MAGIC || o->next != o || o->prev != o ||
	    o->refcnt != 0 || o->stats[0] != 0)
		bench_corrupt(NAME, o, c->size);
	o->refcnt = 1;
	o->cache = idx;
	o->stats[0] = idx + 1;
	((unsigned char *)o)[c->size - 1] = (unsigned char)(idx ^ 0x3c);
	return o;
}

static void cc_free(struct cc_obj *o)
{
	unsigned int idx = o->cache;
	struct cc_cache *c;

	if (o->magic != CC_MAGIC || idx >= CC_NCACHES || o->refcnt != 1 ||
	    o->stats[0] != idx + 1)
		bench_corrupt(NAME, o, sizeof(*o));
	c = &caches[idx];
	if (((unsigned char *)o)[c->size - 1] != (unsigned char)(idx ^ 0x3c))
		bench_corrupt(NAME, o, c->size);
	/* Back to the constructed state before the object is freed. */
	o->refcnt = 0;
	o->cache = CC_NOCACHE;
	o->stats[0] = 0;
#ifdef BENCH_HAKMEM
	hak_cache_free(c->hc, o);
#else
	free(o);
#endif
}

static struct cc_obj *cc_alloc_random(uint64_t *rng)
{
	return cc_alloc((unsigned int)(bench_rand(rng) % CC_NCACHES));
}

static unsigned long cc_burst(struct cc_obj **obj, uint64_t *rng)
{
	unsigned long k;

	for (k = 0; k < nslots; k++)
		cc_free(obj[k]);
	for (k = 0; k < nslots; k++)
		obj[k] = cc_alloc_random(rng);
	return 2 * nslots;
}

static void *cc_thread(void *arg)
{
	struct cc_thread *t = arg;
	uint64_t rng = bench_seed(opts.seed, t->bt.id);
	struct cc_obj **obj = calloc(nslots, sizeof(*obj));
	unsigned long k, step;

	if (!obj)
		bench_oom(NAME, nslots * sizeof(*obj));
	for (k = 0; k < nslots; k++)
		obj[k] = cc_alloc_random(&rng);
	for (step = 1;; step++) {
		if (bench_finished(&opts, &stop_flag, step - 1))
			break;	/* step counts from 1 */
		if (step % (nslots * 8) == 0) {
			t->bt.ops += cc_burst(obj, &rng);
			continue;
		}
		k = bench_rand(&rng) % nslots;
		cc_free(obj[k]);
		obj[k] = cc_alloc_random(&rng);
		t->bt.ops += 2;
	}
	for (k = 0; k < nslots; k++)
		cc_free(obj[k]);
	free(obj);
	return NULL;
}

static void parse_args(int argc, char **argv)
{
	bench_opts_init(&opts, 2, 128, 640, 8000000);
	bench_parse_count(argc, argv, &opts, NAME, 'k', &nslots,
			  " [-k objects_per_thread]");
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
	struct cc_thread *th;
	unsigned long ops = 0;
	double secs;
	unsigned int c;

	parse_args(argc, argv);
	for (c = 0; c < CC_NCACHES; c++)
		cc_cache_init(&caches[c], c);
	th = bench_alloc_threads((size_t)opts.threads, sizeof(*th));
	if (!th)
		bench_oom(NAME, sizeof(*th));
	secs = bench_run_threads(NAME, th, sizeof(*th), opts.threads, cc_thread,
				 opts.secs, &stop_flag, &ops);
	free(th);
#ifdef BENCH_HAKMEM
	for (c = 0; c < CC_NCACHES; c++)
		hak_cache_destroy(caches[c].hc);
#endif
	bench_print_result(NAME, "variant=" VARIANT, opts.threads, ops, secs);
	return 0;
}
