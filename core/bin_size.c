// SPDX-License-Identifier: MIT
/*
 * Adaptive bins. A kmalloc bin starts at its cache's fc_cap (two batches)
 * and has room reserved to grow to FC_GROW_FACTOR times that, at most
 * FC_MAX_CAP objects (region.c). So has the bin of each of the first
 * FC_USER_GROW_IDS object caches (at most FC_USER_CAP objects to start
 * with); the other object caches' bins and the foreign bins keep the
 * capacity they were laid out with (the bins below FC_GROW_BINS grow).
 * A slow path (the bin ran empty, or full) grows the bin by one batch, as
 * long as the region's growth stays within HAKMEM_CACHE_GROW_KB; when it would
 * not, the region first gives back what cold bins (no slow path since the
 * last decay tick) took; a scan that finds too little is not repeated
 * before the next tick. At each decay tick a region's grown bins that
 * stayed cold shrink back, as far as what they hold allows, and a drained
 * region (idle CPU, thread exit, hak_trim()) starts again at the base
 * capacity (region_flush()). The budget is per region: per CPU in the
 * per-CPU mode, per thread in the per-thread mode.
 *
 * Who may move a bin's end: in the per-thread mode the thread that owns
 * the region. In the per-CPU mode a thread running on the region's CPU,
 * with rseq_set_end(), whose commit store is the new end: a thread of the
 * same CPU inside a push sequence is preempted first and restarts it, so
 * no push can pass an end that fell, and an end falls only to at least
 * the bin's current index. A thread that migrated meanwhile fails the
 * store and leaves the bin as it was. The same rules as the pushes and
 * pops themselves: no other CPU ever writes a live bin's bounds (a remote
 * drain detaches and fences the region first, see percpu.c).
 */
#include <stdatomic.h>

#include "bin_size.h"
#include "options.h"
#include "os.h"
#include "region.h"

/* Decay ticks seen (bins_tick()); regions compare its low 16 bits. */
static _Atomic uint32_t bins_epoch;

/**
 * bins_tick() - a decay tick passed: cold bins may shrink
 *
 * Context: any, even under a pool lock: it only counts.
 */
void bins_tick(void)
{
	atomic_fetch_add_explicit(&bins_epoch, 1, memory_order_relaxed);
}

static uint32_t grow_budget(void)
{
	return (uint32_t)option_get(OPT_CACHE_GROW_KB) << 10;
}

/* Moves bin @bin's end in @r to @end: see the rules at the top. */
static int bin_store_end(struct fc_region *r, unsigned int bin,
			 unsigned int end, int percpu)
{
	struct fc_bin *b = &r->bin[bin];

	if (percpu)
		return rseq_set_end(&fast_rseq, cpu_regions, bin, r, end);
	if (b->current > end)
		return 0;
	b->end = (uint16_t)end;
	return 1;
}

/*
 * Shrinks bin @bin of @r towards its base capacity, as far as what it
 * holds allows; returns the bytes of capacity given back.
 */
static uint32_t bin_shrink(struct fc_region *r, unsigned int bin, int percpu)
{
	struct fc_bin *b = &r->bin[bin];
	const struct hak_cache *c = bin_cache(bin);
	unsigned int cap = (unsigned int)(b->end - b->begin);
	unsigned int held = (unsigned int)(__atomic_load_n(&b->current,
				__ATOMIC_RELAXED) - b->begin);
	unsigned int to = bin_base_cap(bin);

	if (held > to)
		to = held;
	if (!c || to >= cap || !bin_store_end(r, bin, b->begin + to, percpu))
		return 0;
	return (cap - to) * c->stride;
}

static void grown_sub(struct fc_region *r, uint32_t bytes)
{
	uint32_t g = __atomic_load_n(&r->grown, __ATOMIC_RELAXED);

	__atomic_store_n(&r->grown, g > bytes ? g - bytes : 0,
			 __ATOMIC_RELAXED);
}

/*
 * Gives back the capacity of @r's grown bins that took no slow path since
 * the last tick (all but @keep), until @need more bytes fit the budget
 * (UINT32_MAX: all of them).
 */
static void shrink_cold(struct fc_region *r, unsigned int keep,
			uint32_t need, int percpu)
{
	if (need != UINT32_MAX &&
	    __atomic_load_n(&r->no_cold, __ATOMIC_RELAXED))
		return;		/* scanned in vain this tick already */
	for (unsigned int bin = 0; bin < FC_GROW_BINS; bin++) {
		const struct fc_bin *b = &r->bin[bin];

		if ((uint64_t)__atomic_load_n(&r->grown, __ATOMIC_RELAXED) +
		    need <= grow_budget())
			return;
		if (bin == keep || (unsigned int)(b->end - b->begin) <=
				   bin_base_cap(bin) ||
		    (__atomic_load_n(&b->last_slow, __ATOMIC_RELAXED) & FC_HOT))
			continue;
		grown_sub(r, bin_shrink(r, bin, percpu));
	}
	/* what is cold now stays cold and shrunk until the next tick */
	if (need != UINT32_MAX)
		__atomic_store_n(&r->no_cold, 1, __ATOMIC_RELAXED);
}

