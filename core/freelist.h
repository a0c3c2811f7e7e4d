/* SPDX-License-Identifier: MIT */
/*
 * Hardened free-list links, as SLAB_FREELIST_HARDENED: a link is stored as
 *   next ^ secret ^ bswap(address of the link)
 * so a use-after-free write cannot point the allocator at an address of its
 * choosing without knowing the per-process secret, and a corrupted link is
 * caught when it decodes outside its span.
 */
#ifndef HAK_FREELIST_H
#define HAK_FREELIST_H

#include <stdint.h>

#include "cache.h"

static inline void freelist_set(void *obj, uint32_t free_off, void *next)
{
	uintptr_t *slot = (uintptr_t *)((char *)obj + free_off);

	*slot = (uintptr_t)next ^ hak_link_secret ^
		__builtin_bswap64((uintptr_t)slot);
}

static inline void *freelist_get(void *obj, uint32_t free_off)
{
	uintptr_t *slot = (uintptr_t *)((char *)obj + free_off);

	return (void *)(*slot ^ hak_link_secret ^
			__builtin_bswap64((uintptr_t)slot));
}

#endif /* HAK_FREELIST_H */
