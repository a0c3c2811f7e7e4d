/* SPDX-License-Identifier: MIT */
/*
 * The libnuma functions numa/libnuma.c uses, as a table: linked in
 * (numa_linked.c, libhakmem.a, whose programs link -lnuma) or loaded with
 * dlopen() on machines with more than one node (numa_dlopen.c,
 * libhakmem.so), so that a process on a one-node machine never maps
 * libnuma nor runs its constructor.
 */
#ifndef HAK_NUMA_API_H
#define HAK_NUMA_API_H

#include <numa.h>

struct numa_api {
	int (*available)(void);
	int (*max_node)(void);
	int (*num_configured_cpus)(void);
	int (*node_of_cpu)(int cpu);
	int (*distance)(int a, int b);
	struct bitmask *(*get_mems_allowed)(void);
	void (*bitmask_free)(struct bitmask *bm);
	int (*bitmask_isbitset)(const struct bitmask *bm, unsigned int n);
	struct bitmask **all_nodes_ptr;	/* set by libnuma's constructor */
};

/*
 * The table, or NULL when libnuma cannot be had (not installed): then the
 * machine is taken for one node. Called under topology_learn()'s guard,
 * once per learning attempt.
 */
const struct numa_api *numa_api_get(void);

#endif /* HAK_NUMA_API_H */
