/* SPDX-License-Identifier: MIT */
/*
 * The middle end: a cache's central pool on one NUMA node (and one for the
 * boot pool). A transfer array of whole batches moving between threads,
 * each CPU's stash of its own objects, and the node's partial spans, under
 * one lock per cache and node, so two caches, or two nodes of one cache,
 * never contend. The fast-path caches (front end) refill from it and
 * drain into it; it takes spans from the SuperSlabs (back end).
 *
 * The lock order of the whole allocator is written once, at the top of
 * central.c.
 */
#ifndef HAK_CENTRAL_H
#define HAK_CENTRAL_H

#include <stdint.h>

#include "../arch/arch.h"
#include "../arch/rseq.h"
#include "compiler.h"
#include "lock.h"
#include "superslab.h"

/* The most objects one refill or drain moves. */
#define HAK_MAX_BATCH	256

/*
 * Per-CPU state of a central, for every CPU index below HAK_MAX_CPUS
 * without sharing: a table of chunks of HAK_CPU_CHUNK CPUs, each made
 * from the metadata arena when one of its CPUs first needs it. A central
 * holds the chunk pointers (1 KiB) and a 1 KiB chunk per 64 CPU indices
 * that used it; the kmalloc caches' boot centrals, static, likewise.
 */
#define HAK_CPU_CHUNK	64
#define HAK_CPU_CHUNKS	(HAK_MAX_CPUS / HAK_CPU_CHUNK)

/*
 * Drain owners besides a CPU index: HAK_OWNER_NONE (superslab.h) for the
 * per-thread mode, HAK_OWNER_SPAN for objects freed on a CPU their spans
 * do not belong to, and HAK_OWNER_REMOTE for objects freed on another node
 * (counted as remote frees).
 */
#define HAK_OWNER_REMOTE	0xfffdU

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

struct central_cpus;	/* central.c */

struct central {
	struct mutex_lock lock;
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
	/* each CPU's span and stash, HAK_CPU_CHUNK CPUs a chunk */
	struct central_cpus *cpus[HAK_CPU_CHUNKS];
} __aligned(HAK_CACHELINE);

/*
 * CPUs found idle (percpu.c: no slow path for a whole decay tick), by CPU
 * index: while set, the objects the centrals keep for that CPU are any
 * CPU's (central_cpus_leave()). Written only on a change; read racily:
 * a stale mark costs locality, nothing else.
 */
extern uint8_t central_cpu_gone[HAK_MAX_CPUS];

/* @cpu was found idle and has taken no slow path since. */
static inline int central_cpu_is_gone(unsigned int cpu)
{
	return cpu < HAK_MAX_CPUS &&
	       __atomic_load_n(&central_cpu_gone[cpu], __ATOMIC_RELAXED);
}

/*
 * @cpu takes a slow path: the centrals keep its objects for it again.
 * One load of a line written only when a CPU goes or comes back.
 */
static inline void central_cpu_back(unsigned int cpu)
{
	if (unlikely(central_cpu_is_gone(cpu)))
		__atomic_store_n(&central_cpu_gone[cpu], 0, __ATOMIC_RELAXED);
}

struct hak_cache;

void central_cpus_leave(unsigned int cpu);
struct central *central_get(struct hak_cache *c, unsigned int node);
void central_reset(struct central *ct);
unsigned int central_refill(struct hak_cache *c, void **out,
			    unsigned int want, unsigned int owner);
unsigned int central_refill_node(struct hak_cache *c, unsigned int node,
				 void **out, unsigned int want,
				 unsigned int owner);
void central_drain(struct hak_cache *c, void **objs, unsigned int n,
		   unsigned int owner);
unsigned int central_shrink(struct hak_cache *c);
unsigned int central_shrink_all(void);
uint64_t central_parked(const struct central *ct);
void centrals_lock_all(void);
void centrals_unlock_all(void);
void centrals_reinit_locks(void);

#endif /* HAK_CENTRAL_H */
