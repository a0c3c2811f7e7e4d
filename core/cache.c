// SPDX-License-Identifier: MIT
/*
 * The central pools of a cache, one per NUMA node: refill hands a batch of
 * objects of the caller's node to a fast-path cache, drain takes objects
 * back to the central of the node that owns them. Whole batches first go through
 * the transfer array (a producer thread's frees feed a consumer thread's
 * allocations without touching any slab); the rest come from and go to the
 * spans on the partial list, carved lazily with a bump index.
 */
#include <string.h>

#include "cache.h"
#include "debug.h"
#include "fmt.h"
#include "options.h"
#include "init.h"
#include "meta.h"
#include "poison.h"
#include "report.h"
#include "hakmem/hakmem.h"

struct hak_cache *hak_caches[HAK_MAX_CACHES];
struct hak_cache hak_kmalloc[HAK_NR_CLASSES];
uintptr_t hak_tag_secret;

#define XFER_BYTES	(512UL << 10)
#define XFER_MAX	256UL
#define STASH_MAX	64U	/* 2 batches of the smallest objects */

/* 1 / (the odd part of @stride) mod 2^64, by Newton's iteration. */
static uint64_t inv_of(uint32_t stride)
{
	uint64_t d = stride >> __builtin_ctz(stride), x = d;

	for (int i = 0; i < 5; i++)	/* 3, 6, 12, 24, 48, 96 good bits */
		x *= 2 - d * x;
	return x;
}

/*
 * SLUB's calculate_alignment(): a hardware-aligned cache of small objects
 * packs several objects per line rather than one.
 */
static size_t hwcache_align(size_t size, size_t align)
{
	size_t ralign = HAK_CACHELINE;

	while (size <= ralign / 2)
		ralign /= 2;
	return align > ralign ? align : ralign;
}

/*
 * A stride above a cache line that is a whole number of lines keeps every
 * object on the fewest lines, and its header at the start of one: round
 * up to that when it costs at most an eighth more (a constructed cache's
 * 304 + 8 bytes take 320, 472 + 8 take 512; 128 + 8 stay 136, as 192
 * would cost 41%). Smaller strides share lines anyway.
 */
static size_t line_friendly(size_t stride)
{
	size_t lined = round_up(stride, HAK_CACHELINE);

	if (stride > HAK_CACHELINE && (lined - stride) * 8 <= stride)
		return lined;
	return stride;
}

static unsigned int batch_for(uint32_t stride)
{
	long refill = hak_option(OPT_REFILL);
	unsigned long b = (32UL << 10) / stride;

	if (b > (unsigned long)refill)
		b = (unsigned long)refill;
	return b ? (unsigned int)b : 1;
}

/**
 * cache_setup() - compute the layout of a cache
 * @c: zeroed cache to fill (id and central storage are the caller's)
 * @name: name for statistics
 * @size: object size, 1 to HAK_MAX_CLASS_SIZE
 * @align: 0 or a power of two up to 4096
 * @flags: HAK_SLAB_* flags
 * @ctor: constructor or NULL
 *
 * A free object carries a tag word (free_off) wherever it is: a span's
 * free set is its free map, so nothing else is written into free objects.
 * A cache with a constructor keeps the tag after the object (as SLUB keeps
 * its free pointer), so a free object stays constructed.
 *
 * Return: 0, or -1 if the parameters are invalid.
 */
