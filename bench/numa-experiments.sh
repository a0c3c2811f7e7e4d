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
# on hakmem (LD_PRELOAD, HAKMEM_STATS=1) and on glibc for reference
# ("throughput" part).
# Reports ops/s and, for hakmem, the share of node-local objects: the
# refills served from the pool of the node the threads ran on (node 0 for
# the cpunodebind runs; for "spread", every refill not served by another
# node: 1 - cross_refills / refills; not measurable for interleave, whose
# single pool's SuperSlabs rotate over the nodes). Under TCG the absolute
# numbers are small; compare the rows with each other.
#
# The "cost" part counts instead of timing (TCG does not model remote
# memory): bench/numa_cost's three workloads (private, larson, prodcons;
# 2 threads, --ops operations each) under the same four placements, on
# hakmem, glibc and the peers found on the host (jemalloc, mimalloc,
# tcmalloc: copied into the VM with libstdc++ and libgcc_s, LD_PRELOAD),
# each reporting the share of sampled touches of memory on another node
# and the cross-node frees per million operations.
#
# Usage: bench/numa-experiments.sh [--bindir DIR] [--lib LIBHAKMEM.SO]
#                                  [--part all|throughput|cost] [--ops N]
#        (make bench-progs first; defaults: bench/build, ./libhakmem.so,
#        all, 100000)
# Writes bench/results/numa-<date>.md (numa-<date>-<part>.md with --part)
# as well as printing it.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
bindir=$top/bench/build lib=$top/libhakmem.so part=all ops=100000
while [ $# -gt 0 ]; do
	case "$1" in
	--bindir) bindir=$2; shift 2 ;;
	--lib) lib=$2; shift 2 ;;
	--part) part=$2; shift 2 ;;
	--ops) ops=$2; shift 2 ;;
	*) echo "usage: $0 [--bindir DIR] [--lib SO] [--part all|throughput|cost] [--ops N]" >&2
	   exit 2 ;;
	esac
done
case $part in
all | throughput | cost) ;;
*) echo "$0: bad --part $part" >&2; exit 2 ;;
esac
case $ops in
'' | *[!0-9]*) echo "$0: bad --ops $ops" >&2; exit 2 ;;
esac
for f in "$bindir/larson" "$bindir/prodcons" "$bindir/numa_cost" "$lib"; do
	[ -e "$f" ] || { echo "missing $f (make && make bench-progs)" >&2; exit 1; }
done
libm=$(gcc -print-file-name=libm.so.6)
libm=$(readlink -f "$libm")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$libm" "$work/libm.so.6"
cp "$lib" "$work/libhakmem.so"
# The peers for the cost part, with the C++ runtime jemalloc and tcmalloc
# need (the VM's userland has only libc, libm and libnuma).
peers=""
libdir=$(dirname "$libm")
for p in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 \
	 tcmalloc:libtcmalloc_minimal.so.4; do
	if [ -e "$libdir/${p#*:}" ]; then
		cp -L "$libdir/${p#*:}" "$work/"
		peers="$peers ${p%%:*}"
	else
		echo "# ${p%%:*}: no $libdir/${p#*:} (scripts/deps.sh bench); not run" >&2
	fi
done
for l in libstdc++.so.6 libgcc_s.so.1; do
	f=$(gcc -print-file-name=$l)
	[ -e "$f" ] && cp -L "$f" "$work/"
done

cat >"$work/numa-guest.sh" <<'GUEST'
#!/bin/sh
# runs in the VM (busybox sh): one line per run
export LD_LIBRARY_PATH=/t
placement() {
	case $1 in
	local) pre="numactl --cpunodebind=0 --membind=0" ;;
	remote) pre="numactl --cpunodebind=0 --membind=1" ;;
	interleave) pre="numactl --cpunodebind=0 --interleave=all" ;;
	spread) pre="" ;;
	esac
}
preload() {
	case $1 in
	hakmem) echo /t/libhakmem.so ;;
	jemalloc) echo /t/libjemalloc.so.2 ;;
	mimalloc) echo /t/libmimalloc.so.2 ;;
	tcmalloc) echo /t/libtcmalloc_minimal.so.4 ;;
	esac
}
for w in $COST; do
	for pl in local remote interleave spread; do
		placement $pl
		for alloc in hakmem glibc $PEERS; do
			out=$(env LD_PRELOAD=$(preload $alloc) $pre \
				./numa_cost -w $w -t 2 -n $OPS 2>&1)
			echo "NUMA-COST placement=$pl alloc=$alloc $out"
		done
	done
done
for bench in $BENCHES; do
	for pl in local remote interleave spread; do
		placement $pl
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

benches="larson prodcons" cost="private larson prodcons"
[ "$part" = cost ] && benches=""
[ "$part" = throughput ] && cost=""
log=$work/vm.log
nice -n 5 "$top/selftests/vm/run-vm.sh" --arch x86_64 --nodes 2 \
	--cpus-per-node 1 --timeout 1800 \
	--cmd "BENCHES='$benches' COST='$cost' PEERS='$peers' OPS=$ops sh ./numa-guest.sh" \
	"$bindir/larson" "$bindir/prodcons" "$bindir/numa_cost" "$work"/*.so* \
	"$work/numa-guest.sh" >"$log" 2>&1 || {
	cat "$log" >&2
	exit 1
}

date=$(date +%Y-%m-%d)
out=$top/bench/results/numa-$date.md
[ "$part" = all ] || out=$top/bench/results/numa-$date-$part.md
mkdir -p "$top/bench/results"

throughput_table() {
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
}

# One row per workload and placement; per allocator "remote touches %
# / cross-node frees per million operations".
cost_table() {
	echo
	echo "numa_cost (2 threads, $ops operations each, every 16th touch and"
	echo "free sampled with move_pages): share of sampled touches of memory"
	echo "on another node / cross-node frees per million operations."
	echo
	grep '^NUMA-COST' "$log" | awk '
	{
		split("", f)
		for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		key = f["workload"] " | " f["placement"]
		if (!(key in seen)) { seen[key] = 1; order[++n] = key }
		if (!(f["alloc"] in aseen)) { aseen[f["alloc"]] = 1; alloc[++na] = f["alloc"] }
		if (f["remote_share"] == "")
			v[key, f["alloc"]] = "failed"
		else
			v[key, f["alloc"]] = sprintf("%.1f%% / %d", 100 * f["remote_share"],
						     f["cross_per_mop"])
	}
	END {
		printf "| workload | placement |"
		for (a = 1; a <= na; a++) printf " %s |", alloc[a]
		printf "\n|---|---|"
		for (a = 1; a <= na; a++) printf "---:|"
		printf "\n"
		for (i = 1; i <= n; i++) {
			printf "| %s |", order[i]
			for (a = 1; a <= na; a++) printf " %s |", v[order[i], alloc[a]]
			printf "\n"
		}
	}'
}

{
	echo "# hakmem under numactl policies, $date"
	echo
	echo "x86_64 VM (qemu TCG), 2 NUMA nodes x 1 CPU, distance 20;"
	echo "\`bench/numa-experiments.sh --part $part\`; 2 threads."
	echo
	[ "$part" = cost ] || throughput_table
	[ "$part" = throughput ] || cost_table
} | tee "$out"
