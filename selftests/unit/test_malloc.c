// SPDX-License-Identifier: MIT
/*
 * Unit tests: the malloc family (sizes, alignment, realloc, calloc,
 * errno on failure).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem/hakmem.h"
#include "../../core/size_class.h"
#include "../lib/check_main.h"

static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 31);
}

static int check_fill(const unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 31))
			return 0;
	return 1;
}

START_TEST(malloc_zero_is_unique)
{
	void *a = hak_malloc(0), *b = hak_malloc(0);

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	hak_free(a);
	hak_free(b);
	hak_free(NULL);
}
END_TEST

/* Every size from 0 to past the largest class, contents kept. */
START_TEST(sizes_and_alignment)
{
	static const size_t extra[] = { 300000, 1 << 20, (4 << 20) + 3, 33 << 20 };
	size_t n;

	for (n = 0; n <= 70000; n += (n < 2048 ? 1 : 97)) {
		unsigned char *p = hak_malloc(n);

		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % (n <= 8 ? 8 : 16), 0);
		ck_assert_uint_ge(hak_malloc_usable_size(p), n);
		fill(p, n, (unsigned int)n);
		ck_assert(check_fill(p, n, (unsigned int)n));
		hak_free(p);
	}
	for (unsigned int i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		unsigned char *p = hak_malloc(extra[i]);

		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % 4096, 0);
		ck_assert_uint_ge(hak_malloc_usable_size(p), extra[i]);
		fill(p, extra[i], i);
		ck_assert(check_fill(p, extra[i], i));
		hak_free(p);
	}
}
END_TEST

START_TEST(usable_size_is_class_size)
{
	for (size_t n = 1; n <= HAK_MAX_CLASS_SIZE; n = n * 3 / 2 + 1) {
		void *p = hak_malloc(n);

		ck_assert_uint_eq(hak_malloc_usable_size(p),
				  class_size_of[size_to_class(n)]);
		hak_free(p);
	}
	ck_assert_uint_eq(hak_malloc_usable_size(NULL), 0);
}
END_TEST

START_TEST(huge_sizes_fail_with_enomem)
{
	errno = 0;
	ck_assert_ptr_null(hak_malloc(SIZE_MAX));
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert_ptr_null(hak_malloc(SIZE_MAX - 4096));
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert_ptr_null(hak_malloc((size_t)1 << 60));
	ck_assert_int_eq(errno, ENOMEM);
	/* and the allocator still works */
	void *p = hak_malloc(64);

	ck_assert_ptr_nonnull(p);
	hak_free(p);
}
END_TEST

START_TEST(calloc_zeroes_and_checks_overflow)
{
	static const size_t sizes[] = { 1, 24, 100, 4000, 70000, 300000, 5 << 20 };

	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* dirty a block of that size first so reuse is exercised */
		unsigned char *d = hak_malloc(sizes[i]);

		memset(d, 0xa5, sizes[i]);
		hak_free(d);
		unsigned char *p = hak_calloc(1, sizes[i]);
		size_t nonzero = 0;

		ck_assert_ptr_nonnull(p);
		/* one assertion, not one per byte (each one is a syscall) */
		for (size_t j = 0; j < sizes[i]; j++)
			nonzero += p[j] != 0;
		ck_assert_uint_eq(nonzero, 0);
		hak_free(p);
	}
	errno = 0;
	ck_assert_ptr_null(hak_calloc(SIZE_MAX / 2, 3));
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert_ptr_null(hak_calloc((size_t)1 << 33, (size_t)1 << 33));
	ck_assert_int_eq(errno, ENOMEM);
	void *z = hak_calloc(0, 10);

	ck_assert_ptr_nonnull(z);
	hak_free(z);
}
END_TEST

START_TEST(realloc_grows_and_shrinks_keeping_contents)
{
	size_t n = 1;
	unsigned char *p = hak_malloc(n);

	fill(p, n, 7);
	while (n < (8 << 20)) {
		size_t m = n * 2 + 3;

		p = hak_realloc(p, m);
		ck_assert_ptr_nonnull(p);
		ck_assert(check_fill(p, n, 7));
		fill(p, m, 7);
		n = m;
	}
	while (n > 1) {
		n /= 3;
		p = hak_realloc(p, n ? n : 1);
		ck_assert_ptr_nonnull(p);
		ck_assert(check_fill(p, n, 7));
	}
	hak_free(p);
}
END_TEST