int cache_setup(struct hak_cache *c, const char *name, size_t size,
		size_t align, unsigned long flags, void (*ctor)(void *))
{
	size_t stride;

	if (!size || size > HAK_MAX_CLASS_SIZE || (align && !is_pow2(align)) ||
	    align > 4096)
		return -1;
	if (align < 8)
		align = 8;
	if (flags & HAK_SLAB_HWCACHE_ALIGN)
		align = hwcache_align(size, align);
	size = round_up(size, 8);
	c->free_off = ctor ? (uint32_t)size : 0;
	stride = round_up(ctor ? size + sizeof(void *) : size, align);
	stride = line_friendly(stride);
	c->size = (uint32_t)size;
	c->stride = (uint32_t)stride;
	c->inv = inv_of(c->stride);
	c->span_slabs = (uint16_t)size_class_span_slabs(stride);
	c->objs_per_span = (uint32_t)(((size_t)c->span_slabs <<
				       HAK_SLAB_SHIFT) / stride);
	c->batch = (uint16_t)batch_for(c->stride);
	/* the biggest objects: one per fast-path cache is plenty */
	c->fc_cap = (uint16_t)(c->stride > (128U << 10) ? 1 : 2 * c->batch);
	/*
	 * The transfer array holds at most XFER_BYTES of objects: none of
	 * the biggest, which go straight back to their spans.
	 */
	c->xfer_limit = (uint16_t)(XFER_BYTES / c->stride > XFER_MAX ?
				   XFER_MAX : XFER_BYTES / c->stride);
	if (c->objs_per_span == 1)	/* see span_single() */
		c->xfer_limit = 0;
	c->flags = flags;
	c->ctor = ctor;
	strncpy(c->name, name, sizeof(c->name) - 1);
	c->name[sizeof(c->name) - 1] = '\0';
	hak_lock_init(&c->central.lock);
	c->central.node = HAK_NODE_BOOT;
	atomic_store(&c->node_central[HAK_NODE_BOOT], &c->central);
	return 0;
}

/**
 * central_reset() - empty a central's counters for a recycled descriptor
 * @ct: a central with no spans and no cached objects
 */
void central_reset(struct central *ct)
{
	ct->xfer_count = 0;
	ct->partial = NULL;
	ct->nr_partial = 0;
	ct->nr_spans = ct->inuse = 0;
	ct->refills = ct->drains = ct->ss_refills = 0;
	ct->remote_frees = ct->cross_refills = 0;
	memset(ct->cur, 0, sizeof(ct->cur));
	/* the stashes are empty (no cached objects) and stay for reuse */
}

/**
 * central_get() - the central pool of a cache on a node, made on first use
 * @c: the cache
 * @node: node (pool) index
 *
 * Return: the central, or NULL with errno ENOMEM.
 */
struct central *central_get(struct hak_cache *c, unsigned int node)
{
	struct central *ct = central_peek(c, node);
	uint32_t cap = c->central.xfer_cap;

	if (likely(ct))
		return ct;
	hak_cache_list_lock();
	ct = central_peek(c, node);
	if (!ct) {
		ct = meta_alloc(sizeof(*ct) + cap * sizeof(void *));
		if (ct) {
			hak_lock_init(&ct->lock);
			ct->xfer = (void **)(ct + 1);
			ct->xfer_cap = cap;
			ct->node = node;
			atomic_store_explicit(&c->node_central[node], ct,
					      memory_order_release);
		}
	}
	hak_cache_list_unlock();
	return ct;
}

/**
 * caches_init() - set up the kmalloc caches, one per size class
 *
 * Their transfer arrays are static: this runs before anything can be
 * mapped for metadata.
 */
void caches_init(void)
{
	static void *xfer[HAK_NR_CLASSES][XFER_MAX];
	char name[32];

	for (unsigned int cl = 0; cl < HAK_NR_CLASSES; cl++) {
		struct hak_cache *c = &hak_kmalloc[cl];

		hak_fmt(name, sizeof(name), "kmalloc-%u", hak_class_size[cl]);
		cache_setup(c, name, hak_class_size[cl], 0, 0, NULL);
		c->id = HAK_KMALLOC_FIRST + cl;
		c->central.xfer = xfer[cl];
		c->central.xfer_cap = ARRAY_SIZE(xfer[cl]);
		hak_caches[c->id] = c;
	}
}

static void partial_add(struct central *ct, struct slab_rw *rw)
{
	rw->prev = NULL;
	rw->next = ct->partial;
	if (ct->partial)
		ct->partial->prev = rw;
	ct->partial = rw;
	rw->on_partial = 1;
	ct->nr_partial++;
}

static void partial_del(struct central *ct, struct slab_rw *rw)
{
	if (rw->prev)
		rw->prev->next = rw->next;
	else
		ct->partial = rw->next;
	if (rw->next)
		rw->next->prev = rw->prev;
	rw->next = rw->prev = NULL;
	rw->on_partial = 0;
	ct->nr_partial--;
}

