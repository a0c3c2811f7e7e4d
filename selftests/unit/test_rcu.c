// SPDX-License-Identifier: MIT
/*
 * Unit tests: RCU-deferred frees on liburcu (hak_free_rcu(),
 * hak_cache_free_rcu(), hak_rcu_barrier(), HAK_SLAB_TYPESAFE_BY_RCU).
 * A reader thread holds a read-side critical section while the object or
 * span it could see must stay untouched; batching is checked through the
 * count of call_rcu() calls. With CONFIG_RCU=n: the flag is refused.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../core/background.h"
#include "../../core/options.h"
#include "../../core/report.h"
#include "../lib/capture.h"
#include "../lib/check_main.h"
#include "../lib/cpu.h"

#ifdef CONFIG_RCU
#include <urcu.h>

#include "../../core/rcu.h"
#include "../../core/superslab.h"

#define WATCH_ROUNDS	200	/* looks at the object while the reader holds */

/* The objects of "rcu-test" in the slabinfo table, or UINT64_MAX. */
static uint64_t listed(void)
{
	struct hak_slabinfo rows[256];
	int n = hak_slabinfo(rows, 256);

	for (int i = 0; i < n && i < 256; i++)
		if (!strcmp(rows[i].name, "rcu-test"))
			return rows[i].active_objs;
	return UINT64_MAX;
}

/*
 * Objects of @c allocated and not freed: the fast-path caches this thread
 * can reach are flushed first (every CPU's in the per-CPU mode; the
 * call_rcu thread flushes its own in the per-thread mode).
 */
static uint64_t active(struct hak_cache *c)
{
	hak_cache_shrink(c);
	return listed();
}

/* @n objects of @c into @objs. */
static void alloc_n(struct hak_cache *c, void **objs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		objs[i] = hak_cache_alloc(c);
}

/* Defers the frees of @n objects of @c. */
static void free_rcu_n(struct hak_cache *c, void *const *objs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hak_cache_free_rcu(c, objs[i]);
}

/* A reader that stays in one read-side critical section until told. */
struct reader {
	pthread_t tid;
	_Atomic int inside;
	_Atomic int leave;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	rcu_register_thread();
	rcu_read_lock();
	atomic_store(&r->inside, 1);
	while (!atomic_load(&r->leave))
		usleep(100);
	rcu_read_unlock();
	rcu_unregister_thread();
	return NULL;
}

static void reader_start(struct reader *r)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(pthread_create(&r->tid, NULL, reader_fn, r), 0);
	while (!atomic_load(&r->inside))
		usleep(100);
}

static void reader_stop(struct reader *r)
{
	atomic_store(&r->leave, 1);
	pthread_join(r->tid, NULL);
}

static void *barrier_fn(void *arg)
{
	_Atomic int *done = arg;

	hak_rcu_barrier();
	atomic_store(done, 1);
	return NULL;
}

static void setup(void)
{
	rcu_register_thread();
}

static void teardown(void)
{
	rcu_unregister_thread();
}

/*
 * The object stays as it was (no free tag, no poison, no reuse) while a
 * reader that started before the deferred free is inside its critical
 * section, and is freed once it has left.
 */
START_TEST(free_waits_for_the_reader)
{
	struct hak_cache *c = hak_cache_create("rcu-test", 200, 0, 0, NULL);
	unsigned char *p = hak_cache_alloc(c), copy[200];
	_Atomic int done = 0;
	struct reader r;
	pthread_t bt;

	memset(p, 0xa5, 200);
	memcpy(copy, p, 200);
	reader_start(&r);
	hak_cache_free_rcu(c, p);
	ck_assert_int_eq(pthread_create(&bt, NULL, barrier_fn, &done), 0);
	for (int i = 0; i < WATCH_ROUNDS; i++) {
		ck_assert_int_eq(memcmp(p, copy, 200), 0);
		ck_assert_int_eq(atomic_load(&done), 0);
		ck_assert_uint_eq(active(c), 1);
		usleep(500);
	}
	reader_stop(&r);
	pthread_join(bt, NULL);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(active(c), 0);
	hak_cache_destroy(c);
}
END_TEST

/* The first two CPUs this process may run on (-1 when there is one). */
static int cpus[2] = { -1, -1 };

