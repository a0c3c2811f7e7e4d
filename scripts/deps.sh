#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# deps.sh - install the Debian packages a given purpose needs.
#
# Usage: scripts/deps.sh [build|test|bench|vm|cross|full|all]...
#
# Several groups may be given; the default is "build test".  "full" and
# "all" are synonyms for every group.  Packages already installed are
# skipped; nothing is printed when nothing is missing.  As root the missing
# packages are installed with apt-get (after one "apt-get update"); as any
# other user the exact sudo command is printed and the script exits 1.
#
# Exit codes: 0 ok, 1 packages missing (not root) or install failed,
#             2 usage error.

set -euo pipefail

usage() {
	cat <<'EOF'
Usage: scripts/deps.sh [GROUP]...
Install the Debian packages hakmem needs for GROUP (default: build test).

Groups:
  build   C and C++ compilers, make, pkg-config, Check, libnuma, liburcu
  test    build + valgrind, python3, sqlite3, git, clang/LLVM (sanitizers,
          libFuzzer), redis
  bench   jemalloc, mimalloc, tcmalloc, gnuplot, g++ (C++ workloads), valgrind
  vm      qemu (x86, arm), busybox-static, cpio, numactl
  cross   aarch64 cross compiler + qemu-user-static
  full    every group above (alias: all)
EOF
}

pkgs_build=(gcc g++ make pkg-config check libnuma-dev numactl liburcu-dev)
pkgs_test=(valgrind python3 sqlite3 git coreutils clang llvm
	   clang-14 libclang-rt-14-dev redis-server redis-tools)
pkgs_bench=(libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 gnuplot-nox g++
	    valgrind)
pkgs_vm=(qemu-system-x86 qemu-system-arm busybox-static cpio numactl
	 libnuma-dev)
pkgs_cross=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static)

wanted=()

add_group() {
	case "$1" in
	build)
		wanted+=("${pkgs_build[@]}")
		;;
	test)
		wanted+=("${pkgs_build[@]}" "${pkgs_test[@]}")
		;;
	bench)
		wanted+=("${pkgs_bench[@]}")
		;;
	vm)
		wanted+=("${pkgs_vm[@]}")
		;;
	cross)
		wanted+=("${pkgs_cross[@]}")
		;;
	full | all)
		wanted+=("${pkgs_build[@]}" "${pkgs_test[@]}" "${pkgs_bench[@]}"
			 "${pkgs_vm[@]}" "${pkgs_cross[@]}")
		;;
	-h | --help | help)
		usage
		exit 0
		;;
	*)
		echo "deps.sh: unknown group '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
}

if [ "$#" -eq 0 ]; then
	set -- build test
fi
for group in "$@"; do
	add_group "$group"
done

# Deduplicate while keeping the order.
declare -A seen=()
uniq_pkgs=()
for p in "${wanted[@]}"; do
	if [ -z "${seen[$p]+x}" ]; then
		seen[$p]=1
		uniq_pkgs+=("$p")
	fi
done

is_installed() {
	local status
	status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
	[ "$status" = "install ok installed" ]
}

missing=()
for p in "${uniq_pkgs[@]}"; do
	if ! is_installed "$p"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "Run:" >&2
	echo "sudo apt-get install -y --no-install-recommends ${missing[*]}"
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps.sh: installing: ${missing[*]}"
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
