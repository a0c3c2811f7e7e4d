/* SPDX-License-Identifier: MIT */
/*
 * x86_64 rseq critical sections (see arch/rseq.h for the contract).
 *
 * ABI notes, kept next to the code as tcmalloc does:
 * - The abort signature 0x53053053 is the one glibc registers; the kernel
 *   checks the four bytes before the abort handler. It is emitted as the
 *   operand of "ud1 sig(%rip), %edi" so disassemblers stay in sync.
 * - The rseq area is reached %fs-relative: on x86_64 the thread pointer is
 *   the %fs base, and glibc's __rseq_offset (or our own area's offset) is
 *   the same for every thread.
 * - The descriptor lives in section __rseq_cs (32-byte aligned, version
 *   0, flags 0); __rseq_cs_ptr_array lists descriptors for debuggers.
 * - Pop prefetches (for writing: it is about to be handed out) the object
 *   below the one it takes. At the bottom of a bin that slot belongs to
 *   the previous bin or the region header: any value is harmless, since a
 *   prefetch never faults.
 * - Registers: the CPU index is read with one sign-extending 32-bit load:
 *   an unregistered area holds -1 or -2, which index the two guard slots
 *   below the region array. Every slot the index can reach holds a region:
 *   a CPU with none yet (or one being drained by another thread) holds
 *   the empty region, whose bins are empty and full at once, so the
 *   operation misses to the slow path with no test for it here.
 *   The kernel's cpu_id and mm_cid are below nr_cpu_ids <= HAK_MAX_CPUS.
 */
#ifndef HAK_ARCH_X86_64_RSEQ_H
#define HAK_ARCH_X86_64_RSEQ_H

#define HAK_RSEQ_SIG	0x53053053

/*
 * The entry of every sequence: arm the descriptor at label 3 (start_ip is
 * label 1; an abort restarts at label 0), read the CPU index into t0 and
 * load this CPU's region into t1. Named operands: t0, t1, cs_off,
 * cpu_off, regions.
 */
#define RSEQ_ASM_REGION_ENTER						\
	"0:\n\t"							\
	"leaq 3b(%%rip), %[t0]\n\t"					\
	"movq %[t0], %%fs:(%[cs_off])\n\t"				\
	"1:\n\t"							\
	RSEQ_INJECT_ASM(1)						\
	"movslq %%fs:(%[cpu_off]), %[t0]\n\t"				\
	"movq (%[regions], %[t0], 8), %[t1]\n\t"

/*
 * The entry of the sequences on bin @id: the region's, then load the
 * bin's current index into t2 and jump to @miss (a string: the asm goto
 * label "%l[miss]", or a local label) when it equals the bin field at
 * byte @limit (2: begin, for a pop; 4: end, for a push). Named operands:
 * those of RSEQ_ASM_REGION_ENTER, t2 and id.
 */
#define RSEQ_ASM_BIN_ENTER(limit, miss)					\
	RSEQ_ASM_REGION_ENTER						\
	RSEQ_INJECT_ASM(2)						\
	"movzwl (%[t1], %[id], 8), %k[t2]\n\t"				\
	"cmpw " __rseq_str(limit) "(%[t1], %[id], 8), %w[t2]\n\t"	\
	"je " miss "\n\t"

/*
 * The push's tail, shared by rseq_push() and rseq_push_owned(): store
 * operand p into the slot at the bin's current index (t2) of the region
 * in t1, and commit current + 1 into the bin whose index is operand @idx.
 */
#define RSEQ_ASM_PUSH_COMMIT(idx)					\
	"movq %[p], %c[soff](%[t1], %[t2], 8)\n\t"			\
	"addl $1, %k[t2]\n\t"						\
	RSEQ_INJECT_ASM(3)						\
	"movw %w[t2], (%[t1], %[" #idx "], 8)\n\t"			\
	"2:\n\t"

/*
 * The batch variants' copy of n (operand n, at least 1) pointers from
 * operand @src to operand @dst, 8 bytes apart, counting in t0, with t4 as
 * scratch: a loop at local label 5, inside the critical section.
 */
