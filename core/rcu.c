// SPDX-License-Identifier: MIT
/*
 * RCU-deferred frees on liburcu's default flavour (urcu-memb, <urcu.h>,
 * -lurcu), after the kernel's kvfree_rcu() with one argument: nothing is
 * written into the object, and one call_rcu() covers a whole batch.
 *
 * Batches are per CPU: a page from the metadata arena holding a struct
 * rcu_head and up to RCU_BATCH_OBJS pointers, recycled through a free
 * list, filled by every thread that runs on the CPU under the CPU's
 * holder lock (the CPU number read once per call: a thread that migrates
 * meanwhile only fills its old CPU's batch; the lock makes that safe).
 * A batch goes to call_rcu() when it is full, when a deferred free on its
 * CPU finds it older than rcu_age_ms, when a deferred free on any CPU
 * finds that rcu_age_ms passed since the last sweep and it is older
 * (so an idle CPU's batch does not hold its objects for long while the
 * program defers frees elsewhere), by the same sweep from the background
 * thread's passes (rcu_decay(): so also when the program stopped
 * deferring), and at hak_rcu_barrier(), which
 * flushes every CPU's batch. Against per-thread batches: at most one
 * partial batch per CPU instead of one per thread that ever deferred a
 * free, and the threads of one CPU fill one batch (fewer, fuller
 * call_rcu() calls). The callback frees the objects (hak_free(): every
 * check of a plain free) from liburcu's call_rcu thread and flushes that
 * thread's cache, so the objects go back to where any thread finds them.
 *
 * HAK_SLAB_TYPESAFE_BY_RCU: objects are reused at once, but a span that
 * becomes empty is not given back to its SuperSlab until a grace period
 * has passed: it waits on a list threaded through its slab_rw (off every
 * central list by then), and one call_rcu() at a time releases the spans
 * gathered so far. Nothing is allocated for it.
 *
 * hakmem itself never reads under RCU and registers no thread: the
 * program's readers register with liburcu, and calls follow liburcu's
 * rules (Documentation/api.rst).
 *
 * Lock order: a holder's lock, then rcu_lock (the holder table and
 * free lists). rcu_span_lock is taken inside a central lock and nests nothing.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <urcu.h>

/*
 * libhakmem.so does not depend on liburcu: a program that defers frees
 * links it (its readers need it anyway), and every other program under
 * LD_PRELOAD does not load it (about 80 KiB of resident memory). The
 * four entry points used are weak references, checked before any use.
 */
#pragma weak urcu_memb_barrier
#pragma weak urcu_memb_call_rcu
#pragma weak urcu_memb_get_default_call_rcu_data
#pragma weak urcu_memb_synchronize_rcu

#define NO_URCU	"liburcu is not loaded: link the program with -lurcu"

/* Whether the program has liburcu (the weak references resolved). */
static int urcu_loaded(void)
{
	return urcu_memb_call_rcu != NULL;
}

#include "cache.h"
#include "central.h"
#include "check.h"
#include "fmt.h"
#include "lock.h"
#include "meta.h"
#include "os.h"
#include "rcu.h"
#include "remote.h"
#include "report.h"
#include "tcache.h"

#define RCU_BATCH_BYTES	4096	/* one page of pointers, as kvfree_rcu() */

struct rcu_batch {
	struct rcu_head head;
	struct rcu_batch *next_free;
	uint64_t born;			/* os_now_ms() of its first object */
	uint32_t n;
	void *objs[];
};

static_assert(RCU_BATCH_OBJS == (RCU_BATCH_BYTES - sizeof(struct rcu_batch)) /
	      sizeof(void *), "RCU_BATCH_OBJS (rcu.h) fills the page");

/* One per CPU on which a free was deferred; never freed. */
struct rcu_holder {
	struct mutex_lock lock;		/* cur: the threads of its CPU and
					 * the sweeps */
	struct rcu_batch *cur;
	struct rcu_holder *next;	/* every holder */
};

/* Holders by CPU number (modulo the table: two CPUs may share one). */
#define RCU_HOLDERS	HAK_MAX_CPUS

