// SPDX-License-Identifier: MIT
/*
 * Fast-path cache regions: their layout (one bin per cache id, sized by
 * the cache's fc_cap, with room reserved for a kmalloc bin, and the bin
 * of one of the first FC_USER_GROW_IDS object caches, to grow: see
 * bin_size.c), allocation, recycling and flushing.
 */
#include <string.h>

#include "debug.h"
#include "meta.h"
#include "poison.h"
#include "region.h"

struct fc_region fc_empty;

_Static_assert(FC_GROW_BINS <= HAK_FOREIGN_BIN, "only own bins grow");

/* taken around fork() by core/init.c */
struct mutex_lock region_lock = HAK_LOCK_INIT;
static struct fc_region *region_free;
static struct fc_region *region_all;
static struct fc_bin bin_layout[FC_NR_BINS];	/* end: the base capacity */
static uint16_t bin_room[FC_NR_BINS];		/* slots reserved per bin */
static uint32_t region_slots;

/*
 * How far growable bin @bin of base capacity @cap may grow (bin_size.c):
 * FC_GROW_FACTOR times for a kmalloc cache's, FC_USER_GROW_FACTOR for an
 * object cache's.
 */
static uint32_t grow_room(unsigned int bin, uint32_t cap)
{
	uint32_t max = cap * (bin < HAK_KMALLOC_FIRST + HAK_NR_CLASSES ?
			      FC_GROW_FACTOR : FC_USER_GROW_FACTOR);

	if (cap <= 2)		/* the biggest objects: never more */
		return cap;
	if (max > FC_MAX_CAP)
		max = FC_MAX_CAP;
	return max > cap ? max : cap;
}

/*
 * The foreign bin of cache @id whose bin holds @cap: at most
 * FC_FOREIGN_BYTES of its objects, and none where that leaves 2 or fewer
 * (the biggest objects are not parked: a foreign free of one goes
 * straight home). An id with no cache yet keeps @cap (the slots of an
 * object cache to come; regions_set_cap() sizes them).
 */
static uint32_t foreign_cap(unsigned int id, uint32_t cap)
{
	const struct hak_cache *c = bin_cache(id);
	uint32_t stride = 0;

	if (id < HAK_KMALLOC_FIRST + HAK_NR_CLASSES)	/* set up or not */
		stride = kmalloc_stride(id - HAK_KMALLOC_FIRST);
	else if (c)
		stride = c->stride;
	if (stride && cap > FC_FOREIGN_BYTES / stride)
		cap = FC_FOREIGN_BYTES / stride;
	return cap <= 2 ? 0 : cap;
}

/**
 * regions_layout() - compute the bins every region gets
 *
 * Runs once at start-up, before the kmalloc caches are set up (each is
 * set up on its first use): kmalloc bins get their class's fc_cap
 * (kmalloc_fc_cap()), their foreign bins as much within FC_FOREIGN_BYTES
 * (foreign_cap(): none from 6144 bytes up), every id above them
 * FC_USER_CAP and FC_USER_FOREIGN. A kmalloc cache's own bin has room
 * reserved to grow to FC_GROW_FACTOR times its base, that of the first
 * FC_USER_GROW_IDS ids above them FC_USER_GROW_FACTOR times (at most
 * FC_MAX_CAP, grow_room()): untouched slots cost address space only.
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
			cap = foreign_cap(id, cap);
		if (poison_on())
			cap = 0;	/* every operation takes the slow path */
		bin_layout[bin].begin = (uint16_t)used;
		bin_layout[bin].current = (uint16_t)used;
		bin_layout[bin].end = (uint16_t)(used + cap);
		bin_room[bin] = (uint16_t)(bin < FC_GROW_BINS ?
					   grow_room(bin, cap) : cap);
		used += bin_room[bin];
	}
	HAK_BUG_ON(used > UINT16_MAX);	/* the bins' indices are 16 bits */
	region_slots = used;
}

/**
 * bin_base_cap() - the capacity a bin starts with
 * @bin: bin index
 *
 * Return: the layout's end - begin.
 */
