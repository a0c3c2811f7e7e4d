// SPDX-License-Identifier: MIT
/*
 * vm_sanity.c - check that a test VM has the NUMA and rseq setup the
 * hakmem NUMA tests rely on.
 *
 * Usage: vm_sanity NODES [CPUS_PER_NODE]
 *
 * Meant to run inside the VMs of selftests/vm/run-vm.sh (CPUs numbered
 * node by node, distances 10 local, 20 within a pair of nodes 2i/2i+1 and
 * 30 otherwise), but harmless anywhere.  Output is kselftest TAP; the exit
 * status is 0 when all tests pass, 1 when one fails, 4 when all skipped.
 *
 * Build: gcc -static -O2 -Wall -Wextra -Werror vm_sanity.c -lnuma
 */
#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <unistd.h>

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE	27
#endif

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_SKIP	4

/* Offset of node_id in struct rseq (Linux 6.3+). */
#define RSEQ_NODE_ID_OFFSET	20
#define RSEQ_CPU_ID_UNREGISTERED	((uint32_t)-1)
#define RSEQ_CPU_ID_REGISTRATION_FAILED	((uint32_t)-2)

#define MBIND_PAGES	16

#define RSEQ_CPU_TEST	"rseq cpu_id equals sched_getcpu() on each cpu"
#define RSEQ_NODE_TEST	\
	"rseq node_id equals numa_node_of_cpu() on each cpu"
#define MBIND_TEST	"mbind(MPOL_BIND) pages land on node %d"

static int test_num;
static int n_pass, n_fail, n_skip;

/**
 * diag() - print a TAP diagnostic line ("# ...").
 * @fmt: printf format
 */
static void __attribute__((format(printf, 1, 2))) diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

/**
 * result() - print one TAP test line.
 * @ok: nonzero when the test passed
 * @skip: reason to skip, or NULL
 * @fmt: printf format of the test name
 */
static void __attribute__((format(printf, 3, 4)))
result(int ok, const char *skip, const char *fmt, ...)
{
	va_list ap;

	test_num++;
	if (skip)
		n_skip++;
	else if (ok)
		n_pass++;
	else
		n_fail++;
	printf("%s %d - ", (ok || skip) ? "ok" : "not ok", test_num);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (skip)
		printf(" # SKIP %s", skip);
	putchar('\n');
	fflush(stdout);
}

/**
 * expected_distance() - the distance run-vm.sh gives between two nodes.
 * @a: node
 * @b: node
 *
 * Return: 10 for a node to itself, 20 within a pair {2i, 2i+1}, else 30.
 */
static int expected_distance(int a, int b)
{
	if (a == b)
		return 10;
	return a / 2 == b / 2 ? 20 : 30;
}

/**
 * rseq_area() - the rseq area glibc registered for this thread.
 *
 * Return: pointer to the area, or NULL when glibc did not register one.
 */
static volatile uint32_t *rseq_area(void)
{
	if (__rseq_size == 0)
		return NULL;
	return (volatile uint32_t *)((char *)__builtin_thread_pointer() +
				     __rseq_offset);
}

/**
 * pin_to_cpu() - move the calling thread to one CPU.
 * @cpu: CPU number
 *
 * Return: 0 on success, -1 with errno set on failure.
 */
static int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/**
 * test_nodes() - the node count libnuma sees is the expected one.
 * @nodes: expected number of nodes
 */
static void test_nodes(int nodes)
{
	int configured = numa_num_configured_nodes();
	int max = numa_max_node();
	int node;

	diag("libnuma: %d configured nodes, max node %d, %d cpus",
	     configured, max, numa_num_configured_cpus());
	for (node = 0; node <= max; node++) {
		long long free_b = 0;
		long long size = numa_node_size64(node, &free_b);

		diag("node %d: %lld MiB, %lld MiB free", node,
		     size >> 20, free_b >> 20);
	}
	result(configured == nodes && max + 1 == nodes, NULL,
	       "numa node count is %d", nodes);
}

/**
 * test_node_cpus() - each node holds the CPUs it should.
 * @nodes: expected number of nodes
 * @cpn: expected CPUs per node
 *
 * CPU c is expected on node c / @cpn.
 */
