// SPDX-License-Identifier: MIT
/*
 * The topology, learned once after start-up (from the library constructor,
 * or lazily from the first refill that finds it missing), and the placement
 * policy derived from the process's memory policy; the system side (libnuma
 * and mbind) is in libnuma.c:
 *
 *   default or local     one pool per node; SuperSlabs MPOL_PREFERRED to
 *                        their node (the kernel falls back to the nearest
 *                        node when one is full)
 *   --membind=NODES      one pool per allowed node, MPOL_BIND each; a
 *                        thread on another node uses the nearest allowed
 *   --interleave=NODES   one pool; new SuperSlabs rotate over the nodes
 *   --preferred=N        one pool, every SuperSlab preferring N
 *   HAKMEM_NUMA=0        one pool, no mbind: the process policy applies
 *   HAKMEM_NUMA_FAKE=N   the online CPUs split into N virtual nodes, one
 *                        pool each, no binding (tests on one-node machines)
 *
 * Nodes are ordered by distance for each node (nearest[]): the fallback
 * when the local node may not hold memory.
 */
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "../core/options.h"
#include "topology.h"

struct topo_info topo = { .mode = TOPO_BOOT, .single_node = -1,
				 .single_pool = HAK_NODE_BOOT,
				 .policy = "boot (topology not learned yet)" };

static _Atomic int learning;
static _Atomic unsigned int rotor;
/* SuperSlabs checked: [node meant][node the first page is on] */
static _Atomic uint64_t placed[HAK_MAX_NODES][HAK_MAX_NODES];
/* set by the layers above before the topology is learned */
static int may_learn;
static intptr_t area_base = INTPTR_MIN;
static int area_has_node_id;
static void (*publish_hook)(void);

/**
 * topology_allow_learning() - libnuma may be asked from now on
 *
 * Called from the library constructor: libnuma allocates in its own
 * constructor, so it cannot be asked before ours runs.
 */
void topology_allow_learning(void)
{
	may_learn = 1;
}

/**
 * topology_set_rseq_area() - where threads find their rseq area
 * @base: its thread-pointer relative offset, or INTPTR_MIN for none
 * @has_node_id: the kernel fills its node_id field
 *
 * Context: start-up, before the topology is learned.
 */
void topology_set_rseq_area(intptr_t base, int has_node_id)
{
	area_base = base;
	area_has_node_id = has_node_id;
}

/**
 * topology_set_publish_hook() - call @fn whenever a topology is published
 * @fn: the hook (the fast-path mode recomputes what depends on it)
 *
 * Context: start-up, before the topology is learned.
 */
void topology_set_publish_hook(void (*fn)(void))
{
	publish_hook = fn;
}

/**
 * topology_node_slow() - the current node without an rseq area
 *
 * getcpu() (through the vDSO on x86_64) on every call: this is the
 * fallback for processes without rseq (valgrind, old kernels), where being
 * exact after a migration matters more than a few nanoseconds.
 *
 * Return: the node.
 */
unsigned int topology_node_slow(void)
{
	int cpu = sched_getcpu();

	return cpu >= 0 && cpu < HAK_MAX_CPUS ? topo.node_of_cpu[cpu] : 0;
}

static void order_by_distance(struct topo_info *t)
{
	for (int n = 0; n < t->nr_nodes; n++) {
		int k = 0;

		for (int d = 0; d < 256 && k < t->nr_nodes; d++)
			for (int m = 0; m < t->nr_nodes; m++)
				if (t->distance[n][m] == d &&
				    (t->allowed >> m & 1))
					t->nearest[n][k++] = (uint8_t)m;
		t->nr_nearest[n] = (uint8_t)k;
	}
}

static void learn_fake(struct topo_info *t, int nodes)
{
	int cpus = (int)sysconf(_SC_NPROCESSORS_CONF);

	if (cpus < 1)
		cpus = 1;
	if (cpus > HAK_MAX_CPUS)
		cpus = HAK_MAX_CPUS;
	t->fake = nodes;
	t->nr_nodes = nodes;
	t->allowed = (nodes == 64 ? ~0ULL : (1ULL << nodes) - 1);
	for (int c = 0; c < HAK_MAX_CPUS; c++)
		t->node_of_cpu[c] = (uint8_t)(c < cpus ? c * nodes / cpus : 0);
	for (int a = 0; a < nodes; a++)
		for (int b = 0; b < nodes; b++)
			t->distance[a][b] = a == b ? 10 : 20;
	t->policy = "fake nodes (HAKMEM_NUMA_FAKE)";
	t->mode = TOPO_NODES;
	t->bind = BIND_NONE;
}

static void pick_source(struct topo_info *t, intptr_t rseq_base,
			int has_node_id)
{
	t->rseq_base = rseq_base;
	if (rseq_base == INTPTR_MIN)
		t->source = SRC_NONE;
	else if (has_node_id && !t->fake)
		t->source = SRC_RSEQ_NODE;
	else
		t->source = SRC_RSEQ_CPU;
}

/*
 * Readers look at topo without a lock: write everything but the mode,
 * then the mode with a release store, so a reader that sees the new mode
 * sees the tables that go with it.
 */
static void publish(const struct topo_info *t)
{
	int mode = t->mode;

	atomic_store_explicit((_Atomic int *)&topo.mode, TOPO_BOOT,
			      memory_order_relaxed);
	topo = *t;
	topo.mode = TOPO_BOOT;
	atomic_store_explicit((_Atomic int *)&topo.mode, mode,
			      memory_order_release);
	if (publish_hook)
		publish_hook();
}

