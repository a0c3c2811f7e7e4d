// SPDX-License-Identifier: MIT
/*
 * Registration of SuperSlabs and huge mappings in the address bitmap.
 */
#include "registry.h"

_Atomic uint64_t hak_registry[REGISTRY_WORDS];

/**
 * registry_add() - mark a 2 MiB chunk as ours
 * @chunk: 2 MiB-aligned address whose first page holds our header
 */
void registry_add(const void *chunk)
{
	uintptr_t a = (uintptr_t)chunk;

	atomic_fetch_or_explicit(&hak_registry[a >> 27], 1ULL << ((a >> 21) & 63),
				 memory_order_release);
}

/**
 * registry_del() - forget a 2 MiB chunk before it is unmapped
 * @chunk: 2 MiB-aligned address
 */
void registry_del(const void *chunk)
{
	uintptr_t a = (uintptr_t)chunk;

	atomic_fetch_and_explicit(&hak_registry[a >> 27],
				  ~(1ULL << ((a >> 21) & 63)),
				  memory_order_release);
}
