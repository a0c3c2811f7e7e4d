/* SPDX-License-Identifier: MIT */
/*
 * Selects the processor layer. Each arch/<arch>/arch.h provides the same
 * names: HAK_CACHELINE, cpu_relax(), ctz32_any(),
 * arch_cycles(); each arch/<arch>/rseq.h the rseq critical sections.
 */
#ifndef HAK_ARCH_H
#define HAK_ARCH_H

#if defined(__x86_64__)
#include "x86_64/arch.h"
#elif defined(__aarch64__)
#include "aarch64/arch.h"
#else
#error "hakmem supports x86_64 and aarch64 only"
#endif

#endif /* HAK_ARCH_H */
