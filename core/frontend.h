/* SPDX-License-Identifier: MIT */
/*
 * The front end's slow paths: where an allocation or a free goes when the
 * bin missed, by the mode in force (poisoning, per-CPU, per-thread).
 */
#ifndef HAK_FRONTEND_H
#define HAK_FRONTEND_H

#include "fastcache.h"
#include "percpu.h"
#include "poison.h"
#include "remote.h"
#include "tcache.h"

/**
 * fc_flush_reachable() - return the cached objects this call can reach
 *
 * Every CPU's region in the per-CPU mode (this CPU's only, without
 * membarrier), and the calling thread's own region and cross-node
 * buffers.
 */
static inline void fc_flush_reachable(void)
{
	remote_flush_current();
	percpu_drain_all();
	tcache_flush_current();
}

/**
 * cache_alloc_slow() - allocate when the fast path missed
 * @c: the cache
 *
 * Return: the object (free tag cleared), or NULL with errno ENOMEM.
 */
static inline void *cache_alloc_slow(struct hak_cache *c)
{
	if (poison_on())
		return poison_alloc(c);
	if (fast_rseq.on)
		return percpu_alloc_slow(c);
	return tcache_alloc_slow(c);
}

/**
 * cache_free_slow() - free a checked, tagged object when the push missed
 * @c: its cache
 * @p: the object
 */
static inline void cache_free_slow(struct hak_cache *c, void *p)
{
	if (poison_on())
		poison_free(c, p);
	else if (fast_rseq.on)
		percpu_free_slow(c, p);
	else
		tcache_free_slow(c, p);
}

#endif /* HAK_FRONTEND_H */
