/* SPDX-License-Identifier: MIT */
/*
 * aarch64 rseq critical sections (see arch/rseq.h for the contract).
 *
 * ABI notes:
 * - The abort signature is 0xd428bc00 ("brk #0x45e0", the one glibc
 *   registers), placed as an instruction word right before the abort
 *   handler and branched over on the normal path.
 * - The rseq area is at tpidr_el0 + offset; the same offset in every
 *   thread. The descriptor (section __rseq_cs, 32-byte aligned) is found
 *   with adrp/add, so the code stays position independent.
 * - The commit is the final "strh" of the bin's current index.
 * - Pop prefetches (pstl1keep) the object below the one it takes; a stale
 *   slot at the bottom of a bin is harmless, a prefetch never faults.
 * - The CPU index is loaded sign-extended (ldrsw): -1 and -2 (no rseq
 *   registration) index the guard slots below the region array. Every
 *   reachable slot holds a region, the empty one (bins empty and full at
 *   once) when the CPU has none yet, so a missing region is a plain miss.
 */
#ifndef HAK_ARCH_AARCH64_RSEQ_H
#define HAK_ARCH_AARCH64_RSEQ_H

#define HAK_RSEQ_SIG	0xd428bc00

/*
 * The entry of every sequence: read the thread pointer, arm the
 * descriptor at label 3 (start_ip is label 1; an abort restarts at label
 * 0), read the CPU index into t0 and load this CPU's region into t1.
 * Named operands: tp, t0, t1, cs_off, cpu_off, regions.
 */
#define RSEQ_ASM_REGION_ENTER						\
	"	mrs	%[tp], tpidr_el0\n"					\
	"0:\n"								\
	"	adrp	%[t0], 3b\n"						\
	"	add	%[t0], %[t0], :lo12:3b\n"				\
	"	str	%[t0], [%[tp], %[cs_off]]\n"				\
	"1:\n"								\
	RSEQ_INJECT_ASM(1)						\
	"	ldrsw	%[t0], [%[tp], %[cpu_off]]\n"				\
	"	ldr	%[t1], [%[regions], %[t0], lsl #3]\n"

/*
 * The entry of the sequences on bin @id: the region's, then point t3 at
 * the bin, load its current index into t2 and branch to 5 when it equals
 * the bin field at byte @limit (2: begin, for a pop; 4: end, for a push).
 * Named operands: those of RSEQ_ASM_REGION_ENTER, t2, t3 and id.
 */
#define RSEQ_ASM_BIN_ENTER(limit)					\
	RSEQ_ASM_REGION_ENTER						\
	RSEQ_INJECT_ASM(2)						\
	"	add	%[t3], %[t1], %[id], lsl #3\n"				\
	"	ldrh	%w[t2], [%[t3]]\n"					\
	"	ldrh	%w[t0], [%[t3], #" __rseq_str(limit) "]\n"		\
	"	cmp	%w[t2], %w[t0]\n"					\
	"	b.eq	5f\n"

/*
 * The push's tail, shared by rseq_push() and rseq_push_owned(): store
 * operand p into the slot at the bin's current index (t2) of the region
 * in t1, commit current + 1 into the bin at address t3, and set ok to 1,
 * or to 0 from label 5 (a miss); the abort handler sits in between.
 */
#define RSEQ_ASM_PUSH_COMMIT						\
	"	add	%[t0], %[t1], %[soff]\n"				\
	"	str	%[p], [%[t0], %[t2], lsl #3]\n"			\
	"	add	%w[t2], %w[t2], #1\n"					\
	RSEQ_INJECT_ASM(3)						\
	"	strh	%w[t2], [%[t3]]\n"					\
	"2:\n"								\
	"	mov	%w[ok], #1\n"						\
	"	b	6f\n"							\
	RSEQ_ASM_DEFINE_ABORT(4, 0b)					\
	"5:\n"								\
	"	mov	%w[ok], wzr\n"						\
	"6:\n"

/*
 * The batch variants' tail: commit the new current index (t2) into the
 * bin at address t3; k keeps the count moved, or becomes 0 from label 5
 * (a miss); the abort handler sits in between.
 */
#define RSEQ_ASM_BATCH_COMMIT						\
	RSEQ_INJECT_ASM(3)						\
	"	strh	%w[t2], [%[t3]]\n"					\
	"2:\n"								\
	"	b	6f\n"							\
	RSEQ_ASM_DEFINE_ABORT(4, 0b)					\
	"5:\n"								\
	"	mov	%[k], xzr\n"						\
	"6:\n"

/*
 * The batch variants' copy of k (operand k, at least 1) pointers from
 * operand @src to operand @dst, 8 bytes apart, counting in t0, with t5 as
 * scratch: a loop at local label 7, inside the critical section.
 */
