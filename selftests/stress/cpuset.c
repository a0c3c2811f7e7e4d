// SPDX-License-Identifier: MIT
/*
 * CPU set changes under load (TAP): worker threads allocate, swap objects
 * through shared slots (so most frees are cross-thread) and free them,
 * while the set of CPUs they may run on shrinks and grows again. Before
 * a CPU leaves the set, the main thread runs on it and leaves objects in
 * its fast-path bins (its own and foreign ones). After each phase every
 * thread calls hak_trim() and the main thread checks, from hak_slabinfo(),
 * that the live-object count is exactly what the slots hold: nothing
 * cached on a CPU that left was lost.
 *
 *   cpuset            the affinity of every thread shrinks with
 *                     sched_setaffinity() (to half the CPUs, to one CPU)
 *                     and grows back; runs anywhere (make check), in every
 *                     fast-path mode (cpu_id, mm_cid, per-thread)
 *   cpuset -H         CPU hotplug: CPUs are taken offline and online
 *                     again through /sys/devices/system/cpu/cpuN/online.
 *                     Only inside the VMs of selftests/vm (it needs
 *                     HAKMEM_VM_ARCH in the environment and root); skips
 *                     elsewhere, never touching the host's CPUs.
 *
 * Options: -t threads (default: online CPUs, at most 16), -n operations per
 * thread and phase (default 4000), -s seed.
 * Pass/fail depends only on counts, never on timing: the phases are
 * separated by barriers and every loop is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../lib/tap.h"

#define MAX_THREADS	64
#define NSLOTS		4096
#define SEED_OBJS	512
#define OBJ_MAGIC	0xc0ffee5eed5eedULL
#define CACHE_NAME	"cpuset-objs"
#define CACHE_SIZE	128

enum kind { K_KMALLOC, K_CACHE };

struct hdr {
	uint64_t magic;		/* OBJ_MAGIC ^ address */
	uint32_t size;
	uint32_t kind;
};

static _Atomic(struct hdr *) slot[NSLOTS];
static struct hak_cache *cache;
static pthread_barrier_t go, done;
static int nthreads, ncpus, hotplug, nphases;
static long nops = 4000;
static unsigned int seed0 = 1;
static _Atomic long damaged, failed_allocs;
static pid_t tids[MAX_THREADS];
static cpu_set_t all_cpus;
static int cpu_list[CPU_SETSIZE];	/* the CPUs of all_cpus, in order */
static uint64_t kmalloc_base;

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static struct hdr *obj_new(uint32_t r)
{
	struct hdr *h;
	uint32_t size = 16 + (r >> 8) % 2033;
	enum kind k = (r & 3) ? K_KMALLOC : K_CACHE;

	if (k == K_CACHE) {
		size = CACHE_SIZE;
		h = hak_cache_alloc(cache);
	} else {
		h = hak_malloc(size);
	}
	if (!h) {
		atomic_fetch_add(&failed_allocs, 1);
		return NULL;
	}
	h->magic = OBJ_MAGIC ^ (uintptr_t)h;
	h->size = size;
	h->kind = k;
	((unsigned char *)h)[size - 1] = (unsigned char)size;
	return h;
}

static int obj_ok(const struct hdr *h)
{
	return h->magic == (OBJ_MAGIC ^ (uintptr_t)h) && h->size >= 16 &&
	       ((const unsigned char *)h)[h->size - 1] == (unsigned char)h->size;
}

static void obj_free(struct hdr *h)
{
	if (!h)
		return;
	if (!obj_ok(h))
		atomic_fetch_add(&damaged, 1);
	if (h->kind == K_CACHE)
		hak_cache_free(cache, h);
	else
		hak_free(h);
}

/* One phase of work: @nops swaps of a new object into a random slot. */
static void churn(uint32_t *s)
{
	for (long i = 0; i < nops; i++) {
		uint32_t r = rnd(s);
		struct hdr *h = (r & 0x30) ? obj_new(r) : NULL;

		obj_free(atomic_exchange(&slot[(r >> 16) % NSLOTS], h));
	}
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint32_t s = seed0 * 2654435761u + (uint32_t)id + 1;

	tids[id] = (pid_t)syscall(SYS_gettid);
	for (int p = 0; p < nphases; p++) {
		pthread_barrier_wait(&go);
		churn(&s);
		/* this thread's cache and cross-node buffers go back */
		hak_trim();
		pthread_barrier_wait(&done);
	}
	return NULL;
}

