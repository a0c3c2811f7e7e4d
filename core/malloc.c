// SPDX-License-Identifier: MIT
/*
 * The malloc family on the kmalloc size classes, with glibc's semantics.
 */
#include <errno.h>
#include <string.h>

#include "cache.h"
#include "check.h"
#include "free.h"
#include "frontend.h"
#include "huge.h"
#include "malloc_fast.h"
#include "init.h"
#include "os.h"
#include "report.h"
#include "hakmem/hakmem.h"

/**
 * malloc_slow() - the malloc fast path missed (empty bin, no region yet)
 * @cl: the size class
 *
 * Return: the object, or NULL with errno ENOMEM.
 */
__noinline void *malloc_slow(unsigned int cl)
{
	alloc_init();
	return cache_alloc_slow(kmalloc_cache(cl));
}

/**
 * malloc_slow_small() - malloc_slow() for a request of at most
 * HAK_LUT_MAX bytes
 * @idx: its index in the class table, (size + 7) / 8
 *
 * Return: the object, or NULL with errno ENOMEM.
 */
__noinline void *malloc_slow_small(size_t idx)
{
	return malloc_slow(class_lut[idx]);
}

HAK_EXPORT void *hak_malloc(size_t size)
{
	return malloc_fast(size);
}

HAK_EXPORT void hak_free(void *ptr)
{
	free_fast(ptr, 0);
}

HAK_EXPORT void *hak_malloc_node(size_t size, int node)
{
	if (node == HAK_NUMA_NO_NODE)
		return hak_malloc(size);
	alloc_init();
	if (size > HAK_MAX_CLASS_SIZE) {
		topology_init();
		if (node < 0 || node >= (topo.mode == TOPO_BOOT ?
					 HAK_MAX_NODES : topo.nr_nodes)) {
			errno = EINVAL;
			return NULL;
		}
		return huge_alloc(size, 0, 0);	/* placed by the policy */
	}
	return hak_cache_alloc_node(kmalloc_cache(size_to_class(size)), node);
}

HAK_EXPORT void *hak_calloc(size_t nmemb, size_t size)
{
	size_t total;
	void *p;

	if (unlikely(__builtin_mul_overflow(nmemb, size, &total))) {
		errno = ENOMEM;
		return NULL;
	}
	if (total > HAK_MAX_CLASS_SIZE) {
		alloc_init();
		return huge_alloc(total, 0, 1);
	}
	p = malloc_class(size_to_class(total));
	if (p)
		memset(p, 0, total);
	return p;
}

static size_t usable_size(const void *p, const char *op)
{
	struct obj_info oi;

	obj_classify(p, &oi);
	if (oi.kind == OBJ_HUGE)
		return oi.huge->usable;
	if (oi.kind != OBJ_VALID) {
		report_bad(op, p, oi.cache, obj_kind_str(oi.kind));
		return 0;
	}
	return oi.cache->size;
}

/*
 * A growing realloc to this size or more leaves the size classes for a
 * mapping of its own (with half as much again): the next growths are in
 * place or by mremap, never copies, and the mapping comes from the huge
 * cache's resident pages when it has some. At 64 KiB rather than 256 KiB,
 * bench/varsize copies 68% fewer bytes (callgrind: 400 M -> 129 M
 * instructions in memcpy, 5883 -> 2166 per op).
 */
#define REALLOC_MAP_MIN		(64UL << 10)

/*
 * Whether a block of @usable bytes should keep serving @size bytes: any
 * size it holds that uses more than half of it (a growth gets headroom,
 * see realloc_move(), so the next growth stays here).
 */
static int fits_in_place(size_t usable, size_t size)
{
	return size <= usable && size > usable / 2;
}

/*
 * The same for a huge block: it shrinks (by mremap) only when less than
 * half of it would be used and it is larger than 2 MiB.
 */
static int huge_fits_in_place(size_t usable, size_t size)
{
	return size <= usable && (size > usable / 2 || usable <= HAK_SS_SIZE);
}

/*
 * realloc by a new block and a copy of @old bytes. A growth to
 * REALLOC_MAP_MIN or more takes a mapping of its own when it can (the
 * size classes serve it when the mapping fails); a smaller growth takes
 * the class of half as much again, so a chain growing by 1.5x or less
 * copies at every other step (bench/varsize: 0.91 -> 0.53 copies per
 * realloc).
 */
