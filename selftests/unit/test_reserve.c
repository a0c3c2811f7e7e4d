// SPDX-License-Identifier: MIT
/*
 * Unit tests: reserves (hak_cache_reserve(), hak_reserve_alloc(),
 * hak_reserve_release()): all or none up front, no failure afterwards
 * while every mapping fails, what is left goes back, bad releases are
 * named on stderr. Re-executes itself with HAKMEM_FAIL_MMAP=3 (every third
 * mapping fails) so that filling a reserve meets failures too.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../lib/capture.h"
#include "../lib/check_main.h"
#include "../../core/options.h"

static void obj_ctor(void *p)
{
	*(uint64_t *)p = 0x5e5e;
}

static void do_destroy(void *arg)
{
	hak_cache_destroy(arg);
}

static void destroy_clean(struct hak_cache *c)
{
	char buf[512];

	capture_stderr(do_destroy, c, buf, sizeof(buf));
	ck_assert_msg(!strstr(buf, "still allocated"), "%s", buf);
}

/*
 * A cache made while mappings can fail: which mapping is the third
 * depends on what ran before (the per-thread mode under valgrind maps
 * more than the per-CPU mode), so it is retried, as a reserve is.
 */
static struct hak_cache *cache_retry(const char *name, size_t size,
				     void (*ctor)(void *))
{
	struct hak_cache *c = NULL;

	for (int tries = 0; !c && tries < 20; tries++) {
		errno = 0;
		c = hak_cache_create(name, size, 0, 0, ctor);
		if (!c)
			ck_assert_int_eq(errno, ENOMEM);
	}
	ck_assert_ptr_nonnull(c);
	return c;
}

/* A reserve made while mappings can fail: retried until it is filled. */
static struct hak_reserve *reserve_retry(struct hak_cache *c, unsigned int n)
{
	struct hak_reserve *r = NULL;

	for (int tries = 0; !r && tries < 20; tries++) {
		errno = 0;
		r = hak_cache_reserve(c, n);
		if (!r)
			ck_assert_int_eq(errno, ENOMEM);
	}
	ck_assert_ptr_nonnull(r);
	return r;
}

/* n objects, distinct and constructed, then NULL with ENOMEM. */
START_TEST(reserve_hands_out_n_objects)
{
	struct hak_cache *c = cache_retry("rsv", 40, obj_ctor);
	struct hak_reserve *r;
	void *v[300];

	ck_assert_ptr_nonnull(c);
	r = reserve_retry(c, 300);
	ck_assert_uint_eq(hak_reserve_count(r), 300);
	for (int i = 0; i < 300; i++) {
		v[i] = hak_reserve_alloc(r);
		ck_assert_ptr_nonnull(v[i]);
		ck_assert_uint_eq(*(uint64_t *)v[i], 0x5e5e);
		for (int j = 0; j < i; j++)
			ck_assert_ptr_ne(v[i], v[j]);
	}
	errno = 0;
	ck_assert_ptr_null(hak_reserve_alloc(r));
	ck_assert_int_eq(errno, ENOMEM);
	hak_reserve_release(c, r);
	for (int i = 0; i < 300; i++)
		hak_cache_free(c, v[i]);
	destroy_clean(c);
}
END_TEST

/* What is left goes back: the cache has nothing allocated afterwards. */
START_TEST(release_returns_what_is_left)
{
	struct hak_cache *c = cache_retry("rsvleft", 200, NULL);
	struct hak_reserve *r;
	void *v[10];

	ck_assert_ptr_nonnull(c);
	for (int round = 0; round < 5; round++) {
		r = reserve_retry(c, 1000);
		for (int i = 0; i < 10; i++)
			v[i] = hak_reserve_alloc(r);
		ck_assert_uint_eq(hak_reserve_count(r), 990);
		hak_reserve_release(c, r);	/* recycled for the next round */
		for (int i = 0; i < 10; i++)
			hak_cache_free(c, v[i]);
	}
	destroy_clean(c);
}
END_TEST

/*
 * Filled up front, a reserve does not fail when nothing else can get
 * memory: with every mapping failing, the cache's own allocations run
 * into ENOMEM while every object of the reserve is still handed out.
 */
