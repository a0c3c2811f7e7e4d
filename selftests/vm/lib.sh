# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib.sh - helpers shared by the hakmem VM test scripts (sourced, not run).
#
# Everything that fetches packages goes through Debian's own clients
# (apt-get, apt-cache, dpkg).  Packages that the host needs are installed
# with apt-get when running as root; packages that only the guest or the
# cross build needs (kernels, arm64 libraries) are downloaded with
# "apt-get download" and unpacked with "dpkg -x" into a cache directory,
# never installed on the host.

# Exit code for "skipped" in kselftest.
KSFT_SKIP=4

vm_log()
{
	printf '# %s: %s\n' "${VM_PROG:-vm}" "$*" >&2
}

vm_die()
{
	vm_log "error: $*"
	exit 1
}

vm_skip()
{
	printf '# SKIP %s\n' "$*"
	exit "$KSFT_SKIP"
}

vm_is_root()
{
	[ "$(id -u)" -eq 0 ]
}

vm_cache_default()
{
	printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/hakmem-vm"
}

# Run "apt-get update" at most once per run (also across child scripts,
# through the exported HAKMEM_VM_APT_UPDATED).
vm_apt_update_once()
{
	[ "${HAKMEM_VM_APT_UPDATED:-0}" = 1 ] && return 0
	vm_is_root || return 1
	vm_log "apt-get update"
	if ! apt-get update -q >/dev/null 2>&1; then
		vm_log "apt-get update failed"
		return 1
	fi
	HAKMEM_VM_APT_UPDATED=1
	export HAKMEM_VM_APT_UPDATED
}

# vm_apt_install PKG... - install host packages (root only).
vm_apt_install()
{
	vm_is_root || return 1
	vm_apt_update_once || return 1
	vm_log "apt-get install -y $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "$@" >/dev/null 2>&1
}

# vm_have_cmd CMD - CMD is an executable in $PATH.
vm_have_cmd()
{
	local p

	p=$(command -v "$1" 2>/dev/null) && [ -x "$p" ] && [ -f "$p" ]
}

# vm_need_cmd CMD PKG - make sure CMD exists, installing PKG when root.
vm_need_cmd()
{
	vm_have_cmd "$1" && return 0
	if vm_is_root; then
		vm_apt_install "$2" || true
		vm_have_cmd "$1" && return 0
	fi
	return 1
}

# vm_need_file FILE PKG - like vm_need_cmd for a file path.
vm_need_file()
{
	[ -e "$1" ] && return 0
	if vm_is_root; then
		vm_apt_install "$2" || true
		[ -e "$1" ] && return 0
	fi
	return 1
}

# vm_foreign_arch ARCH - make dpkg/apt know about a foreign architecture so
# that "apt-get download pkg:ARCH" works.
vm_foreign_arch()
{
	local arch=$1

	[ "$arch" = "$(dpkg --print-architecture)" ] && return 0
	if dpkg --print-foreign-architectures | grep -qx "$arch" &&
	   apt-cache show "libc6:$arch" >/dev/null 2>&1; then
		return 0
	fi
	vm_is_root || return 1
	if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
		vm_log "dpkg --add-architecture $arch"
		dpkg --add-architecture "$arch" || return 1
		HAKMEM_VM_APT_UPDATED=0
	fi
	vm_apt_update_once || return 1
	apt-cache show "libc6:$arch" >/dev/null 2>&1
}

# vm_pkg_versions PKG... - "pkg=candidate-version" lines for PKG...
# (one apt-cache call: each costs over a second); fails when one of them
# has no candidate.
vm_pkg_versions()
{
	local out

	out=$(apt-cache policy "$@" 2>/dev/null | awk '
		/^[^ ]/ { pkg = $1; sub(/:$/, "", pkg) }
		$1 == "Candidate:" && $2 != "(none)" { print pkg "=" $2 }') ||
		return 1
	[ "$(printf '%s\n' "$out" | grep -c .)" -eq $# ] || return 1
	printf '%s\n' "$out" | sort
}

# vm_fresh FILE - FILE exists and was checked against apt less than
# HAKMEM_VM_REFRESH_MIN minutes (default a day) ago.  HAKMEM_VM_REFRESH=1
# forces a new check.
vm_fresh()
{
	[ "${HAKMEM_VM_REFRESH:-0}" = 1 ] && return 1
	[ -f "$1" ] &&
		[ -n "$(find "$1" -mmin "-${HAKMEM_VM_REFRESH_MIN:-1440}" 2>/dev/null)" ]
}

# vm_fetch_debs DEST PKG... - "apt-get download" PKG... and unpack each
# with "dpkg -x" into DEST.  A stamp with the package versions makes this
# a no-op when DEST is already up to date.  Must be called with the cache
# lock held.
vm_fetch_debs()
{
	local dest=$1 stamp want tmp deb
	shift

	# one stamp per package list, so adding a package fetches again
	stamp="$dest/.hakmem-debs-$(printf '%s' "$*" | cksum | cut -d' ' -f1)"
	vm_fresh "$stamp" && return 0
	if ! want=$(vm_pkg_versions "$@"); then
		if [ -f "$stamp" ]; then
			# No package lists (offline?): keep what is cached.
			vm_log "apt-cache does not know $*, using cached $dest"
			return 0
		fi
		vm_log "apt-cache does not know $*"
		return 1
	fi
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		touch "$stamp"
		return 0
	fi
	mkdir -p "$(dirname "$dest")"
	tmp=$(mktemp -d "${dest%/}.dl.XXXXXX") || return 1
	chmod 755 "$tmp"
	vm_log "apt-get download $*"
	if ! (cd "$tmp" && apt-get download -q "$@" >download.log 2>&1); then
		sed 's/^/#   /' "$tmp/download.log" >&2
		rm -rf "$tmp"
		return 1
	fi
	rm -rf "$dest"
	mkdir -p "$dest"
	for deb in "$tmp"/*.deb; do
		dpkg -x "$deb" "$dest" || { rm -rf "$tmp"; return 1; }
	done
	rm -rf "$tmp"
	printf '%s\n' "$want" >"$stamp"
}

# vm_elf_machine FILE - print x86_64, aarch64, other or "script" (not ELF).
vm_elf_machine()
{
	local magic mach

	magic=$(od -An -tx1 -N4 "$1" 2>/dev/null | tr -d ' \n')
	if [ "$magic" != 7f454c46 ]; then
		echo script
		return
	fi
	mach=$(od -An -tu2 -j18 -N2 "$1" | tr -d ' \n')
	case $mach in
	62) echo x86_64 ;;
	183) echo aarch64 ;;
	*) echo other ;;
	esac
}