/*
 * Most classes from 57344 bytes up hold one object per span. Such
 * a span is the object: parked in a stash, a transfer array or an empty
 * partial span it would keep its pages from every other class. So their
 * free objects skip stash and transfer array, and an emptied span goes
 * straight back to its SuperSlab, whose dirty free slabs any class reuses
 * first (no page fault). The fast-path bin still keeps one or two.
 */
static int span_single(const struct hak_cache *c)
{
	return c->objs_per_span == 1;
}

static void map_clear(_Atomic uint64_t *map, uint32_t i)
{
	uint64_t w = atomic_load_explicit(&map[i >> 6], memory_order_relaxed);

	atomic_store_explicit(&map[i >> 6], w & ~(1ULL << (i & 63)),
			      memory_order_relaxed);
}

/* Returns the previous state of the bit. */
static int map_set(_Atomic uint64_t *map, uint32_t i)
{
	uint64_t w = atomic_load_explicit(&map[i >> 6], memory_order_relaxed);
	uint64_t bit = 1ULL << (i & 63);

	atomic_store_explicit(&map[i >> 6], w | bit, memory_order_relaxed);
	return (w & bit) != 0;
}

/*
 * Takes up to @want free carved objects of the span, lowest address first,
 * by scanning its free map from rw->hint: no object is read, so the scan
 * costs no cache miss on the objects (they keep their free tag).
 */
static unsigned int span_take_free(struct hak_cache *c, struct slab_rw *rw,
				   void **out, unsigned int want)
{
	struct superslab *ss = ss_of_rw(rw);
	unsigned int head = rw_idx(rw), n = 0;
	_Atomic uint64_t *map = ss->free_map[head];
	uintptr_t base = ss->ro[head].base;
	uint32_t w = rw->hint, words = (rw->carved + 63) / 64;

	while (n < want && rw->nfree && w < words) {
		uint64_t bits = atomic_load_explicit(&map[w], memory_order_relaxed);
		uint64_t take = bits;

		if (w == words - 1 && rw->carved % 64)	/* uncarved stay set */
			take &= (1ULL << (rw->carved % 64)) - 1;
		while (take && n < want) {
			unsigned int b = (unsigned int)__builtin_ctzll(take);

			take &= take - 1;
			bits &= ~(1ULL << b);
			out[n++] = (void *)(base + ((uintptr_t)w * 64 + b) *
						   c->stride);
			HAK_BUG_ON(!rw->nfree);
			rw->nfree--;
		}
		atomic_store_explicit(&map[w], bits, memory_order_relaxed);
		if (!take)
			w++;
	}
	rw->hint = w;
	return n;
}

static unsigned int span_carve(struct hak_cache *c, struct slab_rw *rw,
			       void **out, unsigned int want)
{
	struct superslab *ss = ss_of_rw(rw);
	unsigned int head = rw_idx(rw), n = 0;
	const struct slab_ro *ro = &ss->ro[head];

	while (n < want && rw->carved < c->objs_per_span) {
		map_clear(ss->free_map[head], rw->carved);
		out[n++] = (void *)(ro->base + (uintptr_t)rw->carved * c->stride);
		rw->carved++;
	}
	/* before the objects leave: see slab_ro.carved */
	for (unsigned int k = 0; n && k < ro->nslabs; k++)
		__atomic_store_n(&ss->ro[head + k].carved, (uint16_t)rw->carved,
				 __ATOMIC_RELEASE);
	return n;
}

static int span_exhausted(const struct hak_cache *c, const struct slab_rw *rw)
{
	return !rw->nfree && rw->carved == c->objs_per_span;
}

static unsigned int span_owner(const struct slab_rw *rw)
{
	const struct superslab *ss = ss_of_rw(rw);

	return __atomic_load_n(&ss->ro[rw_idx(rw)].owner, __ATOMIC_RELAXED);
}

/* Every slab of the span says @owner. */
static void span_set_owner(struct slab_rw *rw, unsigned int owner)
{
	struct superslab *ss = ss_of_rw(rw);
	unsigned int head = rw_idx(rw);

	for (unsigned int i = 0; i < ss->ro[head].nslabs; i++)
		__atomic_store_n(&ss->ro[head + i].owner, (uint16_t)owner,
				 __ATOMIC_RELAXED);
}

#define PICK_SCAN	8	/* partial spans looked at for a free one */

