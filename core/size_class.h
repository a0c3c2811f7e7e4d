/* SPDX-License-Identifier: MIT */
/*
 * kmalloc-style size classes: 8, 16, 32, 48, 64 bytes, then four classes
 * per doubling up to HAK_MAX_CLASS_SIZE. Every class from 16 bytes up is a
 * multiple of 16, so objects above 8 bytes are aligned for max_align_t. Requests above it are
 * huge: they get their own mapping (huge.c).
 */
#ifndef HAK_SIZE_CLASS_H
#define HAK_SIZE_CLASS_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

#include "size_class_table.h"

/*
 * Class of a request of @n bytes, n <= 1024, by table; the table index is
 * (n + 7) / 8 so one load answers it. Both tables are constant data, valid
 * before anything is initialised.
 */
extern __hidden const uint8_t class_lut[HAK_LUT_MAX / 8 + 1];
extern __hidden const uint32_t class_size_of[HAK_NR_CLASSES];

unsigned int size_class_span_slabs(size_t stride);

/* Four classes per doubling above 64 bytes: from the top two bits. */
static inline unsigned int size_to_class_big(size_t n)
{
	unsigned int l = 63 - (unsigned int)__builtin_clzl(n - 1);

	return HAK_FIRST_QUAD + (l - 6) * 4 + (unsigned int)(((n - 1) >> (l - 2)) & 3);
}

/**
 * size_to_class() - the size class of a request
 * @n: bytes requested, at most HAK_MAX_CLASS_SIZE
 *
 * Return: the class index (0 for 0 to 8 bytes).
 */
static inline unsigned int size_to_class(size_t n)
{
	if (likely(n <= HAK_LUT_MAX))
		return class_lut[(n + 7) >> 3];
	return size_to_class_big(n);
}

#endif /* HAK_SIZE_CLASS_H */
