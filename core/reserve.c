// SPDX-License-Identifier: MIT
/*
 * Reserves (the kernel's prefilled sheaves, kmem_cache_prefill_sheaf()):
 * hak_cache_reserve() takes n objects of a cache up front, all or none
 * (bulk_take()); hak_reserve_alloc() then hands them out without ever
 * failing while any is left; hak_reserve_release() gives the rest back
 * (bulk_return()).
 *
 * The objects wait in the reserve in their cached state (tagged free), so
 * a stray free of one that was never handed out is a reported double
 * free. A reserve's own memory comes from the metadata arena and is
 * recycled through free lists by capacity (powers of two from 8), under
 * meta_lock (the arena's lock, innermost, taken around fork()), never
 * from malloc. A state word catches a reserve released twice or used
 * after its release, as long as it was not handed out again since.
 */
#include <errno.h>

#include "bulk.h"
#include "cache.h"
#include "fastcache.h"
#include "meta.h"
#include "report.h"
#include "reserve.h"
#include "hakmem/hakmem.h"

#define RESERVE_LIVE	0x52535645U	/* "RSVE" */
#define RESERVE_FREE	0x66726565U	/* "free" */
#define RESERVE_MIN_SHIFT	3	/* capacity 8 */
#define RESERVE_CLASSES		14	/* 8 .. 65536 */

struct hak_reserve {
	uint32_t state;
	uint32_t cap;
	uint32_t n;		/* objects left */
	uint32_t pad;
	struct hak_cache *cache;
	struct hak_reserve *next_free;
	void *objs[];
};

_Static_assert((1U << (RESERVE_MIN_SHIFT + RESERVE_CLASSES - 1)) ==
	       HAK_RESERVE_MAX, "reserve classes cover HAK_RESERVE_MAX");

/* Released reserves by capacity class; under meta_lock. */
static struct hak_reserve *free_list[RESERVE_CLASSES];

static unsigned int reserve_class(unsigned int n)
{
	unsigned int k = 0;

	while ((1U << (RESERVE_MIN_SHIFT + k)) < n)
		k++;
	return k;
}

/* A reserve with room for @n objects: recycled, or from the arena. */
static struct hak_reserve *reserve_get(unsigned int n)
{
	unsigned int k = reserve_class(n), cap = 1U << (RESERVE_MIN_SHIFT + k);
	struct hak_reserve *r;

	mutex_lock(&meta_lock);
	r = free_list[k];
	if (r)
		free_list[k] = r->next_free;
	mutex_unlock(&meta_lock);
	if (r)
		return r;
	r = meta_alloc(sizeof(*r) + cap * sizeof(void *));
	if (r)
		r->cap = cap;
	return r;
}

static void reserve_put(struct hak_reserve *r)
{
	unsigned int k = reserve_class(r->cap);

	r->state = RESERVE_FREE;
	r->n = 0;
	r->cache = NULL;
	mutex_lock(&meta_lock);
	r->next_free = free_list[k];
	free_list[k] = r;
	mutex_unlock(&meta_lock);
}

HAK_EXPORT struct hak_reserve *hak_cache_reserve(struct hak_cache *c,
						 unsigned int n)
{
	struct hak_reserve *r;

	if (!c || n > HAK_RESERVE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	r = reserve_get(n);
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	if (n && !bulk_take(c, n, r->objs)) {
		reserve_put(r);
		errno = ENOMEM;
		return NULL;
	}
	r->cache = c;
	r->n = n;
	r->state = RESERVE_LIVE;
	return r;
}

HAK_EXPORT void *hak_reserve_alloc(struct hak_reserve *r)
{
	if (unlikely(r->state != RESERVE_LIVE)) {
		report_bad("hak_reserve_alloc", r, NULL,
			   r->state == RESERVE_FREE ?
			   "reserve already released" : "not a reserve");
		errno = EINVAL;
		return NULL;
	}
	if (!r->n) {
		errno = ENOMEM;
		return NULL;
	}
	return fc_claim(r->cache, r->objs[--r->n]);
}

HAK_EXPORT unsigned int hak_reserve_count(const struct hak_reserve *r)
{
	return r->state == RESERVE_LIVE ? r->n : 0;
}

HAK_EXPORT void hak_reserve_release(struct hak_cache *c,
				    struct hak_reserve *r)
{
	if (!r)
		return;
	if (unlikely(r->state != RESERVE_LIVE)) {
		report_bad("hak_reserve_release", r, c,
			   r->state == RESERVE_FREE ?
			   "reserve released twice" : "not a reserve");
		return;
	}
	if (unlikely(r->cache != c)) {
		report_bad("hak_reserve_release", r, r->cache,
			   c ? "reserve released to another cache than its own" :
			       "reserve released without its cache");
		return;
	}
	bulk_return(c, r->n, r->objs);
	reserve_put(r);
}