/* Freed huge mappings are reused (and zeroed for calloc), then trimmed. */
START_TEST(huge_mapping_cache)
{
	struct hak_global_stats st;
	unsigned char *a = hak_malloc(3 << 20), *b, *c;
	size_t nonzero = 0;

	memset(a, 0x5a, 3 << 20);
	hak_free(a);
	b = hak_malloc(3 << 20);
	ck_assert_ptr_eq(b, a);		/* the cached mapping came back */
	hak_free(b);
	c = hak_calloc(1, (3 << 20) - 100);
	ck_assert_ptr_eq(c, a);
	for (size_t i = 0; i < (3 << 20) - 100; i++)
		nonzero += c[i] != 0;
	ck_assert_uint_eq(nonzero, 0);
	hak_free(c);
	hak_global_stats(&st);
	ck_assert_uint_eq(st.huge_allocs, 0);
	ck_assert_uint_gt(st.huge_bytes, 0);
	hak_trim();
	hak_global_stats(&st);
	ck_assert_uint_eq(st.huge_bytes, 0);
}
END_TEST

/* Growing a huge block moves pages, keeps contents, keeps alignment. */
START_TEST(huge_realloc_by_remap)
{
	size_t n = 1 << 20;
	unsigned char *p = hak_malloc(n);

	fill(p, n, 3);
	for (int i = 0; i < 6; i++) {
		size_t m = n * 2;

		p = hak_realloc(p, m);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % 4096, 0);
		ck_assert(check_fill(p, n, 3));
		fill(p, m, 3);
		ck_assert_uint_ge(hak_malloc_usable_size(p), m);
		n = m;
	}
	p = hak_realloc(p, 300000);	/* shrink, still huge */
	ck_assert(check_fill(p, 300000, 3));
	p = hak_realloc(p, 1000);	/* back to a size class */
	ck_assert(check_fill(p, 1000, 3));
	hak_free(p);
}
END_TEST

START_TEST(realloc_in_place_within_class)
{
	void *p = hak_malloc(100);	/* class 112 */

	ck_assert_ptr_eq(hak_realloc(p, 110), p);
	ck_assert_ptr_eq(hak_realloc(p, 97), p);
	void *q = hak_realloc(p, 200);

	ck_assert_ptr_ne(q, p);
	hak_free(q);
}
END_TEST

/*
 * A growth that moves gets half as much again (below 64 KiB, in a size
 * class): the next growth of about 1.5x stays at the same address with
 * its contents; a shrink to less than half of the block moves.
 */
START_TEST(realloc_growth_headroom_stays_in_place)
{
	unsigned char *p = hak_malloc(1000), *q, *r;

	memset(p, 8, 1000);
	q = hak_realloc(p, 1500);		/* moved, with headroom */
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_ge(hak_malloc_usable_size(q), 2250);
	memset(q + 1000, 9, 500);
	r = hak_realloc(q, 2250);		/* within: same address */
	ck_assert_ptr_eq(r, q);
	for (int i = 0; i < 1500; i++)
		ck_assert_uint_eq(r[i], i < 1000 ? 8 : 9);
	q = hak_realloc(r, 500);		/* less than half: moves */
	ck_assert_ptr_ne(q, r);
	ck_assert_uint_le(hak_malloc_usable_size(q), 512);
	for (int i = 0; i < 500; i++)
		ck_assert_uint_eq(q[i], 8);
	hak_free(q);
}
END_TEST

START_TEST(realloc_edge_cases)
{
	void *p = hak_realloc(NULL, 50);

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(hak_realloc(p, 0));	/* glibc: frees, NULL */
	p = hak_malloc(10);
	errno = 0;
	ck_assert_ptr_null(hak_realloc(p, SIZE_MAX - 10));
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_uint_ge(hak_malloc_usable_size(p), 10);	/* untouched */
	errno = 0;
	ck_assert_ptr_null(hak_reallocarray(p, SIZE_MAX / 2, 4));
	ck_assert_int_eq(errno, ENOMEM);
	p = hak_reallocarray(p, 10, 10);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ge(hak_malloc_usable_size(p), 100);
	hak_free(p);
}
END_TEST