/* A partial batch waits at most about this long while frees are deferred. */
unsigned long rcu_age_ms = 10;
_Atomic uint64_t rcu_batches_sent;	/* call_rcu() calls for batches */

static struct mutex_lock rcu_lock = HAK_LOCK_INIT;
static struct rcu_holder *_Atomic holder_table[RCU_HOLDERS];
static struct rcu_holder *_Atomic holders;
static struct rcu_batch *free_batches;
static _Atomic int rcu_used;		/* a deferred free or span was queued */
static _Atomic uint64_t last_sweep_ms;	/* os_now_ms() of the last sweep */
static pthread_once_t rcu_once = PTHREAD_ONCE_INIT;

/* Spans of HAK_SLAB_TYPESAFE_BY_RCU caches waiting for a grace period. */
static struct mutex_lock rcu_span_lock = HAK_LOCK_INIT;
static struct slab_rw *span_waiting;	/* not yet in a grace period */
static struct slab_rw *span_flight;	/* in the current one */
static struct rcu_head span_head;

/* ---- batches ------------------------------------------------------------ */

static struct rcu_batch *batch_get(void)
{
	struct rcu_batch *b;

	mutex_lock(&rcu_lock);
	b = free_batches;
	if (b)
		free_batches = b->next_free;
	mutex_unlock(&rcu_lock);
	if (!b)
		b = meta_alloc(RCU_BATCH_BYTES);
	if (b)
		b->n = 0;
	return b;
}

static void batch_put(struct rcu_batch *b)
{
	mutex_lock(&rcu_lock);
	b->next_free = free_batches;
	free_batches = b;
	mutex_unlock(&rcu_lock);
}

/* After a grace period: free the batch's objects, from the call_rcu thread. */
static void batch_free_rcu(struct rcu_head *head)
{
	struct rcu_batch *b = caa_container_of(head, struct rcu_batch, head);

	for (uint32_t i = 0; i < b->n; i++)
		hak_free(b->objs[i]);
	/* not left in this helper thread's own cache (per-thread mode) */
	remote_flush_current();
	tcache_flush_current();
	batch_put(b);
}

static void batch_submit(struct rcu_batch *b)
{
	if (!b->n) {
		batch_put(b);
		return;
	}
	atomic_fetch_add_explicit(&rcu_batches_sent, 1, memory_order_relaxed);
	call_rcu(&b->head, batch_free_rcu);
}

/* ---- per-CPU holders ------------------------------------------------------ */

/* Sends @h's partial batch to call_rcu() if it has one born before @limit. */
static void holder_flush_before(struct rcu_holder *h, uint64_t limit)
{
	struct rcu_batch *b;

	mutex_lock(&h->lock);
	b = h->cur;
	if (b && b->born < limit)
		h->cur = NULL;
	else
		b = NULL;
	mutex_unlock(&h->lock);
	if (b)
		batch_submit(b);
}

/* Sends @h's partial batch, if it has one, to call_rcu(). */
static void holder_flush(struct rcu_holder *h)
{
	holder_flush_before(h, UINT64_MAX);
}

static void rcu_fork_prepare(void)
{
	mutex_lock(&rcu_lock);
	mutex_lock(&rcu_span_lock);
}

static void rcu_fork_parent(void)
{
	mutex_unlock(&rcu_span_lock);
	mutex_unlock(&rcu_lock);
}

/* Only the forking thread lives on: every holder's lock is reset. */
static void rcu_fork_child(void)
{
	for (struct rcu_holder *h = holders; h; h = h->next)
		mutex_init(&h->lock);
	mutex_init(&rcu_span_lock);
	mutex_init(&rcu_lock);
}

static void rcu_init_once(void)
{
	pthread_atfork(rcu_fork_prepare, rcu_fork_parent, rcu_fork_child);
}

/* The slot of the CPU the caller runs on (0 when it cannot be read). */
static unsigned int holder_slot(void)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? 0 : (unsigned int)cpu % RCU_HOLDERS;
}

/* The holder of this CPU, made on first use; NULL without memory. */
static struct rcu_holder *holder_get(void)
{
	unsigned int slot = holder_slot();
	struct rcu_holder *h = atomic_load_explicit(&holder_table[slot],
						    memory_order_acquire);

