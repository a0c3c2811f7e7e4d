/* SPDX-License-Identifier: MIT */
/*
 * The per-CPU (rseq) mode of the fast-path caches (percpu.c).
 */
#ifndef HAK_PERCPU_H
#define HAK_PERCPU_H

#include "compiler.h"
#include "lock.h"

struct hak_cache;

/* one remote drain at a time; taken around fork() by init.c */
extern __hidden struct mutex_lock drain_lock;

/*
 * Slow operations (allocations and frees that miss the fast path) the
 * process makes in the per-CPU mode before any CPU gets a region: each
 * goes to the central pools, so that a small program maps no region.
 */
#define HAK_LAZY_OPS	64

void percpu_init(void);
void *percpu_alloc_slow(struct hak_cache *c);
void percpu_free_slow(struct hak_cache *c, void *p);
int percpu_drain_all(void);
void percpu_drain_idle(void);
int percpu_scan_idle(void);
const char *percpu_mode_name(void);
const char *percpu_mode_reason(void);

#endif /* HAK_PERCPU_H */
