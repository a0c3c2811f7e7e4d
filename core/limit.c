// SPDX-License-Identifier: MIT
/*
 * Memory limits, as tcmalloc's SetMemoryLimit: see limit.h.
 *
 * What is limited is the allocator's own mapped bytes (os_mapped_bytes():
 * SuperSlabs, huge mappings, metadata), the one figure every mapping
 * changes. A mapping is charged before it is made (limit_charge(), from
 * the wrappers of core/os.c), so two threads cannot both pass the hard
 * limit. Above the soft limit, and before failing at the hard one, the
 * charge first releases what it can without waiting for any lock (its
 * caller may hold any allocator lock): the cache of freed huge mappings
 * and the empty SuperSlabs of every pool whose lock is free.
 * hak_set_limit(), called with no lock held, trims fully (hak_trim()).
 */
#include <errno.h>

#include "fmt.h"
#include "huge.h"
#include "limit.h"
#include "os.h"
#include "superslab.h"
#include "hakmem/hakmem.h"

_Atomic int limit_active;
static _Atomic uint64_t limit_soft;	/* 0: none */
static _Atomic uint64_t limit_hard;	/* 0: none */
static _Atomic uint64_t limit_failures;
static _Atomic uint64_t limit_reclaims;

static uint64_t load(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void limit_store(uint64_t soft, uint64_t hard)
{
	atomic_store_explicit(&limit_soft, soft, memory_order_relaxed);
	atomic_store_explicit(&limit_hard, hard, memory_order_relaxed);
	atomic_store_explicit(&limit_active, soft || hard,
			      memory_order_release);
}

/* Releases what can be released without waiting for a lock. */
static void limit_reclaim(void)
{
	atomic_fetch_add_explicit(&limit_reclaims, 1, memory_order_relaxed);
	huge_trim_try();
	superslab_trim_try();
}

/**
 * limit_charge() - account a mapping about to be made, within the limits
 * @mapped: the allocator's mapped-bytes counter (core/os.c)
 * @len: bytes the mapping adds
 *
 * Above the soft limit, releases cached memory first; adds @len to
 * *@mapped unless that would pass the hard limit even after releasing.
 *
 * Context: any; never waits for a lock.
 * Return: 0 when charged, -1 when the hard limit refuses it (counted).
 */
int limit_charge(_Atomic uint64_t *mapped, size_t len)
{
	uint64_t soft = load(&limit_soft), hard = load(&limit_hard);
	uint64_t now = atomic_load_explicit(mapped, memory_order_relaxed);

	if (soft && now + len > soft)
		limit_reclaim();
	for (int tries = 0; tries < 2; tries++) {
		now = atomic_fetch_add_explicit(mapped, len,
						memory_order_relaxed) + len;
		if (likely(!hard || now <= hard))
			return 0;
		atomic_fetch_sub_explicit(mapped, len, memory_order_relaxed);
		if (!tries)
			limit_reclaim();
	}
	atomic_fetch_add_explicit(&limit_failures, 1, memory_order_relaxed);
	return -1;
}

/* A size with an optional K, M, G or T suffix (powers of 1024). */
static int parse_size(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	switch (*s) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	}
	if (shift) {
		if (v > UINT64_MAX >> shift)
			return -1;
		v <<= shift;
		s++;
	}
	*end = s;
	*out = v;
	return 0;
}

/**
 * limit_parse_env() - read HAKMEM_LIMIT=soft[,hard]
 * @s: the value
 * @slot: the option's slot, set to 1 when a limit was set
 *
 * Sizes take a K, M, G or T suffix (powers of 1024); 0 means no limit.
 * Parsed in place: no allocation. Bad input is reported on stderr and
 * leaves no limit.
 *
 * Return: 0, or -1 for bad input.
 */
int limit_parse_env(const char *s, long *slot)
{
	uint64_t soft, hard = 0;
	const char *p;

	if (parse_size(s, &p, &soft))
		goto bad;
	if (*p == ',' && parse_size(p + 1, &p, &hard))
		goto bad;
	if (*p || (hard && soft > hard))
		goto bad;
	limit_store(soft, hard);
	*slot = soft || hard;
	return 0;
bad:
	fmt_dprintf(2, "hakmem: HAKMEM_LIMIT=%s: expected soft[,hard] sizes (K, M, G suffixes; soft <= hard); no limit set\n",
		    s);
	return -1;
}

/**
 * limit_stats() - the limits and their counters, for hak_global_stats()
 * @soft: the soft limit in bytes (0: none)
 * @hard: the hard limit in bytes (0: none)
 * @failures: mappings the hard limit refused
 * @reclaims: releases of cached memory the limits started
 */
void limit_stats(uint64_t *soft, uint64_t *hard, uint64_t *failures,
		 uint64_t *reclaims)
{
	*soft = load(&limit_soft);
	*hard = load(&limit_hard);
	*failures = load(&limit_failures);
	*reclaims = load(&limit_reclaims);
}

HAK_EXPORT int hak_set_limit(size_t soft, size_t hard)
{
	uint64_t mapped;

	if (hard && soft > hard) {
		fmt_dprintf(2, "hakmem: hak_set_limit: soft limit %zu above hard limit %zu; limits unchanged\n",
			    soft, hard);
		errno = EINVAL;
		return -1;
	}
	limit_store(soft, hard);
	mapped = os_mapped_bytes();
	if ((soft && mapped > soft) || (hard && mapped > hard)) {
		hak_trim();
		mapped = os_mapped_bytes();
	}
	if (hard && mapped > hard) {
		fmt_dprintf(2, "hakmem: hak_set_limit: hard limit %zu below the %llu bytes mapped now; nothing more is mapped until usage falls below it\n",
			    hard, (unsigned long long)mapped);
		return 1;
	}
	return 0;
}
