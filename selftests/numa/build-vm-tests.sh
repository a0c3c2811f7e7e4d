#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# build-vm-tests.sh - build the static test programs the VMs run, and print
# the run-selftests.sh arguments that ship them:
#   x86_64:  numa_test, stress/cpuset (CPU hotplug)
#   aarch64: numa_test, the Check unit tests, the stress and rseq selftests
#            (cross-built with aarch64-linux-gnu-gcc against an arm64
#            sysroot of libnuma and Check; skipped with a note when the
#            cross toolchain or the sysroot cannot be had)
#
# Usage: build-vm-tests.sh --srctree DIR --builddir DIR
# Prints one argument per line on stdout; progress goes to stderr.

set -euo pipefail

srctree=. builddir=build/vm-tests
while [ $# -gt 0 ]; do
	case "$1" in
	--srctree) srctree=$2; shift 2 ;;
	--builddir) builddir=$2; shift 2 ;;
	*) echo "usage: $0 --srctree DIR --builddir DIR" >&2; exit 2 ;;
	esac
done
jobs=$(nproc 2>/dev/null || echo 2)

# build OUTDIR MAKE-ARGS...: the library and the selftests, static; the
# log is shown only when the build fails.
build() {
	local out=$1
	shift
	mkdir -p "$out"
	echo "# building $out" >&2
	if ! make -C "$srctree" -j"$jobs" O="$out" TEST_LDFLAGS=-static "$@" \
		all selftests >"$out/build.log" 2>&1; then
		grep -v getaddrinfo "$out/build.log" >&2
		return 1
	fi
}

build "$builddir/x86_64"
printf '%s\n' --extra "$builddir/x86_64/selftests/build/numa/numa_test" \
	--extra "$builddir/x86_64/selftests/build/stress/cpuset"

if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
	echo "# aarch64: no cross compiler (scripts/deps.sh cross); aarch64 VM runs vm_sanity only" >&2
elif ! sysroot=$("$srctree/selftests/vm/build-arm64-sysroot.sh"); then
	echo "# aarch64: no arm64 sysroot; aarch64 VM runs vm_sanity only" >&2
else
	build "$builddir/arm64" ARCH=aarch64 SYSROOT="$sysroot"
	for t in "$builddir"/arm64/selftests/build/{numa,unit,stress,rseq}/*; do
		[ -x "$t" ] && printf '%s\n' --extra "$t"
	done
fi
printf '%s\n' --extra "$srctree/selftests/numa/run-in-vm.sh" \
	--extra-cmd 'sh ./run-in-vm.sh'