/* One call_rcu() per full batch, none per object (one CPU's batch). */
START_TEST(one_call_rcu_per_batch)
{
	struct hak_cache *c = hak_cache_create("rcu-test", 64, 0, 0, NULL);
	static void *objs[3 * RCU_BATCH_OBJS + 5];
	uint64_t before;

	ck_assert_int_eq(pin_to_cpu(cpus[0]), 0);
	rcu_age_ms = 1UL << 40;	/* only full batches go */
	alloc_n(c, objs, 3 * RCU_BATCH_OBJS + 5);
	before = rcu_batches_sent;
	free_rcu_n(c, objs, 3 * RCU_BATCH_OBJS + 5);
	ck_assert_uint_eq(rcu_batches_sent - before, 3);
	rcu_barrier();			/* liburcu's: the 3 batches sent */
	ck_assert_uint_eq(active(c), 5);	/* the partial batch */
	hak_rcu_barrier();
	ck_assert_uint_eq(rcu_batches_sent - before, 4);	/* the partial one */
	ck_assert_uint_eq(active(c), 0);
	hak_cache_destroy(c);
}
END_TEST

/* Age 0: every call finds its batch old enough to go. */
START_TEST(an_old_batch_goes_on_the_next_call)
{
	struct hak_cache *c = hak_cache_create("rcu-test", 64, 0, 0, NULL);
	void *objs[8];
	uint64_t before;

	alloc_n(c, objs, 8);
	rcu_age_ms = 0;
	before = rcu_batches_sent;
	free_rcu_n(c, objs, 8);
	ck_assert_uint_eq(rcu_batches_sent - before, 8);
	rcu_barrier();
	ck_assert_uint_eq(active(c), 0);
	hak_cache_destroy(c);
}
END_TEST

static struct hak_cache *exit_cache;

struct deferrer {
	void **objs;
	int n;
	int cpu;
};

static void *free_and_exit(void *arg)
{
	struct deferrer *d = arg;

	if (pin_to_cpu(d->cpu))
		return (void *)1;
	rcu_register_thread();
	for (int i = 0; i < d->n; i++)
		hak_cache_free_rcu(exit_cache, d->objs[i]);
	rcu_unregister_thread();
	return NULL;
}

/* Runs a thread on @cpu that defers the frees of @n of @objs and exits. */
static void defer_on(int cpu, void **objs, int n)
{
	struct deferrer d = { objs, n, cpu };
	pthread_t t;
	void *rc;

	ck_assert_int_eq(pthread_create(&t, NULL, free_and_exit, &d), 0);
	pthread_join(t, &rc);
	ck_assert_ptr_null(rc);
}

/*
 * Batches are per CPU, not per thread: eight threads that run one after
 * another on one CPU, five deferred frees each, fill one batch, which
 * goes to call_rcu() once, at the barrier (per-thread batches: eight).
 */
START_TEST(threads_of_one_cpu_share_a_batch)
{
	void *objs[8 * 5];
	uint64_t before;

	rcu_age_ms = 1UL << 40;
	exit_cache = hak_cache_create("rcu-test", 64, 0, 0, NULL);
	for (int i = 0; i < 8 * 5; i++)
		objs[i] = hak_cache_alloc(exit_cache);
	before = rcu_batches_sent;
	for (int t = 0; t < 8; t++)
		defer_on(cpus[0], objs + 5 * t, 5);
	ck_assert_uint_eq(rcu_batches_sent - before, 0);
	ck_assert_uint_eq(active(exit_cache), 8 * 5);
	hak_rcu_barrier();
	ck_assert_uint_eq(rcu_batches_sent - before, 1);
	ck_assert_uint_eq(active(exit_cache), 0);
	hak_cache_destroy(exit_cache);
}
END_TEST

/*
 * A partial batch left on a CPU where nothing is deferred any more goes
 * with the next deferred free on another CPU once it is old (age 0
 * here), without a barrier: liburcu's own barrier then sees it.
 */
START_TEST(an_idle_cpus_batch_goes_with_a_later_free)
{
	void *objs[6];
	uint64_t before;

	if (cpus[1] < 0)
		return;		/* one CPU: no other CPU to sweep from */
	rcu_age_ms = 1UL << 40;
	exit_cache = hak_cache_create("rcu-test", 64, 0, 0, NULL);
	for (int i = 0; i < 6; i++)
		objs[i] = hak_cache_alloc(exit_cache);
	before = rcu_batches_sent;
	defer_on(cpus[0], objs, 5);
	rcu_age_ms = 0;
	defer_on(cpus[1], objs + 5, 1);
	ck_assert_uint_eq(rcu_batches_sent - before, 2);
	rcu_barrier();
	ck_assert_uint_eq(active(exit_cache), 0);
	hak_cache_destroy(exit_cache);
}
END_TEST

