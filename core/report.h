/* SPDX-License-Identifier: MIT */
/*
 * Reports of invalid use: what was wrong, the address, the cache.
 */
#ifndef HAK_REPORT_H
#define HAK_REPORT_H

#include "compiler.h"

struct hak_cache;

void report_bad(const char *op, const void *ptr, const struct hak_cache *c,
		const char *what) __cold;
void report_fatal(const char *msg) __cold __attribute__((noreturn));
unsigned long report_count(void);

#endif /* HAK_REPORT_H */
