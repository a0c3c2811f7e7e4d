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
 *        numa_test placement NODES   one thread per CPU; after cross-node
 *                                  and cross-CPU frees, the share of new
 *                                  objects on the allocating CPU's node
 *                                  (issue 14's target: 99.5% on each node)
 *        numa_test fullnode K MIB  from a CPU of node K, MIB MiB more than
 *                                  node K holds: nothing fails, the rest
 *                                  lands on K's nearest node, and the
 *                                  statistics count the SuperSlabs that
 *                                  fell back (local N: that none did)
 *        numa_test nodealloc NODES hak_malloc_node() and
 *                                  hak_cache_alloc_node(): from every CPU,
 *                                  objects for every node are on it
 * Exit: 0 pass, 1 fail, 4 skip.
 */
#include <errno.h>
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

/* The hak_node_stats() row of @node (zeros when it has none). */
static struct hak_node_stats node_row(int node)
{
	struct hak_node_stats rows[HAK_NODE_SLOTS], none = { .node = node };
	int n = hak_node_stats(rows, HAK_NODE_SLOTS);

	for (int i = 0; i < n && i < HAK_NODE_SLOTS; i++)
		if (rows[i].node == node)
			return rows[i];
	return none;
}

/*
 * Nodes with free memory: every node's SuperSlabs were checked where
 * they landed (placed_superslabs), and none fell back to another node.
 */
static void test_no_fallback(int nodes)
{
	int unchecked = 0;
	uint64_t fb = 0, fb_in = 0;

	for (int k = 0; k < nodes; k++) {
		struct hak_node_stats r = node_row(k);

		tap_diag("node %d: %llu SuperSlabs placed, %llu fell back, %llu received",
			 k, (unsigned long long)r.placed_superslabs,
			 (unsigned long long)r.fallback_superslabs,
			 (unsigned long long)r.fallback_in);
		unchecked += !r.placed_superslabs;
		fb += r.fallback_superslabs;
		fb_in += r.fallback_in;
	}
	tap_result(!unchecked && !fb && !fb_in,
		   "statistics: SuperSlabs of all %d nodes checked (%d nodes without), %llu fell back, %llu received",
		   nodes, unchecked, (unsigned long long)fb,
		   (unsigned long long)fb_in);
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
	tap_result(!bad && topo.source != SRC_NONE,
		   "node of the current CPU read from the rseq area (%s) on all %d CPUs: %d wrong",
		   topo.source == SRC_RSEQ_NODE ? "node_id field" :
		   topo.source == SRC_RSEQ_CPU ? "cpu_id field" : "getcpu",
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

/* ---- numa_test placement N: placement after cross-node frees --------- */

#define PL_OBJS		400
#define PL_ROUNDS	3
#define PL_MAX		256

struct pl_thread {
	int cpu, node, cross, local;	/* whose objects it frees */
	void *obj[PL_OBJS];
	long on_node, sampled;
	pthread_t t;
};

static struct pl_thread pl[PL_MAX];
static int pl_n;
static pthread_barrier_t pl_bar;

/* Counts which of @n objects are on @node: one move_pages() call. */
static void sample_nodes(void **obj, int n, int node, int hist[HAK_MAX_NODES],
			 long *on, long *total)
{
	static __thread void *pages[1024];
	static __thread int status[1024];

	for (int i = 0; i < n; i++)
		pages[i] = (void *)((uintptr_t)obj[i] & ~(uintptr_t)4095);
	if (move_pages(0, (unsigned long)n, pages, NULL, status, 0))
		return;
	for (int i = 0; i < n; i++) {
		if (status[i] < 0 || status[i] >= HAK_MAX_NODES)
			continue;
		(*total)++;
		*on += status[i] == node;
		if (hist)
			hist[status[i]]++;
	}
}

static void *pl_worker(void *arg)
{
	struct pl_thread *me = arg;

	pin_to_cpu(me->cpu);
	for (int r = 0; r < PL_ROUNDS; r++) {
		for (int i = 0; i < PL_OBJS; i++) {
			size_t size = (size_t)64 << (2 * (i % 4));	/* 64..4096 */

			me->obj[i] = hak_malloc(size);
			memset(me->obj[i], 1, size);
		}
		if (r)	/* after a round of cross-node frees */
			sample_nodes(me->obj, PL_OBJS, me->node, NULL,
				     &me->on_node, &me->sampled);
		pthread_barrier_wait(&pl_bar);
		/* half to a CPU of the next node, half to the next CPU here */
		for (int i = 0; i < PL_OBJS / 2; i++)
			hak_free(pl[me->cross].obj[i]);
		for (int i = PL_OBJS / 2; i < PL_OBJS; i++)
			hak_free(pl[me->local].obj[i]);
		pthread_barrier_wait(&pl_bar);
	}
	return NULL;
}

static uint64_t remote_frees_all(void)
{
	struct hak_node_stats rows[HAK_NODE_SLOTS];
	int n = hak_node_stats(rows, HAK_NODE_SLOTS);
	uint64_t sum = 0;

	for (int i = 0; i < n && i < HAK_NODE_SLOTS; i++)
		sum += rows[i].remote_frees;
	return sum;
}

/*
 * One thread per CPU (CPUs numbered node by node, the same count on each
 * node, as in the VMs): every round each allocates PL_OBJS objects of 64
 * to 4096 bytes; half are freed by a thread of the next node, half by the
 * next CPU of the same node; after each such round the new objects' pages
 * are sampled with move_pages().
 */
static void test_placement_after_frees(int nodes)
{
	int cpus = numa_num_configured_cpus(), cpn;
	uint64_t before = remote_frees_all(), want, got;

	pl_n = cpus < PL_MAX ? cpus : PL_MAX;
	cpn = pl_n / nodes;
	for (int t = 0; t < pl_n; t++) {
		int base = t - t % cpn;

		pl[t].cpu = t;
		pl[t].node = numa_node_of_cpu(t);
		pl[t].cross = (t + cpn) % pl_n;
		pl[t].local = base + (t - base + 1) % cpn;
	}
	pthread_barrier_init(&pl_bar, NULL, (unsigned int)pl_n);
	for (int t = 0; t < pl_n; t++)
		pthread_create(&pl[t].t, NULL, pl_worker, &pl[t]);
	for (int t = 0; t < pl_n; t++)
		pthread_join(pl[t].t, NULL);
	for (int k = 0; k < nodes; k++) {
		long on = 0, total = 0;

		for (int t = 0; t < pl_n; t++) {
			if (pl[t].node != k)
				continue;
			on += pl[t].on_node;
			total += pl[t].sampled;
		}
		tap_result(total > 0 && on * 1000 >= total * 995,
			   "node %d: %ld of %ld sampled objects (%.2f%%) on the allocating CPU's node after cross-node frees (target 99.5%%)",
			   k, on, total, total ? 100.0 * (double)on / (double)total : 0.0);
	}
	want = (uint64_t)pl_n * (PL_OBJS / 2) * PL_ROUNDS;
	got = remote_frees_all() - before;
	tap_result(got == want, "%d threads: %llu cross-node frees returned to their node (want %llu)",
		   pl_n, (unsigned long long)got, (unsigned long long)want);
}

/* ---- numa_test fullnode K MIB: a node without free memory ------------ */

/* The node nearest to @k other than @k (lowest number on a tie). */
static int nearest_other(int k)
{
	int best = -1;

	for (int n = 0; n <= numa_max_node(); n++)
		if (n != k && (best < 0 || numa_distance(k, n) < numa_distance(k, best)))
			best = n;
	return best;
}

static void print_node_stats(const char *when)
{
	struct hak_node_stats rows[HAK_NODE_SLOTS];
	int n = hak_node_stats(rows, HAK_NODE_SLOTS);

	tap_diag("hak_node_stats %s: node superslabs bytes refills remote_frees cross_refills placed fallback fallback_in", when);
	for (int i = 0; i < n && i < HAK_NODE_SLOTS; i++)
		tap_diag("  %4d %6llu %10llu %8llu %8llu %8llu %6llu %6llu %6llu",
			 rows[i].node,
			 (unsigned long long)rows[i].superslabs,
			 (unsigned long long)rows[i].bytes,
			 (unsigned long long)rows[i].refills,
			 (unsigned long long)rows[i].remote_frees,
			 (unsigned long long)rows[i].cross_refills,
			 (unsigned long long)rows[i].placed_superslabs,
			 (unsigned long long)rows[i].fallback_superslabs,
			 (unsigned long long)rows[i].fallback_in);
}

/* Allocates and touches @n objects of @size; returns how many failed. */
static long fill(void **v, long n, size_t size)
{
	long failed = 0;

	for (long i = 0; i < n; i++) {
		v[i] = hak_malloc(size);
		if (!v[i])
			failed++;
		else
			memset(v[i], 1, size);
	}
	return failed;
}

/*
 * The statistics show the fallback: node @k's SuperSlabs placed elsewhere
 * are counted for @k, and received by @near.
 */
static void test_fallback_counted(int k, int near)
{
	struct hak_node_stats r = node_row(k), n = node_row(near);

	tap_result(r.fallback_superslabs > 0 &&
		   r.fallback_superslabs <= r.placed_superslabs,
		   "statistics: %llu of node %d's %llu SuperSlabs fell back",
		   (unsigned long long)r.fallback_superslabs, k,
		   (unsigned long long)r.placed_superslabs);
	tap_result(n.fallback_in == r.fallback_superslabs,
		   "statistics: the nearest node %d received %llu of them",
		   near, (unsigned long long)n.fallback_in);
}

static void test_full_node(int k, int mib)
{
	const size_t size = 16000;
	long n = ((long)mib << 20) / (long)size, failed, on = 0, total = 0;
	int hist[HAK_MAX_NODES] = { 0 }, near = nearest_other(k), cpu = first_cpu_of(k);
	void **v = calloc((size_t)n, sizeof(*v));
	long long node_mib = numa_node_size64(k, NULL) >> 20;

	if (!v || cpu < 0 || near < 0 || pin_to_cpu(cpu)) {
		tap_result(0, "set up: node %d, CPU %d, nearest node %d", k, cpu, near);
		return;
	}
	tap_diag("node %d: %lld MiB; allocating %d MiB in %ld objects of %zu bytes from CPU %d; nearest node %d (distance %d)",
		 k, node_mib, mib, n, size, cpu, near, numa_distance(k, near));
	print_node_stats("before");
	failed = fill(v, n, size);
	tap_result(!failed, "%ld of %ld allocations failed while other nodes have memory", failed, n);
	for (long i = 0; i < n; i += 1024) {
		int c = n - i < 1024 ? (int)(n - i) : 1024;

		sample_nodes(v + i, c, k, hist, &on, &total);
	}
	for (int m = 0; m <= numa_max_node() && m < HAK_MAX_NODES; m++)
		tap_diag("  node %d: %d sampled pages", m, hist[m]);
	tap_result(total > on && on > 0,
		   "node %d took %ld of %ld sampled pages, the other %ld fell back",
		   k, on, total, total - on);
	tap_result(hist[near] == total - on,
		   "the fallback went to the nearest node %d: %d of %ld pages",
		   near, hist[near], total - on);
	print_node_stats("after");
	test_fallback_counted(k, near);
	for (long i = 0; i < n; i++)
		hak_free(v[i]);
	hak_trim();
	failed = fill(v, n, size);
	tap_result(!failed, "freed and allocated again: %ld of %ld failed", failed, n);
	for (long i = 0; i < n; i++)
		hak_free(v[i]);
	free(v);
}

#define NA_OBJS	32

/*
 * From CPU @cpu, NA_OBJS objects of each size (and of an object cache)
 * for node @k: how many are not on @k; -1 when one allocation failed.
 */
static int node_alloc_misplaced(struct hak_cache *c, int k)
{
	static const size_t na_sizes[] = { 64, 1000, 16000 };
	int bad = 0;

	for (unsigned int s = 0; s <= 3; s++) {
		for (int i = 0; i < NA_OBJS; i++) {
			size_t size = s < 3 ? na_sizes[s] : 200;
			char *p = s < 3 ? hak_malloc_node(size, k) :
					  hak_cache_alloc_node(c, k);

			if (!p)
				return -1;
			memset(p, 3, size);
			bad += page_node(p) != k;
			if (s < 3)
				hak_free(p);
			else
				hak_cache_free(c, p);
		}
	}
	return bad;
}

/* Every node from every CPU; a node that does not exist gets EINVAL. */
static void test_node_alloc(int nodes)
{
	struct hak_cache *c = hak_cache_create("numa-node", 200, 0, 0, NULL);
	int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN), failed = 0, bad = 0;
	void *p;

	for (int cpu = 0; cpu < cpus; cpu++) {
		if (pin_to_cpu(cpu)) {
			failed++;
			continue;
		}
		for (int k = 0; k < nodes; k++) {
			int r = node_alloc_misplaced(c, k);

			if (r < 0)
				failed++;
			else
				bad += r;
		}
	}
	tap_result(!failed && !bad,
		   "hak_malloc_node/hak_cache_alloc_node: %d CPUs x %d nodes x %d objects, %d not on their node, %d failures",
		   cpus, nodes, 4 * NA_OBJS, bad, failed);
	errno = 0;
	p = hak_malloc_node(64, nodes + HAK_MAX_NODES);
	tap_result(!p && errno == EINVAL,
		   "a node that does not exist: NULL with EINVAL");
	hak_cache_destroy(c);
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
		tap_plan(arg + 5);
		tap_result(policy_is("local") && topo.nr_nodes == arg,
			   "topology: %d nodes, local policy", topo.nr_nodes);
		test_placement_from_each_node(arg, -1);
		test_cross_node_free();
		test_node_lookup();
		test_no_fallback(arg);
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
	} else if (!strcmp(mode, "placement")) {
		tap_plan(arg + 1);
		test_placement_after_frees(arg);
	} else if (!strcmp(mode, "nodealloc")) {
		tap_plan(2);
		test_node_alloc(arg);
	} else if (!strcmp(mode, "fullnode")) {
		tap_plan(6);
		test_full_node(arg, argc > 3 ? atoi(argv[3]) : 192);
	} else {
		fprintf(stderr, "usage: %s local|membind|preferred|cpunodebind|interleave|placement|nodealloc N | fullnode K MIB\n",
			argv[0]);
		return 2;
	}
	return tap_exit();
}
