/* SPDX-License-Identifier: MIT */
/*
 * The global SuperSlab registry: one bit per 2 MiB of the 48-bit address
 * space (16 MiB of zero-fill-on-demand memory, of which only the pages
 * covering addresses in use are ever touched). A set bit says the 2 MiB
 * chunk starts with a header this allocator wrote (a SuperSlab or a huge
 * mapping), so a foreign pointer is recognised without ever being read.
 */
#ifndef HAK_REGISTRY_H
#define HAK_REGISTRY_H

#include <stdatomic.h>
#include <stdint.h>

#include "compiler.h"

#define HAK_VA_BITS	48
/* One bit per 2 MiB chunk: the SuperSlab size (superslab.h checks it). */
#define REGISTRY_CHUNK_SHIFT	21
#define REGISTRY_WORDS	(1UL << (HAK_VA_BITS - REGISTRY_CHUNK_SHIFT - 6))

extern __hidden _Atomic uint64_t registry_bits[REGISTRY_WORDS];

void registry_add(const void *chunk);
void registry_del(const void *chunk);

/**
 * registry_test() - whether the 2 MiB chunk holding @a is one of ours
 * @a: any address (NULL and non-canonical addresses give 0)
 *
 * Return: non-zero when the chunk is registered.
 */
static inline int registry_test(uintptr_t a)
{
	uintptr_t chunk = a >> REGISTRY_CHUNK_SHIFT;	/* word: chunk / 64 */

	if (unlikely(chunk >= REGISTRY_WORDS * 64))
		return 0;
	return (int)((atomic_load_explicit(&registry_bits[chunk >> 6],
					   memory_order_relaxed) >>
		      (chunk & 63)) & 1);
}

#endif /* HAK_REGISTRY_H */
