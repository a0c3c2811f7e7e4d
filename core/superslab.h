/* SPDX-License-Identifier: MIT */
/*
 * SuperSlabs: 2 MiB, 2 MiB-aligned regions split into 32 slabs of 64 KiB.
 * Slab 0 holds this header and the per-slab metadata, out of band: objects
 * never share a cache line with metadata. A span is one or more adjacent
 * slabs given to one cache; its first slab is the head.
 *
 * From any object address p:
 *   superslab = p & ~(2 MiB - 1)
 *   slab      = (p >> 16) & 31
 *   metadata  = ss->ro[slab] (read-mostly) and ss->rw[head] (under a lock)
 */
#ifndef HAK_SUPERSLAB_H
#define HAK_SUPERSLAB_H

#include <stdatomic.h>
#include <stdint.h>

#include "../arch/arch.h"
#include "compiler.h"
#include "lock.h"
#include "registry.h"

#define HAK_SS_SHIFT		21
#define HAK_SS_SIZE		(1UL << HAK_SS_SHIFT)
#define HAK_SLAB_SHIFT		16
#define HAK_SLAB_SIZE		(1UL << HAK_SLAB_SHIFT)
#define HAK_SLABS_PER_SS	32
#define HAK_MAX_SPAN		16
#define HAK_MAX_OBJS_PER_SPAN	8192

#define SS_KIND_SLABS		1
#define SS_KIND_HUGE		2
#define SS_KIND_HUGE_FREE	3	/* a freed huge mapping kept for reuse */

/* All slabs but slab 0 are free in a fresh SuperSlab. */
#define SS_ALL_FREE		0xfffffffeU

/*
 * Read on every free, written only when a span is assigned or released:
 * kept apart from the lock-protected fields so frees on other CPUs do not
 * bounce this line. Every slab of a span carries the same copy.
 */
struct slab_ro {
	uintptr_t base;		/* first byte of the span */
	uint64_t inv;		/* inverse of stride's odd part mod 2^64 */
	uint32_t stride;	/* distance between objects */
	uint32_t free_off;	/* where the free tag lives */
	uint16_t carved;	/* objects carved so far (see below) */
	uint16_t cache_id;	/* owning cache (stride 0: slab free) */
	uint8_t head;		/* index of the span's first slab */
	uint8_t nslabs;		/* slabs in the span */
	uint16_t owner;		/* CPU index that refilled from it last */
};

/*
 * slab_ro.carved: a copy of slab_rw.carved for the free fast path, stored
 * after the objects are carved and before they are handed out: an object
 * index below it was handed out once. It only grows during a span's life,
 * so a stale read errs towards the slow path, which has the truth.
 *
 * slab_ro.owner: the fast-path cache (CPU index) that carves from the
 * span, or HAK_OWNER_NONE. A locality hint: refills prefer their own
 * spans and drains keep a CPU's own objects in its stash (core/cache.c,
 * under the central lock), and the free fast path compares it with the
 * CPU index to choose between a cache's own and foreign bin (inside the
 * rseq sequence, rseq_push_owned()); a stale value only picks a bin.
 */
#define HAK_OWNER_NONE	0xffffU
/* For a drain: each object to the stash of its own span's owner. */
#define HAK_OWNER_SPAN	0xfffeU

/* Mutable span state, valid in the head slab, under the cache's lock. */
struct slab_rw {
	uint32_t nfree;		/* carved objects free in the span (map bits) */
	uint32_t hint;		/* no free carved object below word hint */
	uint32_t carved;	/* objects carved so far (bump pointer) */
	uint32_t inuse;		/* objects out of the span */
	struct slab_rw *next;	/* partial list of the owning cache */
	struct slab_rw *prev;
	uint32_t on_partial;
	uint32_t pad;
};

struct superslab {
	uint32_t kind;		/* at offset 0, as in struct huge_hdr */
	uint32_t node;
	/* Under the pool lock: */
	uint32_t free_bitmap;	/* 1 = slab free */
	uint32_t dirty_bitmap;	/* 1 = free slab whose pages were touched */
	uint32_t aged_bitmap;	/* dirty at the last decay tick already;
				 * bit 0: every slab free at that tick */
	uint32_t thp;		/* advised MADV_HUGEPAGE, not split since */
	struct superslab *next;
	struct superslab *prev;
	/*
	 * Bit s of populated[w]: slab s's population window w (pages 2 << w
	 * to (4 << w) - 1, span_populate()) was faulted in since the slab was
	 * mapped or last purged. Set with no lock by span_populate(), cleared
	 * under the pool lock when the slab is purged (free, so no one
	 * populates it then).
	 */
	_Atomic uint32_t populated[3];
	uint32_t pad;
	struct slab_ro ro[HAK_SLABS_PER_SS] __aligned(64);
	struct slab_rw rw[HAK_SLABS_PER_SS] __aligned(64);
	/*
	 * 1 = object not handed out: free in its span, or not carved yet.
	 * The span's free set itself: refills scan it (core/cache.c).
	 */
	_Atomic uint64_t free_map[HAK_SLABS_PER_SS][HAK_MAX_OBJS_PER_SPAN / 64];
};

