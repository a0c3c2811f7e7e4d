// SPDX-License-Identifier: MIT
/*
 * Unit tests: bad input is detected, named on stderr, and (with
 * HAKMEM_ON_ERROR=warn) ignored with the heap intact; by default it aborts.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../core/lock.h"
#include "../../core/options.h"
#include "../../core/report.h"
#include "../lib/check_main.h"
#include "../lib/capture.h"

static char errbuf[4096];

/* Runs @fn with stderr captured into errbuf, in warn mode. */
static void capture(void (*fn)(void *), void *arg)
{
	option_values[OPT_ON_ERROR] = 1;
	ck_assert_int_ge(capture_stderr(fn, arg, errbuf, sizeof(errbuf)), 0);
}

static void do_free(void *p)
{
	hak_free(p);
}

static void expect_report(void *p, const char *what)
{
	unsigned long before = report_count();
	char addr[32];

	capture(do_free, p);
	ck_assert_uint_eq(report_count(), before + 1);
	ck_assert_msg(strstr(errbuf, what), "report '%s' lacks '%s'", errbuf, what);
	snprintf(addr, sizeof(addr), "%p", p);
	ck_assert_msg(strstr(errbuf, addr), "report '%s' lacks the address", errbuf);
}

/* The heap is still fine: allocate, fill, check, free a few thousand. */
static void heap_still_works(void)
{
	void *v[2000];

	for (int i = 0; i < 2000; i++) {
		v[i] = hak_malloc((size_t)i % 700 + 1);
		memset(v[i], i & 0xff, (size_t)i % 700 + 1);
	}
	for (int i = 0; i < 2000; i++) {
		ck_assert_uint_eq(*(unsigned char *)v[i], i & 0xff);
		hak_free(v[i]);
	}
}

#ifdef CONFIG_HARDENED
/*
 * What the free fast path's checks catch; the CONFIG_HARDENED=n build
 * leaves them out (Documentation/security.rst).
 */
START_TEST(double_free_in_cache)
{
	void *p = hak_malloc(64);

	hak_free(p);
	expect_report(p, "double free");
	heap_still_works();
	/* p is still usable exactly once */
	void *q = hak_malloc(64);

	hak_free(q);
}
END_TEST

/*
 * An object back in its span's free set keeps its free tag (nothing is
 * written into free objects), 8-byte ones included.
 */
static void double_free_on_freelist_of(size_t size)
{
	enum { N = 20000 };
	void **v = malloc(N * sizeof(*v));
	void *victim;

	for (int i = 0; i < N; i++)
		v[i] = hak_malloc(size);
	victim = v[10];
	for (int i = 0; i < N; i++)
		if (i != 11)
			hak_free(v[i]);	/* most drain back to their slabs */
	hak_trim();		/* and the rest; v[11] keeps the span */
	expect_report(victim, "double free");
	heap_still_works();
	hak_free(v[11]);
	free(v);
}

START_TEST(double_free_on_slab_freelist)
{
	double_free_on_freelist_of(96);
}
END_TEST

START_TEST(double_free_on_slab_freelist_8)
{
	double_free_on_freelist_of(8);
}
END_TEST

START_TEST(interior_pointer)
{
	char *p = hak_malloc(100);

	expect_report(p + 8, "interior pointer");
	expect_report(p + 1, "interior pointer");
	heap_still_works();
	memset(p, 0, 100);
	hak_free(p);
}
END_TEST

START_TEST(foreign_pointers)
{
	static char global[128];
	char local[16];
	void *libc = malloc(32);

	expect_report(global, "not allocated by hakmem");
	expect_report(local, "not allocated by hakmem");
	expect_report(libc, "not allocated by hakmem");
	expect_report((void *)0x1000, "not allocated by hakmem");
	heap_still_works();
	free(libc);
}
END_TEST

START_TEST(never_allocated_object)
{
	char *p = hak_malloc(32);
	/* the next object of the span was never handed out */
	char *q = p + 32 * 10;

	expect_report(q, "never allocated");
	hak_free(p);
	heap_still_works();
}
END_TEST

/* Default mode: the report is followed by abort(). */
START_TEST(default_mode_aborts)
{
	void *p = hak_malloc(64);

	option_values[OPT_ON_ERROR] = 0;
	hak_free(p);
	hak_free(p);
}
END_TEST
#endif /* CONFIG_HARDENED */

