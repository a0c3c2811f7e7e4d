// SPDX-License-Identifier: MIT
/*
 * The central pools of a cache, one per NUMA node (see central.h): refill
 * hands a batch of objects of the caller's node to a fast-path cache,
 * drain takes objects back to the central of the node that owns them.
 * Whole batches first go through the transfer array (a producer thread's
 * frees feed a consumer thread's allocations without touching any slab)
 * and the CPUs' stashes; the rest come from and go to the spans on the
 * partial list (span.c), carved lazily with a bump index.
 *
 * Lock order, outermost first; the allocator nests them only this way,
 * and fork() takes them all in this order (core/init.c):
 *
 *   drain_lock      percpu.c   one remote drain of the per-CPU regions
 *                                  at a time, its detached[] and going[]
 *                                  tables, and central_cpus_leave()
 *   cache_list_mutex     init.c     cache_by_id[] slots: creation and
 *                                  destruction of object caches
 *   region_lock     region.c   the region lists and the bin layout
 *   remote_lock     remote.c   the free list of cross-node buffers
 *   central->lock       here       one per cache and node: the transfer
 *                                  array, the stashes, cur[], the partial
 *                                  list and every span's slab_rw and free
 *                                  map, and the central's counters
 *   ss_pool->grow_lock  superslab.c  one per node: one SuperSlab
 *                                  mapped at a time by superslab_grow(),
 *                                  which holds no central lock; not
 *                                  taken by fork() (the child resets it)
 *   ss_pool->lock       superslab.c  one per node: the SuperSlabs' free,
 *                                  dirty and aged bitmaps, the avail list,
 *                                  the pool's counters; pool locks are
 *                                  never nested in each other (only tried)
 *   huge_lock       huge.c     the cache of freed huge mappings
 *   meta_lock       meta.c     the metadata arena
 *
 * Two centrals are never locked at once, except by fork().
 */
#include <string.h>

#include "cache.h"
#include "central.h"
#include "central_cpu.h"
#include "debug.h"
#include "init.h"
#include "meta.h"
#include "options.h"
#include "poison.h"
#include "rcu.h"
#include "span.h"

#define PICK_SCAN	8	/* partial spans looked at for a free one */

/**
 * central_reset() - empty a central's counters for a recycled descriptor
 * @ct: a central with no spans and no cached objects
 *
 * Context: cache_list_mutex (the descriptor is not published yet).
 */
void central_reset(struct central *ct)
{
	struct central_cpu *cs;
	unsigned int k;

	ct->xfer_count = 0;
	ct->partial = NULL;
	ct->nr_partial = 0;
	ct->nr_spans = ct->inuse = 0;
	ct->refills = ct->drains = ct->ss_refills = 0;
	ct->remote_frees = ct->cross_refills = 0;
	/* the stashes are empty (no cached objects) and stay for reuse */
	for_each_cpu_state(ct, k, cs)
		cs->cur = NULL;
}

/**
 * central_get() - the central pool of a cache on a node, made on first use
 * @c: the cache
 * @node: node (pool) index
 *
 * Context: takes cache_list_mutex the first time, no other lock held.
 * Return: the central, or NULL with errno ENOMEM.
 */
struct central *central_get(struct hak_cache *c, unsigned int node)
{
	struct central *ct = central_peek(c, node);
	uint32_t cap = c->central.xfer_cap;

	if (likely(ct))
		return ct;
	cache_list_lock();
	ct = central_peek(c, node);
	if (!ct) {
		ct = meta_alloc(sizeof(*ct) + cap * sizeof(void *));
		if (ct) {
			mutex_init(&ct->lock);
			ct->xfer = (void **)(ct + 1);
			ct->xfer_cap = cap;
			ct->node = node;
			atomic_store_explicit(&c->node_central[node], ct,
					      memory_order_release);
		}
	}
	cache_list_unlock();
	return ct;
}

static void partial_add(struct central *ct, struct slab_rw *rw)
{
	rw->prev = NULL;
	rw->next = ct->partial;
	if (ct->partial)
		ct->partial->prev = rw;
	ct->partial = rw;
	rw->on_partial = 1;
	ct->nr_partial++;
}

static void partial_del(struct central *ct, struct slab_rw *rw)
{
	if (rw->prev)
		rw->prev->next = rw->next;
	else
		ct->partial = rw->next;
	if (rw->next)
		rw->next->prev = rw->prev;
	rw->next = rw->prev = NULL;
	rw->on_partial = 0;
	ct->nr_partial--;
}

