// SPDX-License-Identifier: MIT
/*
 * Slow paths of the futex mutex in lock.h.
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../arch/arch.h"
#include "lock.h"

static void futex_wait(_Atomic int *addr, int val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_one(_Atomic int *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/**
 * mutex_lock_slow() - take a contended lock
 * @l: the lock
 *
 * Spins briefly (the holder usually leaves within a few hundred cycles),
 * then marks the lock contended and sleeps on the futex.
 */
void mutex_lock_slow(struct mutex_lock *l)
{
	int c;

	for (int i = 0; i < 64; i++) {
		c = 0;
		if (atomic_compare_exchange_weak_explicit(&l->state, &c, 1,
				memory_order_acquire, memory_order_relaxed))
			return;
		cpu_relax();
	}
	c = atomic_exchange_explicit(&l->state, 2, memory_order_acquire);
	while (c != 0) {
		futex_wait(&l->state, 2);
		c = atomic_exchange_explicit(&l->state, 2, memory_order_acquire);
	}
}

/**
 * mutex_unlock_wake() - wake one waiter after a contended unlock
 * @l: the lock
 */
void mutex_unlock_wake(struct mutex_lock *l)
{
	futex_wake_one(&l->state);
}
