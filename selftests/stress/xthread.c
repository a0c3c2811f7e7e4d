// SPDX-License-Identifier: MIT
/*
 * Multithreaded stress selftest (TAP). Threads allocate objects, write a
 * pattern, hand them to other threads which check and free them. The
 * invariants: no object is handed out twice while live (a set of live
 * addresses), no pattern is damaged, every cache ends with no active
 * objects. Also: thread churn, exit flush, fork with busy threads.
 *
 * Usage: xthread [-t threads] [-n objects per thread] [-s seed] [-f forks]
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../lib/cpu.h"
#include "../lib/liveset.h"
#include "../lib/tap.h"

#define MAX_THREADS	64
#define MBOX_CAP	1024
#define HDR_MAGIC	0x5eed5eed5eed5eedULL

struct hdr {
	uint64_t magic;		/* HDR_MAGIC ^ address */
	uint32_t size;
	uint32_t seed;
};

struct mbox {
	pthread_mutex_t lock;
	void *slot[MBOX_CAP];
	unsigned int count;
};

static struct mbox mbox[MAX_THREADS];
static int nthreads = 8;
static long per_thread = 200000;
static unsigned int seed0 = 1;
static int nforks = 50;
static _Atomic long errors;
static _Atomic long handed;

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static size_t pick_size(uint32_t *s)
{
	uint32_t r = rnd(s) % 1000;

	if (r < 700)
		return 8 + rnd(s) % 250;
	if (r < 950)
		return 256 + rnd(s) % 4000;
	if (r < 998)
		return 4096 + rnd(s) % 60000;
	return 262145 + rnd(s) % 400000;	/* huge */
}

static void *make(uint32_t *s)
{
	size_t n = pick_size(s);
	struct hdr *h = hak_malloc(n < sizeof(*h) ? sizeof(*h) : n);
	unsigned char *body = (unsigned char *)(h + 1);

	if (!h) {
		atomic_fetch_add(&errors, 1);
		return NULL;
	}
	if (liveset_add(h)) {
		tap_diag("object %p handed out twice", (void *)h);
		atomic_fetch_add(&errors, 1);
	}
	h->magic = HDR_MAGIC ^ (uintptr_t)h;
	h->size = (uint32_t)(n < sizeof(*h) ? sizeof(*h) : n);
	h->seed = rnd(s);
	for (size_t i = 0; i + sizeof(*h) < h->size && i < 256; i++)
		body[i] = (unsigned char)(h->seed + i);
	return h;
}

static void check_and_free(struct hdr *h)
{
	unsigned char *body = (unsigned char *)(h + 1);

	if (h->magic != (HDR_MAGIC ^ (uintptr_t)h)) {
		tap_diag("object %p header damaged", (void *)h);
		atomic_fetch_add(&errors, 1);
		return;
	}
	for (size_t i = 0; i + sizeof(*h) < h->size && i < 256; i++) {
		if (body[i] != (unsigned char)(h->seed + i)) {
			tap_diag("object %p body damaged at %zu", (void *)h, i);
			atomic_fetch_add(&errors, 1);
			return;
		}
	}
	if (liveset_del(h)) {
		tap_diag("object %p freed but not live", (void *)h);
		atomic_fetch_add(&errors, 1);
	}
	h->magic = 0;
	hak_free(h);
}

static int mbox_put(int to, void *p)
{
	struct mbox *m = &mbox[to];
	int ok = 0;

	pthread_mutex_lock(&m->lock);
	if (m->count < MBOX_CAP) {
		m->slot[m->count++] = p;
		ok = 1;
	}
	pthread_mutex_unlock(&m->lock);
	return ok;
}

static unsigned int mbox_take(int me, void **out, unsigned int max)
{
	struct mbox *m = &mbox[me];
	unsigned int n;

	pthread_mutex_lock(&m->lock);
	n = m->count < max ? m->count : max;
	m->count -= n;
	memcpy(out, m->slot + m->count, n * sizeof(void *));
	pthread_mutex_unlock(&m->lock);
	return n;
}

static void drain_own(int me)
{
	void *got[64];
	unsigned int n;

	while ((n = mbox_take(me, got, 64)))
		for (unsigned int i = 0; i < n; i++)
			check_and_free(got[i]);
}

static void *handoff_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint32_t s = seed0 * 2654435761U + (uint32_t)me + 1;

	for (long i = 0; i < per_thread; i++) {
		void *p = make(&s);
		int to = (int)(rnd(&s) % (uint32_t)nthreads);

		if (p && !mbox_put(to, p))
			check_and_free(p);
		atomic_fetch_add(&handed, 1);
		if ((i & 15) == 0)
			drain_own(me);
	}
	return NULL;
}

static void test_handoff(void)
{
	pthread_t t[MAX_THREADS];

	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, handoff_thread, (void *)(intptr_t)i);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < nthreads; i++)
		drain_own(i);
	tap_result(atomic_load(&errors) == 0,
		   "cross-thread handoff: %ld objects over %d threads, no duplicate, no damage",
		   atomic_load(&handed), nthreads);
}

