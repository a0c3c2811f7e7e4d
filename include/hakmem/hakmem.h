/* SPDX-License-Identifier: MIT */
/*
 * hakmem: a userspace slab allocator in the style of the Linux kernel's SLUB.
 *
 * This is the whole public interface. The shared library libhakmem.so also
 * exports the standard names (malloc, free, ...) so that
 * LD_PRELOAD=libhakmem.so runs any program on it; the static library
 * libhakmem.a exports only the hak_* names below, for embedding, and the
 * C++ operators new and delete (Documentation/api.rst). Both libraries
 * export those operators.
 */
#ifndef HAKMEM_HAKMEM_H
#define HAKMEM_HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The malloc family ------------------------------------------------ */

/**
 * hak_malloc() - allocate memory
 * @size: number of bytes; 0 gives a unique pointer that may be freed
 *
 * Return: memory aligned to at least 16 bytes (8 for requests of 8 bytes or
 * less), or NULL with errno set to ENOMEM.
 */
void *hak_malloc(size_t size);

/**
 * hak_free() - release memory from any hak_* or standard allocation call
 * @ptr: pointer returned by the allocator, or NULL (a no-op)
 *
 * A pointer the allocator did not hand out, an interior pointer or a second
 * free of the same pointer is reported on stderr and aborts the process
 * (HAKMEM_ON_ERROR=warn reports and ignores it instead).
 */
void hak_free(void *ptr);

/**
 * hak_calloc() - allocate zeroed memory for an array
 * @nmemb: number of elements
 * @size: size of one element
 *
 * Return: zeroed memory, or NULL with errno ENOMEM (also when
 * @nmemb * @size overflows).
 */
void *hak_calloc(size_t nmemb, size_t size);

/**
 * hak_realloc() - resize an allocation, keeping its contents
 * @ptr: existing allocation or NULL (then it acts as hak_malloc())
 * @size: new size; 0 frees @ptr and returns NULL, as glibc does
 *
 * Stays in place when the new size falls in the same size class (for huge
 * allocations: when it fits and uses more than half of the mapping, or the
 * mapping is at most 2 MiB). Growth to 256 KiB or more moves an object into
 * a mapping of its own once; later growth uses mremap, without a copy.
 *
 * Return: the (possibly moved) allocation; NULL with errno ENOMEM when
 * memory is short, in which case @ptr is left untouched.
 */
void *hak_realloc(void *ptr, size_t size);

/**
 * hak_reallocarray() - hak_realloc() of @nmemb * @size, overflow-checked
 * @ptr: existing allocation or NULL
 * @nmemb: number of elements
 * @size: size of one element
 *
 * Return: as hak_realloc(); NULL with errno ENOMEM on overflow.
 */
void *hak_reallocarray(void *ptr, size_t nmemb, size_t size);

/**
 * hak_aligned_alloc() - allocate with a given alignment
 * @alignment: a power of two
 * @size: number of bytes
 *
 * Return: memory aligned to @alignment, or NULL with errno EINVAL (bad
 * alignment) or ENOMEM.
 */
void *hak_aligned_alloc(size_t alignment, size_t size);

/**
 * hak_posix_memalign() - allocate with a given alignment, POSIX style
 * @memptr: where to store the result
 * @alignment: a power of two and a multiple of sizeof(void *)
 * @size: number of bytes
 *
 * Return: 0, EINVAL or ENOMEM; errno is not changed.
 */
int hak_posix_memalign(void **memptr, size_t alignment, size_t size);

/**
 * hak_memalign() - obsolete aligned allocation, as glibc's memalign()
 * @alignment: a power of two
 * @size: number of bytes
 *
 * Return: memory aligned to @alignment, or NULL with errno set.
 */
void *hak_memalign(size_t alignment, size_t size);

/**
 * hak_valloc() - page-aligned allocation
 * @size: number of bytes
 *
 * Return: page-aligned memory, or NULL with errno ENOMEM.
 */
void *hak_valloc(size_t size);

/**
 * hak_pvalloc() - page-aligned allocation rounded up to whole pages
 * @size: number of bytes
 *
 * Return: page-aligned memory, or NULL with errno ENOMEM.
 */
void *hak_pvalloc(size_t size);

/**
 * hak_malloc_usable_size() - bytes usable in an allocation
 * @ptr: a live allocation or NULL (gives 0)
 *
 * Return: the size of the object's size class (or mapping) behind @ptr.
 */
size_t hak_malloc_usable_size(const void *ptr);

