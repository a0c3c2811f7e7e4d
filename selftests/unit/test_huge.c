// SPDX-License-Identifier: MIT
/*
 * Unit tests: the cache of freed huge mappings (reuse without a new mapping
 * or new faults, splits, pages gathered by mremap, the two-stage decay,
 * fault injection on each path) and realloc of huge blocks in place.
 *
 * The decay is driven by explicit huge_decay() calls with a made-up clock,
 * HAKMEM_HUGE_DECAY_MS set high so that the calls inside the allocator
 * never decay anything on their own: nothing depends on the wall clock.
 * "No new fault" is checked with mincore(): the pages of a reused block are
 * resident before it is written. Under valgrind (which emulates mremap and
 * keeps memory of its own) those checks and the RSS check are skipped.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "hakmem/hakmem.h"
#include "../../core/huge.h"
#include "../../core/options.h"
#include "../../core/os.h"
#include "../lib/check_main.h"
#include "../lib/capture.h"

#define MiB		(1UL << 20)
#define DECAY_MS	(1L << 30)	/* never reached by the real clock */

static void setup(void)
{
	/*
	 * The tests count minor faults per 4 KiB page: a kernel whose THP
	 * setting is "always" (the Debian kernel of the VM tests) would back
	 * the mappings with 2 MiB pages and fault once per 512 of them.
	 */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	option_values[OPT_HUGE_DECAY_MS] = DECAY_MS;
	option_values[OPT_HUGE_CACHE_KB] = 256 << 10;
}

/* Pages of [@p, @p + @n) not resident: each would fault when written. */
static size_t nonresident(const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p & ~4095UL;
	size_t len = (uintptr_t)p + n - a, pages = (len + 4095) / 4096, count = 0;
	unsigned char *vec = malloc(pages);

	ck_assert_ptr_nonnull(vec);
	ck_assert_int_eq(mincore((void *)a, len, vec), 0);
	for (size_t i = 0; i < pages; i++)
		count += !(vec[i] & 1);
	free(vec);
	return count;
}

/*
 * Whether [@p, @p + @n) is resident but for two pages at most (a former
 * guard page, never written, may be among them); always true under
 * valgrind.
 */
static int resident(const void *p, size_t n)
{
	return RUNNING_ON_VALGRIND || nonresident(p, n) <= 2;
}

/* Resident pages of the process, from /proc/self/statm. */
static long resident_pages(void)
{
	long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &res), 2);
	fclose(f);
	return res;
}

static uint64_t huge_bytes(void)
{
	struct hak_global_stats st;

	hak_global_stats(&st);
	return st.huge_bytes;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 512)
		if (p[i] || p[i + 511 < n ? i + 511 : n - 1])
			return 0;
	return 1;
}

/* Everything freed and trimmed: no huge byte is left mapped. */
static void assert_trimmed(void)
{
	struct hak_global_stats st;

	hak_trim();
	hak_global_stats(&st);
	ck_assert_uint_eq(st.huge_allocs, 0);
	ck_assert_uint_eq(st.huge_bytes, 0);
}

START_TEST(reuse_within_decay_costs_no_mapping_and_no_faults)
{
	size_t n = 8 * MiB;
	char *a = hak_malloc(n), *b;
	uint64_t mapped;

	ck_assert_uint_gt(nonresident(a, n), n / 4096 / 2);	/* fresh */
	memset(a, 1, n);
	mapped = os_mapped_bytes();
	hak_free(a);
	b = hak_malloc(n);
	ck_assert_ptr_eq(b, a);
	ck_assert_uint_eq(os_mapped_bytes(), mapped);
	ck_assert(resident(b, n));	/* writing it faults nothing */
	hak_free(b);
	assert_trimmed();
}
END_TEST

/* A smaller request takes the front of a larger mapping; the rest stays. */
START_TEST(larger_mapping_is_split)
{
	char *a = hak_malloc(16 * MiB), *b, *c;
	uint64_t mapped;

	memset(a, 1, 16 * MiB);
	mapped = os_mapped_bytes();
	hak_free(a);
	b = hak_malloc(5 * MiB);	/* header + 5 MiB: the first 6 MiB */
	ck_assert_ptr_eq(b, a);
	c = hak_malloc(9 * MiB);	/* the other 10 MiB */
	ck_assert_ptr_eq(c, a + 6 * MiB);
	ck_assert_uint_eq(os_mapped_bytes(), mapped);
	ck_assert(resident(c, 9 * MiB));
	ck_assert_uint_ge(hak_malloc_usable_size(b), 5 * MiB);
	hak_free(b);
	hak_free(c);
	assert_trimmed();
}
END_TEST

