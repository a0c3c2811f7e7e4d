/* SPDX-License-Identifier: MIT */
/*
 * Batches of objects between a cache and its caller (bulk.c): the
 * engine of hak_cache_alloc_bulk() and hak_cache_free_bulk(), shared
 * with the reserves (reserve.c).
 */
#ifndef HAK_BULK_H
#define HAK_BULK_H

#include <stddef.h>

struct hak_cache;

size_t bulk_take(struct hak_cache *c, size_t n, void **objs);
void bulk_return(struct hak_cache *c, size_t n, void **objs);

#endif /* HAK_BULK_H */
