/* SPDX-License-Identifier: MIT */
/*
 * Classification of an address, used by every slow path that must say
 * exactly what is wrong with a pointer (check.c).
 */
#ifndef HAK_CHECK_H
#define HAK_CHECK_H

#include <stdint.h>

struct hak_cache;
struct superslab;
struct slab_ro;
struct huge_hdr;

enum obj_kind {
	OBJ_NOT_OURS,		/* no SuperSlab or huge mapping there */
	OBJ_METADATA,		/* inside a SuperSlab header */
	OBJ_FREE_SLAB,		/* inside a slab no cache holds */
	OBJ_INTERIOR,		/* inside an object, not at its start */
	OBJ_NOT_ALLOCATED,	/* an object start never handed out or free */
	OBJ_VALID,		/* an object handed out */
	OBJ_HUGE,		/* a live huge allocation */
	OBJ_HUGE_INTERIOR,	/* inside a huge mapping, not its start */
	OBJ_HUGE_FREED,		/* a huge allocation already freed */
};

struct obj_info {
	enum obj_kind kind;
	struct hak_cache *cache;
	struct superslab *ss;
	const struct slab_ro *ro;
	struct huge_hdr *huge;		/* OBJ_HUGE: the allocation's header */
	uint32_t index;
};

void obj_classify(const void *p, struct obj_info *oi);
const char *obj_kind_str(enum obj_kind k);

#endif /* HAK_CHECK_H */
