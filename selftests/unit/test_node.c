// SPDX-License-Identifier: MIT
/*
 * Unit tests: hak_malloc_node() and hak_cache_alloc_node() on a fake
 * topology (HAKMEM_NUMA_FAKE=2: the CPUs split into two virtual nodes; the
 * test re-executes itself with it): an object for node k comes from a
 * SuperSlab of pool k, asked from either node's CPU; HAK_NUMA_NO_NODE is
 * the caller's node; a node that does not exist gets EINVAL; a node that
 * may not hold memory falls back to the nearest one.
 */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../lib/capture.h"
#include "../lib/check_main.h"
#include "../../core/superslab.h"
#include "../../numa/topology.h"

#define N 300

static int cpu_of_node[2];

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
	hak_trim();	/* per-thread mode: the cache follows the thread */
}

static unsigned int node_of(const void *p)
{
	return ss_of(p)->node;
}

static uint64_t remote_frees(int node)
{
	struct hak_node_stats rows[HAK_NODE_SLOTS];
	int n = hak_node_stats(rows, HAK_NODE_SLOTS);

	for (int i = 0; i < n; i++)
		if (rows[i].node == node)
			return rows[i].remote_frees;
	return 0;
}

/* Every node from every node's CPU, cache and malloc, several sizes. */
START_TEST(objects_come_from_the_nodes_pool)
{
	static const size_t sizes[] = { 8, 64, 1000, 5000, 70000 };
	struct hak_cache *c = hak_cache_create("nodeobj", 96, 0, 0, NULL);
	void *v[N];

	ck_assert_ptr_nonnull(c);
	for (int cpu = 0; cpu < 2; cpu++) {
		pin(cpu_of_node[cpu]);
		for (int node = 0; node < 2; node++) {
			for (int i = 0; i < N; i++) {
				v[i] = hak_cache_alloc_node(c, node);
				ck_assert_ptr_nonnull(v[i]);
				ck_assert_uint_eq(node_of(v[i]), (unsigned int)node);
			}
			for (int i = 0; i < N; i++)
				hak_cache_free(c, v[i]);
			for (unsigned int s = 0; s < 5; s++) {
				for (int i = 0; i < 50; i++) {
					v[i] = hak_malloc_node(sizes[s], node);
					ck_assert_ptr_nonnull(v[i]);
					ck_assert_uint_eq(node_of(v[i]),
							  (unsigned int)node);
					memset(v[i], 1, sizes[s]);
				}
				for (int i = 0; i < 50; i++)
					hak_free(v[i]);
			}
		}
		/* HAK_NUMA_NO_NODE: the caller's node */
		v[0] = hak_cache_alloc_node(c, HAK_NUMA_NO_NODE);
		ck_assert_uint_eq(node_of(v[0]), (unsigned int)cpu);
		hak_cache_free(c, v[0]);
		v[0] = hak_malloc_node(200, HAK_NUMA_NO_NODE);
		ck_assert_uint_eq(node_of(v[0]), (unsigned int)cpu);
		hak_free(v[0]);
	}
}
END_TEST

/*
 * Node-1 objects freed on node 0 go back to node 1 (remote frees), and
 * node 0's own allocations stay node 0: they never entered its cache.
 */
START_TEST(other_node_objects_go_home)
{
	void *v[N];
	uint64_t before;

	pin(cpu_of_node[0]);
	for (int i = 0; i < N; i++)
		v[i] = hak_malloc_node(64, 1);
	before = remote_frees(1);
	for (int i = 0; i < N; i++)
		hak_free(v[i]);
	hak_trim();	/* flushes this thread's cross-node buffers */
	ck_assert_uint_eq(remote_frees(1) - before, N);
	for (int i = 0; i < N; i++) {
		void *p = hak_malloc(64);

		ck_assert_uint_eq(node_of(p), 0);
	}
}
END_TEST

static void bad_nodes(void *arg)
{
	static const int nodes[] = { 2, 15, 16, 1000, -2, -1000 };
	struct hak_cache *c = arg;

	for (unsigned int i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		errno = 0;
		ck_assert_ptr_null(hak_malloc_node(64, nodes[i]));
		ck_assert_int_eq(errno, EINVAL);
		errno = 0;
		ck_assert_ptr_null(hak_malloc_node(4 << 20, nodes[i]));
		ck_assert_int_eq(errno, EINVAL);
		errno = 0;
		ck_assert_ptr_null(hak_cache_alloc_node(c, nodes[i]));
		ck_assert_int_eq(errno, EINVAL);
	}
}

/* A node that does not exist: NULL with EINVAL, nothing on stderr. */
START_TEST(missing_node_is_einval)
{
	struct hak_cache *c = hak_cache_create("nodebad", 32, 0, 0, NULL);
	char buf[256];

	ck_assert_ptr_nonnull(c);
	capture_stderr(bad_nodes, c, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
}
END_TEST

/* A node that may not hold memory: the nearest one that may serves. */
START_TEST(restricted_node_falls_back_to_nearest)
{
	pin(cpu_of_node[0]);
	ck_assert_uint_eq(node_of(hak_malloc_node(300, 1)), 1);
	topology_restrict(1ULL << 0);
	for (int i = 0; i < 200; i++) {
		void *p = hak_malloc_node(300, 1);

		ck_assert_uint_eq(node_of(p), 0);
		hak_free(p);
	}
	pin(cpu_of_node[1]);
	ck_assert_uint_eq(node_of(hak_malloc_node(300, 1)), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("node");
	TCase *tc = tcase_create("node");

	tcase_add_test(tc, objects_come_from_the_nodes_pool);
	tcase_add_test(tc, other_node_objects_go_home);
	tcase_add_test(tc, missing_node_is_einval);
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
		printf("test_node: needs 2 CPUs, skipped\n");
		printf("100%%: Checks: 0, Failures: 0, Errors: 0\n");
		return EXIT_SUCCESS;
	}
	cpu_of_node[0] = 0;
	cpu_of_node[1] = (int)(sysconf(_SC_NPROCESSORS_CONF) / 2);
	return check_run(suite());
}