START_TEST(reserve_succeeds_while_everything_else_fails)
{
	enum { R = 64, MAX = 1 << 20 };
	struct hak_cache *c = cache_retry("rsvfail", 4096, NULL);
	void **got = malloc(MAX * sizeof(*got));
	struct hak_reserve *r;
	void *v[R];
	int n = 0;

	ck_assert_ptr_nonnull(c);
	r = reserve_retry(c, R);
	option_values[OPT_FAIL_MMAP] = 1;	/* every mapping fails from now on */
	while (n < MAX && (got[n] = hak_cache_alloc(c)))
		n++;
	ck_assert_int_lt(n, MAX);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_ptr_null(hak_malloc(100000));
	for (int i = 0; i < R; i++) {
		v[i] = hak_reserve_alloc(r);
		ck_assert_ptr_nonnull(v[i]);
		memset(v[i], i, 4096);
	}
	ck_assert_ptr_null(hak_cache_alloc(c));
	hak_reserve_release(c, r);
	option_values[OPT_FAIL_MMAP] = 0;
	for (int i = 0; i < R; i++)
		hak_cache_free(c, v[i]);
	while (n--)
		hak_cache_free(c, got[n]);
	free(got);
	destroy_clean(c);
}
END_TEST

/* A reserve that cannot be filled keeps nothing. */
START_TEST(failed_reserve_keeps_nothing)
{
	struct hak_cache *c = cache_retry("rsvnone", 4096, NULL);
	int failed = 0;

	ck_assert_ptr_nonnull(c);
	/* 4000 objects of 4 KiB need SuperSlabs: a mapping fails in each */
	option_values[OPT_FAIL_MMAP] = 1;
	for (int i = 0; i < 3; i++) {
		struct hak_reserve *r;

		errno = 0;
		r = hak_cache_reserve(c, 4000);
		if (!r) {
			ck_assert_int_eq(errno, ENOMEM);
			failed++;
		} else {
			hak_reserve_release(c, r);
		}
	}
	option_values[OPT_FAIL_MMAP] = 0;
	ck_assert_int_eq(failed, 3);
	errno = 0;
	ck_assert_ptr_null(hak_cache_reserve(c, 70000));
	ck_assert_int_eq(errno, EINVAL);
	destroy_clean(c);
}
END_TEST

struct rel {
	struct hak_cache *c;
	struct hak_reserve *r;
};

static void do_release(void *arg)
{
	struct rel *a = arg;

	hak_reserve_release(a->c, a->r);
}

static void do_reserve_alloc(void *arg)
{
	struct rel *a = arg;

	ck_assert_ptr_null(hak_reserve_alloc(a->r));
}

/* Released twice, or to another cache: named on stderr, left alone. */
START_TEST(bad_releases_are_reported)
{
	struct hak_cache *c = cache_retry("rsvmine", 64, NULL);
	struct hak_cache *o = cache_retry("rsvother", 64, NULL);
	struct hak_reserve *r;
	struct rel a;
	char buf[1024];

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(o);
	option_values[OPT_ON_ERROR] = 1;	/* warn: report and go on */
	r = reserve_retry(c, 8);
	a = (struct rel){ o, r };
	capture_stderr(do_release, &a, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "hak_reserve_release"));
	ck_assert_ptr_nonnull(strstr(buf, "another cache"));
	ck_assert_ptr_nonnull(strstr(buf, "rsvmine"));
	ck_assert_uint_eq(hak_reserve_count(r), 8);	/* left alone */
	a.c = c;
	capture_stderr(do_release, &a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	capture_stderr(do_release, &a, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "released twice"));
	capture_stderr(do_reserve_alloc, &a, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "already released"));
	option_values[OPT_ON_ERROR] = 0;
	destroy_clean(c);
	destroy_clean(o);
}
END_TEST

/* A reserve released twice aborts the process by default. */
START_TEST(double_release_aborts_by_default)
{
	struct hak_cache *c = cache_retry("rsvabort", 64, NULL);
	struct hak_reserve *r = reserve_retry(c, 4);

	hak_reserve_release(c, r);
	close(2);		/* keep the expected report out of the log */
	hak_reserve_release(c, r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("reserve");
	TCase *tc = tcase_create("reserve");

	tcase_add_test(tc, reserve_hands_out_n_objects);
	tcase_add_test(tc, release_returns_what_is_left);
	tcase_add_test(tc, reserve_succeeds_while_everything_else_fails);
	tcase_add_test(tc, failed_reserve_keeps_nothing);
	tcase_add_test(tc, bad_releases_are_reported);
	tcase_add_test_raise_signal(tc, double_release_aborts_by_default,
				    SIGABRT);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	static const char *const env[] = { "HAKMEM_FAIL_MMAP=3", NULL };

	(void)argc;
	check_reexec_with(argv, env);
	return check_run(suite());
}
