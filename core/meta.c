// SPDX-License-Identifier: MIT
/*
 * The metadata arena: see meta.h.
 */
#include "../arch/arch.h"
#include "compiler.h"
#include "lock.h"
#include "meta.h"
#include "os.h"

#define META_CHUNK	(256UL << 10)

/* taken around fork() by core/init.c */
struct mutex_lock meta_lock = HAK_LOCK_INIT;
static char *meta_cur;
static size_t meta_left;

/**
 * meta_alloc() - zeroed, cache-line aligned memory for allocator structures
 * @size: bytes
 *
 * Return: the memory, or NULL with errno ENOMEM.
 */
void *meta_alloc(size_t size)
{
	void *p;

	size = round_up(size, HAK_CACHELINE);
	if (size > META_CHUNK / 4)
		return os_map(round_up(size, HAK_PAGE_SIZE));
	mutex_lock(&meta_lock);
	if (meta_left < size) {
		char *chunk = os_map(META_CHUNK);

		if (!chunk) {
			mutex_unlock(&meta_lock);
			return NULL;
		}
		meta_cur = chunk;
		meta_left = META_CHUNK;
	}
	p = meta_cur;
	meta_cur += size;
	meta_left -= size;
	mutex_unlock(&meta_lock);
	return p;
}
