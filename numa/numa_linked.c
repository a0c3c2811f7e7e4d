// SPDX-License-Identifier: MIT
/*
 * libnuma linked in: the static library's side (its programs link
 * -lnuma, as the selftests in the NUMA VMs do, statically).
 */
#include "numa_api.h"

static const struct numa_api linked_api = {
	.available = numa_available,
	.max_node = numa_max_node,
	.num_configured_cpus = numa_num_configured_cpus,
	.node_of_cpu = numa_node_of_cpu,
	.distance = numa_distance,
	.get_mems_allowed = numa_get_mems_allowed,
	.bitmask_free = numa_bitmask_free,
	.bitmask_isbitset = numa_bitmask_isbitset,
	.all_nodes_ptr = &numa_all_nodes_ptr,
};

/**
 * numa_api_get() - libnuma's functions, linked into the program
 *
 * Return: the table.
 */
const struct numa_api *numa_api_get(void)
{
	return &linked_api;
}