/*
 * Another CPU may adopt a span of @owner's that is not the one @owner is
 * carving from and has at most a quarter of its objects out; any span of
 * a CPU found idle (central_cpu_gone[]).
 */
static int span_adoptable(const struct hak_cache *c, const struct central *ct,
			  const struct slab_rw *rw, unsigned int owner)
{
	const struct central_cpu *cs;

	if (central_cpu_is_gone(owner))
		return 1;
	cs = central_cpu_peek(ct, owner);
	return (!cs || cs->cur != rw) && rw->inuse * 4 <= c->objs_per_span;
}

/*
 * A partial span near the head for @owner: one it owns, else one nobody
 * owns, else an adoptable one of another CPU; NULL if none.
 */
static struct slab_rw *partial_pick(const struct hak_cache *c,
				    struct central *ct, unsigned int owner)
{
	struct slab_rw *rw = ct->partial, *unowned = NULL, *spare = NULL;

	for (unsigned int k = 0; rw && k < PICK_SCAN; k++, rw = rw->next) {
		unsigned int o = span_owner(rw);

		if (o == owner)
			return rw;
		if (o == HAK_OWNER_NONE) {
			if (!unowned)
				unowned = rw;
		} else if (!spare && span_adoptable(c, ct, rw, o)) {
			spare = rw;
		}
	}
	return unowned ? unowned : spare;
}

/* @rw is still a span of @c that @owner holds (cur[] may be stale). */
static int span_held(const struct hak_cache *c, const struct slab_rw *rw,
		     unsigned int owner)
{
	const struct superslab *ss = ss_of_rw(rw);
	const struct slab_ro *ro = &ss->ro[rw_idx(rw)];

	return ro->stride && ro->cache_id == c->id &&
	       ro->head == rw_idx(rw) && span_owner(rw) == owner;
}

/* Makes @rw the span @owner refills from (if it has a state here). */
static void span_adopt(struct central *ct, struct slab_rw *rw,
		       unsigned int owner)
{
	unsigned int prev = span_owner(rw);
	struct central_cpu *cs;

	if (prev != owner) {
		cs = central_cpu_peek(ct, prev);
		if (cs && cs->cur == rw)
			cs->cur = NULL;
		span_set_owner(rw, owner);
	}
	cs = central_cpu_get(ct, owner);
	if (cs)
		cs->cur = rw;
}

/* A refill's use of superslab_grow() (refill_node()). */
enum { GROW_MAY, GROW_NEEDED, GROW_DONE, GROW_FAILED };

/*
 * A new span from the pool, under the central lock. A refill that finds
 * the pool without room the first time asks for a SuperSlab to be mapped
 * with the lock dropped (*@grow = GROW_NEEDED, NULL): the mapping and its
 * first touch (with huge pages: 2 MiB faulted in, perhaps compacted for)
 * take long, and every other refill and drain of this cache on this node
 * would wait for them. After that, as before: mapped under the lock if
 * the room went to another cache meanwhile; none if the mapping failed.
 */
static struct slab_rw *span_new(struct hak_cache *c, struct central *ct,
				int *grow)
{
	struct slab_rw *rw;

	switch (*grow) {
	case GROW_MAY:
		rw = superslab_take(c, ct->node);
		if (!rw)
			*grow = GROW_NEEDED;
		return rw;
	case GROW_DONE:
		return superslab_refill(c, ct->node);
	default:
		return NULL;	/* ENOMEM: errno set by superslab_grow() */
	}
}

/*
 * The span to refill from, under the central lock. Each CPU (owner) has
 * its spans, as SLUB has per-CPU slabs: a CPU's objects come from its own
 * spans and, when its cache overflows, go back to its stash or its spans
 * (drain_run()), so two CPUs do not carve neighbouring objects and then
 * write the cache lines they share. When the current span is used up: a
 * partial span of this CPU, one nobody owns or a mostly free one, else a
 * new span; any partial span when no memory can be mapped.
 * Per-thread mode (HAK_OWNER_NONE): the head of the partial list.
 */