/*
 * Every build, CONFIG_HARDENED=n too, names what is no slab object: an
 * address in the first 64 KiB of a 2 MiB chunk (here low addresses no
 * program maps) goes to the slow path, which classifies it.
 */
START_TEST(non_slab_pointers_in_every_build)
{
	expect_report((void *)0x1000, "not allocated by hakmem");
	expect_report((void *)0x200000, "not allocated by hakmem");
	heap_still_works();
}
END_TEST

/* Default mode, every build: a huge double free aborts. */
START_TEST(default_mode_aborts_on_huge)
{
	void *p = hak_malloc(8 << 20);

	option_values[OPT_ON_ERROR] = 0;
	hak_free(p);
	hak_free(p);
}
END_TEST

START_TEST(huge_interior_and_double_free)
{
	char *h = hak_malloc(4 << 20);	/* above the largest class */

	expect_report(h + 4096, "interior pointer into a huge allocation");
	hak_free(h);
	expect_report(h, "double free of a huge allocation");	/* cached */
	hak_trim();
	expect_report(h, "not allocated by hakmem");		/* unmapped */
	heap_still_works();
}
END_TEST

static struct hak_cache *wrong;

static void do_free_into_wrong(void *p)
{
	hak_cache_free(wrong, p);
}

START_TEST(wrong_cache)
{
	struct hak_cache *a = hak_cache_create("a", 64, 0, 0, NULL);
	void *p = hak_cache_alloc(a);
	unsigned long before = report_count();

	wrong = hak_cache_create("b", 64, 0, 0, NULL);
	option_values[OPT_ON_ERROR] = 1;
	ck_assert_int_gt(capture_stderr(do_free_into_wrong, p, errbuf,
					sizeof(errbuf)), 0);
	ck_assert_uint_eq(report_count(), before + 1);
	ck_assert_ptr_nonnull(strstr(errbuf, "another cache"));
	ck_assert_ptr_nonnull(strstr(errbuf, "[cache a]"));
	hak_cache_free(a, p);	/* the right cache still takes it */
}
END_TEST

static void do_usable(void *p)
{
	ck_assert_uint_eq(hak_malloc_usable_size(p), 0);
}

static void do_realloc(void *p)
{
	ck_assert_ptr_null(hak_realloc(p, 100));
}

START_TEST(realloc_and_usable_size_of_bad_pointers)
{
	char *p = hak_malloc(200);
	unsigned long before = report_count();

	capture(do_usable, p + 16);
	ck_assert_ptr_nonnull(strstr(errbuf, "malloc_usable_size"));
	capture(do_realloc, p + 16);
	ck_assert_ptr_nonnull(strstr(errbuf, "realloc"));
	ck_assert_uint_eq(report_count(), before + 2);
	hak_free(p);
}
END_TEST


#ifdef HAK_DEBUG
/*
 * CONFIG_DEBUG=y: a broken internal invariant (here a lock unlocked twice)
 * aborts with its place and condition on stderr.
 */
START_TEST(debug_invariant_aborts)
{
	int fds[2], status;
	char buf[1024];
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct mutex_lock l = HAK_LOCK_INIT;

		dup2(fds[1], 2);
		mutex_unlock(&l);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	ck_assert_ptr_nonnull(strstr(buf, "hakmem: BUG at "));
	ck_assert_ptr_nonnull(strstr(buf, "lock.h"));
}
END_TEST
#endif

static Suite *suite(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = tcase_create("reports");

#ifdef CONFIG_HARDENED
	tcase_add_test(tc, double_free_in_cache);
	tcase_add_test(tc, double_free_on_slab_freelist);
	tcase_add_test(tc, double_free_on_slab_freelist_8);
	tcase_add_test(tc, interior_pointer);
	tcase_add_test(tc, foreign_pointers);
	tcase_add_test(tc, never_allocated_object);
	tcase_add_test_raise_signal(tc, default_mode_aborts, SIGABRT);
#endif
	tcase_add_test(tc, non_slab_pointers_in_every_build);
	tcase_add_test_raise_signal(tc, default_mode_aborts_on_huge, SIGABRT);
	tcase_add_test(tc, huge_interior_and_double_free);
	tcase_add_test(tc, wrong_cache);
	tcase_add_test(tc, realloc_and_usable_size_of_bad_pointers);
#ifdef HAK_DEBUG
	tcase_add_test(tc, debug_invariant_aborts);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
