// SPDX-License-Identifier: MIT
/*
 * Consistency checks on addresses handed to the allocator: what an address
 * is, told exactly, so every report can name what was wrong. Only slow
 * paths call these; the fast paths test the same facts inline.
 */
#include "cache.h"
#include "check.h"
#include "huge.h"
#include "registry.h"

static const char *const kind_str[] = {
	[OBJ_NOT_OURS] = "not allocated by hakmem",
	[OBJ_METADATA] = "points into allocator metadata",
	[OBJ_FREE_SLAB] = "points into a free slab (freed or never allocated)",
	[OBJ_INTERIOR] = "interior pointer (not the start of an object)",
	[OBJ_NOT_ALLOCATED] = "double free or pointer never allocated",
	[OBJ_VALID] = "valid object",
	[OBJ_HUGE] = "valid huge allocation",
	[OBJ_HUGE_INTERIOR] = "interior pointer into a huge allocation",
	[OBJ_HUGE_FREED] = "double free of a huge allocation",
};

/**
 * obj_kind_str() - a description of a classification for reports
 * @k: the classification
 *
 * Return: a static string.
 */
const char *obj_kind_str(enum obj_kind k)
{
	return kind_str[k];
}

static void classify_slab(const void *p, struct obj_info *oi)
{
	struct superslab *ss = ss_of(p);
	unsigned int idx = slab_idx_of(p);
	const struct slab_ro *ro = &ss->ro[idx];
	long i;

	oi->ss = ss;
	if (!idx) {
		oi->kind = OBJ_METADATA;
		return;
	}
	if (!ro->stride) {	/* a free slab's metadata is all zero */
		oi->kind = OBJ_FREE_SLAB;
		return;
	}
	oi->ro = ro;
	oi->cache = cache_by_id[ro->cache_id];
	i = slab_obj_index(ro, (uintptr_t)p, oi->cache->objs_per_span);
	if (i < 0) {
		oi->kind = OBJ_INTERIOR;
		return;
	}
	oi->index = (uint32_t)i;
	if ((atomic_load_explicit(&ss->free_map[ro->head][i >> 6],
				  memory_order_relaxed) >> (i & 63)) & 1)
		oi->kind = OBJ_NOT_ALLOCATED;
	else
		oi->kind = OBJ_VALID;
}

/**
 * obj_classify() - say what an address is
 * @p: any address
 * @oi: filled with the answer; oi->cache and oi->ro are set for addresses
 *      inside a span
 */
void obj_classify(const void *p, struct obj_info *oi)
{
	int interior;

	*oi = (struct obj_info){ .kind = OBJ_NOT_OURS };
	oi->huge = huge_lookup(p, &interior);
	if (oi->huge) {
		oi->kind = OBJ_HUGE;
		return;
	}
	if (interior) {
		oi->kind = interior == 2 ? OBJ_HUGE_FREED : OBJ_HUGE_INTERIOR;
		return;
	}
	if (registry_test((uintptr_t)p))
		classify_slab(p, oi);
}
