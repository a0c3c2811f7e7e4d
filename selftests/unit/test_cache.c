// SPDX-License-Identifier: MIT
/*
 * Unit tests: object caches (constructor, alignment, shrink, destroy,
 * statistics rows).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <sched.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../lib/check_main.h"
#include "../lib/capture.h"
#include "../lib/cpu.h"
#include "../../core/bin_size.h"
#include "../../core/central.h"
#include "../../core/options.h"
#include "../../core/region.h"

struct obj {
	uint64_t magic;
	uint64_t ctor_runs;
	char payload[40];
};

static unsigned long ctor_calls;

static void obj_ctor(void *p)
{
	struct obj *o = p;

	o->magic = 0xc0ffee;
	o->ctor_runs = 1;
	ctor_calls++;
}

static int find_row(const char *name, struct hak_slabinfo *out)
{
	struct hak_slabinfo rows[256];
	int n = hak_slabinfo(rows, 256);

	for (int i = 0; i < n && i < 256; i++) {
		if (!strcmp(rows[i].name, name)) {
			*out = rows[i];
			return 1;
		}
	}
	return 0;
}

/*
 * The constructor runs when an object is carved, never per allocation: a
 * freed object comes back still constructed (ctor_runs is not reset, the
 * test marks it), and the number of constructor calls equals the objects
 * carved from the spans the cache took.
 */
START_TEST(ctor_runs_once_per_object)
{
	struct hak_cache *c = hak_cache_create("objs", sizeof(struct obj), 0, 0,
					       obj_ctor);
	enum { N = 5000 };
	struct obj **v = malloc(N * sizeof(*v));
	struct hak_slabinfo row;

	ck_assert_ptr_nonnull(c);
	ctor_calls = 0;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			v[i] = hak_cache_alloc(c);
			ck_assert_uint_eq(v[i]->magic, 0xc0ffee);
			ck_assert(v[i]->ctor_runs == 1 || v[i]->ctor_runs == 7);
			v[i]->ctor_runs = 7;	/* kept across free/alloc */
			memset(v[i]->payload, round, sizeof(v[i]->payload));
		}
		for (int i = 0; i < N; i++)
			hak_cache_free(c, v[i]);
	}
	ck_assert(find_row("objs", &row));
	ck_assert_uint_ge(ctor_calls, N);
	/* at most one call per object of every span ever taken */
	ck_assert_uint_le(ctor_calls, row.superslab_refills * row.objs_per_slab);
	ck_assert_uint_lt(ctor_calls, 3 * N);	/* not once per allocation */
	free(v);
	hak_cache_destroy(c);
}
END_TEST

START_TEST(alignment_and_hwcache_align)
{
	static const size_t aligns[] = { 0, 8, 16, 32, 64, 256, 4096 };

	for (unsigned int i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
		struct hak_cache *c = hak_cache_create("al", 72, aligns[i], 0, NULL);

		for (int k = 0; k < 300; k++) {
			void *p = hak_cache_alloc(c);

			ck_assert_uint_eq((uintptr_t)p % (aligns[i] ? aligns[i] : 8), 0);
			memset(p, 0x5a, 72);
		}
		hak_cache_shrink(c);
	}
	struct hak_cache *h = hak_cache_create("hw", 100, 0,
					       HAK_SLAB_HWCACHE_ALIGN, NULL);
	void *a = hak_cache_alloc(h), *b = hak_cache_alloc(h);

	ck_assert_uint_eq((uintptr_t)a % 64, 0);
	ck_assert_uint_eq((uintptr_t)b % 64, 0);
	struct hak_cache *s = hak_cache_create("hw-small", 20, 0,
					       HAK_SLAB_HWCACHE_ALIGN, NULL);
	void *x = hak_cache_alloc(s);

	ck_assert_uint_eq((uintptr_t)x % 32, 0);	/* two per line */
}
END_TEST

/*
 * Strides above a line take whole lines when that costs at most an
 * eighth (line_friendly()): a constructed 304-byte object (+ 8 for its
 * tag) takes 320 and starts a line; a constructed 128-byte one stays at
 * 136 (192 would cost 41%); a plain 100-byte one stays at 104.
 */
