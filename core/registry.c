// SPDX-License-Identifier: MIT
/*
 * Registration of SuperSlabs and huge mappings in the address bitmap.
 */
#include "registry.h"

_Atomic uint64_t registry_bits[REGISTRY_WORDS];

/**
 * registry_add() - mark a 2 MiB chunk as ours
 * @base: 2 MiB-aligned address whose first page holds our header
 */
void registry_add(const void *base)
{
	uintptr_t chunk = (uintptr_t)base >> REGISTRY_CHUNK_SHIFT;

	atomic_fetch_or_explicit(&registry_bits[chunk >> 6], 1ULL << (chunk & 63),
				 memory_order_release);
}

/**
 * registry_del() - forget a 2 MiB chunk before it is unmapped
 * @base: 2 MiB-aligned address
 */
void registry_del(const void *base)
{
	uintptr_t chunk = (uintptr_t)base >> REGISTRY_CHUNK_SHIFT;

	atomic_fetch_and_explicit(&registry_bits[chunk >> 6],
				  ~(1ULL << (chunk & 63)),
				  memory_order_release);
}