unsigned int bin_base_cap(unsigned int bin)
{
	return (unsigned int)(bin_layout[bin].end - bin_layout[bin].begin);
}

/**
 * bin_max_cap() - the capacity a bin may grow to
 * @bin: bin index
 *
 * The slots reserved for it, or fewer where its base capacity is smaller
 * than the one it was laid out with (an object cache of large objects,
 * regions_set_cap()): the growth factor times that base (grow_room()),
 * and for an object cache's bin FC_USER_GROW_BYTES of objects more at most.
 *
 * Return: the capacity.
 */
unsigned int bin_max_cap(unsigned int bin)
{
	uint32_t base = bin_base_cap(bin), room;
	const struct hak_cache *c;

	if (bin >= FC_GROW_BINS)
		return bin_room[bin];
	room = grow_room(bin, base);
	/* an object cache's bin: FC_USER_GROW_BYTES more at most */
	c = bin >= HAK_KMALLOC_FIRST + HAK_NR_CLASSES ? bin_cache(bin) : NULL;
	if (c && c->stride && room > base + FC_USER_GROW_BYTES / c->stride)
		room = base + FC_USER_GROW_BYTES / c->stride;
	return room < bin_room[bin] ? room : bin_room[bin];
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
	mutex_lock(&region_lock);
	if (poison_on())
		cap = 0;
	bin_set_cap(id, cap);
	cap = foreign_cap(id, cap);
	bin_set_cap(id + HAK_FOREIGN_BIN,
		    cap < FC_USER_FOREIGN ? cap : FC_USER_FOREIGN);
	mutex_unlock(&region_lock);
}

/**
 * region_get() - a region with empty bins, recycled or new
 *
 * Return: the region, or NULL with errno ENOMEM.
 */
struct fc_region *region_get(void)
{
	struct fc_region *r;

	mutex_lock(&region_lock);
	r = region_free;
	if (r)
		region_free = r->next_free;
	mutex_unlock(&region_lock);
	if (!r) {
		r = meta_alloc(sizeof(*r) + region_slots * sizeof(void *));
		if (!r)
			return NULL;
		r->slots_used = region_slots;
		mutex_lock(&region_lock);
		/* under the lock: regions_set_cap() may be changing it */
		memcpy(r->bin, bin_layout, sizeof(bin_layout));
		r->next_all = region_all;
		region_all = r;
		mutex_unlock(&region_lock);
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
	mutex_lock(&region_lock);
	r->live = 0;
	r->next_free = region_free;
	region_free = r;
	mutex_unlock(&region_lock);
}

/**
 * region_flush() - return every cached object of a region to its cache
 * @r: a region the caller owns exclusively
 *
 * Bins that grew (bin_size.c) go back to their base capacity: an idle
 * region, drained, holds no more than it started with.
 */
void region_flush(struct fc_region *r)
{
	for (unsigned int bin = 0; bin < FC_NR_BINS; bin++) {
		struct fc_bin *b = &r->bin[bin];
		struct hak_cache *c = bin_cache(bin);
		unsigned int n = (unsigned int)(b->current - b->begin);
		uint16_t base_end = (uint16_t)(b->begin + bin_base_cap(bin));

		if (bin < FC_GROW_BINS && b->end > base_end)	/* it grew */
			__atomic_store_n(&b->end, base_end, __ATOMIC_RELAXED);
		if (!n)		/* untouched: regions_set_cap() may read it */
			continue;
		if (c)
			central_drain(c, &r->slots[b->begin], n,
				      HAK_OWNER_NONE);
		__atomic_store_n(&b->current, b->begin, __ATOMIC_RELAXED);
	}
	r->grown = 0;
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

	mutex_lock(&region_lock);
	for (struct fc_region *r = region_all; r; r = r->next_all)
		if (r->live) {
			const struct fc_bin *b = &r->bin[id];
			const struct fc_bin *f = &r->bin[id + HAK_FOREIGN_BIN];

			n += (uint64_t)(b->current - b->begin) +
			     (uint64_t)(f->current - f->begin);
		}
	mutex_unlock(&region_lock);
	return n;
}
