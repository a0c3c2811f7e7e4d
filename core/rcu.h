/* SPDX-License-Identifier: MIT */
/*
 * RCU-deferred frees on liburcu (urcu-memb, the default flavour):
 * hak_free_rcu(), hak_cache_free_rcu(), hak_rcu_barrier(), and the
 * deferred span release of HAK_SLAB_TYPESAFE_BY_RCU caches. Built only
 * with CONFIG_RCU=y; without it the calls are not in the library.
 */
#ifndef HAK_RCU_H
#define HAK_RCU_H

#include "cache.h"
#include "superslab.h"
#include "hakmem/hakmem.h"

#ifdef CONFIG_RCU
/* Objects in one batch: a page of pointers after a 40-byte header. */
#define RCU_BATCH_OBJS	507

/* For the tests: the age bound of a partial batch, and batches sent. */
extern __hidden unsigned long rcu_age_ms;
extern __hidden _Atomic uint64_t rcu_batches_sent;

int rcu_span_defer(struct slab_rw *rw);
int rcu_cache_prepare(void);
void rcu_cache_barrier(struct hak_cache *c);
void rcu_decay(uint64_t now);
#else
static inline int rcu_span_defer(struct slab_rw *rw)
{
	(void)rw;
	return 0;
}

static inline int rcu_cache_prepare(void)
{
	return -1;
}

static inline void rcu_cache_barrier(struct hak_cache *c)
{
	(void)c;
}

static inline void rcu_decay(uint64_t now)
{
	(void)now;
}
#endif

/**
 * rcu_span_deferred() - hand an empty span of a HAK_SLAB_TYPESAFE_BY_RCU
 * cache to a grace period instead of its SuperSlab
 * @rw: the span's head, off its central's lists and counters
 *
 * Context: the span's central lock held (span_release(), central.c).
 * Return: 1 when the span's release was deferred, 0 when the caller
 * releases it now (any other cache).
 */
static inline int rcu_span_deferred(struct slab_rw *rw)
{
	const struct superslab *ss = ss_of_rw(rw);
	const struct hak_cache *c = cache_by_id[ss->ro[rw_idx(rw)].cache_id];

	if (likely(!(c->flags & HAK_SLAB_TYPESAFE_BY_RCU)))
		return 0;
	return rcu_span_defer(rw);
}

#endif /* HAK_RCU_H */
