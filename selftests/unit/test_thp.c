// SPDX-License-Identifier: MIT
/*
 * Unit tests: transparent huge pages for SuperSlabs (HAKMEM_THP). Where
 * enabled, the SuperSlabs after the first are backed by huge pages
 * (AnonHugePages of their mapping in /proc/self/smaps); where disabled,
 * never; decay keeps a huge page whole for a few free slabs, purges a
 * mostly free one, and unmaps an empty one; the statistics report
 * AnonHugePages.
 *
 * When the kernel's THP setting is never, or it could not find a huge
 * page (thp_fault_fallback in /proc/vmstat grew), the checks that need a
 * huge page are left out and the reason printed (Check has no skip).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem/hakmem.h"
#include "../../core/background.h"
#include "../../core/cache.h"
#include "../../core/options.h"
#include "../../core/registry.h"
#include "../../core/size_class.h"
#include "../../core/superslab.h"
#include "../lib/check_main.h"

#define SPANS	(HAK_SLABS_PER_SS - 1)

/* Whether the kernel's THP setting is never (or THP is not built in). */
static int kernel_thp_never(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return 1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return !!strstr(buf, "[never]") || !buf[0];
}

static long vmstat(const char *key)
{
	char line[128];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ' ')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

/* AnonHugePages (KiB) of the mapping holding @addr in /proc/self/smaps. */
static long huge_kb_at(uintptr_t addr)
{
	char line[512];
	unsigned long lo, hi;
	int inside = 0;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			inside = addr >= lo && addr < hi;
		else if (inside && !strncmp(line, "AnonHugePages:", 14))
			kb = atol(line + 14);
	}
	if (f)
		fclose(f);
	return kb;
}

/* A kmalloc cache whose spans are one slab. */
static struct hak_cache *one_slab_cache(void)
{
	for (unsigned int cl = 0; cl < HAK_NR_CLASSES; cl++)
		if (kmalloc_cache(cl)->span_slabs == 1 &&
		    kmalloc_cache(cl)->size >= 1024)
			return kmalloc_cache(cl);
	return NULL;
}

/*
 * Takes every slab of a fresh SuperSlab for @c: spans are taken until a
 * SuperSlab mapped for them is full. Fills @rw with its SPANS spans.
 */
static struct superslab *take_whole_superslab(struct hak_cache *c,
					      struct slab_rw **rw)
{
	struct hak_global_stats st;
	struct superslab *ss = NULL;
	uint64_t mapped;
	int n = 0;

	hak_global_stats(&st);
	mapped = st.superslabs_mapped;
	/* a new SuperSlab is taken in order, slab 1 to 31 */
	for (int i = 0; i < 4 * SPANS && n < SPANS; i++) {
		struct slab_rw *r = superslab_refill(c, 0);

		ck_assert_ptr_nonnull(r);
		hak_global_stats(&st);
		if (st.superslabs_mapped == mapped)
			continue;	/* an older SuperSlab's free slab */
		if (ss_of_rw(r) != ss) {
			ss = ss_of_rw(r);
			n = 0;
		}
		rw[n++] = r;
	}
	ck_assert_int_eq(n, SPANS);
	ck_assert_uint_eq(ss->free_bitmap, 0);
	return ss;
}

/* Releases spans [@from, @to) with no decay tick in between. */
static void release(struct superslab *ss, struct slab_rw **rw, int from,
		    int to)
{
	option_values[OPT_DECAY_MS] = 1L << 30;
	for (int i = from; i < to; i++)
		superslab_release_span(ss, rw_idx(rw[i]));
	option_values[OPT_DECAY_MS] = 0;
}

/* Two decay ticks with nothing in between (HAKMEM_DECAY_MS=0). */
static void two_ticks(void)
{
	background_work();
	background_work();
}

static int huge_page_missing(struct superslab *ss, long fallback0)
{
	if (kernel_thp_never()) {
		printf("test_thp: the kernel's THP setting is never: huge-page checks skipped\n");
		return 1;
	}
	if (huge_kb_at((uintptr_t)ss) <= 0 &&
	    vmstat("thp_fault_fallback") > fallback0) {
		printf("test_thp: the kernel found no huge page (thp_fault_fallback grew): huge-page checks skipped\n");
		return 1;
	}
	return 0;
}

