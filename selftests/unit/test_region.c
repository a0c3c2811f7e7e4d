// SPDX-License-Identifier: MIT
/*
 * Unit tests of the front end's regions on their own (core/region.c):
 * the bin layout, recycling, the burst batch rule, flushing back to the
 * central pools, resizing the bins of a new cache, and the count of
 * cached objects. Regions here are made with region_get() and filled by
 * hand, never installed as a thread's or a CPU's.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "hakmem/hakmem.h"
#include "../../core/cache.h"
#include "../../core/central.h"
#include "../../core/bin_size.h"
#include "../../core/options.h"
#include "../../core/os.h"
#include "../../core/region.h"
#include "../lib/check_main.h"

static unsigned int cap_of(const struct fc_bin *b)
{
	return (unsigned int)(b->end - b->begin);
}

/*
 * Bins are laid out back to back, empty, each with its reserved room; a
 * kmalloc bin holds its class's fc_cap, and the foreign bins of the
 * biggest classes hold nothing.
 */
START_TEST(layout_is_contiguous_and_sized)
{
	struct fc_region *r;

	hak_free(hak_malloc(1));	/* set the allocator up */
	r = region_get();
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->bin[0].begin, 0);
	for (unsigned int bin = 0; bin < FC_NR_BINS; bin++) {
		const struct fc_bin *b = &r->bin[bin];

		ck_assert_uint_eq(b->current, b->begin);
		ck_assert_uint_eq(b->end - b->begin, bin_base_cap(bin));
		ck_assert_uint_ge(bin_max_cap(bin), bin_base_cap(bin));
		if (bin + 1 < FC_NR_BINS)
			ck_assert_uint_eq(r->bin[bin + 1].begin,
					  b->begin + bin_max_cap(bin));
	}
	ck_assert_uint_eq(r->bin[FC_NR_BINS - 1].begin +
			  bin_max_cap(FC_NR_BINS - 1), r->slots_used);
	for (unsigned int cl = 0; cl < HAK_NR_CLASSES; cl++) {
		unsigned int cap = kmalloc_cache(cl)->fc_cap;
		unsigned int fcap = cap_of(&r->bin[cl + HAK_FOREIGN_BIN]);

		ck_assert_uint_eq(cap_of(&r->bin[cl]), cap);
		ck_assert_uint_le(fcap, cap <= 2 ? 0 : cap);	/* test_foreign.c */
	}
	region_put(r);
}
END_TEST

/* A recycled region comes back with empty bins. */
START_TEST(regions_are_recycled)
{
	struct fc_region *r = region_get(), *q;

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->live, 1);
	region_put(r);
	ck_assert_uint_eq(r->live, 0);
	q = region_get();
	ck_assert_ptr_eq(q, r);
	ck_assert_uint_eq(q->live, 1);
	region_put(q);
}
END_TEST

/*
 * Every slow path grows the bin by a batch: a refill then moves one batch
 * on a change of direction and the whole bin in a burst, a drain is not
 * needed. A bin at its reserved room moves one batch or the whole bin.
 */
START_TEST(misses_grow_bins)
{
	struct hak_cache *c = kmalloc_cache(size_to_class(64));
	struct fc_region *r = region_get();
	unsigned int id = c->id, base = bin_base_cap(id);
	struct fc_bin *b = &r->bin[id];

	ck_assert_uint_eq(cap_of(b), base);
	/* FC_GROW_FACTOR times the base, within FC_MAX_CAP (HAKMEM_REFILL) */
	ck_assert_uint_eq(bin_max_cap(id), base * FC_GROW_FACTOR < FC_MAX_CAP ?
			  base * FC_GROW_FACTOR : FC_MAX_CAP);
	ck_assert_uint_eq(bin_batch(c, r, id, FC_LAST_REFILL, 0), c->batch);
	ck_assert_uint_eq(cap_of(b), base + c->batch);
	ck_assert_uint_eq(r->grown, c->batch * c->stride);
	ck_assert_uint_eq(bin_batch(c, r, id, FC_LAST_REFILL, 0),
			  base + 2 * c->batch);
	ck_assert_uint_eq(bin_batch(c, r, id, FC_LAST_DRAIN, 0), 0);
	ck_assert_uint_eq(cap_of(b), base + 3 * c->batch);
	while (cap_of(b) < bin_max_cap(id))
		ck_assert_uint_eq(bin_batch(c, r, id, FC_LAST_DRAIN, 0), 0);
	ck_assert_uint_eq(bin_batch(c, r, id, FC_LAST_DRAIN, 0),
			  bin_max_cap(id) < HAK_MAX_BATCH ? bin_max_cap(id) :
							    HAK_MAX_BATCH);
	ck_assert_uint_eq(bin_batch(c, r, id, FC_LAST_REFILL, 0), c->batch);
	ck_assert_uint_eq(r->grown, (bin_max_cap(id) - base) * c->stride);
	/* a drained region starts again at the base capacity */
	region_flush(r);
	ck_assert_uint_eq(cap_of(b), base);
	ck_assert_uint_eq(r->grown, 0);
	region_put(r);
}
END_TEST

