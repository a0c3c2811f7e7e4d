// SPDX-License-Identifier: MIT
/*
 * The per-CPU mode: fast-path regions indexed by the CPU number the kernel
 * keeps in each thread's rseq area (cpu_id, or mm_cid with
 * HAKMEM_CPU_ID=mm_cid), operated on by the restartable sequences of
 * arch/<arch>/rseq.h.
 *
 * rseq registration: glibc's when it made one (__rseq_offset), else our
 * own thread-local area, registered on each thread's first slow path and
 * unregistered at thread exit. No field the kernel owns is ever written
 * while registered.
 *
 * Slow paths move whole batches between the central pool and this CPU's
 * bin one rseq push or pop at a time: a thread may migrate between two of
 * them, which only means the rest of the batch lands on the new CPU.
 *
 * Another CPU's region (for hak_trim, shrink, destroy) is drained by
 * detaching it (its pointer set to NULL, so new sequences fail), then a
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) fence, which aborts
 * every sequence in flight: afterwards no thread can touch the region.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/auxv.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../arch/rseq-abi.h"
#include "bin_size.h"
#include "central.h"
#include "debug.h"
#include "init.h"
#include "options.h"
#include "percpu.h"
#include "region.h"
#include "superslab.h"
#include "tcache.h"
#include "../numa/topology.h"

enum { OWN_NONE, OWN_REGISTERED, OWN_DEAD };
enum { PREP_READY, PREP_RETRY, PREP_FALLBACK, PREP_DIRECT };

struct rseq_ctx fast_rseq;
uint8_t free_direct;
struct cpu_table percpu_table;

static __thread struct rseq_abi own_area
	__attribute__((tls_model("initial-exec"))) = {
	.cpu_id = RSEQ_ABI_CPU_ID_UNINITIALIZED,
	.mm_cid = RSEQ_ABI_CPU_ID_UNINITIALIZED,
};
static __thread int own_state __attribute__((tls_model("initial-exec")));
static int own_mode;
static int membarrier_ok;
static pthread_key_t own_key;
static _Atomic int cpus_seen;
/* taken around fork() by core/init.c */
struct mutex_lock drain_lock = HAK_LOCK_INIT;
static const char *mode_name = "per-thread";
static const char *mode_reason = "not initialised yet";

/*
 * Slow operations the process makes before any CPU gets a region: a
 * program that allocates a few objects never maps one, nor a central's
 * per-CPU state (Documentation/tuning.rst, "The footprint of a small
 * program"). Until then each operation goes to the central pools.
 */
static _Atomic int lazy_ops = HAK_LAZY_OPS;

/* CPU slots of percpu_table filled by table_init() */
static int table_cpus;

/*
 * The highest possible CPU number + 1, from sysfs with plain system calls
 * (start-up must not allocate); HAK_MAX_CPUS when it cannot be read.
 */
static int possible_cpus(void)
{
	char buf[256];
	long n, last = -1, v = -1;
	int fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return HAK_MAX_CPUS;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	for (long i = 0; i < n; i++) {
		if (buf[i] >= '0' && buf[i] <= '9')
			v = (v < 0 ? 0 : v * 10) + (buf[i] - '0');
		else if (v >= 0) {
			last = v > last ? v : last;
			v = -1;
		}
	}
	if (v > last)
		last = v;
	if (last < 0 || last >= HAK_MAX_CPUS)
		return HAK_MAX_CPUS;
	return (int)last + 1;
}

/* Every slot a CPU index can reach points to the empty region. */
static void table_init(void)
{
	table_cpus = possible_cpus();
	percpu_table.guard[0] = percpu_table.guard[1] = &fc_empty;
	for (int cpu = 0; cpu < table_cpus; cpu++)
		cpu_regions[cpu] = &fc_empty;
}

static int own_register(void)
{
	return (int)syscall(__NR_rseq, &own_area, sizeof(own_area), 0,
			    HAK_RSEQ_SIG);
}

static void own_thread_exit(void *arg)
{
	(void)arg;
	syscall(__NR_rseq, &own_area, sizeof(own_area), RSEQ_FLAG_UNREGISTER,
		HAK_RSEQ_SIG);
	/* unregistered: the area is ours again; make every sequence fail */
	own_area.cpu_id = RSEQ_ABI_CPU_ID_UNINITIALIZED;
	own_area.mm_cid = RSEQ_ABI_CPU_ID_UNINITIALIZED;
	own_state = OWN_DEAD;
}

