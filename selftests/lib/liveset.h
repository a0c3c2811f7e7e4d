/* SPDX-License-Identifier: MIT */
/*
 * A sharded set of live pointers for the selftests' invariant: an address
 * is handed out at most once until it is freed. Linear probing with
 * backward-shift deletion, one mutex per shard. Its tables come from mmap,
 * never from the allocator under test.
 */
#ifndef HAK_SELFTEST_LIVESET_H
#define HAK_SELFTEST_LIVESET_H

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#define LS_SHARDS	64
#define LS_BITS		16	/* slots per shard: 64K */

struct ls_shard {
	pthread_mutex_t lock;
	uintptr_t *slot;
	unsigned long count;
};

static struct ls_shard ls_shard[LS_SHARDS];

static inline uint64_t ls_hash(uintptr_t p)
{
	p ^= p >> 29;
	p *= 0xbf58476d1ce4e5b9ULL;
	return p ^ (p >> 32);
}

static inline int liveset_init(void)
{
	size_t len = sizeof(uintptr_t) << LS_BITS;

	for (int i = 0; i < LS_SHARDS; i++) {
		pthread_mutex_init(&ls_shard[i].lock, NULL);
		ls_shard[i].slot = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ls_shard[i].slot == MAP_FAILED)
			return -1;
	}
	return 0;
}

/* Returns 0, or -1 when @p is already live (handed out twice). */
static inline int liveset_add(void *p)
{
	uint64_t h = ls_hash((uintptr_t)p);
	struct ls_shard *s = &ls_shard[h % LS_SHARDS];
	uint64_t mask = (1UL << LS_BITS) - 1, i = (h >> 6) & mask;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (s->count >= mask - (mask >> 3)) {
		pthread_mutex_unlock(&s->lock);
		return 0;	/* full: do not track (never happens in the tests) */
	}
	while (s->slot[i] && s->slot[i] != (uintptr_t)p)
		i = (i + 1) & mask;
	if (s->slot[i])
		ret = -1;
	else {
		s->slot[i] = (uintptr_t)p;
		s->count++;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* Returns 0, or -1 when @p was not live. */
static inline int liveset_del(void *p)
{
	uint64_t h = ls_hash((uintptr_t)p);
	struct ls_shard *s = &ls_shard[h % LS_SHARDS];
	uint64_t mask = (1UL << LS_BITS) - 1, i = (h >> 6) & mask, j;

	pthread_mutex_lock(&s->lock);
	while (s->slot[i] && s->slot[i] != (uintptr_t)p)
		i = (i + 1) & mask;
	if (!s->slot[i]) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	s->slot[i] = 0;
	s->count--;
	for (j = (i + 1) & mask; s->slot[j]; j = (j + 1) & mask) {
		uint64_t home = (ls_hash(s->slot[j]) >> 6) & mask;

		/* move back entries whose home is not in (i, j] */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			s->slot[i] = s->slot[j];
			s->slot[j] = 0;
			i = j;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

#endif /* HAK_SELFTEST_LIVESET_H */
