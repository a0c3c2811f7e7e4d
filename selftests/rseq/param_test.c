// SPDX-License-Identifier: MIT
/*
 * rseq selftest (TAP), in the spirit of Linux's
 * tools/testing/selftests/rseq/param_test.c: many more threads than CPUs
 * pop and push tokens through the allocator's per-CPU critical sections
 * (arch/<arch>/rseq.h, compiled here with delay loops injected at numbered
 * points), while threads bounce between CPUs and a signal storm interrupts
 * them. The invariant: a token is held by at most one thread at a time,
 * and at the end every token sits in exactly one bin. The owned tests push
 * with rseq_push_owned(), each token belonging to a CPU: at the end every
 * token in a CPU's own bin belongs to it and every token in its foreign
 * bin to another. The batch tests do
 * the same with rseq_pop_batch() and rseq_push_batch(), whose copy loops
 * run inside the critical section.
 *
 * Then the allocator itself under the same abuse: malloc/free from
 * bouncing, signalled threads, no address handed out twice.
 *
 * Usage: param_test [-t threads] [-r repetitions] [-1 loops] [-2 loops]
 *                   [-3 loops] [-A] [-S] [-B]
 * The -1/-2/-3 loop counts replace those of the "custom delays" test.
 * -A runs the allocator test alone (the token tests are skipped), -S
 * without its signal storm, -B without its CPU bouncing: to tell which
 * makes a slow run slow.
 * Exit: 0 pass, 1 fail, 4 skip (no per-CPU mode in this process).
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int loop_cnt[4];

#if defined(__x86_64__)
#define RSEQ_INJECT_ASM(n)					\
	"movl %[loop_cnt_" #n "], %%eax\n\t"			\
	"testl %%eax, %%eax\n\t"				\
	"jz 555f\n\t"						\
	"444:\n\t"						\
	"decl %%eax\n\t"					\
	"jnz 444b\n\t"						\
	"555:\n\t"
#define RSEQ_INJECT_CLOBBER	, "eax"
#elif defined(__aarch64__)
#define RSEQ_INJECT_ASM(n)					\
	"	ldr	w4, %[loop_cnt_" #n "]\n"		\
	"	cbz	w4, 555f\n"				\
	"444:\n"						\
	"	sub	w4, w4, #1\n"				\
	"	cbnz	w4, 444b\n"				\
	"555:\n"
#define RSEQ_INJECT_CLOBBER	, "x4"
#endif
#define RSEQ_INJECT_INPUT	, [loop_cnt_1] "m"(loop_cnt[1]), \
	[loop_cnt_2] "m"(loop_cnt[2]), [loop_cnt_3] "m"(loop_cnt[3])

#include "hakmem/hakmem.h"
#include "../../core/fastcache.h"
#include "../lib/cpu.h"
#include "../lib/liveset.h"
#include "../lib/tap.h"

#define NTOK		512
#define TEST_ID		1
#define MAX_THREADS	128
#define MAX_BATCH	16

/*
 * The same layout as the allocator's: the guard slots (for -1 and -2) and
 * every CPU slot point to a region, the guards to an empty one.
 */
static struct cpu_table table;
static struct fc_region empty_region;
#define regions	(table.cpu)
static struct { char pad[64]; } tok[NTOK];
static _Atomic int owner[NTOK];
static _Atomic long errors, sig_ops, cut_pushes;
static _Atomic int stop, finished;
static int nthreads = 16;
static long reps = 100000;
static int ncpus;
static int bounce, storm, batch, owned;
static int alloc_only, alloc_storm = 1, alloc_bounce = 1;
static uint16_t tok_owner[NTOK];	/* owned tests: the token's CPU */

#define FOREIGN_ID	(TEST_ID + HAK_FOREIGN_BIN)
#define FOREIGN_CAP	4	/* a full foreign bin makes the push miss */

static int tok_index(void *p)
{
	return (int)((char *)p - (char *)tok) / (int)sizeof(tok[0]);
}

static void hold(void *p, int me)
{
	int i = tok_index(p), expected = 0;

	if (i < 0 || i >= NTOK || (void *)&tok[i] != p ||
	    !atomic_compare_exchange_strong(&owner[i], &expected, me)) {
		atomic_fetch_add(&errors, 1);
		return;
	}
	atomic_store(&owner[i], 0);
}

/* No bin past its end, now: a batch push that is not cut would pass it. */
static void bins_in_bounds(void)
{
	for (int cpu = 0; cpu < ncpus; cpu++) {
		struct fc_region *r = regions[cpu];
		struct fc_bin *b = &r->bin[TEST_ID];

		if (__atomic_load_n(&b->current, __ATOMIC_RELAXED) > b->end)
			atomic_fetch_add(&errors, 1);
	}
}