/* Registers this thread in our own mode; 0 on success. */
static int own_thread_start(void)
{
	if (own_state != OWN_NONE)
		return own_state == OWN_REGISTERED ? 0 : -1;
	if (own_register()) {
		own_state = OWN_DEAD;
		return -1;
	}
	own_state = OWN_REGISTERED;
	pthread_setspecific(own_key, (void *)1);
	return 0;
}

static int glibc_registered(void)
{
	const char *tp = arch_thread_pointer();

	if (!__rseq_size)
		return 0;
	return *(const volatile uint32_t *)(tp + __rseq_offset + RSEQ_ABI_CPU_ID) <
	       HAK_MAX_CPUS;
}

static intptr_t pick_cpu_field(void)
{
	if (option_get(OPT_CPU_ID) != 1)
		return RSEQ_ABI_CPU_ID;
	if (getauxval(AT_RSEQ_FEATURE_SIZE) >= RSEQ_ABI_MM_CID_END) {
		mode_name = "per-CPU rseq (mm_cid)";
		return RSEQ_ABI_MM_CID;
	}
	mode_reason = "HAKMEM_CPU_ID=mm_cid asked, but the kernel has no mm_cid: using cpu_id";
	return RSEQ_ABI_CPU_ID;
}

/*
 * Per-CPU when rseq works (glibc's registration, or ours) and
 * HAKMEM_RSEQ is not 0; per-thread otherwise. The reason is kept for the
 * statistics.
 */
static void choose_mode(void)
{
	intptr_t base;

	if (!option_get(OPT_RSEQ)) {
		mode_reason = "rseq disabled by HAKMEM_RSEQ=0";
		return;
	}
	if (glibc_registered()) {
		base = __rseq_offset;
		mode_reason = "glibc's rseq registration";
	} else {
		pthread_key_create(&own_key, own_thread_exit);
		base = (char *)&own_area - (char *)arch_thread_pointer();
		own_mode = 1;
		if (own_thread_start()) {
			own_mode = 0;
			mode_reason = errno == ENOSYS ?
				"no rseq: the kernel (or valgrind, or qemu-user) lacks the system call" :
				"rseq registration refused";
			return;
		}
		mode_reason = "own rseq registration (glibc made none)";
	}
	mode_name = "per-CPU rseq (cpu_id)";
	table_init();
	fast_rseq.cpu_off = base + pick_cpu_field();
	fast_rseq.cs_off = base + RSEQ_ABI_RSEQ_CS;
	membarrier_ok = syscall(__NR_membarrier,
				MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
				0, 0) == 0;
	fast_rseq.on = 1;
}

/*
 * Recomputes free_direct: when the fast-path mode is chosen and
 * whenever the topology is published (a hook of topology.c). A free that
 * still sees the old value only puts an object of another node into this
 * CPU's cache for a while: no harm.
 */
static void mode_update(void)
{
	int direct = fast_rseq.on && !topology_multi();

	__atomic_store_n(&free_direct, (uint8_t)direct,
			 __ATOMIC_RELAXED);
}

/*
 * Where this process's threads find their rseq area, for the topology
 * (the node of the current CPU): the thread-pointer relative offset, or
 * INTPTR_MIN when the process has none. Works in the per-thread mode
 * too, when glibc registered rseq. *@has_node_id: the kernel fills
 * node_id.
 */
static intptr_t rseq_area(int *has_node_id)
{
	*has_node_id = getauxval(AT_RSEQ_FEATURE_SIZE) >= RSEQ_ABI_NODE_ID_END;
	if (fast_rseq.on)
		return fast_rseq.cs_off - RSEQ_ABI_RSEQ_CS;
	if (glibc_registered())
		return __rseq_offset;
	return INTPTR_MIN;
}

/**
 * percpu_mode_name() - the fast-path mode in force
 *
 * Return: a static string.
 */
const char *percpu_mode_name(void)
{
	return mode_name;
}

/**
 * percpu_mode_reason() - why that mode is in force
 *
 * Return: a static string.
 */
const char *percpu_mode_reason(void)
{
	return mode_reason;
}

