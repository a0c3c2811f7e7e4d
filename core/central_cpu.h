/* SPDX-License-Identifier: MIT */
/*
 * A central's per-CPU state (central_cpu.c), for the middle end: the span
 * each CPU refills from and its stash, in a table of chunks of
 * HAK_CPU_CHUNK CPUs made on first use, so CPUs never share a slot.
 */
#ifndef HAK_CENTRAL_CPU_H
#define HAK_CENTRAL_CPU_H

#include "central.h"

struct hak_cache;

/*
 * A CPU's state in a central, in chunks of HAK_CPU_CHUNK CPUs (central.h).
 * Invariant, under the central lock: a CPU's cur is a span it owns
 * (span_adopt() clears the previous owner's), so releasing a span clears
 * one cur at most.
 */
struct central_cpu {
	struct slab_rw *cur;		/* the span it refills from */
	struct cpu_stash *stash;	/* its stash, made on first use */
};

struct central_cpus {
	struct central_cpu cpu[HAK_CPU_CHUNK];
};

/* @cpu's state in @ct, or NULL if its chunk was not made. */
static inline struct central_cpu *
central_cpu_peek(const struct central *ct, unsigned int cpu)
{
	struct central_cpus *chunk;

	if (cpu >= HAK_MAX_CPUS)
		return NULL;
	chunk = ct->cpus[cpu / HAK_CPU_CHUNK];
	return chunk ? &chunk->cpu[cpu % HAK_CPU_CHUNK] : NULL;
}

/* Each CPU state @cs that @ct has; @k: an unsigned int for the index. */
#define for_each_cpu_state(ct, k, cs)					\
	for ((k) = 0; ((cs) = central_cpu_next((ct), &(k))) != NULL;)

struct central_cpu *central_cpu_get(struct central *ct, unsigned int cpu);
struct central_cpu *central_cpu_next(const struct central *ct, unsigned int *k);
unsigned int stash_take(struct central *ct, unsigned int owner, void **out,
			unsigned int want);
int stash_put(struct hak_cache *c, struct central *ct, void *obj,
	      unsigned int owner);
unsigned int central_stashed(const struct central *ct, unsigned int cpu);

#endif /* HAK_CENTRAL_CPU_H */
