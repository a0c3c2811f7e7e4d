/* SPDX-License-Identifier: MIT */
/*
 * Fast-path caches: regions of object pointers with a small header per
 * cache, in the style of tcmalloc's per-CPU slabs. Objects of cache id k
 * sit in slots[bin[k].begin .. bin[k].current); the bin is full at end.
 *
 * Two modes, one layout:
 *  - per-CPU (rseq): region = cpu_regions[cpu], popped and pushed
 *    inside restartable sequences (arch/<arch>/rseq.h, core/percpu.c);
 *  - per-thread: region = tc_region, a thread-local pointer (core/tcache.c).
 *    Threads start on an all-zero region whose bins are all empty and
 *    full at once, so the first operation takes the slow path and needs
 *    no "initialised?" test.
 * Every bin is laid out when its region is made (region.c). Afterwards
 * only an empty bin's end moves (regions_set_cap(), under the region
 * lock, for a new object cache whose id no thread can be using yet).
 *
 * This header holds the structures and the two hit paths; the slow paths
 * are region.h, tcache.h and percpu.h, dispatched by frontend.h.
 */
#ifndef HAK_FASTCACHE_H
#define HAK_FASTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "../arch/rseq.h"
#include "cache.h"

#define FC_USER_CAP	64	/* slots per object cache made by the user */
#define FC_USER_FOREIGN	16	/* and for its frees of other CPUs' objects */
/* Every cache id has a bin, and a bin for other CPUs' objects (rseq.h). */
#define FC_NR_BINS	(2 * HAK_MAX_CACHES)

_Static_assert(HAK_FOREIGN_BIN == HAK_MAX_CACHES,
	       "arch/rseq.h hard-codes the foreign bins' offset");

struct fc_bin {
	uint16_t current;
	uint16_t begin;
	uint16_t end;
	uint16_t last_slow;	/* FC_LAST_* | FC_HOT, see bin_batch() */
};

/* arch/<arch>/rseq.h reads current at byte 0, begin at 2, end at 4. */
_Static_assert(offsetof(struct fc_bin, current) == 0, "rseq asm: current");
_Static_assert(offsetof(struct fc_bin, begin) == 2, "rseq asm: begin");
_Static_assert(offsetof(struct fc_bin, end) == 4, "rseq asm: end");
_Static_assert(sizeof(struct fc_bin) == 8, "rseq asm: bins are 8 bytes apart");

#define FC_LAST_REFILL	1
#define FC_LAST_DRAIN	2
#define FC_LAST_MASK	3
#define FC_HOT		4	/* a slow path since the last decay tick */

/*
 * The cache of bin @bin, own or foreign (NULL: no cache has that id). An
 * acquire load: another thread may be publishing the slot (a kmalloc
 * cache's first use, kmalloc_cache_setup()) while this one flushes or
 * sizes a region's bins.
 */
static inline struct hak_cache *bin_cache(unsigned int bin)
{
	return __atomic_load_n(&cache_by_id[bin % HAK_MAX_CACHES],
			       __ATOMIC_ACQUIRE);
}

struct fc_region {
	struct fc_bin bin[FC_NR_BINS];
	uint32_t slots_used;
	uint8_t live;
	uint8_t no_cold;		/* no cold bin left to shrink this tick
				 * (bin_size.c, shrink_cold()) */
	uint16_t epoch;		/* the decay tick its bins were last sized at */
	struct fc_region *next_free;
	struct fc_region *next_all;
	uint32_t slow_ops;	/* slow paths taken on it (per-CPU mode) */
	uint32_t grown;		/* bytes of capacity its bins took beyond
				 * their base (region.c, bin_grow()) */
	void *slots[];
};

_Static_assert(offsetof(struct fc_region, slots) == HAK_FC_SLOTS_OFF,
	       "arch/rseq.h hard-codes the offset of the slots");

extern __hidden __thread struct fc_region *tc_region
	__attribute__((tls_model("initial-exec")));
extern __hidden struct fc_region fc_empty;
extern __hidden struct rseq_ctx fast_rseq;
/*
 * 1 when a checked free can go straight to this CPU's bin: per-CPU mode
 * on one node. One test (a compare with memory) on the per-CPU free path.
 */
extern __hidden uint8_t free_direct;
/*
 * percpu_table.cpu[-2] and [-1] are the guard slots. From percpu_init()
 * on, they and every possible CPU's slot point to a region: its own, or
 * fc_empty.
 */
struct cpu_table {
	void *guard[2];
	void *cpu[HAK_MAX_CPUS];
};

extern __hidden struct cpu_table percpu_table;
#define cpu_regions	(percpu_table.cpu)

/*
 * An object leaves the caches: its free tag is cleared, so that a later
 * free is not taken for a double free. CONFIG_HARDENED=n builds clear it
 * on the slow paths only (their fast free path reads no tag; free_slow()
 * sees only pointers that are no slab object).
 */
static inline void *fc_claim(struct hak_cache *c, void *p)
{
	*(uintptr_t *)((char *)p + c->free_off) = 0;
	return p;
}

/* The hit paths' half of fc_claim(). */
static __always_inline void *fc_claim_fast(uint32_t free_off, void *p)
{
#ifdef CONFIG_HARDENED
	*(uintptr_t *)((char *)p + free_off) = 0;
#else
	(void)free_off;
#endif
	return p;
}

/**
 * tc_pop() - take an object from the calling thread's bin (per-thread mode)
 * @id: cache id
 * @out: where the object (in its cached state) goes
 *
 * Return: 1, or 0: take the slow path.
 */
static __always_inline int tc_pop(unsigned long id, void **out)
{
	struct fc_region *r = tc_region;
	struct fc_bin *b = &r->bin[id];

	if (unlikely(b->current == b->begin))
		return 0;
	*out = r->slots[--b->current];
	return 1;
}

/**
 * tc_push() - put an object (already tagged free) into the thread's bin
 * @id: cache id
 * @p: the object
 *
 * Return: 1, or 0 when the bin is full: take the slow path.
 */
static __always_inline int tc_push(unsigned long id, void *p)
{
	struct fc_region *r = tc_region;
	struct fc_bin *b = &r->bin[id];

	if (unlikely(b->current == b->end))
		return 0;
	r->slots[b->current++] = p;
	return 1;
}

/**
 * fc_pop() - take an object from this CPU's (or thread's) bin
 * @id: cache id
 * @out: where the object (in its cached state) goes
 *
 * Return: 1, or 0: take the slow path.
 */
static __always_inline int fc_pop(unsigned long id, void **out)
{
	if (likely(fast_rseq.on))
		return rseq_pop(&fast_rseq, cpu_regions, id, out);
	return tc_pop(id, out);
}

/**
 * fc_push() - put an object (already tagged free) into the bin
 * @id: cache id
 * @p: the object
 *
 * Return: 1, or 0 when the bin is full: take the slow path.
 */
static __always_inline int fc_push(unsigned long id, void *p)
{
	if (likely(fast_rseq.on))
		return rseq_push(&fast_rseq, cpu_regions, id, p);
	return tc_push(id, p);
}

#endif /* HAK_FASTCACHE_H */
