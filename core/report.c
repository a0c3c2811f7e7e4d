// SPDX-License-Identifier: MIT
/*
 * Error reports. By default an invalid free aborts (HAKMEM_ON_ERROR=abort);
 * with HAKMEM_ON_ERROR=warn the report is printed and the operation ignored,
 * leaving the heap as it was.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "cache.h"
#include "fmt.h"
#include "options.h"
#include "report.h"

static _Atomic unsigned long nr_reports;

/**
 * report_bad() - report an invalid operation on stderr
 * @op: the call that was made ("free", "realloc", ...)
 * @ptr: the address it was given
 * @c: the cache the address belongs to, or NULL
 * @what: what was wrong
 *
 * Aborts unless HAKMEM_ON_ERROR=warn.
 */
void report_bad(const char *op, const void *ptr, const struct hak_cache *c,
		const char *what)
{
	atomic_fetch_add_explicit(&nr_reports, 1, memory_order_relaxed);
	fmt_dprintf(2, "hakmem: %s(%p): %s%s%s%s\n", op, ptr, what,
		    c ? " [cache " : "", c ? c->name : "", c ? "]" : "");
	if (option_get(OPT_ON_ERROR) == 0)
		abort();
}

/**
 * report_fatal() - report an internal inconsistency and abort
 * @msg: what went wrong
 */
void report_fatal(const char *msg)
{
	fmt_dprintf(2, "hakmem: fatal: %s\n", msg);
	abort();
}

/**
 * report_count() - number of invalid operations reported so far
 *
 * Return: the count (useful in warn mode and in tests).
 */
unsigned long report_count(void)
{
	return atomic_load_explicit(&nr_reports, memory_order_relaxed);
}
