// SPDX-License-Identifier: MIT
/*
 * NUMA selftest (TAP), run inside multi-node VMs (selftests/vm): where the
 * allocator's memory really lands, queried page by page with move_pages(),
 * never assumed.
 *
 * Usage: numa_test local NODES     default policy: node-local placement
 *                                  from each node's CPUs, cross-node frees
 *                                  back to their owner, rseq node lookup
 *        numa_test membind K       run under numactl --membind=K
 *        numa_test preferred K     run under numactl --preferred=K
 *        numa_test cpunodebind K   run under numactl --cpunodebind=K
 *        numa_test interleave NODES  under numactl --interleave=all
 * Exit: 0 pass, 1 fail, 4 skip.
 */
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../numa/topology.h"
#include "../lib/cpu.h"
#include "../lib/tap.h"

#define NOBJ	1500

static const size_t sizes[] = { 64, 1000, 16000, 100000 };

static int first_cpu_of(int node)
{
	struct bitmask *cpus = numa_allocate_cpumask();
	int found = -1;

	if (!numa_node_to_cpus(node, cpus))
		for (unsigned int c = 0; c < cpus->size && found < 0; c++)
			if (numa_bitmask_isbitset(cpus, c))
				found = (int)c;
	numa_free_cpumask(cpus);
	return found;
}

/* The node of the page holding @p, or a negative errno. */
static int page_node(void *p)
{
	void *page = (void *)((uintptr_t)p & ~(uintptr_t)4095);
	int status = -1;

	if (move_pages(0, 1, &page, NULL, &status, 0))
		return -1;
	return status;
}

/* Allocates NOBJ objects of each size; counts pages per node in @hist. */
static void alloc_and_place(int hist[HAK_MAX_NODES], void **keep, int nkeep)
{
	for (unsigned int s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		int n = sizes[s] >= 16000 ? NOBJ / 10 : NOBJ;

		for (int i = 0; i < n; i++) {
			char *p = hak_malloc(sizes[s]);
			int node;

			memset(p, 1, sizes[s]);
			node = page_node(p);
			if (node >= 0 && node < HAK_MAX_NODES)
				hist[node]++;
			if (i < nkeep && s == 0)
				keep[i] = p;
			else
				hak_free(p);
		}
	}
}

static int only_on(const int hist[HAK_MAX_NODES], int node, int *total)
{
	int ok = 1;

	*total = 0;
	for (int n = 0; n < HAK_MAX_NODES; n++) {
		*total += hist[n];
		if (n != node && hist[n])
			ok = 0;
	}
	return ok && *total > 0;
}

static void test_placement_from_each_node(int nodes, int expect_fixed)
{
	for (int k = 0; k < nodes; k++) {
		int hist[HAK_MAX_NODES] = { 0 }, total = 0, cpu = first_cpu_of(k);
		int want = expect_fixed >= 0 ? expect_fixed : k, ok;

		if (cpu < 0 || pin_to_cpu(cpu)) {
			tap_result(0, "pin to a CPU of node %d", k);
			continue;
		}
		alloc_and_place(hist, NULL, 0);
		ok = only_on(hist, want, &total);
		tap_result(ok, "allocating on node %d's CPU %d: %d of %d sampled pages on node %d",
			   k, cpu, hist[want], total, want);
	}
}

static uint64_t remote_frees_of(int node)
{
	struct hak_node_stats rows[HAK_NODE_SLOTS];
	int n = hak_node_stats(rows, HAK_NODE_SLOTS);

	for (int i = 0; i < n; i++)
		if (rows[i].node == node)
			return rows[i].remote_frees;
	return 0;
}

static void *free_on_node1(void *arg)
{
	void **v = arg;

	pin_to_cpu(first_cpu_of(1));
	for (int i = 0; i < NOBJ; i++)
		hak_free(v[i]);
	return NULL;
}