static struct slab_rw *span_for(struct hak_cache *c, struct central *ct,
				unsigned int owner, int *grow)
{
	struct slab_rw *rw;

	if (owner == HAK_OWNER_NONE)
		rw = ct->partial;
	else {
		const struct central_cpu *cs = central_cpu_peek(ct, owner);

		rw = cs ? cs->cur : NULL;
		if (rw && span_held(c, rw, owner) && !span_exhausted(c, rw))
			return rw;
		rw = partial_pick(c, ct, owner);
	}
	if (!rw) {
		rw = span_new(c, ct, grow);
		if (rw) {
			ct->nr_spans++;
			ct->ss_refills++;
			partial_add(ct, rw);
		} else if (*grow == GROW_NEEDED) {
			return NULL;
		} else {
			rw = ct->partial;
		}
	}
	if (rw && owner != HAK_OWNER_NONE)
		span_adopt(ct, rw, owner);
	return rw;
}

static void run_ctor(struct hak_cache *c, void **objs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		c->ctor(objs[i]);
}

/*
 * Takes objects from the partial spans (taking new spans as needed) into
 * @out[@n..@want); returns the new count, short when *@grow asks for a
 * SuperSlab (span_new()). Objects carved fresh are moved to the front of
 * @out and counted in *@fresh, so their constructor can run after the
 * lock is dropped.
 */
static unsigned int refill_from_spans(struct hak_cache *c, struct central *ct,
				      void **out, unsigned int n,
				      unsigned int want, unsigned int owner,
				      unsigned int *fresh, int *grow)
{
	while (n < want) {
		struct slab_rw *rw = span_for(c, ct, owner, grow);
		unsigned int got, carved;

		if (!rw)
			break;
		/*
		 * The free objects first, then fresh ones for what they
		 * leave; the fresh ones are stored first, so that they
		 * follow the earlier fresh ones without a move unless free
		 * objects of an earlier span came between.
		 */
		got = rw->nfree < want - n ? rw->nfree : want - n;
		carved = span_carve(c, rw, out + n, want - n - got);
		got = span_take_free(c, rw, out + n + carved,
				     want - n - carved);
		if (*fresh == n)
			*fresh += carved;
		else
			for (unsigned int i = 0; i < carved; i++) {
				void *tmp = out[*fresh];

				out[*fresh] = out[n + i];
				out[n + i] = tmp;
				(*fresh)++;
			}
		got += carved;
		rw->inuse += got;
		ct->inuse += got;
		n += got;
		HAK_BUG_ON(rw->inuse > c->objs_per_span ||
			   rw->carved > c->objs_per_span ||
			   rw->nfree + rw->inuse > rw->carved);
		if (span_exhausted(c, rw))
			partial_del(ct, rw);
	}
	return n;
}

/* Takes up to @want objects from the top of @ct's transfer array. */
static unsigned int xfer_take(struct central *ct, void **out,
			      unsigned int want)
{
	unsigned int x = want < ct->xfer_count ? want : ct->xfer_count;

	ct->xfer_count -= x;
	memcpy(out, ct->xfer + ct->xfer_count, x * sizeof(void *));
	return x;
}

static unsigned int refill_node(struct hak_cache *c, unsigned int node,
				void **out, unsigned int want,
				unsigned int owner, int cross)
{
	struct central *ct = central_get(c, node);
	unsigned int n, take, fresh = 0;
	int grow = GROW_MAY;

	if (!ct)
		return 0;
	mutex_lock(&ct->lock);
	ct->refills++;
	ct->cross_refills += (uint64_t)cross;
	take = stash_take(ct, owner, out, want);
	if (take < want)
		take += xfer_take(ct, out + take, want - take);
	n = take + refill_from_spans(c, ct, out + take, 0, want - take,
				     owner, &fresh, &grow);
	if (unlikely(grow == GROW_NEEDED)) {
		mutex_unlock(&ct->lock);
		grow = superslab_grow(c, node) ? GROW_FAILED : GROW_DONE;
		mutex_lock(&ct->lock);
		n = take + refill_from_spans(c, ct, out + take, n - take,
					     want - take, owner, &fresh,
					     &grow);
	}
	HAK_BUG_ON(n > want || take + fresh > n);
	mutex_unlock(&ct->lock);

	if (fresh)	/* fault their pages in before the writes below */
		span_populate(c, out + take, fresh);
	if (c->ctor)
		run_ctor(c, out + take, fresh);
	else if (poison_on())	/* fresh objects start poisoned too */
		for (unsigned int i = take; i < take + fresh; i++)
			poison_fill(c, out[i]);
	/* only fresh objects lack the tag: freed ones kept theirs */
	for (unsigned int i = take; i < take + fresh; i++) {
		uintptr_t a = (uintptr_t)out[i];

		*(uintptr_t *)(a + c->free_off) = free_tag(a);
	}
	return n;
}

