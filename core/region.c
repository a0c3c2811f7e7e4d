// SPDX-License-Identifier: MIT
/*
 * Fast-path cache regions: their layout (one bin per cache id, sized by
 * the cache's fc_cap, laid out once), allocation, recycling and flushing.
 */
#include <string.h>

#include "debug.h"
#include "meta.h"
#include "poison.h"
#include "region.h"

struct fc_region hak_fc_empty;

/* taken around fork() by core/init.c */
struct hak_lock hak_region_lock = HAK_LOCK_INIT;
static struct fc_region *region_free;
static struct fc_region *region_all;
static struct fc_bin bin_layout[FC_NR_BINS];
static uint32_t region_slots;

/*
 * The foreign bin of a cache whose bin holds @cap: the same, but none for
 * the biggest objects (bins of 1 or 2), which are not parked: a foreign
 * free of one goes straight home.
 */
static uint32_t foreign_cap(uint32_t cap)
{
	return cap <= 2 ? 0 : cap;
}

/**
 * regions_layout() - compute the bins every region gets
 *
 * Runs once at start-up, before the kmalloc caches are set up: kmalloc bins
 * and their foreign bins get their cache's fc_cap (kmalloc_fc_cap()) (the foreign bins of the
 * classes that keep at most 2 objects per CPU, 20480 bytes and up, get
 * none), every id above them FC_USER_CAP and FC_USER_FOREIGN.
 */
void regions_layout(void)
{
	uint32_t used = 0;

	for (unsigned int bin = 0; bin < FC_NR_BINS; bin++) {
		unsigned int id = bin % HAK_MAX_CACHES;
		uint32_t cap = bin < HAK_FOREIGN_BIN ? FC_USER_CAP :
						       FC_USER_FOREIGN;

		if (id < HAK_KMALLOC_FIRST + HAK_NR_CLASSES)
			cap = kmalloc_fc_cap(id - HAK_KMALLOC_FIRST);
		if (bin >= HAK_FOREIGN_BIN)
			cap = foreign_cap(cap);
		if (poison_on())
			cap = 0;	/* every operation takes the slow path */
		bin_layout[bin].begin = (uint16_t)used;
		bin_layout[bin].current = (uint16_t)used;
		bin_layout[bin].end = (uint16_t)(used + cap);
		used += cap;
	}
	region_slots = used;
}

/* Sets bin @bin's end to begin + @cap where the bin is empty (lock held). */
static void bin_set_cap(unsigned int bin, uint32_t cap)
{
	bin_layout[bin].end = (uint16_t)(bin_layout[bin].begin + cap);
	for (struct fc_region *r = region_all; r; r = r->next_all) {
		struct fc_bin *b = &r->bin[bin];

		if (__atomic_load_n(&b->current, __ATOMIC_RELAXED) == b->begin)
			__atomic_store_n(&b->end, bin_layout[bin].end,
					 __ATOMIC_RELAXED);
	}
}

/**
 * regions_set_cap() - size the bins of a new object cache
 * @id: the cache's id, above the size classes
 * @cap: objects its bins may hold, at most FC_USER_CAP
 *
 * The slots were laid out at start-up, FC_USER_CAP per id; a cache of
 * large objects uses fewer of them, so that each CPU does not hold 64
 * of its objects. Its foreign bin follows the size classes' rule
 * (foreign_cap()), within the FC_USER_FOREIGN slots it has. Called before
 * the cache is handed out: no thread can
 * be using the bins (hak_cache_destroy() frees an id only when no region
 * caches any of its objects), and a bin that is not empty all the same
 * keeps its end, so no push can pass it.
 */
void regions_set_cap(unsigned int id, uint32_t cap)
{
	hak_lock(&hak_region_lock);
	if (poison_on())
		cap = 0;
	bin_set_cap(id, cap);
	cap = foreign_cap(cap);
	bin_set_cap(id + HAK_FOREIGN_BIN,
		    cap < FC_USER_FOREIGN ? cap : FC_USER_FOREIGN);
	hak_unlock(&hak_region_lock);
}

/**
 * region_get() - a region with empty bins, recycled or new
 *
 * Return: the region, or NULL with errno ENOMEM.
 */
struct fc_region *region_get(void)
{
	struct fc_region *r;

