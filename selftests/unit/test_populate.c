// SPDX-License-Identifier: MIT
/*
 * Unit tests: fresh pages populated ahead of the carve (span_populate(),
 * os_populate()). On a SuperSlab without huge pages, the refill whose
 * carve first reaches page j of a fresh slab (j = 2, 4, 8) leaves pages j
 * to 2j - 1 resident and the pages after them untouched (mincore()), also
 * when the refill began in another span; a dirty slab taken again is
 * not populated again until it is purged; once the kernel refused the
 * advice (EINVAL, as from a kernel before 5.14), it is never asked
 * again, and refills work as before.
 *
 * When the kernel lacks MADV_POPULATE_WRITE, the residency checks are
 * left out and the reason printed (Check has no skip).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include "hakmem/hakmem.h"
#include "../../core/cache.h"
#include "../../core/central.h"
#include "../../core/options.h"
#include "../../core/os.h"
#include "../../core/superslab.h"
#include "../lib/check_main.h"

#define BATCH	16	/* objects of 64 bytes a refill: 4 a page */
#define PAGES	(HAK_SLAB_SIZE / HAK_PAGE_SIZE)

static int resident(uintptr_t slab, unsigned int page)
{
	unsigned char v = 0;

	ck_assert_int_eq(mincore((void *)(slab + page * HAK_PAGE_SIZE),
				 HAK_PAGE_SIZE, &v), 0);
	return v & 1;
}

