/* SPDX-License-Identifier: MIT */
/*
 * The layout of a huge mapping, shared by the two halves of the huge
 * allocator: huge.c (allocations) and huge_cache.c (freed mappings kept
 * for reuse). Not for any other unit.
 */
#ifndef HAK_HUGE_MAP_H
#define HAK_HUGE_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "huge.h"
#include "options.h"
#include "os.h"
#include "superslab.h"

void huge_account(int64_t count, int64_t bytes);
void huge_unmap(struct huge_hdr *h, int live);

/* Bytes of guard behind each huge object (HAKMEM_GUARD). */
static inline size_t huge_guard_bytes(void)
{
	return option_get(OPT_GUARD) ? HAK_PAGE_SIZE : 0;
}

/* Offset of the object from its header for an alignment below 2 MiB. */
static inline size_t huge_user_offset(size_t align)
{
	return align > HAK_PAGE_SIZE ? align : HAK_PAGE_SIZE;
}

/*
 * Length of a mapping (alignment below 2 MiB) holding @size bytes at @off
 * and the guard: whole 2 MiB chunks, so that the cache's splits and moves
 * fall on page-table boundaries: mremap then moves whole page-table pages,
 * and the moved pages need no new page-table entries (on this kind of
 * virtual machine a page moved entry by entry costs about a third of a
 * fault at its next write). The untouched rest costs address space only.
 */
static inline size_t huge_map_len(size_t off, size_t size)
{
	return round_up(off + round_up(size ? size : 1, HAK_PAGE_SIZE) +
				huge_guard_bytes(), HAK_SS_SIZE);
}

/*
 * The bytes of a huge mapping's header page where a SuperSlab keeps its
 * slab_ro array: they must read as zero (stride 0, "no slab"), since the
 * CONFIG_HARDENED=n free fast path reads the slab_ro of any pointer at
 * 64 KiB or more into a 2 MiB chunk (an object aligned to 64 KiB to
 * 1 MiB lies in its header's chunk). A fresh mapping is zero; a reused
 * chunk may hold old data there.
 */
#define HUGE_HDR_ZERO_END	offsetof(struct superslab, rw)

static inline void huge_hdr_set(struct huge_hdr *h, char *user, size_t map_len)
{
	memset(h + 1, 0, HUGE_HDR_ZERO_END - sizeof(*h));
	h->kind = SS_KIND_HUGE;
	h->user = user;
	h->map_base = h;
	h->map_len = map_len;
	h->usable = map_len - (size_t)(user - (char *)h) - huge_guard_bytes();
}

/* Sets (or lifts) the guard page at the end of a huge mapping. */
static inline void huge_guard_tail(struct huge_hdr *h, int on)
{
	if (huge_guard_bytes())
		os_protect((char *)h + h->map_len - HAK_PAGE_SIZE,
			   HAK_PAGE_SIZE, on);
}

#endif /* HAK_HUGE_MAP_H */
