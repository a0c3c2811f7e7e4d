// SPDX-License-Identifier: MIT
/*
 * Huge allocations; see huge.h. Alignments of 2 MiB and more put the
 * header in the 2 MiB chunk just below the object, which huge_lookup()
 * checks when the object's own chunk is not registered.
 */
#include <errno.h>
#include <stdatomic.h>

#include "compiler.h"
#include "huge.h"
#include "os.h"
#include "registry.h"
#include "superslab.h"

#define HUGE_MAGIC	0x48414b4d48554745ULL	/* "HAKMHUGE" */

static _Atomic uint64_t huge_count;
static _Atomic uint64_t huge_bytes;

static void huge_account(int64_t count, int64_t bytes)
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
	size_t off = align < HAK_SS_SIZE ?
		     (align > HAK_PAGE_SIZE ? align : HAK_PAGE_SIZE) :
		     HAK_SS_SIZE;
	size_t body, len, lead;
	char *start, *hdr;

	if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4)
		goto nomem;
	body = round_up(size, HAK_PAGE_SIZE);
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
nomem:
	errno = ENOMEM;
	return NULL;
}

/**
 * huge_alloc() - allocate in a mapping of its own
 * @size: bytes
 * @align: a power of two (0 or anything up to 4096 means page alignment)
 *
 * The memory comes straight from mmap, so it is already zero.
 *
 * Return: the object, or NULL with errno ENOMEM.
 */
void *huge_alloc(size_t size, size_t align)
{
	struct huge_hdr *h;
	size_t map_len;
	char *user;

	h = (struct huge_hdr *)huge_map(size, align, &user, &map_len);
	if (!h)
		return NULL;
	h->magic = HUGE_MAGIC;
	h->kind = SS_KIND_HUGE;
	h->user = user;
	h->map_base = h;
	h->map_len = map_len;
	h->usable = map_len - (size_t)(user - (char *)h);
	registry_add(h);
	huge_account(1, (int64_t)map_len);
	return user;
}

/**
 * huge_free() - unmap a huge allocation
 * @h: its header, from huge_lookup()
 */
void huge_free(struct huge_hdr *h)
{
	size_t len = h->map_len;

	huge_account(-1, -(int64_t)len);
	registry_del(h);
	os_unmap(h->map_base, len);
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
 *            not its start
 *
 * Return: the header when @p is a live huge allocation, else NULL.
 */
struct huge_hdr *huge_lookup(const void *p, int *interior)
{
	uintptr_t a = (uintptr_t)p;
	struct huge_hdr *h = hdr_at(a & ~(HAK_SS_SIZE - 1));

	*interior = 0;
	if (h) {
		if (h->user == p)
			return h;
		*interior = 1;
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