START_TEST(strides_take_whole_lines)
{
	static const struct { size_t size; int ctor; size_t stride; } t[] = {
		{ 304, 1, 320 }, { 472, 1, 512 }, { 300, 0, 320 },
		{ 128, 1, 136 }, { 100, 0, 104 }, { 40, 1, 48 },
	};
	struct hak_slabinfo row;

	for (unsigned int i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct hak_cache *c = hak_cache_create("lines", t[i].size, 0, 0,
						       t[i].ctor ? obj_ctor : NULL);
		void *p;

		ck_assert_ptr_nonnull(c);
		ck_assert(find_row("lines", &row));
		ck_assert_uint_eq(row.stride, t[i].stride);
		p = hak_cache_alloc(c);
		ck_assert_ptr_nonnull(p);
		if (t[i].stride % 64 == 0)
			ck_assert_uint_eq((uintptr_t)p % 64, 0);
		hak_cache_free(c, p);
		hak_cache_destroy(c);
	}
}
END_TEST

START_TEST(bad_create_arguments)
{
	errno = 0;
	ck_assert_ptr_null(hak_cache_create("bad", 0, 0, 0, NULL));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(hak_cache_create("bad", 100, 24, 0, NULL));
	ck_assert_ptr_null(hak_cache_create("bad", 100, 8192, 0, NULL));
	ck_assert_ptr_null(hak_cache_create("bad", (1 << 20) + 1, 0, 0, NULL));
	ck_assert_ptr_null(hak_cache_create(NULL, 10, 0, 0, NULL));
}
END_TEST

/*
 * Active objects count the ones waiting in fast-path bins too: the last
 * refill's leftovers, up to a grown bin (FC_MAX_CAP) on each CPU the
 * thread ran on.
 */
START_TEST(shrink_releases_empty_slabs)
{
	struct hak_cache *c = hak_cache_create("shrinkme", 256, 0, 0, NULL);
	enum { N = 20000 };
	void **v = malloc(N * sizeof(*v));
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	struct hak_slabinfo row;

	for (int i = 0; i < N; i++)
		v[i] = hak_cache_alloc(c);
	ck_assert(find_row("shrinkme", &row));
	ck_assert_uint_ge(row.active_objs, N);
	ck_assert_uint_le(row.active_objs,
			  N + FC_MAX_CAP * (ncpu > 0 ? ncpu : 1));
	ck_assert_uint_ge(row.slabs, N / row.objs_per_slab);
	for (int i = 0; i < N; i++)
		hak_cache_free(c, v[i]);
	ck_assert_int_gt(hak_cache_shrink(c), 0);
	ck_assert(find_row("shrinkme", &row));
	ck_assert_uint_eq(row.active_objs, 0);
	ck_assert_uint_eq(row.slabs, 0);
	free(v);
	hak_cache_destroy(c);
	ck_assert(!find_row("shrinkme", &row));
}
END_TEST

/*
 * An allocation burst refills the whole bin after its first batch, and a
 * free burst drains the whole bin (bin_batch()), and the bin grows by a
 * batch on each trip (one of the first object caches: bin_size.c): fewer
 * than half the trips to the central pool that whole bins of the base 64
 * would take (6400 objects of 64 bytes: 100 trips each way), and no
 * fewer than trips of HAK_MAX_BATCH (256) each would take, past what a
 * bin grown to its room (1024) holds. The thread stays on one CPU, so one
 * bin sees the whole burst. The bounds assume the default HAKMEM_REFILL
 * of 32; HAKMEM_POISON=1 gives every bin room for nothing (each operation
 * is a trip): both skip the test.
 */
