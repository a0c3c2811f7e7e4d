// SPDX-License-Identifier: MIT
/*
 * Bulk allocation and free (the kernel's kmem_cache_alloc_bulk() and
 * kmem_cache_free_bulk()): a batch moves between the caller and this
 * CPU's bin without a lock (per-thread mode: one copy; per-CPU mode: one
 * rseq pop or push per object, see cpu_pop_batch()), and what the bin cannot
 * give or take moves to and from the central pool in batches of at most
 * HAK_MAX_BATCH, one central lock each.
 *
 * A free checks every object as free_fast() does. Objects that must go
 * elsewhere than this CPU's bin (of another CPU's span, of another node,
 * or every object in the poisoning mode) take the path free() gives them,
 * one at a time; the others are pushed as one batch. A thread that
 * migrates between reading its CPU and the push only puts some objects
 * of its old CPU's spans into its new CPU's bin, as a slow path may
 * (core/percpu.c): locality, not correctness.
 */
#include <errno.h>
#include <string.h>

#include "bulk.h"
#include "cache.h"
#include "free.h"
#include "frontend.h"
#include "init.h"
#include "hakmem/hakmem.h"

/* Objects checked and pushed per batch by hak_cache_free_bulk(). */
#define BULK_CHUNK	64U

/*
 * The owner id of this CPU's spans (as core/percpu.c computes it), or
 * HAK_OWNER_NONE: per-thread mode, or no valid CPU in the rseq area.
 */
static unsigned int bulk_owner(void)
{
	const char *tp;
	uint32_t v;

	if (!fast_rseq.on)
		return HAK_OWNER_NONE;
	tp = arch_thread_pointer();
	v = *(const volatile uint32_t *)(tp + fast_rseq.cpu_off);
	return v < HAK_MAX_CPUS ? v : HAK_OWNER_NONE;
}

/*
 * Per-CPU mode: one critical section moves the whole batch (as many as
 * the bin holds, or has room for), committed by one store; a miss (empty
 * or full bin, no region yet) moves nothing and gives 0.
 */
static unsigned int cpu_pop_batch(unsigned int id, void **out, unsigned int n)
{
	return n ? rseq_pop_batch(&fast_rseq, cpu_regions, id, out, n) : 0;
}

static unsigned int cpu_push_batch(unsigned int id, void *const *objs,
				   unsigned int n)
{
	return n ? rseq_push_batch(&fast_rseq, cpu_regions, id, objs, n) : 0;
}

/* Up to @n cached objects from this thread's region (per-thread mode). */
static unsigned int tc_pop_batch(unsigned int id, void **out, unsigned int n)
{
	struct fc_region *r = tc_region;
	struct fc_bin *b = &r->bin[id];
	unsigned int have = (unsigned int)(b->current - b->begin);

	if (n > have)
		n = have;
	b->current = (uint16_t)(b->current - n);
	memcpy(out, &r->slots[b->current], n * sizeof(void *));
	return n;
}

/* Up to @n tagged objects into this thread's region (per-thread mode). */
static unsigned int tc_push_batch(unsigned int id, void *const *objs,
				  unsigned int n)
{
	struct fc_region *r = tc_region;
	struct fc_bin *b = &r->bin[id];
	unsigned int room = (unsigned int)(b->end - b->current);

	if (n > room)
		n = room;
	memcpy(&r->slots[b->current], objs, n * sizeof(void *));
	b->current = (uint16_t)(b->current + n);
	return n;
}

/* What this CPU's (or thread's) bin gives of @n objects, in one go. */
static unsigned int bin_pop_batch(unsigned int id, void **out, size_t n)
{
	unsigned int want = n < HAK_MAX_BATCH ? (unsigned int)n : HAK_MAX_BATCH;

	if (fast_rseq.on)
		return cpu_pop_batch(id, out, want);
	return tc_pop_batch(id, out, want);
}

/**
 * bulk_return() - give cached (tagged free) objects back to the central
 * pools of their nodes
 * @c: their cache
 * @n: how many
 * @objs: the objects
 *
 * Each goes to the stash of its span's owner, the transfer array or its
 * span (central_drain() with HAK_OWNER_SPAN), whoever calls.
 */
void bulk_return(struct hak_cache *c, size_t n, void **objs)
{
	while (n) {
		unsigned int k = n < HAK_MAX_BATCH ? (unsigned int)n :
						     HAK_MAX_BATCH;

		central_drain(c, objs, k, HAK_OWNER_SPAN);
		objs += k;
		n -= k;
	}
}