/* No cached mapping is large enough: cached pages are moved together. */
START_TEST(small_mappings_are_gathered)
{
	char *a = hak_malloc(6 * MiB), *gap = hak_malloc(2 * MiB);
	char *b = hak_malloc(6 * MiB), *c;
	size_t n = 12 * MiB;

	memset(a, 1, hak_malloc_usable_size(a));	/* all resident */
	memset(b, 2, hak_malloc_usable_size(b));
	hak_free(a);
	hak_free(b);
	c = hak_malloc(n);
	ck_assert_ptr_nonnull(c);
	/* all of it came from resident pages */
	ck_assert(resident(c, n));
	memset(c, 3, n);
	hak_free(c);
	/* and calloc of gathered pages reads zero */
	c = hak_calloc(1, n);
	ck_assert(all_zero((unsigned char *)c, n));
	hak_free(c);
	hak_free(gap);
	assert_trimmed();
}
END_TEST

START_TEST(calloc_of_reused_block_reads_zero)
{
	unsigned char *a = hak_malloc(10 * MiB), *b;

	memset(a, 0x5a, 10 * MiB);
	hak_free(a);
	b = hak_calloc(3, MiB);		/* a split of the cached mapping */
	ck_assert_ptr_eq(b, a);
	ck_assert(all_zero(b, 3 * MiB));
	memset(b, 0x5a, 3 * MiB);
	hak_free(b);
	b = hak_calloc(1, 20 * MiB);	/* grown from it, the rest fresh */
	ck_assert(all_zero(b, 20 * MiB));
	hak_free(b);
	assert_trimmed();
}
END_TEST

/* After one decay time the pages are lazily freed, after two unmapped. */
START_TEST(decay_purges_then_unmaps)
{
	size_t n = 16 * MiB;
	char *a = hak_malloc(n), *b;
	uint64_t now, mapped, cached;
	long res;

	memset(a, 1, n);
	mapped = os_mapped_bytes();
	hak_free(a);
	now = os_now_ms();
	ck_assert_int_eq(huge_decay(now + DECAY_MS / 2), 0);	/* too early */
	ck_assert_int_eq(huge_decay(now + DECAY_MS), 1);	/* MADV_FREE */
	ck_assert_uint_eq(os_mapped_bytes(), mapped);
	/* still cached: reused at the same place, still named if freed twice */
	b = hak_malloc(n);
	ck_assert_ptr_eq(b, a);
	memset(b, 2, n);
	ck_assert_uint_gt(huge_bytes(), n);
	res = resident_pages();
	hak_free(b);
	cached = huge_bytes();	/* all of it is the cached mapping */
	ck_assert_uint_gt(cached, n);
	now = os_now_ms();	/* not before the free */
	ck_assert_int_eq(huge_decay(now + DECAY_MS), 1);
	ck_assert_int_eq(huge_decay(now + 2 * DECAY_MS), 1);	/* unmapped */
	ck_assert_uint_eq(os_mapped_bytes(), mapped - cached);
	ck_assert_uint_eq(huge_bytes(), 0);
	/* (a few pages of slack: stdio's buffers for statm) */
	if (!RUNNING_ON_VALGRIND)
		ck_assert_int_le(resident_pages(), res - (long)(n / 4096) + 64);
	ck_assert_int_eq(huge_decay(now + 4 * DECAY_MS), 0);	/* nothing left */
}
END_TEST

static char errbuf[4096];

static void do_free(void *p)
{
	hak_free(p);
}

/* MADV_FREE spares the header page: a second free is still named. */
START_TEST(double_free_after_purge_is_named)
{
	char *a = hak_malloc(4 * MiB);

	memset(a, 1, 4 * MiB);
	hak_free(a);
	ck_assert_int_eq(huge_decay(os_now_ms() + DECAY_MS), 1);
	option_values[OPT_ON_ERROR] = 1;
	ck_assert_int_ge(capture_stderr(do_free, a, errbuf, sizeof(errbuf)), 0);
	ck_assert_msg(strstr(errbuf, "double free of a huge allocation"),
		      "report '%s'", errbuf);
	assert_trimmed();
}
END_TEST

