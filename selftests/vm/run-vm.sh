#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run-vm.sh - boot a small (multi-node) VM and run a command in it.
#
# The guest is a Debian kernel (downloaded with "apt-get download" and
# unpacked into a cache directory, never installed on the host) and an
# initramfs with busybox, numactl and the FILEs given on the command line,
# copied into /t.  The command runs in /t with /proc, /sys and /dev mounted;
# its output is streamed to our stdout, and we exit with its exit status.
#
# Exit status: the guest command's status; 4 (kselftest SKIP) when qemu or
# the kernel cannot be had; 2 for usage errors; 124 when the overall
# timeout expired; 125 when the VM failed (no start marker twice, no exit
# marker).  Diagnostics go to stderr as "# run-vm: ..." lines.
#
# See "run-vm.sh --help" and selftests/vm/README.md.

set -u

VM_PROG=run-vm
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

START_MARK=HAKMEM-VM-START
EXIT_MARK=HAKMEM-VM-EXIT

usage()
{
	cat <<EOF
Usage: run-vm.sh [OPTIONS] [FILE...]

Boot a VM with an initramfs holding busybox, numactl and FILE... in /t,
run COMMAND in /t and exit with its status.

Options:
  --arch x86_64|aarch64   guest architecture (default x86_64)
  --nodes N               NUMA nodes (default 2)
  --cpus-per-node C       CPUs per node (default 1)
  --mem-per-node MiB      memory per node (default 512)
  --node-mem K=MiB[,...]  memory of node K instead (e.g. 1=64: a small node)
  --timeout SECONDS       overall timeout of the VM runs (default 300)
  --boot-timeout SECONDS  time to wait for the start marker before killing
                          the VM and retrying once (default 45)
  --cache DIR             download cache (default \$XDG_CACHE_HOME/hakmem-vm,
                          or ~/.cache/hakmem-vm)
  --cmd 'COMMAND'         shell command to run in /t (default: sh -c true)
  --kernel FILE           boot this kernel instead of Debian's
  --append 'ARGS'         extra kernel command line arguments
  -h, --help              this text

Node distances: 10 local; nodes 2i and 2i+1 are 20 apart, other pairs 30
(so with 2 nodes: 10/20; with 4 nodes: 0-1 and 2-3 at 20, others at 30).
The guest sees HAKMEM_VM_ARCH, HAKMEM_VM_NODES, HAKMEM_VM_CPUS_PER_NODE and
HAKMEM_VM_MEM_PER_NODE in its environment, and HAKMEM_VM_NODE_MEM (the MiB
of each node, space separated).
Environment: HAKMEM_VM_ACCEL=tcg|kvm forces the accelerator.
EOF
}

is_uint()
{
	case $1 in
	'' | *[!0-9]*) return 1 ;;
	esac
}

arch=x86_64
nodes=2
cpn=1
mem=512
timeout=300
boot_timeout=45
cache=""
cmd=true
kernel=""
append=""
node_mem=""
files=()

while [ $# -gt 0 ]; do
	case $1 in
	--arch | --nodes | --cpus-per-node | --mem-per-node | --timeout | \
	--boot-timeout | --cache | --cmd | --kernel | --append | --node-mem)
		if [ $# -lt 2 ]; then
			echo "run-vm.sh: $1 needs an argument" >&2
			exit 2
		fi
		case $1 in
		--arch) arch=$2 ;;
		--nodes) nodes=$2 ;;
		--cpus-per-node) cpn=$2 ;;
		--mem-per-node) mem=$2 ;;
		--timeout) timeout=$2 ;;
		--boot-timeout) boot_timeout=$2 ;;
		--cache) cache=$2 ;;
		--cmd) cmd=$2 ;;
		--kernel) kernel=$2 ;;
		--append) append=$2 ;;
		--node-mem) node_mem=$2 ;;
		esac
		shift 2
		;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		files+=("$@")
		break
		;;
	-*)
		echo "run-vm.sh: unknown option $1" >&2
		usage >&2
		exit 2
		;;
	*)
		files+=("$1")
		shift
		;;
	esac
done

for v in nodes cpn mem timeout boot_timeout; do
	if ! is_uint "${!v}" || [ "${!v}" -eq 0 ]; then
		echo "run-vm.sh: bad value for $v: '${!v}'" >&2
		exit 2
	fi
done
for f in "${files[@]}"; do
	[ -e "$f" ] || { echo "run-vm.sh: no such file: $f" >&2; exit 2; }
