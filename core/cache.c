// SPDX-License-Identifier: MIT
/*
 * Caches: the layout of a cache's objects (stride, free tag, span size,
 * batch, fast-path capacity) and the kmalloc caches, one per size class,
 * each set up on its first allocation.
 * Object caches made by the user are installed by object_cache.c; every
 * cache's objects move through its central pools (central.c).
 */
#include <string.h>

#include "cache.h"
#include "fmt.h"
#include "init.h"
#include "options.h"
#include "hakmem/hakmem.h"

struct hak_cache *cache_by_id[HAK_MAX_CACHES];
struct hak_cache kmalloc_caches[HAK_NR_CLASSES];
uintptr_t tag_secret;

#define XFER_BYTES	(512UL << 10)
#define XFER_MAX	1024UL

/* The kmalloc caches' transfer arrays (untouched until used). */
static void *kmalloc_xfer[HAK_NR_CLASSES][XFER_MAX];

/* 1 / (the odd part of @stride) mod 2^64, by Newton's iteration. */
static uint64_t inv_of(uint32_t stride)
{
	uint64_t d = stride >> __builtin_ctz(stride), x = d;

	for (int i = 0; i < 5; i++)	/* 3, 6, 12, 24, 48, 96 good bits */
		x *= 2 - d * x;
	return x;
}

/*
 * SLUB's calculate_alignment(): a hardware-aligned cache of small objects
 * packs several objects per line rather than one.
 */
static size_t hwcache_align(size_t size, size_t align)
{
	size_t ralign = HAK_CACHELINE;

	while (size <= ralign / 2)
		ralign /= 2;
	return align > ralign ? align : ralign;
}

/*
 * A stride above a cache line that is a whole number of lines keeps every
 * object on the fewest lines, and its header at the start of one: round
 * up to that when it costs at most an eighth more (a constructed cache's
 * 304 + 8 bytes take 320, 472 + 8 take 512; 128 + 8 stay 136, as 192
 * would cost 41%). Smaller strides share lines anyway.
 */
static size_t line_friendly(size_t stride)
{
	size_t lined = round_up(stride, HAK_CACHELINE);

	if (stride > HAK_CACHELINE && (lined - stride) * 8 <= stride)
		return lined;
	return stride;
}

static unsigned int batch_for(uint32_t stride)
{
	long refill = option_get(OPT_REFILL);
	unsigned long b = (32UL << 10) / stride;

	if (b > (unsigned long)refill)
		b = (unsigned long)refill;
	return b ? (unsigned int)b : 1;
}

/* The biggest objects: one per fast-path cache is plenty. */
static unsigned int fc_cap_for(uint32_t stride)
{
	return stride > (128U << 10) ? 1 : 2 * batch_for(stride);
}

/**
 * cache_setup() - compute the layout of a cache
 * @c: zeroed cache to fill (id and central storage are the caller's)
 * @name: name for statistics
 * @size: object size, 1 to HAK_MAX_CLASS_SIZE
 * @align: 0 or a power of two up to 4096
 * @flags: HAK_SLAB_* flags
 * @ctor: constructor or NULL
 *
 * A free object carries a tag word (free_off) wherever it is: a span's
 * free set is its free map, so nothing else is written into free objects.
 * A cache with a constructor keeps the tag after the object (as SLUB keeps
 * its free pointer), so a free object stays constructed.
 *
 * Return: 0, or -1 if the parameters are invalid.
 */
int cache_setup(struct hak_cache *c, const char *name, size_t size,
		size_t align, unsigned long flags, void (*ctor)(void *))
{
	size_t stride;

	if (!size || size > HAK_MAX_CLASS_SIZE || (align && !is_pow2(align)) ||
	    align > 4096)
		return -1;
	if (align < 8)
		align = 8;
	if (flags & HAK_SLAB_HWCACHE_ALIGN)
		align = hwcache_align(size, align);
	size = round_up(size, 8);
	c->free_off = ctor ? (uint32_t)size : 0;
	stride = round_up(ctor ? size + sizeof(void *) : size, align);
	stride = line_friendly(stride);
	c->size = (uint32_t)size;
	c->stride = (uint32_t)stride;
	c->inv = inv_of(c->stride);
	c->span_slabs = (uint16_t)size_class_span_slabs(stride);
	c->objs_per_span = (uint32_t)(((size_t)c->span_slabs <<
				       HAK_SLAB_SHIFT) / stride);
	c->batch = (uint16_t)batch_for(c->stride);
	c->fc_cap = (uint16_t)fc_cap_for(c->stride);
	/*
	 * The transfer array holds at most XFER_BYTES of objects: none of
	 * the biggest, which go straight back to their spans.
	 */
	c->xfer_limit = (uint16_t)(XFER_BYTES / c->stride > XFER_MAX ?
				   XFER_MAX : XFER_BYTES / c->stride);
	if (c->objs_per_span == 1)	/* see span_single() */
		c->xfer_limit = 0;
	c->flags = flags;
	c->ctor = ctor;
	strncpy(c->name, name, sizeof(c->name) - 1);
	c->name[sizeof(c->name) - 1] = '\0';
	mutex_init(&c->central.lock);
	c->central.node = HAK_NODE_BOOT;
	atomic_store(&c->node_central[HAK_NODE_BOOT], &c->central);
	return 0;
}

/**
 * kmalloc_stride() - the stride of a size class's objects
 * @cl: the class
 *
 * The kmalloc caches' layout (no constructor, 8-byte alignment), without
 * setting the cache up.
 *
 * Return: the stride cache_setup() gives it.
 */
uint32_t kmalloc_stride(unsigned int cl)
{
	return (uint32_t)line_friendly(round_up(class_size_of[cl], 8));
}

/**
 * kmalloc_fc_cap() - the fast-path capacity of a size class
 * @cl: the class
 *
 * What cache_setup() gives its kmalloc cache, without setting it up: the
 * bins are laid out at start-up, the caches on first use.
 *
 * Return: the objects a fast-path cache of @cl holds.
 */
unsigned int kmalloc_fc_cap(unsigned int cl)
{
	return fc_cap_for(kmalloc_stride(cl));
}

/**
 * kmalloc_cache_setup() - set up the kmalloc cache of a class
 * @cl: the class
 *
 * On the first allocation of the class (kmalloc_cache()), not at start-up:
 * a program touches only the descriptors of the classes it uses (each is
 * 1.3 KiB, all of them 84 KiB). Its transfer array is static: the
 * metadata arena is not needed. The cache is published in cache_by_id[],
 * the flag kmalloc_cache() tests, once it is complete.
 *
 * Context: no allocator lock held (the allocator never calls malloc with
 * one); takes the cache list lock.
 * Return: the cache.
 */
struct hak_cache *kmalloc_cache_setup(unsigned int cl)
{
	struct hak_cache *c = &kmalloc_caches[cl];
	unsigned int id = HAK_KMALLOC_FIRST + cl;
	char name[32];

	cache_list_lock();
	if (!cache_by_id[id]) {
		fmt_format(name, sizeof(name), "kmalloc-%u", class_size_of[cl]);
		cache_setup(c, name, class_size_of[cl], 0, 0, NULL);
		c->id = id;
		c->central.xfer = kmalloc_xfer[cl];
		c->central.xfer_cap = ARRAY_SIZE(kmalloc_xfer[cl]);
		__atomic_store_n(&cache_by_id[id], c, __ATOMIC_RELEASE);
	}
	cache_list_unlock();
	return c;
}
