// SPDX-License-Identifier: MIT
/*
 * libnuma loaded on demand: the shared library's side. libhakmem.so does
 * not depend on libnuma; the topology is learned from the library
 * constructor, and only then, on a machine with more than one node, is
 * libnuma.so.1 opened. dlopen() allocates through the allocator, which is
 * set up by then (and its constructor's allocations, made while the
 * topology is being learned, are served from the boot pool).
 */
#include <dlfcn.h>
#include <stddef.h>

#include "numa_api.h"

static struct numa_api dl_api;
static int dl_state;	/* 0 not tried, 1 loaded, -1 not available */

static int load_symbols(void *h)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
#define SYM(f, n) { n, offsetof(struct numa_api, f) }
		SYM(available, "numa_available"),
		SYM(max_node, "numa_max_node"),
		SYM(num_configured_cpus, "numa_num_configured_cpus"),
		SYM(node_of_cpu, "numa_node_of_cpu"),
		SYM(distance, "numa_distance"),
		SYM(get_mems_allowed, "numa_get_mems_allowed"),
		SYM(bitmask_free, "numa_bitmask_free"),
		SYM(bitmask_isbitset, "numa_bitmask_isbitset"),
		SYM(all_nodes_ptr, "numa_all_nodes_ptr"),
#undef SYM
	};

	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p = dlsym(h, syms[i].name);

		if (!p)
			return -1;
		*(void **)((char *)&dl_api + syms[i].off) = p;
	}
	return 0;
}

/**
 * numa_api_get() - open libnuma.so.1 on first use
 *
 * Context: topology_learn(), one caller at a time.
 * Return: the table, or NULL when libnuma is not installed (or lacks a
 * function): the machine is then taken for one node.
 */
const struct numa_api *numa_api_get(void)
{
	void *h;

	if (dl_state)
		return dl_state > 0 ? &dl_api : NULL;
	dl_state = -1;
	h = dlopen("libnuma.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return NULL;
	if (load_symbols(h)) {
		dlclose(h);
		return NULL;
	}
	dl_state = 1;
	return &dl_api;
}