/**
 * hak_trim() - give free memory back to the operating system now
 *
 * Flushes the calling thread's cache, returns empty slabs to their
 * SuperSlabs, advises the kernel that free slabs are unused and unmaps
 * empty SuperSlabs.
 *
 * Return: 1 if memory was returned to the system, 0 otherwise.
 */
int hak_trim(void);

/* ---- Per-node allocation ---------------------------------------------- */

/** HAK_NUMA_NO_NODE - no node asked for: the caller's node */
#define HAK_NUMA_NO_NODE	(-1)

/**
 * hak_malloc_node() - allocate memory on a given NUMA node
 * @size: number of bytes
 * @node: a node number, or HAK_NUMA_NO_NODE (then it is hak_malloc())
 *
 * As the kernel's kmalloc_node(): the memory is on @node, or when @node
 * may not hold memory (cpuset, --membind) or none can be mapped for it,
 * on the nearest node that can (Documentation/numa.rst). An object for
 * another node than the caller's comes from that node's central pool,
 * never from this CPU's cache. With one pool (one node, --interleave,
 * --preferred, HAKMEM_NUMA=0) the pool's placement applies; requests
 * above 1 MiB are placed by the process's policy, as every mapping of
 * their own. Freed with hak_free() from any thread.
 *
 * Return: the memory, or NULL with errno ENOMEM, or EINVAL when @node
 * is no node of the machine (without a report: bad arguments get
 * EINVAL, as for hak_aligned_alloc()).
 */
void *hak_malloc_node(size_t size, int node);

/**
 * hak_set_limit() - limit the memory the allocator maps, as tcmalloc's
 * SetMemoryLimit
 * @soft: bytes above which cached and free memory (the cache of freed huge
 *        mappings, empty SuperSlabs) is released before more is mapped;
 *        0 for no soft limit
 * @hard: bytes the allocator's own mappings never pass (SuperSlabs, huge
 *        mappings, metadata: the @mapped_bytes of hak_global_stats()); an
 *        allocation that would need more returns NULL with errno ENOMEM,
 *        the heap stays usable and hak_global_stats() counts it in
 *        @limit_failures; 0 for no hard limit
 *
 * Replaces the limits set before (or by HAKMEM_LIMIT=soft[,hard]). When
 * the memory mapped now is above a new limit, hak_trim() runs first. A
 * hard limit below what stays mapped is accepted: nothing more is mapped
 * until frees bring usage below it (allocations served from memory
 * already mapped still succeed).
 *
 * Return: 0; 1 when the hard limit was set below the bytes mapped now
 * (reported on stderr); -1 with errno EINVAL when @soft is above a
 * nonzero @hard (reported on stderr; the limits are unchanged).
 */
int hak_set_limit(size_t soft, size_t hard);

/* ---- Object caches ---------------------------------------------------- */

/** HAK_SLAB_HWCACHE_ALIGN - align objects to the hardware cache line */
#define HAK_SLAB_HWCACHE_ALIGN	0x00002000UL
/** HAK_SLAB_PANIC - abort instead of returning NULL from hak_cache_create() */
#define HAK_SLAB_PANIC		0x00040000UL
/**
 * HAK_SLAB_TYPESAFE_BY_RCU - a freed object may be reused at once for
 * another object of the same cache, but its memory goes back to the
 * SuperSlab (and from there to another cache or the kernel) only after a
 * liburcu grace period, so lock-free readers may still read an object
 * they found and must validate it (as the kernel's SLAB_TYPESAFE_BY_RCU).
 * Needs CONFIG_RCU=y: hak_cache_create() refuses it with EINVAL otherwise.
 */
#define HAK_SLAB_TYPESAFE_BY_RCU	0x00080000UL

struct hak_cache;

/**
 * hak_cache_create() - create a cache of fixed-size objects
 * @name: name shown in the statistics (copied; at most 31 characters kept)
 * @size: object size in bytes (1 to 1 MiB)
 * @align: required alignment (0, or a power of two up to 4096)
 * @flags: HAK_SLAB_* flags
 * @ctor: constructor run once per object when its slab is carved, or NULL;
 *        objects must be freed back in their constructed state
 *
 * Return: the cache, or NULL with errno EINVAL or ENOMEM.
 */
struct hak_cache *hak_cache_create(const char *name, size_t size, size_t align,
				   unsigned long flags, void (*ctor)(void *));

/**
 * hak_cache_alloc() - allocate one object from a cache
 * @cache: the cache
 *
 * Return: an object (constructed if the cache has a constructor), or NULL
 * with errno ENOMEM.
 */
void *hak_cache_alloc(struct hak_cache *cache);

