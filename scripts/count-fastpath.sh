#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# count-fastpath.sh - instructions on the straight-line hit path of the
# allocator's fast paths, counted from the disassembly (valgrind cannot
# run the rseq path: glibc's registration fails under it). For each
# function: the instructions from its entry to the first "ret" reached by
# falling through, i.e. the path with no taken branch, which is the bin
# hit in the per-CPU mode.
#
# Usage: scripts/count-fastpath.sh [libhakmem.so] [function...]

set -euo pipefail
lib=${1:-./libhakmem.so}
shift || true
funcs=("$@")
[ ${#funcs[@]} -gt 0 ] || funcs=(hak_malloc hak_free)
for f in "${funcs[@]}"; do
	objdump -d --no-show-raw-insn "$lib" |
	awk -v f="<$f>:" '
		$2 == f { on = 1; n = 0; next }
		on && /^[[:space:]]+[0-9a-f]+:/ {
			n++
			if ($2 == "ret" || $2 == "retq") { print n; on = 0 }
		}' | head -n 1 | sed "s/^/$f: /"
done
