// SPDX-License-Identifier: MIT
/*
 * Unit tests of the middle end on its own: a cache's central pool
 * (core/central.c), driven through central_refill() and central_drain()
 * with every kind of owner, and central_shrink(); no fast-path cache is
 * involved (each test uses a cache of its own, never allocated from).
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "hakmem/hakmem.h"
#include "../../core/cache.h"
#include "../../core/central.h"
#include "../../core/central_cpu.h"
#include "../../core/options.h"
#include "../../core/report.h"
#include "../../core/superslab.h"
#include "../lib/check_main.h"
#include "../lib/objs.h"

#define N	16

static struct central *central_of(struct hak_cache *c, void *obj)
{
	return central_peek(c, ss_of(obj)->node);
}

/* A refill of an empty central carves from one span, tagged free. */
START_TEST(refill_carves_tagged_objects)
{
	struct hak_cache *c = hak_cache_create("central-carve", 48, 0, 0, NULL);
	void *a[N];
	struct central *ct;

	ck_assert_uint_eq(central_refill(c, a, N, HAK_OWNER_NONE), N);
	ct = central_of(c, a[0]);
	ck_assert_ptr_nonnull(ct);
	ck_assert_uint_eq(ct->inuse, N);
	ck_assert_uint_eq(ct->nr_spans, 1);
	ck_assert_uint_eq(central_parked(ct), 0);
	for (unsigned int i = 0; i < N; i++) {
		uintptr_t p = (uintptr_t)a[i];

		ck_assert_ptr_eq(ss_of(a[i]), ss_of(a[0]));
		ck_assert_uint_eq(*(uintptr_t *)(p + c->free_off), free_tag(p));
	}
	central_drain(c, a, N, HAK_OWNER_NONE);
	ck_assert_uint_eq(central_shrink(c), 1);
	ck_assert_uint_eq(ct->inuse, 0);
	ck_assert_uint_eq(ct->nr_spans, 0);
	hak_cache_destroy(c);
}
END_TEST

/*
 * Without an owner a run goes to the transfer array whole, and the next
 * refill, for any CPU, takes it back before touching a span.
 */
START_TEST(unowned_drain_feeds_transfer_array)
{
	struct hak_cache *c = hak_cache_create("central-xfer", 64, 0, 0, NULL);
	void *a[N], *b[N];
	struct central *ct;

	ck_assert_uint_eq(central_refill(c, a, N, HAK_OWNER_NONE), N);
	ct = central_of(c, a[0]);
	central_drain(c, a, N, HAK_OWNER_NONE);
	ck_assert_uint_eq(ct->xfer_count, N);
	ck_assert_uint_eq(central_parked(ct), N);
	ck_assert_uint_eq(ct->inuse, N);	/* still out of the spans */
	ck_assert_uint_eq(central_refill(c, b, N, 5), N);
	ck_assert_uint_eq(ct->xfer_count, 0);
	for (unsigned int i = 0; i < N; i++)
		ck_assert(in_set(b[i], a, N));
	central_drain(c, b, N, HAK_OWNER_NONE);
	central_shrink(c);
	hak_cache_destroy(c);
}
END_TEST

/*
 * A CPU's own objects wait in its stash, for it alone; HAK_OWNER_SPAN
 * sends each object to the stash of its span's owner.
 */