#define RSEQ_ASM_COPY(src, dst)						\
	"	mov	%[t0], xzr\n"						\
	"7:\n"								\
	"	ldr	%[t5], [%[" #src "], %[t0], lsl #3]\n"		\
	"	str	%[t5], [%[" #dst "], %[t0], lsl #3]\n"		\
	"	add	%[t0], %[t0], #1\n"					\
	"	cmp	%[t0], %[k]\n"						\
	"	b.lo	7b\n"

#define RSEQ_ASM_DEFINE_ABORT(label, restart)				\
	"	b	222f\n"							\
	"	.inst	" __rseq_str(HAK_RSEQ_SIG) "\n"			\
	__rseq_str(label) ":\n"							\
	"	b	" __rseq_str(restart) "\n"				\
	"222:\n"

static inline void *arch_thread_pointer(void)
{
	void *tp;

	__asm__("mrs %0, tpidr_el0" : "=r"(tp));
	return tp;
}

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
	unsigned long tp, t0, t1, t2, t3;
	void *p;

	__asm__ __volatile__(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, 5f)
		RSEQ_ASM_BIN_ENTER(2)	/* miss when current == begin */
		"	sub	%w[t2], %w[t2], #1\n"
		"	add	%[t0], %[t1], %[soff]\n"
		"	ldr	%[p], [%[t0], %[t2], lsl #3]\n"
		"	sub	%[t0], %[t0], #8\n"
		"	ldr	%[t0], [%[t0], %[t2], lsl #3]\n"
		"	prfm	pstl1keep, [%[t0]]\n"
		RSEQ_INJECT_ASM(3)
		"	strh	%w[t2], [%[t3]]\n"
		"2:\n"
		"	b	6f\n"
		RSEQ_ASM_DEFINE_ABORT(4, 0b)
		"5:\n"
		"	mov	%[p], xzr\n"
		"6:\n"
		: [p] "=&r"(p), [tp] "=&r"(tp), [t0] "=&r"(t0), [t1] "=&r"(t1),
		  [t2] "=&r"(t2), [t3] "=&r"(t3)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id),
		  [soff] "r"((unsigned long)HAK_FC_SLOTS_OFF) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER);
	*out = p;
	return p != NULL;
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
	unsigned long tp, t0, t1, t2, t3;
	int ok;

	__asm__ __volatile__(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, 5f)
		RSEQ_ASM_BIN_ENTER(4)	/* miss when current == end */
		RSEQ_ASM_PUSH_COMMIT
		: [ok] "=&r"(ok), [tp] "=&r"(tp), [t0] "=&r"(t0), [t1] "=&r"(t1),
		  [t2] "=&r"(t2), [t3] "=&r"(t3)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id), [p] "r"(p),
		  [soff] "r"((unsigned long)HAK_FC_SLOTS_OFF) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER);
	return ok;
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
 * right bin.
 *
 * Return: 1, or 0 (that bin full, no region, no valid CPU).
 */
static inline __attribute__((always_inline)) int
rseq_push_owned(const struct rseq_ctx *x, void **regions, unsigned long id,
		void *p, const uint16_t *owner)
{
	unsigned long tp, t0, t1, t2, t3;
	int ok;

	__asm__ __volatile__(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, 5f)
		RSEQ_ASM_REGION_ENTER
		RSEQ_INJECT_ASM(2)
		"	add	%[t3], %[id], #" __rseq_str(HAK_FOREIGN_BIN) "\n"
		"	ldrh	%w[t2], [%[owner]]\n"
		"	cmp	%w[t2], %w[t0], uxth\n"
		"	csel	%[t3], %[id], %[t3], eq\n"
		"	add	%[t3], %[t1], %[t3], lsl #3\n"
		"	ldrh	%w[t2], [%[t3]]\n"
		"	ldrh	%w[t0], [%[t3], #4]\n"
		"	cmp	%w[t2], %w[t0]\n"
		"	b.eq	5f\n"
		RSEQ_ASM_PUSH_COMMIT
		: [ok] "=&r"(ok), [tp] "=&r"(tp), [t0] "=&r"(t0), [t1] "=&r"(t1),
		  [t2] "=&r"(t2), [t3] "=&r"(t3)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id), [p] "r"(p),
		  [owner] "r"(owner), "m"(*owner),
		  [soff] "r"((unsigned long)HAK_FC_SLOTS_OFF) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER);
	return ok;
}