START_TEST(bursts_move_whole_bins)
{
	enum { N = 6400, BATCH = 32 };
	struct hak_cache *c;
	struct hak_slabinfo row;
	cpu_set_t all;
	void **v;

	if (option_values[OPT_POISON] || option_values[OPT_REFILL] != BATCH)
		return;
	c = hak_cache_create("burst", 64, 0, 0, NULL);
	v = malloc(N * sizeof(*v));
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	ck_assert_int_eq(pin_to_cpu(sched_getcpu()), 0);
	for (int i = 0; i < N; i++)
		ck_assert_ptr_nonnull(v[i] = hak_cache_alloc(c));
	ck_assert(find_row("burst", &row));
	ck_assert_uint_lt(c->id, FC_GROW_BINS);
	ck_assert_uint_ge(row.refills, N / HAK_MAX_BATCH);
	ck_assert_uint_le(row.refills, N / (4 * BATCH));
	for (int i = 0; i < N; i++)
		hak_cache_free(c, v[i]);
	ck_assert(find_row("burst", &row));
	ck_assert_uint_ge(row.drains, (N - FC_MAX_CAP) / HAK_MAX_BATCH);
	ck_assert_uint_le(row.drains, N / (4 * BATCH));
	free(v);
	hak_cache_destroy(c);
	sched_setaffinity(0, sizeof(all), &all);
}
END_TEST

/* The bins' sizing options at their defaults (the bounds below assume them). */
static int default_sizing(void)
{
	return !option_values[OPT_POISON] && option_values[OPT_REFILL] == 32 &&
	       option_values[OPT_CACHE_GROW_KB] >= 512;
}

/*
 * A size class's bin grows past one trip's worth (HAK_MAX_BATCH) under
 * bursts longer than that: once warm, a burst of 1600 objects of 240
 * bytes (kmalloc-256: base bin 64, room to grow to 1024, 256 KiB within
 * the default HAKMEM_CACHE_GROW_KB) takes at most four refills and four
 * drains, where a bin of 256 would take six of each (1344 objects past
 * the bin, 256 a trip). Every object comes back: the class's active
 * count is the same before and after. Pinned to one CPU, so one bin sees
 * every burst; skipped with a non-default batch, budget or poisoning.
 */
START_TEST(long_bursts_grow_the_bin)
{
	enum { N = 1600, WARM = 20, BURSTS = 10 };
	struct hak_slabinfo before, after;
	cpu_set_t all;
	void **v;

	if (!default_sizing())
		return;
	v = malloc(N * sizeof(*v));
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	ck_assert_int_eq(pin_to_cpu(sched_getcpu()), 0);
	for (int r = 0; r < WARM + BURSTS; r++) {
		if (r == WARM)
			ck_assert(find_row("kmalloc-256", &before));
		for (int i = 0; i < N; i++)
			ck_assert_ptr_nonnull(v[i] = hak_malloc(240));
		for (int i = 0; i < N; i++)
			hak_free(v[i]);
	}
	ck_assert(find_row("kmalloc-256", &after));
	ck_assert_uint_le(after.refills - before.refills, 4 * BURSTS);
	ck_assert_uint_le(after.drains - before.drains, 4 * BURSTS);
	ck_assert_uint_eq(after.active_objs, before.active_objs);
	free(v);
	sched_setaffinity(0, sizeof(all), &all);
}
END_TEST

/* The region the calling (pinned) thread's fast paths use. */
static struct fc_region *my_region(void)
{
	if (fast_rseq.on)
		return cpu_regions[sched_getcpu()];
	return tc_region;
}

static unsigned int bin_cap(const struct fc_bin *b)
{
	return (unsigned int)(b->end - b->begin);
}

/*
 * An object cache's bin grows under bursts like a size class's (one of
 * the first FC_USER_GROW_IDS caches): once warm, a burst of 1600 objects
 * of 240 bytes takes about one refill and one drain per grown bin (at
 * most N / bin_max_cap() + 2 each: 10 for the 200 objects that
 * FC_USER_GROW_BYTES allows; a bin of the base 64 would take 25 of each),
 * and the bin is past its base. Idle for
 * a whole decay tick (bins_tick(), while other bins of the region take
 * slow paths), it shrinks back to what it holds, and to its base when it
 * holds less. Every object comes back: the active count is the same
 * before and after the bursts, and the live count (active, less what the
 * bins hold) before and after the shrink. Run in the per-CPU mode where rseq works (pinned, so one bin
 * sees every burst), and again in the per-thread mode (main()); skipped
 * with a non-default batch, budget or poisoning, and with the per-CPU
 * mode indexed by mm_cid (the test finds its region by CPU number).
 */