static uint64_t active_of(const char *name, int prefix)
{
	struct hak_slabinfo rows[256];
	int n = hak_slabinfo(rows, 256);
	uint64_t sum = 0;

	for (int i = 0; i < n && i < 256; i++) {
		if (prefix ? !strncmp(rows[i].name, name, strlen(name)) :
			     !strcmp(rows[i].name, name))
			sum += rows[i].active_objs;
	}
	return sum;
}

/* Every slot checked; the held objects of each kind counted. */
static void count_held(uint64_t *km, uint64_t *ca, long *bad)
{
	*km = *ca = 0;
	*bad = 0;
	for (int i = 0; i < NSLOTS; i++) {
		struct hdr *h = atomic_load(&slot[i]);

		if (!h)
			continue;
		if (!obj_ok(h))
			(*bad)++;
		if (h->kind == K_CACHE)
			(*ca)++;
		else
			(*km)++;
	}
}

/* After hak_trim() on every thread: active objects == held objects. */
static void check_exact(const char *what)
{
	uint64_t km, ca, akm, aca;
	long bad;

	hak_trim();
	count_held(&km, &ca, &bad);
	akm = active_of("kmalloc-", 1) - kmalloc_base;
	aca = active_of(CACHE_NAME, 0);
	tap_result(akm == km && aca == ca && !bad &&
		   !atomic_load(&damaged) && !atomic_load(&failed_allocs),
		   "%s: active kmalloc %llu == held %llu, active %s %llu == held %llu, %ld+%ld damaged, %ld failed",
		   what, (unsigned long long)akm, (unsigned long long)km,
		   CACHE_NAME, (unsigned long long)aca, (unsigned long long)ca,
		   bad, atomic_load(&damaged), atomic_load(&failed_allocs));
}

/*
 * Runs on @cpu and leaves objects in its bins: SEED_OBJS new objects freed
 * there (own bins) and up to SEED_OBJS taken from the slots, allocated
 * elsewhere (foreign bins). Returns the objects the bins and buffers hold
 * afterwards beyond the slots (diagnostic only).
 */
static long seed_cpu(int cpu, uint32_t *s)
{
	static struct hdr *v[SEED_OBJS];
	uint64_t km, ca;
	long bad;
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -1;
	for (int i = 0; i < SEED_OBJS; i++)
		v[i] = obj_new(rnd(s));
	for (int i = 0; i < SEED_OBJS; i++)
		obj_free(v[i]);
	for (int i = 0; i < SEED_OBJS; i++)
		obj_free(atomic_exchange(&slot[rnd(s) % NSLOTS], NULL));
	sched_setaffinity(0, sizeof(all_cpus), &all_cpus);
	count_held(&km, &ca, &bad);
	return (long)(active_of("kmalloc-", 1) - kmalloc_base +
		      active_of(CACHE_NAME, 0) - km - ca);
}

