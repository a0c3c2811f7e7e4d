// SPDX-License-Identifier: MIT
/*
 * The end of a failed HAK_BUG_ON() (debug.h).
 */
#include <stdlib.h>

#include "debug.h"
#include "fmt.h"

/**
 * debug_bug() - a failed HAK_BUG_ON() of a CONFIG_DEBUG=y build: abort
 * @file: source file
 * @line: line
 * @cond: the condition that held
 */
void debug_bug(const char *file, int line, const char *cond)
{
	fmt_dprintf(2, "hakmem: BUG at %s:%d: %s\n", file, line, cond);
	abort();
}
