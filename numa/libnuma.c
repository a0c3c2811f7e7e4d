// SPDX-License-Identifier: MIT
/*
 * The system side of the topology, with libnuma: nodes, CPUs, distances,
 * the nodes the cpuset allows, the process's memory policy, and mbind.
 * Built with CONFIG_NUMA=y (the default); nonuma.c replaces it otherwise.
 *
 * A machine whose only online node is node 0 needs none of it: libnuma is
 * asked (and, by libhakmem.so, loaded: numa_dlopen.c) only when sysfs
 * shows more than one node. The memory policy and mbind are system calls,
 * made directly.
 */
#include <fcntl.h>
#include <numaif.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../core/options.h"
#include "numa_api.h"
#include "topology.h"

#define NODE_ONLINE	"/sys/devices/system/node/online"

#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY	5
#endif

static uint64_t mask_of(const struct numa_api *api, struct bitmask *bm)
{
	uint64_t m = 0;

	for (int n = 0; n < HAK_MAX_NODES; n++)
		if (api->bitmask_isbitset(bm, (unsigned int)n))
			m |= 1ULL << n;
	return m;
}

static int first_node(uint64_t m)
{
	return m ? __builtin_ctzll(m) : 0;
}

/* Reads the process's memory policy and sets mode, bind and allowed. */
static void apply_policy(struct topo_info *t, uint64_t mems)
{
	unsigned long nodemask[4] = { 0 };
	int mode = MPOL_DEFAULT;
	uint64_t pm;

	if (syscall(SYS_get_mempolicy, &mode, nodemask, 256, NULL, 0))
		mode = MPOL_DEFAULT;
	pm = nodemask[0] & mems;
	t->allowed = mems;
	switch (mode) {
	case MPOL_BIND:
		t->allowed = pm ? pm : mems;
		t->bind = BIND_STRICT;
		t->policy = "bind (numactl --membind): one pool per allowed node";
		break;
	case MPOL_INTERLEAVE:
		t->allowed = pm ? pm : mems;
		t->mode = TOPO_SINGLE;
		t->bind = BIND_ROTATE;
		t->policy = "interleave: SuperSlabs rotate over the nodes";
		return;
	case MPOL_PREFERRED:
	case MPOL_PREFERRED_MANY:
		if (!pm)	/* preferred with no node means local */
			goto local;
		t->mode = TOPO_SINGLE;
		t->single_node = first_node(pm);
		t->bind = BIND_PREFERRED;
		t->policy = "preferred: every SuperSlab prefers one node";
		return;
	default:
local:
		t->bind = BIND_PREFERRED;
		t->policy = "local: one pool per node";
		break;
	}
	t->mode = __builtin_popcountll(t->allowed) > 1 ? TOPO_NODES : TOPO_SINGLE;
	if (t->mode == TOPO_SINGLE)
		t->single_node = first_node(t->allowed);
	if (t->mode == TOPO_SINGLE && t->bind == BIND_PREFERRED) {
		/* one node under the default policy: nothing to place */
		t->bind = BIND_NONE;
		t->policy = "one node: one pool";
	}
}

/*
 * Whether sysfs says node 0 is the only node online ("0"). A file that
 * cannot be read says nothing: libnuma is asked then.
 */
static int one_node_online(void)
{
	char buf[16];
	ssize_t n;
	int fd = open(NODE_ONLINE, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n >= 1 && buf[0] == '0' && (n == 1 || buf[1] == '\n');
}

static void learn_single(struct topo_info *t, const char *why)
{
	t->mode = TOPO_SINGLE;
	t->bind = BIND_NONE;
	t->policy = why;
}

/**
 * numa_learn_system() - read the machine's topology and the memory policy
 * @t: filled: nodes, CPU to node, distances, allowed nodes, mode and bind
 *
 * Return: 0, or -1 when libnuma is not initialised yet (try again later).
 */
int numa_learn_system(struct topo_info *t)
{
	const struct numa_api *api;
	struct bitmask *bm;
	uint64_t mems;
	int cpus;

	if (!option_get(OPT_NUMA)) {
		learn_single(t, "NUMA off (HAKMEM_NUMA=0): one pool");
		return 0;
	}
	if (one_node_online()) {
		learn_single(t, "one node: one pool");
		return 0;
	}
	api = numa_api_get();
	if (!api) {
		learn_single(t, "no libnuma: one pool");
		return 0;
	}
	/* set by libnuma's constructor: until then it cannot answer */
	if (!*api->all_nodes_ptr)
		return -1;
	if (api->available() < 0) {
		learn_single(t, "no NUMA support: one pool");
		return 0;
	}
	t->nr_nodes = api->max_node() + 1;
	if (t->nr_nodes > HAK_MAX_NODES)
		t->nr_nodes = HAK_MAX_NODES;
	cpus = api->num_configured_cpus();
	for (int c = 0; c < cpus && c < HAK_MAX_CPUS; c++) {
		int n = api->node_of_cpu(c);

		t->node_of_cpu[c] = (uint8_t)(n >= 0 && n < HAK_MAX_NODES ? n : 0);
	}
	for (int a = 0; a < t->nr_nodes; a++)
		for (int b = 0; b < t->nr_nodes; b++)
			t->distance[a][b] = (uint8_t)api->distance(a, b);
	bm = api->get_mems_allowed();
	mems = bm ? mask_of(api, bm) : 1;
	if (bm)
		api->bitmask_free(bm);
	mems &= t->nr_nodes >= 64 ? ~0ULL : (1ULL << t->nr_nodes) - 1;
	apply_policy(t, mems ? mems : 1);
	return 0;
}

/**
 * numa_bind_range() - bind a mapping to one node
 * @addr: page-aligned start
 * @len: length
 * @how: BIND_PREFERRED (MPOL_PREFERRED) or BIND_STRICT (MPOL_BIND)
 * @node: the node
 */
void numa_bind_range(void *addr, size_t len, int how, unsigned int node)
{
	unsigned long mask = 1UL << node;

	syscall(SYS_mbind, addr, len,
		how == BIND_STRICT ? MPOL_BIND : MPOL_PREFERRED, &mask,
		HAK_MAX_NODES + 1, 0);
}

/**
 * numa_page_node() - the node of the page holding @addr
 * @addr: an address whose page is present (it was touched)
 *
 * One get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR) system call.
 *
 * Return: the node, or -1 when the kernel does not say.
 */
int numa_page_node(const void *addr)
{
	int node = -1;

	if (syscall(SYS_get_mempolicy, &node, NULL, 0, addr,
		    MPOL_F_NODE | MPOL_F_ADDR))
		return -1;
	return node;
}
