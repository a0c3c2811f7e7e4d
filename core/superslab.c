// SPDX-License-Identifier: MIT
/*
 * SuperSlabs and their free-slab bitmaps, in one pool per NUMA node (plus
 * the boot pool used before the topology is known). superslab_refill() hands a cache
 * a span of adjacent free slabs: finding one is a few shifts and a count of
 * trailing zeros over the 32-bit bitmap, never a walk over memory. Released
 * spans go back to the bitmap, and free slabs whose pages are still
 * touched (dirty) are taken first, so reuse costs no page faults.
 *
 * Dirty free slabs decay: at each tick (HAKMEM_DECAY_MS, checked when spans
 * are taken or released) the slabs that were already dirty and free at the previous
 * tick are purged (MADV_DONTNEED); so an idle free slab keeps its pages for
 * one to two ticks. Above HAKMEM_DIRTY_MAX_KB of dirty bytes a pool purges
 * at once. SuperSlabs with every slab free are unmapped beyond
 * HAKMEM_SPARE_SUPERSLABS.
 *
 * Transparent huge pages (HAKMEM_THP=always): a SuperSlab is one 2 MiB
 * huge page, and purging a few of its slabs would split it for little
 * gain. So, as in tcmalloc's hugepage-aware allocator, decay returns whole
 * SuperSlabs: one whose slabs have all been free for a tick is unmapped,
 * and the free slabs of a SuperSlab in use are purged only when at least
 * half of it is free (the huge page is then worth less than the memory).
 * The dirty cap and hak_trim() still purge every free slab.
 */
#include <string.h>
#include <time.h>

#include "cache.h"
#include "debug.h"
#include "options.h"
#include "os.h"
#include "registry.h"
#include "superslab.h"
#include "../numa/topology.h"

/* aged_bitmap's bit 0 (slab 0 is never free): empty at the last tick */
#define SS_AGED_EMPTY	1U

struct ss_pool ss_pools[HAK_NODE_SLOTS];

/*
 * One more span taken or released in @pool (under its lock); read
 * without the lock by superslab_traffic(), hence the atomic store.
 */
static inline void traffic_inc(struct ss_pool *pool)
{
	__atomic_store_n(&pool->traffic, pool->traffic + 1, __ATOMIC_RELAXED);
}
/* called on each decay tick, under a pool lock: must not take locks */
static void (*tick_hook)(void);
/* SuperSlabs ever mapped, all pools: the first keeps small pages */
static _Atomic uint64_t ss_mapped_ever;

/*
 * The huge-page advice for a new SuperSlab (HAKMEM_THP), given before its
 * first byte is touched. The process's first SuperSlab keeps small pages,
 * so a program that allocates a few KiB does not pay 2 MiB of resident
 * memory for it; guard pages split the mapping, so they rule huge pages
 * out. Returns whether huge pages were asked for.
 */
static int superslab_advise(struct superslab *ss)
{
	long mode = option_get(OPT_THP);

	if (mode == THP_MADVISE)
		return 0;
	if (mode == THP_NEVER || option_get(OPT_GUARD) ||
	    !atomic_fetch_add_explicit(&ss_mapped_ever, 1,
				       memory_order_relaxed)) {
		os_hugepage(ss, HAK_SS_SIZE, 0);
		return 0;
	}
	os_hugepage(ss, HAK_SS_SIZE, 1);
	return 1;
}

/**
 * superslab_set_tick_hook() - call @fn on every decay tick
 * @fn: the hook; it runs under a pool lock, so it may only raise a flag
 *	(the front end uses it to drain idle CPUs' caches after the tick)
 *
 * Context: start-up.
 */
void superslab_set_tick_hook(void (*fn)(void))
{
	tick_hook = fn;
}

static void avail_add(struct ss_pool *pool, struct superslab *ss)
{
	ss->prev = NULL;
	ss->next = pool->avail;
	if (pool->avail)
		pool->avail->prev = ss;
	pool->avail = ss;
}