static void move_to_random_cpu(unsigned int *seed)
{
	pin_to_cpu(rand_r(seed) % ncpus);
}

/*
 * A push found this CPU's bin full (the bins hold only a little more than
 * their share of the tokens, so that pushes get cut) or no valid region:
 * let the CPU's other threads pop, and now and then try another CPU.
 */
static void push_missed(unsigned int *misses)
{
	sched_yield();
	if (++*misses % 16 == 0)
		pin_to_cpu((int)(*misses / 16) % ncpus);
}

/* One pop and push; retries while the bin is full or there is no region. */
static void cycle(int me)
{
	unsigned int misses = 0;
	void *p;

	if (!rseq_pop(&fast_rseq, regions, TEST_ID, &p))
		return;
	hold(p, me);
	while (!rseq_push(&fast_rseq, regions, TEST_ID, p))
		push_missed(&misses);
}

/*
 * A batch of up to @want tokens: every one claimed at once (a token popped
 * twice, here or by another thread, fails its claim), released, and
 * pushed back, in as many pushes as the bins' room allows.
 */
static void cycle_batch(int me, unsigned int want, unsigned int *seed)
{
	void *p[MAX_BATCH];
	unsigned int n, k = 0, done = 0, misses = 0, got;
	int expected;

	n = rseq_pop_batch(&fast_rseq, regions, TEST_ID, p, want);
	if (n > want)
		atomic_fetch_add(&errors, 1);
	for (unsigned int i = 0; i < n && i < MAX_BATCH; i++) {
		int t = tok_index(p[i]);

		expected = 0;
		if (t < 0 || t >= NTOK || (void *)&tok[t] != p[i] ||
		    !atomic_compare_exchange_strong(&owner[t], &expected, me))
			atomic_fetch_add(&errors, 1);	/* not ours to put back */
		else
			p[k++] = p[i];
	}
	for (unsigned int i = 0; i < k; i++)
		atomic_store(&owner[tok_index(p[i])], 0);
	if (seed && rand_r(seed) % 64 == 0)	/* carry them elsewhere */
		move_to_random_cpu(seed);
	while (done < k) {	/* pushes get cut when the bin fills */
		got = rseq_push_batch(&fast_rseq, regions, TEST_ID, p + done,
				      k - done);
		if (got > k - done)
			atomic_fetch_add(&errors, 1);
		if (!got)
			push_missed(&misses);
		else if (got < k - done)
			atomic_fetch_add_explicit(&cut_pushes, 1,
						  memory_order_relaxed);
		done += got;
	}
	bins_in_bounds();
}

/*
 * A pop from this CPU's own bin or its foreign bin (by @i's parity), and a
 * push into whichever of the two the token's owner picks.
 */
static void cycle_owned(int me, long i)
{
	unsigned int misses = 0;
	void *p;

	if (!rseq_pop(&fast_rseq, regions, (i & 1) ? FOREIGN_ID : TEST_ID, &p))
		return;
	hold(p, me);
	while (!rseq_push_owned(&fast_rseq, regions, TEST_ID, p,
				&tok_owner[tok_index(p)]))
		push_missed(&misses);
}

static void on_signal(int sig)
{
	static _Atomic long n;

	(void)sig;
	if (batch)
		cycle_batch(-1, 4, NULL);
	else if (owned)
		cycle_owned(-1, atomic_fetch_add(&n, 1));
	else
		cycle(-1);
	atomic_fetch_add(&sig_ops, 1);
}


static void *worker(void *arg)
{
	int me = (int)(intptr_t)arg;
	unsigned int seed = (unsigned int)me * 7919;

	/* a slow path registers this thread's own rseq area if glibc did not */
	hak_free(hak_malloc(64));
	/* a batch moves 8.5 tokens on average: a quarter of the cycles */
	for (long i = 0; i < (batch ? reps / 4 : reps); i++) {
		if (batch)
			cycle_batch(me, 1 + (unsigned int)(i % MAX_BATCH),
				    &seed);
		else if (owned)
			cycle_owned(me, i);
		else
			cycle(me);
		if (bounce && (i & 255) == 0)
			move_to_random_cpu(&seed);
	}
	atomic_fetch_add(&finished, 1);
	return NULL;
}

static void *storm_thread(void *arg)
{
	pthread_t *t = arg;

	while (!atomic_load(&stop))
		for (int i = 0; i < nthreads; i++)
			pthread_kill(t[i], SIGUSR1);
	return NULL;
}