static void test_node_cpus(int nodes, int cpn)
{
	int ncpus = numa_num_configured_cpus();
	int node, cpu;

	for (node = 0; node < nodes; node++) {
		int first = node * cpn, last = first + cpn - 1;
		int ok = last < ncpus;

		for (cpu = 0; cpu < ncpus; cpu++) {
			int want = cpu >= first && cpu <= last;
			int got = numa_node_of_cpu(cpu) == node;

			if (want != got) {
				diag("cpu %d: numa_node_of_cpu() = %d",
				     cpu, numa_node_of_cpu(cpu));
				ok = 0;
			}
		}
		result(ok, NULL, "node %d has cpus %d-%d", node, first, last);
	}
}

/**
 * test_distances() - the distance matrix is the one run-vm.sh sets.
 * @nodes: expected number of nodes
 */
static void test_distances(int nodes)
{
	char line[256];
	int a, b, ok = 1;

	for (a = 0; a < nodes; a++) {
		int len = 0;

		for (b = 0; b < nodes; b++) {
			int d = numa_distance(a, b);

			if (d != expected_distance(a, b))
				ok = 0;
			if (len < (int)sizeof(line) - 8)
				len += snprintf(line + len, sizeof(line) - len,
						" %3d", d);
		}
		diag("distance node %d:%s", a, line);
	}
	result(ok, nodes < 2 ? "single node" : NULL,
	       "node distances are 10 local, 20 paired, 30 other");
}

/**
 * test_rseq() - glibc registered rseq; cpu_id and node_id follow the CPU.
 *
 * Pins the thread to each allowed CPU in turn and compares the cpu_id
 * field of the rseq area with sched_getcpu(), and, when the kernel fills
 * it (AT_RSEQ_FEATURE_SIZE >= 24), node_id with numa_node_of_cpu().
 */
static void test_rseq(void)
{
	unsigned long feature_size = getauxval(AT_RSEQ_FEATURE_SIZE);
	volatile uint32_t *rs = rseq_area();
	int has_node_id = feature_size >= RSEQ_NODE_ID_OFFSET + 4;
	int cpu_ok = 1, node_ok = 1, checked = 0;
	cpu_set_t saved;
	int cpu;

	diag("rseq: __rseq_size %u, __rseq_offset %td, feature size %lu",
	     __rseq_size, __rseq_offset, feature_size);
	result(rs && rs[1] != RSEQ_CPU_ID_UNREGISTERED &&
	       rs[1] != RSEQ_CPU_ID_REGISTRATION_FAILED, NULL,
	       "glibc registered rseq");
	if (!rs) {
		result(0, "rseq not registered", RSEQ_CPU_TEST);
		result(0, "rseq not registered", RSEQ_NODE_TEST);
		return;
	}

	if (sched_getaffinity(0, sizeof(saved), &saved)) {
		diag("sched_getaffinity: %s", strerror(errno));
		CPU_ZERO(&saved);
	}
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		uint32_t rs_cpu, rs_node = 0;
		int os_cpu;

		if (!CPU_ISSET(cpu, &saved))
			continue;
		if (pin_to_cpu(cpu)) {
			diag("cpu %d: sched_setaffinity: %s", cpu,
			     strerror(errno));
			cpu_ok = 0;
			continue;
		}
		os_cpu = sched_getcpu();
		rs_cpu = rs[1];
		if (has_node_id)
			rs_node = rs[RSEQ_NODE_ID_OFFSET / 4];
		checked++;
		if (os_cpu != cpu || rs_cpu != (uint32_t)os_cpu) {
			diag("cpu %d: sched_getcpu() %d, rseq cpu_id %u",
			     cpu, os_cpu, rs_cpu);
			cpu_ok = 0;
		}
		if (has_node_id && rs_node != (uint32_t)numa_node_of_cpu(cpu)) {
			diag("cpu %d: rseq node_id %u, numa_node_of_cpu() %d",
			     cpu, rs_node, numa_node_of_cpu(cpu));
			node_ok = 0;
		}
	}
	if (sched_setaffinity(0, sizeof(saved), &saved))
		diag("restoring affinity: %s", strerror(errno));
	diag("rseq: checked %d cpus", checked);
	result(cpu_ok && checked > 0, NULL, RSEQ_CPU_TEST);
	result(node_ok && checked > 0,
	       has_node_id ? NULL : "kernel does not provide rseq node_id",
	       RSEQ_NODE_TEST);
}

