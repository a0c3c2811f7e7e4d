// SPDX-License-Identifier: MIT
/*
 * The standard allocation names, exported by libhakmem.so only, so that
 * LD_PRELOAD=libhakmem.so puts any program on hakmem. The static library
 * leaves the C library's allocator alone.
 */
#include <stddef.h>

#include "compiler.h"
#include "free.h"
#include "malloc_fast.h"
#include "hakmem/hakmem.h"

/*
 * malloc() and free() carry the fast paths themselves: no extra jump.
 * Each starts a cache line, so that its hit path sits in the same fetch
 * blocks whatever code the rest of the library adds before it.
 */
HAK_EXPORT __attribute__((aligned(64))) void *malloc(size_t size)
{
	return malloc_fast(size);
}

HAK_EXPORT __attribute__((aligned(64))) void free(void *ptr)
{
	free_fast(ptr, 0);
}

HAK_EXPORT void *calloc(size_t nmemb, size_t size)
{
	return hak_calloc(nmemb, size);
}

HAK_EXPORT void *realloc(void *ptr, size_t size)
{
	return hak_realloc(ptr, size);
}

HAK_EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
	return hak_reallocarray(ptr, nmemb, size);
}

HAK_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
	return hak_aligned_alloc(alignment, size);
}

HAK_EXPORT int posix_memalign(void **memptr, size_t alignment, size_t size)
{
	return hak_posix_memalign(memptr, alignment, size);
}

HAK_EXPORT void *memalign(size_t alignment, size_t size)
{
	return hak_memalign(alignment, size);
}

HAK_EXPORT void *valloc(size_t size)
{
	return hak_valloc(size);
}

HAK_EXPORT void *pvalloc(size_t size)
{
	return hak_pvalloc(size);
}

HAK_EXPORT size_t malloc_usable_size(void *ptr)
{
	return hak_malloc_usable_size(ptr);
}

HAK_EXPORT int malloc_trim(size_t pad)
{
	(void)pad;
	return hak_trim();
}