/**
 * bulk_take() - take @n objects in their cached state, all or none
 * @c: the cache
 * @n: how many
 * @objs: where they go
 *
 * First what this CPU's bin holds (one critical section), then batches
 * of at most HAK_MAX_BATCH from the central pool of this node (the
 * nearest one when it cannot map memory). The objects stay tagged free
 * and constructed; the caller claims them (fc_claim()).
 *
 * Return: @n, or 0 with errno ENOMEM and nothing taken.
 */
size_t bulk_take(struct hak_cache *c, size_t n, void **objs)
{
	unsigned int owner = bulk_owner();
	size_t got = bin_pop_batch(c->id, objs, n);

	while (got < n) {
		size_t left = n - got;
		unsigned int want = left < HAK_MAX_BATCH ? (unsigned int)left :
							   HAK_MAX_BATCH;
		unsigned int k = central_refill(c, objs + got, want, owner);

		if (unlikely(!k)) {
			bulk_return(c, got, objs);
			errno = ENOMEM;
			return 0;
		}
		got += k;
	}
	return n;
}

/* Poisoning mode: one checked allocation at a time, all or none. */
static size_t alloc_bulk_poison(struct hak_cache *c, size_t n, void **objs)
{
	for (size_t i = 0; i < n; i++) {
		objs[i] = poison_alloc(c);
		if (unlikely(!objs[i])) {
			while (i--)
				free_fast(objs[i], c->id);
			errno = ENOMEM;
			return 0;
		}
	}
	return n;
}

HAK_EXPORT size_t hak_cache_alloc_bulk(struct hak_cache *c, size_t n,
				       void **objs)
{
	if (unlikely(!n))
		return 0;
	if (poison_on())
		return alloc_bulk_poison(c, n, objs);
	if (!bulk_take(c, n, objs))
		return 0;
	for (size_t i = 0; i < n; i++)
		fc_claim(c, objs[i]);
	return n;
}

/*
 * The read-only slab half line of @p if free_fast() would free it as an
 * object of @c, else NULL (free_slow() then says what is wrong).
 */
static const struct slab_ro *bulk_check(const struct hak_cache *c, void *p)
{
	uintptr_t a = (uintptr_t)p;
	const struct slab_ro *ro;

	if (unlikely(!registry_test(a)))
		return NULL;
	ro = ro_of(ss_of(p), a);
	if (unlikely(slab_obj_div(ro, a - ro->base) >=
		     __atomic_load_n(&ro->carved, __ATOMIC_RELAXED)))
		return NULL;
	if (unlikely(ro->cache_id != c->id))
		return NULL;
#ifdef CONFIG_HARDENED
	if (unlikely(*(uintptr_t *)(a + ro->free_off) == free_tag(a)))
		return NULL;
#endif
	return ro;
}

/* Tagged objects of this CPU's spans and node into its bin, in one go. */
static void bulk_push(struct hak_cache *c, void **objs, unsigned int n,
		      unsigned int owner)
{
	unsigned int i;

	if (!n)
		return;
	if (fast_rseq.on)
		i = cpu_push_batch(c->id, objs, n);
	else
		i = tc_push_batch(c->id, objs, n);
	if (i < n)
		central_drain(c, objs + i, n - i, owner);
}

/*
 * Whether a checked object may join the batch for this CPU's bin: its
 * span is this CPU's (per-CPU mode) and its node this thread's.
 */
static int bulk_local(const struct slab_ro *ro, void *p, unsigned int owner,
		      unsigned int home)
{
	if (fast_rseq.on &&
	    (owner == HAK_OWNER_NONE ||
	     (uint16_t)owner != __atomic_load_n(&ro->owner, __ATOMIC_RELAXED)))
		return 0;
	return !topology_multi() || ss_of(p)->node == home;
}

HAK_EXPORT void hak_cache_free_bulk(struct hak_cache *c, size_t n,
				    void **objs)
{
	unsigned int owner = bulk_owner(), home, k = 0;
	int direct = !poison_on();
	void *batch[BULK_CHUNK];

	home = topology_multi() ? topology_home_node() : 0;
	for (size_t i = 0; i < n; i++) {
		void *p = objs[i];
		const struct slab_ro *ro = bulk_check(c, p);

		if (unlikely(!ro)) {
			free_slow(p, c, "hak_cache_free_bulk");
			continue;
		}
#ifdef CONFIG_HARDENED
		*(uintptr_t *)((uintptr_t)p + ro->free_off) =
			free_tag((uintptr_t)p);
#endif
		if (!direct || !bulk_local(ro, p, owner, home)) {
			free_checked(c->id, p, &ro->owner);
			continue;
		}
		batch[k++] = p;
		if (k == BULK_CHUNK) {
			bulk_push(c, batch, k, owner);
			k = 0;
		}
	}
	bulk_push(c, batch, k, owner);
}
