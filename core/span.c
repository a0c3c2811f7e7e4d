// SPDX-License-Identifier: MIT
/*
 * Spans: taking objects out of a span's free set, carving fresh ones, and
 * putting freed ones back (see span.h). No object is read or written here:
 * the free set is the free map, and a cached object keeps its free tag.
 */
#include "debug.h"
#include "os.h"
#include "report.h"
#include "span.h"

/* Clears bits @first .. @first + @n - 1 of @map, a word at a time. */
static void map_clear_range(_Atomic uint64_t *map, uint32_t first,
			    uint32_t n)
{
	uint32_t i = first, end = first + n;

	while (i < end) {
		uint32_t b = i & 63, cnt = 64 - b < end - i ? 64 - b : end - i;
		uint64_t mask = (cnt == 64 ? ~0ULL : (1ULL << cnt) - 1) << b;
		uint64_t w = atomic_load_explicit(&map[i >> 6],
						  memory_order_relaxed);

		atomic_store_explicit(&map[i >> 6], w & ~mask,
				      memory_order_relaxed);
		i += cnt;
	}
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
	unsigned int head = rw_idx(rw), first = rw->carved, n;
	const struct slab_ro *ro = &ss->ro[head];
	const uintptr_t stride = c->stride;
	uintptr_t p = ro->base + (uintptr_t)first * stride;

	n = c->objs_per_span - first < want ? c->objs_per_span - first : want;
	if (!n)
		return 0;
	map_clear_range(ss->free_map[head], first, n);
	for (unsigned int k = 0; k < n; k++, p += stride)
		out[k] = (void *)p;
	rw->carved = first + n;
	/* before the objects leave: see slab_ro.carved */
	for (unsigned int k = 0; k < ro->nslabs; k++)
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
 * span_free_run() - put a run of objects of one span back into its free set
 * @c: the cache they must belong to
 * @objs: the objects, in their cached state
 * @n: how many (at least one)
 * @rwp: where the span's head metadata goes (NULL when @objs[0] was
 *	reported)
 *
 * As span_free_obj() for the leading objects of @objs that lie in the
 * span of @objs[0]: the span's metadata is looked up once, and its
 * counters are updated once. The run ends at the first object of another
 * span, or one that is not a free-able object of this one (it is then
 * the first of the next call, which reports it through span_free_obj()).
 *
 * Context: the central lock of the objects' node.
 * Return: the number of objects of @objs consumed, at least one.
 */
