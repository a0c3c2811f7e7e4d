/* SPDX-License-Identifier: MIT */
/*
 * The per-thread mode of the fast-path caches (tcache.c).
 */
#ifndef HAK_TCACHE_H
#define HAK_TCACHE_H

struct hak_cache;

void tcache_init(void);
void *tcache_alloc_direct(struct hak_cache *c);
void *tcache_alloc_slow(struct hak_cache *c);
void tcache_free_slow(struct hak_cache *c, void *p);
void tcache_flush_current(void);

#endif /* HAK_TCACHE_H */