START_TEST(stashes_keep_objects_for_their_owner)
{
	struct hak_cache *c = hak_cache_create("central-stash", 32, 0, 0, NULL);
	void *a[N], *b[N], *x[N];
	struct central *ct;
	unsigned int n;

	ck_assert_uint_eq(central_refill(c, a, N, 3), N);
	ck_assert_uint_eq(central_refill(c, b, N, 4), N);
	ct = central_of(c, a[0]);
	central_drain(c, a, N, 3);
	ck_assert_uint_eq(central_stashed(ct, 3), N);
	ck_assert_uint_eq(ct->xfer_count, 0);
	/* CPU 4's own objects freed on CPU 9: back to CPU 4's stash */
	central_drain(c, b, N, HAK_OWNER_SPAN);
	ck_assert_uint_eq(central_stashed(ct, 4), N);
	ck_assert_uint_eq(central_stashed(ct, 9), 0);
	ck_assert_uint_eq(central_parked(ct), 2 * N);
	n = central_refill(c, x, N, 4);
	ck_assert_uint_eq(n, N);
	for (unsigned int i = 0; i < n; i++)
		ck_assert(in_set(x[i], b, N));
	ck_assert_uint_eq(central_stashed(ct, 4), 0);
	ck_assert_uint_eq(central_stashed(ct, 3), N);
	central_drain(c, x, n, HAK_OWNER_NONE);
	ck_assert_uint_eq(central_shrink(c), 2);
	ck_assert_uint_eq(central_parked(ct), 0);
	ck_assert_uint_eq(ct->inuse, 0);
	hak_cache_destroy(c);
}
END_TEST

/*
 * CPU indices 64 apart, up to the last one, have per-CPU state of their
 * own in a central: each one's stash keeps its objects, for it alone.
 */
START_TEST(cpus_64_apart_do_not_share_a_stash)
{
	static const unsigned int cpus[] = { 3, 3 + 64, 3 + 4096,
					     HAK_MAX_CPUS - 64 + 3 };
	struct hak_cache *c = hak_cache_create("central-wide", 32, 0, 0, NULL);
	void *a[4][N], *x[N];
	struct central *ct;

	for (unsigned int k = 0; k < 4; k++)
		ck_assert_uint_eq(central_refill(c, a[k], N, cpus[k]), N);
	ct = central_of(c, a[0][0]);
	for (unsigned int k = 0; k < 4; k++) {
		ck_assert_ptr_eq(central_of(c, a[k][0]), ct);
		central_drain(c, a[k], N, cpus[k]);
	}
	for (unsigned int k = 0; k < 4; k++)
		ck_assert_uint_eq(central_stashed(ct, cpus[k]), N);
	ck_assert_uint_eq(central_parked(ct), 4 * N);
	for (unsigned int k = 4; k-- > 0;) {
		ck_assert_uint_eq(central_refill(c, x, N, cpus[k]), N);
		for (unsigned int i = 0; i < N; i++)
			ck_assert(in_set(x[i], a[k], N));
		central_drain(c, x, N, HAK_OWNER_NONE);
	}
	central_shrink(c);
	ck_assert_uint_eq(ct->inuse, 0);
	hak_cache_destroy(c);
}
END_TEST

/*
 * A CPU found idle (central_cpus_leave()): its stash goes to the transfer
 * array, where any CPU's refill takes it instead of fresh memory, and
 * foreign drains keep none for it; after its next slow path
 * (central_cpu_back()) its stash keeps its objects again.
 */
