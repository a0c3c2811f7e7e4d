// SPDX-License-Identifier: MIT
/*
 * Huge allocations; see huge.h. Alignments of 2 MiB and more put the
 * header in the 2 MiB chunk just below the object, which huge_lookup()
 * checks when the object's own chunk is not registered.
 *
 * Two things keep big buffers cheap:
 *  - a cache of freed mappings (HUGE_CACHE_ENTRIES, at most
 *    HAKMEM_HUGE_CACHE_KB bytes), so a program allocating and freeing big
 *    buffers pays neither the mapping calls nor the page faults again: a
 *    request takes the best fit, split at a 2 MiB boundary, or, when none
 *    is large enough, cached pages moved together by mremap (page tables
 *    move, resident pages need no fault). The cache decays
 *    (huge_decay()): after HAKMEM_HUGE_DECAY_MS a mapping's pages are
 *    given to the kernel with MADV_FREE, after as long again it is
 *    unmapped; hak_trim() empties it at once;
 *  - realloc by mremap: in place when the address space after the mapping
 *    is free, otherwise moved (page tables only, no copy) to a new
 *    2 MiB-aligned place.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "compiler.h"
#include "huge.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "registry.h"
#include "superslab.h"

#define HUGE_CACHE_ENTRIES	32

_Static_assert(offsetof(struct huge_hdr, kind) ==
	       offsetof(struct superslab, kind),
	       "a registered chunk's kind is read at one offset");

static _Atomic uint64_t huge_count;
static _Atomic uint64_t huge_bytes;

/* taken around fork() by core/init.c */
struct hak_lock hak_huge_lock = HAK_LOCK_INIT;
static _Atomic size_t cached_bytes;	/* read unlocked as a hint */

static void huge_account(int64_t count, int64_t bytes)
{
	atomic_fetch_add_explicit(&huge_count, (uint64_t)count,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&huge_bytes, (uint64_t)bytes,
				  memory_order_relaxed);
}

/* Bytes of guard behind each huge object (HAKMEM_GUARD). */
static size_t guard_bytes(void)
{
	return hak_option(OPT_GUARD) ? HAK_PAGE_SIZE : 0;
}

/* Offset of the object from its header for an alignment below 2 MiB. */
static size_t user_offset(size_t align)
{
	return align > HAK_PAGE_SIZE ? align : HAK_PAGE_SIZE;
}

/* Maps [hdr, user + size): hdr 2 MiB-aligned, user aligned to @align. */
static char *huge_map(size_t size, size_t align, char **user,
		      size_t *map_len)
{
	size_t off = align < HAK_SS_SIZE ? user_offset(align) : HAK_SS_SIZE;
	size_t body, len, lead;
	char *start, *hdr;

	if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4) {
		errno = ENOMEM;
		return NULL;
	}
	/* at least one page: the object must lie inside its mapping */
	body = round_up(size ? size : 1, HAK_PAGE_SIZE) + guard_bytes();
	len = off + body;
	lead = align > HAK_SS_SIZE ? align - HAK_SS_SIZE : 0;
	start = os_map_aligned(lead + len, align > HAK_SS_SIZE ? align :
						     HAK_SS_SIZE);
	if (!start)
		return NULL;
	if (lead)
		os_unmap(start, lead);
	hdr = start + lead;
	*user = hdr + off;
	*map_len = len;
	return hdr;
}

static void huge_unmap(struct huge_hdr *h, int live);

static void hdr_set(struct huge_hdr *h, char *user, size_t map_len)
{
	h->kind = SS_KIND_HUGE;
	h->user = user;
	h->map_base = h;
	h->map_len = map_len;
	h->usable = map_len - (size_t)(user - (char *)h) - guard_bytes();
}

/* Sets (or lifts) the guard page at the end of a huge mapping. */
static void guard_tail(struct huge_hdr *h, int on)
{
	if (guard_bytes())
		os_protect((char *)h + h->map_len - HAK_PAGE_SIZE,
			   HAK_PAGE_SIZE, on);
}

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
	return (size_t)hak_option(OPT_HUGE_CACHE_KB) << 10;
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
	uint64_t ms = (uint64_t)hak_option(OPT_HUGE_DECAY_MS);
	struct huge_victims v = { 0 };
	int did = 0;

	if (!atomic_load_explicit(&cached_bytes, memory_order_relaxed))
		return 0;
	hak_lock(&hak_huge_lock);
	for (int i = 0; i < HUGE_CACHE_ENTRIES; i++) {
		struct huge_slot *s = &cached[i];

		if (!s->h || now < s->since || now - s->since < ms)
			continue;
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
	}
	hak_unlock(&hak_huge_lock);
	victims_unmap(&v);
	return did;
}

