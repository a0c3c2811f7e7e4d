/* SPDX-License-Identifier: MIT */
/*
 * Caches: every object in hakmem belongs to one. The kmalloc size classes
 * are caches like any other (ids 0..HAK_NR_CLASSES-1), and
 * hak_cache_create() adds more. A cache has one central pool per NUMA
 * node (and one for the boot pool): a transfer array of whole batches and
 * a list of partial spans of that node, under its own lock, so two caches,
 * or two nodes of one cache, never contend.
 */
#ifndef HAK_CACHE_H
#define HAK_CACHE_H

#include <stdatomic.h>
#include <stdint.h>

#include "../arch/arch.h"
#include "compiler.h"
#include "lock.h"
#include "size_class.h"
#include "superslab.h"
#include "../numa/topology.h"

#define HAK_MAX_CACHES		256
#define HAK_KMALLOC_FIRST	0	/* kmalloc cache id == size class */
#define HAK_MAX_BATCH		256

/*
 * Per-CPU state of a central, indexed by CPU % HAK_CUR_SLOTS (beyond 64
 * CPUs two CPUs may share a slot: locality suffers, nothing else).
 */
#define HAK_CUR_SLOTS	64

/*
 * Objects of a CPU's own spans that overflowed its fast-path cache: its
 * next refill takes them back first, without touching a span. Made on
 * first use; holds up to two batches.
 */
struct cpu_stash {
	uint32_t n;
	uint32_t cap;
	void *objs[];
};

struct central {
	struct hak_lock lock;
	uint32_t xfer_count;		/* objects in xfer[] */
	uint32_t xfer_cap;
	void **xfer;			/* whole batches moving between threads */
	struct slab_rw *partial;	/* spans with free or uncarved objects */
	uint32_t nr_partial;
	uint32_t pad;
	uint64_t nr_spans;		/* spans held */
	uint64_t inuse;			/* objects out of spans (xfer included) */
	uint64_t refills;
	uint64_t drains;
	uint64_t ss_refills;
	uint64_t remote_frees;		/* objects returned from other nodes */
	uint64_t cross_refills;		/* refills served for another node */
	uint32_t node;
	/* the span each CPU refills from, and its stash */
	struct slab_rw *cur[HAK_CUR_SLOTS];
	struct cpu_stash *stash[HAK_CUR_SLOTS];
} __aligned(HAK_CACHELINE);

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
extern __hidden uintptr_t hak_tag_secret;

extern __hidden struct hak_cache *hak_caches[HAK_MAX_CACHES];
extern __hidden struct hak_cache hak_kmalloc[HAK_NR_CLASSES];

static inline struct hak_cache *kmalloc_cache(unsigned int cl)
{
	return &hak_kmalloc[cl];
}

/* The tag written into an object while it sits in a cache. */
static inline uintptr_t free_tag(uintptr_t a)
{
	return a ^ hak_tag_secret;
}

int cache_setup(struct hak_cache *c, const char *name, size_t size,
		size_t align, unsigned long flags, void (*ctor)(void *));
void caches_init(void);
struct central *central_get(struct hak_cache *c, unsigned int node);
void central_reset(struct central *ct);
unsigned int cache_refill(struct hak_cache *c, void **out, unsigned int want,
			  unsigned int owner);
void cache_drain(struct hak_cache *c, void **objs, unsigned int n);
void cache_drain_cpu(struct hak_cache *c, void **objs, unsigned int n,
		     unsigned int owner);
void cache_drain_to_owners(struct hak_cache *c, void **objs, unsigned int n);
void cache_drain_from(struct hak_cache *c, void **objs, unsigned int n,
		      int remote);
unsigned int cache_release_empty(struct hak_cache *c);
uint64_t central_parked(const struct central *ct);
void caches_lock_all(void);
void caches_unlock_all(void);
void caches_reinit_locks(void);

/*
 * Classification of an address, used by every slow path that must say
 * exactly what is wrong with a pointer.
 */
enum obj_kind {
	OBJ_NOT_OURS,		/* no SuperSlab or huge mapping there */
	OBJ_METADATA,		/* inside a SuperSlab header */
	OBJ_FREE_SLAB,		/* inside a slab no cache holds */
	OBJ_INTERIOR,		/* inside an object, not at its start */
	OBJ_NOT_ALLOCATED,	/* an object start never handed out or free */
	OBJ_VALID,		/* an object handed out */
	OBJ_HUGE,		/* a live huge allocation */
	OBJ_HUGE_INTERIOR,	/* inside a huge mapping, not its start */
	OBJ_HUGE_FREED,		/* a huge allocation already freed */
};

struct obj_info {
	enum obj_kind kind;
	struct hak_cache *cache;
	struct superslab *ss;
	const struct slab_ro *ro;
	struct huge_hdr *huge;		/* OBJ_HUGE: the allocation's header */
	uint32_t index;
};

void obj_classify(const void *p, struct obj_info *oi);
const char *obj_kind_str(enum obj_kind k);

#endif /* HAK_CACHE_H */
