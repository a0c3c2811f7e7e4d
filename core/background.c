// SPDX-License-Identifier: MIT
/*
 * The background thread. Decay otherwise happens only on the allocator's
 * slow paths, so a program that goes quiet keeps its free memory until it
 * calls malloc again. With HAKMEM_BACKGROUND=1 one thread wakes every half
 * decay period (HAKMEM_DECAY_MS) and runs background_work(): the decay
 * ticks of the pools, the drain of idle CPUs' caches, and the purges they
 * lead to. jemalloc's background_thread and tcmalloc's background
 * actions are the models.
 *
 * A pass that finds the program quiet (no CPU's cache took a slow path
 * and no span was taken or released since the previous pass, half a decay
 * period before) gives back everything free at once: the central pools'
 * transfer arrays and stashes go back to their spans, empty spans to their
 * SuperSlabs, free slabs are purged, empty SuperSlabs and the cached huge
 * mappings unmapped, as hak_trim() does (huge allocations and frees count
 * as traffic too). So the memory of a program that went quiet returns
 * within one decay period.
 *
 * Off (the default), there is no thread and no check on any path.
 * The thread blocks every signal, holds no allocator lock while it
 * sleeps, is started again in the child of a fork (fork_child in
 * core/init.c), and is stopped and joined by the library's destructor.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "background.h"
#include "central.h"
#include "compiler.h"
#include "huge.h"
#include "percpu.h"
#include "options.h"
#include "os.h"
#include "rcu.h"
#include "superslab.h"

#define BG_MIN_SLEEP_MS	10

static pthread_mutex_t bg_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond;
static pthread_t bg_thread;
static int bg_running;		/* under bg_mutex */
static int bg_stop;		/* under bg_mutex */
/* the quiet check's state, between passes: under work_mutex */
static pthread_mutex_t work_mutex = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_traffic;
static int released;		/* this quiet spell's release is done */
static _Atomic unsigned long bg_passes;	/* passes the thread finished */

/* The decay steps of a pass other than the drain of idle CPUs' caches. */
static void decay_work(void)
{
	uint64_t now;

	/* pools: purge dirty free slabs, unmap idle huge-page SuperSlabs */
	superslab_decay();
	now = os_now_ms();
	/* freed huge mappings: MADV_FREE, then unmapped (core/huge.c) */
	huge_decay(now);
	/* deferred frees: partial batches of CPUs that stopped deferring */
	rcu_decay(now);
}

/* Everything free goes back: a quiet program's release (as hak_trim()). */
static void quiet_release(void)
{
	central_shrink_all();
	superslab_purge(1);
	huge_trim();
}

static uint64_t traffic_now(void)
{
	return superslab_traffic() + huge_ops();
}

/*
 * One pass of the thread: the decay work, one scan for idle CPUs' caches
 * (which is also the scan a decay tick asks for: two scans moments apart
 * would take every CPU for idle), and the release when the program was
 * quiet since the previous pass (once per quiet spell).
 */
static void background_pass(void)
{
	uint64_t traffic = traffic_now();
	int active;

	decay_work();
	/* every pass scans: also the scan a decay tick just asked for */
	active = percpu_scan_idle();
	pthread_mutex_lock(&work_mutex);
	if (active || traffic != last_traffic) {
		released = 0;
	} else if (!released) {
		quiet_release();
		released = 1;
	}
	/* after the drain and the release: their own span traffic is not news */
	last_traffic = traffic_now();
	pthread_mutex_unlock(&work_mutex);
	atomic_fetch_add_explicit(&bg_passes, 1, memory_order_release);
}

/**
 * background_work() - one pass of the decay work
 *
 * The list of everything that must happen while the program is quiet:
 * each decay source adds its step here. Also the selftests' way to drive
 * the decay clock without waiting for the thread. Call it with no
 * allocator lock held.
 */
void background_work(void)
{
	decay_work();
	/* per-CPU caches that took no slow path for a whole tick */
	percpu_drain_idle();
}

/* Half a decay period, at least BG_MIN_SLEEP_MS, from now. */
static void next_wake(struct timespec *ts)
{
	long ms = option_get(OPT_DECAY_MS) / 2;

	if (ms < BG_MIN_SLEEP_MS)
		ms = BG_MIN_SLEEP_MS;
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *background_main(void *arg)
{
	struct timespec ts;

	(void)arg;
	pthread_mutex_lock(&bg_mutex);
	while (!bg_stop) {
		pthread_mutex_unlock(&bg_mutex);
		background_pass();
		next_wake(&ts);
		pthread_mutex_lock(&bg_mutex);
		while (!bg_stop && pthread_cond_timedwait(&bg_cond, &bg_mutex,
							  &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&bg_mutex);
	return NULL;
}

/* A condition variable on the monotonic clock (no allocation). */
static void cond_init(void)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&bg_cond, &attr);
	pthread_condattr_destroy(&attr);
}

/* Creates the thread with every signal blocked; under bg_mutex. */
static void start_locked(void)
{
	sigset_t all, old;

	if (bg_running || !option_get(OPT_BACKGROUND))
		return;
	cond_init();
	bg_stop = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (!pthread_create(&bg_thread, NULL, background_main, NULL)) {
		bg_running = 1;
		pthread_setname_np(bg_thread, "hakmem-bg");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/**
 * background_start() - start the thread if HAKMEM_BACKGROUND=1
 *
 * From the library's constructor, once the options are read. A failure to
 * create the thread leaves the allocator as without it.
 */
void background_start(void)
{
	pthread_mutex_lock(&bg_mutex);
	start_locked();
	pthread_mutex_unlock(&bg_mutex);
}

/**
 * background_stop() - stop the thread and wait for it
 *
 * From the library's destructor; the thread finishes its current pass.
 */
void background_stop(void)
{
	int running;

	pthread_mutex_lock(&bg_mutex);
	running = bg_running;
	bg_stop = 1;
	if (running)
		pthread_cond_signal(&bg_cond);
	pthread_mutex_unlock(&bg_mutex);
	if (running)
		pthread_join(bg_thread, NULL);
	pthread_mutex_lock(&bg_mutex);
	bg_running = 0;
	pthread_mutex_unlock(&bg_mutex);
}

/**
 * background_fork_child() - start the thread again in a forked child
 *
 * The child has only the thread that called fork(). Called from the
 * child's fork handler after the allocator's locks are reset: the mutex
 * is reset too (the parent's thread may have held it) and a new thread
 * started.
 */
void background_fork_child(void)
{
	pthread_mutex_init(&bg_mutex, NULL);
	pthread_mutex_init(&work_mutex, NULL);
	bg_running = 0;
	atomic_store_explicit(&bg_passes, 0, memory_order_relaxed);
	pthread_mutex_lock(&bg_mutex);
	start_locked();
	pthread_mutex_unlock(&bg_mutex);
}

/**
 * background_running() - whether the background thread runs
 *
 * Return: 1 if it does.
 */
int background_running(void)
{
	int running;

	pthread_mutex_lock(&bg_mutex);
	running = bg_running;
	pthread_mutex_unlock(&bg_mutex);
	return running;
}

/**
 * background_passes() - passes the background thread finished
 *
 * Counted from the thread's start (from 0 again in a forked child's new
 * thread). A count above 0 says the thread is past its start-up and in its
 * loop: the selftests wait for it before they fork.
 *
 * Return: the number of passes.
 */
unsigned long background_passes(void)
{
	return atomic_load_explicit(&bg_passes, memory_order_acquire);
}