#define RSEQ_ASM_COPY(src, dst)						\
	"xorl %k[t0], %k[t0]\n\t"					\
	"5:\n\t"							\
	"movq (%[" #src "], %[t0], 8), %[t4]\n\t"			\
	"movq %[t4], (%[" #dst "], %[t0], 8)\n\t"			\
	"addl $1, %k[t0]\n\t"						\
	"cmpl %k[k], %k[t0]\n\t"					\
	"jb 5b\n\t"

#define RSEQ_ASM_DEFINE_ABORT(label, restart)				\
	".pushsection __rseq_failure, \"ax\"\n\t"			\
	".byte 0x0f, 0xb9, 0x3d\n\t"					\
	".long " __rseq_str(HAK_RSEQ_SIG) "\n\t"			\
	__rseq_str(label) ":\n\t"					\
	"jmp " __rseq_str(restart) "\n\t"				\
	".popsection\n\t"

static inline void *arch_thread_pointer(void)
{
	void *tp;

	__asm__("movq %%fs:0, %0" : "=r"(tp));
	return tp;
}

/*
 * Both operations are "asm goto": a miss (empty or full bin, no region,
 * no valid CPU) jumps straight to the caller's slow path, so the inlined
 * fast path carries no success flag.
 */

/**
 * rseq_pop() - pop the top object of bin @id of this CPU's region
 * @x: the rseq context
 * @regions: the per-CPU region array
 * @id: cache id
 * @out: where the object goes
 *
 * Return: 1, or 0 (empty bin, no region, no valid CPU).
 */
static inline __attribute__((always_inline)) int
rseq_pop(const struct rseq_ctx *x, void **regions, unsigned long id,
	 void **out)
{
	unsigned long t0, t1, t2;
	void *p;

	__asm__ __volatile__ goto(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, %l[miss])
		RSEQ_ASM_BIN_ENTER(2, "%l[miss]")	/* current == begin */
		"movq %c[soff]-8(%[t1], %[t2], 8), %[p]\n\t"
		"movq %c[soff]-16(%[t1], %[t2], 8), %[t0]\n\t"
		"prefetchw (%[t0])\n\t"
		"subl $1, %k[t2]\n\t"
		RSEQ_INJECT_ASM(3)
		"movw %w[t2], (%[t1], %[id], 8)\n\t"
		"2:\n\t"
		RSEQ_ASM_DEFINE_ABORT(4, 0b)
		: [p] "=&r"(p), [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id),
		  [soff] "i"(HAK_FC_SLOTS_OFF) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER
		: miss);
	*out = p;
	return 1;
miss:
	return 0;
}

/**
 * rseq_push() - push @p onto bin @id of this CPU's region
 * @x: the rseq context
 * @regions: the per-CPU region array
 * @id: cache id
 * @p: the object
 *
 * Return: 1, or 0 (full bin, no region, no valid CPU).
 */
static inline __attribute__((always_inline)) int
rseq_push(const struct rseq_ctx *x, void **regions, unsigned long id,
	  void *p)
{
	unsigned long t0, t1, t2;

	__asm__ __volatile__ goto(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, %l[miss])
		RSEQ_ASM_BIN_ENTER(4, "%l[miss]")	/* current == end */
		RSEQ_ASM_PUSH_COMMIT(id)
		RSEQ_ASM_DEFINE_ABORT(4, 0b)
		: [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id), [p] "r"(p),
		  [soff] "i"(HAK_FC_SLOTS_OFF) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER
		: miss);
	return 1;
miss:
	return 0;
}

/**
 * rseq_push_owned() - push @p onto this CPU's bin of cache @id, or onto its
 * foreign bin (id + HAK_FOREIGN_BIN) when @p belongs to another CPU
 * @x: the rseq context
 * @regions: the per-CPU region array
 * @id: cache id
 * @p: the object
 * @owner: where the CPU index the object's span belongs to is (16 bits)
 *
 * The CPU test is inside the sequence, so a migration restarts it with the
 * right bin. Not RSEQ_ASM_BIN_ENTER(): the bin index is chosen between
 * reading the CPU and reading the bin. The owner is
 * compared in memory (the slab's read-only line, already in L1).
 *
 * Return: 1, or 0 (that bin full, no region, no valid CPU).
 */
