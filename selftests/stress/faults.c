// SPDX-License-Identifier: MIT
/*
 * Fault selftest (TAP): the allocator under failing mappings and a small
 * address-space limit gives NULL with ENOMEM and keeps working once memory
 * is back, with no half-made SuperSlab left mapped; memory goes back to
 * the system after a burst (hak_trim, and on its own after the decay
 * delay); many short threads keep RSS flat.
 *
 * Usage: faults [-T threads for the churn test]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../core/background.h"
#include "../../core/options.h"
#include "../../numa/topology.h"
#include "../lib/cpu.h"
#include "../lib/tap.h"

static long churn_threads = 100000;

/*
 * Under ASan or TSan the resident set is mostly the sanitizer's (shadow
 * memory, per-thread state), which purging does not give back: the RSS
 * checks mean nothing there and are skipped.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RSS_MEANINGFUL	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RSS_MEANINGFUL	0
#endif
#endif
#ifndef RSS_MEANINGFUL
#define RSS_MEANINGFUL	1
#endif

/* Resident set in KiB, from /proc/self/statm. */
static long rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint64_t mapped(void)
{
	struct hak_global_stats st;

	hak_global_stats(&st);
	return st.mapped_bytes;
}

/* Allocates until failure or @max objects; returns how many it got. */
static long fill_until_failure(void **v, long max, size_t size, int *err)
{
	long n = 0;

	for (; n < max; n++) {
		errno = 0;
		v[n] = hak_malloc(size);
		if (!v[n]) {
			*err = errno;
			break;
		}
		memset(v[n], 1, size < 64 ? size : 64);
	}
	return n;
}

static void test_fail_mmap(void)
{
	enum { N = 20000 };
	static void *v[N];
	int err = 0, fails = 0, ok = 1;
	/*
	 * Every third mapping fails; with several nodes a failure falls back
	 * to the nearest node, whose next mapping would succeed: fail all.
	 */
	long every = topology_multi() ? 1 : 3, got;

	hak_trim();
	option_values[OPT_FAIL_MMAP] = every;
	for (int round = 0; round < 20; round++) {
		got = fill_until_failure(v, N, 4000 + round * 1000, &err);
		if (got < N) {
			fails++;
			ok &= err == ENOMEM;
		}
		for (long i = 0; i < got; i++)
			hak_free(v[i]);
		hak_trim();
	}
	option_values[OPT_FAIL_MMAP] = 0;
	got = fill_until_failure(v, N, 5000, &err);
	ok &= got == N;
	for (long i = 0; i < got; i++)
		hak_free(v[i]);
	tap_result(ok && fails > 0,
		   "HAKMEM_FAIL_MMAP=%ld: %d of 20 rounds hit ENOMEM, then %ld allocations succeed",
		   every, fails, got);
}

static void test_rlimit_as(void)
{
	enum { N = 1 << 16 };
	static void *v[N];
	struct rlimit old, lim;
	uint64_t before, after;
	int err = 0, ok;
	long got;

	hak_trim();
	before = mapped();
	getrlimit(RLIMIT_AS, &old);
	lim = old;
	/* what the process maps now, plus 64 MiB */
	{
		long pages = 0;
		FILE *f = fopen("/proc/self/statm", "r");

		if (f && fscanf(f, "%ld", &pages) == 1)
			lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) +
				       (64UL << 20);
		if (f)
			fclose(f);
	}
	if (setrlimit(RLIMIT_AS, &lim)) {
		tap_skip_test("RLIMIT_AS", "setrlimit failed");
		return;
	}
	got = fill_until_failure(v, N, 16000, &err);
	ok = got < N && err == ENOMEM;
	for (long i = 0; i < got; i++)
		hak_free(v[i]);
	hak_trim();
	after = mapped();
	setrlimit(RLIMIT_AS, &old);
	got = fill_until_failure(v, 10000, 16000, &err);
	ok &= got == 10000;
	for (long i = 0; i < got; i++)
		hak_free(v[i]);
	tap_result(ok && after <= before + (4UL << 20),
		   "RLIMIT_AS: ENOMEM at the limit, mapped %llu -> %llu bytes after trim (no half-made SuperSlabs), works again",
		   (unsigned long long)before, (unsigned long long)after);
}

/* A burst of small objects, freed: hak_trim gives the memory back. */
static void test_rss_after_burst(void)
{
	enum { N = 1500000 };
	void **v = malloc(N * sizeof(*v));
	long base, peak, after;

	hak_trim();
	base = rss_kb();
	for (long i = 0; i < N; i++) {
		v[i] = hak_malloc(64 + (size_t)(i % 7) * 16);
		memset(v[i], 2, 64);
	}
	peak = rss_kb();
	for (long i = 0; i < N; i++)
		hak_free(v[i]);
	hak_trim();
	after = rss_kb();
	free(v);
	/* live objects: none; allow 10% of the burst plus 2 MiB of slack */
	tap_result(after <= base + (peak - base) / 10 + 2048,
		   "burst of %d objects: RSS %ld -> %ld -> %ld KiB after free and hak_trim",
		   N, base, peak, after);
}

