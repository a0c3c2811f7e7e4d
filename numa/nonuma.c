// SPDX-License-Identifier: MIT
/*
 * The system side of the topology without libnuma (CONFIG_NUMA=n): one
 * pool, no binding. HAKMEM_NUMA_FAKE still splits the CPUs into virtual
 * nodes, since that needs nothing from the system.
 */
#include "topology.h"

/**
 * numa_learn_system() - a build without NUMA support sees one node
 * @t: set to a single pool without binding
 *
 * Return: 0.
 */
int numa_learn_system(struct topo_info *t)
{
	t->mode = TOPO_SINGLE;
	t->bind = BIND_NONE;
	t->policy = "built without NUMA support (CONFIG_NUMA=n): one pool";
	return 0;
}

/**
 * numa_bind_range() - nothing to bind without NUMA support
 * @addr: unused
 * @len: unused
 * @how: unused
 * @node: unused
 */
void numa_bind_range(void *addr, size_t len, int how, unsigned int node)
{
	(void)addr;
	(void)len;
	(void)how;
	(void)node;
}

/**
 * numa_page_node() - no node to ask for without NUMA support
 * @addr: unused
 *
 * Return: -1.
 */
int numa_page_node(const void *addr)
{
	(void)addr;
	return -1;
}