/* @arg: 0, or 1 + the CPU to run on (the warm-up) */
static void *churn_thread(void *arg)
{
	void *v[100];

	if (arg)
		pin_to_cpu((int)(intptr_t)arg - 1);
	for (int i = 0; i < 100; i++)
		v[i] = hak_malloc((size_t)(i * 37 % 900) + 1);
	for (int i = 0; i < 100; i++)
		hak_free(v[i]);
	return NULL;
}

/*
 * Flat: the first short thread on a CPU the earlier tests did not use
 * takes spans for that CPU's caches (and maybe its node pool's first
 * SuperSlab): in VMs of 64 CPUs mapped grew by 8.25 MiB (8 x 8) and 15.4
 * MiB (4 x 16) that way. So one short thread first runs on every CPU,
 * then the 5000 are measured, with 8 MiB of slack and a SuperSlab more
 * per node pool past the first. A leak of 4 KiB per thread still shows.
 */
static void test_thread_churn(void)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct hak_global_stats a, b;
	uint64_t slack;
	pthread_t t;
	int nodes;

	for (long c = 0; c < ncpus && c < CPU_SETSIZE; c++) {
		pthread_create(&t, NULL, churn_thread, (void *)(intptr_t)(c + 1));
		pthread_join(t, NULL);
	}
	hak_global_stats(&a);
	nodes = a.numa_nodes > 1 ? a.numa_nodes : 1;
	slack = (8ULL << 20) + (uint64_t)(nodes - 1) * (2ULL << 20);
	for (int i = 0; i < 5000; i++) {
		pthread_create(&t, NULL, churn_thread, NULL);
		pthread_join(t, NULL);
	}
	hak_global_stats(&b);
	tap_result(b.mapped_bytes <= a.mapped_bytes + slack,
		   "5000 short threads: mapped %llu -> %llu bytes (flat: at most %llu more)",
		   (unsigned long long)a.mapped_bytes,
		   (unsigned long long)b.mapped_bytes,
		   (unsigned long long)slack);
}

static struct hak_cache *shared_cache;

static void tag_ctor(void *p)
{
	memset(p, 0x11, 48);
}

static void *cache_user(void *arg)
{
	void **objs = arg;

	for (int i = 0; i < 4000; i++) {
		unsigned char *o = objs[i];

		if (o[0] != 0x11 || o[47] != 0x11)
			atomic_fetch_add(&errors, 1);
		hak_cache_free(shared_cache, o);
	}
	return NULL;
}

static long active_of(const char *name)
{
	struct hak_slabinfo rows[256];
	int n = hak_slabinfo(rows, 256);

	for (int i = 0; i < n && i < 256; i++)
		if (!strcmp(rows[i].name, name))
			return (long)rows[i].active_objs;
	return -1;
}

/*
 * Objects freed by other threads, which then exit: after a shrink (which
 * drains every CPU's cache in the per-CPU mode; thread exit already did in
 * the per-thread mode) nothing stays active.
 */
static void test_cache_cross_thread(void)
{
	static void *objs[4][4000];
	pthread_t t[4];
	long before = atomic_load(&errors);

	shared_cache = hak_cache_create("xthread-objs", 48, 0, 0, tag_ctor);
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < 4000; i++)
			objs[k][i] = hak_cache_alloc(shared_cache);
	for (int k = 0; k < 4; k++)
		pthread_create(&t[k], NULL, cache_user, objs[k]);
	for (int k = 0; k < 4; k++)
		pthread_join(t[k], NULL);
	hak_cache_shrink(shared_cache);
	tap_result(atomic_load(&errors) == before &&
		   active_of("xthread-objs") == 0,
		   "object cache freed from 4 exiting threads: constructed objects, 0 active after shrink (%ld)",
		   active_of("xthread-objs"));
	hak_cache_destroy(shared_cache);
	tap_result(active_of("xthread-objs") == -1, "cache destroyed cleanly");
}

static _Atomic int busy_stop;

static void *busy_thread(void *arg)
{
	uint32_t s = (uint32_t)(uintptr_t)arg + 7;

	while (!atomic_load(&busy_stop)) {
		void *p = hak_malloc(pick_size(&s) % 5000 + 1);

		hak_free(p);
	}
	return NULL;
}

static int child_work(void)
{
	void *v[10000];

	for (int i = 0; i < 10000; i++) {
		v[i] = hak_malloc((size_t)(i % 3000) + 1);
		if (!v[i])
			return 1;
		memset(v[i], 1, (size_t)(i % 3000) + 1);
	}
	for (int i = 0; i < 10000; i++)
		hak_free(v[i]);
	return 0;
}