/*
 * A trickle of work, @rounds of 10 ms, so that decay ticks happen: they
 * come when spans are taken or released. Objects of 32000 bytes, of which
 * the caches hold only a few, so spans really go back; about 2 MiB a
 * round, so its own freshly dirty slabs hardly count.
 */
static void span_trickle(int rounds)
{
	for (int r = 0; r < rounds; r++) {
		void *w[64];

		for (int k = 0; k < 64; k++)
			w[k] = hak_malloc(32000);
		for (int k = 0; k < 64; k++)
			hak_free(w[k]);
		usleep(10000);
	}
}

/* The bound of the decay waits: 300 rounds of 10 ms, 30 decay periods. */
#define DECAY_WAIT_ROUNDS	300

/*
 * The same without hak_trim: free slabs whose pages are dirty decay after
 * HAKMEM_DECAY_MS. One object per SuperSlab stays live, so the SuperSlabs
 * cannot simply be unmapped; the dirty cap is lifted so only decay acts.
 * The burst runs on @burst_cpu and the trickle that makes the ticks on
 * @trickle_cpu (-1: wherever the scheduler puts them); the caller checked
 * that it may run on both.
 */
static void rss_decay_case(const char *what, int burst_cpu, int trickle_cpu)
{
	enum { N = 1500000 };
	void **v = malloc(N * sizeof(*v));
	uintptr_t last_ss = 0;
	long base, peak, after = 0, dirty_max;
	int pin_failed = 0, rounds;
	cpu_set_t all;

	sched_getaffinity(0, sizeof(all), &all);
	hak_trim();
	option_values[OPT_DECAY_MS] = 100;
	dirty_max = option_values[OPT_DIRTY_MAX_KB];
	option_values[OPT_DIRTY_MAX_KB] = 1L << 22;
	base = rss_kb();
	if (burst_cpu >= 0 && pin_to_cpu(burst_cpu))
		pin_failed = 1;
	for (long i = 0; i < N; i++) {
		v[i] = hak_malloc(100);
		memset(v[i], 3, 100);
	}
	/* before the frees: decay may already act while they run */
	peak = rss_kb();
	for (long i = 0; i < N; i++) {
		uintptr_t ss = (uintptr_t)v[i] >> 21;

		if (ss != last_ss) {	/* keep the first object of each */
			last_ss = ss;
			continue;
		}
		hak_free(v[i]);
		v[i] = NULL;
	}
	if (trickle_cpu >= 0 && pin_to_cpu(trickle_cpu))
		pin_failed = 1;
	/* wait for the effect: rounds of at least a tenth of a period */
	for (rounds = 0; rounds < DECAY_WAIT_ROUNDS; rounds += 10) {
		span_trickle(10);
		after = rss_kb();
		if (after < base + (peak - base) / 4)
			break;
	}
	sched_setaffinity(0, sizeof(all), &all);
	for (long i = 0; i < N; i++)
		hak_free(v[i]);
	free(v);
	hak_trim();
	option_values[OPT_DECAY_MS] = 1000;
	option_values[OPT_DIRTY_MAX_KB] = dirty_max;
	tap_result(!pin_failed && after < base + (peak - base) / 4,
		   "%s: RSS %ld -> %ld -> %ld KiB after %d rounds of traffic (at most %d)%s",
		   what, base, peak, after, rounds + 10, DECAY_WAIT_ROUNDS,
		   pin_failed ? " (could not pin the thread)" : "");
}

static void test_rss_decay(void)
{
	rss_decay_case("decay without hak_trim", -1, -1);
}

/* The first CPU of @node (by the allocator's map), or -1. */
static int cpu_of_node(unsigned int node)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	for (long cpu = 0; cpu < ncpu && cpu < HAK_MAX_CPUS; cpu++)
		if (topo.node_of_cpu[cpu] == node)
			return (int)cpu;
	return -1;
}

/*
 * Ticks come with a pool's own traffic; a node gone quiet must decay all
 * the same. The burst fills node 0's pool, then only node 1 has traffic.
 */
