#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# numa-experiments.sh - benchmarks under numactl policies in a 2-node VM.
#
# Boots the x86_64 VM of selftests/vm with 2 NUMA nodes (1 CPU each) and
# runs larson and prodcons (2 threads, 1 second) under four placements:
#   local       numactl --cpunodebind=0 --membind=0
#   remote      numactl --cpunodebind=0 --membind=1
#   interleave  numactl --cpunodebind=0 --interleave=all
#   spread      no numactl: threads on both nodes, hakmem's node-local pools
# on hakmem (LD_PRELOAD, HAKMEM_STATS=1) and on glibc for reference.
# Reports ops/s and, for hakmem, the share of node-local objects: the
# refills served from the pool of the node the threads ran on (node 0 for
# the cpunodebind runs; for "spread", every refill not served by another
# node: 1 - cross_refills / refills; not measurable for interleave, whose
# single pool's SuperSlabs rotate over the nodes). Under TCG the absolute
# numbers are small; compare the rows with each other.
#
# Usage: bench/numa-experiments.sh [--bindir DIR] [--lib LIBHAKMEM.SO]
#        (make bench-progs first; defaults: bench/build, ./libhakmem.so)
# Writes bench/results/numa-<date>.md as well as printing it.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
bindir=$top/bench/build lib=$top/libhakmem.so
while [ $# -gt 0 ]; do
	case "$1" in
	--bindir) bindir=$2; shift 2 ;;
	--lib) lib=$2; shift 2 ;;
	*) echo "usage: $0 [--bindir DIR] [--lib SO]" >&2; exit 2 ;;
	esac
done
for f in "$bindir/larson" "$bindir/prodcons" "$lib"; do
	[ -e "$f" ] || { echo "missing $f (make && make bench-progs)" >&2; exit 1; }
done
libm=$(gcc -print-file-name=libm.so.6)
libm=$(readlink -f "$libm")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$libm" "$work/libm.so.6"
cp "$lib" "$work/libhakmem.so"

cat >"$work/numa-guest.sh" <<'GUEST'
#!/bin/sh
# runs in the VM (busybox sh): one line per run
export LD_LIBRARY_PATH=/t
for bench in larson prodcons; do
	for pl in local remote interleave spread; do
		case $pl in
		local) pre="numactl --cpunodebind=0 --membind=0" ;;
		remote) pre="numactl --cpunodebind=0 --membind=1" ;;
		interleave) pre="numactl --cpunodebind=0 --interleave=all" ;;
		spread) pre="" ;;
		esac
		for alloc in hakmem glibc; do
			if [ $alloc = hakmem ]; then
				out=$(env HAKMEM_STATS=1 LD_PRELOAD=/t/libhakmem.so \
					$pre ./$bench -t 2 -d 1 2>&1)
			else
				out=$($pre ./$bench -t 2 -d 1 2>&1)
			fi
			ops=$(echo "$out" | sed -n 's/.*ops_per_sec=\([^ ]*\).*/\1/p')
			# node table rows: "# N superslabs bytes refills remote cross"
			nodes=$(echo "$out" | awk '$1 == "#" && $2 ~ /^([0-9]+|boot)$/ \
				{ printf "%s:%s:%s ", $2, $5, $7 }')
			echo "NUMA-RUN bench=$bench placement=$pl alloc=$alloc ops=$ops nodes=$nodes"
		done
	done
done
GUEST

log=$work/vm.log
"$top/selftests/vm/run-vm.sh" --arch x86_64 --nodes 2 --cpus-per-node 1 \
	--timeout 900 --cmd 'sh ./numa-guest.sh' \
	"$bindir/larson" "$bindir/prodcons" "$work/libhakmem.so" \
	"$work/libm.so.6" "$work/numa-guest.sh" >"$log" 2>&1 || {
	cat "$log" >&2
	exit 1
}

date=$(date +%Y-%m-%d)
out=$top/bench/results/numa-$date.md
mkdir -p "$top/bench/results"
{
	echo "# hakmem under numactl policies, $date"
	echo
	echo "x86_64 VM (qemu TCG), 2 NUMA nodes x 1 CPU, distance 20;"
	echo "\`bench/numa-experiments.sh\`; 2 threads, 1 s per run."
	echo
	echo "| benchmark | placement | hakmem ops/s | glibc ops/s | hakmem node-local share |"
	echo "|---|---|---:|---:|---:|"
	grep '^NUMA-RUN' "$log" | awk '
	{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		key = f["bench"] " | " f["placement"]
		if (!(key in seen)) { seen[key] = 1; order[++n] = key }
		if (f["alloc"] == "glibc") { g[key] = f["ops"]; next }
		h[key] = f["ops"]
		# nodes=N:refills:cross ... (the rest of the line)
		tot = 0; loc = 0; cross = 0
		for (i = 1; i <= NF; i++) {
			if ($i !~ /^([0-9]+|boot|nodes=[0-9]+|nodes=boot):/) continue
			s = $i; sub(/^nodes=/, "", s); split(s, v, ":")
			if (v[1] == "boot") continue	# before the topology
			tot += v[2]; cross += v[3]
			if (v[1] == "0") loc += v[2]
		}
		if (f["placement"] == "spread")
			share[key] = tot ? sprintf("%.0f%%", 100 * (1 - cross / tot)) : "n/a"
		else if (f["placement"] == "interleave")
			share[key] = "n/a (SuperSlabs rotate over the nodes)"
		else
			share[key] = tot ? sprintf("%.0f%%", 100 * loc / tot) : "n/a"
	}
	END {
		for (i = 1; i <= n; i++)
			printf "| %s | %s | %s | %s |\n", order[i], h[order[i]],
			       g[order[i]], share[order[i]]
	}'
} | tee "$out"
