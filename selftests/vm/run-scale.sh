#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run-scale.sh - the NUMA, rseq, cross-thread and CPU-set selftests in VMs
# of server shape (issue 14), one TAP line per VM, with its boot and test
# times.  Behind `make check-scale` (all shapes) and the "vm" group of
# scripts/check-full.sh (the shapes that fit CI's budget, --shapes).
#
# Usage: run-scale.sh [--srctree DIR] [--builddir DIR] [--cache DIR]
#                     [--shapes LIST] [--timeout S] [--list]
#
#   --shapes LIST   comma-separated names from the table below (default all)
#   --timeout S     timeout of each VM run (default 2400)
#   --list          print the shapes and exit
#
# Shapes (arch, nodes, CPUs per node, node memory, guest program set of
# selftests/numa/run-scale-in-vm.sh):
#   x86-8x8      x86_64  8 nodes x 8 CPUs  (64 vCPUs), 256 MiB each, scale
#   x86-4x16     x86_64  4 nodes x 16 CPUs (64 vCPUs), 512 MiB each, scale
#   arm-4x4      aarch64 4 nodes x 4 CPUs  (16 vCPUs), 256 MiB each, scale
#   x86-fullnode x86_64  4 nodes x 2 CPUs, node 1 64 MiB, the others 512,
#                fullnode (numa_test fullnode 1 192)
#
# 64 vCPUs on two host cores starve the guest's own watchdogs: the soft
# lockup detector and the RCU stall warnings are switched off (they only
# print; the tests' results do not depend on time). Automatic NUMA
# balancing is switched off too: its scanner unmaps the test programs'
# pages every second and its hinting faults and TLB shootdowns, at 32 or
# more starved vCPUs, kept threads waiting on mmap_lock for minutes (and
# it would move pages behind the placement test's back).
#
# Exit status: 0 all passed (skips allowed), 1 one failed, 4 all skipped.

set -u

VM_PROG="run-scale"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

srctree=$(cd "$HERE/../.." && pwd)
builddir=${TMPDIR:-/tmp}/hakmem-vm-scale
cache=""
shapes=""
timeout=2400

# name arch nodes cpus-per-node mem node-mem set
all_shapes=(
	"x86-8x8 x86_64 8 8 256 - scale"
	"x86-4x16 x86_64 4 16 512 - scale"
	"arm-4x4 aarch64 4 4 256 - scale"
	"x86-fullnode x86_64 4 2 512 1=64 fullnode"
)

while [ $# -gt 0 ]; do
	case $1 in
	--srctree | --builddir | --cache | --shapes | --timeout)
		if [ $# -lt 2 ]; then
			echo "run-scale.sh: $1 needs an argument" >&2
			exit 2
		fi
		case $1 in
		--srctree) srctree=$2 ;;
		--builddir) builddir=$2 ;;
		--cache) cache=$2 ;;
		--shapes) shapes=$2 ;;
		--timeout) timeout=$2 ;;
		esac
		shift 2
		;;
	--list)
		printf '%s\n' "${all_shapes[@]}"
		exit 0
		;;
	-h | --help)
		sed -n '4,28s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "run-scale.sh: unknown argument $1" >&2
		exit 2
		;;
	esac
done
[ -n "$cache" ] || cache=$(vm_cache_default)
mkdir -p "$builddir" || exit 1
builddir=$(cd "$builddir" && pwd)

runs=()
for s in "${all_shapes[@]}"; do
	name=${s%% *}
	if [ -z "$shapes" ] || [[ ",$shapes," == *",$name,"* ]]; then
		runs+=("$s")
	fi
