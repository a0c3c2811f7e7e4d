// SPDX-License-Identifier: MIT
/*
 * RCU stress selftest (TAP): readers traverse a lock-free list while
 * writers insert nodes and unlink others, freeing each unlinked node with
 * hak_free_rcu() (malloc nodes) or hak_cache_free_rcu() (cache nodes).
 * Every node carries a magic and a check word (its generation, salted);
 * a reader that ever finds a node whose words are wrong has seen freed
 * memory (poisoned: the test runs itself with HAKMEM_POISON=1 unless the
 * variable is set) or reused memory before its grace period ended.
 * Bounded: each writer does a fixed number of operations; readers stop
 * when the writers are done. No timing is measured.
 *
 * Usage: rcu_list [-r readers] [-w writers] [-n operations per writer]
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../lib/tap.h"

#ifdef CONFIG_RCU
#include <urcu.h>

#define NODE_MAGIC	0x6e6f64656c697665ULL	/* "nodelive" */
#define SALT		0x9e3779b97f4a7c15ULL
#define MAX_LEN		64
#define NEAR_HEAD	16	/* unlinks where the readers are */
#define LINGER		200	/* pauses a reader makes on a node */
#define MAX_STEPS	100000	/* a traversal longer than this is a cycle */
#define MAX_THREADS	32

struct node {
	uint64_t magic;
	uint64_t gen;
	uint64_t check;
	struct node *next;
	char payload[32];
};

static struct node *head;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t next_gen;
static _Atomic int writers_left;
static _Atomic uint64_t bad_nodes, traversals, nodes_seen;
static struct hak_cache *node_cache;	/* NULL: hak_malloc() nodes */
static long ops_per_writer = 20000;
static _Atomic unsigned int list_len;
static pthread_barrier_t start;		/* every reader and writer ready */
static _Atomic uint64_t progress;	/* traversals finished, all readers */

#define PACE		8	/* writer operations per reader traversal */

/*
 * Publish and subscribe with C11 release/acquire (as strong as
 * rcu_assign_pointer() and rcu_dereference(), and visible to TSan).
 */
static inline void publish(struct node **link, struct node *n)
{
	__atomic_store_n(link, n, __ATOMIC_RELEASE);
}

static inline struct node *subscribe(struct node **link)
{
	return __atomic_load_n(link, __ATOMIC_ACQUIRE);
}

static struct node *node_new(void)
{
	struct node *n = node_cache ? hak_cache_alloc(node_cache) :
				      hak_malloc(sizeof(*n));

	if (!n)
		return NULL;
	n->gen = atomic_fetch_add(&next_gen, 1);
	n->check = n->gen ^ SALT;
	memset(n->payload, (int)(n->gen & 0xff), sizeof(n->payload));
	n->magic = NODE_MAGIC;
	return n;
}

static void node_free_rcu(struct node *n)
{
	if (node_cache)
		hak_cache_free_rcu(node_cache, n);
	else
		hak_free_rcu(n);
}

static int node_ok(const struct node *n)
{
	return n->magic == NODE_MAGIC && n->check == (n->gen ^ SALT) &&
	       (unsigned char)n->payload[31] == (n->gen & 0xff);
}

static void *reader(void *arg)
{
	uint64_t seen = 0, bad = 0, walks = 0;

	(void)arg;
	rcu_register_thread();
	pthread_barrier_wait(&start);
	while (atomic_load(&writers_left) || !walks) {
		struct node *n;
		int steps = 0;

		rcu_read_lock();
		for (n = subscribe(&head); n && steps < MAX_STEPS;
		     n = subscribe(&n->next), steps++) {
			if (!node_ok(n)) {
				bad++;
				break;	/* its next pointer is garbage */
			}
			/*
			 * Linger, and near the head (where writers unlink)
			 * let the writers run: a node freed meanwhile
			 * would show it.
			 */
			for (int k = 0; k < LINGER; k++)
				caa_cpu_relax();
			if (steps < 2)
				sched_yield();
			seen++;
			if (!node_ok(n)) {
				bad++;
				break;
			}
		}
		rcu_read_unlock();
		bad += steps == MAX_STEPS;
		walks++;
		atomic_fetch_add(&progress, 1);
		if (!steps)
			sched_yield();	/* an empty list: let writers run */
	}
	rcu_unregister_thread();
	atomic_fetch_add(&bad_nodes, bad);
	atomic_fetch_add(&nodes_seen, seen);
	atomic_fetch_add(&traversals, walks);
	return NULL;
}

/* Unlinks the node after @pos steps (write_lock held); returns it. */
static struct node *unlink_at(unsigned int pos)
{
	struct node **link = &head, *n;

	while (*link && pos--)
		link = &(*link)->next;
	n = *link;
	if (n)
		publish(link, n->next);
	return n;
}

