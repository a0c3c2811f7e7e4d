// SPDX-License-Identifier: MIT
/*
 * The cache of freed huge mappings (see huge.c for what it is for): best
 * fit with splits at 2 MiB boundaries, pages gathered by mremap when no
 * mapping is large enough, and a two-stage decay (huge_decay()).
 *
 * Context: the slots and cached_bytes are under huge_lock (the lock
 * order is at the top of core/central.c); mappings are unmapped with the
 * lock dropped.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "huge.h"
#include "huge_cache.h"
#include "huge_map.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "registry.h"
#include "superslab.h"

#define HUGE_CACHE_ENTRIES	32

/* taken around fork() by core/init.c */
struct mutex_lock huge_lock = HAK_LOCK_INIT;
static _Atomic size_t cached_bytes;	/* read unlocked as a hint */
/* no slot's stage ends before this (ms): huge_decay() needs no lock */
static _Atomic uint64_t decay_next;
static _Atomic uint64_t decay_next_ms;	/* the HAKMEM_HUGE_DECAY_MS it used */

/*
 * The cache of freed mappings. A slot holds one mapping, 2 MiB-aligned,
 * its header kept (kind SS_KIND_HUGE_FREE, still registered) so that a
 * second free is named; its pages beyond the header page are the object's
 * old pages. No guard page is set while a mapping is cached.
 */
enum { STAGE_DIRTY, STAGE_LAZY };

struct huge_slot {
	struct huge_hdr *h;	/* NULL: the slot is empty */
	size_t len;
	uint64_t since;		/* when the mapping entered its stage (ms) */
	int stage;		/* STAGE_DIRTY: resident; STAGE_LAZY: MADV_FREE */
};

/* Mappings taken out of the cache to unmap once the lock is dropped. */
struct huge_victims {
	int n;
	struct huge_hdr *h[HUGE_CACHE_ENTRIES + 1];
};

static struct huge_slot cached[HUGE_CACHE_ENTRIES];

static size_t cache_max(void)
{
	return (size_t)option_get(OPT_HUGE_CACHE_KB) << 10;
}

/* A stage that began at @since ends no later than decay_next says. */
static void decay_due(uint64_t since)
{
	uint64_t ms = (uint64_t)option_get(OPT_HUGE_DECAY_MS);

	if (since + ms < atomic_load_explicit(&decay_next, memory_order_relaxed))
		atomic_store_explicit(&decay_next, since + ms,
				      memory_order_relaxed);
	atomic_store_explicit(&decay_next_ms, ms, memory_order_relaxed);
}

/* Puts @h (@len bytes) in slot @s; the lock held. */
static void slot_fill(struct huge_slot *s, struct huge_hdr *h, size_t len,
		      int stage, uint64_t since)
{
	h->kind = SS_KIND_HUGE_FREE;	/* a second free is named */
	h->map_base = h;
	h->map_len = len;
	s->h = h;
	s->len = len;
	s->stage = stage;
	s->since = since;
	cached_bytes += len;
	decay_due(since);
}

/* Empties slot @s; returns its mapping (the lock held). */
static struct huge_hdr *slot_take(struct huge_slot *s)
{
	struct huge_hdr *h = s->h;

	h->map_len = s->len;
	cached_bytes -= s->len;
	s->h = NULL;
	return h;
}

/* The slot to evict first: a lazy one before a dirty one, oldest first. */
static struct huge_slot *slot_oldest(void)
{
	struct huge_slot *old = NULL;

	for (int i = 0; i < HUGE_CACHE_ENTRIES; i++) {
		struct huge_slot *s = &cached[i];

		if (s->h && (!old || s->stage > old->stage ||
			     (s->stage == old->stage && s->since < old->since)))
			old = s;
	}
	return old;
}

/*
 * Evicts until @len more bytes and one more mapping fit; returns the free
 * slot (the lock held; the evicted mappings go to @v).
 */
static struct huge_slot *cache_make_room(size_t len, struct huge_victims *v)
{
	struct huge_slot *s;

	while (cached_bytes && cached_bytes + len > cache_max())
		v->h[v->n++] = slot_take(slot_oldest());
	for (int i = 0; i < HUGE_CACHE_ENTRIES; i++)
		if (!cached[i].h)
			return &cached[i];
	s = slot_oldest();
	v->h[v->n++] = slot_take(s);
	return s;
}

/*
 * Takes the best fit for @need bytes out of the cache: the smallest mapping
 * that holds it, split at a 2 MiB boundary when 2 MiB or more would be
 * left over (the rest stays cached, with a header of its own); NULL when
 * none is large enough.
 */
static struct huge_hdr *cache_take_locked(size_t need)
{
	struct huge_slot *best = NULL;
	struct huge_hdr *h;
	size_t cut;

