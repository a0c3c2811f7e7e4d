/* SPDX-License-Identifier: MIT */
/*
 * A tiny formatter for messages and statistics: the allocator must not use
 * stdio (which allocates) on any of its paths.
 */
#ifndef HAK_FMT_H
#define HAK_FMT_H

#include <stdarg.h>
#include <stddef.h>

int hak_vfmt(char *buf, size_t size, const char *fmt, va_list ap);
int hak_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void hak_write_all(int fd, const char *buf, size_t len);
void hak_dprintf(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* HAK_FMT_H */