done
# memk[K]: the memory of node K in MiB
declare -a memk
for ((i = 0; i < nodes; i++)); do
	memk[i]=$mem
done
for kv in ${node_mem//,/ }; do
	k=${kv%%=*} v=${kv#*=}
	if ! is_uint "$k" || ! is_uint "$v" || [ "$k" -ge "$nodes" ] ||
	   [ "$v" -lt 16 ]; then
		echo "run-vm.sh: bad --node-mem entry '$kv' (K=MiB, K < nodes, MiB >= 16)" >&2
		exit 2
	fi
	memk[k]=$v
done
memtotal=0
for ((i = 0; i < nodes; i++)); do
	memtotal=$((memtotal + memk[i]))
done
if [ -n "$kernel" ] && [ ! -f "$kernel" ]; then
	echo "run-vm.sh: no such kernel: $kernel" >&2
	exit 2
fi

case $arch in
x86_64 | amd64)
	arch=x86_64
	darch=amd64
	qemu="qemu-system-x86_64"
	qpkg="qemu-system-x86"
	console=ttyS0
	;;
aarch64 | arm64)
	arch=aarch64
	darch=arm64
	qemu="qemu-system-aarch64"
	qpkg="qemu-system-arm"
	console=ttyAMA0
	;;
*)
	echo "run-vm.sh: unsupported arch '$arch'" >&2
	exit 2
	;;
esac
VM_PROG="run-vm[$arch ${nodes}x$cpn]"
[ -n "$cache" ] || cache=$(vm_cache_default)

