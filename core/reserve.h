/* SPDX-License-Identifier: MIT */
/*
 * Reserves of objects (reserve.c): hak_cache_reserve() and friends. The
 * API is in include/hakmem/hakmem.h; nothing else in core/ uses them.
 */
#ifndef HAK_RESERVE_H
#define HAK_RESERVE_H

#include <stdint.h>

/* The most objects one reserve holds. */
#define HAK_RESERVE_MAX		65536U

#endif /* HAK_RESERVE_H */