/* This thread's CPU index, or -1 (unregistered, or beyond the table). */
static int current_cpu(void)
{
	const char *tp = arch_thread_pointer();
	uint32_t v = *(const volatile uint32_t *)(tp + fast_rseq.cpu_off);

	return v < (uint32_t)table_cpus ? (int)v : -1;
}

/* The owner id of this CPU's spans (core/cache.c). */
static unsigned int current_owner(void)
{
	int cpu = current_cpu();

	return cpu < 0 ? HAK_OWNER_NONE : (unsigned int)cpu;
}

static void note_cpu(int cpu)
{
	int seen = atomic_load_explicit(&cpus_seen, memory_order_relaxed);

	while (cpu >= seen &&
	       !atomic_compare_exchange_weak(&cpus_seen, &seen, cpu + 1))
		;
}

/*
 * Idle CPUs: a region that took no slow path during a whole decay tick
 * (HAKMEM_DECAY_MS) while still holding objects is drained by the next
 * slow path of any thread after the tick, so a CPU whose threads went
 * away (or sleep) does not keep memory cached. Such a CPU, holding
 * objects or not, is also marked gone in the centrals
 * (central_cpus_leave()): the objects they keep for it become any CPU's
 * until its next slow path. Ticks come from the pools (core/superslab.c),
 * under a pool lock: they only raise a flag.
 */
static _Atomic int idle_scan_due;
static uint32_t idle_seen_ops[HAK_MAX_CPUS];
/* the regions a drain detached, by CPU; under drain_lock */
static struct fc_region *detached[HAK_MAX_CPUS];
/* the CPUs a scan found idle, to mark gone; under drain_lock */
static uint8_t going[HAK_MAX_CPUS];

/*
 * A decay tick passed (a hook of superslab.c): cold bins may shrink, and
 * idle CPUs are looked for soon.
 */
static void idle_tick(void)
{
	bins_tick();
	if (fast_rseq.on && membarrier_ok)
		atomic_store_explicit(&idle_scan_due, 1, memory_order_relaxed);
}

static int region_holds_objects(const struct fc_region *r)
{
	for (unsigned int bin = 0; bin < FC_NR_BINS; bin++)
		if (r->bin[bin].current != r->bin[bin].begin)
			return 1;
	return 0;
}

/* Fences, then flushes the detached regions of @n CPUs and puts them back. */
static void drain_detached(int n)
{
	syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0);
	for (int cpu = 0; cpu < n; cpu++) {
		void *expected = &fc_empty;
		struct fc_region *r = detached[cpu];

		if (r == &fc_empty)
			continue;
		region_flush(r);
		if (!atomic_compare_exchange_strong(
			    (void *_Atomic *)&cpu_regions[cpu], &expected, r))
			region_put(r);
	}
}

/* Marks gone in the centrals the CPUs a scan found idle (going[]). */
static void leave_idle(int n)
{
	for (int cpu = 0; cpu < n; cpu++)
		if (going[cpu])
			central_cpus_leave((unsigned int)cpu);
}

/* Returns the CPUs with slow-path activity since the last scan, or -1. */
static int drain_idle(void)
{
	int n = atomic_load(&cpus_seen), found = 0, active = 0, idle = 0;

	if (!mutex_trylock(&drain_lock))
		return -1;	/* another drain is running: it will do */
	atomic_store_explicit(&idle_scan_due, 0, memory_order_relaxed);
	for (int cpu = 0; cpu < n; cpu++) {
		struct fc_region *r = atomic_load_explicit(
			(void *_Atomic *)&cpu_regions[cpu],
			memory_order_acquire);
		uint32_t ops;

		detached[cpu] = &fc_empty;
		going[cpu] = 0;
		if (r == &fc_empty)
			continue;
		ops = __atomic_load_n(&r->slow_ops, __ATOMIC_RELAXED);
		if (ops != idle_seen_ops[cpu]) {	/* a slow path since */
			idle_seen_ops[cpu] = ops;
			active++;
			continue;
		}
		if (!central_cpu_is_gone((unsigned int)cpu)) {
			going[cpu] = 1;
			idle = 1;
		}
		if (region_holds_objects(r)) {
			detached[cpu] = atomic_exchange(
				(void *_Atomic *)&cpu_regions[cpu],
				&fc_empty);
			found = 1;
		}
	}
	if (found)
		drain_detached(n);
	if (idle)	/* after the flush, which fed the transfer arrays */
		leave_idle(n);
	mutex_unlock(&drain_lock);
	return active;
}

