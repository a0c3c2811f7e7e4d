/* SPDX-License-Identifier: MIT */
/*
 * Internal invariants, checked in CONFIG_DEBUG=y builds (HAK_DEBUG) as the
 * kernel's VM_BUG_ON() checks them under CONFIG_DEBUG_VM: span and central
 * counts, bitmap transitions, bin bounds. They sit on the slow paths only;
 * a failed one names the file, the line and the condition, then aborts.
 * Without HAK_DEBUG the condition is type-checked and never evaluated.
 *
 * A macro, not a static inline: it must capture the condition's text and
 * place, and must not evaluate it in the default build.
 */
#ifndef HAK_DEBUG_H
#define HAK_DEBUG_H

#include "compiler.h"

void debug_bug(const char *file, int line, const char *cond)
	__cold __attribute__((noreturn));

#ifdef HAK_DEBUG
#define HAK_BUG_ON(cond)						\
	do {								\
		if (unlikely(cond))					\
			debug_bug(__FILE__, __LINE__, #cond);		\
	} while (0)
#else
#define HAK_BUG_ON(cond)	((void)sizeof(!(cond)))
#endif

#endif /* HAK_DEBUG_H */