/*
 * A program that stops deferring frees: its partial batch goes with the
 * next decay pass (the background thread's), not only at a barrier.
 */
START_TEST(a_decay_pass_sends_a_partial_batch)
{
	struct hak_cache *c = hak_cache_create("rcu-test", 64, 0, 0, NULL);
	void *objs[3];
	uint64_t before;

	alloc_n(c, objs, 3);
	rcu_age_ms = 1UL << 40;
	before = rcu_batches_sent;
	free_rcu_n(c, objs, 3);
	background_work();		/* too young: it stays */
	ck_assert_uint_eq(rcu_batches_sent - before, 0);
	rcu_age_ms = 0;
	background_work();
	ck_assert_uint_eq(rcu_batches_sent - before, 1);
	rcu_barrier();
	ck_assert_uint_eq(active(c), 0);
	hak_cache_destroy(c);
}
END_TEST

/* hak_cache_destroy() right after deferred frees: nothing is reported. */
START_TEST(destroy_waits_for_deferred_frees)
{
	struct hak_cache *c = hak_cache_create("rcu-test", 96, 0, 0, NULL);
	struct hak_slabinfo rows[256];
	void *objs[40];
	int n;

	rcu_age_ms = 1UL << 40;
	alloc_n(c, objs, 40);
	free_rcu_n(c, objs, 40);
	hak_cache_destroy(c);	/* would abort on "still allocated" */
	n = hak_slabinfo(rows, 256);
	for (int i = 0; i < n && i < 256; i++)
		ck_assert_str_ne(rows[i].name, "rcu-test");
	ck_assert_uint_eq(report_count(), 0);
}
END_TEST

static void *bad_arg;
static struct hak_cache *bad_cache;

static void free_bad(void *arg)
{
	(void)arg;
	if (bad_cache)
		hak_cache_free_rcu(bad_cache, bad_arg);
	else
		hak_free_rcu(bad_arg);
}

/* Bad pointers are reported at the call, not later from call_rcu's thread. */
START_TEST(bad_pointers_are_reported_at_once)
{
	struct hak_cache *a = hak_cache_create("rcu-test", 64, 0, 0, NULL);
	struct hak_cache *b = hak_cache_create("rcu-other", 64, 0, 0, NULL);
	void *p = hak_cache_alloc(a);
	char buf[1024];
	long on_stack;

	option_values[OPT_ON_ERROR] = 1;	/* warn */
	bad_cache = b;
	bad_arg = p;
	capture_stderr(free_bad, NULL, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "hak_cache_free_rcu"));
	ck_assert_ptr_nonnull(strstr(buf, "another cache"));
	bad_cache = NULL;
	bad_arg = &on_stack;
	capture_stderr(free_bad, NULL, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "hak_free_rcu"));
	ck_assert_uint_eq(report_count(), 2);
	hak_free_rcu(NULL);		/* a no-op, as free(NULL) */
	hak_cache_free_rcu(a, NULL);
	hak_cache_free_rcu(a, p);	/* the right cache: fine */
	hak_rcu_barrier();
	ck_assert_uint_eq(active(a), 0);
	ck_assert_uint_eq(report_count(), 2);
}
END_TEST

/* Plain hak_free_rcu() of malloc memory, small and huge. */
START_TEST(malloc_memory_small_and_huge)
{
	unsigned char *s = hak_malloc(100), *h = hak_malloc(8 << 20);
	struct hak_global_stats st;

	memset(s, 1, 100);
	memset(h, 2, 8 << 20);
	hak_free_rcu(s);
	hak_free_rcu(h);
	hak_global_stats(&st);
	ck_assert_uint_eq(st.huge_allocs, 1);
	hak_rcu_barrier();
	hak_global_stats(&st);
	ck_assert_uint_eq(st.huge_allocs, 0);
	ck_assert_uint_eq(report_count(), 0);
}
END_TEST

static int slab_is_free(const void *p)
{
	const struct superslab *ss = ss_of(p);
	unsigned int idx = (unsigned int)(((uintptr_t)p - (uintptr_t)ss) >>
					  HAK_SLAB_SHIFT);

	struct mutex_lock *lock = &ss_pools[ss->node].lock;
	uint32_t bits;

	mutex_lock(lock);			/* the bitmap's lock */
	bits = ss->free_bitmap;
	mutex_unlock(lock);
	return (bits >> idx) & 1;
}

