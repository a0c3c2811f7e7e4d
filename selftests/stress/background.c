// SPDX-License-Identifier: MIT
/*
 * Background thread selftest (TAP): without HAKMEM_BACKGROUND there is no
 * thread; with it (the program runs itself again with HAKMEM_BACKGROUND=1)
 * the memory of a burst goes back to the system while the program makes
 * no allocator call at all; a fork with the thread running gives a child
 * with a working allocator and a thread of its own; the thread stops at
 * exit.
 *
 * Every wait is for an observed effect, with a generous bound: nothing
 * here depends on how fast the machine is.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../core/background.h"
#include "../../core/options.h"
#include "../lib/tap.h"

#define DECAY_MS	50
/* the bound of every wait: 200 decay periods */
#define WAIT_ROUNDS	200
#define FIRST_PASS_WAIT_S	60	/* a bound, not a timing: see wait_first_pass() */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RSS_MEANINGFUL	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RSS_MEANINGFUL	0
#endif
#endif
#ifndef RSS_MEANINGFUL
#define RSS_MEANINGFUL	1
#endif

/* TSan cannot start threads after a multi-threaded fork (die_after_fork). */
#if defined(__SANITIZE_THREAD__)
#define FORK_THREADS_OK	0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FORK_THREADS_OK	0
#endif
#endif
#ifndef FORK_THREADS_OK
#define FORK_THREADS_OK	1
#endif

/* Resident KiB from /proc/self/statm, read without any allocation. */
static long rss_kb(void)
{
	char buf[128];
	long resident = 0;
	ssize_t n;
	char *s;
	int fd = open("/proc/self/statm", O_RDONLY);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	s = strchr(buf, ' ');
	if (s)
		resident = strtol(s + 1, NULL, 10);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Threads of this process named "hakmem-bg". */
static int bg_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, "hakmem-bg", 9))
			n++;
		if (f)
			fclose(f);
	}
	closedir(d);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void test_off(void)
{
	tap_result(!background_running() && bg_threads() == 0,
		   "HAKMEM_BACKGROUND unset: no background thread (%d running)",
		   bg_threads());
}

static void test_on(void)
{
	tap_result(background_running() && bg_threads() == 1,
		   "HAKMEM_BACKGROUND=1: one background thread (%d running)",
		   bg_threads());
}

/*
 * A burst of small objects, all freed but the first of each SuperSlab
 * (so SuperSlabs cannot simply be unmapped); the dirty cap is lifted so
 * only decay acts. Then no allocator call: the thread alone must bring
 * RSS down.
 */
static void test_rss_quiet(void)
{
	enum { N = 600000 };
	void **v = malloc(N * sizeof(*v));	/* glibc's, not ours */
	uintptr_t last_ss = 0;
	long base, peak, after = 0, dirty_max;
	int rounds;

	hak_trim();
	option_values[OPT_DECAY_MS] = DECAY_MS;
	dirty_max = option_values[OPT_DIRTY_MAX_KB];
	option_values[OPT_DIRTY_MAX_KB] = 1L << 22;
	base = rss_kb();
	for (long i = 0; i < N; i++) {
		v[i] = hak_malloc(100);
		memset(v[i], 3, 100);
	}
	/* before the frees: the thread may already purge while they run */
	peak = rss_kb();
	for (long i = 0; i < N; i++) {
		uintptr_t ss = (uintptr_t)v[i] >> 21;

		if (ss != last_ss) {
			last_ss = ss;
			continue;
		}
		hak_free(v[i]);
		v[i] = NULL;
	}
	for (rounds = 0; rounds < WAIT_ROUNDS; rounds++) {
		after = rss_kb();
		if (after < base + (peak - base) / 4)
			break;
		sleep_ms(DECAY_MS);
	}
	for (long i = 0; i < N; i++)
		hak_free(v[i]);
	free(v);
	hak_trim();
	option_values[OPT_DECAY_MS] = 1000;
	option_values[OPT_DIRTY_MAX_KB] = dirty_max;
	tap_result(after < base + (peak - base) / 4,
		   "quiet program: RSS %ld -> %ld -> %ld KiB with no allocator call, after %d of at most %d waits of a decay period",
		   base, peak, after, rounds, WAIT_ROUNDS);
}