/**
 * percpu_drain_idle() - drain idle CPUs' caches if a decay tick asked for it
 *
 * For the background thread, which has no slow path of its own to do it
 * from. Call it with no allocator lock held.
 */
void percpu_drain_idle(void)
{
	if (atomic_load_explicit(&idle_scan_due, memory_order_relaxed))
		drain_idle();
}

/**
 * percpu_scan_idle() - look for idle CPUs now and drain their caches
 *
 * For the background thread, which runs it every pass rather than only
 * after a decay tick: a CPU whose cache took no slow path since the
 * previous scan is drained.
 *
 * Return: the number of CPUs whose caches took a slow path since the
 * previous scan; 0 without per-CPU caches; -1 when another drain runs.
 */
int percpu_scan_idle(void)
{
	if (!fast_rseq.on || !membarrier_ok)
		return 0;
	return drain_idle();
}

/*
 * A slow path on the region of @owner (this CPU's, as the slow path read
 * it): counts as activity, and the centrals keep its objects for it again
 * if it was gone; may scan for idle CPUs.
 */
static void slow_path_done(unsigned int owner)
{
	central_cpu_back(owner);
	if (owner != HAK_OWNER_NONE) {
		struct fc_region *r = atomic_load_explicit(
			(void *_Atomic *)&cpu_regions[owner],
			memory_order_relaxed);

		/* no locked add: a lost count still leaves a change */
		if (r != &fc_empty)
			__atomic_store_n(&r->slow_ops,
					 __atomic_load_n(&r->slow_ops,
							 __ATOMIC_RELAXED) + 1,
					 __ATOMIC_RELAXED);
	}
	if (unlikely(atomic_load_explicit(&idle_scan_due,
					  memory_order_relaxed)))
		drain_idle();
}

/* 1 while the process is young: this operation skips the regions. */
static int percpu_lazy(void)
{
	if (likely(atomic_load_explicit(&lazy_ops, memory_order_relaxed) <= 0))
		return 0;
	return atomic_fetch_sub_explicit(&lazy_ops, 1,
					 memory_order_relaxed) > 0;
}

/* Makes sure this thread can use its CPU's region. */
static int percpu_prepare(void)
{
	struct fc_region *r;
	void *expected = &fc_empty;
	int cpu;

	if (own_mode && own_thread_start())
		return PREP_FALLBACK;
	cpu = current_cpu();
	if (cpu < 0)
		return PREP_FALLBACK;
	if (atomic_load_explicit((void *_Atomic *)&cpu_regions[cpu],
				 memory_order_acquire) != &fc_empty)
		return PREP_READY;
	if (unlikely(percpu_lazy()))
		return PREP_DIRECT;
	r = region_get();
	if (!r)
		return PREP_FALLBACK;
	if (!atomic_compare_exchange_strong((void *_Atomic *)&cpu_regions[cpu],
					    &expected, r))
		region_put(r);
	note_cpu(cpu);
	return PREP_RETRY;
}

/* The batch of bin @bin (of cache @c) of @owner's region (bin_batch()). */
static unsigned int batch_size(const struct hak_cache *c, unsigned int owner,
			       unsigned int bin, uint16_t dir)
{
	struct fc_region *r;

	if (owner == HAK_OWNER_NONE)
		return c->batch;
	r = atomic_load_explicit((void *_Atomic *)&cpu_regions[owner],
				 memory_order_relaxed);
	if (r == &fc_empty)
		return c->batch;
	return bin_batch(c, r, bin, dir, 1);
}

/**
 * percpu_alloc_slow() - per-CPU mode: the bin was empty (or no region)
 * @c: the cache
 *
 * Return: the object, or NULL with errno ENOMEM.
 */
