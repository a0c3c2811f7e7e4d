#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run-selftests.sh - build the static VM test programs and run them in
# multi-node VMs (x86_64 2 nodes x 2 CPUs, x86_64 4 nodes x 1 CPU,
# aarch64 2 nodes x 2 CPUs).  Prints TAP: one line per VM run, the VM's
# output before it as "# " lines.  Exit status 0 when all pass (skips
# allowed), 1 when one fails, 4 when all were skipped.
#
# Usage: run-selftests.sh [--builddir DIR] [--cache DIR] [--arch A]
#                         [--extra FILE]... [--extra-cmd 'CMD'] [--timeout S]
#
#   --builddir DIR    where vm_sanity-x86_64 / vm_sanity-aarch64 go
#                     (default ${TMPDIR:-/tmp}/hakmem-vm-build)
#   --cache DIR       run-vm.sh download cache
#   --arch A          x86_64, aarch64 or all (default all)
#   --extra FILE      copy FILE into /t of the VMs: an x86_64 ELF goes to
#                     the x86_64 VMs, an aarch64 ELF to the aarch64 VM, any
#                     other file (a script) to all.  Repeatable; give the
#                     two builds of a program the same base name.
#   --extra-cmd CMD   run CMD in /t after vm_sanity in every VM; it sees
#                     HAKMEM_VM_ARCH, HAKMEM_VM_NODES, HAKMEM_VM_CPUS_PER_NODE
#                     and HAKMEM_VM_MEM_PER_NODE.  Exit 0 pass, 4 skip,
#                     anything else fail.
#   --timeout S       timeout of each VM run (default 150)
#   --boot-timeout S  boot time before a VM is killed and retried once
#                     (default 30; a boot takes 4-8 s here)
#
# Environment: CC (gcc), CROSS_CC (aarch64-linux-gnu-gcc), EXTRA_CFLAGS.

set -u

VM_PROG="run-selftests"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

builddir=${TMPDIR:-/tmp}/hakmem-vm-build
cache=""
want_arch=all
extras=()
extra_cmd=""
timeout=150
boot_timeout=30

while [ $# -gt 0 ]; do
	case $1 in
	--builddir | --cache | --arch | --extra | --extra-cmd | --timeout | \
	--boot-timeout)
		if [ $# -lt 2 ]; then
			echo "run-selftests.sh: $1 needs an argument" >&2
			exit 2
		fi
		case $1 in
		--builddir) builddir=$2 ;;
		--cache) cache=$2 ;;
		--arch) want_arch=$2 ;;
		--extra) extras+=("$2") ;;
		--extra-cmd) extra_cmd=$2 ;;
		--timeout) timeout=$2 ;;
		--boot-timeout) boot_timeout=$2 ;;
		esac
		shift 2
		;;
	-h | --help)
		sed -n '3,30s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "run-selftests.sh: unknown argument $1" >&2
		exit 2
		;;
	esac
done
case $want_arch in
all | x86_64 | aarch64) ;;
*) echo "run-selftests.sh: bad --arch $want_arch" >&2; exit 2 ;;
esac
for f in "${extras[@]}"; do
	[ -f "$f" ] || { echo "run-selftests.sh: no such file $f" >&2; exit 2; }
done
[ -n "$cache" ] || cache=$(vm_cache_default)
mkdir -p "$builddir" || { echo "cannot create $builddir" >&2; exit 1; }
builddir=$(cd "$builddir" && pwd)

# The VM runs: arch nodes cpus-per-node.
runs=()
case $want_arch in
all | x86_64) runs+=("x86_64 2 2" "x86_64 4 1") ;;
esac
case $want_arch in
all | aarch64) runs+=("aarch64 2 2") ;;
esac

echo "TAP version 13"
echo "1..${#runs[@]}"

t_start=$(date +%s)
CFLAGS_VM="-O2 -Wall -Wextra -Werror -static ${EXTRA_CFLAGS:-}"

# build_ARCH - build vm_sanity for ARCH; on failure set skip[ARCH].
declare -A skip=([x86_64]="" [aarch64]="")

build_log()
{
	# The static libnuma.a pulls in getaddrinfo(); glibc's link-time
	# warning about it is harmless here.
	grep -v -e "requires at runtime the shared libraries" \
		-e "in function .affinity_ip" "$1" | sed 's/^/#   /'
}

build_x86_64()
{
	local cc=${CC:-gcc} out=$builddir/vm_sanity-x86_64

	if ! vm_need_cmd "$cc" gcc; then
		skip[x86_64]="no $cc (as root: apt-get install gcc libnuma-dev)"
		return
	fi
	if ! vm_need_file /usr/include/numa.h libnuma-dev; then
		skip[x86_64]="no libnuma-dev (as root: apt-get install libnuma-dev)"
		return
	fi
	# shellcheck disable=SC2086
	if ! "$cc" $CFLAGS_VM -o "$out" "$HERE/vm_sanity.c" -lnuma \
	     >"$builddir/build-x86_64.log" 2>&1; then
		build_log "$builddir/build-x86_64.log"
		skip[x86_64]="build failed"
		return
	fi
	build_log "$builddir/build-x86_64.log"
	echo "# built $out"
}

