/* SPDX-License-Identifier: MIT */
/*
 * The malloc fast path, inlined into hak_malloc() and, in libhakmem.so,
 * into malloc() itself (core/preload.c), so that a program's malloc()
 * is the fast path and not a jump to it.
 */
#ifndef HAK_MALLOC_FAST_H
#define HAK_MALLOC_FAST_H

#include "frontend.h"
#include "huge.h"
#include "init.h"
#include "size_class.h"

void *malloc_slow(unsigned int cl);
void *malloc_slow_small(size_t idx);

/*
 * A pop from this CPU's (or thread's) bin of class @cl, with the free tag
 * cleared (so a later free is not taken for a double free); NULL on a miss.
 */
static __always_inline void *malloc_pop(unsigned long cl)
{
	void *p;

	if (unlikely(!fc_pop(HAK_KMALLOC_FIRST + cl, &p)))
		return NULL;
	return fc_claim_fast(0, p);	/* kmalloc caches: the tag at 0 */
}

/* A request of class @cl: the bin, else the slow path. */
static __always_inline void *malloc_class(unsigned long cl)
{
	void *p = malloc_pop(cl);

	return likely(p) ? p : malloc_slow(cl);
}

/**
 * malloc_fast() - malloc(): small requests first, one compare and a table
 * load for the class
 * @size: bytes wanted
 *
 * Return: the object, or NULL with errno ENOMEM.
 */
static __always_inline void *malloc_fast(size_t size)
{
	if (likely(size <= HAK_LUT_MAX)) {
		size_t idx = (size + 7) >> 3;
		void *p = malloc_pop(class_lut[idx]);

		/* the miss passes idx on: no copy of the class to keep */
		return likely(p) ? p : malloc_slow_small(idx);
	}
	if (likely(size <= HAK_MAX_CLASS_SIZE))
		return malloc_class(size_to_class_big(size));
	alloc_init();
	return huge_alloc(size, 0, 0);
}

#endif /* HAK_MALLOC_FAST_H */
