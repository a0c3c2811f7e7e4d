// SPDX-License-Identifier: MIT
/*
 * The lazy start of the per-CPU mode (core/percpu.c): the first
 * HAK_LAZY_OPS slow operations of a process go to the central pools, and
 * no CPU gets a region before, so that a small program maps none; after
 * them the fast-path caches work as ever.
 *
 * Its main() runs the suite without check_run()'s warm-up: each test
 * (forked by Check from a process that has not allocated with hakmem)
 * starts young.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem/hakmem.h"
#include "../../core/cache.h"
#include "../../core/percpu.h"
#include "../../core/region.h"
#include "../../core/size_class.h"

static int percpu_mode(void)
{
	return !strncmp(percpu_mode_name(), "per-CPU", 7);
}

START_TEST(young_process_maps_no_region)
{
	struct hak_cache *c;
	void *p[8];
	unsigned int i;

	for (i = 0; i < 8; i++) {
		p[i] = hak_malloc(100);
		ck_assert_ptr_nonnull(p[i]);
		memset(p[i], 0x5a, 100);
	}
	if (!percpu_mode())
		goto out;	/* per-thread mode: nothing lazy to see */
	c = kmalloc_cache(size_to_class(100));
	for (i = 0; i < 8; i++)
		hak_free(p[i]);
	/* 16 operations: no region, the objects went back to the central */
	ck_assert_uint_eq(regions_count_cached(c->id), 0);
	/* past the start, a free lands in this CPU's bin */
	for (i = 0; i < HAK_LAZY_OPS; i++)
		hak_free(hak_malloc(100));
	p[0] = hak_malloc(100);
	hak_free(p[0]);
	ck_assert_uint_gt(regions_count_cached(c->id), 0);
	return;
out:
	for (i = 0; i < 8; i++)
		hak_free(p[i]);
}
END_TEST

/* Objects of the lazy start are ordinary objects afterwards. */
START_TEST(lazy_objects_outlive_the_start)
{
	void *p[HAK_LAZY_OPS / 4];
	unsigned int i, n = HAK_LAZY_OPS / 4;

	for (i = 0; i < n; i++) {
		p[i] = hak_malloc(24 + i * 40);
		ck_assert_ptr_nonnull(p[i]);
		memset(p[i], (int)i, 24 + i * 40);
	}
	for (i = 0; i < 4 * HAK_LAZY_OPS; i++)
		hak_free(hak_malloc(24 + (i % n) * 40));
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(((unsigned char *)p[i])[23 + i * 40], i);
		ck_assert_uint_ge(hak_malloc_usable_size(p[i]), 24 + i * 40);
		hak_free(p[i]);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("lazy");
	TCase *tc = tcase_create("start");

	tcase_add_test(tc, young_process_maps_no_region);
	tcase_add_test(tc, lazy_objects_outlive_the_start);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
