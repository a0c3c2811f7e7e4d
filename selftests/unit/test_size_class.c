// SPDX-License-Identifier: MIT
/*
 * Unit tests: the generated size-class table and its lookup.
 */
#include <check.h>
#include <stdlib.h>

#include "../../core/size_class.h"
#include "../../core/superslab.h"
#include "../lib/check_main.h"

START_TEST(table_is_increasing_and_aligned)
{
	for (unsigned int i = 0; i < HAK_NR_CLASSES; i++) {
		ck_assert_uint_eq(class_size_of[i] % 8, 0);
		if (i)
			ck_assert_uint_gt(class_size_of[i], class_size_of[i - 1]);
	}
	ck_assert_uint_eq(class_size_of[0], 8);
	ck_assert_uint_eq(class_size_of[HAK_NR_CLASSES - 1], HAK_MAX_CLASS_SIZE);
}
END_TEST

/* The smallest class that holds @n, by a plain search of the table. */
static unsigned int class_by_search(size_t n)
{
	unsigned int cl = 0;

	while (class_size_of[cl] < n)
		cl++;
	return cl;
}

/*
 * The sizes worth checking: every size up to 4 KiB (the table and the
 * arithmetic meet at 1 KiB), and each class boundary, its neighbours and
 * one size inside. Exhaustive where the lookup can go wrong, and fast
 * enough under emulation (the aarch64 VM runs this too).
 */
static void for_each_interesting_size(void (*fn)(size_t))
{
	for (size_t n = 1; n <= 4096; n++)
		fn(n);
	for (unsigned int i = 0; i < HAK_NR_CLASSES; i++) {
		size_t b = class_size_of[i];

		fn(b - 1);
		fn(b);
		if (b < HAK_MAX_CLASS_SIZE)
			fn(b + 1);
		fn(b - b / 7);
	}
}

static void check_lookup(size_t n)
{
	ck_assert_uint_eq(size_to_class(n), class_by_search(n));
}

/* Every size maps to the smallest class that holds it. */
START_TEST(lookup_is_exact_for_every_size)
{
	for_each_interesting_size(check_lookup);
	ck_assert_uint_eq(size_to_class(0), 0);
}
END_TEST

/* Classes above 8 bytes are multiples of 16: max_align_t alignment. */
START_TEST(classes_keep_max_align)
{
	for (unsigned int i = 1; i < HAK_NR_CLASSES; i++)
		ck_assert_uint_eq(class_size_of[i] % 16, 0);
	ck_assert_uint_eq(class_size_of[HAK_FIRST_QUAD], 80);
}
END_TEST

static void check_waste(size_t n)
{
	size_t c = class_size_of[size_to_class(n)];

	if (n <= 64)
		ck_assert_uint_lt(c - n, 16);
	else
		ck_assert_uint_lt((c - n) * 5, c);
}

/*
 * The documented bound: below 16 bytes up to 64 B, below 20% above. The
 * worst case of each class is the size just above the previous class,
 * which for_each_interesting_size() includes.
 */
START_TEST(internal_waste_bound)
{
	for_each_interesting_size(check_waste);
}
END_TEST

/* Spans: at least one object, tail waste at most 1/8 where possible. */
START_TEST(span_sizes)
{
	for (unsigned int i = 0; i < HAK_NR_CLASSES; i++) {
		size_t stride = class_size_of[i];
		unsigned int n = size_class_span_slabs(stride);
		size_t bytes = (size_t)n << HAK_SLAB_SHIFT;
		size_t objs = bytes / stride;

		ck_assert_uint_ge(n, 1);
		ck_assert_uint_le(n, HAK_MAX_SPAN);
		ck_assert_uint_ge(objs, 1);
		ck_assert_uint_le(objs, HAK_MAX_OBJS_PER_SPAN);
		ck_assert_uint_le((bytes - objs * stride) * 8, bytes);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("size_class");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, table_is_increasing_and_aligned);
	tcase_add_test(tc, lookup_is_exact_for_every_size);
	tcase_add_test(tc, internal_waste_bound);
	tcase_add_test(tc, classes_keep_max_align);
	tcase_add_test(tc, span_sizes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
