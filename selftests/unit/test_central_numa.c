// SPDX-License-Identifier: MIT
/*
 * Unit tests of the central pools on a fake topology (HAKMEM_NUMA_FAKE=2:
 * CPU 0 on node 0, the last CPU on node 1): objects of a span that a CPU
 * of another node took go where the span's node finds them, not to that
 * CPU's stash there. central_refill() and central_drain() are called with
 * chosen owners from a thread pinned to CPU 0 (whose pool is node 0's),
 * and to the other CPU for that CPU's own drain.
 */
#include <check.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../core/cache.h"
#include "../../core/central.h"
#include "../../core/central_cpu.h"
#include "../../core/superslab.h"
#include "../../numa/topology.h"
#include "../lib/check_main.h"
#include "../lib/objs.h"

#define N	16

/* A CPU of node 1 (the last one: learn_fake() splits the CPUs in two). */
static unsigned int other_cpu;

static void pin(unsigned int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
}

static void on_cpu0(void)
{
	pin(0);
	hak_free(hak_malloc(1));	/* the topology is learned */
	ck_assert(topology_multi());
	other_cpu = (unsigned int)sysconf(_SC_NPROCESSORS_CONF) - 1;
	ck_assert_uint_eq(topo.node_of_cpu[0], 0);
	ck_assert_uint_eq(topo.node_of_cpu[other_cpu], 1);
}

/*
 * A span of node 0 that a CPU of node 1 took (as its refills do when node
 * 1 cannot map memory): its objects freed on CPU 0 (a foreign bin's
 * drain), or drained by their owner, go to node 0's transfer array, where
 * node 0's CPUs find them, not to the owner's stash on node 0, where only
 * its next cross-node refill would. Node 0's own CPUs keep their stashes.
 */
START_TEST(other_nodes_objects_go_to_the_transfer_array)
{
	struct hak_cache *c = hak_cache_create("central-numa", 64, 0, 0, NULL);
	void *a[N], *b[N], *d[N];
	struct central *ct;

	on_cpu0();
	ck_assert_uint_eq(central_refill(c, a, N, other_cpu), N);
	ct = central_peek(c, ss_of(a[0])->node);
	ck_assert_uint_eq(ct->node, 0);
	ck_assert_uint_eq(obj_owner(a[0]), other_cpu);

	central_drain(c, a, N / 2, HAK_OWNER_SPAN);
	ck_assert_uint_eq(central_stashed(ct, other_cpu), 0);
	ck_assert_uint_eq(ct->xfer_count, N / 2);
	pin(other_cpu);
	central_drain(c, a + N / 2, N / 2, other_cpu);
	pin(0);
	ck_assert_uint_eq(central_stashed(ct, other_cpu), 0);
	ck_assert_uint_eq(ct->xfer_count, N);
	ck_assert_uint_eq(central_refill(c, b, N, 0), N);
	for (unsigned int i = 0; i < N; i++)
		ck_assert(in_set(b[i], a, N));

	/* CPU 0's own objects: its stash, as before */
	ck_assert_uint_eq(central_refill(c, d, N, 0), N);
	ck_assert_uint_eq(obj_owner(d[0]), 0);
	central_drain(c, d, N, HAK_OWNER_SPAN);
	ck_assert_uint_eq(central_stashed(ct, 0), N);
	ck_assert_uint_eq(ct->xfer_count, 0);

	central_drain(c, b, N, HAK_OWNER_NONE);
	central_shrink(c);
	ck_assert_uint_eq(ct->inuse, 0);
	hak_cache_destroy(c);
}
END_TEST

static Suite *central_numa_suite(void)
{
	Suite *s = suite_create("central_numa");
	TCase *tc = tcase_create("central_numa");

	tcase_add_test(tc, other_nodes_objects_go_to_the_transfer_array);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	static const char *const env[] = { "HAKMEM_NUMA_FAKE=2",
					   "HAKMEM_ON_ERROR=warn", NULL };

	(void)argc;
	check_reexec_with(argv, env);
	return check_run(central_numa_suite());
}