void *percpu_alloc_slow(struct hak_cache *c)
{
	void *batch[HAK_MAX_BATCH];
	unsigned int n, i, owner;
	void *p;

	for (;;) {
		if (rseq_pop(&fast_rseq, cpu_regions, c->id, &p))
			return fc_claim(c, p);
		switch (percpu_prepare()) {
		case PREP_FALLBACK:
			return tcache_alloc_slow(c);
		case PREP_DIRECT:
			return tcache_alloc_direct(c);
		case PREP_RETRY:
			continue;
		}
		break;
	}
	owner = current_owner();
	n = batch_size(c, owner, c->id, FC_LAST_REFILL);
	n = central_refill(c, batch, n ? n : 1, owner);	/* one is handed out */
	if (!n) {
		errno = ENOMEM;
		return NULL;
	}
	p = batch[--n];
	i = n ? rseq_push_batch(&fast_rseq, cpu_regions, c->id, batch, n) : 0;
	HAK_BUG_ON(i > n);
	if (i < n)
		central_drain(c, batch + i, n - i, HAK_OWNER_NONE);
	slow_path_done(owner);
	return fc_claim(c, p);
}

/**
 * percpu_free_slow() - per-CPU mode: the bin was full (or no region)
 * @c: the cache of @p
 * @p: a checked object, already tagged free
 *
 * The bin is this CPU's bin of the cache, or its foreign bin when @p's
 * span belongs to another CPU (see free_checked()); a full foreign bin
 * goes back to the owners' stashes.
 */
void percpu_free_slow(struct hak_cache *c, void *p)
{
	void *batch[HAK_MAX_BATCH];
	const uint16_t *pownp = obj_owner_slot(p);
	unsigned int n = 0, owner, bin, to;

	for (;;) {
		if (rseq_push_owned(&fast_rseq, cpu_regions, c->id, p,
				    pownp))
			return;
		switch (percpu_prepare()) {
		case PREP_FALLBACK:
			tcache_free_slow(c, p);
			return;
		case PREP_DIRECT:
			central_drain(c, &p, 1, HAK_OWNER_NONE);
			return;
		case PREP_RETRY:
			continue;
		}
		break;
	}
	owner = current_owner();
	/*
	 * As the sequence decides: a foreign bin's objects go back to their
	 * owners' stashes, this CPU's own to its stash or the transfer array.
	 */
	bin = c->id;
	to = owner;
	if ((uint16_t)owner != obj_owner(p)) {
		bin += HAK_FOREIGN_BIN;
		to = HAK_OWNER_SPAN;
	}
	n = batch_size(c, owner, bin, FC_LAST_DRAIN);
	if (n)
		n = rseq_pop_batch(&fast_rseq, cpu_regions, bin, batch, n);
	if (n)
		central_drain(c, batch, n, to);
	if (!rseq_push_owned(&fast_rseq, cpu_regions, c->id, p, pownp))
		central_drain(c, &p, 1, to);
	slow_path_done(owner);
}

/* Without membarrier only this CPU's bins can be emptied, by popping. */
static int drain_current_cpu(void)
{
	void *batch[HAK_MAX_BATCH];
	int did = 0;

	for (unsigned int bin = 0; bin < FC_NR_BINS; bin++) {
		struct hak_cache *c = bin_cache(bin);
		unsigned int n;

		if (!c)
			continue;
		while ((n = rseq_pop_batch(&fast_rseq, cpu_regions, bin,
					   batch, HAK_MAX_BATCH))) {
			central_drain(c, batch, n, HAK_OWNER_NONE);
			did = 1;
		}
	}
	return did;
}

/**
 * percpu_drain_all() - return the objects cached on every CPU
 *
 * Return: 1 if anything was drained.
 */
int percpu_drain_all(void)
{
	int n = atomic_load(&cpus_seen), did = 0;

	if (!fast_rseq.on)
		return 0;
	if (!membarrier_ok)
		return drain_current_cpu();
	mutex_lock(&drain_lock);
	for (int cpu = 0; cpu < n; cpu++) {
		detached[cpu] = atomic_exchange(
			(void *_Atomic *)&cpu_regions[cpu], &fc_empty);
		did |= detached[cpu] != &fc_empty;
	}
	drain_detached(n);
	mutex_unlock(&drain_lock);
	return did;
}

/**
 * percpu_init() - choose the fast-path mode, once, at start-up
 *
 * Then tells the layers below what they need from it, through their
 * hooks: the topology where the rseq area is and when to recompute
 * free_direct, the SuperSlab pools whom to tell of a decay tick.
 */
void percpu_init(void)
{
	intptr_t area;
	int node_id;

	choose_mode();
	area = rseq_area(&node_id);
	topology_set_rseq_area(area, node_id);
	topology_set_publish_hook(mode_update);
	superslab_set_tick_hook(idle_tick);
	mode_update();
}
