#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run-tests.sh - run every hakmem test and print one summary line.
#
# Called by `make check`. Runs the Check unit tests, the TAP selftests, the
# C++ selftests (static and under LD_PRELOAD), the real programs under
# LD_PRELOAD and the VM selftests, counts individual
# checks (Check's "Checks: N, Failures: F, Errors: E" lines and TAP's
# ok / not ok / # SKIP lines) and ends with
#   check: N passed, N failed, N skipped
#
# Environment: CHECK_PROGRAMS=0 skips the real programs, CHECK_VM=0 the VM
# tests, CHECK_ONLY=unit|stress|cxx|programs|vm runs one group.

set -uo pipefail

srctree=. builddir=selftests/build lib=./libhakmem.so
while [ $# -gt 0 ]; do
	case "$1" in
	--srctree) srctree=$2; shift 2 ;;
	--builddir) builddir=$2; shift 2 ;;
	--lib) lib=$2; shift 2 ;;
	*) echo "usage: $0 [--srctree DIR] [--builddir DIR] [--lib SO]" >&2; exit 2 ;;
	esac
done

passed=0 failed=0 skipped=0
failures=()
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

want() {
	[ -z "${CHECK_ONLY:-}" ] || [ "$CHECK_ONLY" = "$1" ]
}

# count_tap NAME LOG RC: add a TAP program's results to the totals.
count_tap() {
	local name=$1 log=$2 rc=$3 ok notok skip
	ok=$(grep -cE '^ok [0-9]+' "$log" || true)
	skip=$(grep -cE '^ok [0-9]+.*# SKIP' "$log" || true)
	notok=$(grep -cE '^not ok [0-9]+' "$log" || true)
	ok=$((ok - skip))
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ] && [ "$notok" -eq 0 ]; then
		notok=1	# crashed or bailed out without a result line
	fi
	passed=$((passed + ok)) failed=$((failed + notok)) skipped=$((skipped + skip))
	[ "$notok" -eq 0 ] || failures+=("$name")
	if [ "$rc" -eq 4 ] && [ $((ok + notok + skip)) -eq 0 ]; then
		skipped=$((skipped + 1))
	fi
}

# count_check NAME LOG RC: add a Check program's results to the totals.
count_check() {
	local name=$1 log=$2 rc=$3 line checks fails errs
	line=$(grep -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1)); failures+=("$name"); return
	fi
	checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
	fails=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
	errs=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
	passed=$((passed + checks - fails - errs))
	failed=$((failed + fails + errs))
	if [ $((fails + errs)) -ne 0 ] || [ "$rc" -ne 0 ]; then
		failures+=("$name")
		[ $((fails + errs)) -ne 0 ] || failed=$((failed + 1))
	fi
}

# run KIND NAME TIMEOUT CMD...: run one test program, stream and count it.
run() {
	local kind=$1 name=$2 limit=$3 log rc
	shift 3
	log="$logdir/$(tr '/ ' '__' <<<"$name").log"
	echo "=== $name"
	timeout "$limit" "$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	[ "$rc" -ne 124 ] || echo "# $name: timed out after ${limit}s"
	"count_$kind" "$name" "$log" "$rc"
}

if want unit; then
	for t in "$builddir"/unit/test_*; do
		[ -x "$t" ] && run check "unit/$(basename "$t")" 600 "$t"
	done
fi

# The fast-path modes every stress and rseq selftest runs in: per-CPU with
# glibc's rseq, per-CPU indexed by mm_cid, per-CPU with our own rseq
# registration (glibc's disabled), the per-thread fallback, and two fake
# NUMA nodes.
modes=("" "HAKMEM_CPU_ID=mm_cid" "GLIBC_TUNABLES=glibc.pthread.rseq=0" "HAKMEM_RSEQ=0"
       "HAKMEM_NUMA_FAKE=2")

if want stress; then
	for mode in "${modes[@]}"; do
		for t in "$builddir"/stress/* "$builddir"/rseq/*; do
			[ -x "$t" ] || continue
			name="$(basename "$(dirname "$t")")/$(basename "$t")${mode:+ [$mode]}"
			if [ -n "$mode" ]; then
				run tap "$name" 600 env "$mode" "$t"
			else
				run tap "$name" 600 "$t"
			fi
		done
	done
fi

# The peak RSS of a tiny program under LD_PRELOAD against glibc's
# (selftests/preload/footprint.c): once, in no particular mode.
if want stress && [ -x "$builddir/preload/footprint" ]; then
	run tap "preload/footprint" 120 "$builddir/preload/footprint" "$lib"
fi

# C++ operator new/delete: NAME-static linked with libhakmem.a, NAME under
# LD_PRELOAD of the shared library.
if want cxx; then
	for t in "$builddir"/cxx/*-static; do
		[ -x "$t" ] || continue
		run tap "cxx/$(basename "$t")" 300 "$t"
		t=${t%-static}
		[ -x "$t" ] && run tap "cxx/$(basename "$t") [LD_PRELOAD]" 300 \
			env LD_PRELOAD="$lib" "$t"
	done
fi

if want programs; then
	if [ "${CHECK_PROGRAMS:-1}" = 0 ]; then
		echo "=== programs: skipped (CHECK_PROGRAMS=0)"
		skipped=$((skipped + 1))
	else
		run tap "preload/run-programs" 900 \
			"$srctree/selftests/preload/run-programs.sh" "$lib"
	fi
fi

if want vm; then
	if [ "${CHECK_VM:-1}" = 0 ]; then
		echo "=== vm: skipped (CHECK_VM=0)"
		skipped=$((skipped + 1))
	elif [ -x "$srctree/selftests/vm/run-selftests.sh" ]; then
		# the NUMA selftest (both architectures) and, for aarch64, the
		# unit, stress and rseq selftests, built static for the VMs
		vm_args=()
		if args=$("$srctree/selftests/numa/build-vm-tests.sh" \
				--srctree "$srctree" --builddir "$builddir/vm-build"); then
			mapfile -t vm_args <<<"$args"
		else
			echo "# vm: building the VM selftests failed; vm_sanity only"
			failed=$((failed + 1)) failures+=("vm/build")
		fi
		run tap "vm/run-selftests" 1500 \
			"$srctree/selftests/vm/run-selftests.sh" \
			--builddir "$builddir/vm" --timeout 600 "${vm_args[@]}"
	fi
fi

echo
if [ ${#failures[@]} -ne 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
