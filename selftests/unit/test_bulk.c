// SPDX-License-Identifier: MIT
/*
 * Unit tests: hak_cache_alloc_bulk() and hak_cache_free_bulk(): all or
 * nothing, the objects as single calls give them, one batch through this
 * CPU's bin, other CPUs' objects back to their owners, invalid objects
 * reported while the rest are freed. The suite runs in the mode in force
 * (per-CPU when rseq works), then again with HAKMEM_RSEQ=0.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../lib/capture.h"
#include "../lib/check_main.h"
#include "../lib/cpu.h"
#include "../../core/options.h"

#define HAK_MAX_ROWS	256

struct obj {
	uint64_t magic;
	char payload[56];
};

static void obj_ctor(void *p)
{
	((struct obj *)p)->magic = 0xb01c;
}

/* The first two CPUs this process may run on (-1 when there is one). */
static int cpus[2] = { -1, -1 };

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

static void assert_distinct(void **v, size_t n)
{
	void **s = malloc(n * sizeof(*s));

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_ptr);
	for (size_t i = 1; i < n; i++)
		ck_assert_ptr_ne(s[i - 1], s[i]);
	free(s);
}

struct destroy_arg {
	struct hak_cache *c;
};

static void do_destroy(void *arg)
{
	hak_cache_destroy(((struct destroy_arg *)arg)->c);
}

/* Destroys @c and checks that no object of it was left allocated. */
static void destroy_clean(struct hak_cache *c)
{
	struct destroy_arg a = { c };
	char buf[512];

	capture_stderr(do_destroy, &a, buf, sizeof(buf));
	ck_assert_msg(!strstr(buf, "still allocated"), "%s", buf);
}

/* n objects, distinct, constructed, usable, freed back completely. */
START_TEST(alloc_bulk_gives_n_constructed_objects)
{
	static const size_t ns[] = { 1, 16, 64, 255, 256, 257, 1000, 5000 };
	struct hak_cache *c = hak_cache_create("bulk", sizeof(struct obj), 0,
					       0, obj_ctor);
	void **v = malloc(5000 * sizeof(*v));

	ck_assert_ptr_nonnull(c);
	for (unsigned int k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		size_t n = ns[k];

		ck_assert_uint_eq(hak_cache_alloc_bulk(c, n, v), n);
		assert_distinct(v, n);
		for (size_t i = 0; i < n; i++) {
			struct obj *o = v[i];

			ck_assert_uint_eq(o->magic, 0xb01c);
			memset(o->payload, (int)i, sizeof(o->payload));
		}
		hak_cache_free_bulk(c, n, v);
	}
	ck_assert_uint_eq(hak_cache_alloc_bulk(c, 0, v), 0);
	free(v);
	destroy_clean(c);
}
END_TEST

/* Bulk and single calls mix: either frees what the other allocated. */
START_TEST(bulk_and_single_calls_mix)
{
	struct hak_cache *c = hak_cache_create("bulkmix", 100, 0, 0, NULL);
	void *v[300];

	ck_assert_ptr_nonnull(c);
	for (int round = 0; round < 20; round++) {
		ck_assert_uint_eq(hak_cache_alloc_bulk(c, 300, v), 300);
		for (int i = 0; i < 300; i += 2)
			hak_cache_free(c, v[i]);
		for (int i = 0; i < 300; i += 2)
			v[i] = hak_cache_alloc(c);
		hak_cache_free_bulk(c, 300, v);
		/* a second free of any of them is caught by the single call */
	}
	destroy_clean(c);
}
END_TEST

/*
 * Objects of this CPU freed in bulk go into its bin as one batch, which
 * the next bulk allocation hands back: the same set.
 */
START_TEST(free_bulk_fills_this_cpus_bin)
{
	struct hak_cache *c = hak_cache_create("bulkbin", 64, 0, 0, NULL);
	void *a[32], *b[32];

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(pin_to_cpu(cpus[0]), 0);
	for (int i = 0; i < 32; i++)
		a[i] = hak_cache_alloc(c);	/* makes the region */
	hak_cache_free_bulk(c, 32, a);
	ck_assert_uint_eq(hak_cache_alloc_bulk(c, 32, b), 32);
	qsort(a, 32, sizeof(void *), cmp_ptr);
	qsort(b, 32, sizeof(void *), cmp_ptr);
	ck_assert_mem_eq(a, b, sizeof(a));
	hak_cache_free_bulk(c, 32, b);
	destroy_clean(c);
}
END_TEST