enum { STORM_THREADS = 2, STORM_OBJS = 150000 };
static _Atomic long storm_peak;	/* RSS with a thread's storm allocated */

/* One storm: small objects of 16..256 bytes and a huge block, all freed. */
static void *storm_thread(void *arg)
{
	void **v = arg;
	char *big = hak_malloc(4 << 20);
	long rss;

	if (big)
		memset(big, 5, 4 << 20);
	for (long i = 0; i < STORM_OBJS; i++) {
		v[i] = hak_malloc(16 + (size_t)(i * 37) % 241);
		if (v[i])
			memset(v[i], 1, 16);
	}
	rss = rss_kb();
	for (long peak = storm_peak; rss > peak;)
		if (atomic_compare_exchange_weak(&storm_peak, &peak, rss))
			break;
	for (long i = 0; i < STORM_OBJS; i++)
		hak_free(v[i]);
	hak_free(big);
	return NULL;
}

/*
 * bench/storm's pattern: threads allocate and free everything, then exit;
 * the objects sit in per-CPU caches, the central pools' transfer arrays
 * and stashes, free slabs, and the huge block in the huge cache. With
 * no allocator call after the threads are joined, the thread must give
 * back (almost) all of it: RSS ends within an eighth of the burst above
 * where it started.
 */
static void test_rss_storm(void)
{
	pthread_t th[STORM_THREADS];
	void **v = malloc(STORM_THREADS * STORM_OBJS * sizeof(*v)); /* glibc's */
	long base = 0, peak, after = 0;
	int rounds, ok = v != NULL;

	option_values[OPT_DECAY_MS] = DECAY_MS;
	option_values[OPT_HUGE_DECAY_MS] = 1L << 30;	/* only the thread */
	/* twice: the first run's thread stacks and metadata stay resident */
	for (int run = 0; ok && run < 2; run++) {
		hak_trim();
		base = rss_kb();
		storm_peak = 0;
		for (int t = 0; ok && t < STORM_THREADS; t++)
			ok = !pthread_create(&th[t], NULL, storm_thread,
					     v + (long)t * STORM_OBJS);
		for (int t = 0; ok && t < STORM_THREADS; t++)
			pthread_join(th[t], NULL);
	}
	peak = storm_peak;
	for (rounds = 0; ok && rounds < WAIT_ROUNDS; rounds++) {
		after = rss_kb();
		if (after < base + (peak - base) / 8)
			break;
		sleep_ms(DECAY_MS);
	}
	free(v);
	option_values[OPT_DECAY_MS] = 1000;
	option_values[OPT_HUGE_DECAY_MS] = 1000;
	tap_result(ok && after < base + (peak - base) / 8,
		   "threads' storm, threads exited: RSS %ld -> %ld -> %ld KiB with no allocator call, after %d of at most %d waits of a decay period",
		   base, peak, after, rounds, WAIT_ROUNDS);
}

/* In a child: allocate, free, check the thread is back; exit status 0/1. */
static int child_work(void)
{
	void *p[1000];
	int ok = 1;

	alarm(120);	/* a deadlock ends as SIGALRM, not a hung test */
	for (int r = 0; r < 20; r++) {
		for (int i = 0; i < 1000; i++) {
			p[i] = hak_malloc((size_t)(i % 50) * 40 + 8);
			ok &= p[i] != NULL;
		}
		for (int i = 0; i < 1000; i++)
			hak_free(p[i]);
	}
	/* the child's thread restarted; let it run a pass */
	ok &= background_running();
	background_work();
	return ok ? 0 : 1;
}

/*
 * Waits (polling, FIRST_PASS_WAIT_S at most) until the thread finished a
 * pass: its start-up is over. Under ASan it must be before a fork: the
 * thread's start allocates from ASan's allocator (pthread_getattr_np()
 * in ASan's thread start), and gcc 12's libasan takes no allocator lock
 * around fork(), so a fork in that window left the lock held in the child,
 * whose own new thread then waited on it forever (seen in CI: a child
 * killed by its alarm after 120 s). Return: 1 once it has.
 */
