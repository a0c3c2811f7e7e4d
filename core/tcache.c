// SPDX-License-Identifier: MIT
/*
 * The per-thread mode: each thread's region is created on its first slow
 * path and flushed and recycled at thread exit through a pthread key
 * destructor. Used when rseq is unavailable or disabled (HAKMEM_RSEQ=0),
 * and by a thread that could not register rseq in the per-CPU mode.
 *
 * After a fork, the other threads' regions stay out of use: they may have
 * been caught in the middle of a push or pop, so their objects are not
 * trusted (they are leaked, never handed out twice).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "bin_size.h"
#include "init.h"
#include "region.h"
#include "tcache.h"

enum { TC_NONE, TC_LIVE, TC_DEAD };

__thread struct fc_region *tc_region __attribute__((tls_model("initial-exec"))) =
	&fc_empty;
static __thread int tc_state __attribute__((tls_model("initial-exec")));
static pthread_key_t tc_key;

static void tcache_thread_exit(void *arg)
{
	struct fc_region *r = arg;

	region_flush(r);
	tc_region = &fc_empty;
	tc_state = TC_DEAD;
	region_put(r);
}

/**
 * tcache_init() - create the key whose destructor flushes exiting threads
 */
void tcache_init(void)
{
	pthread_key_create(&tc_key, tcache_thread_exit);
}

/* The calling thread's region, created on first use; NULL: go direct. */
static struct fc_region *tcache_get(void)
{
	struct fc_region *r;

	if (likely(tc_state == TC_LIVE))
		return tc_region;
	if (tc_state == TC_DEAD || !alloc_ready())
		return NULL;
	r = region_get();
	if (!r)
		return NULL;
	tc_region = r;
	tc_state = TC_LIVE;
	pthread_setspecific(tc_key, r);
	return r;
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
	central_drain(c, &r->slots[b->begin], n, HAK_OWNER_NONE);
	memmove(&r->slots[b->begin], &r->slots[b->begin + n],
		(have - n) * sizeof(void *));
	b->current = (uint16_t)(b->current - n);
}

/**
 * tcache_alloc_direct() - one object from the central pool, past any bin
 * @c: the cache
 *
 * For a thread with no region (start-up, thread exit) or a bin with no
 * room, and for the per-CPU mode's lazy start (core/percpu.c).
 *
 * Return: the object (claimed), or NULL with errno ENOMEM.
 */
void *tcache_alloc_direct(struct hak_cache *c)
{
	void *p;

	if (!central_refill(c, &p, 1, HAK_OWNER_NONE)) {
		errno = ENOMEM;
		return NULL;
	}
	return fc_claim(c, p);
}

/**
 * tcache_alloc_slow() - per-thread mode: the bin was empty
 * @c: the cache
 *
 * Refills the bin by one batch (a burst: the whole bin, see bin_batch())
 * from the central pool; without a region
 * (start-up, thread exit) takes one object directly.
 *
 * Return: the object, or NULL with errno ENOMEM.
 */
void *tcache_alloc_slow(struct hak_cache *c)
{
	struct fc_region *r = tcache_get();
	struct fc_bin *b;

	if (!r)
		return tcache_alloc_direct(c);
	b = &r->bin[c->id];
	if (b->current == b->begin) {
		unsigned int n = bin_batch(c, r, c->id, FC_LAST_REFILL, 0);

		if (!n)		/* a bin with no room */
			return tcache_alloc_direct(c);
		n = central_refill(c, &r->slots[b->begin], n, HAK_OWNER_NONE);
		if (!n) {
			errno = ENOMEM;
			return NULL;
		}
		b->current = (uint16_t)(b->begin + n);
	}
	return fc_claim(c, r->slots[--b->current]);
}

/**
 * tcache_free_slow() - per-thread mode: the bin was full
 * @c: the cache of @p
 * @p: a checked object, already tagged free
 *
 * Drains the coldest batch of the bin (a burst: all of it, see
 * bin_batch()), then pushes @p.
 */
void tcache_free_slow(struct hak_cache *c, void *p)
{
	struct fc_region *r = tcache_get();
	struct fc_bin *b;

	if (!r) {
		central_drain(c, &p, 1, HAK_OWNER_NONE);
		return;
	}
	b = &r->bin[c->id];
	if (b->current == b->end)
		bin_drain(r, b, c, bin_batch(c, r, c->id, FC_LAST_DRAIN, 0));
	if (b->current == b->end) {	/* a bin with no room */
		central_drain(c, &p, 1, HAK_OWNER_NONE);
		return;
	}
	r->slots[b->current++] = p;
}

/**
 * tcache_flush_current() - return every object cached by this thread
 */
void tcache_flush_current(void)
{
	if (tc_state == TC_LIVE)
		region_flush(tc_region);
}