static void test_rss_decay_quiet_node(void)
{
	int c0 = cpu_of_node(0), c1 = cpu_of_node(1);

	cpu_set_t all;

	if (!topology_multi() || c0 < 0 || c1 < 0) {
		tap_skip_test("decay of a quiet node", "one node (HAKMEM_NUMA_FAKE=2 or a NUMA machine runs it)");
		return;
	}
	sched_getaffinity(0, sizeof(all), &all);
	if (!CPU_ISSET(c0, &all) || !CPU_ISSET(c1, &all)) {
		tap_skip_test("decay of a quiet node", "the first CPUs of nodes 0 and 1 are not in our affinity mask");
		return;
	}
	rss_decay_case("decay of a quiet node (burst on node 0, traffic on node 1 only)",
		       c0, c1);
}

#define SLABINFO_ROWS	256	/* every cache id */

static uint64_t active_objs(const char *name)
{
	struct hak_slabinfo rows[SLABINFO_ROWS];
	int n = hak_slabinfo(rows, SLABINFO_ROWS);

	for (int i = 0; i < n && i < SLABINFO_ROWS; i++)
		if (!strcmp(rows[i].name, name))
			return rows[i].active_objs;
	return 0;
}

static void *fill_and_leave(void *arg)
{
	void *p[16];

	pin_to_cpu((int)(intptr_t)arg);
	for (int i = 0; i < 16; i++)
		p[i] = hak_malloc(2000);
	for (int i = 0; i < 16; i++)
		hak_free(p[i]);
	return NULL;		/* 16 objects stay in that CPU's cache */
}

/*
 * An idle CPU does not keep memory cached: a thread on the last CPU
 * leaves 16 objects of kmalloc-2048 in that CPU's cache and exits; with
 * no slow path on that cache since, two decay ticks drain them back to
 * the central pool (per-CPU mode only). The test drives the decay clock
 * itself: HAKMEM_DECAY_MS=0 makes every pass of the decay work
 * (background_work(), what the background thread runs) a tick, and
 * nothing else runs between passes. With traffic of its own to make the
 * ticks, the test's thread could be given the very cache it waits on (an
 * mm_cid is not tied to a CPU), which then never looks idle.
 */
static void test_idle_cpu_drain(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	const char *missing = percpu_pair_missing();
	uint64_t before, after;
	pthread_t t;
	int passes;

	if (missing) {
		tap_skip_test("idle CPU drain", missing);
		return;
	}
	hak_trim();
	if (pthread_create(&t, NULL, fill_and_leave, (void *)(intptr_t)(ncpu - 1))) {
		tap_result(0, "pthread_create failed");
		return;
	}
	pthread_join(t, NULL);
	before = active_objs("kmalloc-2048");
	option_values[OPT_DECAY_MS] = 0;
	after = before;
	/* the first tick notes the caches' activity, the second drains */
	for (passes = 0; passes < 4 && after; passes++) {
		background_work();
		after = active_objs("kmalloc-2048");
	}
	option_values[OPT_DECAY_MS] = 1000;
	tap_result(before >= 16 && after == 0 && passes <= 2,
		   "idle CPU drain: kmalloc-2048 objects out of the central pool %llu -> %llu after %d decay ticks (2 expected)",
		   (unsigned long long)before, (unsigned long long)after,
		   passes);
}

static void *short_thread(void *arg)
{
	void *p[8];

	(void)arg;
	for (int i = 0; i < 8; i++)
		p[i] = hak_malloc((size_t)(i + 1) * 24);
	for (int i = 0; i < 8; i++)
		hak_free(p[i]);
	return NULL;
}

static void test_thread_churn(void)
{
	long base = 0, after;
	pthread_t t;

	for (long i = 0; i < churn_threads; i++) {
		if (pthread_create(&t, NULL, short_thread, NULL)) {
			tap_result(0, "pthread_create failed at %ld", i);
			return;
		}
		pthread_join(t, NULL);
		if (i == 1000)
			base = rss_kb();
	}
	after = rss_kb();
	tap_result(after <= base + 4096,
		   "%ld short threads: RSS %ld KiB after 1000, %ld KiB at the end",
		   churn_threads, base, after);
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "T:")) != -1)
		if (opt == 'T')
			churn_threads = atol(optarg);
	hak_free(hak_malloc(1));
	tap_plan(7);
	test_fail_mmap();
	test_rlimit_as();
	test_idle_cpu_drain();
	if (RSS_MEANINGFUL) {
		test_rss_after_burst();
		test_rss_decay();
		test_rss_decay_quiet_node();
		test_thread_churn();
	} else {
		tap_skip_test("RSS after a burst", "sanitizer build: RSS is the sanitizer's");
		tap_skip_test("RSS decay", "sanitizer build: RSS is the sanitizer's");
		tap_skip_test("RSS decay of a quiet node", "sanitizer build: RSS is the sanitizer's");
		tap_skip_test("thread churn RSS", "sanitizer build: RSS is the sanitizer's");
	}
	return tap_exit();
}
