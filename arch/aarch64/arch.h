/* SPDX-License-Identifier: MIT */
/*
 * aarch64: cache-line size, spin hint, bit scan and cycle counter. The
 * prefetch of the next object is part of the rseq pop (rseq.h).
 */
#ifndef HAK_ARCH_AARCH64_H
#define HAK_ARCH_AARCH64_H

#include <stdint.h>

#define HAK_CACHELINE	64

static inline void cpu_relax(void)
{
	__asm__ volatile("yield" ::: "memory");
}

/* Trailing zeros of @x (rbit, clz); 32 for 0. */
static inline unsigned int ctz32_any(const uint32_t *x)
{
	unsigned int r;

	__asm__("rbit %w0, %w1\n\tclz %w0, %w0" : "=r"(r) : "r"(*x));
	return r;
}

static inline uint64_t arch_cycles(void)
{
	uint64_t v;

	__asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
	return v;
}

#endif /* HAK_ARCH_AARCH64_H */
