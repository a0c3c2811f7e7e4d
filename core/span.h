/* SPDX-License-Identifier: MIT */
/*
 * Spans: one or more adjacent slabs of a SuperSlab given to one cache
 * (superslab.h). A span's free set is its free map, one bit per object
 * (1 = not handed out: free, or not carved yet), kept out of band in the
 * SuperSlab header; carving is lazy, with a bump index. These functions
 * work on one span; which span a CPU uses, and the partial list that
 * holds them, belong to the central pool (central.c).
 *
 * Context: every function here but span_populate() runs under the central
 * lock of the span's node (central.c states the lock order).
 */
#ifndef HAK_SPAN_H
#define HAK_SPAN_H

#include <stdint.h>

#include "cache.h"
#include "superslab.h"

unsigned int span_take_free(const struct hak_cache *c, struct slab_rw *rw,
			    void **out, unsigned int want);
unsigned int span_carve(const struct hak_cache *c, struct slab_rw *rw,
			void **out, unsigned int want);
struct slab_rw *span_free_obj(const struct hak_cache *c, void *obj);
unsigned int span_free_run(const struct hak_cache *c, void *const *objs,
			   unsigned int n, struct slab_rw **rwp);
void span_set_owner(struct slab_rw *rw, unsigned int owner);
void span_populate(const struct hak_cache *c, void *const *objs,
		   unsigned int n);

/*
 * Most classes from 57344 bytes up hold one object per span. Such
 * a span is the object: parked in a stash, a transfer array or an empty
 * partial span it would keep its pages from every other class. So their
 * free objects skip stash and transfer array, and an emptied span goes
 * straight back to its SuperSlab, whose dirty free slabs any class reuses
 * first (no page fault). The fast-path bin still keeps one or two.
 */
static inline int span_single(const struct hak_cache *c)
{
	return c->objs_per_span == 1;
}

/* Every object of the span is handed out and none is left to carve. */
static inline int span_exhausted(const struct hak_cache *c,
				 const struct slab_rw *rw)
{
	return !rw->nfree && rw->carved == c->objs_per_span;
}

/* The CPU index the span belongs to (slab_ro.owner of its head). */
static inline unsigned int span_owner(const struct slab_rw *rw)
{
	const struct superslab *ss = ss_of_rw(rw);

	return __atomic_load_n(&ss->ro[rw_idx(rw)].owner, __ATOMIC_RELAXED);
}

#endif /* HAK_SPAN_H */