static int set_online(int cpu, int on)
{
	char path[64];
	int fd, ok;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, on ? "1" : "0", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

/* Every thread (workers and this one) may run on @set only. */
static int restrict_all(const cpu_set_t *set)
{
	int err = 0;

	for (int i = 0; i < nthreads; i++)
		err |= sched_setaffinity(tids[i], sizeof(*set), set);
	err |= sched_setaffinity(0, sizeof(*set), set);
	return err;
}

/*
 * The CPUs that leave in phase @p (0-based), by their index in all_cpus;
 * the first CPU never leaves, and none leave in the last phase.
 */
static void leaving(int p, cpu_set_t *out)
{
	CPU_ZERO(out);
	for (int i = 1; i < ncpus; i++) {
		if (p == 0 && i >= (ncpus + 1) / 2)
			CPU_SET(cpu_list[i], out);	/* the upper half */
		if (p == 1 && (hotplug ? i % 2 : 1))
			CPU_SET(cpu_list[i], out);	/* odd / all but the first */
	}
}

/*
 * One phase: seed the leaving CPUs, start the workers, take the CPUs away
 * while they run, wait for them, check. Then (hotplug) bring them back.
 */
static void phase(int p, uint32_t *s)
{
	cpu_set_t out, keep;
	long cached = 0;
	int err = 0, n;
	char what[96];

	leaving(p, &out);
	n = CPU_COUNT(&out);
	/* the last seed_cpu() counts what all of them left */
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &out))
			cached = seed_cpu(c, s);
	CPU_XOR(&keep, &all_cpus, &out);
	pthread_barrier_wait(&go);
	if (!n) {
		err = restrict_all(&all_cpus);
	} else if (hotplug) {
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &out))
				err |= set_online(c, 0);
	} else {
		err = restrict_all(&keep);
	}
	pthread_barrier_wait(&done);
	snprintf(what, sizeof(what), "phase %d: %d CPU%s %s (%ld objects cached before)",
		 p + 1, n, n == 1 ? "" : "s",
		 hotplug ? "offline" : "left the affinity", cached);
	if (err)
		tap_diag("phase %d: changing the CPU set failed: %s", p + 1, strerror(errno));
	check_exact(what);
	if (hotplug)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &out) && set_online(c, 1))
				tap_diag("cpu%d does not come back online", c);
}

/* Why -H cannot run here, or NULL. */
static const char *hotplug_missing(void)
{
	if (!getenv("HAKMEM_VM_ARCH"))
		return "CPU hotplug runs only in the VMs of selftests/vm";
	if (geteuid())
		return "not root";
	if (ncpus < 2 ||
	    access("/sys/devices/system/cpu/cpu1/online", W_OK))
		return "no hotpluggable CPU";
	return NULL;
}

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-H] [-t threads] [-n ops] [-s seed]\n", prog);
	return 2;
}

int main(int argc, char **argv)
{
	pthread_t t[MAX_THREADS];
	struct hak_global_stats gs;
	const char *why;
	uint32_t s = 12345;
	int opt;

	while ((opt = getopt(argc, argv, "Ht:n:s:")) != -1) {
		switch (opt) {
		case 'H':
			hotplug = 1;
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'n':
			nops = atol(optarg);
			break;
		case 's':
			seed0 = (unsigned int)atoi(optarg);
			break;
		default:
			return usage(argv[0]);
		}
	}
	if (nthreads < 0 || nthreads > MAX_THREADS || nops < 1)
		return usage(argv[0]);
	if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus))
		return 1;
	ncpus = 0;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all_cpus))
			cpu_list[ncpus++] = c;
	if (!nthreads)
		nthreads = ncpus < 16 ? (ncpus < 2 ? 2 : ncpus) : 16;
	nphases = 3;

	cache = hak_cache_create(CACHE_NAME, CACHE_SIZE, 0, 0, NULL);
	hak_trim();
	kmalloc_base = active_of("kmalloc-", 1);
	hak_global_stats(&gs);
	tap_plan(nphases + 1);
	tap_diag("%s, %d CPUs, %d threads, %ld operations each per phase, mode %s",
		 hotplug ? "hotplug" : "affinity", ncpus, nthreads, nops, gs.mode);
	why = hotplug ? hotplug_missing() : ncpus < 2 ? "one CPU" : NULL;
	if (why) {
		for (int p = 0; p <= nphases; p++)
			tap_skip_test("cpuset", why);
		return tap_exit();
	}

	pthread_barrier_init(&go, NULL, (unsigned int)nthreads + 1);
	pthread_barrier_init(&done, NULL, (unsigned int)nthreads + 1);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	/* the workers' ids are known once they reach the first barrier */
	for (int p = 0; p < nphases; p++)
		phase(p, &s);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);

	for (int i = 0; i < NSLOTS; i++)
		obj_free(atomic_exchange(&slot[i], NULL));
	hak_cache_destroy(cache);
	hak_trim();
	tap_result(active_of("kmalloc-", 1) == kmalloc_base &&
		   !atomic_load(&damaged),
		   "all freed: kmalloc active back to %llu (now %llu), cache destroyed",
		   (unsigned long long)kmalloc_base,
		   (unsigned long long)active_of("kmalloc-", 1));
	return tap_exit();
}
