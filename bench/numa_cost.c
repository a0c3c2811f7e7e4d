// SPDX-License-Identifier: MIT
/*
 * numa_cost - what a NUMA machine would charge an allocator for, counted
 * instead of timed (issue 14: qemu's TCG does not model remote memory).
 *
 * A malloc/free workload that runs under any allocator (LD_PRELOAD), with
 * each thread pinned to one of the CPUs it may use (thread i to the i-th
 * allowed CPU, round robin). Every -e'th touch of an object (a write, when
 * it is allocated and again before it is freed) asks the kernel which node
 * the object's page is on (move_pages(2) without target nodes: a query)
 * and compares it with the node of the touching thread (getcpu(2));
 * every -e'th free does the same: a free by a thread of another node than
 * the page's is a cross-node free. The node query needs the page mapped:
 * samples the kernel cannot place are counted as unknown.
 *
 * Workloads (-w):
 *   private   each thread allocates and frees its own objects (1024 slots,
 *             random slot: free it if full, else allocate)
 *   larson    the same, but after every tenth of the run each thread hands
 *             its slots to the next thread, which frees them as it goes
 *             (larson's pattern: objects outlive their thread's turn)
 *   prodcons  pairs: thread 2k allocates and writes, thread 2k+1 (the
 *             next CPU: another node when spread) reads, writes and frees
 *
 * -n is the operations per thread (one malloc or one free is one
 * operation); sizes are uniform in [-s, -S]. Prints one line:
 *   numa_cost workload=W threads=T ops=N touches=A remote_touches=B
 *             frees=F sampled_frees=C cross_frees=D unknown=U
 *             remote_share=P cross_per_mop=Q
 * remote_share is B / A (the share of sampled touches of memory on
 * another node); cross_per_mop is D / C * F / N * 10^6 (cross-node frees
 * per million operations, extrapolated from the sampled frees).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <sys/syscall.h>
#include "bench_util.h"

#define NAME	"numa_cost"
#define SLOTS	1024
#define RING	256
#define MAXT	64

enum workload { W_PRIVATE, W_LARSON, W_PRODCONS };

struct obj_slot {
	char *p;
	size_t size;
};

struct worker {
	BENCH_PRIVATE int id;
	int cpu;
	int node;
	uint64_t rng;
	unsigned long ops, touches, remote, frees, sampled, cross, unknown;
	unsigned long tick_touch, tick_free;
	struct obj_slot *slots;		/* private, larson: the slots held */
	struct obj_slot *next;		/* larson: the slots taken next */
	pthread_t t;
};

struct ring {
	BENCH_PRIVATE _Atomic unsigned long head;	/* written by the producer */
	BENCH_PRIVATE _Atomic unsigned long tail;	/* by the consumer */
	struct obj_slot item[RING];
};

static struct bench_opts opts;
static enum workload wl;
static unsigned long every = 16;
static struct worker w[MAXT];
static struct ring rings[MAXT / 2];
static int cpus[MAXT];
static int ncpus;
static pthread_barrier_t bar;

/* The node of the page holding @p, or -1 when it has none. */
static int page_node(const void *p)
{
	void *page = (void *)((uintptr_t)p & ~(uintptr_t)4095);
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1UL, &page, NULL, &status, 0))
		return -1;
	return status;
}

static void sample(struct worker *me, const void *p, unsigned long *hits,
		   unsigned long *total)
{
	int node = page_node(p);

	if (node < 0) {
		me->unknown++;
		return;
	}
	(*total)++;
	*hits += node != me->node;
}

static void touch(struct worker *me, char *p, size_t size)
{
	memset(p, (int)(size & 0xff), size);
	if (++me->tick_touch % every == 0)
		sample(me, p, &me->remote, &me->touches);
}

static char *obj_alloc(struct worker *me, size_t size)
{
	char *p = malloc(size);

	if (!p) {
		fprintf(stderr, "%s: malloc(%zu) failed\n", NAME, size);
		exit(1);
	}
	me->ops++;
	touch(me, p, size);
	return p;
}

static void obj_free(struct worker *me, char *p, size_t size)
{
	touch(me, p, size);
	if (++me->tick_free % every == 0)
		sample(me, p, &me->cross, &me->sampled);
	free(p);
	me->frees++;
	me->ops++;
}

static size_t pick_size(struct worker *me)
{
	return opts.min_size + bench_rand(&me->rng) %
			       (opts.max_size - opts.min_size + 1);
}

static void slot_step(struct worker *me, struct obj_slot *s)
{
	struct obj_slot *o = &s[bench_rand(&me->rng) % SLOTS];

	if (o->p) {
		obj_free(me, o->p, o->size);
		o->p = NULL;
	} else {
		o->size = pick_size(me);
		o->p = obj_alloc(me, o->size);
	}
}

static void slots_free(struct worker *me, struct obj_slot *s)
{
	for (int i = 0; i < SLOTS; i++)
		if (s[i].p)
			obj_free(me, s[i].p, s[i].size);
	memset(s, 0, SLOTS * sizeof(*s));
}

/* larson: ten turns; after each, thread i takes thread i-1's slots. */
static void run_slots(struct worker *me)
{
	unsigned long turns = wl == W_LARSON ? 10 : 1;
	unsigned long turn = opts.iters / turns;

	for (unsigned long k = 0; k < turns; k++) {
		unsigned long n = k + 1 < turns ? turn :
				  opts.iters - turn * (turns - 1);

		for (unsigned long i = 0; i < n; i++)
			slot_step(me, me->slots);
		if (wl != W_LARSON)
			continue;
		pthread_barrier_wait(&bar);
		me->next = w[(me->id + opts.threads - 1) % opts.threads].slots;
		pthread_barrier_wait(&bar);
		me->slots = me->next;
		pthread_barrier_wait(&bar);
	}
	slots_free(me, me->slots);
}

