#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-full.sh - the slow verification pass behind `make check-full`:
#
#   asan      the Check unit tests and the TAP selftests (stress, rseq) built
#             with CONFIG_SANITIZE=address,undefined; the selftests in the
#             per-CPU (rseq) and the per-thread (HAKMEM_RSEQ=0) modes
#   debug     the same unit tests and selftests built with CONFIG_DEBUG=y
#             (-O0, the HAK_BUG_ON() invariants of core/debug.h checked),
#             in both modes
#   nohard    the same unit tests and selftests built with CONFIG_HARDENED=n
#             (malloc and free fast paths without the free-path checks),
#             in both modes
#   tsan      the multithreaded selftests built with CONFIG_SANITIZE=thread,
#             run with HAKMEM_RSEQ=0
#   valgrind  the unit tests of a plain build under memcheck, then the
#             fault selftest with a million short threads on that build
#   fuzz      selftests/fuzz/fuzz_alloc.c, a libFuzzer target with the
#             allocator compiled in under ASan+UBSan, for FUZZ_SECONDS
#   vm        the server-shape VMs of selftests/vm/run-scale.sh that fit
#             CI's budget (VM_SHAPES); `make check-scale` runs them all
#
# Output: kselftest TAP, one line per step (a build or one test program);
# the log of a failed step follows its line as "# " comments, and every log
# is kept under BUILDDIR/logs. Exit 0 when all passed, 4 when all were
# skipped, 1 when one failed.
#
# Usage: check-full.sh [--srctree DIR] [--builddir DIR]
# Environment:
#   FUZZ_SECONDS=60        how long to fuzz
#   CHECK_FULL_ONLY=LIST   run only these groups (comma separated:
#                          asan,debug,nohard,tsan,valgrind,fuzz,vm)
#   VM_SHAPES=LIST         the run-scale.sh shapes of the vm group
#                          (default VM_SHAPES_DEFAULT below; empty: none)
#   ASAN_OPTIONS, UBSAN_OPTIONS, TSAN_OPTIONS
#                          appended to the options set here (later wins)
#   MAKE, CLANG            the make and clang to use
#
# Runs in about 15 minutes on two cores (FUZZ_SECONDS=60; the vm group
# about 5 of them); the longest step is unit/test_malloc under valgrind
# (7 minutes, in the background).

set -uo pipefail

srctree=.
builddir=
while [ $# -gt 0 ]; do
	case "$1" in
	--srctree) srctree=$2; shift 2 ;;
	--builddir) builddir=$2; shift 2 ;;
	*) echo "usage: $0 [--srctree DIR] [--builddir DIR]" >&2; exit 2 ;;
	esac
done
srctree=$(cd "$srctree" && pwd) || exit 2
builddir=${builddir:-$srctree/check-full}
mkdir -p "$builddir" || exit 2
builddir=$(cd "$builddir" && pwd) || exit 2
logdir=$builddir/logs
rm -rf "$logdir"
mkdir -p "$logdir"

MAKE=${MAKE:-make}
CLANG=${CLANG:-clang}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
VM_SHAPES_DEFAULT=x86-fullnode,arm-4x4
VM_SHAPES=${VM_SHAPES-$VM_SHAPES_DEFAULT}
read -ra vm_shapes <<<"${VM_SHAPES//,/ }"
jobs=$(nproc 2>/dev/null || echo 2)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-check-full.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

# Later options win, so the caller's come last.
asan_opts="detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
ubsan_opts="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
tsan_opts="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

want() {
	[ -z "${CHECK_FULL_ONLY:-}" ] || [[ ",$CHECK_FULL_ONLY," == *",$1,"* ]]
}

# ---- the test programs, named as selftests/selftests.mk names them --------

