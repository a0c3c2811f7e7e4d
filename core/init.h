/* SPDX-License-Identifier: MIT */
/*
 * Start-up. The allocator works from its first call, whoever makes it (the
 * dynamic loader, libc's own start-up, a constructor running before ours):
 * the slow paths call alloc_init(), and while it runs, allocations are served
 * directly from the central pools.
 */
#ifndef HAK_INIT_H
#define HAK_INIT_H

#include <stdatomic.h>

#include "compiler.h"

enum { INIT_NONE, INIT_RUNNING, INIT_BASIC, INIT_READY };

extern __hidden _Atomic int init_state;

void alloc_init_slow(void);

/* Basic set-up done: the central pools can serve. */
static inline void alloc_init(void)
{
	if (unlikely(atomic_load_explicit(&init_state,
					  memory_order_acquire) < INIT_BASIC))
		alloc_init_slow();
}

/* Fully set up: per-thread caches may be created. */
static inline int alloc_ready(void)
{
	return atomic_load_explicit(&init_state, memory_order_acquire) ==
	       INIT_READY;
}



void cache_list_lock(void);
void cache_list_unlock(void);
#endif /* HAK_INIT_H */