/* Keeps a freed mapping for reuse; returns 0 if it is too large to. */
static int cache_put(struct huge_hdr *h, uint64_t now)
{
	struct huge_victims v = { 0 };
	size_t len = h->map_len;

	if (len > cache_max())
		return 0;
	guard_tail(h, 0);
	hak_lock(&hak_huge_lock);
	slot_fill(cache_make_room(len, &v), h, len, STAGE_DIRTY, now);
	huge_account(-1, 0);	/* bytes stay mapped */
	hak_unlock(&hak_huge_lock);
	victims_unmap(&v);
	return 1;
}

/* Puts back a mapping cache_take() gave but could not use. */
static void cache_putback(struct huge_hdr *h)
{
	if (!cache_put(h, os_now_ms()))
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

/*
 * Moves cached pages into [@base + @from, @base + @len), which is mapped
 * and counted: the end of a piece larger than the gap, or whole pieces.
 * Returns how far the range is filled with moved pages.
 */
static size_t cache_gather(char *base, size_t from, size_t len)
{
	while (from < len) {
		struct huge_hdr *whole = NULL;
		struct huge_slot *s;
		size_t r = len - from;
		char *src;

		hak_lock(&hak_huge_lock);
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
		hak_unlock(&hak_huge_lock);
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

	hak_lock(&hak_huge_lock);
	h = cached_bytes ? slot_take(slot_for(SIZE_MAX)) : NULL;
	if (h)
		huge_account(1, 0);
	hak_unlock(&hak_huge_lock);
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
	*dirty = cache_gather(base, have, need);
	h = (struct huge_hdr *)base;
	h->kind = SS_KIND_HUGE_FREE;
	h->map_base = h;
	h->map_len = need;
	if (moved)
		registry_add(h);
	return h;
}

/*
 * A cached mapping made to fit @size at @align (< 2 MiB), or NULL; sets
 * *@dirty to the bytes at its start that may hold old data.
 */
static struct huge_hdr *cache_take(size_t size, size_t align, size_t *dirty)
{
	size_t need = user_offset(align) + round_up(size ? size : 1, HAK_PAGE_SIZE) +
		      guard_bytes();
	struct huge_hdr *h;

	if (!atomic_load_explicit(&cached_bytes, memory_order_relaxed))
		return NULL;
	hak_lock(&hak_huge_lock);
	h = cache_take_locked(need);
	if (h)
		huge_account(1, 0);
	hak_unlock(&hak_huge_lock);
	if (!h)
		return cache_assemble(need, dirty);
	*dirty = h->map_len;
	return h;
}

/**
 * huge_alloc() - allocate in a mapping of its own
 * @size: bytes
 * @align: a power of two (0 or anything up to 4096 means page alignment)
 * @zero: the memory must read as zero (calloc)
 *
 * Return: the object, or NULL with errno ENOMEM.
 */
void *huge_alloc(size_t size, size_t align, int zero)
{
	struct huge_hdr *h = NULL;
	size_t map_len, dirty = 0;
	char *user;

	if (align < HAK_SS_SIZE && size <= SIZE_MAX / 2)
		h = cache_take(size, align, &dirty);
	huge_decay(os_now_ms());
	if (h) {
		user = (char *)h + user_offset(align);
		hdr_set(h, user, h->map_len);
		/* pages a grown mapping gained read as zero */
		dirty -= (size_t)(user - (char *)h);
		if (zero)
			memset(user, 0, size < dirty ? size : dirty);
		guard_tail(h, 1);
		return user;
	}
	/* a fresh mapping reads as zero: calloc needs no memset */
	h = (struct huge_hdr *)huge_map(size, align, &user, &map_len);
	if (!h)
		return NULL;
	hdr_set(h, user, map_len);
	guard_tail(h, 1);
	registry_add(h);
	huge_account(1, (int64_t)map_len);
	return user;
}

/* @live: the mapping is a live allocation (else a cached one). */
static void huge_unmap(struct huge_hdr *h, int live)
{
	size_t len = h->map_len;

	huge_account(-live, -(int64_t)len);
	registry_del(h);
	os_unmap(h->map_base, len);
}

/**
 * huge_free() - release a huge allocation (into the cache, or unmapped)
 * @h: its header, from huge_lookup()
 */
void huge_free(struct huge_hdr *h)
{
	uint64_t now = os_now_ms();

	if ((char *)h->user - (char *)h >= (ptrdiff_t)HAK_SS_SIZE ||
	    !cache_put(h, now))
		huge_unmap(h, 1);
	huge_decay(now);
}

static int huge_trim_locked(void);

/**
 * huge_trim() - unmap every cached huge mapping
 *
 * Return: 1 if anything was unmapped.
 */
int huge_trim(void)
{
	hak_lock(&hak_huge_lock);
	return huge_trim_locked();
}

/**
 * huge_trim_try() - huge_trim() if the cache's lock is free now
 *
 * For the memory limit (core/limit.c), which reclaims from inside a
 * mapping call whose caller may hold any allocator lock: never waits.
 *
 * Return: 1 if anything was unmapped.
 */
int huge_trim_try(void)
{
	if (!hak_trylock(&hak_huge_lock))
		return 0;
	return huge_trim_locked();
}

/* Empties the cache (hak_huge_lock held: released here) and unmaps. */
static int huge_trim_locked(void)
{
	struct huge_victims v = { 0 };

	for (int i = 0; i < HUGE_CACHE_ENTRIES; i++)
		if (cached[i].h)
			v.h[v.n++] = slot_take(&cached[i]);
	hak_unlock(&hak_huge_lock);
	victims_unmap(&v);
	return v.n > 0;
}

/**
 * huge_resize() - resize a huge allocation in place or by moving its pages
 * @h: its header
 * @size: the new size (above the largest size class)
 *
 * Return: the (possibly moved) object, or NULL with errno ENOMEM and the
 * allocation untouched.
 */
void *huge_resize(struct huge_hdr *h, size_t size)
{
	size_t off = (size_t)((char *)h->user - (char *)h);
	size_t old_len = h->map_len, len, want;
	char *base;

	if (off >= HAK_SS_SIZE || size > SIZE_MAX / 4) {
		errno = ENOMEM;
		return NULL;
	}
	want = off + round_up(size, HAK_PAGE_SIZE);
	/*
	 * Growing: take half as much again, so a realloc chain stays in
	 * place most of the time; untouched pages cost address space only.
	 */
	if (size > h->usable)
		size += size / 2;
	len = off + round_up(size, HAK_PAGE_SIZE) + guard_bytes();
	guard_tail(h, 0);		/* the old guard becomes object memory */
	base = os_remap(h, old_len, len, 0);
	if (!base)
		base = os_remap_aligned(h, old_len, len, HAK_SS_SIZE);
	if (!base) {
		guard_tail(h, 1);
		return NULL;
	}
	if (base != (char *)h) {
		registry_del(h);
		registry_add(base);
		h = (struct huge_hdr *)base;
	}
	huge_account(0, (int64_t)len - (int64_t)old_len);
	/* the requested new pages: cached resident ones where there are */
	if (want > old_len && atomic_load_explicit(&cached_bytes,
						   memory_order_relaxed))
		cache_gather(base, old_len, want < len ? want : len);
	hdr_set(h, base + off, len);
	guard_tail(h, 1);
	return h->user;
}

static struct huge_hdr *hdr_at(uintptr_t chunk)
{
	struct huge_hdr *h = (struct huge_hdr *)chunk;

	if (!registry_test(chunk) || h->kind != SS_KIND_HUGE)
		return NULL;
	return h;
}

/**
 * huge_lookup() - find the huge allocation an address belongs to
 * @p: the address
 * @interior: set to 1 when @p is inside the allocation's first 2 MiB but
 *            not its start; to 2 when @p is a freed (cached) huge mapping
 *
 * Return: the header when @p is a live huge allocation, else NULL.
 */
struct huge_hdr *huge_lookup(const void *p, int *interior)
{
	uintptr_t a = (uintptr_t)p;
	uintptr_t chunk = a & ~(HAK_SS_SIZE - 1);
	struct huge_hdr *h = hdr_at(chunk);

	*interior = 0;
	if (h) {
		if (h->user == p)
			return h;
		*interior = 1;
		return NULL;
	}
	if (registry_test(chunk) &&
	    ((struct huge_hdr *)chunk)->kind == SS_KIND_HUGE_FREE) {
		*interior = 2;
		return NULL;
	}
	if (!(a & (HAK_SS_SIZE - 1)) && a >= HAK_SS_SIZE) {
		h = hdr_at(a - HAK_SS_SIZE);
		if (h && h->user == p)
			return h;
	}
	return NULL;
}

/**
 * huge_stats() - live huge allocations and their mapped bytes
 * @count: filled with the number
 * @bytes: filled with the bytes mapped
 */
void huge_stats(uint64_t *count, uint64_t *bytes)
{
	*count = atomic_load_explicit(&huge_count, memory_order_relaxed);
	*bytes = atomic_load_explicit(&huge_bytes, memory_order_relaxed);
}