/* The central pool's refills + drains of cache @name so far. */
static uint64_t central_batches(const char *name)
{
	static struct hak_slabinfo rows[HAK_MAX_ROWS];
	int n = hak_slabinfo(rows, HAK_MAX_ROWS);

	for (int i = 0; i < n; i++)
		if (!strcmp(rows[i].name, name))
			return rows[i].refills + rows[i].drains;
	ck_abort_msg("no slabinfo row for %s", name);
	return 0;
}

static void *bulk_only_rounds(void *arg)
{
	struct hak_cache *c = arg;
	void *v[32];

	if (cpus[0] >= 0 && pin_to_cpu(cpus[0]))
		return (void *)1;
	for (int round = 0; round < 100; round++) {
		if (hak_cache_alloc_bulk(c, 32, v) != 32)
			return (void *)2;
		hak_cache_free_bulk(c, 32, v);
	}
	return NULL;
}

/*
 * A thread that only ever calls the bulk functions still gets a bin (the
 * first miss takes the single-object slow path, which sets it up): 100
 * rounds of 32 objects move through it, not through the central pool
 * (each round would be a refill and a drain).
 */
START_TEST(bulk_only_thread_uses_its_bin)
{
	struct hak_cache *c = hak_cache_create("bulkonly", 64, 0, 0, NULL);
	pthread_t t;
	void *rc;

	ck_assert_ptr_nonnull(c);
	pthread_create(&t, NULL, bulk_only_rounds, c);
	pthread_join(t, &rc);
	ck_assert_ptr_null(rc);
	ck_assert_uint_lt(central_batches("bulkonly"), 10);
	destroy_clean(c);
}
END_TEST

/*
 * All or nothing: when no memory can be mapped halfway, the call returns
 * 0 with ENOMEM and every object it took is back (destroy finds none).
 */
START_TEST(alloc_bulk_all_or_nothing)
{
	enum { N = 200000 };	/* 800 MB of 4 KiB objects: beyond the free slabs */
	struct hak_cache *c = hak_cache_create("bulkfail", 4096, 0, 0, NULL);
	void **v = malloc(N * sizeof(*v));

	ck_assert_ptr_nonnull(c);
	option_values[OPT_FAIL_MMAP] = 1;	/* every mapping fails from now on */
	errno = 0;
	ck_assert_uint_eq(hak_cache_alloc_bulk(c, N, v), 0);
	ck_assert_int_eq(errno, ENOMEM);
	option_values[OPT_FAIL_MMAP] = 0;
	ck_assert_uint_eq(hak_cache_alloc_bulk(c, 100, v), 100);
	hak_cache_free_bulk(c, 100, v);
	free(v);
	destroy_clean(c);
}
END_TEST

struct bad_free {
	struct hak_cache *c;
	void **v;
	size_t n;
};

static void do_free_bulk(void *arg)
{
	struct bad_free *b = arg;

	hak_cache_free_bulk(b->c, b->n, b->v);
}

/*
 * Frees @v[0..@n) in one hak_cache_free_bulk() with invalid frees
 * reported and skipped (HAKMEM_ON_ERROR=warn), and checks that stderr
 * names the call, @what and, unless NULL, @also.
 */
static void expect_bulk_report(struct hak_cache *c, void **v, size_t n,
			       const char *what, const char *also)
{
	struct bad_free arg = { c, v, n };
	char buf[1024];

	option_values[OPT_ON_ERROR] = 1;
	capture_stderr(do_free_bulk, &arg, buf, sizeof(buf));
	option_values[OPT_ON_ERROR] = 0;
	ck_assert_ptr_nonnull(strstr(buf, "hak_cache_free_bulk"));
	ck_assert_ptr_nonnull(strstr(buf, what));
	if (also)
		ck_assert_ptr_nonnull(strstr(buf, also));
}

/* An object of another cache is named on stderr; the rest are freed. */
START_TEST(free_bulk_reports_object_of_another_cache)
{
	struct hak_cache *c = hak_cache_create("bulkmine", 48, 0, 0, NULL);
	struct hak_cache *o = hak_cache_create("bulkother", 48, 0, 0, NULL);
	void *v[10], *stranger;

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(hak_cache_alloc_bulk(c, 9, v), 9);
	stranger = hak_cache_alloc(o);
	v[9] = v[4];
	v[4] = stranger;
	expect_bulk_report(c, v, 10, "another cache", "bulkother");
	/* the stranger is still allocated in its own cache: free it there */
	hak_cache_free(o, stranger);
	destroy_clean(c);
	destroy_clean(o);
}
END_TEST

