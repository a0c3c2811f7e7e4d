/* SPDX-License-Identifier: MIT */
/*
 * HAKMEM_POISON=1: freed objects are filled with POISON_BYTE (all but the
 * word that holds the free tag or link) and checked when handed out again,
 * so a write after free is reported. Objects of caches with a constructor
 * keep their constructed state and are not poisoned.
 *
 * The mode costs nothing when off: with it on, every fast-path bin has no
 * room, so all traffic takes the slow paths, where the fill and the check
 * are.
 */
#ifndef HAK_POISON_H
#define HAK_POISON_H

#include "options.h"

#define POISON_BYTE	0x6b

struct hak_cache;

static inline int poison_on(void)
{
	return unlikely(option_get(OPT_POISON) != 0);
}

void poison_fill(struct hak_cache *c, void *p);
void *poison_alloc(struct hak_cache *c);
void poison_free(struct hak_cache *c, void *p);

#endif /* HAK_POISON_H */
