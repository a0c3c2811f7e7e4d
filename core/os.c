// SPDX-License-Identifier: MIT
/*
 * Thin wrappers over mmap/munmap/madvise with the allocator's accounting and
 * the HAKMEM_FAIL_MMAP fault injection.
 */
#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "compiler.h"
#include "limit.h"
#include "options.h"
#include "os.h"

static _Atomic uint64_t mapped_bytes;
static _Atomic uint64_t map_calls;

static int inject_failure(void)
{
	long every = option_get(OPT_FAIL_MMAP);

	if (likely(!every))
		return 0;
	return atomic_fetch_add_explicit(&map_calls, 1,
					 memory_order_relaxed) % every ==
	       (uint64_t)every - 1;
}

/*
 * Every mapping that grows the allocator's footprint is charged here
 * first, against the memory limits when one is set (core/limit.c).
 */
static int charge(size_t len)
{
	if (unlikely(limit_on()))
		return limit_charge(&mapped_bytes, len);
	atomic_fetch_add_explicit(&mapped_bytes, len, memory_order_relaxed);
	return 0;
}

static void uncharge(size_t len)
{
	atomic_fetch_sub_explicit(&mapped_bytes, len, memory_order_relaxed);
}

/* Maps @len bytes already charged; uncharges them on failure. */
static void *map_charged(size_t len)
{
	void *p;

	if (unlikely(inject_failure()))
		goto fail;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (unlikely(p == MAP_FAILED))
		goto fail;
	return p;
fail:
	uncharge(len);
	errno = ENOMEM;
	return NULL;
}

/**
 * os_map() - map anonymous read-write memory
 * @len: length, a multiple of the page size
 *
 * Return: the mapping, or NULL with errno ENOMEM (also when the hard
 * memory limit refuses it).
 */
void *os_map(size_t len)
{
	if (unlikely(charge(len))) {
		errno = ENOMEM;
		return NULL;
	}
	return map_charged(len);
}

/**
 * os_map_aligned() - map anonymous memory aligned to @align
 * @len: length, a multiple of the page size
 * @align: a power of two, at least the page size
 *
 * Maps @len + @align and trims both ends, so the kernel never sees more
 * than one extra mapping call and no address is probed.
 *
 * Return: the aligned mapping, or NULL with errno ENOMEM.
 */
void *os_map_aligned(size_t len, size_t align)
{
	size_t span = len + align - HAK_PAGE_SIZE;
	uintptr_t base, start;
	char *raw;

	if (unlikely(span < len) || unlikely(charge(len))) {
		errno = ENOMEM;
		return NULL;
	}
	/* only @len stays: the trimmed ends are not held against a limit */
	atomic_fetch_add_explicit(&mapped_bytes, span - len,
				  memory_order_relaxed);
	raw = map_charged(span);
	if (!raw)
		return NULL;
	base = (uintptr_t)raw;
	start = (base + align - 1) & ~(uintptr_t)(align - 1);
	if (start > base)
		os_unmap(raw, start - base);
	if (base + span > start + len)
		os_unmap((void *)(start + len), base + span - (start + len));
	return (void *)start;
}

/**
 * os_unmap() - return a mapping (or part of one) to the system
 * @p: page-aligned start
 * @len: length
 */
void os_unmap(void *p, size_t len)
{
	if (munmap(p, len) == 0)
		atomic_fetch_sub_explicit(&mapped_bytes, len,
					  memory_order_relaxed);
}

/**
 * os_purge() - tell the kernel the pages are free; they read back as zero
 * @p: page-aligned start
 * @len: length
 */
void os_purge(void *p, size_t len)
{
	madvise(p, len, MADV_DONTNEED);
}

#ifndef MADV_FREE
#define MADV_FREE	8	/* Linux 4.5; older headers lack it */
#endif

static _Atomic int no_madv_free;	/* the kernel refused MADV_FREE once */

/**
 * os_purge_lazy() - tell the kernel the pages are free, to reclaim when it
 * needs the memory
 * @p: page-aligned start
 * @len: length
 *
 * MADV_FREE: until the kernel reclaims them the pages stay resident (and
 * count in RSS), and writing one again costs no fault; a reclaimed page
 * reads as zero. Kernels without MADV_FREE (before 4.5) get
 * MADV_DONTNEED. Either way the contents are lost.
 */