names() {	# names DIR GLOB: basenames without .c, sorted
	local f
	for f in "$srctree/selftests/$1"/$2; do
		[ -e "$f" ] || continue
		f=${f##*/}
		echo "${f%.c}"
	done
}
mapfile -t unit_tests < <(names unit 'test_*.c')
mapfile -t stress_tests < <(names stress '*.c' | sed 's|^|stress/|')
mapfile -t rseq_tests < <(names rseq '*.c' | sed 's|^|rseq/|')
mt_tests=("${stress_tests[@]}" "${rseq_tests[@]}")

nunit=${#unit_tests[@]} nmt=${#mt_tests[@]}
plan=0
want asan && plan=$((plan + 1 + nunit + 2 * nmt))
want debug && plan=$((plan + 1 + nunit + 2 * nmt))
want tsan && plan=$((plan + 1 + nmt))
want valgrind && plan=$((plan + 2 + nunit))
want fuzz && plan=$((plan + 2))
want vm && plan=$((plan + ${#vm_shapes[@]}))

# ---- TAP -------------------------------------------------------------------

n=0 npass=0 nfail=0 nskip=0
failed=()

# result STATUS NAME [REASON] [LOG]: STATUS is pass, fail or skip.
result() {
	local status=$1 name=$2 reason=${3:-} log=${4:-}
	n=$((n + 1))
	case "$status" in
	pass)
		npass=$((npass + 1))
		echo "ok $n - $name${reason:+ ($reason)}" ;;
	skip)
		nskip=$((nskip + 1))
		echo "ok $n - $name # SKIP $reason" ;;
	*)
		nfail=$((nfail + 1))
		failed+=("$name")
		echo "not ok $n - $name${reason:+ ($reason)}"
		if [ -n "$log" ] && [ -s "$log" ]; then
			echo "# --- last 60 lines of $log"
			tail -n 60 "$log" | sed 's/^/# /'
			# a failure far up a long log shows too (a VM step's
			# failed programs: run-scale.sh lists them at its end)
			echo "# --- failures in $log"
			grep -nE '(^|# )not ok|Bail out' "$log" |
				head -n 20 | sed 's/^/# /'
		fi ;;
	esac
}

# Sanitizer and valgrind reports that must fail a step even when the
# program's exit status hides them (e.g. a report in a child process whose
# status the parent ignores).
report_re='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer|ThreadSanitizer: reported|==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched|Source and destination overlap|Argument .* of function)'

secs() {
	echo $(( $(date +%s) - $1 ))
}

logname() {
	echo "$logdir/$(printf '%s' "$1" | tr -cs 'A-Za-z0-9.-' '_').log"
}

# exec_step NAME LIMIT CMD...: run a test program into its log; prints
# "RC SECONDS".
exec_step() {
	local name=$1 limit=$2 start rc
	shift 2
	start=$(date +%s)
	timeout -k 10 "$limit" "$@" >"$(logname "$name")" 2>&1
	rc=$?
	echo "$rc $(secs "$start")"
}

# judge NAME LIMIT RC SECONDS: the TAP line of a test program that ran. Exit
# 4 with no failure in the log is a skip (kselftest).
judge() {
	local name=$1 limit=$2 rc=$3 t=$4 log
	log=$(logname "$name")
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		result fail "$name" "timed out after ${limit}s" "$log"
	elif grep -qE "$report_re" "$log"; then
		result fail "$name" "exit $rc, ${t}s, sanitizer/valgrind report" "$log"
	elif [ "$rc" -eq 4 ] && ! grep -qE '^not ok' "$log"; then
		result skip "$name" "exit 4: $(grep -m1 -oE '# SKIP.*' "$log" | cut -c8-)"
	elif [ "$rc" -ne 0 ]; then
		result fail "$name" "exit $rc, ${t}s" "$log"
	else
		result pass "$name" "${t}s"
	fi
}

# run_step NAME LIMIT CMD...: run a test program, one TAP line.
run_step() {
	local name=$1 limit=$2 rc t
	shift 2
	read -r rc t < <(exec_step "$name" "$limit" "$@")
	judge "$name" "$limit" "$rc" "$t"
}

# build_step NAME CMD...: a build, one TAP line; returns its status.
build_step() {
	local name=$1 log start
	shift
	log=$(logname "$name")
	start=$(date +%s)
	if "$@" >"$log" 2>&1; then
		result pass "$name" "$(secs "$start")s"
		return 0
	fi
	result fail "$name" "" "$log"
	return 1
}

skip_steps() {	# skip_steps REASON NAME...
	local why=$1
	shift
	for s in "$@"; do
		result skip "$s" "$why"
	done
}

echo "TAP version 13"
echo "1..$plan"

# ---- ASan + UBSan ----------------------------------------------------------

# LeakSanitizer stays on: Check's fork-per-test machinery and the tests
# produced no leak reports (checked with CK_FORK=yes and no), and the
# allocator's own memory comes from mmap, which LSan does not scan for leaks.
# selftests_group GROUP DIR MAKEVAR...: build the selftests into DIR with
# the MAKEVARs, then run the unit tests and every stress and rseq program
# in the per-CPU mode and with HAKMEM_RSEQ=0; one TAP line each.
selftests_group() {
	local g=$1 b=$2 t steps=()
	shift 2
	for t in "${unit_tests[@]}"; do steps+=("$g: unit/$t"); done
	for t in "${mt_tests[@]}"; do
		steps+=("$g: $t" "$g: $t [HAKMEM_RSEQ=0]")
	done
	if ! build_step "$g: build ($*)" \
		"$MAKE" -C "$srctree" -j"$jobs" O="$b" "$@" selftests; then
		skip_steps "$g build failed" "${steps[@]}"
		return
	fi
	for t in "${unit_tests[@]}"; do
		# Check's 60 s per test is for native, optimised speed
		run_step "$g: unit/$t" 600 \
			env CK_TIMEOUT_MULTIPLIER=5 "$b/selftests/build/unit/$t"
	done
	for t in "${mt_tests[@]}"; do
		run_step "$g: $t" 300 "$b/selftests/build/$t"
		run_step "$g: $t [HAKMEM_RSEQ=0]" 300 \
			env HAKMEM_RSEQ=0 "$b/selftests/build/$t"
	done
}

if want asan; then
	export ASAN_OPTIONS=$asan_opts UBSAN_OPTIONS=$ubsan_opts
	selftests_group asan "$builddir/asan" CONFIG_SANITIZE=address,undefined
	unset ASAN_OPTIONS UBSAN_OPTIONS
fi

# ---- CONFIG_DEBUG ------------------------------------------------------------

# -O0 with HAK_DEBUG: the internal invariants (core/debug.h) abort with their
# place and condition, and test_errors checks that one does.
if want debug; then
	selftests_group debug "$builddir/debug" CONFIG_DEBUG=y
fi

# ---- CONFIG_HARDENED=n -------------------------------------------------------

# The build without the fast paths' free checks: every unit test and
# selftest but the ones for what those checks catch (test_errors registers
# them only with CONFIG_HARDENED).
if want nohard; then
	selftests_group nohard "$builddir/nohard" CONFIG_HARDENED=n
fi

# ---- TSan ------------------------------------------------------------------

# HAKMEM_RSEQ=0: the per-CPU fast path pushes and pops inside rseq inline
# asm, whose memory accesses TSan cannot see, so the per-CPU mode would give
# false races (and rseq/param_test skips itself in this mode). The per-thread
# mode is plain C; the futex lock in core/lock.h is C11 acquire/release
# atomics, which TSan understands.
if want tsan; then
	b=$builddir/tsan
	steps=()
	for t in "${mt_tests[@]}"; do steps+=("tsan: $t [HAKMEM_RSEQ=0]"); done
	if build_step "tsan: build (CONFIG_SANITIZE=thread)" \
		"$MAKE" -C "$srctree" -j"$jobs" O="$b" \
		CONFIG_SANITIZE=thread selftests; then
		for t in "${mt_tests[@]}"; do
			run_step "tsan: $t [HAKMEM_RSEQ=0]" 600 \
				env HAKMEM_RSEQ=0 TSAN_OPTIONS="$tsan_opts" \
				"$b/selftests/build/$t"
		done
	else
		skip_steps "tsan build failed" "${steps[@]}"
	fi
fi

# ---- valgrind memcheck -------------------------------------------------------

# glibc's rseq registration fails under valgrind, so this exercises the
# per-thread mode. Check keeps forking (test_errors needs a forked child for
# its abort test; valgrind follows fork); a child's error makes it exit 99,
# which Check counts as a failed test, and the log is searched as well.
# --leak-check=no: the allocator maps its own memory, and Check's runner
# keeps its suite structures until exit; leaks are LSan's job above.
#
# Check sends a message through a pipe for every ck_assert, a system call
# that is slow under valgrind: unit/test_malloc (millions of asserts in
# calloc_zeroes_and_checks_overflow) takes minutes. So the valgrind runs go
# to the background, on the second core, while the fuzzer runs, and
# Check's per-test timeouts are stretched.
vg_limit=900
vg_pid=
vg_steps=()
for t in "${unit_tests[@]}"; do vg_steps+=("valgrind: unit/$t"); done
vg_run() {
	local t envs
	for t in "${unit_tests[@]}"; do
		# the tests that re-execute /proc/self/exe with their HAKMEM_*
		# set (check_reexec_with()) would run the valgrind tool itself:
		# set them here (the guard tests, which fault on purpose, are
		# left out: valgrind reports the faults itself)
		case $t in
		test_numa | test_node) envs=(HAKMEM_NUMA_FAKE=2) ;;
		test_central) envs=(HAKMEM_ON_ERROR=warn HAKMEM_NUMA=0) ;;
		test_central_numa) envs=(HAKMEM_NUMA_FAKE=2
					 HAKMEM_ON_ERROR=warn) ;;
		test_reserve) envs=(HAKMEM_FAIL_MMAP=3) ;;
		test_bulk | test_cache) envs=(HAKMEM_RSEQ=0) ;;	# no rseq
		test_populate) envs=(HAKMEM_NUMA=0) ;;
		test_hardening) envs=(HAKMEM_POISON=1 HAKMEM_ON_ERROR=warn
				      HAKMEM_TEST_NO_SIGNALS=1) ;;
		*) envs=() ;;
		esac
		exec_step "valgrind: unit/$t" "$vg_limit" \
			env CK_TIMEOUT_MULTIPLIER=20 "${envs[@]}" \
			valgrind -q --error-exitcode=99 --leak-check=no \
			"$b/selftests/build/unit/$t" >"$tmp/vg-$t.rc"
	done
}
if want valgrind; then
	b=$builddir/plain
	if ! command -v valgrind >/dev/null; then
		skip_steps "valgrind not installed" "valgrind: build" "${vg_steps[@]}"
	elif build_step "valgrind: build" "$MAKE" -C "$srctree" -j"$jobs" \
			O="$b" selftests; then
		vg_run &
		vg_pid=$!
	else
		skip_steps "build failed" "${vg_steps[@]}"
	fi
