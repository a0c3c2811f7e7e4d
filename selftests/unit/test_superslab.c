// SPDX-License-Identifier: MIT
/*
 * Unit tests: SuperSlab layout, free-slab bitmap, registry, lazy carving,
 * release of empty slabs and SuperSlabs.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hakmem/hakmem.h"
#include "../../core/cache.h"
#include "../../core/os.h"
#include "../../core/registry.h"
#include "../../core/superslab.h"
#include "../lib/check_main.h"
#include "../lib/objs.h"

START_TEST(objects_live_in_registered_superslabs)
{
	void *p = hak_malloc(100);
	struct superslab *ss = ss_of(p);
	unsigned int idx = slab_idx_of(p);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)ss % HAK_SS_SIZE, 0);
	ck_assert(registry_test((uintptr_t)p));
	ck_assert_uint_eq(ss->kind, SS_KIND_SLABS);
	ck_assert_uint_ne(idx, 0);	/* slab 0 is metadata */
	ck_assert_uint_eq(ss->ro[idx].cache_id, HAK_KMALLOC_FIRST + size_to_class(100));
	ck_assert_uint_eq(ss->free_bitmap & 1, 0);
	ck_assert_uint_eq(ss->free_bitmap & (1U << idx), 0);
	hak_free(p);
}
END_TEST

START_TEST(registry_rejects_foreign_memory)
{
	static char global[64];
	char local;
	void *m = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert(!registry_test((uintptr_t)global));
	ck_assert(!registry_test((uintptr_t)&local));
	ck_assert(!registry_test((uintptr_t)m));
	ck_assert(!registry_test(0));
	ck_assert(!registry_test(~(uintptr_t)0));
	ck_assert(!registry_test((uintptr_t)1 << 60));
	munmap(m, 4 << 20);
}
END_TEST

START_TEST(registry_add_del)
{
	uintptr_t chunk = (uintptr_t)0x7f1234600000ULL;

	ck_assert(!registry_test(chunk + 12345));
	registry_add((void *)chunk);
	ck_assert(registry_test(chunk));
	ck_assert(registry_test(chunk + HAK_SS_SIZE - 1));
	ck_assert(!registry_test(chunk + HAK_SS_SIZE));
	ck_assert(!registry_test(chunk - 1));
	registry_del((void *)chunk);
	ck_assert(!registry_test(chunk));
}
END_TEST

/*
 * A fresh span is carved lazily: only the objects handed out are carved,
 * and a bin's first refill takes one page of them (bin_batch()).
 */
START_TEST(carving_is_lazy)
{
	struct hak_cache *c = hak_cache_create("lazy", 512, 0, 0, NULL);
	void *p = hak_cache_alloc(c);
	struct superslab *ss = ss_of(p);
	struct slab_rw *rw = &ss->rw[ss->ro[slab_idx_of(p)].head];
	unsigned int page = HAK_PAGE_SIZE / c->stride;

	ck_assert_uint_lt(page, c->batch);
	ck_assert_uint_eq(rw->carved, page);
	ck_assert_uint_lt(rw->carved, c->objs_per_span);
	hak_cache_free(c, p);
	hak_cache_destroy(c);
}
END_TEST

/* Multi-slab spans: every slab of the span points to the same head. */
START_TEST(multi_slab_spans)
{
	void *p = hak_malloc(200000);
	struct superslab *ss = ss_of(p);
	const struct slab_ro *ro = &ss->ro[slab_idx_of(p)];

	ck_assert_uint_gt(ro->nslabs, 1);
	for (unsigned int i = 0; i < ro->nslabs; i++) {
		ck_assert_uint_eq(ss->ro[ro->head + i].head, ro->head);
		ck_assert_uint_eq(ss->ro[ro->head + i].base, ro->base);
	}
	ck_assert_uint_eq(ss->free_bitmap & (((1U << ro->nslabs) - 1) << ro->head), 0);
	hak_free(p);
}
END_TEST