/**
 * hak_cache_alloc_node() - allocate one object of a cache on a NUMA node
 * @cache: the cache
 * @node: a node number, or HAK_NUMA_NO_NODE (then it is hak_cache_alloc())
 *
 * As hak_malloc_node(), for an object cache (kmem_cache_alloc_node()).
 *
 * Return: an object, or NULL with errno ENOMEM or EINVAL (no such node).
 */
void *hak_cache_alloc_node(struct hak_cache *cache, int node);

/**
 * hak_cache_free() - return an object to its cache
 * @cache: the cache the object was allocated from
 * @obj: the object, or NULL (a no-op)
 *
 * Freeing into the wrong cache is reported like any invalid free.
 */
void hak_cache_free(struct hak_cache *cache, void *obj);

/**
 * hak_cache_shrink() - release the empty slabs of a cache
 * @cache: the cache
 *
 * Flushes the fast-path caches it can reach (every CPU's in the per-CPU
 * mode, the calling thread's in the per-thread mode; all caches' objects,
 * not only @cache's) and returns every empty span of @cache to its
 * SuperSlab.
 *
 * Return: the number of spans released.
 */
int hak_cache_shrink(struct hak_cache *cache);

/**
 * hak_cache_destroy() - destroy a cache
 * @cache: the cache, or NULL
 *
 * Objects still allocated are reported on stderr (the cache then stays
 * alive, as SLUB does, so they remain valid). In the per-thread mode,
 * objects freed by other live threads may still sit in their caches: the
 * cache then stays registered, without a report, until they come back.
 * With CONFIG_RCU=y it first waits for pending deferred frees
 * (hak_rcu_barrier(), once any free was ever deferred) and, for a
 * HAK_SLAB_TYPESAFE_BY_RCU cache, for the grace period of its spans.
 *
 * Context: not inside an RCU read-side critical section.
 */
void hak_cache_destroy(struct hak_cache *cache);

/* ---- Bulk allocation -------------------------------------------------- */

/**
 * hak_cache_alloc_bulk() - allocate several objects of a cache at once
 * @cache: the cache (a size class's cache works too)
 * @n: how many
 * @objs: array of at least @n pointers, filled on success
 *
 * All or nothing, as the kernel's kmem_cache_alloc_bulk(): what this
 * CPU's fast-path cache holds is taken in one critical section, the rest
 * from the central pool in batches, one lock per batch. Each object is
 * as hak_cache_alloc() would give it.
 *
 * Return: @n, or 0 with errno ENOMEM and nothing allocated (also 0 for
 * @n == 0).
 */
size_t hak_cache_alloc_bulk(struct hak_cache *cache, size_t n, void **objs);

/**
 * hak_cache_free_bulk() - free several objects of a cache at once
 * @cache: the cache they were allocated from
 * @n: how many
 * @objs: the objects; NULL entries are skipped
 *
 * Every object is checked as hak_cache_free() checks it. The objects of
 * this CPU's spans and node go into its fast-path cache in one critical
 * section; the others go back to their owners as hak_free() sends them.
 * An invalid object (of another cache, interior, already free) is
 * reported as hak_cache_free() reports it; with HAKMEM_ON_ERROR=warn the
 * rest are still freed.
 */
void hak_cache_free_bulk(struct hak_cache *cache, size_t n, void **objs);

/* ---- Reserves ---------------------------------------------------------- */

struct hak_reserve;

/**
 * hak_cache_reserve() - set aside objects of a cache up front
 * @cache: the cache
 * @n: how many objects (at most 65536; 0 gives an empty reserve)
 *
 * For code that must not meet ENOMEM halfway (a request that needs three
 * objects, all or none): the objects are taken now, all or none, as the
 * kernel's kmem_cache_prefill_sheaf(). The reserve's own memory comes
 * from the allocator's metadata, never from malloc.
 *
 * Return: the reserve, or NULL with errno ENOMEM (nothing kept) or
 * EINVAL (@n too large, @cache NULL).
 */
struct hak_reserve *hak_cache_reserve(struct hak_cache *cache, unsigned int n);

/**
 * hak_reserve_alloc() - take one object from a reserve
 * @r: a reserve from hak_cache_reserve()
 *
 * Cannot fail while the reserve holds objects; maps no memory, takes no
 * lock. Not safe against another thread using @r at the same time.
 *
 * Return: an object of the reserve's cache (constructed if the cache has
 * a constructor), or NULL with errno ENOMEM when the reserve is empty. A
 * released reserve is reported on stderr (as an invalid free is).
 */
void *hak_reserve_alloc(struct hak_reserve *r);