/*
 * Another CPU may adopt a span of @owner's that is not the one @owner is
 * carving from and has at most a quarter of its objects out.
 */
static int span_adoptable(const struct hak_cache *c, const struct central *ct,
			  const struct slab_rw *rw, unsigned int owner)
{
	return ct->cur[owner % HAK_CUR_SLOTS] != rw &&
	       rw->inuse * 4 <= c->objs_per_span;
}

/*
 * A partial span near the head for @owner: one it owns, else one nobody
 * owns, else an adoptable one of another CPU; NULL if none.
 */
static struct slab_rw *partial_pick(const struct hak_cache *c,
				    struct central *ct, unsigned int owner)
{
	struct slab_rw *rw = ct->partial, *unowned = NULL, *spare = NULL;

	for (unsigned int k = 0; rw && k < PICK_SCAN; k++, rw = rw->next) {
		unsigned int o = span_owner(rw);

		if (o == owner)
			return rw;
		if (o == HAK_OWNER_NONE) {
			if (!unowned)
				unowned = rw;
		} else if (!spare && span_adoptable(c, ct, rw, o)) {
			spare = rw;
		}
	}
	return unowned ? unowned : spare;
}

/* @rw is still a span of @c that @owner holds (cur[] may be stale). */
static int span_held(const struct hak_cache *c, const struct slab_rw *rw,
		     unsigned int owner)
{
	const struct superslab *ss = ss_of_rw(rw);
	const struct slab_ro *ro = &ss->ro[rw_idx(rw)];

	return ro->stride && ro->cache_id == c->id &&
	       ro->head == rw_idx(rw) && span_owner(rw) == owner;
}

/* Makes @rw the span @owner refills from. */
static void span_adopt(struct central *ct, struct slab_rw *rw,
		       unsigned int owner)
{
	ct->cur[owner % HAK_CUR_SLOTS] = rw;
	if (span_owner(rw) != owner)
		span_set_owner(rw, owner);
}

/*
 * The span to refill from, under the central lock. Each CPU (owner) has
 * its spans, as SLUB has per-CPU slabs: a CPU's objects come from its own
 * spans and, when its cache overflows, go back to its stash or its spans
 * (drain_run()), so two CPUs do not carve neighbouring objects and then
 * write the cache lines they share. When the current span is used up: a
 * partial span of this CPU, one nobody owns or a mostly free one, else a
 * new span; any partial span when no memory can be mapped.
 * Per-thread mode (HAK_OWNER_NONE): the head of the partial list.
 */
static struct slab_rw *span_for(struct hak_cache *c, struct central *ct,
				unsigned int owner)
{
	struct slab_rw *rw;

	if (owner == HAK_OWNER_NONE)
		rw = ct->partial;
	else {
		rw = ct->cur[owner % HAK_CUR_SLOTS];
		if (rw && span_held(c, rw, owner) && !span_exhausted(c, rw))
			return rw;
		rw = partial_pick(c, ct, owner);
	}
	if (!rw) {
		rw = superslab_refill(c, ct->node);
		if (rw) {
			ct->nr_spans++;
			ct->ss_refills++;
			partial_add(ct, rw);
		} else {
			rw = ct->partial;
		}
	}
	if (rw && owner != HAK_OWNER_NONE)
		span_adopt(ct, rw, owner);
	return rw;
}

static void run_ctor(struct hak_cache *c, void **objs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		c->ctor(objs[i]);
}

/*
 * Takes objects from the partial spans (taking new spans as needed).
 * Objects carved fresh are moved to the front of @out and counted in
 * *@fresh, so their constructor can run after the lock is dropped.
 */
static unsigned int refill_from_spans(struct hak_cache *c, struct central *ct,
				      void **out, unsigned int want,
				      unsigned int owner, unsigned int *fresh)
{
	unsigned int n = 0;

	while (n < want) {
		struct slab_rw *rw = span_for(c, ct, owner);
		unsigned int got, carved;

		if (!rw)
			break;
		got = span_take_free(c, rw, out + n, want - n);
		carved = span_carve(c, rw, out + n + got, want - n - got);
		for (unsigned int i = 0; i < carved; i++) {
			void *tmp = out[*fresh];

			out[*fresh] = out[n + got + i];
			out[n + got + i] = tmp;
			(*fresh)++;
		}
		got += carved;
		rw->inuse += got;
		ct->inuse += got;
		n += got;
		HAK_BUG_ON(rw->inuse > c->objs_per_span ||
			   rw->carved > c->objs_per_span ||
			   rw->nfree + rw->inuse > rw->carved);
		if (span_exhausted(c, rw))
			partial_del(ct, rw);
	}
	return n;
}

