// SPDX-License-Identifier: MIT
/*
 * Huge allocations; see huge.h. Alignments of 2 MiB and more put the
 * header in the 2 MiB chunk just below the object, which huge_lookup()
 * checks when the object's own chunk is not registered.
 *
 * Two things keep big buffers cheap:
 *  - a small cache of freed mappings (HUGE_CACHE_ENTRIES, at most
 *    HAKMEM_HUGE_CACHE_KB bytes), reused for a request of at least half
 *    their size, so a program allocating and freeing big buffers does not
 *    pay an mmap and a munmap every time; hak_trim() empties it;
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

#define HUGE_CACHE_ENTRIES	16

_Static_assert(offsetof(struct huge_hdr, kind) ==
	       offsetof(struct superslab, kind),
	       "a registered chunk's kind is read at one offset");

static _Atomic uint64_t huge_count;
static _Atomic uint64_t huge_bytes;

/* taken around fork() by core/init.c */
struct hak_lock hak_huge_lock = HAK_LOCK_INIT;
static struct huge_hdr *cached[HUGE_CACHE_ENTRIES];
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

/* A cached mapping that fits @size at @align (< 2 MiB), or NULL. */
static struct huge_hdr *cache_take(size_t size, size_t align)
{
	size_t need = user_offset(align) + round_up(size ? size : 1, HAK_PAGE_SIZE) +
		      guard_bytes();
	struct huge_hdr *best = NULL;
	int bi = -1;

	if (!atomic_load_explicit(&cached_bytes, memory_order_relaxed))
		return NULL;
	hak_lock(&hak_huge_lock);
	for (int i = 0; i < HUGE_CACHE_ENTRIES; i++) {
		struct huge_hdr *h = cached[i];

		if (h && h->map_len >= need && h->map_len / 2 <= need &&
		    (!best || h->map_len < best->map_len))
			best = h, bi = i;
	}
	if (best) {
		cached[bi] = NULL;
		cached_bytes -= best->map_len;
		huge_account(1, 0);
	}
	hak_unlock(&hak_huge_lock);
	return best;
}

/* Keeps a freed mapping for reuse; returns 0 if the cache is full. */
static int cache_put(struct huge_hdr *h)
{
	size_t max = (size_t)hak_option(OPT_HUGE_CACHE_KB) << 10;
	int done = 0;

	if (h->map_len > max)
		return 0;
	hak_lock(&hak_huge_lock);
	for (int i = 0; i < HUGE_CACHE_ENTRIES && !done; i++) {
		if (!cached[i] && cached_bytes + h->map_len <= max) {
			h->kind = SS_KIND_HUGE_FREE;	/* a second free is named */
			cached[i] = h;
			cached_bytes += h->map_len;
			huge_account(-1, 0);	/* bytes stay mapped */
			done = 1;
		}
	}
	hak_unlock(&hak_huge_lock);
	return done;
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
	size_t map_len;
	char *user;

	if (align < HAK_SS_SIZE && size <= SIZE_MAX / 2)
		h = cache_take(size, align);
	if (h) {
		user = (char *)h + user_offset(align);
		if (zero)
			memset(user, 0, size);
		hdr_set(h, user, h->map_len);
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
	if ((char *)h->user - (char *)h >= (ptrdiff_t)HAK_SS_SIZE ||
	    !cache_put(h))
		huge_unmap(h, 1);
}

/**
 * huge_trim() - unmap every cached huge mapping
 *
 * Return: 1 if anything was unmapped.
 */
int huge_trim(void)
{
	struct huge_hdr *list[HUGE_CACHE_ENTRIES];
	int n = 0;

	hak_lock(&hak_huge_lock);
	for (int i = 0; i < HUGE_CACHE_ENTRIES; i++) {
		if (cached[i])
			list[n++] = cached[i];
		cached[i] = NULL;
	}
	cached_bytes = 0;
	hak_unlock(&hak_huge_lock);
	for (int i = 0; i < n; i++)
		huge_unmap(list[i], 0);
	return n > 0;
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
	size_t old_len = h->map_len, len;
	char *base;

	if (off >= HAK_SS_SIZE || size > SIZE_MAX / 4) {
		errno = ENOMEM;
		return NULL;
	}
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
	hdr_set(h, base + off, len);
	guard_tail(h, 1);
	huge_account(0, (int64_t)len - (int64_t)old_len);
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