START_TEST(a_gone_cpus_objects_serve_any_cpu)
{
	struct hak_cache *c = hak_cache_create("central-gone", 32, 0, 0, NULL);
	unsigned int m = 2U * c->batch + 8, kept, i;
	void *a[HAK_MAX_BATCH], *y[HAK_MAX_BATCH], *x[N];
	uint64_t inuse, spans;
	struct central *ct;

	ck_assert_uint_le(m, HAK_MAX_BATCH);
	ck_assert_uint_eq(central_refill(c, a, m, 3), m);
	ct = central_of(c, a[0]);
	central_drain(c, a, m, 3);		/* CPU 3's own overflow */
	kept = central_stashed(ct, 3);
	ck_assert_uint_gt(kept, 0);
	ck_assert_uint_eq(ct->xfer_count, m - kept);
	inuse = ct->inuse;
	spans = ct->nr_spans;

	ck_assert(!central_cpu_is_gone(3));
	central_cpus_leave(3);
	ck_assert(central_cpu_is_gone(3));
	ck_assert_uint_eq(central_stashed(ct, 3), 0);
	ck_assert_uint_eq(ct->xfer_count, m);
	/* CPU 5 takes them all: nothing carved, no span taken */
	ck_assert_uint_eq(central_refill(c, y, m, 5), m);
	for (i = 0; i < m; i++)
		ck_assert(in_set(y[i], a, m));
	ck_assert_uint_eq(ct->xfer_count, 0);
	ck_assert_uint_eq(ct->inuse, inuse);
	ck_assert_uint_eq(ct->nr_spans, spans);
	/* freed by CPU 5's foreign bin: CPU 3's stash keeps none */
	central_drain(c, y, m, HAK_OWNER_SPAN);
	ck_assert_uint_eq(central_stashed(ct, 3), 0);
	ck_assert_uint_eq(ct->xfer_count, m);

	/* CPU 3 is back: its objects freed elsewhere wait in its stash */
	central_cpu_back(3);
	ck_assert(!central_cpu_is_gone(3));
	ck_assert_uint_eq(central_refill(c, y, m, 5), m);
	central_drain(c, y, m, HAK_OWNER_SPAN);
	ck_assert_uint_gt(central_stashed(ct, 3), 0);
	ck_assert_uint_eq(central_refill(c, x, N, 3), N);
	for (i = 0; i < N; i++)
		ck_assert(in_set(x[i], a, m));
	ck_assert_uint_eq(ct->inuse, inuse);

	central_drain(c, x, N, HAK_OWNER_NONE);
	central_shrink(c);
	ck_assert_uint_eq(central_parked(ct), 0);
	ck_assert_uint_eq(ct->inuse, 0);
	hak_cache_destroy(c);
}
END_TEST

static int same_span(const void *p, const void *q)
{
	return ss_of(p) == ss_of(q) &&
	       ss_of(p)->ro[slab_idx_of(p)].head ==
	       ss_of(q)->ro[slab_idx_of(q)].head;
}

/*
 * A partial span of a CPU found idle goes to another CPU's refill however
 * many of its objects are out, rather than a fresh span.
 */
START_TEST(a_gone_cpus_spans_are_adopted)
{
	struct hak_cache *c = hak_cache_create("central-gone-span", 1024, 0, 0,
					       NULL);
	unsigned int per = c->objs_per_span, out = per / 2, n = 0;
	void **a = calloc(per, sizeof(void *)), *x[1], *y[1];
	struct central *ct;
	uint64_t spans;

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_ge(per, 8);
	while (n < out)
		n += central_refill(c, a + n, out - n, 3);
	ck_assert(same_span(a[0], a[out - 1]));
	ct = central_of(c, a[0]);
	/* CPU 3 carves from it and has half out: CPU 5 takes a new span */
	ck_assert_uint_eq(central_refill(c, x, 1, 5), 1);
	ck_assert(!same_span(x[0], a[0]));
	spans = ct->nr_spans;

	central_cpus_leave(3);
	ck_assert_uint_eq(central_refill(c, y, 1, 6), 1);
	ck_assert(same_span(y[0], a[0]));
	ck_assert_uint_eq(obj_owner(a[0]), 6);
	ck_assert_uint_eq(ct->nr_spans, spans);
	central_cpu_back(3);

	central_drain(c, a, out, HAK_OWNER_NONE);
	central_drain(c, x, 1, HAK_OWNER_NONE);
	central_drain(c, y, 1, HAK_OWNER_NONE);
	central_shrink(c);
	ck_assert_uint_eq(ct->inuse, 0);
	free(a);
	hak_cache_destroy(c);
}
END_TEST

/* Objects freed on another node are counted as remote frees. */
START_TEST(remote_drains_are_counted)
{
	struct hak_cache *c = hak_cache_create("central-remote", 96, 0, 0, NULL);
	void *a[N];
	struct central *ct;
	uint64_t drains;

	ck_assert_uint_eq(central_refill(c, a, N, HAK_OWNER_NONE), N);
	ct = central_of(c, a[0]);
	drains = ct->drains;
	central_drain(c, a, N, HAK_OWNER_REMOTE);
	ck_assert_uint_eq(ct->remote_frees, N);
	ck_assert_uint_eq(ct->drains, drains + 1);	/* one lock per run */
	ck_assert_uint_eq(ct->xfer_count, N);
	central_shrink(c);
	hak_cache_destroy(c);
}
END_TEST