static void *writer(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg, len_hint;

	rcu_register_thread();
	pthread_barrier_wait(&start);
	for (long i = 0; i < ops_per_writer; i++) {
		unsigned int r = (unsigned int)rand_r(&seed);
		struct node *n = NULL;

		/*
		 * Paced by the readers (not by time): on a loaded machine
		 * a writer would otherwise do all its work in one time
		 * slice, with no reader inside the list.
		 */
		if (!(i % PACE)) {
			uint64_t seen = atomic_load(&progress);

			while (atomic_load(&progress) == seen)
				sched_yield();
		}
		len_hint = atomic_load(&list_len);
		if (len_hint < MAX_LEN / 2 || (r & 1 && len_hint < MAX_LEN)) {
			struct node *fresh = node_new();

			if (!fresh)
				continue;
			pthread_mutex_lock(&write_lock);
			fresh->next = head;
			publish(&head, fresh);
			pthread_mutex_unlock(&write_lock);
			atomic_fetch_add(&list_len, 1);
		} else {
			pthread_mutex_lock(&write_lock);
			n = unlink_at((r >> 1) % NEAR_HEAD);
			pthread_mutex_unlock(&write_lock);
			if (n) {
				atomic_fetch_sub(&list_len, 1);
				node_free_rcu(n);
			}
		}
	}
	atomic_fetch_sub(&writers_left, 1);
	rcu_unregister_thread();
	return NULL;
}

static void run(const char *what, int nr_readers, int nr_writers)
{
	pthread_t rt[MAX_THREADS], wt[MAX_THREADS];
	struct node *n;

	bad_nodes = traversals = nodes_seen = 0;
	atomic_store(&writers_left, nr_writers);
	pthread_barrier_init(&start, NULL, (unsigned int)(nr_readers + nr_writers));
	for (int i = 0; i < nr_readers; i++)
		pthread_create(&rt[i], NULL, reader, NULL);
	for (int i = 0; i < nr_writers; i++)
		pthread_create(&wt[i], NULL, writer, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < nr_writers; i++)
		pthread_join(wt[i], NULL);
	for (int i = 0; i < nr_readers; i++)
		pthread_join(rt[i], NULL);
	pthread_barrier_destroy(&start);
	while ((n = unlink_at(0)))
		node_free_rcu(n);
	list_len = 0;
	hak_rcu_barrier();
	tap_diag("%s: %llu traversals, %llu nodes seen, %llu generations",
		 what, (unsigned long long)traversals,
		 (unsigned long long)nodes_seen,
		 (unsigned long long)next_gen);
	tap_result(!bad_nodes && traversals >= (uint64_t)nr_readers,
		   "%s: no reader saw a freed or reused node (%llu bad)",
		   what, (unsigned long long)bad_nodes);
}

/* The cache's objects all came back: every deferred free happened. */
static int cache_empty(void)
{
	struct hak_slabinfo rows[256];
	int n;

	hak_cache_shrink(node_cache);
	n = hak_slabinfo(rows, 256);
	for (int i = 0; i < n && i < 256; i++)
		if (!strcmp(rows[i].name, "rcu-node"))
			return rows[i].active_objs == 0;
	return 0;
}

#ifdef __SANITIZE_THREAD__
/*
 * urcu-memb's grace period orders a reader's loads before the call_rcu
 * thread's frees through membarrier(), which ThreadSanitizer cannot see:
 * races with the frees of the batch callback are not reported, nor those
 * of liburcu's own (uninstrumented) memory, such as rcu_barrier()'s
 * completion, allocated by one thread and freed by the call_rcu thread.
 * Everything else is.
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "race:batch_free_rcu\ncalled_from_lib:liburcu.so\n";
}
#endif

int main(int argc, char **argv)
{
	int nr_readers = 2, nr_writers = 2, opt;

	if (!getenv("HAKMEM_POISON")) {
		setenv("HAKMEM_POISON", "1", 1);
		execv("/proc/self/exe", argv);
	}
	while ((opt = getopt(argc, argv, "r:w:n:")) != -1) {
		switch (opt) {
		case 'r': nr_readers = atoi(optarg); break;
		case 'w': nr_writers = atoi(optarg); break;
		case 'n': ops_per_writer = atol(optarg); break;
		default: return 2;
		}
	}
	if (nr_readers < 1 || nr_readers > MAX_THREADS || nr_writers < 1 ||
	    nr_writers > MAX_THREADS || ops_per_writer < 1)
		return 2;
	tap_plan(3);
	tap_diag("HAKMEM_POISON=%s, %d readers, %d writers, %ld operations each",
		 getenv("HAKMEM_POISON"), nr_readers, nr_writers,
		 ops_per_writer);
	rcu_register_thread();
	run("hak_free_rcu", nr_readers, nr_writers);
	node_cache = hak_cache_create("rcu-node", sizeof(struct node), 0, 0,
				      NULL);
	run("hak_cache_free_rcu", nr_readers, nr_writers);
	tap_result(cache_empty(), "every deferred free happened by hak_rcu_barrier()");
	hak_cache_destroy(node_cache);
	rcu_unregister_thread();
	return tap_exit();
}
#else /* !CONFIG_RCU */
int main(void)
{
	tap_plan(1);
	tap_skip_test("rcu_list", "built with CONFIG_RCU=n");
	return tap_exit();
}
#endif /* CONFIG_RCU */