static inline __attribute__((always_inline)) int
rseq_push_owned(const struct rseq_ctx *x, void **regions, unsigned long id,
		void *p, const uint16_t *owner)
{
	unsigned long t0, t1, t2;

	__asm__ __volatile__ goto(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, %l[miss])
		RSEQ_ASM_REGION_ENTER
		RSEQ_INJECT_ASM(2)
		"cmpw %w[t0], %[owner]\n\t"	/* t0 becomes the bin: */
		"leaq %c[foreign](%[id]), %[t0]\n\t"	/* lea keeps flags */
		"cmoveq %[id], %[t0]\n\t"
		"movzwl (%[t1], %[t0], 8), %k[t2]\n\t"
		"cmpw 4(%[t1], %[t0], 8), %w[t2]\n\t"
		"je %l[miss]\n\t"
		RSEQ_ASM_PUSH_COMMIT(t0)
		RSEQ_ASM_DEFINE_ABORT(4, 0b)
		: [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id), [p] "r"(p),
		  [owner] "m"(*owner), [foreign] "i"(HAK_FOREIGN_BIN),
		  [soff] "i"(HAK_FC_SLOTS_OFF) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER
		: miss);
	return 1;
miss:
	return 0;
}

/*
 * The batch variants copy inside the critical section and commit with
 * the same single store of the current index: an abort before it leaves
 * the bin as it was (slots above current are free to overwrite, and the
 * copy out is simply made again). The count k starts as @n (set before
 * label 0, so a restart keeps it), is cut to what fits, and a restart on
 * another CPU may cut it further, never raise it.
 *
 * They are plain asm, not "asm goto": the miss (local label 6) sets k to
 * 0 inside the asm. With GCC 12 an "asm goto" whose result is an output
 * operand gave, once inlined, the output's value on the goto edge too: a
 * miss returned @n (a leak in the refill, stale pointers drained).
 */

/**
 * rseq_push_batch() - push up to @n objects onto bin @id of this CPU
 * @x: the rseq context
 * @regions: the per-CPU region array
 * @id: cache id
 * @objs: the objects; objs[0] goes lowest, objs[k - 1] on top
 * @n: how many, at least 1
 *
 * Return: k, the number pushed: objs[0] to objs[k - 1] (as many as the
 * bin had room for), or 0 (full bin, no region, no valid CPU).
 */
static inline __attribute__((always_inline)) unsigned int
rseq_push_batch(const struct rseq_ctx *x, void **regions, unsigned long id,
		void *const *objs, unsigned int n)
{
	unsigned long t0, t1, t2, t3, t4;
	unsigned int k;

	__asm__ __volatile__(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, 6f)
		"movl %k[n], %k[k]\n\t"
		RSEQ_ASM_BIN_ENTER(4, "6f")	/* miss when current == end */
		"movzwl 4(%[t1], %[id], 8), %k[t0]\n\t"
		"subl %k[t2], %k[t0]\n\t"	/* room, at least 1 */
		"cmpl %k[t0], %k[k]\n\t"
		"cmoval %k[t0], %k[k]\n\t"
		"leaq %c[soff](%[t1], %[t2], 8), %[t3]\n\t"
		RSEQ_ASM_COPY(objs, t3)
		"addl %k[k], %k[t2]\n\t"
		RSEQ_INJECT_ASM(3)
		"movw %w[t2], (%[t1], %[id], 8)\n\t"
		"2:\n\t"
		"jmp 7f\n\t"
		"6:\n\t"
		"xorl %k[k], %k[k]\n\t"
		"7:\n\t"
		RSEQ_ASM_DEFINE_ABORT(4, 0b)
		: [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2),
		  [t3] "=&r"(t3), [t4] "=&r"(t4), [k] "=&r"(k)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id), [objs] "r"(objs),
		  [n] "r"(n),
		  [soff] "i"(HAK_FC_SLOTS_OFF) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER);
	return k;
}

