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
 *   int rseq_set_end(const struct rseq_ctx *x, void **regions,
 *                    unsigned long id, const void *r, unsigned long end)
 *   void *arch_thread_pointer(void)
 *
 * operating on the per-CPU region array of core/fastcache.h: the region of the
 * CPU the thread runs on is regions[cpu field of its rseq area]. Each is
 * one restartable sequence whose last instruction is the single commit
 * store of the bin's current index; an abort (preemption, migration,
 * signal) restarts it from the reading of the CPU number. The batch
 * variants move up to n objects (at least 1) with one such sequence, the
 * copy inside it, and return how many moved (0: a miss). rseq_push_owned()
 * is rseq_push() into bin id when the low 16 bits of the CPU index equal
 * *@owner (the CPU the object's span belongs to), else into bin
 * id + HAK_FOREIGN_BIN; the choice is made inside the sequence.
 * rseq_set_end() moves bin id's end, with that store as its commit, only
 * on the CPU whose region is r and only when current <= end (the adaptive
 * bins of core/region.c).
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
 * Region layout constants shared with core/fastcache.h (which checks
 * them with _Static_assert). HAK_MAX_CPUS is
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

/*
 * The critical-section descriptor (struct rseq_cs: version 0, flags 0,
 * start_ip, post_commit_offset, abort_ip) in section __rseq_cs, 32-byte
 * aligned as the kernel requires, and its address in
 * __rseq_cs_ptr_array for debuggers. Both architectures use this one.
 */
#define RSEQ_ASM_DEFINE_TABLE(label, start_ip, post_commit_ip, abort_ip)	\
	".pushsection __rseq_cs, \"aw\"\n\t"				\
	".balign 32\n\t"						\
	__rseq_str(label) ":\n\t"					\
	".long 0x0, 0x0\n\t"						\
	".quad " __rseq_str(start_ip) ", (" __rseq_str(post_commit_ip)	\
	" - " __rseq_str(start_ip) "), " __rseq_str(abort_ip) "\n\t"	\
	".popsection\n\t"						\
	".pushsection __rseq_cs_ptr_array, \"aw\"\n\t"			\
	".quad " __rseq_str(label) "b\n\t"				\
	".popsection\n\t"

/*
 * An exit point of a critical section other than its end (a miss that
 * leaves for the slow path), listed as librseq lists them in
 * __rseq_exit_point_array (start_ip, exit_ip), so tools that check rseq
 * users can tell a planned exit from a stray jump.
 */
#define RSEQ_ASM_DEFINE_EXIT_POINT(start_ip, exit_ip)			\
	".pushsection __rseq_exit_point_array, \"aw\"\n\t"		\
	".quad " __rseq_str(start_ip) ", " __rseq_str(exit_ip) "\n\t"	\
	".popsection\n\t"

#if defined(__x86_64__)
#include "x86_64/rseq.h"
#elif defined(__aarch64__)
#include "aarch64/rseq.h"
#endif

#endif /* HAK_ARCH_RSEQ_H */
