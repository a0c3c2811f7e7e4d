// SPDX-License-Identifier: MIT
/*
 * The object-cache API: hak_cache_create() and friends, SLUB style.
 */
#include <errno.h>
#include <string.h>

#include "cache.h"
#include "frontend.h"
#include "fmt.h"
#include "free.h"
#include "init.h"
#include "meta.h"
#include "rcu.h"
#include "region.h"
#include "report.h"
#include "hakmem/hakmem.h"

#define USER_FIRST	(HAK_KMALLOC_FIRST + HAK_NR_CLASSES)

/* Descriptors of destroyed caches, kept for the next cache of that id. */
static struct hak_cache *spare[HAK_MAX_CACHES];

static struct hak_cache *descriptor_get(unsigned int id, uint32_t xfer_cap)
{
	struct hak_cache *c = spare[id];

	if (c && c->central.xfer_cap >= xfer_cap) {
		spare[id] = NULL;
		return c;
	}
	c = meta_alloc(sizeof(*c) + xfer_cap * sizeof(void *));
	if (c)
		c->central.xfer_cap = xfer_cap;
	return c;
}

/*
 * The transfer arrays of a new cache (its descriptor's, and each node's
 * central) have room for as many objects as cache_setup() lets them
 * hold (xfer_limit: at most 1024 objects and 512 KiB, as a size
 * class's), so that a burst drained from bins grown to their room
 * (bin_size.c) can wait there rather than in the spans.
 */
static int cache_install(struct hak_cache *tmp)
{
	uint32_t xfer_cap = tmp->xfer_limit;
	struct central *keep[HAK_NODE_SLOTS];
	struct hak_cache *c;
	unsigned int id;

	for (id = USER_FIRST; id < HAK_MAX_CACHES; id++)
		if (!cache_by_id[id])
			break;
	if (id == HAK_MAX_CACHES)
		return -1;
	c = descriptor_get(id, xfer_cap);
	if (!c)
		return -1;
	xfer_cap = c->central.xfer_cap;
	/* a recycled descriptor keeps its (empty) node centrals */
	for (unsigned int n = 0; n < HAK_NODE_SLOTS; n++)
		keep[n] = central_peek(c, n);
	*c = *tmp;
	c->id = id;
	c->central.xfer = (void **)(c + 1);
	c->central.xfer_cap = xfer_cap;
	for (unsigned int n = 0; n < HAK_MAX_NODES; n++) {
		if (keep[n])
			central_reset(keep[n]);
		atomic_store(&c->node_central[n], keep[n]);
	}
	atomic_store(&c->node_central[HAK_NODE_BOOT], &c->central);
	cache_by_id[id] = c;
	return (int)id;
}

HAK_EXPORT struct hak_cache *hak_cache_create(const char *name, size_t size,
					      size_t align, unsigned long flags,
					      void (*ctor)(void *))
{
	struct hak_cache tmp;
	int id;

	alloc_init();
	memset(&tmp, 0, sizeof(tmp));
	if (!name || cache_setup(&tmp, name, size, align, flags, ctor)) {
		errno = EINVAL;
		goto fail;
	}
	if ((flags & HAK_SLAB_TYPESAFE_BY_RCU) && rcu_cache_prepare()) {
		fmt_dprintf(2, "hakmem: hak_cache_create(%s): HAK_SLAB_TYPESAFE_BY_RCU needs liburcu (a CONFIG_RCU=y build, and the program linked with -lurcu)\n",
			    name);
		errno = EINVAL;
		goto fail;
	}
	if (tmp.fc_cap > FC_USER_CAP) {
		tmp.fc_cap = FC_USER_CAP;
		tmp.batch = FC_USER_CAP / 2;
	}
	cache_list_lock();
	id = cache_install(&tmp);
	if (id >= 0)
		regions_set_cap((unsigned int)id, tmp.fc_cap);
	cache_list_unlock();
	if (id < 0) {
		errno = ENOMEM;
		goto fail;
	}
	return cache_by_id[id];
fail:
	if (flags & HAK_SLAB_PANIC)
		report_fatal("hak_cache_create: cannot create cache");
	return NULL;
}

HAK_EXPORT void *hak_cache_alloc(struct hak_cache *cache)
{
	void *p;

	if (unlikely(!fc_pop(cache->id, &p)))
		return cache_alloc_slow(cache);
	return fc_claim_fast(cache->free_off, p);
}

/*
 * Whether @node names a node: below the node count once the topology is
 * known (any slot before, when every allocation uses the boot pool).
 */
static int node_exists(int node)
{
	int nodes = topo.mode == TOPO_BOOT ? HAK_MAX_NODES :
						 topo.nr_nodes;

	return node >= 0 && node < (nodes > 0 ? nodes : 1);
}

HAK_EXPORT void *hak_cache_alloc_node(struct hak_cache *cache, int node)
{
	void *p;

	if (node == HAK_NUMA_NO_NODE)
		return hak_cache_alloc(cache);
	topology_init();
	if (unlikely(!node_exists(node))) {
		errno = EINVAL;
		return NULL;
	}
	/* one pool, or the caller's own pool: this CPU's bin is that node's */
	if (!topology_multi() ||
	    topo.nearest[node][0] == topology_home_node())
		return hak_cache_alloc(cache);
	/* another node: never from this CPU's bin, from that node directly */
	if (!central_refill_node(cache, (unsigned int)node, &p, 1,
				 HAK_OWNER_NONE)) {
		errno = ENOMEM;
		return NULL;
	}
	return fc_claim(cache, p);
}

HAK_EXPORT void hak_cache_free(struct hak_cache *cache, void *obj)
{
	unsigned int id = cache->id;

	/*
	 * Every cache hak_cache_create() hands out has an id above the size
	 * classes, never 0: free_fast() then needs no version for "any
	 * cache" (expect 0), which GCC would otherwise branch to.
	 */
	if (id < USER_FIRST)
		__builtin_unreachable();
	free_fast(obj, id);
}

HAK_EXPORT int hak_cache_shrink(struct hak_cache *cache)
{
	fc_flush_reachable();
	return (int)central_shrink(cache);
}

/* Objects out of the spans of every node (in caches or in use). */
static uint64_t cache_inuse(struct hak_cache *c)
{
	struct central *ct;
	uint64_t live = 0;
	unsigned int n;

	for_each_central(c, ct, n) {
		mutex_lock(&ct->lock);
		live += ct->inuse;
		mutex_unlock(&ct->lock);
	}
	return live;
}

HAK_EXPORT void hak_cache_destroy(struct hak_cache *cache)
{
	uint64_t live, cached;

	if (!cache)
		return;
	rcu_cache_barrier(cache);	/* deferred frees of its objects */
	fc_flush_reachable();
	central_shrink(cache);
	if (cache->flags & HAK_SLAB_TYPESAFE_BY_RCU)
		rcu_cache_barrier(cache);	/* its spans' grace period */
	cache_list_lock();
	live = cache_inuse(cache);
	cached = regions_count_cached(cache->id);
	if (live > cached) {
		fmt_dprintf(2, "hakmem: hak_cache_destroy(%s): %llu objects still allocated; the cache is kept\n",
			    cache->name, (unsigned long long)(live - cached));
	} else if (cached) {
		/* other live threads still cache some: keep it registered */
	} else {
		cache_by_id[cache->id] = NULL;
		spare[cache->id] = cache;
	}
	cache_list_unlock();
}
