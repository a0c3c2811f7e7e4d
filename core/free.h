/* SPDX-License-Identifier: MIT */
/*
 * The free fast path, shared by hak_free() and hak_cache_free().
 */
#ifndef HAK_FREE_H
#define HAK_FREE_H

#include "cache.h"
#include "frontend.h"
#include "registry.h"

void free_slow(void *p, struct hak_cache *expect, const char *op);
void free_multi_node(unsigned int id, void *p);

/**
 * free_checked() - free an object that passed every check, tagged free
 * @id: its cache id
 * @p: the object
 * @owner: the CPU its span belongs to (&slab_ro.owner)
 *
 * Per-CPU mode: an object of another CPU's span goes to this CPU's
 * foreign bin of its cache, not to the bin this CPU allocates from, and
 * from there back to its owner in a batch (percpu_free_slow()); so a CPU
 * never hands out a neighbour of another CPU's objects that it was given
 * (passive false sharing). With several NUMA nodes, an object of another
 * node goes back to its node in a batch instead.
 */
static __always_inline void free_checked(unsigned long id, void *p,
					 const uint16_t *owner)
{
	if (likely(free_direct)) {
		if (likely(rseq_push_owned(&fast_rseq, cpu_regions, id, p,
					   owner)))
			return;
	} else if (topology_multi()) {
		/* Out of line: keeps the fast path in registers. */
		free_multi_node(id, p);
		return;
	} else if (likely(tc_push(id, p))) {
		/*
		 * Neither per-CPU nor several nodes: the per-thread mode (or
		 * the moment before percpu_init() sets free_direct, when
		 * this thread's region is fc_empty and the push fails).
		 */
		return;
	}
	cache_free_slow(cache_by_id[id], p);
}

/* The read-only half line of the slab holding @a (ss: its SuperSlab). */
static __always_inline const struct slab_ro *ro_of(const struct superslab *ss,
						   uintptr_t a)
{
	return (const struct slab_ro *)((const char *)ss->ro +
		((a >> (HAK_SLAB_SHIFT - SLAB_RO_SHIFT)) &
		 ((HAK_SLABS_PER_SS - 1) << SLAB_RO_SHIFT)));
}

#ifdef CONFIG_HARDENED
/**
 * free_fast() - free an object through the calling thread's bin
 * @p: the object (any value: everything unusual goes to free_slow())
 * @expect: 0 for any cache, or the id the object must belong to
 *
 * Written to stay in registers: one registry bit, the slab's read-only
 * half line, the object's tag word and the bin. The checks catch foreign
 * and interior pointers, a second free of an object that is free anywhere
 * (a cache, a stash, its span's free set: its tag, see cache_setup()),
 * and pointers never handed out (index not below the slab's carved
 * count).
 * NULL fails the registry test and is handled in free_slow(). A full bin
 * goes to cache_free_slow() with the object already checked and tagged.
 */
static __always_inline void free_fast(void *p, unsigned int expect)
{
	uintptr_t a = (uintptr_t)p;
	const struct superslab *ss = ss_of(p);
	const struct slab_ro *ro;
	unsigned long id;
	uintptr_t off, *tag;
	uint64_t i;

	if (unlikely(!registry_test(a)))
		goto slow;
	ro = ro_of(ss, a);
	off = a - ro->base;
	i = slab_obj_div(ro, off);	/* free slabs: stride 0, carved 0 */
	if (unlikely(i >= __atomic_load_n(&ro->carved, __ATOMIC_RELAXED)))
		goto slow;
	id = ro->cache_id;
	if (expect && unlikely(id != expect))
		goto slow;
	tag = (uintptr_t *)(a + ro->free_off);
	if (unlikely(*tag == free_tag(a)))
		goto slow;
	/*
	 * Tag first: once pushed, another thread on this CPU may pop the
	 * object and clear the tag at any moment.
	 */
	*tag = free_tag(a);
	free_checked(id, p, &ro->owner);
	return;
slow:
	free_slow(p, expect ? cache_by_id[expect] : NULL,
		  expect ? "hak_cache_free" : "free");
}
#else /* !CONFIG_HARDENED */
/**
 * free_fast() - free an object through the calling thread's bin, unchecked
 * @p: the object
 * @expect: 0 for any cache, or the id the object must belong to
 *
 * The CONFIG_HARDENED=n build: no registry bit, no exact-start division,
 * no double-free tag. What is left tells a slab object from everything
 * else, which free_slow() handles as in every build: an address in the
 * first 64 KiB of a 2 MiB chunk (NULL, a huge allocation's object, a
 * SuperSlab's metadata) or in a slab no span holds (stride 0: also the
 * zeroed header page of a huge mapping whose object starts beyond it).
 * An invalid or double free of anything else corrupts the heap silently.
 */
static __always_inline void free_fast(void *p, unsigned int expect)
{
	uintptr_t a = (uintptr_t)p;
	const struct slab_ro *ro;
	unsigned long id;

	if (unlikely((a & (HAK_SS_SIZE - 1)) < HAK_SLAB_SIZE))
		goto slow;
	ro = ro_of(ss_of(p), a);
	if (unlikely(!ro->stride))
		goto slow;
	id = ro->cache_id;
	if (expect && unlikely(id != expect))
		goto slow;
	free_checked(id, p, &ro->owner);
	return;
slow:
	free_slow(p, expect ? cache_by_id[expect] : NULL,
		  expect ? "hak_cache_free" : "free");
}
#endif /* CONFIG_HARDENED */

#endif /* HAK_FREE_H */