/**
 * hak_reserve_count() - objects left in a reserve
 * @r: a reserve from hak_cache_reserve()
 *
 * Return: how many hak_reserve_alloc() calls will still succeed.
 */
unsigned int hak_reserve_count(const struct hak_reserve *r);

/**
 * hak_reserve_release() - give a reserve's remaining objects back
 * @cache: the cache the reserve was made for
 * @r: the reserve, or NULL (a no-op)
 *
 * The objects handed out stay allocated; @r must not be used afterwards.
 * A reserve released twice, or to another cache, is reported on stderr
 * as an invalid free is (and left alone). A second release is caught as
 * long as the reserve was not handed out again by hak_cache_reserve().
 */
void hak_reserve_release(struct hak_cache *cache, struct hak_reserve *r);

/* ---- RCU-deferred frees (CONFIG_RCU=y, liburcu) ------------------------ */

/*
 * The grace periods are those of liburcu's default flavour, urcu-memb
 * (<urcu.h>, -lurcu): the readers that a deferred free waits for are the
 * program's threads registered with rcu_register_thread() of that flavour,
 * inside rcu_read_lock() ... rcu_read_unlock(). hakmem itself never reads
 * under RCU and registers no thread. A library built with CONFIG_RCU=n
 * does not have these functions: a program calling them fails to link.
 */

/**
 * hak_free_rcu() - free memory after a grace period, as kvfree_rcu()
 * @p: any allocation of the hak_* or standard calls, or NULL (a no-op)
 *
 * The memory stays valid for readers that may have found it until every
 * read-side critical section running now has ended. Nothing is written
 * into it: @p goes into a per-thread batch (one page of pointers), and
 * one call_rcu() frees a whole batch; a batch that is not full goes when
 * the thread's next call finds it older than 10 ms, when the thread exits,
 * or at hak_rcu_barrier(). An invalid pointer is reported at once, as by
 * hak_free(); a second deferred free of one pointer is reported when the
 * batch is freed.
 *
 * Context: a thread registered with liburcu (call_rcu()'s rule), not
 * inside a read-side critical section: when no batch memory can be had,
 * it waits for a grace period itself (synchronize_rcu()) and frees.
 */
void hak_free_rcu(void *p);

/**
 * hak_cache_free_rcu() - return an object to its cache after a grace period
 * @cache: the cache the object was allocated from
 * @obj: the object, or NULL (a no-op)
 *
 * As hak_free_rcu(); an object of another cache is reported at once.
 *
 * Context: as hak_free_rcu().
 */
void hak_cache_free_rcu(struct hak_cache *cache, void *obj);

/**
 * hak_rcu_barrier() - wait for every pending deferred free, as
 * rcu_barrier()
 *
 * Sends every thread's partial batch to call_rcu() and waits until all
 * deferred frees queued before the call (by any thread), and the delayed
 * span releases of HAK_SLAB_TYPESAFE_BY_RCU caches, are done.
 * hak_cache_destroy() calls it when any free was ever deferred.
 *
 * Context: not inside a read-side critical section, not from a call_rcu()
 * callback.
 */
void hak_rcu_barrier(void);

/* ---- Introspection ---------------------------------------------------- */

/**
 * struct hak_slabinfo - one row of the slabinfo table
 * @name: cache name ("kmalloc-64" for size classes)
 * @object_size: object size in bytes
 * @stride: distance between objects in a slab
 * @objs_per_slab: objects in one slab span
 * @slabs_per_span: 64 KiB slabs in one span
 * @active_objs: objects handed out and not freed, including those sitting in
 *               per-thread or per-CPU caches
 * @num_objs: objects in all slabs of the cache
 * @slabs: slab spans held by the cache
 * @refills: batches moved from the central pool into a fast-path cache
 * @drains: batches moved back from a fast-path cache
 * @superslab_refills: spans taken from a SuperSlab bitmap
 */
struct hak_slabinfo {
	char name[32];
	size_t object_size;
	size_t stride;
	uint32_t objs_per_slab;
	uint32_t slabs_per_span;
	uint64_t active_objs;
	uint64_t num_objs;
	uint64_t slabs;
	uint64_t refills;
	uint64_t drains;
	uint64_t superslab_refills;
};