/*
 * Slow start: a bin's first refill moves one page of objects (a program
 * that allocates a few faults in no more), its second the whole bin, as
 * a burst does; a first drain is not held back.
 */
START_TEST(first_refill_is_one_page)
{
	struct hak_cache *c = kmalloc_cache(size_to_class(2048));
	struct hak_cache *d = kmalloc_cache(size_to_class(16));
	struct fc_region *r = region_get();
	unsigned int id = c->id;

	ck_assert_uint_eq(r->bin[id].last_slow, 0);
	ck_assert_uint_eq(bin_batch(c, r, id, FC_LAST_REFILL, 0),
			  HAK_PAGE_SIZE / c->stride);
	ck_assert_uint_lt(HAK_PAGE_SIZE / c->stride, c->batch);
	ck_assert_uint_eq(bin_batch(c, r, id, FC_LAST_REFILL, 0),
			  cap_of(&r->bin[id]));
	ck_assert_uint_ge(cap_of(&r->bin[id]), 2 * c->batch);
	/* small objects: a batch fits in a page, the first refill is whole */
	ck_assert_uint_eq(bin_batch(d, r, d->id, FC_LAST_REFILL, 0), d->batch);
	region_flush(r);
	region_put(r);
}
END_TEST

/*
 * The growth of a region's bins stays within HAKMEM_CACHE_GROW_KB: a bin
 * that would pass it takes the room of bins that stayed cold since the
 * last tick, and only theirs.
 */
START_TEST(growth_stays_within_budget)
{
	struct hak_cache *a = kmalloc_cache(size_to_class(1024));
	struct hak_cache *d = kmalloc_cache(size_to_class(2048));
	struct fc_region *r = region_get();
	uint32_t budget;
	unsigned int i;

	/* room for one of the two bins' full growth (192 KiB each) */
	option_values[OPT_CACHE_GROW_KB] = 256;
	budget = 256 << 10;

	for (i = 0; i < 64; i++)
		bin_batch(a, r, a->id, FC_LAST_REFILL, 0);
	ck_assert_uint_gt(r->grown, 0);
	ck_assert_uint_le(r->grown, budget);
	/* a's bin is hot this tick: d cannot take its room */
	for (i = 0; i < 64; i++)
		bin_batch(d, r, d->id, FC_LAST_REFILL, 0);
	ck_assert_uint_le(r->grown, budget);
	ck_assert_uint_gt(cap_of(&r->bin[a->id]), bin_base_cap(a->id));
	/* a whole tick with no slow path of a: d grows into its room */
	bins_tick();
	bin_batch(d, r, d->id, FC_LAST_REFILL, 0);
	bins_tick();
	bin_batch(d, r, d->id, FC_LAST_DRAIN, 0);
	for (i = 0; i < 64; i++)
		bin_batch(d, r, d->id, FC_LAST_DRAIN, 0);
	ck_assert_uint_le(r->grown, budget);
	ck_assert_uint_eq(cap_of(&r->bin[a->id]), bin_base_cap(a->id));
	ck_assert_uint_gt(cap_of(&r->bin[d->id]), bin_base_cap(d->id));
	region_flush(r);
	region_put(r);
}
END_TEST

/*
 * A bin that took no slow path for a whole tick shrinks at the next one,
 * no lower than what it holds.
 */
START_TEST(cold_bins_shrink_to_what_they_hold)
{
	struct hak_cache *c = kmalloc_cache(size_to_class(128));
	struct fc_region *r = region_get();
	unsigned int id = c->id, base = bin_base_cap(id);
	struct fc_bin *b = &r->bin[id];
	/* a base plus half a batch: more than one batch at HAKMEM_REFILL=256 */
	void *objs[FC_MAX_CAP + HAK_MAX_BATCH];
	unsigned int held = base + c->batch / 2, n = 0;

	ck_assert_uint_le(held, sizeof(objs) / sizeof(objs[0]));
	bin_batch(c, r, id, FC_LAST_REFILL, 0);
	ck_assert_uint_eq(cap_of(b), base + c->batch);
	while (n < held)
		n += central_refill(c, objs + n, held - n, HAK_OWNER_NONE);
	for (unsigned int i = 0; i < held; i++)
		r->slots[b->current++] = objs[i];
	bins_tick();		/* the tick it grew in ends: it stays */
	bin_batch(c, r, id + 1, FC_LAST_REFILL, 0);	/* another bin's slow path */
	ck_assert_uint_eq(cap_of(b), base + c->batch);
	bins_tick();		/* a whole tick cold */
	bin_batch(c, r, id + 1, FC_LAST_REFILL, 0);
	ck_assert_uint_eq(cap_of(b), held);
	region_flush(r);
	ck_assert_uint_eq(cap_of(b), base);
	region_put(r);
}
END_TEST

/*
 * region_flush() returns every cached object to its central, own and
 * foreign bins alike, and counts them while they are cached.
 */
