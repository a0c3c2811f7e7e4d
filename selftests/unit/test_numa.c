// SPDX-License-Identifier: MIT
/*
 * Unit tests: NUMA node logic on a fake topology (HAKMEM_NUMA_FAKE=2
 * splits the CPUs into two virtual nodes), so it runs on any machine with
 * two CPUs or more: node-local refills, cross-node frees returned to their owner
 * node in batches, fallback to the nearest allowed node.
 */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../core/superslab.h"
#include "../../numa/topology.h"
#include "../lib/check_main.h"

#define N 2000

/* The first CPU of each fake node (node k: CPUs k*C/2 .. (k+1)*C/2-1). */
static int cpu_of_node[2];

static void find_cpus(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);

	cpu_of_node[0] = 0;
	cpu_of_node[1] = (int)(cpus / 2);
}

/*
 * Moves the thread to @cpu. In the per-thread mode (HAKMEM_RSEQ=0) a
 * thread's cache follows the thread, not the CPU, so objects it cached on
 * the old node would still come back: flush them, as a program that
 * migrates threads between nodes on purpose would (or use the per-CPU
 * mode, where this is automatic).
 */
static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
	hak_trim();
}

static unsigned int node_of(const void *p)
{
	return ss_of(p)->node;
}

static struct hak_node_stats node_row(int node)
{
	struct hak_node_stats rows[HAK_NODE_SLOTS], none = { .node = node };
	int n = hak_node_stats(rows, HAK_NODE_SLOTS);

	for (int i = 0; i < n; i++)
		if (rows[i].node == node)
			return rows[i];
	return none;
}

START_TEST(fake_topology_is_in_force)
{
	struct hak_global_stats st;

	hak_free(hak_malloc(1));
	hak_global_stats(&st);
	ck_assert_int_eq(st.numa_nodes, 2);
	ck_assert_ptr_nonnull(strstr(st.numa_policy, "fake"));
	ck_assert_int_eq(topo.node_of_cpu[cpu_of_node[0]], 0);
	ck_assert_int_eq(topo.node_of_cpu[cpu_of_node[1]], 1);
	ck_assert_int_eq(topo.node_of_cpu[cpu_of_node[1] - 1], 0);
}
END_TEST

/* Objects allocated on a node's CPU come from that node's SuperSlabs. */
START_TEST(refills_are_node_local)
{
	static const size_t sizes[] = { 16, 100, 1000, 5000, 70000 };

	for (int node = 0; node < 2; node++) {
		pin(cpu_of_node[node]);
		for (unsigned int s = 0; s < 5; s++) {
			void *v[200];

			for (int i = 0; i < 200; i++) {
				v[i] = hak_malloc(sizes[s]);
				ck_assert_uint_eq(node_of(v[i]), (unsigned int)node);
				ck_assert_uint_eq(ss_of(v[i])->node, (unsigned int)node);
			}
			for (int i = 0; i < 200; i++)
				hak_free(v[i]);
		}
		ck_assert_uint_gt(node_row(node).superslabs, 0);
	}
}
END_TEST

static void *freer(void *arg)
{
	void **v = arg;

	pin(cpu_of_node[1]);
	for (int i = 0; i < N; i++)
		hak_free(v[i]);
	return NULL;	/* thread exit flushes the remote buffers */
}

/* Node-0 objects freed on node 1 go back to node 0, not into CPU 1. */
START_TEST(cross_node_frees_return_to_owner)
{
	void **v = malloc(N * sizeof(*v));
	uint64_t before;
	pthread_t t;

	pin(cpu_of_node[0]);
	for (int i = 0; i < N; i++) {
		v[i] = hak_malloc(64);
		ck_assert_uint_eq(node_of(v[i]), 0);
	}
	before = node_row(0).remote_frees;
	pthread_create(&t, NULL, freer, v);
	pthread_join(t, NULL);
	ck_assert_uint_eq(node_row(0).remote_frees - before, N);
	/* CPU 1 now allocates: only node-1 memory, none of the freed objects */
	pin(cpu_of_node[1]);
	for (int i = 0; i < N; i++) {
		void *p = hak_malloc(64);

		ck_assert_uint_eq(node_of(p), 1);
	}
	/* and node 0 gets its objects back */
	pin(cpu_of_node[0]);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(node_of(hak_malloc(64)), 0);
	free(v);
}
END_TEST

/* A node that may not hold memory: its threads use the nearest node. */
START_TEST(restricted_node_falls_back_to_nearest)
{
	pin(cpu_of_node[1]);
	ck_assert_uint_eq(node_of(hak_malloc(200)), 1);
	topology_restrict(1ULL << 0);
	hak_trim();	/* objects cached before stay usable: drain them */
	for (int i = 0; i < 500; i++) {
		void *p = hak_malloc(200);

		ck_assert_uint_eq(node_of(p), 0);
		hak_free(p);
	}
	ck_assert_uint_eq(topo.nearest[1][0], 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("numa_fake");
	TCase *tc = tcase_create("nodes");

	tcase_add_test(tc, fake_topology_is_in_force);
	tcase_add_test(tc, refills_are_node_local);
	tcase_add_test(tc, cross_node_frees_return_to_owner);
	tcase_add_test(tc, restricted_node_falls_back_to_nearest);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	static const char *const env[] = { "HAKMEM_NUMA_FAKE=2", NULL };

	(void)argc;
	check_reexec_with(argv, env);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		/* Check has no skip: say so and pass with zero checks */
		printf("test_numa: needs 2 CPUs, skipped\n");
		printf("100%%: Checks: 0, Failures: 0, Errors: 0\n");
		return EXIT_SUCCESS;
	}
	find_cpus();
	return check_run(suite());
}
