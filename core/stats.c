// SPDX-License-Identifier: MIT
/*
 * Introspection: the slabinfo table and allocator-wide counters, readable
 * through the API and printed (without stdio) by hak_stats_print().
 */
#include <string.h>

#include "background.h"
#include "cache.h"
#include "fmt.h"
#include "huge.h"
#include "init.h"
#include "limit.h"
#include "options.h"
#include "os.h"
#include "percpu.h"
#include "superslab.h"
#include "hakmem/hakmem.h"

static void slabinfo_fill(struct hak_slabinfo *row, struct hak_cache *c)
{
	struct central *ct;
	unsigned int n;

	memset(row, 0, sizeof(*row));
	memcpy(row->name, c->name, sizeof(row->name));
	row->object_size = c->size;
	row->stride = c->stride;
	row->objs_per_slab = c->objs_per_span;
	row->slabs_per_span = c->span_slabs;
	for_each_central(c, ct, n) {
		mutex_lock(&ct->lock);
		row->active_objs += ct->inuse - central_parked(ct);
		row->num_objs += ct->nr_spans * c->objs_per_span;
		row->slabs += ct->nr_spans;
		row->refills += ct->refills;
		row->drains += ct->drains;
		row->superslab_refills += ct->ss_refills;
		mutex_unlock(&ct->lock);
	}
}

HAK_EXPORT int hak_slabinfo(struct hak_slabinfo *rows, int max)
{
	int n = 0;

	alloc_init();
	cache_list_lock();
	for (unsigned int id = 0; id < HAK_MAX_CACHES; id++) {
		if (!cache_by_id[id])
			continue;
		if (n < max)
			slabinfo_fill(&rows[n], cache_by_id[id]);
		n++;
	}
	cache_list_unlock();
	return n;
}

static const char *const thp_names[] = {
	[THP_NEVER] = "never", [THP_MADVISE] = "madvise", [THP_ALWAYS] = "always",
};

HAK_EXPORT void hak_global_stats(struct hak_global_stats *st)
{
	long huge_kb = 0;

	memset(st, 0, sizeof(*st));
	for (unsigned int n = 0; n < HAK_NODE_SLOTS; n++) {
		struct ss_pool *pool = &ss_pools[n];

		mutex_lock(&pool->lock);
		st->superslabs += pool->nr_superslabs;
		st->superslabs_mapped += pool->mapped_total;
		st->superslabs_unmapped += pool->unmapped_total;
		mutex_unlock(&pool->lock);
	}
	huge_stats(&st->huge_allocs, &st->huge_bytes);
	st->mapped_bytes = os_mapped_bytes();
	st->mode = percpu_mode_name();
	st->mode_reason = percpu_mode_reason();
	st->numa_policy = topology_describe();
	st->numa_nodes = topology_multi() ? topo.nr_nodes : 0;
	st->thp = thp_names[option_get(OPT_THP)];
	st->anon_huge_bytes = os_anon_huge_kb(&huge_kb) ? -1 : huge_kb << 10;
	st->background = background_running();
#ifdef CONFIG_HARDENED
	st->hardened = 1;
#endif
	limit_stats(&st->limit_soft, &st->limit_hard, &st->limit_failures,
		    &st->limit_reclaims);
}

/* The placement counters of node @node (numa/topology.c). */
static void placement_fill(struct hak_node_stats *row, int node)
{
	if (node < 0 || node >= HAK_MAX_NODES)
		return;
	for (unsigned int m = 0; m < HAK_MAX_NODES; m++) {
		uint64_t out = topology_placement((unsigned int)node, m);

		row->placed_superslabs += out;
		if (m == (unsigned int)node)
			continue;
		row->fallback_superslabs += out;
		row->fallback_in += topology_placement(m, (unsigned int)node);
	}
}

/* A node without a pool of its own that received other nodes' memory. */
static int fallback_only(unsigned int n)
{
	struct hak_node_stats row = { 0 };

	if (n >= HAK_MAX_NODES || (topo.mode == TOPO_SINGLE &&
				   topo.single_node == (int)n))
		return 0;
	placement_fill(&row, (int)n);
	return row.fallback_in != 0;
}

static void node_fill(struct hak_node_stats *row, unsigned int n)
{
	struct ss_pool *pool = &ss_pools[n];
	struct central *ct;

	memset(row, 0, sizeof(*row));
	row->node = n == HAK_NODE_BOOT ? -1 : (int)n;
	/* one bound pool: slot 0 holds the node it binds to */
	if (n == 0 && topo.mode == TOPO_SINGLE && topo.single_node >= 0)
		row->node = topo.single_node;
	placement_fill(row, row->node);
	mutex_lock(&pool->lock);
	row->superslabs = pool->nr_superslabs;
	row->bytes = pool->nr_superslabs * HAK_SS_SIZE;
	mutex_unlock(&pool->lock);
	for (unsigned int id = 0; id < HAK_MAX_CACHES; id++) {
		if (!cache_by_id[id] || !(ct = central_peek(cache_by_id[id], n)))
			continue;
		mutex_lock(&ct->lock);
		row->refills += ct->refills;
		row->remote_frees += ct->remote_frees;
		row->cross_refills += ct->cross_refills;
		mutex_unlock(&ct->lock);
	}
}