static void test_cross_node_free(void)
{
	static void *v[NOBJ];
	int hist[HAK_MAX_NODES] = { 0 }, total = 0, dup = 0, ok;
	uint64_t before;
	pthread_t t;

	pin_to_cpu(first_cpu_of(0));
	for (int i = 0; i < NOBJ; i++)
		v[i] = hak_malloc(64);
	before = remote_frees_of(0);
	pthread_create(&t, NULL, free_on_node1, v);
	pthread_join(t, NULL);
	tap_result(remote_frees_of(0) - before == NOBJ,
		   "node-0 objects freed on node 1: %llu returned to node 0",
		   (unsigned long long)(remote_frees_of(0) - before));
	pin_to_cpu(first_cpu_of(1));
	for (int i = 0; i < NOBJ; i++) {
		void *p = hak_malloc(64);
		int node = page_node(p);

		for (int j = 0; j < NOBJ; j++)
			dup += p == v[j];
		if (node >= 0 && node < HAK_MAX_NODES)
			hist[node]++;
	}
	ok = only_on(hist, 1, &total) && !dup;
	tap_result(ok, "node 1 then allocates only node-1 memory (%d of %d), none of the freed node-0 objects (%d)",
		   hist[1], total, dup);
}

static void test_node_lookup(void)
{
	int cpus = numa_num_configured_cpus(), bad = 0;

	for (int c = 0; c < cpus; c++) {
		if (pin_to_cpu(c))
			continue;
		if ((int)topology_current_node() != numa_node_of_cpu(c))
			bad++;
	}
	tap_result(!bad && hak_topo.source != SRC_NONE,
		   "node of the current CPU read from the rseq area (%s) on all %d CPUs: %d wrong",
		   hak_topo.source == SRC_RSEQ_NODE ? "node_id field" :
		   hak_topo.source == SRC_RSEQ_CPU ? "cpu_id field" : "getcpu",
		   cpus, bad);
}

static void test_interleave(int nodes)
{
	int hist[HAK_MAX_NODES] = { 0 }, spread = 0;
	void *v[64];

	/* 64 objects of 200 KiB: many SuperSlabs, each wholly on one node */
	for (int i = 0; i < 64; i++) {
		v[i] = hak_malloc(200 << 10);
		memset(v[i], 1, 200 << 10);
		int node = page_node(v[i]);

		if (node >= 0 && node < HAK_MAX_NODES)
			hist[node]++;
	}
	for (int n = 0; n < nodes; n++)
		spread += hist[n] > 0;
	tap_result(spread == nodes, "interleave: SuperSlabs on %d of %d nodes", spread, nodes);
	for (int i = 0; i < 64; i++)
		hak_free(v[i]);
}

static int policy_is(const char *word)
{
	struct hak_global_stats st;

	hak_global_stats(&st);
	tap_diag("policy: %s; nodes with a pool: %d", st.numa_policy, st.numa_nodes);
	return strstr(st.numa_policy, word) != NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "local";
	int arg = argc > 2 ? atoi(argv[2]) : 2;
	int hist[HAK_MAX_NODES] = { 0 }, total = 0, ok;

	hak_free(hak_malloc(1));
	if (numa_available() < 0 || numa_max_node() < 1) {
		tap_plan(1);
		tap_skip_test("numa", "needs two NUMA nodes");
		return tap_exit();
	}
	if (!strcmp(mode, "local")) {
		tap_plan(arg + 4);
		tap_result(policy_is("local") && hak_topo.nr_nodes == arg,
			   "topology: %d nodes, local policy", hak_topo.nr_nodes);
		test_placement_from_each_node(arg, -1);
		test_cross_node_free();
		test_node_lookup();
	} else if (!strcmp(mode, "membind") || !strcmp(mode, "preferred")) {
		int nodes = numa_max_node() + 1;

		tap_plan(nodes + 1);
		tap_result(policy_is(mode[0] == 'm' ? "bind" : "preferred"),
			   "%s policy seen", mode);
		test_placement_from_each_node(nodes, arg);
	} else if (!strcmp(mode, "cpunodebind")) {
		tap_plan(1);
		alloc_and_place(hist, NULL, 0);
		ok = only_on(hist, arg, &total);
		tap_result(ok, "cpunodebind=%d: %d of %d sampled pages on node %d",
			   arg, hist[arg], total, arg);
	} else if (!strcmp(mode, "interleave")) {
		tap_plan(2);
		tap_result(policy_is("interleave"), "interleave policy seen");
		test_interleave(arg);
	} else {
		fprintf(stderr, "usage: %s local|membind|preferred|cpunodebind|interleave N\n",
			argv[0]);
		return 2;
	}
	return tap_exit();
}
