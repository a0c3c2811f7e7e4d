/* SPDX-License-Identifier: MIT */
/*
 * Cross-node frees: an object of another node is never kept in this CPU's
 * (or thread's) cache for reuse here; it is buffered per owner node and
 * handed back to that node's central pool in batches.
 */
#ifndef HAK_REMOTE_H
#define HAK_REMOTE_H

#include "compiler.h"
#include "lock.h"

struct hak_cache;

extern __hidden struct mutex_lock remote_lock;	/* taken around fork() */

void remote_init(void);
void remote_free(struct hak_cache *c, void *p, unsigned int node);
void remote_flush_current(void);

#endif /* HAK_REMOTE_H */