/*
 * Each CPU's bin holds its share of the tokens and a little more (a
 * quarter of a batch), so that full bins and cut batch pushes are common. The
 * slots behind the bin's end exist, so a push past it would not crash
 * but break the bound tokens_conserved() checks.
 */
static int setup_regions(void)
{
	int cap = NTOK / ncpus + MAX_BATCH / 4;

	table.guard[0] = table.guard[1] = &empty_region;
	for (int cpu = 0; cpu < ncpus && cpu < HAK_MAX_CPUS; cpu++) {
		struct fc_region *r = calloc(1, sizeof(*r) +
						 (2 * NTOK + 2) * sizeof(void *));
		struct fc_bin *f;

		if (!r)
			return -1;
		r->bin[TEST_ID].end = (uint16_t)(cap < NTOK ? cap : NTOK);
		f = &r->bin[FOREIGN_ID];	/* small: it fills up */
		f->begin = f->current = NTOK + 1;
		f->end = NTOK + 1 + FOREIGN_CAP;
		regions[cpu] = r;
	}
	for (int i = 0; i < NTOK; i++) {
		struct fc_region *r = regions[i % ncpus];

		tok_owner[i] = (uint16_t)(i % ncpus);	/* in its own bin */
		r->slots[r->bin[TEST_ID].current++] = &tok[i];
	}
	return 0;
}

/*
 * Every token in exactly one bin, none held; in the owned tests every
 * token of a CPU's own bin belongs to it, every token of its foreign bin
 * to another CPU.
 */
static int tokens_conserved(void)
{
	static int seen[NTOK];
	int total = 0;

	memset(seen, 0, sizeof(seen));
	for (int cpu = 0; cpu < ncpus; cpu++) {
		struct fc_region *r = regions[cpu];

		for (int id = TEST_ID; id <= FOREIGN_ID; id += HAK_FOREIGN_BIN) {
			const struct fc_bin *b = &r->bin[id];

			if (b->current > b->end)
				return 0;
			for (int s = b->begin; s < b->current; s++) {
				int i = tok_index(r->slots[s]);

				if (i < 0 || i >= NTOK || seen[i]++ ||
				    (owned && (tok_owner[i] == cpu) !=
					      (id == TEST_ID)))
					return 0;
				total++;
			}
		}
	}
	return total == NTOK;
}

/*
 * A thread may only be signalled until it is joined: wait for all workers
 * to finish, stop the storm, then join.
 */
static void join_all(pthread_t *t, pthread_t *st, int with_storm)
{
	while (atomic_load(&finished) < nthreads)
		usleep(1000);
	atomic_store(&stop, 1);
	if (with_storm)
		pthread_join(*st, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
}

static void run_token_test(const char *name, int l1, int l2, int l3,
			   int do_bounce, int do_storm, int kind)
{
	pthread_t t[MAX_THREADS], st;

	loop_cnt[1] = l1, loop_cnt[2] = l2, loop_cnt[3] = l3;
	bounce = do_bounce, storm = do_storm;
	batch = kind == 1, owned = kind == 2;
	if (owned)	/* the tokens now in a CPU's own bin become its own */
		for (int cpu = 0; cpu < ncpus; cpu++) {
			struct fc_region *r = regions[cpu];

			for (int s = r->bin[TEST_ID].begin;
			     s < r->bin[TEST_ID].current; s++)
				tok_owner[tok_index(r->slots[s])] = (uint16_t)cpu;
		}
	atomic_store(&errors, 0);
	atomic_store(&stop, 0);
	atomic_store(&finished, 0);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)(i + 1));
	if (storm)
		pthread_create(&st, NULL, storm_thread, t);
	join_all(t, &st, storm);
	tap_result(!atomic_load(&errors) && tokens_conserved(),
		   "%s: %d threads x %ld ops on %d CPUs, loops %d/%d/%d: %ld errors",
		   name, nthreads, batch ? reps / 4 : reps, ncpus, l1, l2, l3,
		   atomic_load(&errors));
}

/*
 * Progress of the allocator test, counted in operations (never in time):
 * a TAP comment each time the threads together pass another tenth of
 * their work, so that a slow run can be told from a stuck one.
 */
static _Atomic long alloc_ops, alloc_sig_ops0;

static void alloc_progress(long n)
{
	long total = (long)nthreads * reps, step = total / 10;
	long before = atomic_fetch_add(&alloc_ops, n);

	if (step <= 0 || (before + n) / step == before / step)
		return;
	printf("# allocator: %ld of %ld malloc/free done, %d of %d threads finished, %ld signal handlers\n",
	       before + n, total, atomic_load(&finished), nthreads,
	       atomic_load(&sig_ops) - atomic_load(&alloc_sig_ops0));
	fflush(stdout);
}