static void avail_del(struct ss_pool *pool, struct superslab *ss)
{
	if (ss->prev)
		ss->prev->next = ss->next;
	else
		pool->avail = ss->next;
	if (ss->next)
		ss->next->prev = ss->prev;
	ss->next = ss->prev = NULL;
}

/*
 * Maps a SuperSlab for @node and writes its header (the first touch: with
 * huge pages the fault of the whole 2 MiB, compaction included). Needs no
 * lock; superslab_add() publishes it.
 */
static struct superslab *superslab_map(unsigned int node)
{
	struct superslab *ss = os_map_aligned(HAK_SS_SIZE, HAK_SS_SIZE);

	if (!ss)
		return NULL;
	topology_bind(ss, HAK_SS_SIZE, node);
	ss->thp = (uint32_t)superslab_advise(ss);
	if (option_get(OPT_GUARD))	/* between metadata and objects */
		os_protect((char *)ss + HAK_SLAB_SIZE - HAK_PAGE_SIZE,
			   HAK_PAGE_SIZE, 1);
	ss->kind = SS_KIND_SLABS;
	ss->node = node;
	ss->free_bitmap = SS_ALL_FREE;
	return ss;
}

/* Adds a SuperSlab from superslab_map() to @pool, under its lock. */
static void superslab_add(struct ss_pool *pool, struct superslab *ss)
{
	topology_placed(ss, ss->node);	/* the header page is present now */
	registry_add(ss);
	pool->nr_superslabs++;
	pool->mapped_total++;
	pool->nr_empty++;
	avail_add(pool, ss);
}

static struct superslab *superslab_new(struct ss_pool *pool, unsigned int node)
{
	struct superslab *ss = superslab_map(node);

	if (ss)
		superslab_add(pool, ss);
	return ss;
}

static void superslab_destroy(struct ss_pool *pool, struct superslab *ss)
{
	HAK_BUG_ON(ss->free_bitmap != SS_ALL_FREE);
	HAK_BUG_ON(!pool->nr_empty || !pool->nr_superslabs);
	HAK_BUG_ON(pool->dirty_bytes < (uint64_t)__builtin_popcount(
			ss->dirty_bitmap) * HAK_SLAB_SIZE);
	avail_del(pool, ss);
	pool->dirty_bytes -= (uint64_t)__builtin_popcount(ss->dirty_bitmap) *
			     HAK_SLAB_SIZE;
	pool->nr_empty--;
	pool->nr_superslabs--;
	pool->unmapped_total++;
	registry_del(ss);
	os_unmap(ss, HAK_SS_SIZE);
}

/* The bitmap bits of @n slabs from slab @idx (n may be 32). */
static uint32_t slab_mask(unsigned int idx, unsigned int n)
{
	return ((n < 32 ? 1U << n : 0U) - 1) << idx;
}

/* First index of @n adjacent set bits in @bits, or -1. */
static int span_find(uint32_t bits, unsigned int n)
{
	uint32_t m = bits;

	for (unsigned int i = 1; i < n; i++)
		m &= bits >> i;
	return m ? __builtin_ctz(m) : -1;
}

static void span_init(struct hak_cache *c, struct superslab *ss,
		      unsigned int head)
{
	struct slab_ro ro = {
		.base = (uintptr_t)ss + ((uintptr_t)head << HAK_SLAB_SHIFT),
		.inv = c->inv,
		.stride = c->stride,
		.free_off = c->free_off,
		.carved = 0,
		.cache_id = (uint16_t)c->id,
		.head = (uint8_t)head,
		.nslabs = (uint8_t)c->span_slabs,
		.owner = HAK_OWNER_NONE,
	};
	_Atomic uint64_t *map = ss->free_map[head];
	uint32_t words = (c->objs_per_span + 63) / 64;

	memset(&ss->rw[head], 0, sizeof(ss->rw[head]));
	for (uint32_t w = 0; w < words; w++) {
		uint32_t left = c->objs_per_span - w * 64;

		atomic_store_explicit(&map[w], left >= 64 ? ~0ULL :
				      (1ULL << left) - 1, memory_order_relaxed);
	}
	for (unsigned int i = 0; i < c->span_slabs; i++)
		ss->ro[head + i] = ro;
}