START_TEST(flush_returns_objects)
{
	struct hak_cache *c = hak_cache_create("region-flush", 48, 0, 0, NULL);
	struct fc_region *r = region_get();
	struct fc_bin *own = &r->bin[c->id];
	struct fc_bin *foreign = &r->bin[c->id + HAK_FOREIGN_BIN];
	void *a[8];
	struct central *ct;

	ck_assert_uint_ge(cap_of(own), 4);
	ck_assert_uint_ge(cap_of(foreign), 4);
	ck_assert_uint_eq(central_refill(c, a, 8, HAK_OWNER_NONE), 8);
	ct = central_peek(c, ss_of(a[0])->node);
	for (unsigned int i = 0; i < 4; i++) {
		r->slots[own->current++] = a[i];
		r->slots[foreign->current++] = a[4 + i];
	}
	ck_assert_uint_eq(regions_count_cached(c->id), 8);
	ck_assert_uint_eq(central_parked(ct), 0);
	region_flush(r);
	ck_assert_uint_eq(own->current, own->begin);
	ck_assert_uint_eq(foreign->current, foreign->begin);
	ck_assert_uint_eq(regions_count_cached(c->id), 0);
	ck_assert_uint_eq(central_parked(ct), 8);
	region_put(r);
	ck_assert_uint_eq(central_shrink(c), 1);
	ck_assert_uint_eq(ct->inuse, 0);
	hak_cache_destroy(c);
}
END_TEST

/*
 * regions_set_cap() moves the end of the bins that are empty, in every
 * region made, and in the layout new regions get; a bin holding objects
 * keeps its end, so no push can pass it.
 */
START_TEST(set_cap_moves_only_empty_bins)
{
	struct hak_cache *c = hak_cache_create("region-cap", 48, 0, 0, NULL);
	struct fc_region *busy = region_get(), *idle = region_get(), *fresh;
	unsigned int id = c->id, full = cap_of(&busy->bin[id]);
	void *a[1];

	ck_assert_uint_gt(full, 4);
	ck_assert_uint_eq(central_refill(c, a, 1, HAK_OWNER_NONE), 1);
	busy->slots[busy->bin[id].current++] = a[0];
	regions_set_cap(id, 4);
	ck_assert_uint_eq(cap_of(&busy->bin[id]), full);
	ck_assert_uint_eq(cap_of(&idle->bin[id]), 4);
	ck_assert_uint_eq(cap_of(&idle->bin[id + HAK_FOREIGN_BIN]), 4);
	fresh = region_get();
	ck_assert_uint_eq(cap_of(&fresh->bin[id]), 4);
	regions_set_cap(id, full);
	ck_assert_uint_eq(cap_of(&fresh->bin[id]), full);
	ck_assert_uint_eq(cap_of(&idle->bin[id]), full);
	region_flush(busy);
	region_put(busy);
	region_put(idle);
	region_put(fresh);
	central_shrink(c);
	hak_cache_destroy(c);
}
END_TEST

/*
 * The batch sequences miss with 0 on an empty (pop) or full (push) bin,
 * inlined here as in the slow paths: with GCC 12 an "asm goto" version
 * returned the requested count on a miss (arch/x86_64/rseq.h). The region
 * table is the test's own: every slot points to one all-zero region,
 * whose bins are empty and full at once.
 */
START_TEST(batch_sequences_miss_with_zero)
{
	static struct fc_region zero;
	static void *table[2 + HAK_MAX_CPUS];
	void *objs[HAK_MAX_BATCH] = { 0 };
	unsigned int n, total = 0;

	hak_free(hak_malloc(1));	/* set the allocator up */
	if (!fast_rseq.on)
		return;			/* per-thread mode: no sequences */
	for (unsigned int i = 0; i < ARRAY_SIZE(table); i++)
		table[i] = &zero;
	for (unsigned long id = 0; id < 4; id++) {
		while ((n = rseq_pop_batch(&fast_rseq, table + 2, id, objs,
					   HAK_MAX_BATCH)) && total < 1000)
			total += n;
		ck_assert_uint_eq(total, 0);
		ck_assert_uint_eq(rseq_push_batch(&fast_rseq, table + 2, id,
						  objs, HAK_MAX_BATCH), 0);
		ck_assert_uint_eq(rseq_push_batch(&fast_rseq, table + 2, id,
						  objs, 7), 0);
	}
}
END_TEST

static Suite *region_suite(void)
{
	Suite *s = suite_create("region");
	TCase *tc = tcase_create("region");

	tcase_add_test(tc, layout_is_contiguous_and_sized);
	tcase_add_test(tc, regions_are_recycled);
	tcase_add_test(tc, misses_grow_bins);
	tcase_add_test(tc, first_refill_is_one_page);
	tcase_add_test(tc, growth_stays_within_budget);
	tcase_add_test(tc, cold_bins_shrink_to_what_they_hold);
	tcase_add_test(tc, flush_returns_objects);
	tcase_add_test(tc, set_cap_moves_only_empty_bins);
	tcase_add_test(tc, batch_sequences_miss_with_zero);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(region_suite());
}
