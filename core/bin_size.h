/* SPDX-License-Identifier: MIT */
/*
 * Adaptive bins: how many objects a slow path moves, and how a bin's
 * capacity grows under bursts and shrinks when cold, within a byte budget
 * per region (bin_size.c).
 */
#ifndef HAK_BIN_SIZE_H
#define HAK_BIN_SIZE_H

#include <stdint.h>

#include "fastcache.h"

unsigned int bin_batch(const struct hak_cache *c, struct fc_region *r,
		       unsigned int bin, uint16_t dir, int percpu);
void bins_tick(void);

#endif /* HAK_BIN_SIZE_H */