/* Takes @n free slabs at @idx. */
static void span_take(struct ss_pool *pool, struct superslab *ss,
		      unsigned int idx, unsigned int n)
{
	uint32_t mask = slab_mask(idx, n);

	HAK_BUG_ON((ss->free_bitmap & mask) != mask);	/* all free */
	if (ss->free_bitmap == SS_ALL_FREE)
		pool->nr_empty--;
	ss->free_bitmap &= ~mask;
	pool->dirty_bytes -= (uint64_t)__builtin_popcount(ss->dirty_bitmap &
							  mask) * HAK_SLAB_SIZE;
	ss->dirty_bitmap &= ~mask;
	ss->aged_bitmap &= ~(mask | SS_AGED_EMPTY);
	if (!ss->free_bitmap)
		avail_del(pool, ss);
}

static void decay_locked(struct ss_pool *pool);

/*
 * A SuperSlab of @pool with a run of @n free slabs, dirty ones first (their
 * pages need no fault); *@idx: the run's first slab. NULL if none.
 */
static struct superslab *pool_find(const struct ss_pool *pool, unsigned int n,
				   int *idx)
{
	struct superslab *ss;

	for (ss = pool->avail; ss; ss = ss->next) {
		*idx = span_find(ss->free_bitmap & ss->dirty_bitmap, n);
		if (*idx >= 0)
			return ss;
	}
	for (ss = pool->avail; ss; ss = ss->next) {
		*idx = span_find(ss->free_bitmap, n);
		if (*idx >= 0)
			return ss;
	}
	return NULL;
}

/* Takes the span at @idx of @ss for @c; drops @pool's lock. */
static struct slab_rw *span_hand_out(struct hak_cache *c, struct ss_pool *pool,
				     struct superslab *ss, unsigned int idx)
{
	span_take(pool, ss, idx, c->span_slabs);
	traffic_inc(pool);
	decay_locked(pool);
	mutex_unlock(&pool->lock);
	span_init(c, ss, idx);
	return &ss->rw[idx];
}

/**
 * superslab_refill() - take a free span for a cache
 * @c: the cache; its span_slabs says how many slabs
 * @node: the pool (NUMA node) to take it from
 *
 * Looks through the node's SuperSlabs with free slabs, and maps a new
 * SuperSlab on that node only when none has a free run long enough.
 * Called with the cache's central lock of that node held (lock order:
 * central, then pool).
 *
 * Return: the span's head metadata, or NULL with errno ENOMEM.
 */
struct slab_rw *superslab_refill(struct hak_cache *c, unsigned int node)
{
	struct ss_pool *pool = &ss_pools[node];
	struct superslab *ss;
	int idx = -1;

	mutex_lock(&pool->lock);
	ss = pool_find(pool, c->span_slabs, &idx);
	if (!ss) {
		ss = superslab_new(pool, node);
		if (!ss) {
			mutex_unlock(&pool->lock);
			return NULL;
		}
		idx = span_find(ss->free_bitmap, c->span_slabs);
	}
	return span_hand_out(c, pool, ss, (unsigned int)idx);
}

/**
 * superslab_take() - superslab_refill() without mapping
 * @c: the cache
 * @node: the pool
 *
 * Context: as superslab_refill().
 * Return: the span's head metadata, or NULL when no SuperSlab of the pool
 * has a free run for @c (superslab_grow() maps one).
 */
struct slab_rw *superslab_take(struct hak_cache *c, unsigned int node)
{
	struct ss_pool *pool = &ss_pools[node];
	struct superslab *ss;
	int idx;

	mutex_lock(&pool->lock);
	ss = pool_find(pool, c->span_slabs, &idx);
	if (!ss) {
		mutex_unlock(&pool->lock);
		return NULL;
	}
	return span_hand_out(c, pool, ss, (unsigned int)idx);
}