/*
 * The batch variants copy inside the critical section and commit with
 * the same single "strh" of the current index: an abort before it leaves
 * the bin as it was (slots above current are free to overwrite, and the
 * copy out is simply made again). @n is cut to what fits on the first
 * pass; a restart on another CPU may cut it further, never raise it.
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
	unsigned long tp, t0, t1, t2, t3, t4, t5;
	unsigned long k = n;

	__asm__ __volatile__(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, 5f)
		RSEQ_ASM_BIN_ENTER(4)	/* miss when current == end */
		"	sub	%w[t0], %w[t0], %w[t2]\n"	/* room (t0: end) */
		"	cmp	%w[k], %w[t0]\n"
		"	csel	%w[k], %w[t0], %w[k], hi\n"
		"	add	%[t4], %[t1], %[soff]\n"
		"	add	%[t4], %[t4], %[t2], lsl #3\n"
		RSEQ_ASM_COPY(objs, t4)
		"	add	%w[t2], %w[t2], %w[k]\n"
		RSEQ_ASM_BATCH_COMMIT
		: [k] "+&r"(k), [tp] "=&r"(tp), [t0] "=&r"(t0), [t1] "=&r"(t1),
		  [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4),
		  [t5] "=&r"(t5)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id), [objs] "r"(objs),
		  [soff] "r"((unsigned long)HAK_FC_SLOTS_OFF) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER);
	return (unsigned int)k;
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
	unsigned long tp, t0, t1, t2, t3, t4, t5;
	unsigned long k = n;

	__asm__ __volatile__(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, 5f)
		RSEQ_ASM_BIN_ENTER(2)	/* miss when current == begin */
		"	sub	%w[t0], %w[t2], %w[t0]\n"	/* held (t0: begin) */
		"	cmp	%w[k], %w[t0]\n"
		"	csel	%w[k], %w[t0], %w[k], hi\n"
		"	sub	%w[t2], %w[t2], %w[k]\n"
		"	add	%[t4], %[t1], %[soff]\n"
		"	add	%[t4], %[t4], %[t2], lsl #3\n"
		RSEQ_ASM_COPY(t4, out)
		RSEQ_ASM_BATCH_COMMIT
		: [k] "+&r"(k), [tp] "=&r"(tp), [t0] "=&r"(t0), [t1] "=&r"(t1),
		  [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4),
		  [t5] "=&r"(t5)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id), [out] "r"(out),
		  [soff] "r"((unsigned long)HAK_FC_SLOTS_OFF) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER);
	return (unsigned int)k;
}

/**
 * rseq_set_end() - move the end of bin @id of this CPU's region
 * @x: the rseq context
 * @regions: the per-CPU region array
 * @id: bin index
 * @r: the region the caller expects this CPU to have
 * @end: the new end: at least the bin's begin, within its reserved slots
 *
 * See the x86_64 version: the store of the end is the commit, made only
 * on the CPU whose region is @r and only when current <= @end.
 *
 * Return: 1 when stored, 0 (this CPU's region is not @r, or the bin holds
 * more than @end allows).
 */
static inline __attribute__((always_inline)) int
rseq_set_end(const struct rseq_ctx *x, void **regions, unsigned long id,
	     const void *r, unsigned long end)
{
	unsigned long tp, t0, t1, t3;
	int ok;

	__asm__ __volatile__(
		RSEQ_ASM_DEFINE_TABLE(3, 1f, 2f, 4f)
		RSEQ_ASM_DEFINE_EXIT_POINT(1f, 5f)
		RSEQ_ASM_REGION_ENTER
		"	cmp	%[t1], %[r]\n"
		"	b.ne	5f\n"
		RSEQ_INJECT_ASM(2)
		"	add	%[t3], %[t1], %[id], lsl #3\n"
		"	ldrh	%w[t0], [%[t3]]\n"
		"	cmp	%w[t0], %w[end]\n"
		"	b.hi	5f\n"
		RSEQ_INJECT_ASM(3)
		"	strh	%w[end], [%[t3], #4]\n"
		"2:\n"
		"	mov	%w[ok], #1\n"
		"	b	6f\n"
		RSEQ_ASM_DEFINE_ABORT(4, 0b)
		"5:\n"
		"	mov	%w[ok], wzr\n"
		"6:\n"
		: [ok] "=&r"(ok), [tp] "=&r"(tp), [t0] "=&r"(t0), [t1] "=&r"(t1),
		  [t3] "=&r"(t3)
		: [cs_off] "r"(x->cs_off), [cpu_off] "r"(x->cpu_off),
		  [regions] "r"(regions), [id] "r"(id), [r] "r"(r),
		  [end] "r"(end) RSEQ_INJECT_INPUT
		: "memory", "cc" RSEQ_INJECT_CLOBBER);
	return ok;
}

#endif /* HAK_ARCH_AARCH64_RSEQ_H */