/**
 * central_refill() - take up to @want objects from the central pools
 * @c: the cache
 * @out: where to store them
 * @want: how many, at most HAK_MAX_BATCH
 * @owner: the CPU index of the fast-path cache they go to, or
 *	HAK_OWNER_NONE (per-thread mode)
 *
 * From the central of the caller's node; only when that node cannot map
 * memory, from the nearest nodes by distance. The stash of @owner first,
 * then the top of the transfer array, then a span @owner holds already,
 * then any span (which becomes its). Objects come back in their cached
 * state: tagged free, constructed.
 *
 * Context: no allocator lock held; takes one central lock at a time (and
 * a pool lock inside it when a span must be taken).
 * Return: the number stored; 0 only when no memory could be mapped.
 */
unsigned int central_refill(struct hak_cache *c, void **out,
			    unsigned int want, unsigned int owner)
{
	unsigned int node, n;

	topology_init();
	node = topology_home_node();
	n = refill_node(c, node, out, want, owner, 0);
	if (unlikely(!n) && topology_multi()) {
		for (unsigned int k = 1; !n && k < topo.nr_nearest[node]; k++)
			n = refill_node(c, topo.nearest[node][k], out, want,
					owner, 1);
	}
	return n;
}

/**
 * central_refill_node() - central_refill() from a given node's central
 * @c: the cache
 * @node: the node the objects should be on (below topo.nr_nodes)
 * @out: where to store them
 * @want: how many, at most HAK_MAX_BATCH
 * @owner: as for central_refill() (HAK_OWNER_NONE: not for a CPU's bin)
 *
 * For hak_cache_alloc_node(): from the central of @node, or when @node
 * may not hold memory or cannot map any, of the nearest allowed nodes
 * (nearest[@node][]), as central_refill() falls back for the home node.
 *
 * Context: no allocator lock held; takes one central lock at a time.
 * Return: the number stored; 0 only when no memory could be mapped.
 */
unsigned int central_refill_node(struct hak_cache *c, unsigned int node,
				 void **out, unsigned int want,
				 unsigned int owner)
{
	unsigned int n = 0;

	topology_init();
	for (unsigned int k = 0; !n && k < topo.nr_nearest[node]; k++)
		n = refill_node(c, topo.nearest[node][k], out, want, owner,
				k > 0);
	return n;
}

static void span_release(struct central *ct, struct slab_rw *rw)
{
	struct central_cpu *cs = central_cpu_peek(ct, span_owner(rw));

	if (cs && cs->cur == rw)
		cs->cur = NULL;
	partial_del(ct, rw);
	ct->nr_spans--;
	/* HAK_SLAB_TYPESAFE_BY_RCU: after a grace period (core/rcu.c) */
	if (rcu_span_deferred(rw))
		return;
	superslab_release_span(ss_of_rw(rw), rw_idx(rw));
}

/*
 * Puts @n objects back into their spans (@ct: their node's central), a
 * run of one span at a time; a span with nothing out goes back to its
 * SuperSlab beyond HAKMEM_MIN_PARTIAL.
 */
static void spans_put(struct hak_cache *c, struct central *ct,
		      void *const *objs, unsigned int n)
{
	unsigned int i = 0;

	while (i < n) {
		struct slab_rw *rw;
		unsigned int k = span_free_run(c, objs + i, n - i, &rw);

		i += k;
		if (!rw)
			continue;	/* reported */
		HAK_BUG_ON(ct->inuse < k);
		ct->inuse -= k;
		if (!rw->on_partial)
			partial_add(ct, rw);
		if (!rw->inuse && (span_single(c) ||
				   ct->nr_partial >
				   (uint32_t)option_get(OPT_MIN_PARTIAL)))
			span_release(ct, rw);
	}
}