static unsigned int stash_take(struct central *ct, unsigned int owner,
			       void **out, unsigned int want)
{
	struct cpu_stash *s;
	unsigned int take;

	if (owner == HAK_OWNER_NONE)
		return 0;
	s = ct->stash[owner % HAK_CUR_SLOTS];
	if (!s || !s->n)
		return 0;
	take = want < s->n ? want : s->n;
	s->n -= take;
	memcpy(out, s->objs + s->n, take * sizeof(void *));
	return take;
}

static unsigned int refill_node(struct hak_cache *c, unsigned int node,
				void **out, unsigned int want,
				unsigned int owner, int cross)
{
	struct central *ct = central_get(c, node);
	unsigned int n, take, fresh = 0;

	if (!ct)
		return 0;
	hak_lock(&ct->lock);
	ct->refills++;
	ct->cross_refills += (uint64_t)cross;
	take = stash_take(ct, owner, out, want);
	if (take < want) {
		unsigned int x = want - take < ct->xfer_count ?
				 want - take : ct->xfer_count;

		ct->xfer_count -= x;
		memcpy(out + take, ct->xfer + ct->xfer_count,
		       x * sizeof(void *));
		take += x;
	}
	n = take;
	if (n < want)
		n += refill_from_spans(c, ct, out + n, want - n, owner,
				       &fresh);
	HAK_BUG_ON(n > want || take + fresh > n);
	hak_unlock(&ct->lock);

	if (c->ctor)
		run_ctor(c, out + take, fresh);
	else if (poison_on())	/* fresh objects start poisoned too */
		for (unsigned int i = take; i < take + fresh; i++)
			poison_fill(c, out[i]);
	/* only fresh objects lack the tag: freed ones kept theirs */
	for (unsigned int i = take; i < take + fresh; i++) {
		uintptr_t a = (uintptr_t)out[i];

		*(uintptr_t *)(a + c->free_off) = free_tag(a);
	}
	return n;
}

/**
 * cache_refill() - take up to @want objects from the central pools
 * @c: the cache
 * @out: where to store them
 * @want: how many, at most HAK_MAX_BATCH
 * @owner: the CPU index of the fast-path cache they go to, or
 *	HAK_OWNER_NONE (per-thread mode)
 *
 * From the central of the caller's node; only when that node cannot map
 * memory, from the nearest nodes by distance. The transfer array first,
 * then a span @owner holds already, then any span (which becomes its).
 * Objects come back in their cached state: tagged free, constructed.
 *
 * Return: the number stored; 0 only when no memory could be mapped.
 */
unsigned int cache_refill(struct hak_cache *c, void **out, unsigned int want,
			  unsigned int owner)
{
	unsigned int node, n;

	topology_init();
	node = topology_home_node();
	n = refill_node(c, node, out, want, owner, 0);
	if (unlikely(!n) && topology_multi()) {
		for (unsigned int k = 1; !n && k < hak_topo.nr_nearest[node]; k++)
			n = refill_node(c, hak_topo.nearest[node][k], out, want,
					owner, 1);
	}
	return n;
}

static void span_release(struct central *ct, struct slab_rw *rw)
{
	for (unsigned int k = 0; k < HAK_CUR_SLOTS; k++)
		if (ct->cur[k] == rw)
			ct->cur[k] = NULL;
	partial_del(ct, rw);
	ct->nr_spans--;
	superslab_release_span(ss_of_rw(rw), rw_idx(rw));
}

/*
 * Puts one object back into its span's free set (@ct: its node's central):
 * its free-map bit. The object itself is not touched; it carries its tag.
 */