START_TEST(always_uses_huge_pages)
{
	enum { N = 6000 };
	void **v = malloc(N * sizeof(*v));
	long fallback0 = vmstat("thp_fault_fallback");
	struct hak_global_stats st;
	int advised = 0, huge = 0, missing = 0;

	option_values[OPT_THP] = THP_ALWAYS;
	for (int i = 0; i < N; i++)	/* 6 MiB: three SuperSlabs or more */
		v[i] = hak_malloc(1000);
	for (int i = 0; i < N; i++) {
		struct superslab *ss = ss_of(v[i]);

		if (i && ss == ss_of(v[i - 1]))
			continue;
		if (!ss->thp)
			continue;
		advised++;
		if (huge_page_missing(ss, fallback0)) {
			missing = 1;
			break;
		}
		huge += huge_kb_at((uintptr_t)ss) > 0;
	}
	ck_assert_int_ge(advised, 2);
	if (!missing)
		ck_assert_int_eq(huge, advised);
	hak_global_stats(&st);
	ck_assert_str_eq(st.thp, "always");
	if (!missing)
		ck_assert_int_ge(st.anon_huge_bytes, (int64_t)HAK_SS_SIZE);
	for (int i = 0; i < N; i++)
		hak_free(v[i]);
	free(v);
}
END_TEST

START_TEST(never_uses_no_huge_pages)
{
	enum { N = 6000 };
	void **v = malloc(N * sizeof(*v));
	struct hak_global_stats st;

	option_values[OPT_THP] = THP_NEVER;
	for (int i = 0; i < N; i++)
		v[i] = hak_malloc(1000);
	for (int i = 0; i < N; i++) {
		ck_assert_uint_eq(ss_of(v[i])->thp, 0);
		if (!i || ss_of(v[i]) != ss_of(v[i - 1]))
			ck_assert_int_eq(huge_kb_at((uintptr_t)v[i]), 0);
	}
	hak_global_stats(&st);
	ck_assert_str_eq(st.thp, "never");
	for (int i = 0; i < N; i++)
		hak_free(v[i]);
	free(v);
}
END_TEST

/*
 * Decay of a huge-page SuperSlab: a few free slabs do not split it; at
 * least half free, its idle free slabs are purged (it is split); a fresh
 * one with every slab free is unmapped after a whole tick.
 */
START_TEST(decay_keeps_huge_pages_whole)
{
	struct hak_cache *c = one_slab_cache();
	struct slab_rw *rw[SPANS], *rw2[SPANS];
	long fallback0 = vmstat("thp_fault_fallback");
	struct superslab *ss, *ss2;

	ck_assert_ptr_nonnull(c);
	option_values[OPT_THP] = THP_ALWAYS;
	option_values[OPT_DECAY_MS] = 0;
	option_values[OPT_DIRTY_MAX_KB] = 1L << 22;
	hak_free(hak_malloc(100));	/* the first SuperSlab is mapped */
	ss = take_whole_superslab(c, rw);
	ck_assert_uint_eq(ss->thp, 1);
	if (huge_page_missing(ss, fallback0))
		return;
	ck_assert_int_gt(huge_kb_at((uintptr_t)ss), 0);

	release(ss, rw, 0, 3);			/* a few free slabs */
	two_ticks();
	ck_assert_uint_eq(ss->thp, 1);
	ck_assert_uint_eq(__builtin_popcount(ss->dirty_bitmap), 3);
	ck_assert_int_gt(huge_kb_at((uintptr_t)ss), 0);

	release(ss, rw, 3, SPANS / 2 + 1);	/* half of it free */
	two_ticks();
	ck_assert_uint_eq(ss->thp, 0);
	ck_assert_uint_eq(ss->dirty_bitmap, 0);

	ss2 = take_whole_superslab(c, rw2);
	ck_assert_uint_eq(ss2->thp, 1);
	release(ss2, rw2, 0, SPANS);		/* every slab free */
	ck_assert(registry_test((uintptr_t)ss2));
	background_work();
	ck_assert(registry_test((uintptr_t)ss2));	/* one tick: kept */
	background_work();
	ck_assert(!registry_test((uintptr_t)ss2));	/* unmapped */
	release(ss, rw, SPANS / 2 + 1, SPANS);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("thp");
	TCase *tc = tcase_create("thp");

	tcase_add_test(tc, always_uses_huge_pages);
	tcase_add_test(tc, never_uses_no_huge_pages);
	tcase_add_test(tc, decay_keeps_huge_pages_whole);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
