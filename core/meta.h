/* SPDX-License-Identifier: MIT */
/*
 * Memory for the allocator's own structures (fast-path cache regions,
 * object-cache descriptors): a bump allocator over 256 KiB mappings. Its
 * callers keep their own free lists, so nothing here is ever freed.
 */
#ifndef HAK_META_H
#define HAK_META_H

#include <stddef.h>

#include "compiler.h"
#include "lock.h"

extern __hidden struct mutex_lock meta_lock;	/* taken around fork() */

void *meta_alloc(size_t size);

#endif /* HAK_META_H */