static void *realloc_move(void *ptr, size_t old, size_t size)
{
	void *p = NULL;

	if (size > old && size >= REALLOC_MAP_MIN && size <= HAK_MAX_CLASS_SIZE)
		p = huge_alloc(size + size / 2, 0, 0);
	else if (size > old && size < REALLOC_MAP_MIN)
		p = hak_malloc(size + size / 2);	/* headroom */
	if (!p)
		p = hak_malloc(size);
	if (!p)
		return NULL;
	memcpy(p, ptr, old < size ? old : size);
	hak_free(ptr);
	return p;
}

/*
 * realloc of a huge block (alignment below 2 MiB) to @size: in place, by
 * mremap, or (when mremap fails) by a copy.
 */
static void *realloc_huge(struct huge_hdr *h, size_t size)
{
	size_t old = h->usable;
	void *p;

	if (huge_fits_in_place(old, size))
		return h->user;
	p = huge_resize(h, size);	/* mremap: no copy */
	if (p)
		return p;
	return realloc_move(h->user, old, size);
}

HAK_EXPORT void *hak_realloc(void *ptr, size_t size)
{
	struct huge_hdr *h;
	int interior;
	size_t old;

	if (!ptr)
		return hak_malloc(size);
	if (!size) {
		hak_free(ptr);
		return NULL;
	}
	h = huge_lookup(ptr, &interior);
	/* (alignments of 2 MiB and more keep their layout: copied below) */
	if (h && size >= REALLOC_MAP_MIN &&
	    (char *)h->user - (char *)h < (ptrdiff_t)HAK_SS_SIZE)
		return realloc_huge(h, size);
	old = h ? h->usable : usable_size(ptr, "realloc");
	if (!old)
		return NULL;	/* reported; errno as POSIX asks */
	if (!h && fits_in_place(old, size))
		return ptr;
	if (h && size <= old && size > old / 2)
		return ptr;
	return realloc_move(ptr, old, size);
}

HAK_EXPORT void *hak_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return hak_realloc(ptr, total);
}

/*
 * Objects of a class are aligned to the largest power of two dividing the
 * class size (spans start on 64 KiB boundaries), so an aligned request is
 * the first class at least as large whose size is a multiple of @align.
 */
static void *alloc_aligned(size_t align, size_t size)
{
	if (align <= 8)
		return hak_malloc(size);
	if (size <= HAK_MAX_CLASS_SIZE && align <= HAK_SLAB_SIZE) {
		unsigned int cl = size_to_class(size ? size : 1);

		while (cl < HAK_NR_CLASSES && class_size_of[cl] % align)
			cl++;
		if (cl < HAK_NR_CLASSES)
			return malloc_class(cl);
	}
	alloc_init();
	return huge_alloc(size, align, 0);
}

HAK_EXPORT void *hak_aligned_alloc(size_t alignment, size_t size)
{
	if (!is_pow2(alignment)) {
		errno = EINVAL;
		return NULL;
	}
	return alloc_aligned(alignment, size);
}

HAK_EXPORT int hak_posix_memalign(void **memptr, size_t alignment, size_t size)
{
	int saved = errno;
	void *p;

	if (!is_pow2(alignment) || alignment % sizeof(void *))
		return EINVAL;
	p = alloc_aligned(alignment, size);
	if (!p) {
		errno = saved;
		return ENOMEM;
	}
	*memptr = p;
	return 0;
}

HAK_EXPORT void *hak_memalign(size_t alignment, size_t size)
{
	size_t a = 1;

	/* glibc rounds an alignment that is not a power of two up. */
	if (alignment > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	while (a < alignment)
		a <<= 1;
	return alloc_aligned(a, size);
}

HAK_EXPORT void *hak_valloc(size_t size)
{
	return alloc_aligned(HAK_PAGE_SIZE, size);
}

HAK_EXPORT void *hak_pvalloc(size_t size)
{
	if (size > SIZE_MAX - HAK_PAGE_SIZE) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc_aligned(HAK_PAGE_SIZE,
			     size ? round_up(size, HAK_PAGE_SIZE) : HAK_PAGE_SIZE);
}

HAK_EXPORT size_t hak_malloc_usable_size(const void *ptr)
{
	if (!ptr)
		return 0;
	return usable_size(ptr, "malloc_usable_size");
}

HAK_EXPORT int hak_trim(void)
{
	int did;

	alloc_init();
	fc_flush_reachable();
	did = central_shrink_all() != 0;
	did |= huge_trim();
	return superslab_purge(1) || did;
}