START_TEST(aligned_family)
{
	for (size_t a = 1; a <= (8UL << 20); a <<= 1) {
		static const size_t sizes[] = { 1, 17, 1000, 70000, 3 << 20 };

		for (unsigned int i = 0; i < 5; i++) {
			size_t n = sizes[i];
			void *p = hak_aligned_alloc(a, n), *q = NULL;

			ck_assert_ptr_nonnull(p);
			ck_assert_uint_eq((uintptr_t)p % a, 0);
			memset(p, 1, n);
			if (a >= sizeof(void *)) {
				ck_assert_int_eq(hak_posix_memalign(&q, a, n), 0);
				ck_assert_uint_eq((uintptr_t)q % a, 0);
				memset(q, 2, n);
			}
			hak_free(p);
			hak_free(q);
			p = hak_memalign(a, n);
			ck_assert_uint_eq((uintptr_t)p % a, 0);
			hak_free(p);
		}
	}
}
END_TEST

START_TEST(aligned_bad_arguments)
{
	void *p = (void *)1;

	errno = 0;
	ck_assert_ptr_null(hak_aligned_alloc(24, 100));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(hak_aligned_alloc(0, 100));
	ck_assert_int_eq(hak_posix_memalign(&p, 24, 100), EINVAL);
	ck_assert_int_eq(hak_posix_memalign(&p, 4, 100), EINVAL);
	ck_assert_ptr_eq(p, (void *)1);
	ck_assert_int_eq(hak_posix_memalign(&p, 64, SIZE_MAX - 100), ENOMEM);
	ck_assert_int_eq(hak_posix_memalign(&p, (size_t)1 << 62, 10), ENOMEM);
	errno = 0;
	ck_assert_ptr_null(hak_aligned_alloc((size_t)1 << 63, 1));
	ck_assert_int_eq(errno, ENOMEM);
	/* memalign rounds a non-power-of-two alignment up, as glibc */
	p = hak_memalign(48, 10);
	ck_assert_uint_eq((uintptr_t)p % 64, 0);
	hak_free(p);
}
END_TEST

START_TEST(valloc_pvalloc)
{
	void *p = hak_valloc(10), *q = hak_pvalloc(5000), *z = hak_pvalloc(0);

	ck_assert_uint_eq((uintptr_t)p % 4096, 0);
	ck_assert_uint_eq((uintptr_t)q % 4096, 0);
	ck_assert_uint_ge(hak_malloc_usable_size(q), 8192);
	ck_assert_uint_ge(hak_malloc_usable_size(z), 4096);
	hak_free(p);
	hak_free(q);
	hak_free(z);
	errno = 0;
	ck_assert_ptr_null(hak_pvalloc(SIZE_MAX - 10));
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

/* Many live objects: none overlaps another (patterns survive). */
START_TEST(many_objects_do_not_overlap)
{
	enum { N = 50000 };
	unsigned char **v = malloc(N * sizeof(*v));
	unsigned int seed = 1;
	int bad = 0;

	for (int i = 0; i < N; i++) {
		size_t n = (seed = seed * 1103515245 + 12345) % 3000 + 1;

		v[i] = hak_malloc(n);
		fill(v[i], n < 64 ? n : 64, (unsigned int)i);
	}
	seed = 1;
	for (int i = 0; i < N; i++) {
		size_t n = (seed = seed * 1103515245 + 12345) % 3000 + 1;

		bad += !check_fill(v[i], n < 64 ? n : 64, (unsigned int)i);
		hak_free(v[i]);
	}
	ck_assert_int_eq(bad, 0);
	free(v);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("malloc");
	TCase *tc = tcase_create("family");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, malloc_zero_is_unique);
	tcase_add_test(tc, sizes_and_alignment);
	tcase_add_test(tc, usable_size_is_class_size);
	tcase_add_test(tc, huge_sizes_fail_with_enomem);
	tcase_add_test(tc, calloc_zeroes_and_checks_overflow);
	tcase_add_test(tc, realloc_grows_and_shrinks_keeping_contents);
	tcase_add_test(tc, realloc_in_place_within_class);
	tcase_add_test(tc, realloc_growth_headroom_stays_in_place);
	tcase_add_test(tc, huge_mapping_cache);
	tcase_add_test(tc, huge_realloc_by_remap);
	tcase_add_test(tc, realloc_edge_cases);
	tcase_add_test(tc, aligned_family);
	tcase_add_test(tc, aligned_bad_arguments);
	tcase_add_test(tc, valloc_pvalloc);
	tcase_add_test(tc, many_objects_do_not_overlap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