/*
 * The checks are made once per slab for a run of objects of one slab,
 * but every object is still checked: an interior pointer in the middle
 * of a run is reported, the objects around it are freed.
 */
START_TEST(free_bulk_reports_interior_pointer_in_a_run)
{
	struct hak_cache *c = hak_cache_create("bulkrun", 64, 0, 0, NULL);
	void *v[9];

	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(hak_cache_alloc_bulk(c, 8, v), 8);
	v[8] = v[4];
	v[4] = (char *)v[3] + 8;
	expect_bulk_report(c, v, 9, "interior pointer", NULL);
	destroy_clean(c);
}
END_TEST

#ifdef CONFIG_HARDENED
/*
 * The same object twice in one batch: the second is a double free (the
 * free tag; CONFIG_HARDENED=n builds do not check it).
 */
START_TEST(free_bulk_reports_double_free)
{
	struct hak_cache *c = hak_cache_create("bulkdouble", 32, 0, 0, NULL);
	void *v[5];

	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(hak_cache_alloc_bulk(c, 4, v), 4);
	v[4] = v[1];
	expect_bulk_report(c, v, 5, "double free", NULL);
	destroy_clean(c);
}
END_TEST
#endif

/*
 * Per-CPU mode: objects of CPU 0's spans freed in bulk on CPU 1 are not
 * handed out again on CPU 1 (they go to its foreign bin and from there to
 * their owner), as single frees are not.
 */
START_TEST(free_bulk_sends_other_cpus_objects_back)
{
	struct hak_cache *c = hak_cache_create("bulkcpu", 64, 0, 0, NULL);
	void *mine[8], *got[64];

	ck_assert_ptr_nonnull(c);
	if (percpu_pair_missing())
		goto out;
	ck_assert_int_eq(pin_to_cpu(cpus[0]), 0);
	ck_assert_uint_eq(hak_cache_alloc_bulk(c, 8, mine), 8);
	ck_assert_int_eq(pin_to_cpu(cpus[1]), 0);
	hak_cache_free_bulk(c, 8, mine);
	ck_assert_uint_eq(hak_cache_alloc_bulk(c, 64, got), 64);
	for (int i = 0; i < 64; i++)
		for (int j = 0; j < 8; j++)
			ck_assert_ptr_ne(got[i], mine[j]);
	hak_cache_free_bulk(c, 64, got);
out:
	destroy_clean(c);
}
END_TEST

static void *bulk_worker(void *arg)
{
	struct hak_cache *c = arg;
	void *v[128];

	for (int round = 0; round < 2000; round++) {
		size_t n = 1 + (size_t)round % 128;

		if (hak_cache_alloc_bulk(c, n, v) != n)
			return (void *)1;
		for (size_t i = 0; i < n; i++)
			*(uint64_t *)v[i] = (uint64_t)(uintptr_t)v[i];
		for (size_t i = 0; i < n; i++)
			if (*(uint64_t *)v[i] != (uint64_t)(uintptr_t)v[i])
				return (void *)2;
		hak_cache_free_bulk(c, n, v);
	}
	return NULL;
}

/* Four threads, bulk calls only: no object is handed out twice at once. */
START_TEST(bulk_from_threads)
{
	struct hak_cache *c = hak_cache_create("bulkthreads", 40, 0, 0, NULL);
	pthread_t t[4];
	void *rc;

	ck_assert_ptr_nonnull(c);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, bulk_worker, c);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &rc);
		ck_assert_ptr_null(rc);
	}
	hak_trim();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bulk");
	TCase *tc = tcase_create("bulk");

	tcase_add_test(tc, alloc_bulk_gives_n_constructed_objects);
	tcase_add_test(tc, bulk_and_single_calls_mix);
	tcase_add_test(tc, free_bulk_fills_this_cpus_bin);
	tcase_add_test(tc, bulk_only_thread_uses_its_bin);
	tcase_add_test(tc, alloc_bulk_all_or_nothing);
	tcase_add_test(tc, free_bulk_reports_object_of_another_cache);
	tcase_add_test(tc, free_bulk_reports_interior_pointer_in_a_run);
#ifdef CONFIG_HARDENED
	tcase_add_test(tc, free_bulk_reports_double_free);
#endif
	tcase_add_test(tc, free_bulk_sends_other_cpus_objects_back);
	tcase_add_test(tc, bulk_from_threads);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	allowed_cpus(cpus, 2);
	return check_run_both_modes(suite(), argv);
}
