/* SPDX-License-Identifier: MIT */
/*
 * A tiny formatter for messages and statistics: the allocator must not use
 * stdio (which allocates) on any of its paths.
 */
#ifndef HAK_FMT_H
#define HAK_FMT_H

#include <stdarg.h>
#include <stddef.h>

int fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_format(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fmt_write_all(int fd, const char *buf, size_t len);
void fmt_dprintf(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* HAK_FMT_H */
