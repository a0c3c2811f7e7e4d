#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# callgrind-pair.sh - instructions per malloc+free pair of a preloaded
# allocator, as make bench's callgrind table counts them: bench/fastpath
# under callgrind for N = 200000 and 400000 pairs,
# (Ir(400000) - Ir(200000)) / 200000, with and without the benchmark
# loop's own instructions. valgrind has no rseq: hakmem runs its
# per-thread mode here.
#
# Usage: scripts/callgrind-pair.sh LIB.so [bench/build/fastpath]

set -euo pipefail
lib=$1
fp=${2:-$(dirname "$0")/../bench/build/fastpath}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for n in 200000 400000; do
	LD_PRELOAD=$lib valgrind --tool=callgrind \
		--callgrind-out-file="$tmp/cg.$n" "$fp" -n "$n" >/dev/null 2>&1
done
total() { grep -E '^(summary|totals):' "$1" | head -n 1 | awk '{ print $2 }'; }
loop() {
	callgrind_annotate "$1" 2>/dev/null | grep -m 1 fp_loop |
		awk '{ gsub(",", "", $1); print $1 }'
}
awk -v t1="$(total "$tmp/cg.200000")" -v t2="$(total "$tmp/cg.400000")" \
	-v l1="$(loop "$tmp/cg.200000")" -v l2="$(loop "$tmp/cg.400000")" 'BEGIN {
	printf "Ir/pair %.1f, excl. loop %.1f\n", (t2 - t1) / 200000,
		((t2 - l2) - (t1 - l1)) / 200000
}'
