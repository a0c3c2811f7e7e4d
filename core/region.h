/* SPDX-License-Identifier: MIT */
/*
 * Fast-path regions (fastcache.h): their bin layout, allocation,
 * recycling and flushing, shared by the per-CPU and per-thread modes.
 */
#ifndef HAK_REGION_H
#define HAK_REGION_H

#include <stdint.h>

#include "fastcache.h"
#include "lock.h"

/* the region lists and the bin layout; taken around fork() by init.c */
extern __hidden struct mutex_lock region_lock;

/* A kmalloc bin may grow to this many times its base capacity. */
#define FC_GROW_FACTOR	16
/* ... and to at most this many objects (a slow path moves HAK_MAX_BATCH). */
#define FC_MAX_CAP	1024
/*
 * The first object caches' bins grow the same way, to FC_USER_GROW_FACTOR
 * times their base and by at most FC_USER_GROW_BYTES of objects: the ids
 * of the first FC_USER_GROW_IDS caches made (hak_cache_create() takes the
 * lowest free id) have room reserved for FC_USER_GROW_FACTOR times
 * FC_USER_CAP objects. Not every id: a region's slot indices are 16 bits
 * wide. Bins below FC_GROW_BINS may grow, every other keeps its capacity.
 * Less than a kmalloc bin: grown like one (16 times, within the region's
 * budget alone), cache_churn's peak RSS grew by a third (6.0 -> 8.2 MB).
 */
#define FC_USER_GROW_FACTOR	4
#define FC_USER_GROW_BYTES	(32U << 10)
#define FC_USER_GROW_IDS	16
#define FC_GROW_BINS	(HAK_KMALLOC_FIRST + HAK_NR_CLASSES + FC_USER_GROW_IDS)

/*
 * The most bytes of objects one foreign bin holds (foreign_cap() in
 * region.c): a CPU's foreign bins hold at most this much per cache
 * (Documentation/tuning.rst, "Foreign bins").
 */
#define FC_FOREIGN_BYTES	(16U << 10)

void regions_layout(void);
unsigned int bin_base_cap(unsigned int bin);
unsigned int bin_max_cap(unsigned int bin);
void regions_set_cap(unsigned int id, uint32_t cap);
struct fc_region *region_get(void);
void region_put(struct fc_region *r);
void region_flush(struct fc_region *r);
uint64_t regions_count_cached(unsigned int id);

#endif /* HAK_REGION_H */