/**
 * rseq_pop_batch() - pop up to @n objects off bin @id of this CPU
 * @x: the rseq context
 * @regions: the per-CPU region array
 * @id: cache id
 * @out: where they go; out[k - 1] is the one that was on top
 * @n: how many, at least 1
 *
 * Return: k, the number popped (as many as the bin held, up to @n), or 0
 * (empty bin, no region, no valid CPU).
 */
static inline __attribute__((always_inline)) unsigned int
rseq_pop_batch(const struct rseq_ctx *x, void **regions, unsigned long id,
	       void **out, unsigned int n)
{
	unsigned long t0, t1, t2, t3, t4;
	unsigned int k;

	__asm__ __volatile__(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, 6f)
		"movl %k[n], %k[k]\n\t"
		RSEQ_ASM_BIN_ENTER(2, "6f")	/* miss when current == begin */
		"movl %k[t2], %k[t0]\n\t"
		"subw 2(%[t1], %[id], 8), %w[t0]\n\t"	/* held, at least 1 */
		"movzwl %w[t0], %k[t0]\n\t"
		"cmpl %k[t0], %k[k]\n\t"
		"cmoval %k[t0], %k[k]\n\t"
		"subl %k[k], %k[t2]\n\t"
		"leaq %c[soff](%[t1], %[t2], 8), %[t3]\n\t"
		RSEQ_ASM_COPY(t3, out)
		RSEQ_INJECT_ASM(3)
		"movw %w[t2], (%[t1], %[id], 8)\n\t"
		"2:\n\t"
		"jmp 7f\n\t"
		"6:\n\t"
		"xorl %k[k], %k[k]\n\t"
		"7:\n\t"
		RSEQ_ASM_DEFINE_ABORT(4, 0b)
		: [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2),
		  [t3] "=&r"(t3), [t4] "=&r"(t4), [k] "=&r"(k)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id), [out] "r"(out),
		  [n] "r"(n),
		  [soff] "i"(HAK_FC_SLOTS_OFF) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER);
	return k;
}

/**
 * rseq_set_end() - move the end of bin @id of this CPU's region
 * @x: the rseq context
 * @regions: the per-CPU region array
 * @id: bin index
 * @r: the region the caller expects this CPU to have
 * @end: the new end: at least the bin's begin, within its reserved slots
 *
 * The store of the end is the commit of a sequence that read this CPU's
 * region, so it lands only on the CPU whose region is @r, and no other
 * thread of that CPU is between its read of the end and its commit
 * (a thread preempted inside a sequence restarts it). It happens only
 * when the bin's current index is at most @end: a bin never holds more
 * than its end allows.
 *
 * Return: 1 when stored, 0 (this CPU's region is not @r, or the bin holds
 * more than @end allows).
 */
static inline __attribute__((always_inline)) int
rseq_set_end(const struct rseq_ctx *x, void **regions, unsigned long id,
	     const void *r, unsigned long end)
{
	unsigned long t0, t1;

	__asm__ __volatile__ goto(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, %l[miss])
		RSEQ_ASM_REGION_ENTER
		"cmpq %[t1], %[r]\n\t"
		"jne %l[miss]\n\t"
		RSEQ_INJECT_ASM(2)
		"movzwl (%[t1], %[id], 8), %k[t0]\n\t"
		"cmpl %k[end], %k[t0]\n\t"
		"ja %l[miss]\n\t"
		RSEQ_INJECT_ASM(3)
		"movw %w[end], 4(%[t1], %[id], 8)\n\t"
		"2:\n\t"
		RSEQ_ASM_DEFINE_ABORT(4, 0b)
		: [t0] "=&r"(t0), [t1] "=&r"(t1)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id), [r] "r"(r),
		  [end] "r"(end) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER
		: miss);
	return 1;
miss:
	return 0;
}

#endif /* HAK_ARCH_X86_64_RSEQ_H */