	if (likely(h))
		return h;
	pthread_once(&rcu_once, rcu_init_once);
	mutex_lock(&rcu_lock);
	h = atomic_load_explicit(&holder_table[slot], memory_order_relaxed);
	if (!h) {
		h = meta_alloc(sizeof(*h));
		if (h) {
			mutex_init(&h->lock);
			h->next = holders;
			atomic_store_explicit(&holders, h,
					      memory_order_release);
			atomic_store_explicit(&holder_table[slot], h,
					      memory_order_release);
		}
	}
	mutex_unlock(&rcu_lock);
	return h;
}

/*
 * Once per rcu_age_ms, whoever defers a free first sends every CPU's
 * batch older than that: a CPU where nothing is deferred any more does
 * not keep its objects until the next barrier.
 */
static void sweep_old(uint64_t now)
{
	uint64_t last = atomic_load_explicit(&last_sweep_ms,
					     memory_order_relaxed);
	struct rcu_holder *h;

	if (now - last < rcu_age_ms ||
	    !atomic_compare_exchange_strong(&last_sweep_ms, &last, now))
		return;
	h = atomic_load_explicit(&holders, memory_order_acquire);
	for (; h; h = h->next)
		holder_flush_before(h, now - rcu_age_ms + 1);
}

/**
 * rcu_decay() - the decay step of the deferred frees
 * @now: os_now_ms()
 *
 * Sends every CPU's partial batch older than rcu_age_ms (at most once per
 * rcu_age_ms, as a deferred free's sweep): a program that stopped
 * deferring frees does not keep its last objects until the next barrier.
 * Nothing when no free was ever deferred.
 *
 * Context: the background thread or a selftest; no allocator lock held.
 */
void rcu_decay(uint64_t now)
{
	if (atomic_load_explicit(&rcu_used, memory_order_relaxed))
		sweep_old(now);
}

/*
 * No batch could be had (no memory): wait for the grace period here, as
 * kvfree_rcu() does when it cannot allocate.
 */
static void defer_sync(void *p)
{
	synchronize_rcu();
	hak_free(p);
}

static void defer(void *p)
{
	struct rcu_holder *h = holder_get();
	struct rcu_batch *b, *full = NULL;
	uint64_t now = os_now_ms();

	atomic_store_explicit(&rcu_used, 1, memory_order_relaxed);
	if (unlikely(!h))
		goto sync;
	mutex_lock(&h->lock);
	b = h->cur;
	if (unlikely(!b)) {
		mutex_unlock(&h->lock);
		b = batch_get();
		if (!b)
			goto sync;
		b->born = now;
		mutex_lock(&h->lock);
		if (h->cur) {	/* another thread of this CPU made one */
			batch_put(b);
			b = h->cur;
		}
		h->cur = b;
	}
	b->objs[b->n++] = p;
	if (b->n == RCU_BATCH_OBJS || now - b->born >= rcu_age_ms) {
		full = b;
		h->cur = NULL;
	}
	mutex_unlock(&h->lock);
	if (full)
		batch_submit(full);
	sweep_old(now);
	return;
sync:
	defer_sync(p);
}

HAK_EXPORT void hak_free_rcu(void *p)
{
	struct obj_info oi;

	if (!p)
		return;
	obj_classify(p, &oi);
	if (oi.kind != OBJ_VALID && oi.kind != OBJ_HUGE) {
		report_bad("hak_free_rcu", p, oi.cache, obj_kind_str(oi.kind));
		return;
	}
	if (unlikely(!urcu_loaded())) {
		report_bad("hak_free_rcu", p, oi.cache, NO_URCU);
		return;
	}
	defer(p);
}

HAK_EXPORT void hak_cache_free_rcu(struct hak_cache *c, void *obj)
{
	struct obj_info oi;

	if (!obj)
		return;
	obj_classify(obj, &oi);
	if (oi.kind == OBJ_HUGE) {
		report_bad("hak_cache_free_rcu", obj, c,
			   "a huge allocation, not an object of this cache");
		return;
	}
	if (oi.kind != OBJ_VALID) {
		report_bad("hak_cache_free_rcu", obj, oi.cache,
			   obj_kind_str(oi.kind));
		return;
	}
	if (oi.cache != c) {
		report_bad("hak_cache_free_rcu", obj, oi.cache,
			   "object belongs to another cache");
		return;
	}
	if (unlikely(!urcu_loaded())) {
		report_bad("hak_cache_free_rcu", obj, c, NO_URCU);
		return;
	}
	defer(obj);
}

