// SPDX-License-Identifier: MIT
/*
 * Bulk allocation and free (the kernel's kmem_cache_alloc_bulk() and
 * kmem_cache_free_bulk()): a batch moves between the caller and this
 * CPU's bin without a lock (per-thread mode: one copy; per-CPU mode: one
 * rseq critical section, see cpu_pop_batch()), and what the bin cannot
 * give or take moves to and from the central pool in batches of at most
 * HAK_MAX_BATCH, one central lock each. A bin that is short (or does not
 * exist yet) first takes the single-object slow path once, which sets it
 * up and sizes it as a miss of a single call does.
 *
 * A free makes every check free_fast() makes, but the checks of the slab
 * (registry bit, cache, owner, node) once per run of consecutive objects
 * of one slab; each object then costs its index check and its free tag.
 * Objects that must go elsewhere than this CPU's bin (of another CPU's
 * span, of another node, or every object in the poisoning mode) take the
 * path free() gives them, one at a time; the others go to the bin straight
 * from the caller's array. A thread that migrates between reading its CPU
 * and the push only puts some objects of its old CPU's spans into its new
 * CPU's bin, as a slow path may (core/percpu.c): locality, not correctness.
 */
#include <errno.h>
#include <string.h>

#include "bulk.h"
#include "cache.h"
#include "free.h"
#include "frontend.h"
#include "init.h"
#include "hakmem/hakmem.h"

/*
 * The owner id of this CPU's spans (as core/percpu.c computes it), or
 * HAK_OWNER_NONE: per-thread mode, or no valid CPU in the rseq area.
 */
static unsigned int bulk_owner(void)
{
	const char *tp;
	uint32_t v;

	if (!fast_rseq.on)
		return HAK_OWNER_NONE;
	tp = arch_thread_pointer();
	v = *(const volatile uint32_t *)(tp + fast_rseq.cpu_off);
	return v < HAK_MAX_CPUS ? v : HAK_OWNER_NONE;
}

/*
 * Per-CPU mode: one critical section moves the whole batch (as many as
 * the bin holds, or has room for), committed by one store; a miss (empty
 * or full bin, no region yet) moves nothing and gives 0.
 */
static unsigned int cpu_pop_batch(unsigned int id, void **out, unsigned int n)
{
	return n ? rseq_pop_batch(&fast_rseq, cpu_regions, id, out, n) : 0;
}

static unsigned int cpu_push_batch(unsigned int id, void *const *objs,
				   unsigned int n)
{
	return n ? rseq_push_batch(&fast_rseq, cpu_regions, id, objs, n) : 0;
}

/* Up to @n cached objects from this thread's region (per-thread mode). */
static unsigned int tc_pop_batch(unsigned int id, void **out, unsigned int n)
{
	struct fc_region *r = tc_region;
	struct fc_bin *b = &r->bin[id];
	unsigned int have = (unsigned int)(b->current - b->begin);

	if (n > have)
		n = have;
	if (!n)		/* also: no region yet (fc_empty, shared: not written) */
		return 0;
	b->current = (uint16_t)(b->current - n);
	memcpy(out, &r->slots[b->current], n * sizeof(void *));
	return n;
}

/* Up to @n tagged objects into this thread's region (per-thread mode). */
static unsigned int tc_push_batch(unsigned int id, void *const *objs,
				  unsigned int n)
{
	struct fc_region *r = tc_region;
	struct fc_bin *b = &r->bin[id];
	unsigned int room = (unsigned int)(b->end - b->current);

	if (n > room)
		n = room;
	if (!n)		/* also: no region yet (fc_empty, shared: not written) */
		return 0;
	memcpy(&r->slots[b->current], objs, n * sizeof(void *));
	b->current = (uint16_t)(b->current + n);
	return n;
}

/* What this CPU's (or thread's) bin gives of @n objects, in one go. */
static unsigned int bin_pop_batch(unsigned int id, void **out, size_t n)
{
	unsigned int want = n < HAK_MAX_BATCH ? (unsigned int)n : HAK_MAX_BATCH;

	if (fast_rseq.on)
		return cpu_pop_batch(id, out, want);
	return tc_pop_batch(id, out, want);
}

/*
 * The bin was short of @n objects (or there is none yet): one object
 * through the slow path, which sets the bin up, sizes it and refills it
 * as a single allocation's miss does, then what the bin now holds.
 *
 * Return: the objects put in @out, in their cached state.
 */