done
if [ ${#runs[@]} -eq 0 ]; then
	echo "run-scale.sh: no shape matches '$shapes'" >&2
	exit 2
fi

echo "TAP version 13"
echo "1..${#runs[@]}"
t_start=$(date +%s)

# The static builds: x86_64 always, arm64 when an aarch64 shape is asked.
need_arm=0
for r in "${runs[@]}"; do
	[[ $r == *" aarch64 "* ]] && need_arm=1
done
declare -A bdir=([x86_64]="" [aarch64]="") why=([x86_64]="" [aarch64]="")

build() {	# build ARCH OUTDIR MAKE-ARGS...
	local arch=$1 out=$2
	shift 2
	mkdir -p "$out"
	echo "# building $arch selftests in $out"
	if make -C "$srctree" -j"$(nproc 2>/dev/null || echo 2)" O="$out" \
		TEST_LDFLAGS=-static "$@" all selftests >"$out/build.log" 2>&1; then
		bdir[$arch]=$out/selftests/build
	else
		grep -v getaddrinfo "$out/build.log" | tail -n 20 | sed 's/^/#   /'
		why[$arch]="build failed"
	fi
}

build x86_64 "$builddir/x86_64"
if [ $need_arm = 1 ]; then
	if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
		why[aarch64]="no aarch64-linux-gnu-gcc (scripts/deps.sh cross)"
	elif ! sysroot=$("$HERE/build-arm64-sysroot.sh" --cache "$cache"); then
		why[aarch64]="no arm64 sysroot"
	else
		build aarch64 "$builddir/arm64" ARCH=aarch64 SYSROOT="$sysroot"
	fi
fi

n=0 n_pass=0 n_fail=0 n_skip=0
for r in "${runs[@]}"; do
	read -r name arch nodes cpn mem nmem set <<<"$r"
	n=$((n + 1))
	desc="$name: $arch $nodes nodes x $cpn CPUs ($set)"
	if [ -n "${why[$arch]}" ]; then
		if [ "${why[$arch]}" = "build failed" ]; then
			echo "not ok $n - $desc # build failed"
			n_fail=$((n_fail + 1))
		else
			echo "ok $n - $desc # SKIP ${why[$arch]}"
			n_skip=$((n_skip + 1))
		fi
		continue
	fi
	b=${bdir[$arch]}
	files=("$b/numa/numa_test" "$b/rseq/param_test" "$b/stress/xthread"
	       "$b/stress/cpuset" "$srctree/selftests/numa/run-scale-in-vm.sh")
	args=(--arch "$arch" --nodes "$nodes" --cpus-per-node "$cpn"
	      --mem-per-node "$mem" --cache "$cache" --timeout "$timeout"
	      --boot-timeout 120
	      --append 'nowatchdog rcupdate.rcu_cpu_stall_suppress=1 numa_balancing=disable')
	[ "$nmem" = - ] || args+=(--node-mem "$nmem")
	log=$builddir/$name.log
	"$HERE/run-vm.sh" "${args[@]}" \
		--cmd "HAKMEM_SCALE_SET=$set sh ./run-scale-in-vm.sh" \
		"${files[@]}" 2>&1 | tee "$log" | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	times=$(sed -n 's/.*start marker after \([0-9.]*s\), exit after \([0-9.]*s\).*/boot \1, total \2/p' "$log" | tail -n 1)
	case $rc in
	0)
		echo "ok $n - $desc${times:+ ($times)}"
		n_pass=$((n_pass + 1))
		;;
	4)
		echo "ok $n - $desc # SKIP $(sed -n 's/^# SKIP //p' "$log" | tail -n 1)"
		n_skip=$((n_skip + 1))
		;;
	*)
		echo "not ok $n - $desc # exit status $rc${times:+ ($times)}"
		# the failed programs (rc other than 0 and 4, as
		# run-scale-in-vm.sh judges) and their failed lines
		grep -E '^(# )*(not ok|# time .* rc=([1-35-9]|[0-9]{2,})$)' "$log" |
			head -n 20 | sed 's/^/# failed: /'
		n_fail=$((n_fail + 1))
		;;
	esac
done

echo "# Totals: pass:$n_pass fail:$n_fail xfail:0 xpass:0 skip:$n_skip error:0"
echo "# run-scale: $(($(date +%s) - t_start))s"
[ $n_fail -eq 0 ] || exit 1
[ $n_pass -gt 0 ] || exit "$KSFT_SKIP"
exit 0