/* Room in @ct's transfer array for objects of @c. */
static unsigned int xfer_room(const struct hak_cache *c,
			      const struct central *ct)
{
	uint32_t cap = ct->xfer_cap < c->xfer_limit ? ct->xfer_cap :
						      c->xfer_limit;

	return ct->xfer_count < cap ? cap - ct->xfer_count : 0;
}

/* Into the transfer array what fits of @objs, the rest into the spans. */
static void xfer_or_spans(struct hak_cache *c, struct central *ct,
			  void *const *objs, unsigned int n)
{
	unsigned int x = xfer_room(c, ct);

	if (x > n)
		x = n;
	if (x) {	/* a full array is common: no memcpy() call then */
		memcpy(ct->xfer + ct->xfer_count, objs, x * sizeof(void *));
		ct->xfer_count += x;
	}
	if (x < n)
		spans_put(c, ct, objs + x, n - x);
}

/*
 * @owner (a CPU index, HAK_OWNER_SPAN or HAK_OWNER_NONE) drains @n objects
 * of one node into its central @ct: see central_drain(). Objects go to a
 * stash one at a time while a stash takes them; the rest moves as a
 * whole: what fits into the transfer array, then the spans, a run of one
 * span at a time.
 */
static void drain_run(struct hak_cache *c, struct central *ct, void **objs,
		      unsigned int n, int remote, unsigned int owner)
{
	unsigned int i = 0;

	mutex_lock(&ct->lock);
	ct->drains++;
	ct->remote_frees += remote ? n : 0;
	for (; owner != HAK_OWNER_NONE && i < n; i++) {
		int kept = stash_put(c, ct, objs[i], owner);

		if (kept < 0)		/* no stash takes any more */
			break;
		if (!kept)
			xfer_or_spans(c, ct, objs + i, 1);
	}
	if (i < n)
		xfer_or_spans(c, ct, objs + i, n - i);
	mutex_unlock(&ct->lock);
}

/**
 * central_drain() - return objects to the central pools of their nodes
 * @c: the cache they belong to
 * @objs: the objects, in their cached state
 * @n: how many
 * @owner: who returns them:
 *	a CPU index: the overflow of that CPU's fast-path cache; objects of
 *	its own spans wait in its stash for its next refill, the others
 *	(freed here, allocated on another CPU) go to the transfer array;
 *	HAK_OWNER_SPAN: objects freed on a CPU their spans do not belong to
 *	(a foreign bin); each goes to the stash of its span's owner;
 *	HAK_OWNER_NONE: a per-thread cache, or any other caller; whole runs
 *	go to the transfer array;
 *	HAK_OWNER_REMOTE: as HAK_OWNER_NONE, freed on another node (counted
 *	as remote frees).
 *	What does not fit goes back to the spans.
 *
 * Each run of objects of one node goes to that node's central under one
 * lock acquisition.
 *
 * Context: no allocator lock held but the outer ones (drain, cache list,
 * region); takes one central lock at a time.
 */
void central_drain(struct hak_cache *c, void **objs, unsigned int n,
		   unsigned int owner)
{
	int remote = owner == HAK_OWNER_REMOTE;
	unsigned int i = 0, j;

	if (remote)
		owner = HAK_OWNER_NONE;
	while (i < n) {
		const struct superslab *ss = ss_of(objs[i]);
		unsigned int node = ss->node;

		/* the node is read again only where the SuperSlab changes */
		for (j = i + 1; j < n; j++) {
			const struct superslab *next = ss_of(objs[j]);

			if (next != ss) {
				if (next->node != node)
					break;
				ss = next;
			}
		}
		drain_run(c, central_peek(c, node), objs + i, j - i, remote,
			  owner);
		i = j;
	}
}

/*
 * @cpu's stash in @c's centrals goes to the transfer array (what does
 * not fit, to the spans), where every CPU finds it now that @cpu is gone.
 */
static void cpu_leave_cache(struct hak_cache *c, unsigned int cpu)
{
	struct central_cpu *cs;
	struct central *ct;
	unsigned int n;

	for_each_central(c, ct, n) {
		mutex_lock(&ct->lock);
		cs = central_cpu_peek(ct, cpu);
		if (cs && cs->stash) {
			xfer_or_spans(c, ct, cs->stash->objs, cs->stash->n);
			cs->stash->n = 0;
		}
		mutex_unlock(&ct->lock);
	}
}