static unsigned int bin_fill(struct hak_cache *c, void **out, size_t n)
{
	void *p = cache_alloc_slow(c);

	if (!p)
		return 0;
	*(uintptr_t *)((uintptr_t)p + c->free_off) = free_tag((uintptr_t)p);
	out[0] = p;
	return 1 + bin_pop_batch(c->id, out + 1, n - 1);
}

/**
 * bulk_return() - give cached (tagged free) objects back to the central
 * pools of their nodes
 * @c: their cache
 * @n: how many
 * @objs: the objects
 *
 * Each goes to the stash of its span's owner, the transfer array or its
 * span (central_drain() with HAK_OWNER_SPAN), whoever calls.
 */
void bulk_return(struct hak_cache *c, size_t n, void **objs)
{
	while (n) {
		unsigned int k = n < HAK_MAX_BATCH ? (unsigned int)n :
						     HAK_MAX_BATCH;

		central_drain(c, objs, k, HAK_OWNER_SPAN);
		objs += k;
		n -= k;
	}
}

/**
 * bulk_take() - take @n objects in their cached state, all or none
 * @c: the cache
 * @n: how many
 * @objs: where they go
 *
 * First what this CPU's bin holds (one critical section); if that is
 * short, one object through the slow path, which sets the bin up and
 * refills it, and what the bin then holds (bin_fill()); then batches of
 * at most HAK_MAX_BATCH from the central pool of this node (the nearest
 * one when it cannot map memory). The objects stay tagged free
 * and constructed; the caller claims them (fc_claim()).
 *
 * Return: @n, or 0 with errno ENOMEM and nothing taken.
 */
size_t bulk_take(struct hak_cache *c, size_t n, void **objs)
{
	unsigned int owner = bulk_owner();
	size_t got = bin_pop_batch(c->id, objs, n);

	if (got < n && !poison_on())
		got += bin_fill(c, objs + got, n - got);
	while (got < n) {
		size_t left = n - got;
		unsigned int want = left < HAK_MAX_BATCH ? (unsigned int)left :
							   HAK_MAX_BATCH;
		unsigned int k = central_refill(c, objs + got, want, owner);

		if (unlikely(!k)) {
			bulk_return(c, got, objs);
			errno = ENOMEM;
			return 0;
		}
		got += k;
	}
	return n;
}

/* Poisoning mode: one checked allocation at a time, all or none. */
static size_t alloc_bulk_poison(struct hak_cache *c, size_t n, void **objs)
{
	for (size_t i = 0; i < n; i++) {
		objs[i] = poison_alloc(c);
		if (unlikely(!objs[i])) {
			while (i--)
				free_fast(objs[i], c->id);
			errno = ENOMEM;
			return 0;
		}
	}
	return n;
}

HAK_EXPORT size_t hak_cache_alloc_bulk(struct hak_cache *c, size_t n,
				       void **objs)
{
	uint32_t free_off;

	if (unlikely(!n))
		return 0;
	if (poison_on())
		return alloc_bulk_poison(c, n, objs);
	if (!bulk_take(c, n, objs))
		return 0;
	free_off = c->free_off;
	for (size_t i = 0; i < n; i++)	/* as the hit paths claim them */
		fc_claim_fast(free_off, objs[i]);
	return n;
}

/*
 * What the objects of one slab share, checked once for a run of
 * consecutive objects of that slab (the same 64 KiB, so the same
 * SuperSlab, registry bit and read-only half line): the per-object checks
 * are then a multiplication, a compare and the tag.
 */
struct bulk_run {
	uintptr_t key;		/* its slab: address >> HAK_SLAB_SHIFT */
	const struct slab_ro *ro;
	uintptr_t base;		/* the span's first byte */
	uint64_t inv;		/* see slab_obj_div() */
	unsigned int shift;	/* trailing zero bits of the stride */
	uint32_t free_off;
	uint32_t carved;
	int local;		/* its objects may join this CPU's bin */
};

/*
 * Whether the objects of @ro's span may join the batch for this CPU's
 * bin: its span is this CPU's (per-CPU mode) and its node this thread's;
 * never in the poisoning mode.
 */
static int bulk_local(const struct slab_ro *ro, uintptr_t a, unsigned int owner,
		      unsigned int home)
{
	if (poison_on())
		return 0;
	if (fast_rseq.on &&
	    (owner == HAK_OWNER_NONE ||
	     (uint16_t)owner != __atomic_load_n(&ro->owner, __ATOMIC_RELAXED)))
		return 0;
	return !topology_multi() || ss_of((void *)a)->node == home;
}

