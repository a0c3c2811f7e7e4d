/* SPDX-License-Identifier: MIT */
/*
 * Small helpers on arrays of objects for the unit tests of the middle end.
 */
#ifndef HAK_SELFTEST_OBJS_H
#define HAK_SELFTEST_OBJS_H

/* Whether @p is one of the @n objects of @set. */
static inline int in_set(void *p, void **set, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (set[i] == p)
			return 1;
	return 0;
}

#endif /* HAK_SELFTEST_OBJS_H */
