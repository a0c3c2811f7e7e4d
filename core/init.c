// SPDX-License-Identifier: MIT
/*
 * Start-up, fork handling and the exit-time statistics.
 */
#include <pthread.h>
#include <sys/auxv.h>
#include <string.h>

#include "../arch/arch.h"
#include "background.h"
#include "cache.h"
#include "huge.h"
#include "init.h"
#include "meta.h"
#include "options.h"
#include "percpu.h"
#include "region.h"
#include "remote.h"
#include "size_class.h"
#include "superslab.h"
#include "tcache.h"
#include "../numa/topology.h"
#include "hakmem/hakmem.h"

_Atomic int init_state;
static __thread int init_owner __attribute__((tls_model("initial-exec")));
static struct mutex_lock cache_list_mutex = HAK_LOCK_INIT;

static uintptr_t mix64(uintptr_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/*
 * The kernel's AT_RANDOM bytes (16 random bytes given to every process),
 * mixed with the cycle counter and an address: no system call, usable
 * before libc is fully up.
 */
static void secrets_init(void)
{
	const void *rnd = (const void *)getauxval(AT_RANDOM);
	uintptr_t ab[2] = { 0, 0 }, a, b, local;

	if (rnd)
		memcpy(ab, rnd, sizeof(ab));	/* not 8-byte aligned */
	a = ab[0];
	b = ab[1];
	local = (uintptr_t)&a;

	tag_secret = mix64(a ^ mix64(b ^ local) ^ arch_cycles()) | 1;
}

/*
 * Every lock, in the lock order written at the top of core/central.c (the
 * one place it is stated): the outer ones, the centrals, the pools, the
 * inner ones.
 */
static struct mutex_lock *const outer_locks[] = {
	&drain_lock, &cache_list_mutex, &region_lock, &remote_lock,
};
static struct mutex_lock *const inner_locks[] = {
	&huge_lock, &meta_lock,
};

static void fork_prepare(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(outer_locks); i++)
		mutex_lock(outer_locks[i]);
	centrals_lock_all();
	superslab_pool_lock_all();
	for (size_t i = 0; i < ARRAY_SIZE(inner_locks); i++)
		mutex_lock(inner_locks[i]);
}

static void fork_parent(void)
{
	for (size_t i = ARRAY_SIZE(inner_locks); i-- > 0;)
		mutex_unlock(inner_locks[i]);
	superslab_pool_unlock_all();
	centrals_unlock_all();
	for (size_t i = ARRAY_SIZE(outer_locks); i-- > 0;)
		mutex_unlock(outer_locks[i]);
}

static void fork_child(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(inner_locks); i++)
		mutex_init(inner_locks[i]);
	superslab_pool_reinit();
	centrals_reinit_locks();
	for (size_t i = 0; i < ARRAY_SIZE(outer_locks); i++)
		mutex_init(outer_locks[i]);
	background_fork_child();
}

/**
 * alloc_init_slow() - set the allocator up, once
 *
 * The first caller does the work; a recursive call from inside it (a libc
 * function it calls allocating) returns at once and is served directly
 * from the central pools; other threads wait.
 */
void alloc_init_slow(void)
{
	int expected = INIT_NONE;

	if (init_owner)
		return;
	if (!atomic_compare_exchange_strong(&init_state, &expected,
					    INIT_RUNNING)) {
		while (atomic_load(&init_state) < INIT_BASIC)
			cpu_relax();
		return;
	}
	init_owner = 1;
	secrets_init();
	options_load();
	regions_layout();
	atomic_store_explicit(&init_state, INIT_BASIC, memory_order_release);
	tcache_init();
	remote_init();
	percpu_init();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	atomic_store_explicit(&init_state, INIT_READY, memory_order_release);
	init_owner = 0;
}

/**
 * cache_list_lock() - serialise creation and destruction of caches
 */
void cache_list_lock(void)
{
	mutex_lock(&cache_list_mutex);
}

/**
 * cache_list_unlock() - release the cache list lock
 */
void cache_list_unlock(void)
{
	mutex_unlock(&cache_list_mutex);
}

/*
 * Learns the topology: on a machine with more than one node, from libnuma
 * (linked into a static program, whose constructor may run after ours:
 * then the first refill learns it; loaded here by libhakmem.so). Until
 * then, allocations are served from the boot pool.
 */
__attribute__((constructor)) static void lib_constructor(void)
{
	alloc_init();
	if (!options_loaded())
		options_load();
	topology_allow_learning();
	topology_init();
	background_start();
}

__attribute__((destructor)) static void lib_destructor(void)
{
	background_stop();
	if (option_get(OPT_STATS))
		hak_stats_print(2);
}
