// SPDX-License-Identifier: MIT
/*
 * Unit tests: HAKMEM_POISON=1 (a write after free is reported when the
 * object is handed out again) and HAKMEM_GUARD=1 (guard pages behind huge
 * objects and between SuperSlab metadata and objects).
 */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../core/report.h"
#include "../../core/superslab.h"
#include "../lib/check_main.h"
#include "../lib/capture.h"

/*
 * The sanitizers install their own SIGSEGV handler (and abort): the guard
 * page tests, which expect the process to die by SIGSEGV, run only in
 * plain builds.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PLAIN_SIGNALS	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PLAIN_SIGNALS	0
#endif
#endif
#ifndef PLAIN_SIGNALS
#define PLAIN_SIGNALS	1
#endif

static char errbuf[4096];

static void do_malloc_64(void *out)
{
	*(void **)out = hak_malloc(64);
}

static void *alloc_captured(void)
{
	void *p = NULL;

	ck_assert_int_ge(capture_stderr(do_malloc_64, &p, errbuf,
					sizeof(errbuf)), 0);
	return p;
}

START_TEST(write_after_free_is_reported)
{
	unsigned long before = report_count();
	char *p = hak_malloc(64), *q;

	memset(p, 1, 64);
	hak_free(p);
	p[20] = 'x';			/* use after free */
	q = alloc_captured();		/* the same object comes back */
	ck_assert_ptr_eq(q, p);
	ck_assert_uint_eq(report_count(), before + 1);
	ck_assert_ptr_nonnull(strstr(errbuf, "written after free"));
	hak_free(q);
}
END_TEST

START_TEST(clean_use_is_silent)
{
	unsigned long before = report_count();

	for (int i = 0; i < 20000; i++) {
		char *p = hak_malloc((size_t)(i % 900) + 1);

		memset(p, i, (size_t)(i % 900) + 1);
		hak_free(p);
	}
	ck_assert_uint_eq(report_count(), before);
}
END_TEST

START_TEST(calloc_is_zero_despite_poison)
{
	unsigned char *p = hak_malloc(200), *q;
	size_t nonzero = 0;

	hak_free(p);
	q = hak_calloc(1, 200);
	for (int i = 0; i < 200; i++)
		nonzero += q[i] != 0;
	ck_assert_uint_eq(nonzero, 0);
	hak_free(q);
}
END_TEST

/* Writing one byte past a huge object's usable size faults. */
START_TEST(guard_behind_huge)
{
	char *h = hak_malloc(3 << 20);
	size_t n = hak_malloc_usable_size(h);

	memset(h, 1, n);		/* all of it is usable */
	h[n] = 1;			/* the guard page */
}
END_TEST

/* And after growing by realloc the guard moves to the new end. */
START_TEST(guard_follows_realloc)
{
	char *h = hak_malloc(3 << 20), *g;
	size_t n = hak_malloc_usable_size(h);

	g = hak_realloc(h, 9 << 20);
	g[n] = 1;			/* the old guard is object memory now */
	g[hak_malloc_usable_size(g)] = 1;	/* the new guard */
}
END_TEST

/* The page below the first object of a SuperSlab is a guard. */
START_TEST(guard_below_objects)
{
	char *p = hak_malloc(64);
	char *ss = (char *)ss_of(p);

	ck_assert_uint_gt(slab_idx_of(p), 0);
	ss[HAK_SLAB_SIZE - 1] = 1;	/* last byte of slab 0 */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hardening");
	TCase *tc = tcase_create("poison_guard");

	tcase_add_test(tc, write_after_free_is_reported);
	tcase_add_test(tc, clean_use_is_silent);
	tcase_add_test(tc, calloc_is_zero_despite_poison);
	/* valgrind reports the faults itself: check-full sets this there */
	if (PLAIN_SIGNALS && !getenv("HAKMEM_TEST_NO_SIGNALS")) {
		tcase_add_test_raise_signal(tc, guard_behind_huge, SIGSEGV);
		tcase_add_test_raise_signal(tc, guard_follows_realloc, SIGSEGV);
		tcase_add_test_raise_signal(tc, guard_below_objects, SIGSEGV);
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	static const char *const env[] = {
		"HAKMEM_POISON=1", "HAKMEM_GUARD=1", "HAKMEM_ON_ERROR=warn", NULL
	};

	(void)argc;
	check_reexec_with(argv, env);
	return check_run(suite());
}