	for (int i = 0; i < HUGE_CACHE_ENTRIES; i++) {
		struct huge_slot *s = &cached[i];

		if (s->h && s->len >= need && (!best || s->len < best->len))
			best = s;
	}
	if (!best)
		return NULL;
	cut = round_up(need, HAK_SS_SIZE);
	if (best->len < cut + HAK_SS_SIZE)
		return slot_take(best);
	h = slot_take(best);
	/* the rest: its header written before its chunk is registered */
	slot_fill(best, (struct huge_hdr *)((char *)h + cut), h->map_len - cut,
		  best->stage, best->since);
	registry_add(best->h);
	h->map_len = cut;
	return h;
}

/* Unmaps the mappings collected in @v (no lock held). */
static void victims_unmap(struct huge_victims *v)
{
	for (int i = 0; i < v->n; i++) {
		struct huge_hdr *h = v->h[i];

		huge_account(0, -(int64_t)h->map_len);
		registry_del(h);
		os_unmap(h, h->map_len);
	}
	v->n = 0;
}

/**
 * huge_decay() - age the cache of freed huge mappings
 * @now: the time, from os_now_ms()
 *
 * A mapping cached for HAKMEM_HUGE_DECAY_MS is purged with MADV_FREE
 * (its pages stay resident until the kernel needs them and cost no fault
 * if reused before), and after HAKMEM_HUGE_DECAY_MS more it is unmapped.
 * Called on every huge allocation and free; safe to call from any thread.
 *
 * Return: 1 if a mapping was purged or unmapped.
 */
int huge_decay(uint64_t now)
{
	uint64_t ms = (uint64_t)option_get(OPT_HUGE_DECAY_MS);
	struct huge_victims v = { 0 };
	int did = 0;

	if (!atomic_load_explicit(&cached_bytes, memory_order_relaxed))
		return 0;
	/* nothing due; a shorter decay time set since must look again */
	if (now < atomic_load_explicit(&decay_next, memory_order_relaxed) &&
	    ms >= atomic_load_explicit(&decay_next_ms, memory_order_relaxed))
		return 0;
	mutex_lock(&huge_lock);
	atomic_store_explicit(&decay_next, UINT64_MAX, memory_order_relaxed);
	for (int i = 0; i < HUGE_CACHE_ENTRIES; i++) {
		struct huge_slot *s = &cached[i];

		if (!s->h)
			continue;
		if (now < s->since || now - s->since < ms) {
			decay_due(s->since);
			continue;
		}
		did = 1;
		if (s->stage == STAGE_LAZY) {
			v.h[v.n++] = slot_take(s);
			continue;
		}
		/* the header page stays: it names a second free */
		os_purge_lazy((char *)s->h + HAK_PAGE_SIZE,
			      s->len - HAK_PAGE_SIZE);
		s->stage = STAGE_LAZY;
		s->since = now;
		decay_due(now);
	}
	mutex_unlock(&huge_lock);
	victims_unmap(&v);
	return did;
}

/**
 * huge_cache_put() - keep a freed mapping for reuse
 * @h: its header (alignment below 2 MiB)
 * @now: the time, from os_now_ms()
 *
 * Return: 1, or 0 if it is too large to keep (the caller unmaps it).
 */
int huge_cache_put(struct huge_hdr *h, uint64_t now)
{
	struct huge_victims v = { 0 };
	size_t len = h->map_len;

	if (len > cache_max())
		return 0;
	huge_guard_tail(h, 0);
	mutex_lock(&huge_lock);
	slot_fill(cache_make_room(len, &v), h, len, STAGE_DIRTY, now);
	huge_account(-1, 0);	/* bytes stay mapped */
	mutex_unlock(&huge_lock);
	victims_unmap(&v);
	return 1;
}

/* Puts back a mapping cache_take() gave but could not use. */
static void cache_putback(struct huge_hdr *h)
{
	if (!huge_cache_put(h, os_now_ms()))
		huge_unmap(h, 1);
}

/*
 * The piece to move to fill @r bytes: the smallest one of at least @r
 * bytes (its end is moved), else the largest (moved whole).
 */
static struct huge_slot *slot_for(size_t r)
{
	struct huge_slot *fit = NULL, *big = NULL;

	for (int i = 0; i < HUGE_CACHE_ENTRIES; i++) {
		struct huge_slot *s = &cached[i];

		if (!s->h)
			continue;
		if (s->len > r && (!fit || s->len < fit->len))
			fit = s;
		if (!big || s->len > big->len)
			big = s;
	}
	return fit ? fit : big;
}

