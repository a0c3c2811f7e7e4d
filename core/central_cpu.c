// SPDX-License-Identifier: MIT
/*
 * A central's per-CPU state (central_cpu.h): the table of chunks, and
 * each CPU's stash of its own objects.
 */
#include <string.h>

#include "cache.h"
#include "central.h"
#include "central_cpu.h"
#include "meta.h"
#include "span.h"

#define STASH_MAX	64U	/* 2 batches of the smallest objects */

uint8_t central_cpu_gone[HAK_MAX_CPUS];

/**
 * central_cpu_get() - a CPU's state in a central, made on first use
 * @ct: the central
 * @cpu: the CPU index
 *
 * Context: @ct's lock.
 * Return: the state, or NULL without memory (or for an index beyond the
 * table).
 */
struct central_cpu *central_cpu_get(struct central *ct, unsigned int cpu)
{
	struct central_cpus **chunk;

	if (cpu >= HAK_MAX_CPUS)
		return NULL;
	chunk = &ct->cpus[cpu / HAK_CPU_CHUNK];
	if (unlikely(!*chunk))
		*chunk = meta_alloc(sizeof(**chunk));
	return *chunk ? &(*chunk)->cpu[cpu % HAK_CPU_CHUNK] : NULL;
}

/**
 * central_cpu_next() - the next CPU state a central has
 * @ct: the central
 * @k: the index to look from; advanced past the state returned
 *
 * Context: @ct's lock.
 * Return: the first state made at index *@k or above, or NULL.
 */
struct central_cpu *central_cpu_next(const struct central *ct, unsigned int *k)
{
	while (*k < HAK_MAX_CPUS) {
		struct central_cpus *chunk = ct->cpus[*k / HAK_CPU_CHUNK];

		if (chunk)
			return &chunk->cpu[(*k)++ % HAK_CPU_CHUNK];
		*k = (*k / HAK_CPU_CHUNK + 1) * HAK_CPU_CHUNK;
	}
	return NULL;
}

/**
 * stash_take() - take objects back from a CPU's stash
 * @ct: the central
 * @owner: the CPU index (HAK_OWNER_NONE: none)
 * @out: where they go
 * @want: how many at most
 *
 * Context: @ct's lock.
 * Return: the number taken.
 */
unsigned int stash_take(struct central *ct, unsigned int owner,
			       void **out, unsigned int want)
{
	const struct central_cpu *cs = central_cpu_peek(ct, owner);
	struct cpu_stash *s = cs ? cs->stash : NULL;
	unsigned int take;

	if (owner == HAK_OWNER_NONE)
		return 0;
	if (!s || !s->n)
		return 0;
	take = want < s->n ? want : s->n;
	s->n -= take;
	memcpy(out, s->objs + s->n, take * sizeof(void *));
	return take;
}

/*
 * The pool CPU @cpu refills from (topology_home_node() on that CPU): its
 * node's, or the nearest that may hold memory; the one pool unless there
 * is one per node. In the mm_cid mode a CPU index is a concurrency id and
 * its node a guess: a wrong one costs locality, nothing else.
 */
static unsigned int cpu_pool(unsigned int cpu)
{
	if (!topology_multi() || cpu >= HAK_MAX_CPUS)
		return topo.single_pool;
	return topo.nearest[topo.node_of_cpu[cpu]][0];
}

/**
 * stash_put() - keep a drained object for its CPU's next refill
 * @c: its cache
 * @ct: the central it is drained into
 * @obj: the object
 * @owner: who drains it (central_drain())
 *
 * Into @owner's stash when the object is of its own spans and there is
 * room (HAK_OWNER_SPAN: into the stash of its span's owner, whoever that
 * is, unless that CPU is gone: central_cpu_gone[]); 0 when it must go
 * elsewhere. Only a CPU whose refills use @ct keeps a stash there: the
 * objects of a span that a CPU of another node took (a refill when its
 * node could not map memory) go to @ct's transfer array, where @ct's own
 * CPUs find them.
 *
 * Context: @ct's lock.
 * Return: 1 when kept, 0 when it must go elsewhere, -1 when no object
 * drained by @owner into @ct can be kept any more (its stash is full or
 * cannot be made; for HAK_OWNER_SPAN only for a cache without stashes).
 */
int stash_put(struct hak_cache *c, struct central *ct, void *obj,
		     unsigned int owner)
{
	int none = owner == HAK_OWNER_SPAN ? 0 : -1;
	struct central_cpu *cs;
	struct cpu_stash *s;
	unsigned int o;

	if (owner == HAK_OWNER_NONE || span_single(c))
		return -1;
	o = obj_owner(obj);
	if (o == HAK_OWNER_NONE || (owner != HAK_OWNER_SPAN && o != owner))
		return 0;
	if (owner == HAK_OWNER_SPAN && central_cpu_is_gone(o))
		return 0;	/* for any CPU, in the transfer array */
	/* a CPU's own drain: the pool it refills from is known exactly */
	if (ct->node != (owner == HAK_OWNER_SPAN ? cpu_pool(o) :
						   topology_home_node()))
		return none;
	cs = central_cpu_get(ct, o);
	if (!cs)
		return none;
	s = cs->stash;
	if (unlikely(!s)) {
		s = meta_alloc(sizeof(*s) + STASH_MAX * sizeof(void *));
		if (!s)
			return none;
		s->cap = STASH_MAX;
		cs->stash = s;
	}
	if (s->n >= s->cap || s->n >= 2U * c->batch)
		return none;
	s->objs[s->n++] = obj;
	return 1;
}

/**
 * central_stashed() - objects in a CPU's stash of a central
 * @ct: the central
 * @cpu: the CPU index
 *
 * Context: @ct's lock held by the caller, or @ct unused (tests).
 * Return: the count, 0 for a CPU without a stash there.
 */
unsigned int central_stashed(const struct central *ct, unsigned int cpu)
{
	const struct central_cpu *cs = central_cpu_peek(ct, cpu);

	return cs && cs->stash ? cs->stash->n : 0;
}