build_aarch64()
{
	local cc=${CROSS_CC:-aarch64-linux-gnu-gcc} sysroot
	local out=$builddir/vm_sanity-aarch64

	if ! sysroot=$("$HERE/build-arm64-sysroot.sh" --cache "$cache"); then
		skip[aarch64]=$(sed -n 's/^# SKIP //p' <<<"$sysroot")
		[ -n "${skip[aarch64]}" ] || skip[aarch64]="no arm64 sysroot"
		return
	fi
	# shellcheck disable=SC2086
	if ! "$cc" $CFLAGS_VM -I"$sysroot/usr/include" \
	     -o "$out" "$HERE/vm_sanity.c" \
	     -L"$sysroot/usr/lib/aarch64-linux-gnu" -lnuma \
	     >"$builddir/build-aarch64.log" 2>&1; then
		build_log "$builddir/build-aarch64.log"
		skip[aarch64]="build failed"
		return
	fi
	build_log "$builddir/build-aarch64.log"
	echo "# built $out (sysroot $sysroot)"
}

case $want_arch in
all | x86_64) build_x86_64 2>&1 ;;
esac
case $want_arch in
all | aarch64) build_aarch64 2>&1 ;;
esac

# The guest command: vm_sanity, then the extra command; the VM's status
# is the first failure, else 0 when anything passed, else 4.
if [ -n "$extra_cmd" ]; then
	printf '%s\n' "$extra_cmd" >"$builddir/hakmem-extra.sh"
fi

guest_cmd()
{
	local nodes=$1 cpn=$2 arch=$3

	printf '%s' "rc=0; pass=0; st() { case \$1 in 0) pass=1 ;; 4) ;; *) [ \$rc -ne 0 ] || rc=\$1 ;; esac; }; "
	printf '%s' "./vm_sanity-$arch $nodes $cpn; st \$?; "
	if [ -n "$extra_cmd" ]; then
		printf '%s' "echo '# extra command'; sh ./hakmem-extra.sh; st \$?; "
	fi
	printf '%s' "[ \$rc -ne 0 ] && exit \$rc; [ \$pass = 1 ] && exit 0; exit 4"
}

n=0
n_pass=0
n_fail=0
n_skip=0
for run in "${runs[@]}"; do
	read -r arch nodes cpn <<<"$run"
	n=$((n + 1))
	name="vm $arch $nodes nodes x $cpn cpus"
	bin=$builddir/vm_sanity-$arch
	why=${skip[$arch]}
	if [ -z "$why" ] && [ ! -x "$bin" ]; then
		why="vm_sanity-$arch not built"
	fi
	if [ -n "$why" ]; then
		if [ "$why" = "build failed" ]; then
			echo "not ok $n - $name # build failed"
			n_fail=$((n_fail + 1))
		else
			echo "ok $n - $name # SKIP $why"
			n_skip=$((n_skip + 1))
		fi
		continue
	fi

	files=("$bin")
	for f in "${extras[@]}"; do
		m=$(vm_elf_machine "$f")
		if [ "$m" = "$arch" ] || [ "$m" = script ]; then
			files+=("$f")
		fi
	done
	[ -n "$extra_cmd" ] && files+=("$builddir/hakmem-extra.sh")

	log=$builddir/vm-$arch-${nodes}x$cpn.log
	t0=$(date +%s)
	"$HERE/run-vm.sh" --arch "$arch" --nodes "$nodes" \
		--cpus-per-node "$cpn" --cache "$cache" --timeout "$timeout" \
		--boot-timeout "$boot_timeout" \
		--cmd "$(guest_cmd "$nodes" "$cpn" "$arch")" "${files[@]}" \
		2>&1 | tee "$log" | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	t1=$(date +%s)
	case $rc in
	0)
		echo "ok $n - $name"
		n_pass=$((n_pass + 1))
		;;
	4)
		reason=$(sed -n 's/^# SKIP //p' "$log" | tail -n 1)
		echo "ok $n - $name # SKIP ${reason:-skipped in the VM}"
		n_skip=$((n_skip + 1))
		;;
	*)
		echo "not ok $n - $name # exit status $rc after $((t1 - t0))s"
		n_fail=$((n_fail + 1))
		;;
	esac
done

echo "# Totals: pass:$n_pass fail:$n_fail xfail:0 xpass:0 skip:$n_skip error:0"
echo "# run-selftests: $(($(date +%s) - t_start))s"
[ $n_fail -eq 0 ] || exit 1
[ $n_pass -gt 0 ] || exit "$KSFT_SKIP"
exit 0
