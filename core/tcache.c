// SPDX-License-Identifier: MIT
/*
 * Per-thread fast-path caches: region life cycle (created on a thread's
 * first slow path, flushed and recycled at thread exit through a pthread
 * key destructor), and the slow paths that refill an empty bin or drain a
 * full one by a batch.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "fastcache.h"
#include "init.h"
#include "meta.h"

enum { TC_NONE, TC_LIVE, TC_DEAD };

__thread struct fc_region *hak_tc __attribute__((tls_model("initial-exec"))) =
	&hak_fc_empty;
static __thread int tc_state __attribute__((tls_model("initial-exec")));

struct fc_region hak_fc_empty;
static pthread_key_t tc_key;
static struct hak_lock region_lock = HAK_LOCK_INIT;
static struct fc_region *region_free;
static struct fc_region *region_all;

static void tcache_thread_exit(void *arg);

/**
 * tcache_init() - create the key whose destructor flushes exiting threads
 */
void tcache_init(void)
{
	pthread_key_create(&tc_key, tcache_thread_exit);
}

static struct fc_region *region_get(void)
{
	struct fc_region *r;

	hak_lock(&region_lock);
	r = region_free;
	if (r)
		region_free = r->next_free;
	hak_unlock(&region_lock);
	if (!r) {
		r = meta_alloc(sizeof(*r) + FC_SLOTS * sizeof(void *));
		if (!r)
			return NULL;
		hak_lock(&region_lock);
		r->next_all = region_all;
		region_all = r;
		hak_unlock(&region_lock);
	}
	r->live = 1;
	return r;
}

/* The calling thread's region, created on first use; NULL: go direct. */
static struct fc_region *tcache_get(void)
{
	struct fc_region *r;

	if (likely(tc_state == TC_LIVE))
		return hak_tc;
	if (tc_state == TC_DEAD || !hak_ready())
		return NULL;
	r = region_get();
	if (!r)
		return NULL;
	hak_tc = r;
	tc_state = TC_LIVE;
	pthread_setspecific(tc_key, r);
	return r;
}

static struct fc_bin *bin_get(struct fc_region *r, struct hak_cache *c)
{
	struct fc_bin *b = &r->bin[c->id];

	if (unlikely(!b->end)) {
		if (r->slots_used + c->fc_cap > FC_SLOTS)
			return NULL;
		b->begin = b->current = (uint16_t)r->slots_used;
		b->end = (uint16_t)(b->begin + c->fc_cap);
		r->slots_used += c->fc_cap;
	}
	return b;
}

/* Returns the @n coldest (bottom) objects of a bin to the central pool. */
static void bin_drain(struct fc_region *r, struct fc_bin *b,
		      struct hak_cache *c, unsigned int n)
{
	unsigned int have = (unsigned int)(b->current - b->begin);

	if (n > have)
		n = have;
	if (!n)
		return;
	cache_drain(c, &r->slots[b->begin], n);
	memmove(&r->slots[b->begin], &r->slots[b->begin + n],
		(have - n) * sizeof(void *));
	b->current = (uint16_t)(b->current - n);
}

static void *claim(struct hak_cache *c, void *p)
{
	*(uintptr_t *)((char *)p + c->free_off) = 0;
	return p;
}

/**
 * cache_alloc_slow() - allocate when the fast path found the bin empty
 * @c: the cache
 *
 * Refills the bin by one batch from the central pool; without a usable
 * bin (start-up, thread exit, bins exhausted) takes one object directly.
 *
 * Return: the object, or NULL with errno ENOMEM.
 */
void *cache_alloc_slow(struct hak_cache *c)
{
	struct fc_region *r = tcache_get();
	struct fc_bin *b = r ? bin_get(r, c) : NULL;
	void *p;

	if (!b) {
		if (!cache_refill(c, &p, 1))
			goto nomem;
		return claim(c, p);
	}
	if (b->current == b->begin) {
		unsigned int n = cache_refill(c, &r->slots[b->begin], c->batch);

		if (!n)
			goto nomem;
		b->current = (uint16_t)(b->begin + n);
	}
	return claim(c, r->slots[--b->current]);
nomem:
	errno = ENOMEM;
	return NULL;
}

/**
 * cache_free_slow() - free when the fast path found the bin full
 * @c: the cache of @p
 * @p: a checked, allocated object
 *
 * Drains the coldest batch of the bin, then pushes @p.
 */
void cache_free_slow(struct hak_cache *c, void *p)
{
	struct fc_region *r = tcache_get();
	struct fc_bin *b = r ? bin_get(r, c) : NULL;
	uintptr_t a = (uintptr_t)p;

	*(uintptr_t *)(a + c->free_off) = free_tag(a);
	if (!b) {
		cache_drain(c, &p, 1);
		return;
	}
	if (b->current == b->end)
		bin_drain(r, b, c, c->batch);
	r->slots[b->current++] = p;
}

static void region_flush(struct fc_region *r)
{
	for (unsigned int id = 1; id < HAK_MAX_CACHES; id++) {
		struct fc_bin *b = &r->bin[id];

		if (b->current != b->begin && hak_caches[id])
			bin_drain(r, b, hak_caches[id], b->current - b->begin);
	}
}

/**
 * tcache_flush_current() - return every object cached by this thread
 */
void tcache_flush_current(void)
{
	if (tc_state == TC_LIVE)
		region_flush(hak_tc);
}

static void tcache_thread_exit(void *arg)
{
	struct fc_region *r = arg;

	region_flush(r);
	hak_tc = &hak_fc_empty;
	tc_state = TC_DEAD;
	hak_lock(&region_lock);
	r->live = 0;
	r->next_free = region_free;
	region_free = r;
	hak_unlock(&region_lock);
}

/**
 * tcache_count_cached() - objects of a cache held in any thread's bins
 * @id: cache id
 *
 * A racy sum, for reports only.
 *
 * Return: the count.
 */
uint64_t tcache_count_cached(unsigned int id)
{
	uint64_t n = 0;

	hak_lock(&region_lock);
	for (struct fc_region *r = region_all; r; r = r->next_all)
		if (r->live)
			n += (uint64_t)(r->bin[id].current - r->bin[id].begin);
	hak_unlock(&region_lock);
	return n;
}

/**
 * tcache_lock() - take the region list lock (before fork)
 */
void tcache_lock(void)
{
	hak_lock(&region_lock);
}

/**
 * tcache_unlock() - release the region list lock (after fork, parent)
 */
void tcache_unlock(void)
{
	hak_unlock(&region_lock);
}

/**
 * tcache_reinit() - reset the region list lock (after fork, child)
 *
 * The other threads' regions stay out of use: they may have been caught
 * in the middle of a push or pop, so their objects are not trusted.
 */
void tcache_reinit(void)
{
	hak_lock_init(&region_lock);
}