/*
 * A full transfer array sends the rest to the spans, and a span with
 * nothing out beyond HAKMEM_MIN_PARTIAL goes back to its SuperSlab.
 */
START_TEST(overflow_goes_back_to_spans)
{
	struct hak_cache *c = hak_cache_create("central-full", 2048, 0, 0, NULL);
	unsigned int want = 3 * c->objs_per_span, n = 0;
	void **a = calloc(want, sizeof(void *));
	struct central *ct;
	uint64_t spans, released;

	ck_assert_ptr_nonnull(a);
	while (n < want)
		n += central_refill(c, a + n, want - n > HAK_MAX_BATCH ?
				    HAK_MAX_BATCH : want - n, HAK_OWNER_NONE);
	ct = central_of(c, a[0]);
	ck_assert_uint_eq(ct->nr_spans, 3);
	for (unsigned int i = 0; i < want; i++)
		central_drain(c, &a[i], 1, HAK_OWNER_NONE);
	ck_assert_uint_le(ct->xfer_count, c->xfer_limit);
	ck_assert_uint_eq(ct->inuse, ct->xfer_count);
	/* beyond the minimum of partial spans, empty ones went back */
	ck_assert_uint_le(ct->nr_spans, (uint64_t)option_get(OPT_MIN_PARTIAL) + 1);
	spans = ct->nr_spans;
	/* the transfer array's objects empty the last spans */
	released = central_shrink(c);
	ck_assert_uint_ge(released, 1);
	ck_assert_uint_le(released, spans);
	ck_assert_uint_eq(ct->nr_spans, 0);
	ck_assert_uint_eq(ct->inuse, 0);
	free(a);
	hak_cache_destroy(c);
}
END_TEST

/* A double free into a central is named and changes nothing. */
START_TEST(double_drain_is_reported)
{
	struct hak_cache *c = hak_cache_create("central-double", 40, 0, 0, NULL);
	unsigned long before = report_count();
	void *a[3];
	struct central *ct;

	ck_assert_uint_eq(central_refill(c, a, 3, HAK_OWNER_NONE), 3);
	ct = central_of(c, a[0]);
	central_drain(c, a, 2, HAK_OWNER_NONE);
	central_shrink(c);	/* back in their span, which a[2] keeps */
	ck_assert_uint_eq(ct->inuse, 1);
	central_drain(c, a, 1, HAK_OWNER_NONE);	/* to the transfer array */
	central_shrink(c);			/* ... then found free */
	ck_assert_uint_eq(report_count(), before + 1);
	ck_assert_uint_eq(ct->inuse, 1);
	central_drain(c, a + 2, 1, HAK_OWNER_NONE);
	central_shrink(c);
	ck_assert_uint_eq(ct->inuse, 0);
	ck_assert_uint_eq(report_count(), before + 1);
	hak_cache_destroy(c);
}
END_TEST

/* Fills @ct's transfer array with objects of @c; returns them (calloc). */
static void **fill_xfer(struct hak_cache *c, struct central *ct,
			unsigned int *np)
{
	unsigned int room = ct->xfer_cap < c->xfer_limit ? ct->xfer_cap :
							   c->xfer_limit;
	unsigned int n = 0, want = room - ct->xfer_count;
	void **x = calloc(want ? want : 1, sizeof(void *));

	ck_assert_ptr_nonnull(x);
	while (n < want)
		n += central_refill(c, x + n, want - n > HAK_MAX_BATCH ?
				    HAK_MAX_BATCH : want - n, HAK_OWNER_NONE);
	central_drain(c, x, n, HAK_OWNER_NONE);
	ck_assert_uint_eq(ct->xfer_count, room);
	*np = n;
	return x;
}