/**
 * topology_learn() - learn the topology and the placement policy, once
 *
 * Safe to call from anywhere after start-up; a call made while another is
 * learning (libnuma allocating, say), or before the library constructor
 * ran (libnuma may not be initialised), returns at once and the caller
 * keeps using the boot pool.
 */
void topology_learn(void)
{
	struct topo_info t = topo;
	int expected = 0;

	if (topo.mode != TOPO_BOOT || !may_learn ||
	    !atomic_compare_exchange_strong(&learning, &expected, 1))
		return;
	t.nr_nodes = 1;
	t.allowed = 1;
	if (option_get(OPT_NUMA_FAKE) > 1) {
		learn_fake(&t, (int)option_get(OPT_NUMA_FAKE));
	} else if (numa_learn_system(&t)) {
		atomic_store(&learning, 0);	/* not yet: boot pool */
		return;
	}
	if (t.mode == TOPO_BOOT)
		t.mode = TOPO_SINGLE;
	/* one pool and nothing to bind: the boot pool is that pool */
	t.single_pool = t.bind == BIND_NONE ? HAK_NODE_BOOT : 0;
	order_by_distance(&t);
	pick_source(&t, area_base, area_has_node_id);
	publish(&t);
	atomic_store(&learning, 2);
}

/**
 * topology_restrict() - allow memory on fewer nodes from now on
 * @allowed: the nodes that may still hold new memory (a subset)
 *
 * Threads of the other nodes then refill from the nearest allowed node,
 * as under numactl --membind. For tests and cpuset changes.
 */
void topology_restrict(uint64_t allowed)
{
	struct topo_info t = topo;

	t.allowed &= allowed;
	if (!t.allowed || t.mode != TOPO_NODES)
		return;
	order_by_distance(&t);
	publish(&t);
}

/**
 * topology_init() - learn the topology if it has not been learned yet
 */
void topology_init(void)
{
	if (unlikely(topo.mode == TOPO_BOOT))
		topology_learn();
}

/**
 * topology_bind() - place a new SuperSlab's memory by the policy
 * @addr: the mapping
 * @len: its length
 * @pool_node: the pool it belongs to (0 in single-pool mode)
 */
void topology_bind(void *addr, size_t len, unsigned int pool_node)
{
	const struct topo_info *t = &topo;
	unsigned int n;

	if (t->fake || pool_node == HAK_NODE_BOOT)
		return;
	switch (t->bind) {
	case BIND_PREFERRED:
		n = t->mode == TOPO_SINGLE ? (unsigned int)t->single_node : pool_node;
		numa_bind_range(addr, len, BIND_PREFERRED, n);
		break;
	case BIND_STRICT:
		n = t->mode == TOPO_SINGLE ? (unsigned int)t->single_node : pool_node;
		numa_bind_range(addr, len, BIND_STRICT, n);
		break;
	case BIND_ROTATE: {
		unsigned int k = atomic_fetch_add(&rotor, 1) %
				 (unsigned int)__builtin_popcountll(t->allowed);
		uint64_t m = t->allowed;

		while (k--)
			m &= m - 1;
		numa_bind_range(addr, len, BIND_STRICT,
				(unsigned int)__builtin_ctzll(m));
		break;
	}
	default:
		break;
	}
}

/**
 * topology_placed() - count where the kernel put a new SuperSlab
 * @addr: the SuperSlab; its first page is present (the header is written)
 * @pool_node: the pool it belongs to, as given to topology_bind()
 *
 * Under MPOL_PREFERRED the kernel places the pages on another node when
 * the preferred one is full, silently. One system call per SuperSlab asks
 * where the first page is, only when a preferred binding is in force on a
 * machine with several nodes: never on one-node machines, with
 * HAKMEM_NUMA=0 or fake nodes, nor under MPOL_BIND (which cannot fall
 * back).
 *
 * Context: under the pool's lock, after topology_bind() and the first write.
 */
void topology_placed(const void *addr, unsigned int pool_node)
{
	const struct topo_info *t = &topo;
	unsigned int meant;
	int on;

	if (t->bind != BIND_PREFERRED || t->fake || t->nr_nodes < 2 ||
	    pool_node == HAK_NODE_BOOT)
		return;
	meant = t->mode == TOPO_SINGLE ? (unsigned int)t->single_node : pool_node;
	on = numa_page_node(addr);
	if (on < 0 || on >= HAK_MAX_NODES || meant >= HAK_MAX_NODES)
		return;
	atomic_fetch_add_explicit(&placed[meant][on], 1, memory_order_relaxed);
}

/**
 * topology_placement() - SuperSlabs meant for one node found on another
 * @meant: the node the SuperSlabs were bound (preferred) to
 * @on: the node their first page was on
 *
 * Return: how many since start (@meant == @on: placed as meant); 0 for a
 * node out of range.
 */
uint64_t topology_placement(unsigned int meant, unsigned int on)
{
	if (meant >= HAK_MAX_NODES || on >= HAK_MAX_NODES)
		return 0;
	return atomic_load_explicit(&placed[meant][on], memory_order_relaxed);
}

/**
 * topology_describe() - the placement policy in force, for statistics
 *
 * Return: a static string.
 */
const char *topology_describe(void)
{
	return topo.policy;
}