START_TEST(object_cache_bins_grow_and_shrink)
{
	enum { N = 1600, WARM = 20, BURSTS = 10, HOLD = 100 };
	struct hak_slabinfo before, after, row;
	struct hak_cache *c;
	struct fc_region *r;
	struct fc_bin *b;
	unsigned int base, grown, held, taken;
	uint64_t live;
	void *other[HOLD];
	cpu_set_t all;
	void **v;

	if (!default_sizing() || (fast_rseq.on && option_values[OPT_CPU_ID]))
		return;
	c = hak_cache_create("grow-shrink", 240, 0, 0, NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_lt(c->id, FC_GROW_BINS);
	v = malloc(N * sizeof(*v));
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	ck_assert_int_eq(pin_to_cpu(sched_getcpu()), 0);
	for (int k = 0; k < WARM + BURSTS; k++) {
		if (k == WARM)
			ck_assert(find_row("grow-shrink", &before));
		for (int i = 0; i < N; i++)
			ck_assert_ptr_nonnull(v[i] = hak_cache_alloc(c));
		for (int i = 0; i < N; i++)
			hak_cache_free(c, v[i]);
	}
	ck_assert(find_row("grow-shrink", &after));
	ck_assert_uint_lt(N / bin_max_cap(c->id) + 2, N / bin_base_cap(c->id));
	ck_assert_uint_le(after.refills - before.refills,
			  (N / bin_max_cap(c->id) + 2) * BURSTS);
	ck_assert_uint_le(after.drains - before.drains,
			  (N / bin_max_cap(c->id) + 2) * BURSTS);
	ck_assert_uint_eq(after.active_objs, before.active_objs);
	live = after.active_objs - regions_count_cached(c->id);
	ck_assert_uint_eq(live, 0);
	r = my_region();
	b = &r->bin[c->id];
	base = bin_base_cap(c->id);
	grown = bin_cap(b);
	ck_assert_uint_gt(grown, base > HOLD ? base : HOLD);
	ck_assert_uint_le(grown, bin_max_cap(c->id));
	/* all but HOLD leave the bin, with no slow path from here on */
	held = (unsigned int)(b->current - b->begin);
	taken = held > HOLD ? held - HOLD : 0;
	for (unsigned int i = 0; i < taken; i++)
		ck_assert_ptr_nonnull(v[i] = hak_cache_alloc(c));
	held -= taken;
	ck_assert_uint_eq(b->current - b->begin, held);
	for (int tick = 0; tick < 2; tick++) {
		bins_tick();
		/* another bin's slow paths: the region's rebalance */
		for (int i = 0; i < HOLD; i++)
			ck_assert_ptr_nonnull(other[i] = hak_malloc(5000));
		for (int i = 0; i < HOLD; i++)
			hak_free(other[i]);
	}
	ck_assert_uint_eq(b->current - b->begin, held);
	ck_assert_uint_eq(bin_cap(b), (held > base ? held : base));
	for (unsigned int i = 0; i < taken; i++)
		hak_cache_free(c, v[i]);
	/* what the bins hold is no longer the same: what is live is */
	ck_assert(find_row("grow-shrink", &row));
	ck_assert_uint_eq(row.active_objs - regions_count_cached(c->id),
			  live);
	free(v);
	hak_cache_destroy(c);
	sched_setaffinity(0, sizeof(all), &all);
}
END_TEST

/*
 * The bins of an object cache hold what its object size allows (the same
 * 2 x batch as a size class: 2 objects of 40000 bytes), not the 64 slots
 * every user id has: 64 objects freed on one CPU leave at most 2 out of
 * the central pool.
 */
START_TEST(large_object_bins_stay_small)
{
	struct hak_cache *c = hak_cache_create("big40k", 40000, 0, 0, NULL);
	void *v[64];
	struct hak_slabinfo row;
	cpu_set_t all;

	ck_assert_int_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	ck_assert_int_eq(pin_to_cpu(sched_getcpu()), 0);
	for (int i = 0; i < 64; i++)
		ck_assert_ptr_nonnull(v[i] = hak_cache_alloc(c));
	for (int i = 0; i < 64; i++)
		hak_cache_free(c, v[i]);
	ck_assert(find_row("big40k", &row));
	ck_assert_uint_le(row.active_objs, 2);
	for (int i = 0; i < 64; i++)	/* and the bins still work */
		ck_assert_ptr_nonnull(v[i] = hak_cache_alloc(c));
	for (int i = 0; i < 64; i++)
		hak_cache_free(c, v[i]);
	hak_cache_destroy(c);
	sched_setaffinity(0, sizeof(all), &all);
}
END_TEST

/* Destroying a cache with live objects is reported and keeps the cache. */
static void do_destroy(void *c)
{
	hak_cache_destroy(c);
}

START_TEST(destroy_with_live_objects_is_reported)
{
	struct hak_cache *c = hak_cache_create("leaky", 64, 0, 0, NULL);
	void *p = hak_cache_alloc(c);
	struct hak_slabinfo row;
	char buf[512] = "";

	ck_assert_int_gt(capture_stderr(do_destroy, c, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "leaky"));
	ck_assert_ptr_nonnull(strstr(buf, "1 objects still allocated"));
	ck_assert(find_row("leaky", &row));
	memset(p, 1, 64);	/* still valid */
	hak_cache_free(c, p);
	hak_cache_destroy(c);
	ck_assert(!find_row("leaky", &row));
}
END_TEST

/* Cache ids are recycled: create and destroy many times. */
START_TEST(create_destroy_cycles)
{
	for (int i = 0; i < 2000; i++) {
		struct hak_cache *c = hak_cache_create("cycle", 16 + i % 500, 0, 0, NULL);
		void *p;

		ck_assert_ptr_nonnull(c);
		p = hak_cache_alloc(c);
		hak_cache_free(c, p);
		hak_cache_destroy(c);
	}
}
END_TEST

/* kfree-style: hak_free() takes objects of any cache. */
START_TEST(hak_free_of_cache_object)
{
	struct hak_cache *c = hak_cache_create("kfree", 48, 0, 0, NULL);
	void *p = hak_cache_alloc(c);

	ck_assert_uint_eq(hak_malloc_usable_size(p), 48);
	hak_free(p);
	ck_assert_int_ge(hak_cache_shrink(c), 0);
	hak_cache_destroy(c);
}
END_TEST

START_TEST(stats_print_shows_the_table)
{
	struct hak_cache *c = hak_cache_create("printed", 40, 0, 0, NULL);
	void *p = hak_cache_alloc(c);
	int fds[2];
	char buf[65536];
	ssize_t n, total = 0;

	ck_assert_int_eq(pipe(fds), 0);
	hak_stats_print(fds[1]);
	close(fds[1]);
	while ((n = read(fds[0], buf + total, sizeof(buf) - 1 - total)) > 0)
		total += n;
	buf[total] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "slabinfo"));
	ck_assert_ptr_nonnull(strstr(buf, "printed"));
	ck_assert_ptr_nonnull(strstr(buf, "refills"));
	ck_assert_ptr_nonnull(strstr(buf, "fast path:"));
	hak_cache_free(c, p);
	hak_cache_destroy(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("object_cache");
	TCase *tc = tcase_create("caches");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ctor_runs_once_per_object);
	tcase_add_test(tc, alignment_and_hwcache_align);
	tcase_add_test(tc, strides_take_whole_lines);
	tcase_add_test(tc, bad_create_arguments);
	tcase_add_test(tc, shrink_releases_empty_slabs);
	tcase_add_test(tc, bursts_move_whole_bins);
	tcase_add_test(tc, large_object_bins_stay_small);
	tcase_add_test(tc, destroy_with_live_objects_is_reported);
	tcase_add_test(tc, create_destroy_cycles);
	tcase_add_test(tc, hak_free_of_cache_object);
	tcase_add_test(tc, stats_print_shows_the_table);
	tcase_add_test(tc, long_bursts_grow_the_bin);
	tcase_add_test(tc, object_cache_bins_grow_and_shrink);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	(void)argc;
	return check_run_both_modes(suite(), argv);
}