/*
 * Objects of several spans drained in one call, interleaved, while the
 * transfer array is full: each goes back to its own span's free set
 * (runs of one span at a time), and the next refills find every one of
 * them again without a new span; none is lost.
 */
START_TEST(interleaved_runs_go_back_to_their_spans)
{
	struct hak_cache *c = hak_cache_create("central-runs", 1024, 0, 0,
					       NULL);
	unsigned int per = c->objs_per_span, want = 3 * per, n = 0, nx, k = 0;
	void **a = calloc(want, sizeof(void *));
	void **b = calloc(want, sizeof(void *));
	void **x, **y;
	struct central *ct;
	uint64_t spans;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_ge(per, 4);
	while (n < want)
		n += central_refill(c, a + n, want - n > HAK_MAX_BATCH ?
				    HAK_MAX_BATCH : want - n, HAK_OWNER_NONE);
	ct = central_of(c, a[0]);
	ck_assert_uint_eq(ct->nr_spans, 3);
	x = fill_xfer(c, ct, &nx);
	spans = ct->nr_spans;
	/* span 0, 1, 2, 0, 1, 2, ...; each span's first object stays out */
	for (unsigned int i = 1; i < per; i++)
		for (unsigned int s = 0; s < 3; s++)
			b[k++] = a[s * per + (s == 1 ? per - i : i)];
	central_drain(c, b, k, HAK_OWNER_NONE);
	ck_assert_uint_eq(ct->inuse, ct->xfer_count + 3);
	ck_assert_uint_eq(ct->nr_spans, spans);
	/* every object can be handed out again, once, from the same spans */
	y = calloc(k + nx, sizeof(void *));
	ck_assert_ptr_nonnull(y);
	n = 0;
	while (n < k + nx)
		n += central_refill(c, y + n, k + nx - n > HAK_MAX_BATCH ?
				    HAK_MAX_BATCH : k + nx - n, HAK_OWNER_NONE);
	ck_assert_uint_eq(ct->nr_spans, spans);
	for (unsigned int i = 0; i < n; i++) {
		ck_assert(in_set(y[i], b, k) || in_set(y[i], x, nx));
		for (unsigned int j = 0; j < i; j++)
			ck_assert_ptr_ne(y[i], y[j]);
	}
	central_drain(c, y, n, HAK_OWNER_NONE);
	for (unsigned int s = 0; s < 3; s++)
		central_drain(c, &a[s * per], 1, HAK_OWNER_NONE);
	central_shrink(c);
	ck_assert_uint_eq(ct->inuse, 0);
	ck_assert_uint_eq(ct->nr_spans, 0);
	ck_assert_uint_eq(central_parked(ct), 0);
	free(y);
	free(x);
	free(a);
	free(b);
	hak_cache_destroy(c);
}
END_TEST

/*
 * A bad pointer inside a run bound for the spans (a double free, an
 * address inside an object) is reported alone: the objects before and
 * after it in the run go back, the counts stay exact.
 */
START_TEST(bad_pointer_inside_a_run_is_reported_alone)
{
	struct hak_cache *c = hak_cache_create("central-badrun", 64, 0, 0,
					       NULL);
	unsigned long before = report_count();
	void *a[8], *b[6], **x;
	struct central *ct;
	unsigned int nx;

	ck_assert_uint_eq(central_refill(c, a, 8, HAK_OWNER_NONE), 8);
	ct = central_of(c, a[0]);
	x = fill_xfer(c, ct, &nx);
	b[0] = a[0];
	b[1] = a[1];
	b[2] = a[0];				/* double free */
	b[3] = (char *)a[2] + 8;		/* not an object start */
	b[4] = a[3];
	b[5] = a[4];
	central_drain(c, b, 6, HAK_OWNER_NONE);
	ck_assert_uint_eq(report_count(), before + 2);
	/* out: a[2] and a[5..7] */
	ck_assert_uint_eq(ct->inuse, ct->xfer_count + 4);
	central_drain(c, a + 2, 1, HAK_OWNER_NONE);
	central_drain(c, a + 5, 3, HAK_OWNER_NONE);
	ck_assert_uint_eq(report_count(), before + 2);
	central_shrink(c);
	ck_assert_uint_eq(ct->inuse, 0);
	ck_assert_uint_eq(ct->nr_spans, 0);
	free(x);
	hak_cache_destroy(c);
}
END_TEST

