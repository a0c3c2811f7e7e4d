/* SPDX-License-Identifier: MIT */
/*
 * A small futex mutex (three states, after Drepper's "Futexes Are Tricky").
 * It never allocates, so the allocator can use it from its first call, and
 * it sleeps instead of spinning when a thread holding it is preempted: with
 * more threads than CPUs a spinlock would burn whole time slices.
 */
#ifndef HAK_LOCK_H
#define HAK_LOCK_H

#include <stdatomic.h>

#include "compiler.h"
#include "debug.h"

struct mutex_lock {
	_Atomic int state;	/* 0 free, 1 locked, 2 locked with waiters */
};

#define HAK_LOCK_INIT	{ 0 }

void mutex_lock_slow(struct mutex_lock *l);
void mutex_unlock_wake(struct mutex_lock *l);

static inline void mutex_init(struct mutex_lock *l)
{
	atomic_store_explicit(&l->state, 0, memory_order_relaxed);
}

static inline void mutex_lock(struct mutex_lock *l)
{
	int expected = 0;

	if (likely(atomic_compare_exchange_strong_explicit(&l->state, &expected,
				1, memory_order_acquire, memory_order_relaxed)))
		return;
	mutex_lock_slow(l);
}

/* Takes the lock if it is free; 1 when taken. */
static inline int mutex_trylock(struct mutex_lock *l)
{
	int expected = 0;

	return atomic_compare_exchange_strong_explicit(&l->state, &expected, 1,
			memory_order_acquire, memory_order_relaxed);
}

static inline void mutex_unlock(struct mutex_lock *l)
{
	int was = atomic_exchange_explicit(&l->state, 0, memory_order_release);

	HAK_BUG_ON(!was);	/* unlocked twice */
	if (unlikely(was == 2))
		mutex_unlock_wake(l);
}

#endif /* HAK_LOCK_H */
