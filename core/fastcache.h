/* SPDX-License-Identifier: MIT */
/*
 * Fast-path caches: regions of object pointers with a small header per
 * cache, in the style of tcmalloc's per-CPU slabs. Objects of cache id k
 * sit in slots[bin[k].begin .. bin[k].current); the bin is full at end.
 *
 * Two modes, one layout:
 *  - per-CPU (rseq): region = hak_cpu_regions[cpu], popped and pushed
 *    inside restartable sequences (arch/<arch>/rseq.h, core/percpu.c);
 *  - per-thread: region = hak_tc, a thread-local pointer (core/tcache.c).
 *    Threads start on an all-zero region whose bins are all empty and
 *    full at once, so the first operation takes the slow path and needs
 *    no "initialised?" test.
 * Every bin is laid out when its region is made (region.c), never later:
 * in the per-CPU mode no other thread could safely change it afterwards.
 */
#ifndef HAK_FASTCACHE_H
#define HAK_FASTCACHE_H

#include <stdint.h>

#include "../arch/rseq.h"
#include "../numa/remote.h"
#include "cache.h"
#include "poison.h"

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
	uint16_t last_slow;	/* per-CPU mode: FC_LAST_*, see percpu.c */
};

#define FC_LAST_REFILL	1
#define FC_LAST_DRAIN	2

/* The cache of bin @bin, own or foreign (NULL: no cache has that id). */
static inline struct hak_cache *bin_cache(unsigned int bin)
{
	return hak_caches[bin % HAK_MAX_CACHES];
}

struct fc_region {
	struct fc_bin bin[FC_NR_BINS];
	uint32_t slots_used;
	uint32_t live;
	struct fc_region *next_free;
	struct fc_region *next_all;
	uint64_t slow_ops;	/* slow paths taken on it (per-CPU mode) */
	void *slots[];
};

_Static_assert(offsetof(struct fc_region, slots) == HAK_FC_SLOTS_OFF,
	       "arch/rseq.h hard-codes the offset of the slots");

extern __hidden __thread struct fc_region *hak_tc
	__attribute__((tls_model("initial-exec")));
extern __hidden struct fc_region hak_fc_empty;
extern __hidden struct rseq_ctx hak_rseq;
/*
 * 1 when a checked free can go straight to this CPU's bin: per-CPU mode
 * on one node. One test on the free fast path instead of two.
 */
extern __hidden uint8_t hak_free_direct;
/*
 * hak_cpu_table.cpu[-2] and [-1] are the guard slots. From percpu_init()
 * on, they and every possible CPU's slot point to a region: its own, or
 * hak_fc_empty.
 */
struct cpu_table {
	void *guard[2];
	void *cpu[HAK_MAX_CPUS];
};

extern __hidden struct cpu_table hak_cpu_table;
#define hak_cpu_regions	(hak_cpu_table.cpu)

/* the locks core/init.c takes around fork() */
extern __hidden struct hak_lock hak_region_lock;
extern __hidden struct hak_lock hak_drain_lock;

/* region.c */
void regions_layout(void);
void regions_set_cap(unsigned int id, uint32_t cap);
struct fc_region *region_get(void);
void region_put(struct fc_region *r);
void region_flush(struct fc_region *r);
unsigned int bin_batch(const struct hak_cache *c, struct fc_bin *b,
		       uint16_t dir);
uint64_t regions_count_cached(unsigned int id);

/* tcache.c: per-thread mode */
void tcache_init(void);
void *tcache_alloc_slow(struct hak_cache *c);
void tcache_free_slow(struct hak_cache *c, void *p);
void tcache_flush_current(void);

/* percpu.c: per-CPU rseq mode */
void percpu_init(void);
void *percpu_alloc_slow(struct hak_cache *c);
void percpu_free_slow(struct hak_cache *c, void *p);
int percpu_drain_all(void);
void percpu_idle_tick(void);
void percpu_drain_idle(void);
void percpu_mode_update(void);
const char *percpu_mode_name(void);
const char *percpu_mode_reason(void);
intptr_t percpu_rseq_area(int *has_node_id);

/**
 * fc_flush_reachable() - return the cached objects this call can reach
 *
 * Every CPU's region in the per-CPU mode (this CPU's only, without
 * membarrier), and the calling thread's own region.
 */
static inline void fc_flush_reachable(void)
{
	remote_flush_current();
	percpu_drain_all();
	tcache_flush_current();
}

static inline void *fc_claim(struct hak_cache *c, void *p)
{
	*(uintptr_t *)((char *)p + c->free_off) = 0;
	return p;
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
	struct fc_region *r;
	struct fc_bin *b;

	if (likely(hak_rseq.on))
		return rseq_pop(&hak_rseq, hak_cpu_regions, id, out);
	r = hak_tc;
	b = &r->bin[id];
	if (unlikely(b->current == b->begin))
		return 0;
	*out = r->slots[--b->current];
	return 1;
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
	struct fc_region *r;
	struct fc_bin *b;

	if (likely(hak_rseq.on))
		return rseq_push(&hak_rseq, hak_cpu_regions, id, p);
	r = hak_tc;
	b = &r->bin[id];
	if (unlikely(b->current == b->end))
		return 0;
	r->slots[b->current++] = p;
	return 1;
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
	if (hak_rseq.on)
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
	else if (hak_rseq.on)
		percpu_free_slow(c, p);
	else
		tcache_free_slow(c, p);
}

#endif /* HAK_FASTCACHE_H */