	hak_lock(&hak_region_lock);
	r = region_free;
	if (r)
		region_free = r->next_free;
	hak_unlock(&hak_region_lock);
	if (!r) {
		r = meta_alloc(sizeof(*r) + region_slots * sizeof(void *));
		if (!r)
			return NULL;
		r->slots_used = region_slots;
		hak_lock(&hak_region_lock);
		/* under the lock: regions_set_cap() may be changing it */
		memcpy(r->bin, bin_layout, sizeof(bin_layout));
		r->next_all = region_all;
		region_all = r;
		hak_unlock(&hak_region_lock);
	}
	r->live = 1;
	return r;
}

/**
 * region_put() - recycle a region whose bins are empty
 * @r: the region
 */
void region_put(struct fc_region *r)
{
#ifdef HAK_DEBUG
	for (unsigned int bin = 0; bin < FC_NR_BINS; bin++)
		HAK_BUG_ON(r->bin[bin].current != r->bin[bin].begin);
#endif
	hak_lock(&hak_region_lock);
	r->live = 0;
	r->next_free = region_free;
	region_free = r;
	hak_unlock(&hak_region_lock);
}

/**
 * bin_batch() - how many objects a slow path of bin @b moves
 * @c: the bin's cache
 * @b: the bin (of this CPU's region, or of this thread's)
 * @dir: FC_LAST_REFILL (the bin was empty) or FC_LAST_DRAIN (full)
 *
 * Bursts: the bin remembers the direction of its last slow path. A second
 * refill in a row (an allocation burst) takes the bin's whole capacity
 * instead of one batch, a second overflow in a row (a free burst) drains
 * the whole bin: half the trips to the central pools, with bins no
 * larger. Mixed traffic alternates and keeps the batch (the origin
 * study's lesson: larger batches pollute L1 in steady state). In the
 * per-CPU mode the field is a hint shared by the CPU's threads, read and
 * written relaxed: a race only sizes one batch differently.
 *
 * Return: c->batch, or the bin's capacity (at most HAK_MAX_BATCH); never
 * more than the capacity (a bin that kept a smaller end than its cache's
 * fc_cap, see regions_set_cap(), or one of capacity 0 gives 0).
 */
unsigned int bin_batch(const struct hak_cache *c, struct fc_bin *b,
		       uint16_t dir)
{
	unsigned int cap;

	HAK_BUG_ON(b->end < b->begin);
	cap = (unsigned int)(b->end - b->begin);
	if (cap > HAK_MAX_BATCH)
		cap = HAK_MAX_BATCH;
	if (__atomic_load_n(&b->last_slow, __ATOMIC_RELAXED) != dir) {
		__atomic_store_n(&b->last_slow, dir, __ATOMIC_RELAXED);
		return c->batch < cap ? c->batch : cap;
	}
	return cap;
}

/**
 * region_flush() - return every cached object of a region to its cache
 * @r: a region the caller owns exclusively
 */
void region_flush(struct fc_region *r)
{
	for (unsigned int bin = 0; bin < FC_NR_BINS; bin++) {
		struct fc_bin *b = &r->bin[bin];
		struct hak_cache *c = bin_cache(bin);
		unsigned int n = (unsigned int)(b->current - b->begin);

		if (!n)		/* untouched: regions_set_cap() may read it */
			continue;
		if (c)
			central_drain(c, &r->slots[b->begin], n,
				      HAK_OWNER_NONE);
		__atomic_store_n(&b->current, b->begin, __ATOMIC_RELAXED);
	}
}

/**
 * regions_count_cached() - objects of a cache held in live regions
 * @id: cache id
 *
 * A racy sum, for reports only.
 *
 * Return: the count.
 */
uint64_t regions_count_cached(unsigned int id)
{
	uint64_t n = 0;

	hak_lock(&hak_region_lock);
	for (struct fc_region *r = region_all; r; r = r->next_all)
		if (r->live) {
			const struct fc_bin *b = &r->bin[id];
			const struct fc_bin *f = &r->bin[id + HAK_FOREIGN_BIN];

			n += (uint64_t)(b->current - b->begin) +
			     (uint64_t)(f->current - f->begin);
		}
	hak_unlock(&hak_region_lock);
	return n;
}