static void run_producer(struct worker *me, struct ring *r)
{
	unsigned long n = opts.iters, head = 0;

	for (unsigned long i = 0; i < n; i++) {
		size_t size = pick_size(me);

		while (head - atomic_load_explicit(&r->tail,
						   memory_order_acquire) == RING)
			sched_yield();
		r->item[head % RING].size = size;
		r->item[head % RING].p = obj_alloc(me, size);
		atomic_store_explicit(&r->head, ++head, memory_order_release);
	}
}

static void run_consumer(struct worker *me, struct ring *r)
{
	unsigned long n = opts.iters, tail = 0;

	while (tail < n) {
		struct obj_slot o;

		while (atomic_load_explicit(&r->head, memory_order_acquire) == tail)
			sched_yield();
		o = r->item[tail % RING];
		atomic_store_explicit(&r->tail, ++tail, memory_order_release);
		obj_free(me, o.p, o.size);
	}
}

static void *worker_main(void *arg)
{
	struct worker *me = arg;
	unsigned int cpu = 0, node = 0;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(me->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) ||
	    syscall(SYS_getcpu, &cpu, &node, NULL)) {
		perror(NAME ": pin");
		exit(1);
	}
	me->node = (int)node;
	pthread_barrier_wait(&bar);
	if (wl != W_PRODCONS)
		run_slots(me);
	else if (me->id % 2 == 0)
		run_producer(me, &rings[me->id / 2]);
	else
		run_consumer(me, &rings[me->id / 2]);
	return NULL;
}

static void allowed_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set)) {
		perror(NAME ": sched_getaffinity");
		exit(1);
	}
	for (int c = 0; c < CPU_SETSIZE && ncpus < MAXT; c++)
		if (CPU_ISSET(c, &set))
			cpus[ncpus++] = c;
}

static void parse(int argc, char **argv)
{
	const char *usage = " [-w private|larson|prodcons] [-e sample-every]";
	int c;

	while ((c = getopt(argc, argv, BENCH_COMMON_OPTS "w:e:")) != -1) {
		if (bench_parse_common(&opts, c, optarg) == 0)
			continue;
		if (c == 'w' && !strcmp(optarg, "private"))
			wl = W_PRIVATE;
		else if (c == 'w' && !strcmp(optarg, "larson"))
			wl = W_LARSON;
		else if (c == 'w' && !strcmp(optarg, "prodcons"))
			wl = W_PRODCONS;
		else if (c == 'e' && strtoul(optarg, NULL, 0) > 0)
			every = strtoul(optarg, NULL, 0);
		else
			bench_usage(NAME, usage);
	}
	bench_opts_check(&opts, NAME);
	if (opts.threads > MAXT || (wl == W_PRODCONS && opts.threads % 2) ||
	    opts.secs > 0) {
		fprintf(stderr, "%s: -t must be at most %d (even for prodcons); -d is not supported\n",
			NAME, MAXT);
		exit(1);
	}
}

static const char *const names[] = { "private", "larson", "prodcons" };

int main(int argc, char **argv)
{
	struct worker sum = { 0 };
	double share, per_mop;

	bench_opts_init(&opts, 2, 16, 512, 100000);
	parse(argc, argv);
	allowed_cpus();
	pthread_barrier_init(&bar, NULL, (unsigned int)opts.threads + 1);
	for (int i = 0; i < opts.threads; i++) {
		w[i].id = i;
		w[i].cpu = cpus[i % ncpus];
		w[i].rng = opts.seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
		w[i].slots = calloc(SLOTS, sizeof(struct obj_slot));
		if (!w[i].slots || pthread_create(&w[i].t, NULL, worker_main, &w[i])) {
			fprintf(stderr, "%s: cannot start thread %d\n", NAME, i);
			return 1;
		}
	}
	pthread_barrier_wait(&bar);
	/* larson's hand-offs wait for the main thread too */
	if (wl == W_LARSON)
		for (unsigned long k = 0; k < 10; k++)
			for (int b = 0; b < 3; b++)
				pthread_barrier_wait(&bar);
	for (int i = 0; i < opts.threads; i++) {
		pthread_join(w[i].t, NULL);
		sum.ops += w[i].ops;
		sum.touches += w[i].touches;
		sum.remote += w[i].remote;
		sum.frees += w[i].frees;
		sum.sampled += w[i].sampled;
		sum.cross += w[i].cross;
		sum.unknown += w[i].unknown;
		free(w[i].slots);
	}
	share = sum.touches ? (double)sum.remote / (double)sum.touches : 0;
	per_mop = sum.sampled && sum.ops ? (double)sum.cross / (double)sum.sampled *
					   (double)sum.frees / (double)sum.ops * 1e6 : 0;
	printf("numa_cost workload=%s threads=%d ops=%lu touches=%lu remote_touches=%lu frees=%lu sampled_frees=%lu cross_frees=%lu unknown=%lu remote_share=%.4f cross_per_mop=%.0f\n",
	       names[wl], opts.threads, sum.ops, sum.touches, sum.remote,
	       sum.frees, sum.sampled, sum.cross, sum.unknown, share, per_mop);
	return 0;
}