/* The byte bound: a mapping above it is unmapped, others evict the oldest. */
START_TEST(cache_keeps_to_its_bound)
{
	uint64_t mapped = os_mapped_bytes();
	char *a = hak_malloc(12 * MiB), *b = hak_malloc(12 * MiB);

	option_values[OPT_HUGE_CACHE_KB] = 16 << 10;
	hak_free(a);
	ck_assert_uint_le(huge_bytes(), 12 * MiB + 4096 + 16 * MiB);
	hak_free(b);		/* evicts a */
	ck_assert_uint_le(huge_bytes(), 16 * MiB);
	ck_assert_uint_le(os_mapped_bytes(), mapped + 16 * MiB);
	a = hak_malloc(20 * MiB);
	hak_free(a);		/* larger than the bound: unmapped at once */
	ck_assert_uint_le(huge_bytes(), 16 * MiB);
	option_values[OPT_HUGE_CACHE_KB] = 0;	/* 0: no cache */
	a = hak_malloc(4 * MiB);
	hak_free(a);
	assert_trimmed();
}
END_TEST

/* Growing by realloc stays in place while the slack lasts, never copies. */
START_TEST(huge_realloc_in_place_keeps_contents)
{
	unsigned char *p = hak_malloc(4 * MiB), *q;
	size_t usable = hak_malloc_usable_size(p);

	memset(p, 7, 4 * MiB);
	q = hak_realloc(p, usable);	/* the mapping's own slack */
	ck_assert_ptr_eq(q, p);
	q = hak_realloc(p, usable + 1);	/* grown, with half as much again */
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_ge(hak_malloc_usable_size(q), usable + usable / 2);
	usable = hak_malloc_usable_size(q);
	p = q;
	q = hak_realloc(p, usable);	/* within the slack: same address */
	ck_assert_ptr_eq(q, p);
	/* moved or not, the old pages came along: still resident */
	ck_assert(resident(q, 4 * MiB));
	for (size_t i = 0; i < 4 * MiB; i += 4096)
		ck_assert_uint_eq(q[i], 7);
	hak_free(q);
	assert_trimmed();
}
END_TEST

/* A huge block grown by realloc gets cached resident pages, not fresh ones. */
START_TEST(huge_realloc_gathers_cached_pages)
{
	char *a = hak_malloc(12 * MiB), *p = hak_malloc(3 * MiB);
	size_t u = hak_malloc_usable_size(p);

	memset(a, 1, hak_malloc_usable_size(a));	/* all of it resident */
	memset(p, 2, 3 * MiB);
	hak_free(a);
	p = hak_realloc(p, 9 * MiB);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p[0] + p[3 * MiB - 1], 4);
	/* the new part (past the old usable size) came from the cache */
	ck_assert(resident(p + u, 9 * MiB - u));
	hak_free(p);
	assert_trimmed();
}
END_TEST

/*
 * A small block grown by realloc past 64 KiB (REALLOC_MAP_MIN) moves once
 * into a mapping of its own with half as much again; the next growths
 * stay in place.
 */
START_TEST(realloc_growth_from_64k_stays_in_place)
{
	unsigned char *p = hak_malloc(50 << 10), *q;

	memset(p, 6, 50 << 10);
	q = hak_realloc(p, 70 << 10);		/* copied into a mapping */
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_ge(hak_malloc_usable_size(q), 105 << 10);
	memset(q + (50 << 10), 7, 20 << 10);
	p = hak_realloc(q, 105 << 10);		/* within: same address */
	ck_assert_ptr_eq(p, q);
	for (size_t i = 0; i < (70 << 10); i += 999)
		ck_assert_uint_eq(p[i], i < (50 << 10) ? 6 : 7);
	hak_free(p);
	assert_trimmed();
}
END_TEST

/*
 * A small block grown by realloc past 256 KiB moves once into a mapping of
 * its own with half as much again; the next growths stay in place.
 */
START_TEST(realloc_growth_leaves_the_classes_once)
{
	unsigned char *p = hak_malloc(200 << 10), *q;
	size_t n = 300 << 10;

	memset(p, 4, 200 << 10);
	q = hak_realloc(p, n);		/* copied into a mapping */
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_ge(hak_malloc_usable_size(q), n + n / 2);
	for (size_t i = 0; i < (200 << 10); i += 1000)
		ck_assert_uint_eq(q[i], 4);
	memset(q, 5, n);
	p = q;
	q = hak_realloc(p, n + n / 2);	/* within: same address */
	ck_assert_ptr_eq(q, p);
	q = hak_realloc(p, n + n / 2 + 1);	/* beyond: mremap */
	ck_assert_ptr_nonnull(q);
	for (size_t i = 0; i < n; i += 1000)
		ck_assert_uint_eq(q[i], 5);
	q = hak_realloc(q, 1000);		/* back into a size class */
	ck_assert_uint_eq(q[999], 5);
	ck_assert_uint_le(hak_malloc_usable_size(q), 1024);
	hak_free(q);
	assert_trimmed();
}
END_TEST

