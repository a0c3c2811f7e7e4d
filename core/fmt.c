// SPDX-License-Identifier: MIT
/*
 * Formatting without stdio: a subset of printf (%s %c %d %u %x %p %% with
 * the l, ll and z length modifiers, a field width and the '-' and '0'
 * flags), enough for error reports and the slabinfo table.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_field(struct out *o, const char *s, size_t n, int width,
		      int left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;

	if (!left)
		while (fill-- > 0)
			put(o, pad);
	while (n--)
		put(o, *s++);
	if (left)
		while (fill-- > 0)
			put(o, ' ');
}

static size_t utoa(char *tmp, unsigned long long v, unsigned int base)
{
	static const char digits[] = "0123456789abcdef";
	char rev[24];
	size_t n = 0, i;

	do {
		rev[n++] = digits[v % base];
		v /= base;
	} while (v);
	for (i = 0; i < n; i++)
		tmp[i] = rev[n - 1 - i];
	return n;
}

static unsigned long long get_uint(va_list *ap, int lng)
{
	if (lng >= 2)
		return va_arg(*ap, unsigned long long);
	if (lng == 1)
		return va_arg(*ap, unsigned long);
	return va_arg(*ap, unsigned int);
}

static long long get_int(va_list *ap, int lng)
{
	if (lng >= 2)
		return va_arg(*ap, long long);
	if (lng == 1)
		return va_arg(*ap, long);
	return va_arg(*ap, int);
}

static void conv_number(struct out *o, char conv, va_list *ap, int lng,
			int width, int left, char pad)
{
	char tmp[26];
	size_t n = 0;
	unsigned long long v;

	if (conv == 'd') {
		long long s = get_int(ap, lng);

		v = s < 0 ? -(unsigned long long)s : (unsigned long long)s;
		if (s < 0)
			tmp[n++] = '-';
		n += utoa(tmp + n, v, 10);
	} else if (conv == 'p') {
		v = (uintptr_t)va_arg(*ap, void *);
		tmp[n++] = '0';
		tmp[n++] = 'x';
		n += utoa(tmp + n, v, 16);
	} else {
		v = get_uint(ap, lng);
		n = utoa(tmp, v, conv == 'x' ? 16 : 10);
	}
	put_field(o, tmp, n, width, left, pad);
}

/**
 * fmt_vformat() - format into a buffer
 * @buf: destination, always NUL-terminated when @size > 0
 * @size: capacity of @buf
 * @fmt: format (see the file comment for what is supported)
 * @ap: arguments
 *
 * Return: the length the full output would have, as vsnprintf().
 */
int fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	va_list aq;

	va_copy(aq, ap);
	for (; *fmt; fmt++) {
		int left = 0, width = 0, lng = 0;
		char pad = ' ';

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '-') {
			left = 1;
			fmt++;
		}
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng += *fmt == 'z' ? 2 : 1;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(aq, const char *);

			s = s ? s : "(null)";
			put_field(&o, s, strlen(s), width, left, ' ');
			break;
		}
		case 'c':
			put(&o, (char)va_arg(aq, int));
			break;
		case 'd': case 'u': case 'x': case 'p':
			conv_number(&o, *fmt, &aq, lng, width, left, pad);
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			return -1;
		}
	}
	va_end(aq);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

/**
 * fmt_format() - format into a buffer, as snprintf()
 * @buf: destination
 * @size: capacity of @buf
 * @fmt: format
 *
 * Return: the length the full output would have.
 */
int fmt_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vformat(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/**
 * fmt_write_all() - write a whole buffer, retrying on EINTR and short writes
 * @fd: file descriptor
 * @buf: bytes to write
 * @len: number of bytes
 */
void fmt_write_all(int fd, const char *buf, size_t len)
{
	int saved = errno;

	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf += n;
		len -= (size_t)n;
	}
	errno = saved;
}

/**
 * fmt_dprintf() - format a line of at most 1 KiB and write it to @fd
 * @fd: file descriptor
 * @fmt: format
 */
void fmt_dprintf(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vformat(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	fmt_write_all(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		      sizeof(buf) - 1);
}