static void span_put(struct hak_cache *c, struct central *ct, void *obj)
{
	struct superslab *ss = ss_of(obj);
	const struct slab_ro *ro = &ss->ro[slab_idx_of(obj)];
	struct slab_rw *rw = &ss->rw[ro->head];
	long i = slab_obj_index(ro, (uintptr_t)obj, c->objs_per_span);

	if (unlikely(i < 0 || ro->cache_id != c->id)) {
		hak_report("free", obj, c, "object does not belong to this cache");
		return;
	}
	if (unlikely(map_set(ss->free_map[ro->head], (uint32_t)i))) {
		hak_report("free", obj, c, "double free (object already on its slab's free list)");
		return;
	}
	HAK_BUG_ON(!rw->inuse || !ct->inuse || (uint32_t)i >= rw->carved);
	rw->nfree++;
	if ((uint32_t)i / 64 < rw->hint)
		rw->hint = (uint32_t)i / 64;
	rw->inuse--;
	ct->inuse--;
	if (!rw->on_partial)
		partial_add(ct, rw);
	if (!rw->inuse && (span_single(c) ||
			   ct->nr_partial > (uint32_t)hak_option(OPT_MIN_PARTIAL)))
		span_release(ct, rw);
}

static unsigned int obj_node(const void *p)
{
	return ss_of(p)->node;
}

/*
 * Into @owner's stash when the object is of its own spans and there is
 * room (HAK_OWNER_SPAN: into the stash of its span's owner, whoever that
 * is); 0 when it must go elsewhere.
 */
static int stash_put(struct hak_cache *c, struct central *ct, void *obj,
		     unsigned int owner)
{
	struct cpu_stash **sp, *s;
	unsigned int o;

	if (owner == HAK_OWNER_NONE || span_single(c))
		return 0;
	o = obj_owner(obj);
	if (o == HAK_OWNER_NONE || (owner != HAK_OWNER_SPAN && o != owner))
		return 0;
	owner = o;
	sp = &ct->stash[owner % HAK_CUR_SLOTS];
	s = *sp;
	if (unlikely(!s)) {
		s = meta_alloc(sizeof(*s) + STASH_MAX * sizeof(void *));
		if (!s)
			return 0;
		s->cap = STASH_MAX;
		*sp = s;
	}
	if (s->n >= s->cap || s->n >= 2U * c->batch)
		return 0;
	s->objs[s->n++] = obj;
	return 1;
}

static int xfer_put(struct hak_cache *c, struct central *ct, void *obj)
{
	if (ct->xfer_count >= ct->xfer_cap || ct->xfer_count >= c->xfer_limit)
		return 0;
	ct->xfer[ct->xfer_count++] = obj;
	return 1;
}

/*
 * @owner (a CPU index, or HAK_OWNER_NONE) drains: objects of its own
 * spans go to its stash, the others to the transfer array (for any CPU:
 * they were handed over), and what does not fit back to the spans. With
 * HAK_OWNER_SPAN each object goes to its own span owner's stash.
 */
static void drain_run(struct hak_cache *c, struct central *ct, void **objs,
		      unsigned int n, int remote, unsigned int owner)
{
	hak_lock(&ct->lock);
	ct->drains++;
	ct->remote_frees += remote ? n : 0;
	if (owner == HAK_OWNER_NONE &&
	    ct->xfer_count + n <= ct->xfer_cap &&
	    ct->xfer_count + n <= c->xfer_limit) {
		memcpy(ct->xfer + ct->xfer_count, objs, n * sizeof(void *));
		ct->xfer_count += n;
	} else {
		for (unsigned int i = 0; i < n; i++)
			if (!stash_put(c, ct, objs[i], owner) &&
			    !xfer_put(c, ct, objs[i]))
				span_put(c, ct, objs[i]);
	}
	hak_unlock(&ct->lock);
}

static void drain_runs(struct hak_cache *c, void **objs, unsigned int n,
		       int remote, unsigned int owner)
{
	unsigned int i = 0, j;

	while (i < n) {
		unsigned int node = obj_node(objs[i]);

		for (j = i + 1; j < n && obj_node(objs[j]) == node; j++)
			;
		drain_run(c, central_peek(c, node), objs + i, j - i, remote,
			  owner);
		i = j;
	}
}

/**
 * cache_drain_from() - return objects to the central pools of their nodes
 * @c: the cache they belong to
 * @objs: the objects, in their cached state
 * @n: how many
 * @remote: they were freed on another node (counted as remote frees)
 *
 * Each run of objects of one node goes to that node's central under one
 * lock acquisition.
 */