static void nop_ctor(void *p)
{
	(void)p;
}

/*
 * slab_obj_div() against plain division, for every offset of a 2 MiB span
 * and strides of every kind: powers of two, odd, even with odd parts,
 * the kmalloc classes, constructed-cache strides.
 */
START_TEST(object_division_is_exact)
{
	static const uint32_t strides[] = {
		8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 96, 112, 136, 160, 200,
		264, 320, 4000, 4096, 12345 * 8, 65536, 81920, 1048576,
	};
	const size_t n = sizeof(strides) / sizeof(strides[0]);

	/* the last round: 1 MiB with a constructor, stride 1 MiB + 16 */
	for (size_t s = 0; s <= n; s++) {
		struct hak_cache c = { 0 };
		struct slab_ro ro = { 0 };
		uint64_t bad = 0;

		ck_assert_int_eq(cache_setup(&c, "div", s < n ? strides[s] : 1048576,
					     0, 0, s < n ? NULL : nop_ctor), 0);
		ro.stride = c.stride;
		ro.inv = c.inv;
		for (uint64_t off = 0; off < (2U << 20); off++) {
			uint64_t q = slab_obj_div(&ro, off);
			int start = off % c.stride == 0;

			if (start ? q != off / c.stride : q < 8192)
				bad++;
		}
		ck_assert_msg(!bad, "stride %u: %llu wrong", c.stride,
			      (unsigned long long)bad);
	}
	/* a free slab's metadata is zero: index 0, below no carved count */
	struct slab_ro zero = { 0 };

	ck_assert_uint_eq(slab_obj_div(&zero, 12345), 0);
}
END_TEST

static unsigned int head_of(const void *p)
{
	return ss_of(p)->ro[slab_idx_of(p)].head;
}

static int same_span(const void *p, const void *q)
{
	return ss_of(p) == ss_of(q) && head_of(p) == head_of(q);
}

/*
 * Two CPUs (owners 0 and 1) refill from spans of their own; what a CPU
 * drains of its own objects comes back to it, not to the other CPU.
 */
START_TEST(cpus_refill_from_own_spans)
{
	struct hak_cache *c = hak_cache_create("owners", 48, 0, 0, NULL);
	void *a[16], *b[16], *x[16];
	unsigned int i, n;

	ck_assert_uint_eq(central_refill(c, a, 16, 0), 16);
	ck_assert_uint_eq(central_refill(c, b, 16, 1), 16);
	for (i = 0; i < 16; i++) {
		ck_assert(same_span(a[i], a[0]));
		ck_assert(same_span(b[i], b[0]));
		ck_assert_uint_eq(ss_of(a[i])->ro[slab_idx_of(a[i])].owner, 0);
		ck_assert_uint_eq(ss_of(b[i])->ro[slab_idx_of(b[i])].owner, 1);
	}
	ck_assert(!same_span(a[0], b[0]));

	/* CPU 0's overflow waits for CPU 0 */
	central_drain(c, a, 16, 0);
	n = central_refill(c, x, 16, 1);
	ck_assert_uint_eq(n, 16);
	for (i = 0; i < n; i++)
		ck_assert(!in_set(x[i], a, 16));
	central_drain(c, x, n, 1);
	n = central_refill(c, x, 16, 0);
	ck_assert_uint_eq(n, 16);
	for (i = 0; i < n; i++)
		ck_assert(in_set(x[i], a, 16));

	/* objects handed over (drained on CPU 1) are for any CPU */
	central_drain(c, x, n, 1);
	n = central_refill(c, x, 16, 7);
	ck_assert_uint_eq(n, 16);
	for (i = 0; i < n; i++)
		ck_assert(in_set(x[i], a, 16));

	central_drain(c, x, n, HAK_OWNER_NONE);
	central_drain(c, b, 16, HAK_OWNER_NONE);
	ck_assert_uint_eq(hak_cache_shrink(c) >= 0, 1);
	hak_cache_destroy(c);
}
END_TEST

