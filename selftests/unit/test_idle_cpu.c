// SPDX-License-Identifier: MIT
/*
 * Unit tests of a CPU found idle (core/percpu.c's idle scan, then
 * central_cpus_leave()): the objects the centrals keep for it, in its
 * stash and in the transfer array, go to another CPU's refill instead of
 * fresh memory; once it takes a slow path again, it gets its own objects
 * back first. The decay clock is driven by the test (percpu_scan_idle()),
 * never by time.
 */
#include <check.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../core/cache.h"
#include "../../core/central.h"
#include "../../core/central_cpu.h"
#include "../../core/percpu.h"
#include "../../core/region.h"
#include "../../core/superslab.h"
#include "../lib/check_main.h"
#include "../lib/cpu.h"
#include "../lib/objs.h"

/* more than a grown bin holds (FC_MAX_CAP) */
#define NOBJ	(2 * FC_MAX_CAP)

/* Why the idle scan cannot run here; NULL when it can. */
static const char *idle_scan_missing(void)
{
	const char *why = percpu_pair_missing();
	long cmds;

	if (why)
		return why;
	cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ))
		return "no membarrier for rseq: no idle scan";
	return NULL;
}

/* One scan of the idle CPUs, waiting out one that runs already. */
static void scan(void)
{
	while (percpu_scan_idle() < 0)
		sched_yield();
}

/*
 * CPU A allocates and frees objects of a cache of its own; then, pinned
 * to CPU B, the test scans twice with no slow path on A in between: A is
 * gone, its stash is empty, and B's allocations are A's objects (the
 * central's objects out of spans do not grow: nothing is carved). Back on
 * A, its next slow path makes it active, and it gets its objects back.
 */
START_TEST(an_idle_cpus_objects_go_to_another_cpu)
{
	struct hak_cache *c = hak_cache_create("idle-cpu", 64, 0, 0, NULL);
	void **a = calloc(2 * NOBJ, sizeof(void *)), **b = a + NOBJ;
	unsigned int m, i, ca;
	const char *why = idle_scan_missing();
	struct central *ct;
	uint64_t inuse;
	int cpus[2];

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(a);
	allowed_cpus(cpus, 2);
	if (!why && (cpus[1] < 0 || pin_to_cpu(cpus[0])))
		why = "two CPUs to pin to";
	if (why) {
		printf("an_idle_cpus_objects_go_to_another_cpu: %s: not run\n",
		       why);
		hak_cache_destroy(c);
		free(a);
		return;
	}
	ca = (unsigned int)cpus[0];
	for (i = 0; i < NOBJ; i++) {
		a[i] = hak_cache_alloc(c);
		ck_assert_ptr_nonnull(a[i]);
		ck_assert_uint_eq(obj_owner(a[i]), ca);
	}
	for (i = 0; i < NOBJ; i++)
		hak_cache_free(c, a[i]);
	ct = central_peek(c, ss_of(a[0])->node);
	ck_assert_uint_gt(central_stashed(ct, ca), 0);

	ck_assert_int_eq(pin_to_cpu(cpus[1]), 0);
	scan();
	scan();
	ck_assert(central_cpu_is_gone(ca));
	ck_assert_uint_eq(central_stashed(ct, ca), 0);
	inuse = ct->inuse;
	m = c->batch;
	for (i = 0; i < m; i++) {
		b[i] = hak_cache_alloc(c);
		ck_assert_ptr_nonnull(b[i]);
		ck_assert(in_set(b[i], a, NOBJ));
	}
	ck_assert_uint_eq(ct->inuse, inuse);	/* none carved */

	/* A is back: its slow path takes its own objects first */
	ck_assert_int_eq(pin_to_cpu(cpus[0]), 0);
	b[m] = hak_cache_alloc(c);
	ck_assert_ptr_nonnull(b[m]);
	ck_assert(in_set(b[m], a, NOBJ));
	ck_assert(!central_cpu_is_gone(ca));
	ck_assert_uint_eq(ct->inuse, inuse);

	for (i = 0; i <= m; i++)
		hak_cache_free(c, b[i]);
	hak_cache_destroy(c);
	free(a);
}
END_TEST

static Suite *idle_suite(void)
{
	Suite *s = suite_create("idle-cpu");
	TCase *tc = tcase_create("idle-cpu");

	tcase_add_test(tc, an_idle_cpus_objects_go_to_another_cpu);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(idle_suite());
}