/**
 * struct hak_global_stats - allocator-wide counters
 * @superslabs: SuperSlabs mapped now
 * @superslabs_mapped: SuperSlabs mapped since start
 * @superslabs_unmapped: SuperSlabs returned to the system since start
 * @huge_allocs: huge (own mapping) allocations live now
 * @huge_bytes: bytes mapped for huge allocations now (including freed
 *              mappings kept for reuse, up to HAKMEM_HUGE_CACHE_KB)
 * @mapped_bytes: all bytes mapped by the allocator now (metadata included)
 * @mode: fast-path mode in force ("per-CPU rseq (cpu_id)", "per-CPU rseq
 *        (mm_cid)" or "per-thread")
 * @mode_reason: why that mode is in force
 * @numa_policy: the placement policy in force (local, bind, interleave,
 *               preferred, fake nodes, or one pool)
 * @numa_nodes: nodes with a pool of their own (0 in single-pool mode)
 * @thp: the huge-page policy for SuperSlabs (HAKMEM_THP: "never",
 *       "madvise" or "always")
 * @anon_huge_bytes: the process's anonymous memory in transparent huge
 *                   pages (AnonHugePages of /proc/self/smaps_rollup; all
 *                   of the process's, not only the allocator's), or -1
 *                   if the kernel does not say
 * @background: 1 if the background thread (HAKMEM_BACKGROUND) runs
 * @hardened: 1 when the library was built with CONFIG_HARDENED=y (the
 *            default: the free fast path checks every pointer), 0 for
 *            CONFIG_HARDENED=n
 * @limit_soft: the soft memory limit in bytes (hak_set_limit(),
 *              HAKMEM_LIMIT), 0 for none
 * @limit_hard: the hard memory limit in bytes, 0 for none
 * @limit_failures: mappings the hard limit refused since start (each gave
 *                  an allocation NULL with ENOMEM, unless a retry after
 *                  releasing cached memory succeeded)
 * @limit_reclaims: releases of cached memory the limits started
 */
struct hak_global_stats {
	uint64_t superslabs;
	uint64_t superslabs_mapped;
	uint64_t superslabs_unmapped;
	uint64_t huge_allocs;
	uint64_t huge_bytes;
	uint64_t mapped_bytes;
	const char *mode;
	const char *mode_reason;
	const char *numa_policy;
	int numa_nodes;
	const char *thp;
	int64_t anon_huge_bytes;
	int background;
	int hardened;
	uint64_t limit_soft;
	uint64_t limit_hard;
	uint64_t limit_failures;
	uint64_t limit_reclaims;
};

/**
 * struct hak_node_stats - per-node counters
 * @node: node number; -1 for the boot pool (allocations made before the
 *        topology was known)
 * @superslabs: SuperSlabs of the node now
 * @bytes: bytes of those SuperSlabs
 * @refills: batches handed to fast-path caches from the node's pools
 * @remote_frees: objects of the node freed on another node and returned
 * @cross_refills: refills the node served for another node whose own
 *                 memory ran out
 * @placed_superslabs: SuperSlabs bound (MPOL_PREFERRED) to this node since
 *                     start whose placement was checked: the node of each
 *                     one's first page is asked once, when it is mapped,
 *                     on machines with several nodes under the default
 *                     (local) or --preferred policy; 0 otherwise
 * @fallback_superslabs: of those, the SuperSlabs the kernel placed on
 *                       another node (this node was full); each is
 *                       2 MiB
 * @fallback_in: SuperSlabs bound to another node since start that the
 *               kernel placed on this one
 */
struct hak_node_stats {
	int node;
	uint64_t superslabs;
	uint64_t bytes;
	uint64_t refills;
	uint64_t remote_frees;
	uint64_t cross_refills;
	uint64_t placed_superslabs;
	uint64_t fallback_superslabs;
	uint64_t fallback_in;
};

/**
 * hak_node_stats() - read the per-node counters
 * @rows: array to fill, one row per pool that holds or held SuperSlabs
 * @max: capacity of @rows
 *
 * Return: the number of rows available (only @max are written).
 */
int hak_node_stats(struct hak_node_stats *rows, int max);

/**
 * hak_slabinfo() - read the slabinfo table
 * @rows: array to fill
 * @max: capacity of @rows
 *
 * Return: the number of caches that exist (may exceed @max; only @max rows
 * are written). Caches with no slabs are included.
 */
int hak_slabinfo(struct hak_slabinfo *rows, int max);

/**
 * hak_global_stats() - read the allocator-wide counters
 * @st: filled on return
 */
void hak_global_stats(struct hak_global_stats *st);

/**
 * hak_stats_print() - write the slabinfo table and counters
 * @fd: file descriptor to write to (no stdio is used)
 *
 * HAKMEM_STATS=1 calls this on stderr at exit.
 */
void hak_stats_print(int fd);

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_HAKMEM_H */