static void test_fork_with_busy_threads(void)
{
	pthread_t t[4];
	int ok = 1;

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, busy_thread, (void *)(uintptr_t)i);
	for (int i = 0; i < nforks && ok; i++) {
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			/*
			 * A hang guard, not a time limit: a lock left held
			 * across fork() ends as SIGALRM. Generous, for
			 * emulated CPUs shared by many busy vCPUs.
			 */
			alarm(300);
			_exit(child_work());
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid) {
			tap_diag("fork %d: fork or waitpid failed: %s", i,
				 strerror(errno));
			ok = 0;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			tap_diag("fork %d: child %s %d", i,
				 WIFSIGNALED(status) ? "killed by signal" :
						       "exited with",
				 WIFSIGNALED(status) ? WTERMSIG(status) :
						       WEXITSTATUS(status));
			ok = 0;
		}
	}
	atomic_store(&busy_stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	tap_result(ok, "%d forks while 4 threads allocate: every child allocates and frees",
		   nforks);
}

#define FOREIGN_N	8

static void *foreign_objs[FOREIGN_N];
static struct hak_cache *foreign_cache;

static void *alloc_on_cpu0(void *arg)
{
	(void)arg;
	if (pin_to_cpu(0))
		return (void *)1;
	for (int i = 0; i < FOREIGN_N; i++)
		foreign_objs[i] = hak_cache_alloc(foreign_cache);
	return NULL;
}

/*
 * Per-CPU mode: objects a CPU frees of another CPU's spans go to its
 * foreign bins, not to the bin it allocates from, so it does not hand
 * them out again (Hoard's passive false sharing: cache-scratch). CPU 0
 * allocates, CPU 1 frees and allocates the same size: no address comes
 * back on CPU 1. A new object cache, so CPU 0's objects come from a span
 * of its own (a bin may also hold objects of other CPUs' spans, taken from
 * the transfer array: CPU 1 would keep those); its foreign bins hold 10
 * (16 KiB, FC_FOREIGN_BYTES).
 */
static void test_foreign_frees_stay_foreign(void)
{
	const char *missing = percpu_pair_missing();
	struct hak_global_stats gs;
	void *mine[FOREIGN_N], *ret = NULL;
	int reused = 0;
	pthread_t t;
	cpu_set_t all;

	if (missing) {
		tap_skip_test("foreign frees", missing);
		return;
	}
	hak_global_stats(&gs);
	if (strstr(gs.mode, "mm_cid")) {	/* ids follow threads, not CPUs */
		tap_skip_test("foreign frees", "mm_cid: the second thread may get the first one's id");
		return;
	}
	sched_getaffinity(0, sizeof(all), &all);
	if (!CPU_ISSET(0, &all) || !CPU_ISSET(1, &all)) {
		tap_skip_test("foreign frees", "CPUs 0 and 1 not in the affinity mask");
		return;
	}
	foreign_cache = hak_cache_create("foreign", 1500, 0, 0, NULL);
	if (!foreign_cache) {
		tap_result(0, "foreign frees: hak_cache_create failed");
		return;
	}
	pthread_create(&t, NULL, alloc_on_cpu0, NULL);
	pthread_join(t, &ret);
	if (ret || pin_to_cpu(1)) {
		tap_result(0, "foreign frees: could not pin to CPUs 0 and 1");
		return;
	}
	for (int i = 0; i < FOREIGN_N; i++)
		hak_cache_free(foreign_cache, foreign_objs[i]);
	for (int i = 0; i < FOREIGN_N; i++) {
		mine[i] = hak_cache_alloc(foreign_cache);
		for (int k = 0; k < FOREIGN_N; k++)
			reused += mine[i] == foreign_objs[k];
	}
	for (int i = 0; i < FOREIGN_N; i++)
		hak_cache_free(foreign_cache, mine[i]);
	sched_setaffinity(0, sizeof(all), &all);
	hak_cache_destroy(foreign_cache);
	tap_result(!reused,
		   "foreign frees: %d objects of CPU 0 freed on CPU 1, %d of them handed out again there",
		   FOREIGN_N, reused);
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "t:n:s:f:")) != -1) {
		switch (opt) {
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'n':
			per_thread = atol(optarg);
			break;
		case 's':
			seed0 = (unsigned int)atoi(optarg);
			break;
		case 'f':
			nforks = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-t threads] [-n objects] [-s seed] [-f forks]\n",
				argv[0]);
			return 2;
		}
	}
	if (nthreads < 1 || nthreads > MAX_THREADS) {
		fprintf(stderr, "threads must be 1..%d\n", MAX_THREADS);
		return 2;
	}
	for (int i = 0; i < MAX_THREADS; i++)
		pthread_mutex_init(&mbox[i].lock, NULL);
	if (liveset_init()) {
		perror("mmap");
		return 1;
	}
	tap_plan(6);
	test_handoff();
	test_thread_churn();
	test_cache_cross_thread();
	test_foreign_frees_stay_foreign();
	test_fork_with_busy_threads();
	return tap_exit();
}