_Static_assert(sizeof(struct superslab) <= HAK_SLAB_SIZE - 4096,
	       "SuperSlab metadata must fit in slab 0, below its guard page");
/* log2 of sizeof(struct slab_ro): free.h indexes ro[] with a shift */
#define SLAB_RO_SHIFT	5
_Static_assert(sizeof(struct slab_ro) == 1U << SLAB_RO_SHIFT,
	       "slab_ro is half a line");
_Static_assert(HAK_SS_SHIFT == REGISTRY_CHUNK_SHIFT,
	       "the registry has one bit per SuperSlab");

static inline struct superslab *ss_of(const void *p)
{
	return (struct superslab *)((uintptr_t)p & ~(HAK_SS_SIZE - 1));
}

static inline unsigned int slab_idx_of(const void *p)
{
	return (unsigned int)((uintptr_t)p >> HAK_SLAB_SHIFT) &
	       (HAK_SLABS_PER_SS - 1);
}

/* Where the owner of object @p's span is kept (slab_ro.owner). */
static inline const uint16_t *obj_owner_slot(const void *p)
{
	return &ss_of(p)->ro[slab_idx_of(p)].owner;
}

/* The CPU index the span of object @p belongs to. */
static inline unsigned int obj_owner(const void *p)
{
	return __atomic_load_n(obj_owner_slot(p), __ATOMIC_RELAXED);
}

/* k of slab_obj_div(): the trailing zero bits of the slab's stride. */
static inline unsigned int slab_stride_shift(const struct slab_ro *ro)
{
	return ctz32_any(&ro->stride) & 63;
}

/*
 * slab_obj_div() with the slab's inverse and shift at hand: for loops
 * over the objects of one slab that keep them in registers.
 */
static inline uint64_t obj_div(uint64_t off, uint64_t inv, unsigned int k)
{
	uint64_t x = off * inv;

	return (x >> k) | (x << ((64 - k) & 63));
}

/**
 * slab_obj_div() - @off / stride if the stride divides @off, else huge
 * @ro: the read-only metadata of a slab (a free slab's is all zero: the
 *	result is then 0, and its carved count 0)
 * @off: an offset from the span's base, below 2^21
 *
 * With stride = 2^k * d (d odd) and inv = 1/d mod 2^64: for off = q *
 * stride, off * inv = q * 2^k (mod 2^64) and rotating right by k gives q.
 * For any other off below 2^21 the result is at least 2^23 (low bits of
 * off below 2^k end up on top; otherwise m * inv mod 2^(64-k) for an m
 * that d does not divide exceeds (2^(64-k) - 1) / d), so one compare
 * with a count of objects (at most 8192) both checks and divides. One
 * multiplication, one bit scan, one rotation.
 *
 * Return: the quotient, or a value of at least 2^23.
 */
static inline uint64_t slab_obj_div(const struct slab_ro *ro, uint64_t off)
{
	return obj_div(off, ro->inv, slab_stride_shift(ro));
}

/**
 * slab_obj_index() - index of an object start in its span
 * @ro: the read-only metadata of the slab holding @p
 * @p: the address
 * @capacity: objects in the span (the cache's objs_per_span)
 *
 * Return: the index, or -1 if @p is not the start of an object of the span.
 */
static inline long slab_obj_index(const struct slab_ro *ro, uintptr_t p,
				  uint32_t capacity)
{
	uint64_t i;

	if (p < ro->base || !ro->stride)
		return -1;
	i = slab_obj_div(ro, p - ro->base);
	return i < capacity ? (long)i : -1;
}

static inline struct superslab *ss_of_rw(const struct slab_rw *rw)
{
	return ss_of(rw);
}

static inline unsigned int rw_idx(const struct slab_rw *rw)
{
	return (unsigned int)(rw - ss_of(rw)->rw);
}

struct hak_cache;

struct ss_pool {
	struct mutex_lock lock;
	struct mutex_lock grow_lock;	/* one superslab_grow() at a time */
	struct superslab *avail;	/* SuperSlabs with a free slab */
	uint32_t nr_empty;		/* SuperSlabs with every slab free */
	uint64_t nr_superslabs;
	uint64_t dirty_bytes;		/* free but touched slab bytes */
	uint64_t last_tick_ms;		/* last decay tick */
	uint64_t mapped_total;
	uint64_t unmapped_total;
	uint64_t traffic;		/* spans taken and released */
};

/* One pool per NUMA node, and the boot pool (numa/topology.h). */
extern __hidden struct ss_pool ss_pools[];

void superslab_set_tick_hook(void (*fn)(void));
struct slab_rw *superslab_refill(struct hak_cache *c, unsigned int node);
struct slab_rw *superslab_take(struct hak_cache *c, unsigned int node);
int superslab_grow(struct hak_cache *c, unsigned int node);
void superslab_release_span(struct superslab *ss, unsigned int head);
int superslab_purge(int unmap_empty);
int superslab_decay(void);
uint64_t superslab_traffic(void);
int superslab_trim_try(void);
void superslab_pool_lock_all(void);
void superslab_pool_unlock_all(void);
void superslab_pool_reinit(void);

#endif /* HAK_SUPERSLAB_H */