/*
 * HAK_SLAB_TYPESAFE_BY_RCU: an emptied span stays out of its SuperSlab
 * (its memory as it was) while a reader is inside, and goes back after.
 */
START_TEST(typesafe_span_waits_for_the_reader)
{
	struct hak_cache *c = hak_cache_create("rcu-test", 512, 0,
					       HAK_SLAB_TYPESAFE_BY_RCU, NULL);
	unsigned char *p = hak_cache_alloc(c), copy[512];
	_Atomic int done = 0;
	struct reader r;
	pthread_t bt;

	ck_assert_ptr_nonnull(c);
	memset(p, 0x3c, 512);
	reader_start(&r);
	hak_cache_free(c, p);		/* a plain free: reuse allowed */
	memcpy(copy, p, 512);
	ck_assert_int_ge(hak_cache_shrink(c), 1);
	ck_assert_int_eq(slab_is_free(p), 0);
	ck_assert_int_eq(pthread_create(&bt, NULL, barrier_fn, &done), 0);
	for (int i = 0; i < WATCH_ROUNDS; i++) {
		ck_assert_int_eq(slab_is_free(p), 0);
		ck_assert_int_eq(memcmp(p, copy, 512), 0);
		ck_assert_int_eq(atomic_load(&done), 0);
		usleep(500);
	}
	reader_stop(&r);
	pthread_join(bt, NULL);
	ck_assert_int_eq(slab_is_free(p), 1);
	hak_cache_destroy(c);
	ck_assert_uint_eq(report_count(), 0);
}
END_TEST

/* A typesafe cache destroyed at once after frees: spans wait, no report. */
START_TEST(typesafe_destroy)
{
	struct hak_cache *c = hak_cache_create("rcu-test", 256, 0,
					       HAK_SLAB_TYPESAFE_BY_RCU, NULL);
	void *objs[600];

	for (int i = 0; i < 600; i++)
		objs[i] = hak_cache_alloc(c);
	for (int i = 0; i < 600; i++)
		if (i & 1)
			hak_cache_free(c, objs[i]);
		else
			hak_cache_free_rcu(c, objs[i]);
	hak_cache_destroy(c);
	ck_assert_uint_eq(report_count(), 0);
	ck_assert_uint_eq(listed(), UINT64_MAX);	/* gone */
}
END_TEST

#ifdef __SANITIZE_THREAD__
/* As in selftests/stress/rcu_list.c: orderings TSan cannot see. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "race:batch_free_rcu\ncalled_from_lib:liburcu.so\n";
}
#endif

static Suite *suite(void)
{
	Suite *s = suite_create("rcu");
	TCase *tc = tcase_create("rcu");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, free_waits_for_the_reader);
	tcase_add_test(tc, one_call_rcu_per_batch);
	tcase_add_test(tc, an_old_batch_goes_on_the_next_call);
	tcase_add_test(tc, threads_of_one_cpu_share_a_batch);
	tcase_add_test(tc, an_idle_cpus_batch_goes_with_a_later_free);
	tcase_add_test(tc, a_decay_pass_sends_a_partial_batch);
	tcase_add_test(tc, destroy_waits_for_deferred_frees);
	tcase_add_test(tc, bad_pointers_are_reported_at_once);
	tcase_add_test(tc, malloc_memory_small_and_huge);
	tcase_add_test(tc, typesafe_span_waits_for_the_reader);
	tcase_add_test(tc, typesafe_destroy);
	suite_add_tcase(s, tc);
	return s;
}
#else /* !CONFIG_RCU */
/* Without liburcu the flag is refused with a message, not ignored. */
START_TEST(typesafe_refused_without_rcu)
{
	errno = 0;
	ck_assert_ptr_null(hak_cache_create("rcu-test", 64, 0,
					    HAK_SLAB_TYPESAFE_BY_RCU, NULL));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("rcu");
	TCase *tc = tcase_create("no-rcu");

	tcase_add_test(tc, typesafe_refused_without_rcu);
	suite_add_tcase(s, tc);
	return s;
}
#endif /* CONFIG_RCU */

int main(void)
{
#ifdef CONFIG_RCU
	allowed_cpus(cpus, 2);
#endif
	return check_run(suite());
}