static unsigned long ctor_calls;

static void count_ctor(void *p)
{
	ctor_calls++;
	*(uint64_t *)p = 0xc0de;
}

/*
 * A refill that takes the free objects of one span and carves the rest
 * from a new one constructs and tags exactly the carved ones: every
 * object handed out is constructed, tagged free, and constructed once.
 */
START_TEST(refill_constructs_only_carved_objects)
{
	struct hak_cache *c = hak_cache_create("central-ctor", 1000, 0, 0,
					       count_ctor);
	unsigned int per = c->objs_per_span, half = per / 2, n = 0;
	void **a = calloc(per, sizeof(void *));
	void **b = calloc(per, sizeof(void *));
	struct central *ct;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_le(per, HAK_MAX_BATCH);
	ck_assert_uint_ge(half, 1);
	ctor_calls = 0;
	ck_assert_uint_eq(central_refill(c, a, per, HAK_OWNER_NONE), per);
	ck_assert_uint_eq(ctor_calls, per);
	ct = central_of(c, a[0]);
	central_drain(c, a, half, HAK_OWNER_NONE);
	central_shrink(c);	/* back to the span's free set */
	ck_assert_uint_eq(ct->nr_spans, 1);
	while (n < per)
		n += central_refill(c, b + n, per - n, HAK_OWNER_NONE);
	ck_assert_uint_eq(ct->nr_spans, 2);
	ck_assert_uint_eq(ctor_calls, per + (per - half));
	for (unsigned int i = 0; i < per; i++) {
		uintptr_t p = (uintptr_t)b[i];

		ck_assert_uint_eq(*(uint64_t *)b[i], 0xc0de);
		ck_assert_uint_eq(*(uintptr_t *)(p + c->free_off), free_tag(p));
		for (unsigned int j = 0; j < i; j++)
			ck_assert_ptr_ne(b[i], b[j]);
	}
	central_drain(c, a + half, per - half, HAK_OWNER_NONE);
	central_drain(c, b, per, HAK_OWNER_NONE);
	central_shrink(c);
	ck_assert_uint_eq(ct->inuse, 0);
	ck_assert_uint_eq(ct->nr_spans, 0);
	free(a);
	free(b);
	hak_cache_destroy(c);
}
END_TEST

static Suite *central_suite(void)
{
	Suite *s = suite_create("central");
	TCase *tc = tcase_create("central");

	tcase_add_test(tc, refill_carves_tagged_objects);
	tcase_add_test(tc, unowned_drain_feeds_transfer_array);
	tcase_add_test(tc, stashes_keep_objects_for_their_owner);
	tcase_add_test(tc, cpus_64_apart_do_not_share_a_stash);
	tcase_add_test(tc, a_gone_cpus_objects_serve_any_cpu);
	tcase_add_test(tc, a_gone_cpus_spans_are_adopted);
	tcase_add_test(tc, remote_drains_are_counted);
	tcase_add_test(tc, overflow_goes_back_to_spans);
	tcase_add_test(tc, double_drain_is_reported);
	tcase_add_test(tc, interleaved_runs_go_back_to_their_spans);
	tcase_add_test(tc, bad_pointer_inside_a_run_is_reported_alone);
	tcase_add_test(tc, refill_constructs_only_carved_objects);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	/*
	 * One pool: these tests drive one central with chosen CPU indexes;
	 * where several nodes make the stash a CPU keeps depend on its node
	 * (a NUMA VM), test_central_numa covers it.
	 */
	static const char *const env[] = { "HAKMEM_ON_ERROR=warn",
					   "HAKMEM_NUMA=0", NULL };

	(void)argc;
	check_reexec_with(argv, env);
	return check_run(central_suite());
}
