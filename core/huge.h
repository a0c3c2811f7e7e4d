/* SPDX-License-Identifier: MIT */
/*
 * Huge allocations: requests above the largest size class get a mapping of
 * their own. The mapping starts on a 2 MiB boundary with a header page (so
 * the registry recognises it exactly as it does a SuperSlab); the object
 * follows the header, at the requested alignment.
 */
#ifndef HAK_HUGE_H
#define HAK_HUGE_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "lock.h"

struct huge_hdr {
	uint32_t kind;		/* SS_KIND_HUGE, at the SuperSlab's offset */
	uint32_t node;
	void *user;		/* the pointer handed out */
	void *map_base;
	size_t map_len;
	size_t usable;
};

/* the locks core/init.c takes around fork() */
extern __hidden struct mutex_lock huge_lock;

void *huge_alloc(size_t size, size_t align, int zero);
void huge_free(struct huge_hdr *h);
void *huge_resize(struct huge_hdr *h, size_t size);
int huge_trim(void);
int huge_trim_try(void);
int huge_decay(uint64_t now);
uint64_t huge_ops(void);
struct huge_hdr *huge_lookup(const void *p, int *interior);
void huge_stats(uint64_t *count, uint64_t *bytes);

#endif /* HAK_HUGE_H */