/**
 * superslab_grow() - map a SuperSlab into a pool that has no room for a
 * span of a cache
 * @c: the cache
 * @node: the pool
 *
 * The mapping and its first touch (with huge pages: the fault of 2 MiB,
 * and perhaps compaction to find them) run under no lock, so that the
 * other threads' refills and releases do not wait for them. One thread
 * of a pool grows it at a time (grow_lock); one that waited finds the
 * room the other made and maps nothing.
 *
 * Context: no central or pool lock held.
 * Return: 0 when the pool has room for a span of @c, -1 with errno ENOMEM.
 */
int superslab_grow(struct hak_cache *c, unsigned int node)
{
	struct ss_pool *pool = &ss_pools[node];
	struct superslab *ss;
	int idx, ret = 0;

	mutex_lock(&pool->grow_lock);
	mutex_lock(&pool->lock);
	ss = pool_find(pool, c->span_slabs, &idx);
	mutex_unlock(&pool->lock);
	if (!ss) {
		ss = superslab_map(node);
		if (ss) {
			mutex_lock(&pool->lock);
			superslab_add(pool, ss);
			mutex_unlock(&pool->lock);
		} else {
			ret = -1;
		}
	}
	mutex_unlock(&pool->grow_lock);
	return ret;
}

/* Purges the slabs of @ss in @mask (dirty free slabs). */
static void purge_slabs(struct ss_pool *pool, struct superslab *ss,
			uint32_t mask)
{
	uint32_t d = mask;

	while (d) {
		unsigned int i = (unsigned int)__builtin_ctz(d);
		unsigned int n = (unsigned int)__builtin_ctz(~(d >> i));

		os_purge((char *)ss + ((size_t)i << HAK_SLAB_SHIFT),
			 (size_t)n << HAK_SLAB_SHIFT);
		d &= ~slab_mask(i, n);
	}
	/* the huge page, if any, is split now (span_populate() reads it) */
	if (mask)
		__atomic_store_n(&ss->thp, 0, __ATOMIC_RELAXED);
	/* their pages are gone: the windows must be faulted in again */
	for (unsigned int w = 0; w < ARRAY_SIZE(ss->populated); w++)
		atomic_fetch_and_explicit(&ss->populated[w], ~mask,
					  memory_order_relaxed);
	HAK_BUG_ON((ss->dirty_bitmap & mask) != mask);
	HAK_BUG_ON(pool->dirty_bytes <
		   (uint64_t)__builtin_popcount(mask) * HAK_SLAB_SIZE);
	ss->dirty_bitmap &= ~mask;
	ss->aged_bitmap &= ~mask;
	pool->dirty_bytes -= (uint64_t)__builtin_popcount(mask) * HAK_SLAB_SIZE;
}

static void purge_locked(struct ss_pool *pool)
{
	for (struct superslab *ss = pool->avail; ss; ss = ss->next)
		purge_slabs(pool, ss, ss->dirty_bitmap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);	/* vDSO: no syscall */
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Whether @pool's decay tick is due at @now (its lock held). @now may be
 * older than the pool's last tick (read before another thread ticked it,
 * see decay_others()): not due then.
 */
static int tick_due(const struct ss_pool *pool, uint64_t now)
{
	return now >= pool->last_tick_ms &&
	       now - pool->last_tick_ms >= (uint64_t)option_get(OPT_DECAY_MS);
}

/*
 * The tick of one huge-page SuperSlab: unmapped when every slab has been
 * free since the last tick; its idle dirty slabs purged only when at least
 * half of it is free.
 */
static void decay_tick_thp(struct ss_pool *pool, struct superslab *ss)
{
	uint32_t aged = ss->dirty_bitmap & ss->aged_bitmap;

	if (ss->free_bitmap == SS_ALL_FREE) {
		if (ss->aged_bitmap & SS_AGED_EMPTY)
			superslab_destroy(pool, ss);
		else
			ss->aged_bitmap = ss->dirty_bitmap | SS_AGED_EMPTY;
		return;
	}
	if (__builtin_popcount(ss->free_bitmap) >= HAK_SLABS_PER_SS / 2)
		purge_slabs(pool, ss, aged);
	ss->aged_bitmap = ss->dirty_bitmap;
}

