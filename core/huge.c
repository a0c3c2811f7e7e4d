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
#include "huge_cache.h"
#include "huge_map.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "registry.h"
#include "superslab.h"

_Static_assert(offsetof(struct huge_hdr, kind) ==
	       offsetof(struct superslab, kind),
	       "a registered chunk's kind is read at one offset");

static _Atomic uint64_t huge_count;
static _Atomic uint64_t huge_bytes;
static _Atomic uint64_t huge_calls;	/* allocations, frees and resizes */

static void huge_traffic(void)
{
	atomic_fetch_add_explicit(&huge_calls, 1, memory_order_relaxed);
}

/**
 * huge_ops() - huge allocations, frees and resizes so far
 *
 * For the background thread, to tell a quiet program.
 *
 * Return: the count.
 */
uint64_t huge_ops(void)
{
	return atomic_load_explicit(&huge_calls, memory_order_relaxed);
}


/**
 * huge_account() - count huge allocations and their mapped bytes
 * @count: allocations more (or fewer)
 * @bytes: mapped bytes more (or fewer)
 */
void huge_account(int64_t count, int64_t bytes)
{
	atomic_fetch_add_explicit(&huge_count, (uint64_t)count,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&huge_bytes, (uint64_t)bytes,
				  memory_order_relaxed);
}

/* Maps [hdr, user + size): hdr 2 MiB-aligned, user aligned to @align. */
static char *huge_map(size_t size, size_t align, char **user,
		      size_t *map_len)
{
	size_t off = align < HAK_SS_SIZE ? huge_user_offset(align) : HAK_SS_SIZE;
	size_t body, len, lead;
	char *start, *hdr;

	if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4) {
		errno = ENOMEM;
		return NULL;
	}
	/* at least one page: the object must lie inside its mapping */
	body = round_up(size ? size : 1, HAK_PAGE_SIZE) + huge_guard_bytes();
	len = align < HAK_SS_SIZE ? huge_map_len(off, size) : off + body;
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

	huge_traffic();
	if (align < HAK_SS_SIZE && size <= SIZE_MAX / 2)
		h = huge_cache_take(size, align, &dirty);
	huge_decay(os_now_ms());
	if (h) {
		user = (char *)h + huge_user_offset(align);
		huge_hdr_set(h, user, h->map_len);
		/* pages a grown mapping gained read as zero */
		dirty -= (size_t)(user - (char *)h);
		if (zero)
			memset(user, 0, size < dirty ? size : dirty);
		huge_guard_tail(h, 1);
		return user;
	}
	/* a fresh mapping reads as zero: calloc needs no memset */
	h = (struct huge_hdr *)huge_map(size, align, &user, &map_len);
	if (!h)
		return NULL;
	huge_hdr_set(h, user, map_len);
	huge_guard_tail(h, 1);
	registry_add(h);
	huge_account(1, (int64_t)map_len);
	return user;
}

/**
 * huge_unmap() - unregister and unmap a huge mapping
 * @h: its header
 * @live: it is a live allocation (else a cached one)
 */
void huge_unmap(struct huge_hdr *h, int live)
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

	huge_traffic();
	if ((char *)h->user - (char *)h >= (ptrdiff_t)HAK_SS_SIZE ||
	    !huge_cache_put(h, now))
		huge_unmap(h, 1);
	huge_decay(now);
}

/**
 * huge_trim() - unmap every cached huge mapping
 *
 * Return: 1 if anything was unmapped.
 */
int huge_trim(void)
{
	return huge_cache_trim();
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
	return huge_cache_trim_try();
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

	huge_traffic();
	if (off >= HAK_SS_SIZE || size > SIZE_MAX / 4) {
		errno = ENOMEM;
		return NULL;
	}
	want = round_up(off + size, HAK_SS_SIZE);
	/*
	 * Growing: take half as much again, so a realloc chain stays in
	 * place most of the time; untouched pages cost address space only.
	 */
	if (size > h->usable)
		size += size / 2;
	len = huge_map_len(off, size);
	huge_guard_tail(h, 0);		/* the old guard becomes object memory */
	base = os_remap(h, old_len, len, 0);
	if (!base)
		base = os_remap_aligned(h, old_len, len, HAK_SS_SIZE);
	if (!base) {
		huge_guard_tail(h, 1);
		return NULL;
	}
	if (base != (char *)h) {
		registry_del(h);
		registry_add(base);
		h = (struct huge_hdr *)base;
	}
	huge_account(0, (int64_t)len - (int64_t)old_len);
	/* the requested new pages: cached resident ones where there are */
	if (want > old_len)
		huge_cache_gather(base, old_len, want < len ? want : len);
	huge_hdr_set(h, base + off, len);
	huge_guard_tail(h, 1);
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