void os_purge_lazy(void *p, size_t len)
{
	if (!atomic_load_explicit(&no_madv_free, memory_order_relaxed)) {
		if (!madvise(p, len, MADV_FREE))
			return;
		if (errno == EINVAL)
			atomic_store_explicit(&no_madv_free, 1,
					      memory_order_relaxed);
	}
	madvise(p, len, MADV_DONTNEED);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23	/* Linux 5.14; older headers lack it */
#endif

static _Atomic int no_populate;	/* the kernel refused the advice once */
static _Atomic uint64_t populate_calls;	/* madvise() calls made */

/**
 * os_populate() - fault pages in for writing before their first touch
 * @p: page-aligned start
 * @len: length, a multiple of the page size
 *
 * One madvise(MADV_POPULATE_WRITE) maps the whole range, instead of one
 * page fault per page on the first write. A kernel that does not know the
 * advice (before 5.14) refuses it with EINVAL, as does one whose page
 * size is not HAK_PAGE_SIZE; after the first EINVAL or ENOSYS it is never
 * asked again. Other failures (ENOMEM) leave the pages to fault as usual.
 * errno is left as it was: the caller's malloc() succeeds all the same.
 *
 * Return: 0 when the range is populated, else -1.
 */
int os_populate(void *p, size_t len)
{
	int saved = errno, ret = -1;

	if (unlikely(atomic_load_explicit(&no_populate, memory_order_relaxed)))
		return -1;
	atomic_fetch_add_explicit(&populate_calls, 1, memory_order_relaxed);
	if (likely(!madvise(p, len, MADV_POPULATE_WRITE)))
		ret = 0;
	else if (errno == EINVAL || errno == ENOSYS)
		atomic_store_explicit(&no_populate, 1, memory_order_relaxed);
	errno = saved;
	return ret;
}

/**
 * os_now_ms() - a monotonic clock for decay, in milliseconds
 *
 * CLOCK_MONOTONIC_COARSE is read in the vDSO: no system call.
 *
 * Return: milliseconds since an arbitrary start.
 */
uint64_t os_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/**
 * os_populate_calls() - madvise(MADV_POPULATE_WRITE) calls made so far
 *
 * Return: the count (the selftests check that a slab taken again makes
 * none).
 */
uint64_t os_populate_calls(void)
{
	return atomic_load_explicit(&populate_calls, memory_order_relaxed);
}

/**
 * os_mapped_bytes() - bytes currently mapped by the allocator
 *
 * Return: the total.
 */
uint64_t os_mapped_bytes(void)
{
	return atomic_load_explicit(&mapped_bytes, memory_order_relaxed);
}

/**
 * os_remap() - resize a mapping, in place or to a fixed address
 * @old: the mapping
 * @old_len: its length
 * @len: the new length
 * @fixed: NULL to resize in place only, or where to move the pages
 *
 * Return: the mapping's (new) address, or NULL with errno ENOMEM.
 */
void *os_remap(void *old, size_t old_len, size_t len, void *fixed)
{
	size_t grow = len > old_len ? len - old_len : 0;
	void *p;

	if (unlikely(inject_failure()))
		goto fail;
	if (grow && unlikely(charge(grow)))
		goto fail;
	if (fixed)
		p = mremap(old, old_len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   fixed);
	else
		p = mremap(old, old_len, len, 0);
	if (p == MAP_FAILED) {
		uncharge(grow);
		goto fail;
	}
	if (len < old_len)
		uncharge(old_len - len);
	return p;
fail:
	errno = ENOMEM;
	return NULL;
}

/**
 * os_move() - move pages to a place inside another of our mappings
 * @src: page-aligned start of the pages to move
 * @len: their length
 * @dst: where they go; @len bytes there are replaced
 *
 * mremap moves the page tables: no copy, and the resident pages need no
 * fault at their new place. On failure the kernel may have unmapped @dst
 * already: it is mapped afresh (zero pages), so the range stays usable.
 *
 * Return: 0, or -1 with errno ENOMEM (the pages at @src then are left).
 */
int os_move(void *src, size_t len, void *dst)
{
	void *p;

	if (unlikely(inject_failure()))
		goto fail;
	p = mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (unlikely(p == MAP_FAILED)) {
		mmap(dst, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		     -1, 0);
		goto fail;
	}
	/* @dst's old pages are gone: @len bytes fewer mapped in all */
	atomic_fetch_sub_explicit(&mapped_bytes, len, memory_order_relaxed);
	return 0;
fail:
	errno = ENOMEM;
	return -1;
}

/**
 * os_remap_aligned() - move a mapping's pages to a new aligned place
 * @old: the mapping
 * @old_len: its length
 * @len: the new length
 * @align: alignment of the new place (a power of two)
 *
 * Reserves an aligned range, then moves the pages there with mremap: the
 * page tables move, the data is not copied.
 *
 * Return: the new address, or NULL with errno ENOMEM (the old mapping is
 * untouched).
 */
void *os_remap_aligned(void *old, size_t old_len, size_t len, size_t align)
{
	void *dst = os_map_aligned(len, align), *p;

	if (!dst)
		return NULL;
	p = os_remap(old, old_len, len, dst);
	if (!p) {
		os_unmap(dst, len);
		return NULL;
	}
	/* the reservation was replaced: take it off the books */
	atomic_fetch_sub_explicit(&mapped_bytes, len, memory_order_relaxed);
	return p;
}

/**
 * os_protect() - make pages inaccessible (a guard) or accessible again
 * @p: page-aligned start
 * @len: length
 * @none: 1 for PROT_NONE, 0 for read-write
 */
void os_protect(void *p, size_t len, int none)
{
	mprotect(p, len, none ? PROT_NONE : PROT_READ | PROT_WRITE);
}

/**
 * os_hugepage() - ask for transparent huge pages, or refuse them
 * @p: start, 2 MiB-aligned for the advice to matter
 * @len: length
 * @on: 1 for MADV_HUGEPAGE, 0 for MADV_NOHUGEPAGE
 *
 * Advice only: a kernel without THP (or with it set to never) ignores it.
 */
void os_hugepage(void *p, size_t len, int on)
{
	madvise(p, len, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

/* The number after @key in @buf (NUL-terminated), in kB, or -1. */
static long field_kb(const char *buf, const char *key)
{
	const char *s = strstr(buf, key);
	long v = 0;

	if (!s)
		return -1;
	for (s += strlen(key); *s == ' ' || *s == '\t'; s++)
		;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return v;
}

/**
 * os_anon_huge_kb() - the process's anonymous memory in huge pages
 * @kb: set to AnonHugePages of /proc/self/smaps_rollup, in KiB
 *
 * Reads the file with open() and read() into a buffer on the stack: no
 * stdio, no allocation.
 *
 * Return: 0, or -1 if the file cannot be read (old kernel, no /proc).
 */
int os_anon_huge_kb(long *kb)
{
	char buf[2048];
	size_t len = 0;
	ssize_t n;
	int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len < sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	*kb = field_kb(buf, "AnonHugePages:");
	return *kb < 0 ? -1 : 0;
}
