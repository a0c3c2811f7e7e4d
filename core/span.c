// SPDX-License-Identifier: MIT
/*
 * Spans: taking objects out of a span's free set, carving fresh ones, and
 * putting freed ones back (see span.h). No object is read or written here:
 * the free set is the free map, and a cached object keeps its free tag.
 */
#include "debug.h"
#include "report.h"
#include "span.h"

static void map_clear(_Atomic uint64_t *map, uint32_t i)
{
	uint64_t w = atomic_load_explicit(&map[i >> 6], memory_order_relaxed);

	atomic_store_explicit(&map[i >> 6], w & ~(1ULL << (i & 63)),
			      memory_order_relaxed);
}

/* Returns the previous state of the bit. */
static int map_set(_Atomic uint64_t *map, uint32_t i)
{
	uint64_t w = atomic_load_explicit(&map[i >> 6], memory_order_relaxed);
	uint64_t bit = 1ULL << (i & 63);

	atomic_store_explicit(&map[i >> 6], w | bit, memory_order_relaxed);
	return (w & bit) != 0;
}

/**
 * span_take_free() - take free carved objects out of a span
 * @c: the span's cache
 * @rw: the span's head metadata
 * @out: where the objects go
 * @want: how many at most
 *
 * Lowest address first, by scanning the free map from rw->hint: no object
 * is read, so the scan costs no cache miss on the objects (they keep their
 * free tag).
 *
 * Context: the central lock of the span's node.
 * Return: the number taken.
 */
unsigned int span_take_free(const struct hak_cache *c, struct slab_rw *rw,
			    void **out, unsigned int want)
{
	struct superslab *ss = ss_of_rw(rw);
	unsigned int head = rw_idx(rw), n = 0;
	_Atomic uint64_t *map = ss->free_map[head];
	uintptr_t base = ss->ro[head].base;
	uint32_t w = rw->hint, words = (rw->carved + 63) / 64;

	while (n < want && rw->nfree && w < words) {
		uint64_t bits = atomic_load_explicit(&map[w], memory_order_relaxed);
		uint64_t take = bits;

		if (w == words - 1 && rw->carved % 64)	/* uncarved stay set */
			take &= (1ULL << (rw->carved % 64)) - 1;
		while (take && n < want) {
			unsigned int b = (unsigned int)__builtin_ctzll(take);

			take &= take - 1;
			bits &= ~(1ULL << b);
			out[n++] = (void *)(base + ((uintptr_t)w * 64 + b) *
						   c->stride);
			HAK_BUG_ON(!rw->nfree);
			rw->nfree--;
		}
		atomic_store_explicit(&map[w], bits, memory_order_relaxed);
		if (!take)
			w++;
	}
	rw->hint = w;
	return n;
}

/**
 * span_carve() - carve fresh objects at the span's bump index
 * @c: the span's cache
 * @rw: the span's head metadata
 * @out: where the objects go (not constructed, not tagged yet)
 * @want: how many at most
 *
 * Context: the central lock of the span's node.
 * Return: the number carved.
 */
unsigned int span_carve(const struct hak_cache *c, struct slab_rw *rw,
			void **out, unsigned int want)
{
	struct superslab *ss = ss_of_rw(rw);
	unsigned int head = rw_idx(rw), n = 0;
	const struct slab_ro *ro = &ss->ro[head];

	while (n < want && rw->carved < c->objs_per_span) {
		map_clear(ss->free_map[head], rw->carved);
		out[n++] = (void *)(ro->base + (uintptr_t)rw->carved * c->stride);
		rw->carved++;
	}
	/* before the objects leave: see slab_ro.carved */
	for (unsigned int k = 0; n && k < ro->nslabs; k++)
		__atomic_store_n(&ss->ro[head + k].carved, (uint16_t)rw->carved,
				 __ATOMIC_RELEASE);
	return n;
}

/**
 * span_free_obj() - put one object back into its span's free set
 * @c: the cache it must belong to
 * @obj: the object, in its cached state
 *
 * Sets its free-map bit; the object itself is not touched. An object of
 * another cache, or one already free, is reported and left alone.
 *
 * Context: the central lock of the object's node.
 * Return: the span's head metadata, or NULL when @obj was reported.
 */
struct slab_rw *span_free_obj(const struct hak_cache *c, void *obj)
{
	struct superslab *ss = ss_of(obj);
	const struct slab_ro *ro = &ss->ro[slab_idx_of(obj)];
	struct slab_rw *rw = &ss->rw[ro->head];
	long i = slab_obj_index(ro, (uintptr_t)obj, c->objs_per_span);

	if (unlikely(i < 0 || ro->cache_id != c->id)) {
		report_bad("free", obj, c, "object does not belong to this cache");
		return NULL;
	}
	if (unlikely(map_set(ss->free_map[ro->head], (uint32_t)i))) {
		report_bad("free", obj, c, "double free (object already on its slab's free list)");
		return NULL;
	}
	HAK_BUG_ON(!rw->inuse || (uint32_t)i >= rw->carved);
	rw->nfree++;
	if ((uint32_t)i / 64 < rw->hint)
		rw->hint = (uint32_t)i / 64;
	rw->inuse--;
	return rw;
}

/**
 * span_set_owner() - make every slab of a span say @owner
 * @rw: the span's head metadata
 * @owner: a CPU index, or HAK_OWNER_NONE
 *
 * Context: the central lock of the span's node.
 */
void span_set_owner(struct slab_rw *rw, unsigned int owner)
{
	struct superslab *ss = ss_of_rw(rw);
	unsigned int head = rw_idx(rw);

	for (unsigned int i = 0; i < ss->ro[head].nslabs; i++)
		__atomic_store_n(&ss->ro[head + i].owner, (uint16_t)owner,
				 __ATOMIC_RELAXED);
}