/*
 * A partial span of CPU 0 is not taken by CPU 1 while CPU 0 has most of
 * its objects out; once at most a quarter is out and CPU 0 carves from
 * another span, another CPU may adopt it.
 */
START_TEST(cpus_do_not_share_a_span)
{
	struct hak_cache *c = hak_cache_create("owners2", 4000, 0, 0, NULL);
	unsigned int per = c->objs_per_span, n = 0, back;
	void **a = calloc(per, sizeof(void *)), *b[1], *d[1], *t[1];

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_ge(per, 8);
	while (n < per)
		n += central_refill(c, a + n, per - n, 0);
	ck_assert(same_span(a[0], a[per - 1]));
	/* CPU 0 moves on to a new span */
	ck_assert_uint_eq(central_refill(c, t, 1, 0), 1);
	ck_assert(!same_span(t[0], a[0]));
	/* half back to the span (shrink flushes stash and transfer array) */
	back = per / 2;
	central_drain(c, a, back, 0);
	hak_cache_shrink(c);
	ck_assert_uint_eq(central_refill(c, b, 1, 1), 1);
	ck_assert(!same_span(b[0], a[0]));
	ck_assert(!same_span(b[0], t[0]));
	/* all but a quarter back: now CPU 2 may adopt the span */
	central_drain(c, a + back, per - back - per / 4, 0);
	hak_cache_shrink(c);
	ck_assert_uint_eq(central_refill(c, d, 1, 2), 1);
	ck_assert(same_span(d[0], a[0]));
	ck_assert_uint_eq(ss_of(d[0])->ro[slab_idx_of(d[0])].owner, 2);
	central_drain(c, d, 1, HAK_OWNER_NONE);
	central_drain(c, b, 1, HAK_OWNER_NONE);
	central_drain(c, t, 1, HAK_OWNER_NONE);
	central_drain(c, a + per - per / 4, per / 4, HAK_OWNER_NONE);
	hak_cache_destroy(c);
	free(a);
}
END_TEST

static uint64_t num_objs(const char *name)
{
	struct hak_slabinfo rows[256];
	int n = hak_slabinfo(rows, 256);

	for (int i = 0; i < n && i < 256; i++)
		if (!strcmp(rows[i].name, name))
			return rows[i].num_objs;
	return UINT64_MAX;
}

/* SuperSlabs mapped since start. */
static uint64_t mapped_ever(void)
{
	struct hak_global_stats st;

	hak_global_stats(&st);
	return st.superslabs_mapped;
}

/*
 * superslab_take() never maps: it takes free runs until the pool has none.
 * superslab_grow() then maps one SuperSlab, and nothing while the pool has
 * room; a refill that finds the pool full grows it by itself (with its
 * central's lock dropped) and gets its object.
 */
START_TEST(take_never_maps_and_grow_maps_once)
{
	static struct slab_rw *rw[64 * HAK_SLABS_PER_SS];
	struct hak_cache *c = hak_cache_create("grow", 4000, 0, 0, NULL);
	struct hak_cache *d = hak_cache_create("grow-refill", 4000, 0, 0,
					       NULL);
	unsigned int node, n = 0;
	uint64_t mapped;
	void *a, *b;

	ck_assert_uint_eq(c->span_slabs, d->span_slabs);
	ck_assert_uint_eq(central_refill(c, &a, 1, HAK_OWNER_NONE), 1);
	node = ss_of(a)->node;
	mapped = mapped_ever();
	while ((rw[n] = superslab_take(c, node)) != NULL)
		ck_assert_uint_lt(++n, ARRAY_SIZE(rw) - HAK_SLABS_PER_SS);
	ck_assert_uint_eq(mapped_ever(), mapped);

	ck_assert_int_eq(superslab_grow(c, node), 0);
	ck_assert_uint_eq(mapped_ever(), mapped + 1);
	ck_assert_int_eq(superslab_grow(c, node), 0);	/* room: no map */
	ck_assert_uint_eq(mapped_ever(), mapped + 1);
	while ((rw[n] = superslab_take(c, node)) != NULL)
		ck_assert_uint_lt(++n, ARRAY_SIZE(rw));
	ck_assert_uint_eq(mapped_ever(), mapped + 1);

	ck_assert_uint_eq(central_refill(d, &b, 1, 3), 1);
	ck_assert_uint_eq(mapped_ever(), mapped + 2);
	ck_assert_uint_eq(ss_of(b)->node, node);

	for (unsigned int i = 0; i < n; i++)
		superslab_release_span(ss_of_rw(rw[i]), rw_idx(rw[i]));
	central_drain(d, &b, 1, HAK_OWNER_NONE);
	central_drain(c, &a, 1, HAK_OWNER_NONE);
	hak_cache_destroy(d);
	hak_cache_destroy(c);
}
END_TEST

