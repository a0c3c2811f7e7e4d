/* SPDX-License-Identifier: MIT */
/*
 * x86_64: cache-line size, spin hint, bit scan and cycle counter. The
 * prefetch of the next object is part of the rseq pop (rseq.h).
 */
#ifndef HAK_ARCH_X86_64_H
#define HAK_ARCH_X86_64_H

#include <stdint.h>

#define HAK_CACHELINE	64

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/*
 * Trailing zeros of @x read from memory in one instruction; any value for
 * 0 (tzcnt gives 32, bsf on CPUs without BMI1 leaves the register as it
 * was): for callers whose result does not matter then.
 */
static inline unsigned int ctz32_any(const uint32_t *x)
{
	unsigned int r;

	__asm__("tzcnt %1, %0" : "=r"(r) : "m"(*x));
	return r;
}

static inline uint64_t arch_cycles(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#endif /* HAK_ARCH_X86_64_H */