void cache_drain_from(struct hak_cache *c, void **objs, unsigned int n,
		      int remote)
{
	drain_runs(c, objs, n, remote, HAK_OWNER_NONE);
}

/**
 * cache_drain_cpu() - return the overflow of a CPU's fast-path cache
 * @c: the cache they belong to
 * @objs: the objects, in their cached state
 * @n: how many
 * @owner: the CPU index whose cache they come from
 *
 * Objects of @owner's spans wait in its stash for its next refill; the
 * others (freed here, allocated on another CPU) go to the transfer array.
 */
void cache_drain_cpu(struct hak_cache *c, void **objs, unsigned int n,
		     unsigned int owner)
{
	drain_runs(c, objs, n, 0, owner);
}

/**
 * cache_drain_to_owners() - return objects freed on a CPU their spans do
 * not belong to
 * @c: the cache they belong to
 * @objs: the objects, in their cached state
 * @n: how many
 *
 * Each goes to the stash of its span's owner, for that CPU's next refill;
 * what does not fit to the transfer array, then to its span.
 */
void cache_drain_to_owners(struct hak_cache *c, void **objs, unsigned int n)
{
	drain_runs(c, objs, n, 0, HAK_OWNER_SPAN);
}

/**
 * cache_drain() - return objects from a fast-path cache to their centrals
 * @c: the cache they belong to
 * @objs: the objects, in their cached state
 * @n: how many
 */
void cache_drain(struct hak_cache *c, void **objs, unsigned int n)
{
	cache_drain_from(c, objs, n, 0);
}

/**
 * central_parked() - objects a central holds outside its spans
 * @ct: the central, locked by the caller
 *
 * Return: the objects in its transfer array and in the CPUs' stashes.
 */
uint64_t central_parked(const struct central *ct)
{
	uint64_t n = ct->xfer_count;

	for (unsigned int k = 0; k < HAK_CUR_SLOTS; k++)
		if (ct->stash[k])
			n += ct->stash[k]->n;
	return n;
}

/**
 * cache_release_empty() - flush the transfer array and release empty spans
 * @c: the cache
 *
 * Return: the number of spans released.
 */
unsigned int cache_release_empty(struct hak_cache *c)
{
	struct slab_rw *rw, *next;
	unsigned int released = 0, n;
	struct central *ct;

	for_each_central(c, ct, n) {
		hak_lock(&ct->lock);
		while (ct->xfer_count)
			span_put(c, ct, ct->xfer[--ct->xfer_count]);
		for (unsigned int k = 0; k < HAK_CUR_SLOTS; k++) {
			struct cpu_stash *s = ct->stash[k];

			while (s && s->n)
				span_put(c, ct, s->objs[--s->n]);
		}
		for (rw = ct->partial; rw; rw = next) {
			next = rw->next;
			if (!rw->inuse) {
				span_release(ct, rw);
				released++;
			}
		}
		hak_unlock(&ct->lock);
	}
	return released;
}

static int cache_live(unsigned int id)
{
	return hak_caches[id] != NULL;
}

/**
 * caches_lock_all() - take every central lock (before fork)
 */
void caches_lock_all(void)
{
	struct central *ct;
	unsigned int n;

	for (unsigned int id = 0; id < HAK_MAX_CACHES; id++)
		if (cache_live(id))
			for_each_central(hak_caches[id], ct, n)
				hak_lock(&ct->lock);
}

/**
 * caches_unlock_all() - release every central lock (after fork, parent)
 */
void caches_unlock_all(void)
{
	struct central *ct;
	unsigned int n;

	for (unsigned int id = HAK_MAX_CACHES; id-- > 0;)
		if (cache_live(id))
			for_each_central(hak_caches[id], ct, n)
				hak_unlock(&ct->lock);
}

/**
 * caches_reinit_locks() - reset every central lock (after fork, child)
 */
void caches_reinit_locks(void)
{
	struct central *ct;
	unsigned int n;

	for (unsigned int id = 0; id < HAK_MAX_CACHES; id++)
		if (cache_live(id))
			for_each_central(hak_caches[id], ct, n)
				hak_lock_init(&ct->lock);
}