/**
 * test_mbind_node() - pages of an MPOL_BIND region land on the node.
 * @node: node to bind to
 *
 * Maps MBIND_PAGES pages, binds them to @node, touches them and asks the
 * kernel where each page is, with get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR)
 * and with move_pages().
 */
static void test_mbind_node(int node)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = MBIND_PAGES * page;
	void *pages[MBIND_PAGES];
	int status[MBIND_PAGES];
	unsigned long mask[16] = { 0 };
	int i, ok = 1;
	char *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		diag("mmap: %s", strerror(errno));
		result(0, NULL, MBIND_TEST, node);
		return;
	}
	mask[node / (8 * sizeof(long))] |= 1UL << (node % (8 * sizeof(long)));
	if (mbind(p, len, MPOL_BIND, mask, 8 * sizeof(mask), 0)) {
		diag("mbind node %d: %s", node, strerror(errno));
		ok = 0;
		goto out;
	}
	memset(p, 0x5a, len);

	for (i = 0; i < MBIND_PAGES; i++) {
		int where = -1;

		pages[i] = p + i * page;
		if (get_mempolicy(&where, NULL, 0, pages[i],
				  MPOL_F_NODE | MPOL_F_ADDR)) {
			diag("get_mempolicy: %s", strerror(errno));
			ok = 0;
		} else if (where != node) {
			diag("page %d: get_mempolicy says node %d", i, where);
			ok = 0;
		}
	}
	if (move_pages(0, MBIND_PAGES, pages, NULL, status, 0)) {
		diag("move_pages: %s", strerror(errno));
		ok = 0;
	} else {
		for (i = 0; i < MBIND_PAGES; i++) {
			if (status[i] != node) {
				diag("page %d: move_pages says %d", i,
				     status[i]);
				ok = 0;
			}
		}
	}
out:
	munmap(p, len);
	result(ok, NULL, MBIND_TEST, node);
}

int main(int argc, char **argv)
{
	int nodes, cpn, ncpus, node, plan;
	char *end;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s NODES [CPUS_PER_NODE]\n", argv[0]);
		return KSFT_FAIL;
	}
	nodes = strtol(argv[1], &end, 10);
	if (*end || nodes < 1 || nodes > 64) {
		fprintf(stderr, "%s: bad node count '%s'\n", argv[0], argv[1]);
		return KSFT_FAIL;
	}
	ncpus = sysconf(_SC_NPROCESSORS_CONF);
	cpn = ncpus / nodes;
	if (argc == 3) {
		cpn = strtol(argv[2], &end, 10);
		if (*end || cpn < 1) {
			fprintf(stderr, "%s: bad cpus per node '%s'\n",
				argv[0], argv[2]);
			return KSFT_FAIL;
		}
	}

	/* count + cpus per node + distances + 3 rseq + mbind per node */
	plan = 1 + nodes + 1 + 3 + nodes;
	printf("TAP version 13\n1..%d\n", plan);
	diag("vm_sanity: expecting %d nodes x %d cpus, %d cpus configured",
	     nodes, cpn, ncpus);
	fflush(stdout);

	if (numa_available() < 0) {
		diag("numa_available() < 0: no NUMA support");
		while (test_num < plan)
			result(0, NULL, "numa available");
		goto done;
	}

	test_nodes(nodes);
	test_node_cpus(nodes, cpn);
	test_distances(nodes);
	test_rseq();
	for (node = 0; node < nodes; node++) {
		if (node > numa_max_node() ||
		    !numa_bitmask_isbitset(numa_all_nodes_ptr, node))
			result(0, NULL, MBIND_TEST ": no such node", node);
		else
			test_mbind_node(node);
	}

done:
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       n_pass, n_fail, n_skip);
	if (n_fail)
		return KSFT_FAIL;
	return n_pass ? KSFT_PASS : KSFT_SKIP;
}
