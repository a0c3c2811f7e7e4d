// SPDX-License-Identifier: MIT
/*
 * The free slow path: NULL, huge allocations, full bins, and every invalid
 * pointer, reported with what was wrong.
 */
#include "check.h"
#include "free.h"
#include "huge.h"
#include "report.h"

static int is_cached(const struct obj_info *oi, const void *p)
{
	uintptr_t a = (uintptr_t)p;

	return *(const uintptr_t *)(a + oi->ro->free_off) == free_tag(a);
}

/**
 * free_multi_node() - free a checked, tagged object with several nodes
 * @id: its cache id
 * @p: the object
 *
 * An object of this thread's node goes to the fast-path cache (per-CPU
 * mode: the foreign bin if another CPU's span holds it, as on one node);
 * one of another node back to its node, batched.
 */
void free_multi_node(unsigned int id, void *p)
{
	unsigned int node = ss_of(p)->node;

	if (poison_on()) {
		poison_free(cache_by_id[id], p);
		return;
	}
	if (node != topology_home_node())
		remote_free(cache_by_id[id], p, node);
	else if (!(fast_rseq.on ?
		   rseq_push_owned(&fast_rseq, cpu_regions, id, p,
				   obj_owner_slot(p)) :
		   fc_push(id, p)))
		cache_free_slow(cache_by_id[id], p);
}

/**
 * free_slow() - free what the fast path would not
 * @p: the pointer
 * @expect: the cache @p must belong to, or NULL for any
 * @op: the name of the call, for reports
 */
void free_slow(void *p, struct hak_cache *expect, const char *op)
{
	struct obj_info oi;

	if (!p)
		return;
	obj_classify(p, &oi);
	if (oi.kind == OBJ_HUGE) {
		if (expect)	/* hak_cache_free(): not a cache object */
			report_bad(op, p, expect, "a huge allocation, not an object of this cache");
		else
			huge_free(oi.huge);
		return;
	}
	if (oi.kind != OBJ_VALID) {
		report_bad(op, p, oi.cache, obj_kind_str(oi.kind));
		return;
	}
	if (expect && oi.cache != expect) {
		report_bad(op, p, oi.cache, "object belongs to another cache");
		return;
	}
	if (is_cached(&oi, p)) {
		report_bad(op, p, oi.cache, "double free (object already free in a cache)");
		return;
	}
	*(uintptr_t *)((uintptr_t)p + oi.ro->free_off) = free_tag((uintptr_t)p);
	free_checked(oi.ro->cache_id, p, &oi.ro->owner);
}