/**
 * huge_cache_gather() - fill part of a mapping with cached pages
 * @base: the mapping (2 MiB-aligned, mapped and counted up to @len)
 * @from: where the range to fill starts
 * @len: where it ends
 *
 * Moves cached pages into [@base + @from, @base + @len) by mremap: the
 * end of a piece larger than the gap, or whole pieces. Resident pages
 * moved need no fault when written.
 *
 * Return: how far the range is filled with moved pages.
 */
size_t huge_cache_gather(char *base, size_t from, size_t len)
{
	if (!atomic_load_explicit(&cached_bytes, memory_order_relaxed))
		return from;
	while (from < len) {
		struct huge_hdr *whole = NULL;
		struct huge_slot *s;
		size_t r = len - from;
		char *src;

		mutex_lock(&huge_lock);
		s = slot_for(r);
		if (s && s->len > r) {
			s->len -= r;		/* its header stays */
			s->h->map_len = s->len;
			cached_bytes -= r;
			src = (char *)s->h + s->len;
		} else if (s) {
			whole = slot_take(s);
			src = (char *)whole;
			r = whole->map_len;
		}
		mutex_unlock(&huge_lock);
		if (!s)
			break;
		if (whole)
			registry_del(whole);
		huge_account(0, -(int64_t)r);	/* now inside @base's bytes */
		if (os_move(src, r, base + from)) {
			os_unmap(src, r);
			break;
		}
		from += r;
	}
	return from;
}

/*
 * A mapping of @need bytes assembled from cached pages when no cached
 * mapping is large enough: the largest grows in place by mremap, or moves
 * into a fresh reservation; other pieces' pages fill the rest. Pages no
 * piece filled fault when written. Sets *@dirty to the bytes at the start
 * that may hold old data. Returns NULL with errno ENOMEM when the
 * reservation fails (the pieces stay cached).
 */
static struct huge_hdr *cache_assemble(size_t need, size_t *dirty)
{
	struct huge_hdr *h;
	size_t have;
	char *base;
	int moved;

	mutex_lock(&huge_lock);
	h = cached_bytes ? slot_take(slot_for(SIZE_MAX)) : NULL;
	if (h)
		huge_account(1, 0);
	mutex_unlock(&huge_lock);
	if (!h)
		return NULL;
	have = h->map_len;
	base = os_remap(h, have, need, 0);
	moved = !base;
	if (moved) {
		base = os_map_aligned(need, HAK_SS_SIZE);
		if (!base) {
			cache_putback(h);
			return NULL;
		}
		registry_del(h);
		huge_account(0, -(int64_t)have);
		if (os_move(h, have, base)) {
			os_unmap(h, have);
			have = 0;
		}
	}
	huge_account(0, (int64_t)(need - (moved ? 0 : have)));
	/* (with nothing moved in yet, a piece may land on the header page) */
	*dirty = huge_cache_gather(base, have, need);
	h = (struct huge_hdr *)base;
	h->kind = SS_KIND_HUGE_FREE;
	h->map_base = h;
	h->map_len = need;
	if (moved)
		registry_add(h);
	return h;
}

/**
 * huge_cache_take() - a cached mapping made to fit a request
 * @size: bytes
 * @align: alignment, below 2 MiB
 * @dirty: set to the bytes at the mapping's start that may hold old data
 *
 * Return: the mapping (its header not set up yet), or NULL.
 */
struct huge_hdr *huge_cache_take(size_t size, size_t align, size_t *dirty)
{
	size_t need = huge_map_len(huge_user_offset(align), size);
	struct huge_hdr *h;

	if (!atomic_load_explicit(&cached_bytes, memory_order_relaxed))
		return NULL;
	mutex_lock(&huge_lock);
	h = cache_take_locked(need);
	if (h)
		huge_account(1, 0);
	mutex_unlock(&huge_lock);
	if (!h)
		return cache_assemble(need, dirty);
	*dirty = h->map_len;
	return h;
}

/* Empties the cache (huge_lock held: released here) and unmaps. */
static int trim_locked(void)
{
	struct huge_victims v = { 0 };

	for (int i = 0; i < HUGE_CACHE_ENTRIES; i++)
		if (cached[i].h)
			v.h[v.n++] = slot_take(&cached[i]);
	mutex_unlock(&huge_lock);
	victims_unmap(&v);
	return v.n > 0;
}

/**
 * huge_cache_trim() - unmap every cached huge mapping
 *
 * Return: 1 if anything was unmapped.
 */
int huge_cache_trim(void)
{
	mutex_lock(&huge_lock);
	return trim_locked();
}

/**
 * huge_cache_trim_try() - huge_cache_trim() if the cache's lock is free
 *
 * Never waits (the memory limit reclaims from inside mapping calls).
 *
 * Return: 1 if anything was unmapped.
 */
int huge_cache_trim_try(void)
{
	if (!mutex_trylock(&huge_lock))
		return 0;
	return trim_locked();
}
