/* SPDX-License-Identifier: MIT */
/*
 * kselftest-style TAP output: "TAP version 13", "1..N", "ok N - name",
 * "not ok N - name", "ok N - name # SKIP reason"; exit 0 when all passed,
 * 1 when one failed, 4 when all were skipped.
 */
#ifndef HAK_SELFTEST_TAP_H
#define HAK_SELFTEST_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_fail, tap_skip;

static inline void tap_plan(int n)
{
	printf("TAP version 13\n1..%d\n", n);
	fflush(stdout);
}

static inline void tap_result(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	tap_fail += !ok;
}

static inline void tap_skip_test(const char *name, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++tap_n, name, why);
	fflush(stdout);
	tap_skip++;
}

static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline int tap_exit(void)
{
	if (tap_fail)
		return 1;
	if (tap_n && tap_skip == tap_n)
		return 4;
	return 0;
}

#endif /* HAK_SELFTEST_TAP_H */