now_ms()
{
	local s ns

	read -r s ns < <(date '+%s %N')
	echo $((s * 1000 + 10#$ns / 1000000))
}

fmt_ms()
{
	printf '%d.%01ds' $(($1 / 1000)) $(($1 % 1000 / 100))
}

# ---------------------------------------------------------------- host tools

vm_need_cmd "$qemu" "$qpkg" ||
	vm_skip "$qemu not found and $qpkg cannot be installed (not root)"
vm_need_cmd cpio cpio ||
	vm_skip "cpio not found and cannot be installed (not root)"
vm_need_cmd flock util-linux || vm_skip "flock not found"
if [ "$arch" = x86_64 ] && [ -z "$kernel" ]; then
	vm_need_cmd xz xz-utils ||
		vm_skip "xz not found and xz-utils cannot be installed (not root)"
fi

mkdir -p "$cache" || vm_skip "cannot create cache dir $cache"
exec 9>"$cache/.lock"

# ---------------------------------------------------------------- kernel

# kernel_version - the linux-image-<ver>-<darch> that linux-image-<darch>
# names, e.g. 6.1.0-56.
kernel_version()
{
	local meta=linux-image-$darch ver

	[ "$darch" = amd64 ] || meta=$meta:$darch
	ver=$(apt-cache depends "$meta" 2>/dev/null |
	      sed -n "s/^ *Depends: linux-image-\(.*\)-$darch\(:$darch\)\?\$/\1/p" |
	      head -n 1)
	if [ -z "$ver" ] && vm_is_root; then
		vm_foreign_arch "$darch" >/dev/null 2>&1
		vm_apt_update_once
		ver=$(apt-cache depends "$meta" 2>/dev/null |
		      sed -n "s/^ *Depends: linux-image-\(.*\)-$darch\(:$darch\)\?\$/\1/p" |
		      head -n 1)
	fi
	echo "$ver"
}

# extract_vmlinux VMLINUZ OUT - the ELF vmlinux is the XZ stream inside
# the bzImage; booting it directly (PVH) saves the in-guest decompression,
# which costs seconds under TCG.
extract_vmlinux()
{
	local off

	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | head -n 1 | cut -d: -f1)
	[ -n "$off" ] || return 1
	tail -c +$((off + 1)) "$1" | xz -dc --single-stream >"$2" 2>/dev/null
	[ "$(vm_elf_machine "$2")" = x86_64 ]
}

# fetch_kernel - print the path of the kernel to boot.
fetch_kernel()
{
	local ver pkg kdir tmp img deb verfile=$cache/$arch/kernel-version

	# apt-cache costs seconds: trust a recent answer.
	if vm_fresh "$verfile"; then
		kdir=$cache/$arch/linux-$(cat "$verfile")
		if [ -s "$kdir/kernel" ]; then
			echo "$kdir/kernel"
			return 0
		fi
	fi
	ver=$(kernel_version)
	if [ -z "$ver" ]; then
		# Offline or no package lists: take the newest cached one.
		kdir=$(find "$cache/$arch" -maxdepth 1 -name 'linux-*' -type d \
			2>/dev/null | sort -V | tail -n 1)
		if [ -n "$kdir" ] && [ -s "$kdir/kernel" ]; then
			vm_log "no linux-image-$darch in apt; using cached $kdir"
			echo "$kdir/kernel"
			return 0
		fi
		vm_log "cannot find linux-image-$darch with apt-cache"
		return 1
	fi
	kdir=$cache/$arch/linux-$ver
	mkdir -p "$cache/$arch"
	if [ -s "$kdir/kernel" ]; then
		echo "$ver" >"$verfile"
		echo "$kdir/kernel"
		return 0
	fi
	pkg=linux-image-$ver-$darch
	[ "$darch" = amd64 ] || pkg=$pkg:$darch
	if [ "$darch" != "$(dpkg --print-architecture)" ]; then
		vm_foreign_arch "$darch" || {
			vm_log "cannot enable dpkg architecture $darch (not root?)"
			return 1
		}
	fi
	tmp=$(mktemp -d "$cache/$arch/dl.XXXXXX") || return 1
	chmod 755 "$tmp"
	vm_log "apt-get download $pkg"
	if ! (cd "$tmp" && apt-get download -q "$pkg" >download.log 2>&1); then
		sed 's/^/#   /' "$tmp/download.log" >&2
		rm -rf "$tmp"
		return 1
	fi
	# Only ./boot is needed: skip unpacking hundreds of MiB of modules.
	deb=$(ls "$tmp"/*.deb)
	mkdir -p "$tmp/x"
	if ! dpkg-deb --fsys-tarfile "$deb" |
	     tar -x -C "$tmp/x" --wildcards './boot/*'; then
		rm -rf "$tmp"
		return 1
	fi
	img=$tmp/x/boot/vmlinuz-$ver-$darch
	case $arch in
	x86_64)
		if ! extract_vmlinux "$img" "$tmp/x/kernel"; then
			vm_log "cannot extract vmlinux from $img, booting bzImage"
			cp "$img" "$tmp/x/kernel"
		fi
		;;
	aarch64)
		# Debian's arm64 vmlinuz is a plain Image; gunzip just in case.
		if [ "$(od -An -tx1 -N2 "$img" | tr -d ' \n')" = 1f8b ]; then
			gzip -dc "$img" >"$tmp/x/kernel"
		else
			cp "$img" "$tmp/x/kernel"
		fi
		;;
	esac
	rm -rf "$kdir"
	mv "$tmp/x" "$kdir"
	rm -rf "$tmp"
	echo "$ver" >"$verfile"
	echo "$kdir/kernel"
}

# ---------------------------------------------------------------- userland

# fetch_userland - unpack busybox-static, numactl and the libraries it
# needs for the guest architecture; print the directory.
fetch_userland()
{
	local ul=$cache/$arch/userland

	if [ "$darch" != "$(dpkg --print-architecture)" ]; then
		vm_foreign_arch "$darch" || return 1
	fi
	if vm_fetch_debs "$ul" "busybox-static:$darch" "numactl:$darch" \
			 "libnuma1:$darch" "libc6:$darch" >&2; then
		echo "$ul"
		return 0
	fi
	vm_log "numactl for $darch not available, trying busybox alone"
	ul=$cache/$arch/userland-busybox
	vm_fetch_debs "$ul" "busybox-static:$darch" >&2 || return 1
	echo "$ul"
}

flock 9
if [ -n "$kernel" ]; then
	kimg=$kernel
else
	kimg=$(fetch_kernel) ||
		vm_skip "cannot get a $darch Debian kernel (apt-get download failed or not root)"
fi
ul=$(fetch_userland) || ul=""
busybox=""
if [ -n "$ul" ] && [ -x "$ul/bin/busybox" ]; then
	busybox=$ul/bin/busybox
elif [ "$arch" = x86_64 ] && [ -x /bin/busybox ] &&
     ! ldd /bin/busybox >/dev/null 2>&1; then
	busybox=/bin/busybox	# the host's busybox-static
fi
flock -u 9
[ -n "$busybox" ] || vm_skip "no static busybox for $darch"

# ---------------------------------------------------------------- initramfs

work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-vm.XXXXXX") ||
	vm_die "cannot create a temporary directory"
qpid=""
tpid=""

# shellcheck disable=SC2317 # called from the trap
cleanup()
{
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,t,etc}
cp "$busybox" "$root/bin/busybox"

if [ -n "$ul" ] && [ -x "$ul/usr/bin/numactl" ]; then
	case $arch in
	x86_64)
		libs="lib64/ld-linux-x86-64.so.2 lib/x86_64-linux-gnu/libc.so.6
		      usr/lib/x86_64-linux-gnu/libnuma.so.1"
		;;
	aarch64)
		libs="lib/ld-linux-aarch64.so.1 lib/aarch64-linux-gnu/libc.so.6
		      usr/lib/aarch64-linux-gnu/libnuma.so.1"
		;;
	esac
	ok=1
	for l in $libs usr/bin/numactl; do
		mkdir -p "$root/$(dirname "$l")"
		cp -L "$ul/$l" "$root/$l" 2>/dev/null || ok=0
	done
	[ $ok = 1 ] || vm_log "numactl incomplete in the guest"
else
	vm_log "no numactl in the guest"
fi

for f in "${files[@]}"; do
	b=$(basename "$f")
	[ -e "$root/t/$b" ] && vm_log "warning: $b given twice, last one wins"
	cp -RL "$f" "$root/t/$b" || vm_die "cannot copy $f"
done
printf '%s\n' "$cmd" >"$root/t/.hakmem-cmd"

cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/t:/bin:/sbin:/usr/bin:/usr/sbin HOME=/t TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t devpts devpts /dev/pts 2>/dev/null
exec </dev/console >/dev/console 2>&1
export HAKMEM_VM_ARCH=$arch HAKMEM_VM_NODES=$nodes
export HAKMEM_VM_CPUS_PER_NODE=$cpn HAKMEM_VM_MEM_PER_NODE=$mem
export HAKMEM_VM_NODE_MEM="${memk[*]}"
cd /t
echo $START_MARK
sh /t/.hakmem-cmd
echo "$EXIT_MARK=\$?"
sync
poweroff -f
EOF
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) >"$work/initrd" ||
	vm_die "cpio failed"

# ---------------------------------------------------------------- qemu

ncpu=$((nodes * cpn))
accel="tcg,thread=multi"
cpu=max
if [ "$arch" = x86_64 ]; then
	case ${HAKMEM_VM_ACCEL:-auto} in
	kvm)
		accel=kvm cpu=host ;;
	auto)
		if grep -Eqw 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then
			accel=kvm cpu=host
		fi
		;;
	esac
fi

# Under TCG each secondary x86 CPU spends ~0.2 s failing to calibrate its
# delay loop; give the kernel the value the boot CPU computes anyway
# (host BogoMIPS * 500000 / HZ).
if [ "$arch" = x86_64 ] && [ "${accel%%,*}" = tcg ]; then
	hz=$(sed -n 's/^CONFIG_HZ=//p' "$(dirname "$kimg")"/boot/config-* \
	     2>/dev/null | head -n 1)
	bogo=$(awk -F: '/^bogomips/ { gsub(/ /, "", $2); print $2; exit }' \
	       /proc/cpuinfo)
	if is_uint "${hz:-}" && [ -n "$bogo" ]; then
		append="lpj=$(awk -v b="$bogo" -v hz="$hz" \
			     'BEGIN { printf "%d", b * 500000 / hz }') $append"
	fi
fi

qargs=(-nodefaults -no-user-config -display none -no-reboot
       -accel "$accel" -m "${memtotal}M"
       -smp "$ncpu,sockets=$nodes,cores=$cpn,threads=1"
       -kernel "$kimg" -initrd "$work/initrd"
       -serial "file:$work/console.log"
       -append "console=$console quiet panic=-1 $append")
if [ "$arch" = aarch64 ]; then
	cpu=cortex-a57
	machine=virt
	[ "$ncpu" -gt 8 ] && machine=virt,gic-version=3
	qargs+=(-M "$machine")
fi
qargs+=(-cpu "$cpu")
for ((i = 0; i < nodes; i++)); do
	qargs+=(-object "memory-backend-ram,id=m$i,size=${memk[i]}M"
		-numa "node,nodeid=$i,cpus=$((i * cpn))-$((i * cpn + cpn - 1)),memdev=m$i")
done
for ((i = 0; i < nodes; i++)); do
	for ((j = i + 1; j < nodes; j++)); do
		d=30
		[ $((i / 2)) -eq $((j / 2)) ] && d=20
		qargs+=(-numa "dist,src=$i,dst=$j,val=$d")
	done
done

alive()
{
	local st

	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

show_log()
{
	vm_log "$1; last console lines:"
	tr -d '\r' <"$work/console.log" | tail -n 25 | sed 's/^/#   /' >&2
	if [ -s "$work/qemu.out" ]; then
		vm_log "qemu said:"
		sed 's/^/#   /' "$work/qemu.out" >&2
	fi
}

stop_qemu()
{
	kill "$qpid" 2>/dev/null
	sleep 0.5
	alive "$qpid" && kill -9 "$qpid" 2>/dev/null
	wait "$qpid" 2>/dev/null
	qpid=""
}

# run_once - boot and run; 0 when the exit marker was seen (status in
# $guest_rc), 2 when the start marker was not seen (retry), 124 on the
# overall timeout, 125 on other failures.
run_once()
{
	local t0 t now exit_seen=0

	: >"$work/console.log"
	: >"$work/qemu.out"
	t0=$(now_ms)
	"$qemu" "${qargs[@]}" </dev/null >"$work/qemu.out" 2>&1 &
	qpid=$!

	while ! grep -q "^$START_MARK" "$work/console.log"; do
		now=$(now_ms)
		if ! alive "$qpid"; then
			wait "$qpid"
			qpid=""
			show_log "qemu exited before the start marker"
			return 2
		fi
		if [ $((now - t0)) -ge $((boot_timeout * 1000)) ]; then
			stop_qemu
			show_log "no start marker after ${boot_timeout}s"
			return 2
		fi
		if [ "$now" -ge "$deadline" ]; then
			stop_qemu
			show_log "overall timeout (${timeout}s) while booting"
			return 124
		fi
		sleep 0.1
	done
	t=$(now_ms)
	boot_ms=$((t - t0))

	tail -n +1 -s 0.1 -f --pid="$qpid" "$work/console.log" |
		awk -v start="$START_MARK" -v stop="$EXIT_MARK=" '
			{ sub(/\r$/, "") }
			!on { if (index($0, start) == 1) on = 1; next }
			index($0, stop) == 1 { on = 0; exit_seen = 1; next }
			exit_seen { next }
			{ print; fflush() }' &
	tpid=$!

	while alive "$qpid"; do
		now=$(now_ms)
		if [ "$now" -ge "$deadline" ]; then
			stop_qemu
			wait "$tpid" 2>/dev/null
			tpid=""
			show_log "overall timeout (${timeout}s)"
			return 124
		fi
		# A guest that printed its status but does not power off.
		if [ "$exit_seen" = 0 ] &&
		   grep -q "^$EXIT_MARK=" "$work/console.log"; then
			exit_seen=$now
		fi
		if [ "$exit_seen" != 0 ] && [ $((now - exit_seen)) -gt 15000 ]; then
			vm_log "guest did not power off, killing qemu"
			stop_qemu
			break
		fi
		sleep 0.1
	done
	[ -n "$qpid" ] && wait "$qpid"
	qpid=""
	wait "$tpid" 2>/dev/null
	tpid=""
	total_ms=$(($(now_ms) - t0))

	guest_rc=$(tr -d '\r' <"$work/console.log" |
		   sed -n "s/^$EXIT_MARK=\([0-9][0-9]*\)\$/\1/p" | tail -n 1)
	if [ -z "$guest_rc" ]; then
		show_log "no exit marker"
		return 125
	fi
	return 0
}

vm_log "$qemu accel=$accel cpu=$cpu ${nodes} nodes x $cpn cpus, node MiB ${memk[*]}, kernel $kimg"
deadline=$(($(now_ms) + timeout * 1000))
guest_rc=""
boot_ms=0
total_ms=0
for attempt in 1 2; do
	run_once
	rc=$?
	[ $rc -eq 2 ] && [ $attempt -eq 1 ] && {
		vm_log "retrying the boot once"
		continue
	}
	break
done
case $rc in
0)
	vm_log "start marker after $(fmt_ms "$boot_ms"), exit after $(fmt_ms "$total_ms"), attempt $attempt, status $guest_rc"
	exit "$guest_rc"
	;;
2 | 125)
	vm_log "VM failed (attempt $attempt)"
	exit 125
	;;
*)
	exit "$rc"
	;;
esac
