/* SPDX-License-Identifier: MIT */
/*
 * Capturing what a call writes on stderr, for the tests of the allocator's
 * reports (which go to file descriptor 2, without stdio).
 */
#ifndef HAK_SELFTEST_CAPTURE_H
#define HAK_SELFTEST_CAPTURE_H

#include <stddef.h>
#include <unistd.h>

/**
 * capture_stderr() - run @fn with file descriptor 2 redirected into a pipe
 * @fn: the call
 * @arg: its argument
 * @buf: where the output goes, NUL-terminated (at most @size - 1 bytes;
 *       the output must fit in a pipe, as a report line does)
 * @size: capacity of @buf
 *
 * Return: the number of bytes read, or -1 if no pipe could be made.
 */
static inline ssize_t capture_stderr(void (*fn)(void *), void *arg,
				     char *buf, size_t size)
{
	int fds[2], saved;
	ssize_t n;

	if (pipe(fds))
		return -1;
	saved = dup(2);
	dup2(fds[1], 2);
	fn(arg);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	return n;
}

#endif /* HAK_SELFTEST_CAPTURE_H */