fi

# ---- libFuzzer ---------------------------------------------------------------

# The allocator's sources are compiled into the fuzzer (not libhakmem.a) so
# ASan and UBSan instrument them too; all but the C++ operator new/delete
# (core/new_delete.c), which would take libFuzzer's own C++ allocations
# and break the fuzzer's count of live objects. The source list, the -D/-I flags and
# the libraries come from the Makefile itself (the Kbuild obj-y lists).
fuzz_sources() {
	cat >"$tmp/print.mk" <<'EOF'
print-fuzz-build:
	@echo SRCS $(patsubst $(objtree)/%.o,$(srctree)/%.c,$(filter-out %/new_delete.o,$(lib-objs)) $(a-objs))
	@echo FLAGS $(filter -D% -I% -U%,$(KBUILD_CFLAGS))
	@echo LIBS $(filter -l% -L%,$(LIB_A_LIBS) $(NUMA_LIBS) $(KBUILD_LDFLAGS))
EOF
	"$MAKE" -s --no-print-directory -C "$srctree" -f Makefile \
		-f "$tmp/print.mk" O="$builddir/fuzz-objs" print-fuzz-build
}

if want fuzz; then
	b=$builddir/fuzz
	mkdir -p "$b"
	fuzzer=$b/fuzz_alloc
	echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; return (int)n * 0; }' \
		>"$tmp/probe.c"
	if ! command -v "$CLANG" >/dev/null; then
		skip_steps "$CLANG not installed" "fuzz: build" "fuzz: run"
	elif ! "$CLANG" -fsanitize=fuzzer,address,undefined -o "$tmp/probe" \
			"$tmp/probe.c" >/dev/null 2>&1; then
		skip_steps "$CLANG cannot link -fsanitize=fuzzer (libclang-rt-dev?)" \
			"fuzz: build" "fuzz: run"
	elif ! fuzz_sources >"$tmp/fuzz-build" 2>"$logdir/fuzz_sources.log"; then
		result fail "fuzz: build" "cannot read the source list" \
			"$logdir/fuzz_sources.log"
		skip_steps "build failed" "fuzz: run"
	else
		read -ra srcs <<<"$(sed -n 's/^SRCS //p' "$tmp/fuzz-build")"
		read -ra flags <<<"$(sed -n 's/^FLAGS //p' "$tmp/fuzz-build")"
		read -ra libs <<<"$(sed -n 's/^LIBS //p' "$tmp/fuzz-build" |
				   tr ' ' '\n' | awk '!seen[$0]++' | tr '\n' ' ')"
		if build_step "fuzz: build (${#srcs[@]} allocator sources)" \
			"$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined \
			-fno-omit-frame-pointer -std=gnu11 -pthread \
			-D_GNU_SOURCE -I"$srctree/include" "${flags[@]}" \
			-o "$fuzzer" "$srctree/selftests/fuzz/fuzz_alloc.c" \
			"${srcs[@]}" "${libs[@]}"; then
			# fuzz a copy of the corpus: the repository is not modified
			corpus=$tmp/corpus
			artifacts=$b/artifacts
			rm -rf "$artifacts"
			mkdir -p "$corpus" "$artifacts"
			cp -R "$srctree/selftests/fuzz/corpus/." "$corpus/"
			run_step "fuzz: run (${FUZZ_SECONDS}s)" \
				$((FUZZ_SECONDS + 120)) \
				env ASAN_OPTIONS="$asan_opts" \
				UBSAN_OPTIONS="$ubsan_opts" \
				"$fuzzer" -max_total_time="$FUZZ_SECONDS" \
				-timeout=30 -max_len=4096 -print_final_stats=1 \
				-artifact_prefix="$artifacts/" "$corpus"
			for a in "$artifacts"/*; do
				[ -e "$a" ] && echo "# fuzz artifact: $a (replay: FUZZ_TRACE=1 $fuzzer $a)"
			done
		else
			skip_steps "build failed" "fuzz: run"
		fi
	fi
fi

# ---- the valgrind results -----------------------------------------------------

if [ -n "$vg_pid" ]; then
	wait "$vg_pid"
	for t in "${unit_tests[@]}"; do
		read -r rc secs_ <"$tmp/vg-$t.rc" || { rc=1 secs_=0; }
		judge "valgrind: unit/$t" "$vg_limit" "$rc" "$secs_"
	done
	# a million short threads on the plain build: RSS stays flat
	# (make check runs 100000; this takes about a minute and a half)
	run_step "plain: stress/faults -T 1000000" 600 \
		"$builddir/plain/selftests/build/stress/faults" -T 1000000
fi

# ---- server-shape VMs ----------------------------------------------------------

# One step per shape: the static selftests built for it (incrementally, in
# BUILDDIR/vm) and run in a qemu VM; a VM that cannot be had (no qemu, no
# kernel download) is a skip. run-scale.sh prints its own TAP: its log has
# the per-program times.
if want vm; then
	for shape in "${vm_shapes[@]}"; do
		run_step "vm: $shape" 1200 "$srctree/selftests/vm/run-scale.sh" \
			--srctree "$srctree" --builddir "$builddir/vm" \
			--shapes "$shape"
	done
fi

# ---- summary -----------------------------------------------------------------

echo "# logs in $logdir"
[ "$nfail" -eq 0 ] || echo "# failed: ${failed[*]}"
echo "check-full: $npass passed, $nfail failed, $nskip skipped"
if [ "$nfail" -ne 0 ]; then
	exit 1
fi
if [ "$n" -gt 0 ] && [ "$nskip" -eq "$n" ]; then
	exit 4
fi
exit 0