/* Allocates @n bytes; NULL must come with ENOMEM, memory must be usable. */
static void *alloc_or_enomem(size_t n, int *fails)
{
	char *p;

	errno = 0;
	p = hak_malloc(n);
	if (!p) {
		ck_assert_int_eq(errno, ENOMEM);
		++*fails;
		return NULL;
	}
	/* three pages (writing them all would make the test slow) */
	p[0] = 9;
	p[n / 2] = 9;
	p[n - 1] = 9;
	ck_assert_int_eq(p[0] + p[n / 2] + p[n - 1], 27);
	return p;
}

/* HAKMEM_FAIL_MMAP on every mapping path of the cache: ENOMEM, no damage. */
START_TEST(fail_mmap_on_cache_paths)
{
	static const size_t sizes[] = { 3, 5, 2, 9, 4, 12, 7, 6 };
	void *v[8] = { 0 };
	int fails = 0;

	for (long every = 1; every <= 5; every++) {
		option_values[OPT_FAIL_MMAP] = 0;
		for (int i = 0; i < 8; i++)
			v[i] = alloc_or_enomem(sizes[i] * MiB, &fails);
		option_values[OPT_FAIL_MMAP] = every;
		for (int r = 0; r < 24; r++) {
			int k = (r * 5) % 8;

			hak_free(v[k]);
			/* larger than most cached: assembled or fresh */
			v[k] = alloc_or_enomem((sizes[(k + r) % 8] + 6) * MiB,
					       &fails);
		}
		option_values[OPT_FAIL_MMAP] = 0;
		for (int i = 0; i < 8; i++)
			hak_free(v[i]);
	}
	ck_assert_int_gt(fails, 0);
	for (int i = 0; i < 8; i++)
		v[i] = alloc_or_enomem(sizes[i] * MiB, &fails);
	for (int i = 0; i < 8; i++)
		ck_assert_ptr_nonnull(v[i]);
	for (int i = 0; i < 8; i++)
		hak_free(v[i]);
	assert_trimmed();
}
END_TEST

/* Failed mappings under realloc: ENOMEM and the old block intact, or done. */
START_TEST(fail_mmap_on_realloc_paths)
{
	int fails = 0;

	for (long every = 1; every <= 4; every++) {
		unsigned char *p = hak_malloc(100 << 10), *q;
		size_t n = 100 << 10;

		memset(p, 6, n);
		option_values[OPT_FAIL_MMAP] = every;
		/* (every = 1 fails each mapping: the loop gives up) */
		for (int tries = 0; n < (6 << 20) && tries < 32; tries++) {
			size_t m = n * 2;

			errno = 0;
			q = hak_realloc(p, m);
			if (!q) {
				ck_assert_int_eq(errno, ENOMEM);
				ck_assert_uint_eq(p[n - 1], 6);
				fails++;
				continue;	/* the next try may pass */
			}
			ck_assert_uint_eq(q[0] + q[n - 1], 12);
			memset(q, 6, m);
			p = q;
			n = m;
		}
		option_values[OPT_FAIL_MMAP] = 0;
		ck_assert_uint_eq(p[0] + p[n - 1], 12);
		hak_free(p);
	}
	ck_assert_int_gt(fails, 0);
	assert_trimmed();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("huge");
	TCase *tc = tcase_create("cache");

	/* a generous bound: the tests touch hundreds of MiB, slow on a busy VM */
	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, reuse_within_decay_costs_no_mapping_and_no_faults);
	tcase_add_test(tc, larger_mapping_is_split);
	tcase_add_test(tc, small_mappings_are_gathered);
	tcase_add_test(tc, calloc_of_reused_block_reads_zero);
	tcase_add_test(tc, decay_purges_then_unmaps);
	tcase_add_test(tc, double_free_after_purge_is_named);
	tcase_add_test(tc, cache_keeps_to_its_bound);
	tcase_add_test(tc, huge_realloc_in_place_keeps_contents);
	tcase_add_test(tc, huge_realloc_gathers_cached_pages);
	tcase_add_test(tc, realloc_growth_leaves_the_classes_once);
	tcase_add_test(tc, realloc_growth_from_64k_stays_in_place);
	tcase_add_test(tc, fail_mmap_on_cache_paths);
	tcase_add_test(tc, fail_mmap_on_realloc_paths);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
