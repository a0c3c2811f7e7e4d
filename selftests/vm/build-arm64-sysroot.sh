#!/bin/bash
# SPDX-License-Identifier: MIT
#
# build-arm64-sysroot.sh - unpack the arm64 libnuma headers and static
# library into a cache directory and print its path, for
#
#   SYSROOT=$(selftests/vm/build-arm64-sysroot.sh)
#   aarch64-linux-gnu-gcc -static ... -I$SYSROOT/usr/include \
#           -L$SYSROOT/usr/lib/aarch64-linux-gnu ... -lnuma
#
# The C library and compiler come from gcc-aarch64-linux-gnu and
# libc6-dev-arm64-cross (installed when root and missing); libnuma-dev:arm64
# and libnuma1:arm64 (and check:arm64 with libsubunit, for the unit tests)
# are fetched with "apt-get download" (after
# "dpkg --add-architecture arm64") and unpacked with "dpkg -x", never
# installed.  libnuma.a needs nothing beyond libc.
#
# Usage: build-arm64-sysroot.sh [--cache DIR] [--no-toolchain]
# Exit status: 0 and the path on stdout; 4 (SKIP) with a "# SKIP" line on
# stdout when something cannot be had.

set -u

VM_PROG="arm64-sysroot"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

cache=""
toolchain=1
while [ $# -gt 0 ]; do
	case $1 in
	--cache)
		[ $# -ge 2 ] || { echo "$0: --cache needs a directory" >&2; exit 2; }
		cache=$2
		shift 2
		;;
	--no-toolchain)
		toolchain=0
		shift
		;;
	-h | --help)
		sed -n '3,21s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "$0: unknown argument $1" >&2
		exit 2
		;;
	esac
done
[ -n "$cache" ] || cache=$(vm_cache_default)

if [ $toolchain = 1 ]; then
	vm_need_cmd aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu ||
		vm_skip "aarch64-linux-gnu-gcc missing; as root: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
	vm_need_file /usr/aarch64-linux-gnu/lib/libc.a libc6-dev-arm64-cross ||
		vm_skip "arm64 libc.a missing; as root: apt-get install libc6-dev-arm64-cross"
fi

vm_foreign_arch arm64 ||
	vm_skip "dpkg architecture arm64 not enabled; as root: dpkg --add-architecture arm64 && apt-get update"

mkdir -p "$cache" || vm_skip "cannot create $cache"
sysroot=$cache/aarch64/sysroot
exec 9>"$cache/.lock"
flock 9
vm_fetch_debs "$sysroot" libnuma-dev:arm64 libnuma1:arm64 check:arm64 \
	libsubunit-dev:arm64 libsubunit0:arm64 >&2 ||
	vm_skip "cannot download libnuma-dev:arm64 libnuma1:arm64 check:arm64 libsubunit-dev:arm64"
flock -u 9

if [ ! -f "$sysroot/usr/lib/aarch64-linux-gnu/libnuma.a" ] ||
   [ ! -f "$sysroot/usr/include/numa.h" ]; then
	vm_skip "libnuma-dev:arm64 did not provide libnuma.a and numa.h"
fi
echo "$sysroot"
