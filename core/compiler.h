/* SPDX-License-Identifier: MIT */
/*
 * Compiler helpers shared by every file of the allocator.
 */
#ifndef HAK_COMPILER_H
#define HAK_COMPILER_H

#include <stddef.h>

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define __noinline	__attribute__((noinline))
#ifndef __always_inline
#define __always_inline	inline __attribute__((always_inline))
#endif
#define __cold		__attribute__((cold))
#define __aligned(x)	__attribute__((aligned(x)))

/*
 * Internal data declared extern: without this the compiler must assume it
 * may live in another module and goes through the GOT.
 */
#define __hidden	__attribute__((visibility("hidden")))

/* Symbols visible outside the shared library; everything else is hidden. */
#define HAK_EXPORT	__attribute__((visibility("default")))

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static inline size_t round_up(size_t x, size_t align)
{
	return (x + align - 1) & ~(align - 1);
}

static inline int is_pow2(size_t x)
{
	return x && !(x & (x - 1));
}

#endif /* HAK_COMPILER_H */