/*
 * The tick itself: purge what was dirty and free at the last tick and
 * still is, and remember what is dirty now.
 */
static void decay_tick(struct ss_pool *pool, uint64_t now)
{
	struct superslab *ss, *next;

	pool->last_tick_ms = now;
	for (ss = pool->avail; ss; ss = next) {
		next = ss->next;
		if (ss->thp) {
			decay_tick_thp(pool, ss);
			continue;
		}
		purge_slabs(pool, ss, ss->dirty_bitmap & ss->aged_bitmap);
		ss->aged_bitmap = ss->dirty_bitmap;
	}
}

/*
 * Ticks only come with traffic in a pool, so a node whose threads went
 * quiet would keep its dirty slabs for ever: every tick also ticks the
 * other pools that are due. Their locks are only tried, never waited for
 * under @self's (there is no order between pool locks); a busy pool ticks
 * by itself.
 */
static void decay_others(struct ss_pool *self, uint64_t now)
{
	for (unsigned int n = 0; n < HAK_NODE_SLOTS; n++) {
		struct ss_pool *pool = &ss_pools[n];

		if (pool == self || !mutex_trylock(&pool->lock))
			continue;
		if (pool->dirty_bytes && tick_due(pool, now))
			decay_tick(pool, now);
		mutex_unlock(&pool->lock);
	}
}

/*
 * A decay tick of @pool, and of the quiet others, when it is due. A pool
 * that has never ticked and holds nothing dirty has nothing to give back:
 * it starts ticking with its first dirty slab, and until then reads no
 * clock (a small program's first SuperSlab would otherwise fault in a
 * page of libc's text for clock_gettime(): 64 KiB of RSS, with the
 * kernel's fault-around).
 */
static void decay_locked(struct ss_pool *pool)
{
	uint64_t now;

	if (!pool->last_tick_ms && !pool->dirty_bytes)
		return;
	now = now_ms();

	if (!tick_due(pool, now))
		return;
	if (tick_hook)		/* idle CPUs' caches: drained after the lock */
		tick_hook();
	decay_tick(pool, now);
	decay_others(pool, now);
}

static void unmap_empty_locked(struct ss_pool *pool, uint32_t keep)
{
	struct superslab *ss, *next;

	for (ss = pool->avail; ss && pool->nr_empty > keep; ss = next) {
		next = ss->next;
		if (ss->free_bitmap == SS_ALL_FREE)
			superslab_destroy(pool, ss);
	}
}

/**
 * superslab_release_span() - give a span back to its SuperSlab
 * @ss: the SuperSlab
 * @head: index of the span's first slab
 *
 * Called with the owning cache's central lock held.
 */
void superslab_release_span(struct superslab *ss, unsigned int head)
{
	struct ss_pool *pool = &ss_pools[ss->node];
	unsigned int n = ss->ro[head].nslabs;
	uint32_t mask = slab_mask(head, n);

	HAK_BUG_ON(ss->rw[head].inuse);
	for (unsigned int i = 0; i < n; i++)
		memset(&ss->ro[head + i], 0, sizeof(ss->ro[head + i]));
	mutex_lock(&pool->lock);
	HAK_BUG_ON(ss->free_bitmap & mask);	/* released twice */
	if (!ss->free_bitmap)
		avail_add(pool, ss);
	ss->free_bitmap |= mask;
	ss->dirty_bitmap |= mask;
	pool->dirty_bytes += (uint64_t)n * HAK_SLAB_SIZE;
	traffic_inc(pool);
	if (ss->free_bitmap == SS_ALL_FREE) {
		pool->nr_empty++;
		unmap_empty_locked(pool, (uint32_t)option_get(OPT_SPARE_SS));
	}
	if (pool->dirty_bytes > (uint64_t)option_get(OPT_DIRTY_MAX_KB) << 10)
		purge_locked(pool);
	else
		decay_locked(pool);
	mutex_unlock(&pool->lock);
}