/*
 * Opens the run of the slab holding @a: 1 if the slab is one of ours and
 * held by @c (the checks free_fast() makes once per object), else 0 and
 * no run (free_slow() then says what is wrong with the object).
 */
static int run_open(struct bulk_run *run, const struct hak_cache *c,
		    uintptr_t a, unsigned int owner, unsigned int home)
{
	const struct slab_ro *ro;

	if (unlikely(!registry_test(a)))
		return 0;
	ro = ro_of(ss_of((void *)a), a);
	if (unlikely(ro->cache_id != c->id))
		return 0;
	run->ro = ro;
	run->base = ro->base;
	run->inv = ro->inv;
	run->shift = slab_stride_shift(ro);
	run->free_off = ro->free_off;
	/* Only grows while the span lives: a stale copy errs to the slow path. */
	run->carved = __atomic_load_n(&ro->carved, __ATOMIC_RELAXED);
	run->local = bulk_local(ro, a, owner, home);
	run->key = a >> HAK_SLAB_SHIFT;
	return 1;
}

/**
 * run_scan() - check and tag the objects of the open run
 * @run: the run (opened on the slab of objs[@i])
 * @objs: the objects
 * @i: the first of them to look at
 * @n: how many there are
 *
 * Each object of the run's slab gets free_fast()'s object checks: the
 * start of an object handed out (slab_obj_div() below the carved count)
 * and, hardened, not tagged free already; it is then tagged free. While
 * the objects are held here their span cannot go back to its SuperSlab,
 * so the run's copy of the slab's fields holds for all of them.
 *
 * Return: the index of the first object not taken: @n, an object of
 * another slab, or one that failed a check.
 */
static size_t run_scan(const struct bulk_run *run, void *const *objs, size_t i,
		       size_t n)
{
	const uintptr_t key = run->key, base = run->base;
	const uint64_t inv = run->inv;
	const unsigned int shift = run->shift, carved = run->carved;
	const uint32_t free_off = run->free_off;

	for (; i < n; i++) {
		uintptr_t a = (uintptr_t)objs[i];

		if (unlikely(a >> HAK_SLAB_SHIFT != key))
			break;
		if (unlikely(obj_div(a - base, inv, shift) >= carved))
			break;
#ifdef CONFIG_HARDENED
		uintptr_t *tag = (uintptr_t *)(a + free_off);

		if (unlikely(*tag == free_tag(a)))
			break;
		*tag = free_tag(a);
#else
		(void)free_off;
#endif
	}
	return i;
}

/*
 * Tagged objects of this CPU's spans and node into its bin, in one go;
 * a full bin (or none yet) takes the slow path for one object, which
 * sets the bin up or drains it, then the rest follows in one go again.
 * What still finds no room goes to the central pool.
 */
static void bulk_push(struct hak_cache *c, void *const *objs, size_t n,
		      unsigned int owner)
{
	int slow = 0;

	while (n) {
		unsigned int k = n < HAK_MAX_BATCH ? (unsigned int)n :
						     HAK_MAX_BATCH;
		unsigned int i = fast_rseq.on ? cpu_push_batch(c->id, objs, k) :
						tc_push_batch(c->id, objs, k);

		if (i < k && !slow) {
			cache_free_slow(c, objs[i++]);
			slow = 1;
		} else if (i < k) {
			central_drain(c, (void **)(objs + i), k - i, owner);
			i = k;
		}
		objs += i;
		n -= i;
	}
}

HAK_EXPORT void hak_cache_free_bulk(struct hak_cache *c, size_t n,
				    void **objs)
{
	unsigned int owner = bulk_owner(), home;
	struct bulk_run run;
	size_t i = 0, start = 0;

	home = topology_multi() ? topology_home_node() : 0;
	while (i < n) {
		size_t j;

		if (unlikely(!run_open(&run, c, (uintptr_t)objs[i], owner,
				       home)))
			goto bad;
		j = run_scan(&run, objs, i, n);
		if (unlikely(j == i))
			goto bad;
		if (likely(run.local)) {
			i = j;		/* objs[start..j - 1] go to the bin */
			continue;
		}
		bulk_push(c, objs + start, i - start, owner);
		for (; i < j; i++)
			free_checked(c->id, objs[i], &run.ro->owner);
		start = i;
		continue;
bad:
		bulk_push(c, objs + start, i - start, owner);
		free_slow(objs[i], c, "hak_cache_free_bulk");
		start = ++i;
	}
	bulk_push(c, objs + start, n - start, owner);
}
