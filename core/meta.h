/* SPDX-License-Identifier: MIT */
/*
 * Memory for the allocator's own structures (fast-path cache regions,
 * object-cache descriptors): a bump allocator over 256 KiB mappings. Its
 * callers keep their own free lists, so nothing here is ever freed.
 */
#ifndef HAK_META_H
#define HAK_META_H

#include <stddef.h>

void *meta_alloc(size_t size);
void meta_lock(void);
void meta_unlock(void);
void meta_reinit(void);

#endif /* HAK_META_H */
