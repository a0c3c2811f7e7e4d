/* SPDX-License-Identifier: MIT */
/*
 * Memory limits (hak_set_limit(), HAKMEM_LIMIT): a soft limit above which
 * the mapping wrappers of core/os.c release cached and free memory before
 * they map more, and a hard limit no mapping of the allocator may pass.
 */
#ifndef HAK_LIMIT_H
#define HAK_LIMIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

/* Nonzero while a soft or hard limit is set: os.c's one test. */
extern __hidden _Atomic int limit_active;

static inline int limit_on(void)
{
	return atomic_load_explicit(&limit_active, memory_order_relaxed);
}

int limit_charge(_Atomic uint64_t *mapped, size_t len);
int limit_parse_env(const char *s, long *slot);
void limit_stats(uint64_t *soft, uint64_t *hard, uint64_t *failures,
		 uint64_t *reclaims);

#endif /* HAK_LIMIT_H */
