/* SPDX-License-Identifier: MIT */
/*
 * Run-time HAKMEM_* options, read once at start-up without calling malloc.
 * Every option is one row of the table in options.c.
 */
#ifndef HAK_OPTIONS_H
#define HAK_OPTIONS_H

#include "compiler.h"

/* HAKMEM_THP values */
enum thp_mode {
	THP_NEVER,		/* MADV_NOHUGEPAGE on every SuperSlab */
	THP_MADVISE,		/* no advice: the kernel's setting decides */
	THP_ALWAYS,		/* MADV_HUGEPAGE from the second SuperSlab on */
};

enum option_get {
	OPT_REFILL,		/* HAKMEM_REFILL: objects per refill batch */
	OPT_CACHE_GROW_KB,	/* HAKMEM_CACHE_GROW_KB: capacity a CPU's bins
				 * may grow by under bursts */
	OPT_STATS,		/* HAKMEM_STATS: print statistics at exit */
	OPT_ON_ERROR,		/* HAKMEM_ON_ERROR: 0 abort, 1 warn */
	OPT_MIN_PARTIAL,	/* HAKMEM_MIN_PARTIAL: partial spans under which
				 * an empty span is kept, not released */
	OPT_SPARE_SS,		/* HAKMEM_SPARE_SUPERSLABS: empty SuperSlabs kept */
	OPT_DIRTY_MAX_KB,	/* HAKMEM_DIRTY_MAX_KB: free dirty KiB before purge */
	OPT_DECAY_MS,		/* HAKMEM_DECAY_MS: idle dirty slabs purged after */
	OPT_FAIL_MMAP,		/* HAKMEM_FAIL_MMAP: fail every Nth mapping */
	OPT_HUGE_CACHE_KB,	/* HAKMEM_HUGE_CACHE_KB: freed huge mappings kept */
	OPT_HUGE_DECAY_MS,	/* HAKMEM_HUGE_DECAY_MS: each stage of their decay */
	OPT_POISON,		/* HAKMEM_POISON: fill freed objects, check reuse */
	OPT_GUARD,		/* HAKMEM_GUARD: guard pages */
	OPT_RSEQ,		/* HAKMEM_RSEQ: per-CPU rseq caches (1) or not */
	OPT_CPU_ID,		/* HAKMEM_CPU_ID: 0 cpu_id, 1 mm_cid */
	OPT_NUMA,		/* HAKMEM_NUMA: node-aware pools (1) or one */
	OPT_NUMA_FAKE,		/* HAKMEM_NUMA_FAKE: split CPUs into N nodes */
	OPT_THP,		/* HAKMEM_THP: huge pages for SuperSlabs */
	OPT_BACKGROUND,		/* HAKMEM_BACKGROUND: decay thread (1) or not */
	OPT_LIMIT,		/* HAKMEM_LIMIT: soft[,hard] sizes (limit.c) */
	OPT_COUNT
};

extern __hidden long option_values[OPT_COUNT];

void options_load(void);
int options_loaded(void);

static inline long option_get(enum option_get o)
{
	return option_values[o];
}

#endif /* HAK_OPTIONS_H */
