/* SPDX-License-Identifier: MIT */
/*
 * Caches: every object in hakmem belongs to one. The kmalloc size classes
 * are caches like any other (ids 0..HAK_NR_CLASSES-1), and
 * hak_cache_create() adds more. A cache has one central pool per NUMA
 * node (and one for the boot pool): central.h.
 */
#ifndef HAK_CACHE_H
#define HAK_CACHE_H

#include <stdatomic.h>
#include <stdint.h>

#include "central.h"
#include "compiler.h"
#include "size_class.h"
#include "../numa/topology.h"

#define HAK_MAX_CACHES		256
#define HAK_KMALLOC_FIRST	0	/* kmalloc cache id == size class */

struct hak_cache {
	/* Read-mostly. */
	uint32_t id;
	uint32_t size;			/* usable bytes of an object */
	uint32_t stride;		/* distance between objects */
	uint32_t free_off;		/* offset of the free tag */
	uint32_t objs_per_span;
	uint16_t span_slabs;
	uint16_t batch;			/* objects per refill and drain */
	uint16_t fc_cap;		/* objects a fast-path cache holds */
	uint16_t xfer_limit;		/* objects the transfer array holds */
	uint64_t inv;			/* see slab_obj_div() */
	unsigned long flags;
	void (*ctor)(void *);
	char name[32];
	/* node_central[HAK_NODE_BOOT] is &central; the others on first use */
	struct central *_Atomic node_central[HAK_NODE_SLOTS];
	struct central central;
};

/* The central of a node, or NULL if that node has none yet. */
static inline struct central *central_peek(struct hak_cache *c,
					   unsigned int node)
{
	return atomic_load_explicit(&c->node_central[node],
				    memory_order_acquire);
}

#define for_each_central(c, ct, n)					\
	for ((n) = 0; (n) < HAK_NODE_SLOTS; (n)++)			\
		if (((ct) = central_peek((c), (n))) != NULL)

/* The per-process secret of the free tag (free_tag()), from AT_RANDOM. */
extern __hidden uintptr_t tag_secret;

extern __hidden struct hak_cache *cache_by_id[HAK_MAX_CACHES];
extern __hidden struct hak_cache kmalloc_caches[HAK_NR_CLASSES];

struct hak_cache *kmalloc_cache_setup(unsigned int cl);
uint32_t kmalloc_stride(unsigned int cl);
unsigned int kmalloc_fc_cap(unsigned int cl);

/*
 * The kmalloc cache of class @cl, set up on the first call (from the
 * malloc slow path: the fast path reads only the bins). A class is set up
 * once its cache_by_id[] slot is published.
 */
static inline struct hak_cache *kmalloc_cache(unsigned int cl)
{
	if (unlikely(!__atomic_load_n(&cache_by_id[HAK_KMALLOC_FIRST + cl],
				      __ATOMIC_ACQUIRE)))
		return kmalloc_cache_setup(cl);
	return &kmalloc_caches[cl];
}

/* The tag written into an object while it sits in a cache. */
static inline uintptr_t free_tag(uintptr_t a)
{
	return a ^ tag_secret;
}

int cache_setup(struct hak_cache *c, const char *name, size_t size,
		size_t align, unsigned long flags, void (*ctor)(void *));

#endif /* HAK_CACHE_H */