/*
 * Once per decay tick, on the region's next slow path: cold grown bins
 * shrink, and every bin starts the new tick cold.
 */
static void bins_rebalance(struct fc_region *r, int percpu)
{
	uint16_t epoch = (uint16_t)atomic_load_explicit(&bins_epoch,
							memory_order_relaxed);

	if (likely(__atomic_load_n(&r->epoch, __ATOMIC_RELAXED) == epoch))
		return;
	__atomic_store_n(&r->epoch, epoch, __ATOMIC_RELAXED);
	__atomic_store_n(&r->no_cold, 0, __ATOMIC_RELAXED);
	shrink_cold(r, FC_NR_BINS, UINT32_MAX, percpu);
	for (unsigned int bin = 0; bin < FC_GROW_BINS; bin++) {
		struct fc_bin *b = &r->bin[bin];
		uint16_t last = __atomic_load_n(&b->last_slow, __ATOMIC_RELAXED);

		if (last & FC_HOT)
			__atomic_store_n(&b->last_slow,
					 (uint16_t)(last & ~FC_HOT),
					 __ATOMIC_RELAXED);
	}
}

/* Grows bin @bin of @r by one batch, within the budget; 1 if it grew. */
static int bin_grow(const struct hak_cache *c, struct fc_region *r,
		    unsigned int bin, int percpu)
{
	struct fc_bin *b = &r->bin[bin];
	unsigned int cap = (unsigned int)(b->end - b->begin);
	unsigned int max = bin_max_cap(bin), want;
	uint32_t bytes;

	if (bin >= FC_GROW_BINS || cap >= max)	/* growable bins only */
		return 0;
	want = cap + c->batch < max ? cap + c->batch : max;
	bytes = (want - cap) * c->stride;
	if (__atomic_load_n(&r->grown, __ATOMIC_RELAXED) + bytes > grow_budget())
		shrink_cold(r, bin, bytes, percpu);
	if (__atomic_load_n(&r->grown, __ATOMIC_RELAXED) + bytes > grow_budget() ||
	    !bin_store_end(r, bin, b->begin + want, percpu))
		return 0;
	__atomic_store_n(&r->grown, __atomic_load_n(&r->grown,
						    __ATOMIC_RELAXED) + bytes,
			 __ATOMIC_RELAXED);
	return 1;
}

/*
 * The first refill of a bin (its first slow path ever) moves at most one
 * page of objects: a program that allocates a few objects of a class then
 * faults in one page of them, not a batch (each fresh object is written
 * to: its free tag). The bin's next refill is a burst, the whole bin, so
 * the slow start is over after one refill.
 */
static unsigned int first_refill(const struct hak_cache *c, unsigned int n)
{
	unsigned int page = c->stride < HAK_PAGE_SIZE ?
			    HAK_PAGE_SIZE / c->stride : 1;

	return n < page ? n : page;
}

/**
 * bin_batch() - how many objects a slow path of a bin moves
 * @c: the bin's cache
 * @r: the region (this CPU's, or this thread's)
 * @bin: the bin's index in @r
 * @dir: FC_LAST_REFILL (the bin was empty) or FC_LAST_DRAIN (full)
 * @percpu: @r is a per-CPU region (its bounds move with rseq_set_end())
 *
 * A bin's first refill moves at most a page of objects (first_refill()).
 * Every slow path first grows the bin by a batch if the budget allows (a
 * bin that misses is too small for what the thread does with it): a drain
 * is then not needed, the bin has room now. The bin remembers the
 * direction of its last slow path: a change of direction (mixed traffic)
 * moves one batch, the origin study's lesson (larger batches pollute L1
 * in steady state); a second slow path in the same direction is a burst,
 * and the whole bin moves, which halves the trips to the central pools. In the per-CPU mode the field is a hint shared by
 * the CPU's threads, read and written relaxed: a race only sizes one
 * batch differently.
 *
 * Return: the number of objects to move: at most the bin's capacity and
 * HAK_MAX_BATCH; 0 for a drain after the bin grew, or a bin of capacity
 * 0.
 */
unsigned int bin_batch(const struct hak_cache *c, struct fc_region *r,
		       unsigned int bin, uint16_t dir, int percpu)
{
	struct fc_bin *b = &r->bin[bin];
	unsigned int cap, last;

	bins_rebalance(r, percpu);
	last = __atomic_load_n(&b->last_slow, __ATOMIC_RELAXED);
	__atomic_store_n(&b->last_slow, (uint16_t)(dir | FC_HOT),
			 __ATOMIC_RELAXED);
	if (bin_grow(c, r, bin, percpu) && dir == FC_LAST_DRAIN)
		return 0;
	cap = (unsigned int)(b->end - b->begin);
	if (cap > HAK_MAX_BATCH)
		cap = HAK_MAX_BATCH;
	if (unlikely(!(last & FC_LAST_MASK)) && dir == FC_LAST_REFILL)
		return first_refill(c, c->batch < cap ? c->batch : cap);
	if ((last & FC_LAST_MASK) != dir)
		return c->batch < cap ? c->batch : cap;
	return cap;
}
