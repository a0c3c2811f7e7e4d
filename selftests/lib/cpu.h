/* SPDX-License-Identifier: MIT */
/*
 * CPU placement for the selftests that need a thread on a given CPU, or
 * the per-CPU mode on at least two CPUs.
 */
#ifndef HAK_SELFTEST_CPU_H
#define HAK_SELFTEST_CPU_H

#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "hakmem/hakmem.h"

/* Pins the calling thread to @cpu. Returns 0, or -1 (not ours to run on). */
static inline int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Fills @cpus with the first @n CPUs this process may run on, and -1
 * where it has fewer.
 */
static inline void allowed_cpus(int *cpus, int n)
{
	cpu_set_t set;
	int k = 0;

	sched_getaffinity(0, sizeof(set), &set);
	for (int c = 0; c < CPU_SETSIZE && k < n; c++)
		if (CPU_ISSET(c, &set))
			cpus[k++] = c;
	while (k < n)
		cpus[k++] = -1;
}

/*
 * Why a test of two CPUs' caches cannot run here: one CPU online, or not
 * the per-CPU mode; NULL when it can.
 */
static inline const char *percpu_pair_missing(void)
{
	struct hak_global_stats gs;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return "one CPU";
	hak_global_stats(&gs);
	if (strncmp(gs.mode, "per-CPU", 7))
		return "per-CPU mode not in force";
	return NULL;
}

#endif /* HAK_SELFTEST_CPU_H */
