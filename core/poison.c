// SPDX-License-Identifier: MIT
/*
 * Poisoning of freed objects; see poison.h.
 */
#include <errno.h>
#include <string.h>

#include "cache.h"
#include "fastcache.h"
#include "poison.h"
#include "report.h"

/* The poisoned bytes start after the free tag (ctor caches: none). */
static size_t poison_start(const struct hak_cache *c)
{
	return c->free_off + sizeof(uintptr_t);
}

static size_t poison_len(const struct hak_cache *c)
{
	return c->ctor || c->size <= poison_start(c) ? 0 :
	       c->size - poison_start(c);
}

/**
 * poison_fill() - poison a free object
 * @c: its cache
 * @p: the object
 */
void poison_fill(struct hak_cache *c, void *p)
{
	size_t n = poison_len(c);

	if (n)
		memset((char *)p + poison_start(c), POISON_BYTE, n);
}

static int poison_intact(struct hak_cache *c, const void *p)
{
	const unsigned char *b = (const unsigned char *)p + poison_start(c);
	size_t n = poison_len(c);

	for (size_t i = 0; i < n; i++)
		if (b[i] != POISON_BYTE)
			return 0;
	return 1;
}

/**
 * poison_alloc() - allocate one object, checking its poison
 * @c: the cache
 *
 * Return: the object, or NULL with errno ENOMEM.
 */
void *poison_alloc(struct hak_cache *c)
{
	void *p;

	if (!central_refill(c, &p, 1, HAK_OWNER_NONE)) {
		errno = ENOMEM;
		return NULL;
	}
	if (!poison_intact(c, p))
		report_bad("malloc", p, c,
			   "freed object was written after free (poison damaged)");
	return fc_claim(c, p);
}

/**
 * poison_free() - poison a checked, tagged object and return it
 * @c: its cache
 * @p: the object
 */
void poison_free(struct hak_cache *c, void *p)
{
	poison_fill(c, p);
	central_drain(c, &p, 1, HAK_OWNER_NONE);
}
