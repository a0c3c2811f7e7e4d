/* SPDX-License-Identifier: MIT */
/*
 * Cross-node frees: an object of another node is never kept in this CPU's
 * (or thread's) cache for reuse here; it is buffered per owner node and
 * handed back to that node's central pool in batches.
 */
#ifndef HAK_NUMA_REMOTE_H
#define HAK_NUMA_REMOTE_H

struct hak_cache;

void remote_init(void);
void remote_free(struct hak_cache *c, void *p, unsigned int node);
void remote_flush_current(void);
void remote_lock(void);
void remote_unlock(void);
void remote_reinit(void);

#endif /* HAK_NUMA_REMOTE_H */
