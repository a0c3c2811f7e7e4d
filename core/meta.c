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

static struct hak_lock meta_mutex = HAK_LOCK_INIT;
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
	hak_lock(&meta_mutex);
	if (meta_left < size) {
		char *chunk = os_map(META_CHUNK);

		if (!chunk) {
			hak_unlock(&meta_mutex);
			return NULL;
		}
		meta_cur = chunk;
		meta_left = META_CHUNK;
	}
	p = meta_cur;
	meta_cur += size;
	meta_left -= size;
	hak_unlock(&meta_mutex);
	return p;
}

/**
 * meta_lock() - take the arena lock (before fork)
 */
void meta_lock(void)
{
	hak_lock(&meta_mutex);
}

/**
 * meta_unlock() - release the arena lock (after fork, parent)
 */
void meta_unlock(void)
{
	hak_unlock(&meta_mutex);
}

/**
 * meta_reinit() - reset the arena lock (after fork, child)
 */
void meta_reinit(void)
{
	hak_lock_init(&meta_mutex);
}
