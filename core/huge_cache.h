/* SPDX-License-Identifier: MIT */
/*
 * The cache of freed huge mappings (huge_cache.c), for huge.c.
 */
#ifndef HAK_HUGE_CACHE_H
#define HAK_HUGE_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct huge_hdr;

struct huge_hdr *huge_cache_take(size_t size, size_t align, size_t *dirty);
int huge_cache_put(struct huge_hdr *h, uint64_t now);
size_t huge_cache_gather(char *base, size_t from, size_t len);
int huge_cache_trim(void);
int huge_cache_trim_try(void);

#endif /* HAK_HUGE_CACHE_H */