/*
 * The biggest sizes hold one object per span: a freed one's span goes
 * straight back to its SuperSlab (no stash, transfer array or empty
 * partial span keeps it), and another cache reuses those dirty slabs
 * first.
 */
START_TEST(single_object_spans_go_back)
{
	struct hak_cache *c = hak_cache_create("single", 300000, 0, 0, NULL);
	struct hak_cache *d = hak_cache_create("single2", 250000, 0, 0, NULL);
	void *a[6], *b[6];
	int reused = 0;

	ck_assert_uint_eq(c->objs_per_span, 1);
	ck_assert_uint_eq(central_refill(c, a, 6, 0), 6);
	ck_assert_uint_eq(num_objs("single"), 6);
	central_drain(c, a, 6, 0);
	ck_assert_uint_eq(num_objs("single"), 0);
	ck_assert_uint_eq(central_refill(d, b, 6, 0), 6);
	for (int i = 0; i < 6; i++)
		for (int j = 0; j < 6; j++)
			reused += b[i] == a[j];
	ck_assert_int_ge(reused, 1);
	central_drain(d, b, 6, 0);
	hak_cache_destroy(c);
	hak_cache_destroy(d);
}
END_TEST

/* Empty spans go back to the bitmap, empty SuperSlabs to the system. */
START_TEST(release_to_bitmap_and_system)
{
	enum { N = 20000 };
	void **v = malloc(N * sizeof(void *));
	struct hak_global_stats before, after;
	struct superslab *ss;
	unsigned int idx;

	for (int i = 0; i < N; i++)
		v[i] = hak_malloc(1000);
	ss = ss_of(v[N - 1]);
	idx = slab_idx_of(v[N - 1]);
	hak_global_stats(&before);
	ck_assert_uint_ge(before.superslabs, 10);
	for (int i = 0; i < N; i++)
		hak_free(v[i]);
	hak_trim();
	hak_global_stats(&after);
	ck_assert_uint_le(after.superslabs, 1);
	ck_assert_uint_ge(after.superslabs_unmapped, before.superslabs - 1);
	if (registry_test((uintptr_t)ss))
		ck_assert_uint_ne(ss->free_bitmap & (1U << idx), 0);
	free(v);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("superslab");
	TCase *tc = tcase_create("layout");

	tcase_add_test(tc, objects_live_in_registered_superslabs);
	tcase_add_test(tc, registry_rejects_foreign_memory);
	tcase_add_test(tc, registry_add_del);
	tcase_add_test(tc, carving_is_lazy);
	tcase_add_test(tc, multi_slab_spans);
	tcase_add_test(tc, object_division_is_exact);
	tcase_add_test(tc, cpus_refill_from_own_spans);
	tcase_add_test(tc, cpus_do_not_share_a_span);
	tcase_add_test(tc, take_never_maps_and_grow_maps_once);
	tcase_add_test(tc, single_object_spans_go_back);
	tcase_add_test(tc, release_to_bitmap_and_system);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