/* Whether the kernel populates a fresh mapping on request. */
static int kernel_populates(void)
{
	char *p = mmap(NULL, 4 * HAK_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ok;

	ck_assert_ptr_ne(p, MAP_FAILED);
	ok = !os_populate(p, 4 * HAK_PAGE_SIZE);
	if (ok)
		ck_assert_int_eq(resident((uintptr_t)p, 3), 1);
	else
		printf("test_populate: no MADV_POPULATE_WRITE (kernel before 5.14): residency checks skipped\n");
	munmap(p, 4 * HAK_PAGE_SIZE);
	return ok;
}

/* A 64-byte cache of one-slab spans on a SuperSlab without huge pages. */
static struct hak_cache *small_cache(const char *name)
{
	struct hak_cache *c;

	option_values[OPT_THP] = THP_NEVER;
	c = hak_cache_create(name, 64, 0, 0, NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->span_slabs, 1);
	ck_assert_uint_eq(c->stride, 64);
	return c;
}

/*
 * Refills of BATCH until one carves into page @page; the objects go to
 * @objs from @n on. Return: the new count.
 */
static unsigned int carve_to(struct hak_cache *c, void **objs,
			     unsigned int n, unsigned int page)
{
	uintptr_t slab;

	do {
		ck_assert_uint_eq(central_refill(c, objs + n, BATCH,
						 HAK_OWNER_NONE), BATCH);
		n += BATCH;
		slab = (uintptr_t)objs[0] & ~(HAK_SLAB_SIZE - 1);
	} while (((uintptr_t)objs[n - 1] - slab) / HAK_PAGE_SIZE < page);
	ck_assert_uint_eq(((uintptr_t)objs[n - 1] - slab) / HAK_PAGE_SIZE,
			  page);
	return n;
}

static void give_back(struct hak_cache *c, void **objs, unsigned int n)
{
	central_drain(c, objs, n, HAK_OWNER_NONE);
	central_shrink(c);
	hak_cache_destroy(c);
}

START_TEST(carve_populates_doubling_windows)
{
	struct hak_cache *c = small_cache("populate-window");
	static void *objs[HAK_SLAB_SIZE / 64];
	unsigned int n = 0;
	uintptr_t slab;

	if (!kernel_populates()) {
		give_back(c, objs, carve_to(c, objs, 0, 8));
		return;
	}
	n = carve_to(c, objs, n, 1);
	slab = (uintptr_t)objs[0] & ~(HAK_SLAB_SIZE - 1);
	ck_assert_uint_eq(ss_of(objs[0])->thp, 0);
	ck_assert_uint_eq((uintptr_t)objs[0] - slab, 0);	/* a fresh slab */
	for (unsigned int p = 2; p < PAGES; p++)
		ck_assert_msg(!resident(slab, p), "page %u of a fresh slab", p);
	for (unsigned int j = 2; j < PAGES; j *= 2) {
		n = carve_to(c, objs, n, j);
		for (unsigned int p = j; p < 2 * j; p++)
			ck_assert_msg(resident(slab, p), "j %u: page %u", j, p);
		for (unsigned int p = 2 * j; p < PAGES; p++)
			ck_assert_msg(!resident(slab, p), "j %u: page %u", j,
				      p);
	}
	for (unsigned int i = 0; i < n; i++) {
		uintptr_t a = (uintptr_t)objs[i];

		ck_assert_uint_eq(*(uintptr_t *)(a + c->free_off),
				  free_tag(a));
	}
	give_back(c, objs, n);
}
END_TEST

/*
 * One refill that ends one span and carves into page 2 of the next: the
 * window of the second span's slab is populated all the same, with the
 * pages of the batch before it (0 and 1).
 */
START_TEST(refill_across_two_spans_populates_the_second)
{
	struct hak_cache *c = small_cache("populate-two");
	static void *objs[2 * HAK_SLAB_SIZE / 64];
	unsigned int per = c->objs_per_span, want = 16 + 160, n;
	uintptr_t slab;

	if (!kernel_populates()) {
		give_back(c, objs, 0);
		return;
	}
	for (n = 0; n < per - 16; n += BATCH)
		ck_assert_uint_eq(central_refill(c, objs + n, BATCH,
						 HAK_OWNER_NONE), BATCH);
	ck_assert_uint_eq(n, per - 16);
	ck_assert_uint_eq(central_refill(c, objs + n, want, HAK_OWNER_NONE),
			  want);
	n += want;
	slab = (uintptr_t)objs[n - 1] & ~(HAK_SLAB_SIZE - 1);
	ck_assert_uint_ne(slab, (uintptr_t)objs[0] & ~(HAK_SLAB_SIZE - 1));
	ck_assert_uint_eq((uintptr_t)objs[n - 160] - slab, 0);
	ck_assert_uint_eq(((uintptr_t)objs[n - 1] - slab) / HAK_PAGE_SIZE, 2);
	for (unsigned int p = 0; p < 4; p++)
		ck_assert_msg(resident(slab, p), "page %u", p);
	for (unsigned int p = 4; p < PAGES; p++)
		ck_assert_msg(!resident(slab, p), "page %u", p);
	give_back(c, objs, n);
}
END_TEST

/*
 * A span released to its SuperSlab leaves a dirty slab, taken first by
 * the next refill: its windows are resident since last time, and carving
 * it again makes no madvise() call. Once purged (hak_trim()), the slab's
 * windows are populated again. Decay is held off so that no tick purges
 * the slab in between.
 */
START_TEST(a_dirty_slab_taken_again_is_not_populated_again)
{
	static void *objs[HAK_SLAB_SIZE / 64];
	long decay = option_values[OPT_DECAY_MS];
	struct hak_cache *c;
	uint64_t calls;
	uintptr_t slab;
	unsigned int n;

	if (!kernel_populates())
		return;
	option_values[OPT_DECAY_MS] = 1L << 30;
	hak_trim();	/* no dirty slab left but the ones this test makes */
	c = small_cache("populate-again");
	calls = os_populate_calls();
	n = carve_to(c, objs, 0, 8);
	slab = (uintptr_t)objs[0] & ~(HAK_SLAB_SIZE - 1);
	ck_assert_uint_eq((uintptr_t)objs[0] - slab, 0);
	ck_assert_uint_eq(os_populate_calls() - calls, 3);	/* j = 2, 4, 8 */

	central_drain(c, objs, n, HAK_OWNER_NONE);
	central_shrink(c);	/* the span goes back: a dirty free slab */
	calls = os_populate_calls();
	n = carve_to(c, objs, 0, 8);
	ck_assert_uint_eq((uintptr_t)objs[0], slab);	/* dirty ones first */
	ck_assert_uint_eq(os_populate_calls() - calls, 0);

	central_drain(c, objs, n, HAK_OWNER_NONE);
	central_shrink(c);
	hak_trim();	/* purged (or its SuperSlab unmapped) */
	calls = os_populate_calls();
	n = carve_to(c, objs, 0, 8);
	slab = (uintptr_t)objs[0] & ~(HAK_SLAB_SIZE - 1);
	ck_assert_uint_eq(os_populate_calls() - calls, 3);
	for (unsigned int p = 8; p < PAGES; p++)
		ck_assert_msg(resident(slab, p), "page %u", p);
	give_back(c, objs, n);
	option_values[OPT_DECAY_MS] = decay;
}
END_TEST

/*
 * After an EINVAL (here from an unaligned start, as a kernel before 5.14
 * answers the unknown advice) os_populate() asks no more, keeps errno,
 * and refills carve, tag and fault their pages as without it.
 */
START_TEST(refused_advice_is_not_asked_again)
{
	struct hak_cache *c = small_cache("populate-refused");
	static void *objs[HAK_SLAB_SIZE / 64];
	char *m = mmap(NULL, 2 * HAK_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int n;
	uintptr_t slab;

	ck_assert_ptr_ne(m, MAP_FAILED);
	errno = 0;
	ck_assert_int_eq(os_populate(m + 1, HAK_PAGE_SIZE), -1);
	ck_assert_int_eq(errno, 0);
	ck_assert_int_eq(os_populate(m, 2 * HAK_PAGE_SIZE), -1);
	ck_assert_int_eq(errno, 0);
	ck_assert_int_eq(resident((uintptr_t)m, 1), 0);
	munmap(m, 2 * HAK_PAGE_SIZE);

	n = carve_to(c, objs, 0, 8);
	slab = (uintptr_t)objs[0] & ~(HAK_SLAB_SIZE - 1);
	ck_assert_uint_eq((uintptr_t)objs[0] - slab, 0);
	/* the batch that reached page 8 ends in it: nothing beyond */
	for (unsigned int p = 9; p < PAGES; p++)
		ck_assert_msg(!resident(slab, p), "page %u", p);
	for (unsigned int i = 0; i < n; i++) {
		uintptr_t a = (uintptr_t)objs[i];

		ck_assert_uint_eq(*(uintptr_t *)(a + c->free_off),
				  free_tag(a));
	}
	give_back(c, objs, n);
	for (int i = 0; i < 1000; i++)	/* the heap grows as before */
		hak_free(hak_malloc(64 + (size_t)i * 8));
}
END_TEST

static Suite *populate_suite(void)
{
	Suite *s = suite_create("populate");
	TCase *tc = tcase_create("populate");

	tcase_add_test(tc, carve_populates_doubling_windows);
	tcase_add_test(tc, refill_across_two_spans_populates_the_second);
	tcase_add_test(tc, a_dirty_slab_taken_again_is_not_populated_again);
	tcase_add_test(tc, refused_advice_is_not_asked_again);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	/* one pool, as in test_central: the refills carve on one node */
	static const char *const env[] = { "HAKMEM_NUMA=0", NULL };

	(void)argc;
	check_reexec_with(argv, env);
	return check_run(populate_suite());
}
