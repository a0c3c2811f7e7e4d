/* SPDX-License-Identifier: MIT */
/*
 * Selects the processor's rseq critical sections. Each arch/<arch>/rseq.h
 * defines HAK_RSEQ_SIG and, with the same names and contracts:
 *
 *   int rseq_pop(const struct rseq_ctx *x, void **regions,
 *                unsigned long id, void **out)
 *   int   rseq_push(const struct rseq_ctx *x, void **regions,
 *                   unsigned long id, void *p)
 *   unsigned int rseq_push_batch(const struct rseq_ctx *x, void **regions,
 *                                unsigned long id, void *const *objs,
 *                                unsigned int n)
 *   unsigned int rseq_pop_batch(const struct rseq_ctx *x, void **regions,
 *                               unsigned long id, void **out,
 *                               unsigned int n)
 *   int rseq_push_owned(const struct rseq_ctx *x, void **regions,
 *                       unsigned long id, void *p, const uint16_t *owner)
 *   void *hak_thread_pointer(void)
 *
 * operating on the per-CPU region array of fastcache.h: the region of the
 * CPU the thread runs on is regions[cpu field of its rseq area]. Each is
 * one restartable sequence whose last instruction is the single commit
 * store of the bin's current index; an abort (preemption, migration,
 * signal) restarts it from the reading of the CPU number. The batch
 * variants move up to n objects (at least 1) with one such sequence, the
 * copy inside it, and return how many moved (0: a miss). rseq_push_owned()
 * is rseq_push() into bin id when the low 16 bits of the CPU index equal
 * *@owner (the CPU the object's span belongs to), else into bin
 * id + HAK_FOREIGN_BIN; the choice is made inside the sequence.
 */
#ifndef HAK_ARCH_RSEQ_H
#define HAK_ARCH_RSEQ_H

#include <stddef.h>
#include <stdint.h>

/*
 * What a critical section needs besides the region array (passed as a
 * link-time address): the thread-pointer relative offsets of the rseq
 * area's rseq_cs field and of the CPU index field (cpu_id or mm_cid).
 */
struct rseq_ctx {
	intptr_t cs_off;
	intptr_t cpu_off;
	uint8_t on;		/* per-CPU mode in force */
};

/*
 * Region layout constants shared with core/fastcache.h. HAK_MAX_CPUS is
 * the kernel's largest NR_CPUS, so cpu_id and mm_cid always fit; the
 * region array has two guard slots below index 0 for -1 and -2. Every
 * slot the CPU index can reach points to a region (the empty region when
 * there is none), so the sequences never test for NULL.
 */
#define HAK_MAX_CPUS		8192
#define HAK_FC_SLOTS_OFF	4128
/* Bin k + HAK_FOREIGN_BIN holds frees of cache k's objects of other CPUs. */
#define HAK_FOREIGN_BIN		256

/*
 * Delay injection at numbered points inside the critical sections, for
 * the rseq selftests only (as Linux's param_test): they define these three
 * before including this header. Empty in the allocator.
 */
#ifndef RSEQ_INJECT_ASM
#define RSEQ_INJECT_ASM(n)
#define RSEQ_INJECT_INPUT
#define RSEQ_INJECT_CLOBBER
#endif

#define __rseq_str_1(x)	#x
#define __rseq_str(x)	__rseq_str_1(x)

#if defined(__x86_64__)
#include "x86_64/rseq.h"
#elif defined(__aarch64__)
#include "aarch64/rseq.h"
#endif

#endif /* HAK_ARCH_RSEQ_H */