/**
 * central_cpus_leave() - a CPU was found idle: its objects are anyone's
 * @cpu: the CPU index
 *
 * Marks @cpu gone (central_cpu_gone[]) until its next slow path
 * (central_cpu_back()): meanwhile foreign drains keep none of its objects
 * in its stash, and any CPU may adopt its partial spans. Its stash in
 * every central is emptied into the transfer array now, where any CPU's
 * refill takes it. A no-op if @cpu is already gone.
 *
 * Context: no central lock held; takes cache_list_mutex, then one
 * central lock at a time (percpu.c calls it under drain_lock).
 */
void central_cpus_leave(unsigned int cpu)
{
	if (cpu >= HAK_MAX_CPUS || central_cpu_is_gone(cpu))
		return;
	/* before the stashes are emptied: no foreign drain refills them */
	__atomic_store_n(&central_cpu_gone[cpu], 1, __ATOMIC_RELAXED);
	cache_list_lock();
	for (unsigned int id = 0; id < HAK_MAX_CACHES; id++)
		if (cache_by_id[id])
			cpu_leave_cache(cache_by_id[id], cpu);
	cache_list_unlock();
}

/**
 * central_parked() - objects a central holds outside its spans
 * @ct: the central
 *
 * Context: @ct's lock held by the caller.
 * Return: the objects in its transfer array and in the CPUs' stashes.
 */
uint64_t central_parked(const struct central *ct)
{
	uint64_t n = ct->xfer_count;
	struct central_cpu *cs;
	unsigned int k;

	for_each_cpu_state(ct, k, cs)
		if (cs->stash)
			n += cs->stash->n;
	return n;
}

/**
 * central_shrink() - flush a cache's transfer arrays and stashes back to
 * their spans and release every empty span
 * @c: the cache
 *
 * Context: no central lock held; takes each of @c's in turn.
 * Return: the number of spans released.
 */
unsigned int central_shrink(struct hak_cache *c)
{
	struct slab_rw *rw, *next;
	unsigned int released = 0, n, k;
	struct central_cpu *cs;
	struct central *ct;

	for_each_central(c, ct, n) {
		mutex_lock(&ct->lock);
		spans_put(c, ct, ct->xfer, ct->xfer_count);
		ct->xfer_count = 0;
		for_each_cpu_state(ct, k, cs) {
			if (!cs->stash)
				continue;
			spans_put(c, ct, cs->stash->objs, cs->stash->n);
			cs->stash->n = 0;
		}
		for (rw = ct->partial; rw; rw = next) {
			next = rw->next;
			if (!rw->inuse) {
				span_release(ct, rw);
				released++;
			}
		}
		mutex_unlock(&ct->lock);
	}
	return released;
}

/**
 * central_shrink_all() - central_shrink() for every cache
 *
 * Context: no central lock held; takes cache_list_mutex, so that a
 * destroyed cache's id is not recycled under the loop.
 * Return: the number of spans released.
 */
unsigned int central_shrink_all(void)
{
	unsigned int released = 0;

	cache_list_lock();
	for (unsigned int id = 0; id < HAK_MAX_CACHES; id++)
		if (cache_by_id[id])
			released += central_shrink(cache_by_id[id]);
	cache_list_unlock();
	return released;
}

/**
 * centrals_lock_all() - take every central lock (before fork)
 *
 * Context: cache_list_mutex held (fork_prepare()).
 */
void centrals_lock_all(void)
{
	struct central *ct;
	unsigned int n;

	for (unsigned int id = 0; id < HAK_MAX_CACHES; id++)
		if (cache_by_id[id])
			for_each_central(cache_by_id[id], ct, n)
				mutex_lock(&ct->lock);
}

/**
 * centrals_unlock_all() - release every central lock (after fork, parent)
 */
void centrals_unlock_all(void)
{
	struct central *ct;
	unsigned int n;

	for (unsigned int id = HAK_MAX_CACHES; id-- > 0;)
		if (cache_by_id[id])
			for_each_central(cache_by_id[id], ct, n)
				mutex_unlock(&ct->lock);
}

/**
 * centrals_reinit_locks() - reset every central lock (after fork, child)
 */
void centrals_reinit_locks(void)
{
	struct central *ct;
	unsigned int n;

	for (unsigned int id = 0; id < HAK_MAX_CACHES; id++)
		if (cache_by_id[id])
			for_each_central(cache_by_id[id], ct, n)
				mutex_init(&ct->lock);
}