static void *alloc_worker(void *arg)
{
	unsigned int seed = (unsigned int)(intptr_t)arg;
	void *held[64] = { 0 };

	for (long i = 0; i < reps; i++) {
		int k = rand_r(&seed) % 64;

		if (held[k]) {
			if (liveset_del(held[k]))
				atomic_fetch_add(&errors, 1);
			hak_free(held[k]);
		}
		held[k] = hak_malloc((size_t)(rand_r(&seed) % 512) + 1);
		if (!held[k] || liveset_add(held[k]))
			atomic_fetch_add(&errors, 1);
		if (alloc_bounce && (i & 127) == 0)
			move_to_random_cpu(&seed);
		if ((i & 63) == 63)
			alloc_progress(64);
	}
	alloc_progress(reps & 63);
	for (int k = 0; k < 64; k++) {
		if (held[k] && liveset_del(held[k]))
			atomic_fetch_add(&errors, 1);
		hak_free(held[k]);
	}
	atomic_fetch_add(&finished, 1);
	return NULL;
}

static void run_alloc_test(void)
{
	pthread_t t[MAX_THREADS], st;

	atomic_store(&errors, 0);
	atomic_store(&stop, 0);
	atomic_store(&finished, 0);
	atomic_store(&alloc_sig_ops0, atomic_load(&sig_ops));
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, alloc_worker, (void *)(intptr_t)(i + 1));
	if (alloc_storm)
		pthread_create(&st, NULL, storm_thread, t);
	join_all(t, &st, alloc_storm);
	tap_result(!atomic_load(&errors),
		   "allocator: %d%s%s threads x %ld malloc/free: %ld errors",
		   nthreads, alloc_bounce ? " bouncing" : "",
		   alloc_storm ? " signalled" : "", reps,
		   atomic_load(&errors));
}

int main(int argc, char **argv)
{
	struct hak_global_stats st;
	int custom[4] = { 0, 200, 100, 300 };
	int opt;

	while ((opt = getopt(argc, argv, "t:r:1:2:3:ASB")) != -1) {
		if (opt == 'A')
			alloc_only = 1;
		else if (opt == 'S')
			alloc_storm = 0;
		else if (opt == 'B')
			alloc_bounce = 0;
		else if (opt == 't')
			nthreads = atoi(optarg);
		else if (opt == 'r')
			reps = atol(optarg);
		else if (opt >= '1' && opt <= '3')
			custom[opt - '0'] = atoi(optarg);
	}
	if (nthreads < 1 || nthreads > MAX_THREADS)
		nthreads = 16;
	hak_free(hak_malloc(1));	/* start the allocator up */
	hak_global_stats(&st);
	tap_plan(13);
	tap_diag("fast path: %s (%s)", st.mode, st.mode_reason);
	if (!fast_rseq.on) {
		for (int i = 0; i < 13; i++)
			tap_skip_test("rseq", "per-CPU mode not in force");
		return tap_exit();
	}
	ncpus = (int)sysconf(_SC_NPROCESSORS_CONF);
	if (setup_regions() || liveset_init()) {
		perror("setup");
		return 1;
	}
	signal(SIGUSR1, on_signal);
	if (alloc_only) {
		for (int i = 0; i < 12; i++)
			tap_skip_test("tokens", "-A: the allocator test alone");
		owned = 1;	/* the handlers do what they do after the tokens */
		run_alloc_test();
		return tap_exit();
	}
	run_token_test("tokens", 0, 0, 0, 0, 0, 0);
	run_token_test("tokens, delays injected", 20, 50, 100, 0, 0, 0);
	run_token_test("tokens, CPU bouncing", 5, 10, 20, 1, 0, 0);
	run_token_test("tokens, signal storm", 5, 10, 20, 0, 1, 0);
	run_token_test("tokens, everything", 50, 50, 50, 1, 1, 0);
	run_token_test("tokens, custom delays", custom[1], custom[2], custom[3], 0, 0, 0);
	run_token_test("batches", 0, 0, 0, 0, 0, 1);
	run_token_test("batches, delays injected", 20, 50, 100, 0, 0, 1);
	run_token_test("batches, everything", 50, 50, 50, 1, 1, 1);
	run_token_test("owned", 0, 0, 0, 0, 0, 2);
	run_token_test("owned, delays injected", 20, 50, 100, 0, 0, 2);
	run_token_test("owned, everything", 50, 50, 50, 1, 1, 2);
	tap_diag("signal handlers ran %ld critical sections", atomic_load(&sig_ops));
	tap_diag("batch pushes cut by a full bin: %ld", atomic_load(&cut_pushes));
	run_alloc_test();
	return tap_exit();
}
