/* SPDX-License-Identifier: MIT */
/*
 * x86_64: cache-line size, prefetch, spin hint, bit scan and cycle
 * counter.
 */
#ifndef HAK_ARCH_X86_64_H
#define HAK_ARCH_X86_64_H

#include <stdint.h>

#define HAK_CACHELINE	64

/* prefetcht0: the next object is about to be read. */
static inline void hak_prefetch(const void *p)
{
	__asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
}

/* prefetchw: the line is about to be written (a no-op on old CPUs). */
static inline void hak_prefetchw(const void *p)
{
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
}

static inline void hak_cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/*
 * Trailing zeros of @x read from memory in one instruction; any value for
 * 0 (tzcnt gives 32, bsf on CPUs without BMI1 leaves the register as it
 * was): for callers whose result does not matter then.
 */
static inline unsigned int hak_ctz32_any(const uint32_t *x)
{
	unsigned int r;

	__asm__("tzcnt %1, %0" : "=r"(r) : "m"(*x));
	return r;
}

static inline uint64_t hak_cycles(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#endif /* HAK_ARCH_X86_64_H */
