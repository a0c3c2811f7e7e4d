// SPDX-License-Identifier: MIT
/*
 * Unit tests of the bound on a CPU's foreign bins (core/region.c,
 * foreign_cap()): a foreign bin holds at most FC_FOREIGN_BYTES of
 * objects, for the size classes and for object caches alike, so the
 * foreign bins of one CPU hold at most the sum Documentation/tuning.rst
 * gives ("Foreign bins"); and a CPU that frees many objects of another
 * CPU's spans never holds more than that in them.
 */
#include <check.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../core/cache.h"
#include "../../core/region.h"
#include "../../core/superslab.h"
#include "../lib/check_main.h"

#define NOBJ	400

static unsigned int cap_of(const struct fc_bin *b)
{
	return (unsigned int)(b->end - b->begin);
}

/* The capacity the bound leaves a foreign bin of @c's, own bin @cap. */
static unsigned int bounded(const struct hak_cache *c, unsigned int cap)
{
	unsigned int fit = FC_FOREIGN_BYTES / c->stride;

	cap = cap < fit ? cap : fit;
	return cap <= 2 ? 0 : cap;
}

/*
 * Every size class's foreign bin holds at most FC_FOREIGN_BYTES, and as
 * many objects as that allows (up to its own bin's capacity).
 */
START_TEST(kmalloc_foreign_bins_are_bounded)
{
	uint64_t total = 0;
	struct fc_region *r;

	hak_free(hak_malloc(1));	/* set the allocator up */
	r = region_get();
	ck_assert_ptr_nonnull(r);
	for (unsigned int cl = 0; cl < HAK_NR_CLASSES; cl++) {
		const struct hak_cache *c = kmalloc_cache(cl);
		unsigned int fcap = cap_of(&r->bin[c->id + HAK_FOREIGN_BIN]);

		ck_assert_uint_le((uint64_t)fcap * c->stride, FC_FOREIGN_BYTES);
		ck_assert_uint_eq(fcap, bounded(c, c->fc_cap));
		total += (uint64_t)fcap * c->stride;
	}
	printf("kmalloc foreign bins: %llu bytes per CPU at most\n",
	       (unsigned long long)total);
	region_put(r);
}
END_TEST

/* An object cache's foreign bin follows the same bound. */
START_TEST(object_cache_foreign_bin_is_bounded)
{
	static const size_t sizes[] = { 24, 1000, 4000, 6000, 40000 };

	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct hak_cache *c = hak_cache_create("foreign-bound",
						       sizes[i], 0, 0, NULL);
		struct fc_region *r;
		unsigned int fcap, want;

		ck_assert_ptr_nonnull(c);
		r = region_get();
		ck_assert_ptr_nonnull(r);
		fcap = cap_of(&r->bin[c->id + HAK_FOREIGN_BIN]);
		want = bounded(c, c->fc_cap);
		if (want > FC_USER_FOREIGN)
			want = FC_USER_FOREIGN;
		ck_assert_uint_le((uint64_t)fcap * c->stride, FC_FOREIGN_BYTES);
		ck_assert_uint_eq(fcap, want);
		region_put(r);
		hak_cache_destroy(c);
	}
}
END_TEST

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Objects of CPU 0's spans freed one by one on CPU 1: CPU 1's foreign bin
 * of their class never holds more than FC_FOREIGN_BYTES of them. Needs
 * the per-CPU mode and two CPUs (else it says so and checks nothing).
 */
START_TEST(foreign_frees_stay_within_bound)
{
	const unsigned int cl = size_to_class(1000);
	const struct hak_cache *c = kmalloc_cache(cl);
	unsigned int most = 0;
	void **v = calloc(NOBJ, sizeof(*v));

	ck_assert_ptr_nonnull(v);
	hak_free(hak_malloc(1));
	if (!fast_rseq.on || sysconf(_SC_NPROCESSORS_ONLN) < 2 || pin(0)) {
		printf("foreign_frees_stay_within_bound: needs the per-CPU mode and CPUs 0 and 1: not run\n");
		free(v);
		return;
	}
	for (unsigned int i = 0; i < NOBJ; i++) {
		v[i] = hak_malloc(1000);
		ck_assert_ptr_nonnull(v[i]);
	}
	ck_assert_int_eq(pin(1), 0);
	for (unsigned int i = 0; i < NOBJ; i++) {
		const struct fc_region *r;
		const struct fc_bin *f;

		ck_assert_uint_eq(obj_owner(v[i]), 0);
		hak_free(v[i]);
		r = cpu_regions[1];
		f = &r->bin[c->id + HAK_FOREIGN_BIN];
		if ((unsigned int)(f->current - f->begin) > most)
			most = (unsigned int)(f->current - f->begin);
	}
	ck_assert_uint_gt(most, 0);	/* the bin was used */
	ck_assert_uint_le((uint64_t)most * c->stride, FC_FOREIGN_BYTES);
	free(v);
}
END_TEST

static Suite *foreign_suite(void)
{
	Suite *s = suite_create("foreign");
	TCase *tc = tcase_create("foreign");

	tcase_add_test(tc, kmalloc_foreign_bins_are_bounded);
	tcase_add_test(tc, object_cache_foreign_bin_is_bounded);
	tcase_add_test(tc, foreign_frees_stay_within_bound);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(foreign_suite());
}