/**
 * superslab_purge() - return free slab memory to the system
 * @unmap_empty: also unmap every SuperSlab whose slabs are all free
 *
 * Return: 1 if anything was purged or unmapped.
 */
int superslab_purge(int unmap_empty)
{
	int did = 0;

	for (unsigned int n = 0; n < HAK_NODE_SLOTS; n++) {
		struct ss_pool *pool = &ss_pools[n];

		mutex_lock(&pool->lock);
		did |= pool->dirty_bytes || (unmap_empty && pool->nr_empty);
		if (unmap_empty)
			unmap_empty_locked(pool, 0);
		purge_locked(pool);
		mutex_unlock(&pool->lock);
	}
	return did;
}

/**
 * superslab_trim_try() - unmap the empty SuperSlabs of every pool whose
 * lock is free now
 *
 * For the memory limit (core/limit.c), which reclaims from inside a
 * mapping call whose caller may hold a pool lock: never waits (pool locks
 * are only tried, as decay_others() does).
 *
 * Return: 1 if a SuperSlab was unmapped.
 */
int superslab_trim_try(void)
{
	int did = 0;

	for (unsigned int n = 0; n < HAK_NODE_SLOTS; n++) {
		struct ss_pool *pool = &ss_pools[n];

		if (!mutex_trylock(&pool->lock))
			continue;
		did |= pool->nr_empty != 0;
		unmap_empty_locked(pool, 0);
		mutex_unlock(&pool->lock);
	}
	return did;
}

/**
 * superslab_decay() - the decay tick of every pool that is due
 *
 * For the background thread (core/background.c): ticks the pools without
 * any traffic in them, and asks for a scan of idle CPUs' caches when one
 * ticked. Waits for each pool's lock; call it with no allocator lock held.
 *
 * Return: 1 if a pool ticked.
 */
int superslab_decay(void)
{
	uint64_t now = now_ms();
	int ticked = 0;

	for (unsigned int n = 0; n < HAK_NODE_SLOTS; n++) {
		struct ss_pool *pool = &ss_pools[n];

		mutex_lock(&pool->lock);
		if (tick_due(pool, now)) {
			decay_tick(pool, now);
			ticked = 1;
		}
		mutex_unlock(&pool->lock);
	}
	if (ticked && tick_hook)
		tick_hook();
	return ticked;
}

/**
 * superslab_traffic() - spans taken and released so far, all pools
 *
 * For the background thread, to tell a quiet program: read without the
 * pool locks (a count that moved is all it needs).
 *
 * Return: the count.
 */
uint64_t superslab_traffic(void)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < HAK_NODE_SLOTS; i++)
		n += __atomic_load_n(&ss_pools[i].traffic, __ATOMIC_RELAXED);
	return n;
}

/**
 * superslab_pool_lock_all() - take every pool lock (before fork)
 */
void superslab_pool_lock_all(void)
{
	for (unsigned int n = 0; n < HAK_NODE_SLOTS; n++)
		mutex_lock(&ss_pools[n].lock);
}

/**
 * superslab_pool_unlock_all() - release every pool lock (after fork, parent)
 */
void superslab_pool_unlock_all(void)
{
	for (unsigned int n = HAK_NODE_SLOTS; n-- > 0;)
		mutex_unlock(&ss_pools[n].lock);
}

/**
 * superslab_pool_reinit() - reset every pool lock (after fork, child)
 */
void superslab_pool_reinit(void)
{
	for (unsigned int n = 0; n < HAK_NODE_SLOTS; n++) {
		mutex_init(&ss_pools[n].lock);
		/* a grower of the parent: its SuperSlab is lost, not its pool */
		mutex_init(&ss_pools[n].grow_lock);
	}
}