unsigned int span_free_run(const struct hak_cache *c, void *const *objs,
			   unsigned int n, struct slab_rw **rwp)
{
	struct superslab *ss = ss_of(objs[0]);
	const struct slab_ro *ro = &ss->ro[slab_idx_of(objs[0])];
	const uintptr_t base = ro->base;
	const uint32_t cap = c->objs_per_span;
	const uint64_t bytes = (uint64_t)cap * c->stride, inv = ro->inv;
	const unsigned int sh = slab_stride_shift(ro);
	_Atomic uint64_t *map = ss->free_map[ro->head];
	struct slab_rw *rw = &ss->rw[ro->head];
	uint64_t word = UINT64_MAX, w = 0, acc = 0;
	uint64_t low = UINT64_MAX;	/* the lowest word written */
	unsigned int k;

	if (unlikely(!ro->stride || ro->cache_id != c->id)) {
		*rwp = span_free_obj(c, objs[0]);
		return 1;
	}
	/* the bits of one map word are gathered in acc, then stored once */
	for (k = 0; k < n; k++) {
		uint64_t off = (uintptr_t)objs[k] - base, i, bit;

		if (off >= bytes)	/* another span (or below this one) */
			break;
		i = obj_div(off, inv, sh);
		if (unlikely(i >= cap))
			break;
		if (i >> 6 != word) {
			if (acc)
				atomic_store_explicit(&map[word], w | acc,
						      memory_order_relaxed);
			word = i >> 6;
			if (word < low)
				low = word;
			w = atomic_load_explicit(&map[word],
						 memory_order_relaxed);
			acc = 0;
		}
		bit = 1ULL << (i & 63);
		/* a double free: reported by the next call */
		if (unlikely((w | acc) & bit))
			break;
		HAK_BUG_ON((uint32_t)i >= rw->carved);
		acc |= bit;
	}
	if (acc)
		atomic_store_explicit(&map[word], w | acc,
				      memory_order_relaxed);
	if (unlikely(!k)) {
		*rwp = span_free_obj(c, objs[0]);
		return 1;
	}
	HAK_BUG_ON(rw->inuse < k);
	rw->nfree += k;
	rw->inuse -= k;
	if (low < rw->hint)
		rw->hint = (uint32_t)low;
	*rwp = rw;
	return k;
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

#define SLAB_MASK	(~(uintptr_t)(HAK_SLAB_SIZE - 1))

/*
 * The window of one slab's run of fresh objects, from @lo (the first
 * one's start) to @hi (the last one's last byte), both in @slab: if the
 * run reaches page j, the highest power of two from 2 it touches, and no
 * earlier carve did, its pages from the first untouched one to 2j - 1.
 */
static void populate_window(struct superslab *ss, uintptr_t slab,
			    uintptr_t lo, uintptr_t hi)
{
	uintptr_t first = (lo - slab + HAK_PAGE_SIZE - 1) / HAK_PAGE_SIZE;
	uintptr_t last = (hi - slab) / HAK_PAGE_SIZE, j;
	unsigned int w, bit = slab_idx_of((const void *)slab);

	if (last < 2)
		return;
	w = 62u - (unsigned int)__builtin_clzll(last);	/* j = 2 << w */
	j = (uintptr_t)2 << w;
	if (j < first || w >= ARRAY_SIZE(ss->populated))
		return;
	/* a dirty slab taken again: its window is there since last time */
	if (atomic_load_explicit(&ss->populated[w], memory_order_relaxed) &
	    (1u << bit))
		return;
	if (!os_populate((void *)(slab + first * HAK_PAGE_SIZE),
			 (2 * j - first) * HAK_PAGE_SIZE))
		atomic_fetch_or_explicit(&ss->populated[w], 1u << bit,
					 memory_order_relaxed);
}

/**
 * span_populate() - fault in ahead the pages a carve has begun to reach
 * @c: the cache
 * @objs: fresh objects from span_carve(), in carve order (of one or more
 *	spans, one after another)
 * @n: how many
 *
 * Fresh objects lie on pages no one touched yet: a growing heap takes a
 * page fault for each 4 KiB page. When the carve first reaches page j of
 * a slab, j a power of two from 2, pages j to 2j - 1 are populated in one
 * os_populate() (with those of j's batch before j that were untouched;
 * pages already present cost no fault): up to three calls per 64 KiB
 * slab, never more pages ahead than the slab's carved part, so the
 * resident set grows by at most that window. A window populated once is
 * not asked for again until its slab is purged (superslab.h, populated):
 * a dirty slab taken again makes no call. Each slab's run of @objs is
 * looked at on its own; a SuperSlab advised MADV_HUGEPAGE is left out (its
 * first touch faulted a huge page), and so is a run whose last object
 * ends in the next slab. The objects are not read or written.
 *
 * Context: any; call it after the central lock is dropped.
 */
void span_populate(const struct hak_cache *c, void *const *objs,
		   unsigned int n)
{
	unsigned int i = 0, k;

	while (i < n) {
		uintptr_t lo = (uintptr_t)objs[i], slab = lo & SLAB_MASK, hi;
		struct superslab *ss = ss_of(objs[i]);

		for (k = i + 1; k < n && ((uintptr_t)objs[k] & SLAB_MASK) ==
					 slab; k++)
			;
		hi = (uintptr_t)objs[k - 1] + c->stride - 1;
		if ((hi & SLAB_MASK) == slab && hi > lo &&
		    !__atomic_load_n(&ss->thp, __ATOMIC_RELAXED))
			populate_window(ss, slab, lo, hi);
		i = k;
	}
}