/* ---- HAK_SLAB_TYPESAFE_BY_RCU spans ---------------------------------------- */

static void span_release_rcu(struct rcu_head *head);

/* Starts a grace period for the waiting spans (rcu_span_lock held). */
static int span_start_locked(void)
{
	if (span_flight || !span_waiting)
		return 0;
	span_flight = span_waiting;
	span_waiting = NULL;
	return 1;
}

static void span_release_rcu(struct rcu_head *head)
{
	struct slab_rw *rw, *next;
	int again;

	(void)head;
	mutex_lock(&rcu_span_lock);
	rw = span_flight;
	mutex_unlock(&rcu_span_lock);
	for (; rw; rw = next) {
		struct superslab *ss = ss_of_rw(rw);
		unsigned int idx = rw_idx(rw);
		struct hak_cache *c = cache_by_id[ss->ro[idx].cache_id];
		struct central *ct = central_peek(c, ss->node);

		next = rw->next;
		rw->next = NULL;
		mutex_lock(&ct->lock);
		superslab_release_span(ss, idx);
		mutex_unlock(&ct->lock);
	}
	mutex_lock(&rcu_span_lock);
	span_flight = NULL;
	again = span_start_locked();
	mutex_unlock(&rcu_span_lock);
	if (again)
		call_rcu(&span_head, span_release_rcu);
}

/**
 * rcu_span_defer() - release an empty span after a grace period
 * @rw: the span's head, off its central's lists and counters
 *
 * Context: the span's central lock held.
 * Return: 1 (the span is in the care of this file now).
 */
int rcu_span_defer(struct slab_rw *rw)
{
	int start;

	atomic_store_explicit(&rcu_used, 1, memory_order_relaxed);
	mutex_lock(&rcu_span_lock);
	rw->next = span_waiting;
	span_waiting = rw;
	start = span_start_locked();
	mutex_unlock(&rcu_span_lock);
	if (start)
		call_rcu(&span_head, span_release_rcu);
	return 1;
}

static int spans_pending(void)
{
	int pending;

	mutex_lock(&rcu_span_lock);
	pending = span_flight || span_waiting;
	mutex_unlock(&rcu_span_lock);
	return pending;
}

/**
 * rcu_cache_prepare() - make liburcu's call_rcu thread exist
 *
 * For hak_cache_create() of a HAK_SLAB_TYPESAFE_BY_RCU cache, with no
 * lock held: the first call_rcu() creates the thread (and allocates), and
 * a span is deferred with a central lock held.
 *
 * Return: 0, or -1 when the program has no liburcu.
 */
int rcu_cache_prepare(void)
{
	if (!urcu_loaded())
		return -1;
	get_default_call_rcu_data();
	return 0;
}

/* ---- barriers ----------------------------------------------------------- */

static void flush_all_holders(void)
{
	struct rcu_holder *h = atomic_load_explicit(&holders,
						    memory_order_acquire);

	for (; h; h = h->next)
		holder_flush(h);
}

HAK_EXPORT void hak_rcu_barrier(void)
{
	if (!urcu_loaded())	/* then nothing was ever deferred */
		return;
	flush_all_holders();
	/* a span callback may start one more grace period for later spans */
	do {
		rcu_barrier();
	} while (spans_pending());
}

/**
 * rcu_cache_barrier() - what hak_cache_destroy() waits for
 * @c: the cache being destroyed
 *
 * Every deferred free (some may be @c's objects); and, for a
 * HAK_SLAB_TYPESAFE_BY_RCU cache, the release of its spans. Nothing when
 * no free was ever deferred.
 *
 * Context: no allocator lock held.
 */
void rcu_cache_barrier(struct hak_cache *c)
{
	(void)c;
	if (atomic_load_explicit(&rcu_used, memory_order_relaxed))
		hak_rcu_barrier();
}
