/* SPDX-License-Identifier: MIT */
/*
 * NUMA topology and placement policy: which node a thread allocates from,
 * which node each new SuperSlab is bound to, and how the process's memory
 * policy (numactl --membind, --interleave, --preferred) is honoured.
 *
 * Until the topology is learned (libnuma allocates in its own constructor,
 * so under LD_PRELOAD the allocator is called before it can ask), every
 * allocation is served from the node-agnostic boot pool (HAK_NODE_BOOT).
 */
#ifndef HAK_NUMA_TOPOLOGY_H
#define HAK_NUMA_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "../arch/rseq-abi.h"
#include "../arch/rseq.h"
#include "../core/compiler.h"

#define HAK_MAX_NODES	16
#define HAK_NODE_BOOT	HAK_MAX_NODES		/* pool index before topology */
#define HAK_NODE_SLOTS	(HAK_MAX_NODES + 1)

enum topo_mode {
	TOPO_BOOT,	/* not learned yet: the boot pool serves */
	TOPO_SINGLE,	/* one pool (node 0 slot) for the whole process */
	TOPO_NODES,	/* one pool per node, node-local refills */
};

enum topo_bind {
	BIND_NONE,	/* no mbind: the process policy places pages */
	BIND_PREFERRED,	/* each SuperSlab MPOL_PREFERRED to its node */
	BIND_STRICT,	/* each SuperSlab MPOL_BIND to its node (--membind) */
	BIND_ROTATE,	/* SuperSlabs rotate over the nodes (--interleave) */
};

enum topo_source {
	SRC_NONE,	/* getcpu() on slow paths */
	SRC_RSEQ_CPU,	/* node_of_cpu[rseq cpu_id] */
	SRC_RSEQ_NODE,	/* the rseq node_id field */
};

struct topo_info {
	int mode;
	int bind;
	int source;
	int fake;			/* HAKMEM_NUMA_FAKE nodes, 0 if real */
	int nr_nodes;			/* node ids 0..nr_nodes-1 exist */
	uint64_t allowed;		/* nodes we may place memory on */
	int single_node;		/* TOPO_SINGLE: the node bound, or -1 */
	unsigned int single_pool;	/* TOPO_SINGLE: the pool index used */
	intptr_t rseq_base;		/* tp-relative rseq area, if any */
	const char *policy;		/* for the statistics */
	uint8_t distance[HAK_MAX_NODES][HAK_MAX_NODES];
	/* nearest[n][0] is n itself if allowed; then by distance */
	uint8_t nearest[HAK_MAX_NODES][HAK_MAX_NODES];
	uint8_t nr_nearest[HAK_MAX_NODES];
	uint8_t node_of_cpu[HAK_MAX_CPUS];
};

extern __hidden struct topo_info topo;

void topology_allow_learning(void);
void topology_set_rseq_area(intptr_t base, int has_node_id);
void topology_set_publish_hook(void (*fn)(void));
void topology_init(void);
void topology_learn(void);
void topology_restrict(uint64_t allowed);
unsigned int topology_node_slow(void);
void topology_bind(void *addr, size_t len, unsigned int pool_node);
void topology_placed(const void *addr, unsigned int pool_node);
uint64_t topology_placement(unsigned int meant, unsigned int on);
const char *topology_describe(void);

/* The system side: libnuma.c, or nonuma.c with CONFIG_NUMA=n. */
int numa_learn_system(struct topo_info *t);
void numa_bind_range(void *addr, size_t len, int how, unsigned int node);
int numa_page_node(const void *addr);

/*
 * The node the calling thread runs on, without a system call when the
 * thread has an rseq area: the kernel's node_id field, or the node of the
 * cpu_id field (fake topologies).
 */
static inline unsigned int topology_current_node(void)
{
	const char *tp;
	uint32_t cpu;

	if (likely(topo.source != SRC_NONE)) {
		tp = arch_thread_pointer();
		cpu = *(const volatile uint32_t *)(tp + topo.rseq_base +
						   RSEQ_ABI_CPU_ID);
		if (likely(cpu < HAK_MAX_CPUS)) {
			if (topo.source == SRC_RSEQ_NODE)
				return *(const volatile uint32_t *)
					(tp + topo.rseq_base +
					 RSEQ_ABI_NODE_ID) % HAK_MAX_NODES;
			return topo.node_of_cpu[cpu];
		}
	}
	return topology_node_slow();
}

/**
 * topology_home_node() - the pool a refill on this thread should use
 *
 * Return: the current node when it may hold memory, else the nearest node
 * that may; in single-pool mode its pool (the boot pool itself when no
 * binding is needed); HAK_NODE_BOOT before the topology is known.
 */
static inline unsigned int topology_home_node(void)
{
	unsigned int n;

	if (topo.mode != TOPO_NODES)
		return topo.single_pool;
	n = topology_current_node();
	return topo.nearest[n][0];
}

/* Whether frees must check the object's node (several pools). */
static inline int topology_multi(void)
{
	return topo.mode == TOPO_NODES;
}

#endif /* HAK_NUMA_TOPOLOGY_H */
