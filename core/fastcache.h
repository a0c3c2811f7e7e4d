/* SPDX-License-Identifier: MIT */
/*
 * Fast-path caches: one region of object pointers per thread (and, in the
 * rseq mode, per CPU), with a small header per cache in the style of
 * tcmalloc's per-CPU slabs. Objects of cache id k sit in
 * slots[bin[k].begin .. bin[k].current); the bin is full at end.
 *
 * A bin with end == 0 has no slots yet (they are given on first use), so
 * the all-zero region below makes every operation miss and take the slow
 * path: a thread starts on it and needs no "initialised?" test.
 */
#ifndef HAK_FASTCACHE_H
#define HAK_FASTCACHE_H

#include <stdint.h>

#include "cache.h"

#define FC_SLOTS	6144

struct fc_bin {
	uint16_t current;
	uint16_t begin;
	uint16_t end;
	uint16_t pad;
};

struct fc_region {
	struct fc_bin bin[HAK_MAX_CACHES];
	uint32_t slots_used;
	uint32_t live;
	struct fc_region *next_free;
	struct fc_region *next_all;
	void *slots[];
};

extern __thread struct fc_region *hak_tc
	__attribute__((tls_model("initial-exec")));
extern struct fc_region hak_fc_empty;

void *cache_alloc_slow(struct hak_cache *c);
void cache_free_slow(struct hak_cache *c, void *p);
void tcache_init(void);
void tcache_flush_current(void);
uint64_t tcache_count_cached(unsigned int id);
void tcache_lock(void);
void tcache_unlock(void);
void tcache_reinit(void);

/**
 * fc_pop() - take an object from the calling thread's bin
 * @id: cache id
 *
 * Return: the object in its cached state, or NULL when the bin is empty.
 */
static __always_inline void *fc_pop(unsigned int id)
{
	struct fc_region *r = hak_tc;
	struct fc_bin *b = &r->bin[id];

	if (unlikely(b->current == b->begin))
		return NULL;
	return r->slots[--b->current];
}

/**
 * fc_push() - put an object into the calling thread's bin
 * @id: cache id
 * @p: the object
 *
 * Return: 1, or 0 when the bin is full (or has no slots).
 */
static __always_inline int fc_push(unsigned int id, void *p)
{
	struct fc_region *r = hak_tc;
	struct fc_bin *b = &r->bin[id];

	if (unlikely(b->current == b->end))
		return 0;
	r->slots[b->current++] = p;
	return 1;
}

#endif /* HAK_FASTCACHE_H */