static int wait_first_pass(void)
{
	for (int i = 0; i < FIRST_PASS_WAIT_S * 100; i++) {
		if (background_passes() > 0)
			return 1;
		sleep_ms(10);
	}
	return 0;
}

/*
 * Forks while the thread runs (with a short decay period it is often
 * inside a pass, holding pool or drain locks): the child allocates and
 * frees, has a thread of its own, and exits through the destructor,
 * which stops that thread.
 */
static void test_fork(void)
{
	int ok = 1, forks = 20, bad = 0;

	option_values[OPT_DECAY_MS] = 0;	/* passes every 10 ms */
	if (!wait_first_pass()) {
		tap_result(0, "%d forks with the thread running: the thread finished no pass in %d s",
			   forks, FIRST_PASS_WAIT_S);
		return;
	}
	for (int f = 0; f < forks; f++) {
		void *keep[64];
		int status = 0;
		pid_t pid;

		for (int i = 0; i < 64; i++)
			keep[i] = hak_malloc(2000);
		for (int i = 0; i < 64; i++)
			hak_free(keep[i]);
		pid = fork();
		if (pid < 0) {
			ok = 0;
			break;
		}
		if (pid == 0)
			exit(child_work());
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			bad++;
			ok = 0;
		}
	}
	option_values[OPT_DECAY_MS] = 1000;
	tap_result(ok, "%d forks with the thread running: %d children failed",
		   forks, bad);
}

/*
 * exit() from a child whose thread is running: the destructor stops and
 * joins it, and the child's exit status is its own. The parent waits
 * with a bound (WAIT_ROUNDS * 50 ms) and kills a child that hangs.
 */
static void test_exit(void)
{
	int status = 0, rounds;
	pid_t pid = fork(), got = 0;

	if (pid < 0) {
		tap_result(0, "fork failed");
		return;
	}
	if (pid == 0) {
		hak_free(hak_malloc(100));
		exit(background_running() ? 7 : 1);
	}
	for (rounds = 0; rounds < WAIT_ROUNDS; rounds++) {
		got = waitpid(pid, &status, WNOHANG);
		if (got)
			break;
		sleep_ms(50);
	}
	if (!got) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	tap_result(got == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7,
		   "exit with the thread running: %s, status %d",
		   got == pid ? "exited" : "hung (killed)",
		   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(int argc, char **argv)
{
	const char *env = getenv("HAKMEM_BACKGROUND");

	(void)argc;
	hak_free(hak_malloc(1));
	if (!env || strcmp(env, "1")) {
		/* first run: off; then again with the thread on */
		tap_plan(6);
		test_off();
		setenv("HAKMEM_BACKGROUND", "1", 1);
		/* the result of the first run goes on through the exec */
		setenv("BG_SELFTEST_FAILED", tap_fail ? "1" : "0", 1);
		execv("/proc/self/exe", argv);
		tap_result(0, "execv failed: %s", strerror(errno));
		return tap_exit();
	}
	/* the plan and the first result came before exec */
	tap_n = 1;
	tap_fail = getenv("BG_SELFTEST_FAILED") &&
		   !strcmp(getenv("BG_SELFTEST_FAILED"), "1");
	test_on();
	if (RSS_MEANINGFUL) {
		test_rss_quiet();
		test_rss_storm();
	} else {
		tap_skip_test("RSS after a burst", "sanitizer build: RSS is the sanitizer's");
		tap_skip_test("RSS after threads' storm", "sanitizer build: RSS is the sanitizer's");
	}
	if (FORK_THREADS_OK) {
		test_fork();
		test_exit();	/* its child is a fork too */
	} else {
		tap_skip_test("forks with the thread running",
			      "TSan cannot start threads after a multi-threaded fork");
		tap_skip_test("exit with the thread running",
			      "TSan cannot start threads after a multi-threaded fork");
	}
	return tap_exit();
}