HAK_EXPORT int hak_node_stats(struct hak_node_stats *rows, int max)
{
	int k = 0;

	alloc_init();
	cache_list_lock();
	for (unsigned int n = 0; n < HAK_NODE_SLOTS; n++) {
		if (!ss_pools[n].mapped_total && !fallback_only(n))
			continue;
		if (k < max)
			node_fill(&rows[k], n);
		k++;
	}
	cache_list_unlock();
	return k;
}

/* One line per pair of nodes with SuperSlabs placed off their node. */
static void print_fallbacks(int fd)
{
	for (unsigned int m = 0; m < HAK_MAX_NODES; m++) {
		for (unsigned int on = 0; on < HAK_MAX_NODES; on++) {
			uint64_t k = topology_placement(m, on);

			if (m == on || !k)
				continue;
			fmt_dprintf(fd, "# fallback: %llu SuperSlabs (%llu bytes) meant for node %u are on node %u\n",
				    (unsigned long long)k,
				    (unsigned long long)(k * HAK_SS_SIZE), m, on);
		}
	}
}

static void print_nodes(int fd)
{
	struct hak_node_stats rows[HAK_NODE_SLOTS];
	int n = hak_node_stats(rows, HAK_NODE_SLOTS);

	fmt_dprintf(fd, "# numa: %s\n", topology_describe());
	fmt_dprintf(fd, "# %-6s %10s %12s %10s %12s %12s %8s %8s %8s\n", "node",
		    "superslabs", "bytes", "refills", "remote_frees",
		    "cross_refill", "placed", "fallback", "fb_in");
	for (int i = 0; i < n; i++) {
		if (rows[i].node < 0)
			fmt_dprintf(fd, "# %-6s", "boot");
		else
			fmt_dprintf(fd, "# %-6d", rows[i].node);
		fmt_dprintf(fd, " %10llu %12llu %10llu %12llu %12llu %8llu %8llu %8llu\n",
			    (unsigned long long)rows[i].superslabs,
			    (unsigned long long)rows[i].bytes,
			    (unsigned long long)rows[i].refills,
			    (unsigned long long)rows[i].remote_frees,
			    (unsigned long long)rows[i].cross_refills,
			    (unsigned long long)rows[i].placed_superslabs,
			    (unsigned long long)rows[i].fallback_superslabs,
			    (unsigned long long)rows[i].fallback_in);
	}
	print_fallbacks(fd);
}

static void print_row(int fd, const struct hak_slabinfo *r)
{
	fmt_dprintf(fd, "%-20s %8zu %8zu %6u %4u %10llu %10llu %6llu %9llu %9llu %9llu\n",
		    r->name, r->object_size, r->stride, r->objs_per_slab,
		    r->slabs_per_span, (unsigned long long)r->active_objs,
		    (unsigned long long)r->num_objs,
		    (unsigned long long)r->slabs,
		    (unsigned long long)r->refills,
		    (unsigned long long)r->drains,
		    (unsigned long long)r->superslab_refills);
}

static void print_global(int fd)
{
	struct hak_global_stats st;

	hak_global_stats(&st);
	fmt_dprintf(fd, "# fast path: %s (%s)\n", st.mode, st.mode_reason);
	fmt_dprintf(fd, "# superslabs: %llu now, %llu mapped, %llu unmapped since start\n",
		    (unsigned long long)st.superslabs,
		    (unsigned long long)st.superslabs_mapped,
		    (unsigned long long)st.superslabs_unmapped);
	fmt_dprintf(fd, "# huge: %llu allocations, %llu bytes; mapped in all: %llu bytes\n",
		    (unsigned long long)st.huge_allocs,
		    (unsigned long long)st.huge_bytes,
		    (unsigned long long)st.mapped_bytes);
	fmt_dprintf(fd, "# huge pages: HAKMEM_THP=%s, AnonHugePages %lld kB; background thread: %s\n",
		    st.thp, (long long)(st.anon_huge_bytes < 0 ? -1 :
					st.anon_huge_bytes >> 10),
		    st.background ? "on" : "off");
}

HAK_EXPORT void hak_stats_print(int fd)
{
	struct hak_slabinfo row;

	alloc_init();
	fmt_dprintf(fd, "hakmem slabinfo\n");
	print_global(fd);
	print_nodes(fd);
	fmt_dprintf(fd, "# %-18s %8s %8s %6s %4s %10s %10s %6s %9s %9s %9s\n",
		    "name", "objsize", "stride", "objs", "slbs", "active",
		    "total", "spans", "refills", "drains", "ss_refill");
	cache_list_lock();
	for (unsigned int id = 0; id < HAK_MAX_CACHES; id++) {
		struct hak_cache *c = cache_by_id[id];

		if (!c)
			continue;
		slabinfo_fill(&row, c);
		if (row.refills || row.slabs || id >= HAK_KMALLOC_FIRST +
						     HAK_NR_CLASSES)
			print_row(fd, &row);
	}
	cache_list_unlock();
}
