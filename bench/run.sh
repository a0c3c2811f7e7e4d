#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run.sh - run the hakmem benchmark suite against glibc, jemalloc, mimalloc
# and tcmalloc, and write a markdown/CSV report with charts.
#
#   bench/run.sh --bindir DIR --lib DIR/libhakmem.so
#                [--lib-nohard NOHARD/libhakmem.so] [--quick]
#
# See bench/README.rst for what the workloads measure and how to read the
# report. Exit status: 0 when the suite ran, 1 if a benchmark reported
# corruption or the hakmem library is missing (the peers still run), 2 on
# bad usage.

set -u
set -o pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BINDIR=""
LIB=""
LIB_NOHARD=""
BINDIR_NOHARD=""
QUICK=0
RUNS=""
ONLY=""
OUTDIR="$SCRIPT_DIR/results"
VALGRIND=1
STRICT=0

usage() {
	cat <<EOF
usage: $0 --bindir DIR --lib PATH/libhakmem.so [options]

  --bindir DIR      directory holding the benchmark binaries
  --lib PATH        libhakmem.so to preload for the hakmem column
  --lib-nohard PATH the CONFIG_HARDENED=n libhakmem.so: the hakmem-nohard
                    column (skipped when not given)
  --bindir-nohard D where the hakmem-nohard builds of the embedding
                    programs (NAME-hak) are (default: the directory of
                    --lib-nohard, then bench/build)
  --quick           3 runs per cell and short runs
  --runs N          runs per cell (default 5, or 3 with --quick)
  --only A,B        run only these workloads (labels as in the report)
  --outdir DIR      where results go (default: bench/results)
  --no-valgrind     skip the callgrind/cachegrind sections
  --strict          also fail on crashed or timed-out runs
EOF
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--bindir) BINDIR=${2:-}; shift 2 || usage ;;
	--bindir=*) BINDIR=${1#*=}; shift ;;
	--lib) LIB=${2:-}; shift 2 || usage ;;
	--lib=*) LIB=${1#*=}; shift ;;
	--lib-nohard) LIB_NOHARD=${2:-}; shift 2 || usage ;;
	--lib-nohard=*) LIB_NOHARD=${1#*=}; shift ;;
	--bindir-nohard) BINDIR_NOHARD=${2:-}; shift 2 || usage ;;
	--bindir-nohard=*) BINDIR_NOHARD=${1#*=}; shift ;;
	--quick) QUICK=1; shift ;;
	--runs) RUNS=${2:-}; shift 2 || usage ;;
	--only) ONLY=${2:-}; shift 2 || usage ;;
	--outdir) OUTDIR=${2:-}; shift 2 || usage ;;
	--no-valgrind) VALGRIND=0; shift ;;
	--strict) STRICT=1; shift ;;
	-h | --help) usage ;;
	*) echo "run.sh: unknown argument: $1" >&2; usage ;;
	esac
done

if [ -z "$BINDIR" ] || [ ! -d "$BINDIR" ]; then
	echo "run.sh: --bindir DIR is required and must exist" >&2
	usage
fi
BINDIR=$(cd "$BINDIR" && pwd)
if [ -z "$RUNS" ]; then
	if [ "$QUICK" = 1 ]; then RUNS=3; else RUNS=5; fi
fi
case "$RUNS" in
'' | *[!0-9]* | 0) echo "run.sh: bad --runs" >&2; usage ;;
esac

# Workloads: label|binary|kind|normal args|quick args|extra result keys|
# options. kind "plain" is built once (LD_PRELOAD selects the allocator),
# "embed" is built as NAME-hak (hakmem linked in) and NAME-libc. An empty
# quick args field leaves the workload out of --quick. Options, separated
# by spaces:
#   env=VAR=VALUE   set in the environment of every column's runs
#   cols=A,B        run only these columns (default: all)
#   runs=N          at most N runs per cell (for the long workloads)
#   metric=time     the figure is a time (the secs key, lower is better);
#                   the overview compares times, best peer time / time
#   peers=LABEL     the overview takes the best peer from workload LABEL
#                   (for a row that runs only hakmem columns)
#   settle=S        sleep S seconds before each run, so that the memory
#                   the run before freed is cold again for every column
#                   (free page reporting: run_order() below)
WORKLOADS=(
	"larson|larson|plain|-d 1|-d 0.25|"
	"random_free|random_free|plain|-d 1|-d 0.25|"
	"random_free_powerlaw|random_free|plain|-d 1 -p powerlaw -S 32768||"
	"storm|storm|plain|-n 10 -w 2000|-n 2 -w 2000|rss_end_kb rss_after_kb|settle=3"
	"storm_bg|storm|plain|-n 10 -w 2000|-n 2 -w 2000|rss_end_kb rss_after_kb|env=HAKMEM_BACKGROUND=1 cols=hakmem,hakmem-nohard runs=3 peers=storm settle=3"
	"mixed_lifetime|mixed_lifetime|plain|-d 1|-d 0.25|rss_kb"
	"varsize|varsize|plain|-d 1|-d 0.25|"
	"prodcons|prodcons|plain|-d 1|-d 0.25|"
	"false_sharing|false_sharing|plain|-d 1|-d 0.25|"
	"cache_churn|cache_churn|embed|-d 1|-d 0.25|"
	"fragmentation|fragmentation|plain|-n 3000000|-n 900000|peak_rss_over_live final_rss_over_live final_rss_kb"
	"server|server|embed|-d 1|-d 0.25|p50_alloc_ns p99_alloc_ns"
	"bulk|bulk|embed|-n 20000000|-n 4000000|n16_speedup n64_speedup n256_speedup n64_loop_ops_per_sec n64_bulk_ops_per_sec"
	"fastpath|fastpath|plain|-d 1|-d 0.25|ns_per_pair"
	"burst|burst|plain|-n 2000000|-n 500000|n25_ops_per_sec n100_ops_per_sec n400_ops_per_sec n1600_ops_per_sec"
	"batch100|batch|plain|-m batch -n 30000000|-m batch -n 10000000|ns_per_pair"
	"ring|batch|plain|-m ring -n 30000000|-m ring -n 10000000|ns_per_pair"
	"larson_cxx|larson_cxx|plain|-d 1|-d 0.25|"
	"bigbuf|bigbuf|plain|-n 100|-n 30|secs fill_secs step_minflt minflt stime_s|runs=2 metric=time settle=3"
	"tlb|tlb|plain|-m 1024 -p 2|-m 256 -p 4|secs alloc_secs anon_huge_kb|env=HAKMEM_THP=never runs=2 metric=time settle=3"
	"tlb_thp|tlb|plain|-m 1024 -p 2|-m 256 -p 4|secs alloc_secs anon_huge_kb|env=HAKMEM_THP=always cols=hakmem,hakmem-nohard runs=2 metric=time peers=tlb settle=3"
)
if [ "$QUICK" = 1 ]; then TIMEOUT=30; else TIMEOUT=120; fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
NOTES="$TMP/notes"
: >"$NOTES"
FAILED=0
CORRUPT=0

note() {
	echo "- $*" >>"$NOTES"
	echo "run.sh: $*" >&2
}

# ---- allocators ------------------------------------------------------------

MULTIARCH=$(gcc -print-multiarch 2>/dev/null || true)
[ -n "$MULTIARCH" ] || MULTIARCH="$(uname -m)-linux-gnu"
LIBDIR="/usr/lib/$MULTIARCH"

ALLOCS=()
declare -A PRELOAD

find_peer() {
	local name=$1 file=$2 pkg=$3

	if [ ! -e "$LIBDIR/$file" ] && [ "$(id -u)" = 0 ]; then
		echo "run.sh: $file missing, installing $pkg" >&2
		apt-get install -y "$pkg" >/dev/null 2>&1 ||
			note "apt-get install $pkg failed"
	fi
	if [ -e "$LIBDIR/$file" ]; then
		ALLOCS+=("$name")
		PRELOAD[$name]="$LIBDIR/$file"
	else
		note "$name skipped: $LIBDIR/$file not found (Debian package $pkg)"
	fi
}

HAK_MISSING=0
if [ -n "$LIB" ] && [ -e "$LIB" ]; then
	LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
	ALLOCS+=(hakmem)
	PRELOAD[hakmem]=$LIB
else
	HAK_MISSING=1
	note "hakmem library '${LIB:-<none given>}' not found: hakmem column skipped"
fi
if [ -n "$LIB_NOHARD" ] && [ -e "$LIB_NOHARD" ]; then
	LIB_NOHARD=$(cd "$(dirname "$LIB_NOHARD")" && pwd)/$(basename "$LIB_NOHARD")
	[ -n "$BINDIR_NOHARD" ] || BINDIR_NOHARD=$(dirname "$LIB_NOHARD")/bench/build
	ALLOCS+=(hakmem-nohard)
	PRELOAD[hakmem-nohard]=$LIB_NOHARD
elif [ -n "$LIB_NOHARD" ]; then
	note "hakmem-nohard library '$LIB_NOHARD' not found: column skipped"
fi
ALLOCS+=(glibc)
PRELOAD[glibc]=""
find_peer jemalloc libjemalloc.so.2 libjemalloc2
find_peer mimalloc libmimalloc.so.2 libmimalloc2.0
find_peer tcmalloc libtcmalloc_minimal.so.4 libtcmalloc-minimal4

# Print the command (one word per line) that runs binary $1 of kind $2 on
# allocator $3, or nothing if the binary is missing. Words after the third
# are VAR=VALUE settings for the environment. The command starts with
# "env" and its settings: "${cmd[@]:0:N}" is the environment part.
command_for() {
	local bin=$1 kind=$2 alloc=$3 exe
	local -a envs=("${@:4}")

	if [ "$kind" = embed ]; then
		case "$alloc" in
		hakmem) exe="$BINDIR/$bin-hak" ;;
		hakmem-nohard) exe="$BINDIR_NOHARD/$bin-hak" ;;
		*) exe="$BINDIR/$bin-libc" ;;
		esac
	else
		exe="$BINDIR/$bin"
	fi
	[ -x "$exe" ] || return 1
	if [ "$kind" = embed ] && [ "${alloc%-nohard}" = hakmem ]; then
		printf '%s\n' env -u LD_PRELOAD "${envs[@]}" "$exe"
	else
		printf '%s\n' env "${envs[@]}" "LD_PRELOAD=${PRELOAD[$alloc]}" "$exe"
	fi
}

# Values of option $1 in the options field $2 of a workload, one a line.
wopt() {
	local w

	for w in $2; do
		case "$w" in
		"$1="*) echo "${w#*=}" ;;
		esac
	done
}

# The columns workload options $1 select, one a line, in ALLOCS order.
wcols() {
	local cols a

	cols=$(wopt cols "$1")
	for a in "${ALLOCS[@]}"; do
		case ",$cols," in
		,, | *",$a,"*) echo "$a" ;;
		esac
	done
}

# Runs per cell for workload options $1.
wruns() {
	local cap

	cap=$(wopt runs "$1" | tail -n 1)
	if [ -n "$cap" ] && [ "$cap" -lt "$RUNS" ]; then
		echo "$cap"
	else
		echo "$RUNS"
	fi
}

# Value of key $1 in a RESULT line on stdin.
result_get() {
	awk -v k="$1" '{
		for (i = 1; i <= NF; i++)
			if (index($i, k "=") == 1) {
				print substr($i, length(k) + 2)
				exit
			}
	}'
}

# "median min max" of the numbers on stdin (one a line), or "- - -".
stats() {
	sort -g | awk '{ v[NR] = $1 }
	END {
		if (NR == 0) { print "- - -"; exit }
		if (NR % 2) m = v[(NR + 1) / 2]
		else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.10g %.10g %.10g\n", m, v[1], v[NR]
	}'
}

# ---- the runs --------------------------------------------------------------

selected() {
	[ -z "$ONLY" ] && return 0
	case ",$ONLY," in
	*",$1,"*) return 0 ;;
	esac
	return 1
}

SEL=()
TOTAL=0
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r label _ _ _ qargs _ wo <<<"$w"
	selected "$label" || continue
	if [ "$QUICK" = 1 ] && [ -z "$qargs" ]; then
		note "$label: not run in --quick mode"
		continue
	fi
	SEL+=("$w")
	TOTAL=$((TOTAL + $(wcols "$wo" | wc -l) * $(wruns "$wo")))
done
[ ${#SEL[@]} -gt 0 ] || { echo "run.sh: no workload selected" >&2; exit 2; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STEP=0
START=$(date +%s)
RAW="$TMP/raw.csv"
echo "workload,allocator,run,status,ops_per_sec,peak_rss_kb,result" >"$RAW"

# The columns $3... in the order of run $2 of workload $1: a shuffle seeded
# by the two, so a report can be run again in the same order, and no
# column always runs right after the same one. On a VM with free page
# reporting (virtio-balloon) the order matters: memory a process freed
# in the last two seconds is still backed by the host, and the next
# process that takes it faults it in far faster. A fixed order handed
# hakmem-nohard hakmem's huge pages in every run and gave hakmem
# tcmalloc's cold ones (Documentation/benchmarks.rst, "Column order").
# The workloads that map tens of MiB or more also wait (settle=3) so that
# every column starts on cold memory, whoever ran before.
run_order() {
	local label=$1 run=$2

	shift 2
	printf '%s\n' "$@" |
		shuf --random-source=<(yes "$(md5sum <<<"$label/$run")")
}

run_cell() {
	local label=$1 bin=$2 kind=$3 args=$4 alloc=$5 run=$6 wo=$7
	local out="$TMP/$label.$alloc.$run" rc line settle
	local -a cmd argv envs

	mapfile -t envs < <(wopt env "$wo")
	mapfile -t cmd < <(command_for "$bin" "$kind" "$alloc" "${envs[@]}")
	if [ ${#cmd[@]} -eq 0 ]; then
		echo "missing" >"$out.status"
		if [ ! -e "$TMP/$label.$alloc.missing" ]; then
			: >"$TMP/$label.$alloc.missing"
			note "$label on $alloc: binary for $bin not found in $BINDIR"
		fi
		return
	fi
	read -r -a argv <<<"$args"
	settle=$(wopt settle "$wo" | tail -n 1)
	[ -z "$settle" ] || sleep "$settle"
	timeout "$TIMEOUT" "${cmd[@]}" "${argv[@]}" >"$out.out" 2>"$out.err"
	rc=$?
	line=$(grep -m1 '^RESULT ' "$out.out")
	if [ "$rc" = 0 ] && [ -n "$line" ]; then
		echo ok >"$out.status"
		echo "$line" >"$out.result"
	elif [ "$rc" = 2 ] || grep -q CORRUPTION "$out.err"; then
		echo corrupt >"$out.status"
		CORRUPT=1
		note "$label on $alloc run $run: CORRUPTION: $(head -c 300 "$out.err")"
	else
		if [ "$rc" = 124 ]; then
			rc=timeout
		elif [ "$rc" -gt 128 ]; then
			rc="signal $((rc - 128))"
		fi
		echo "fail($rc)" >"$out.status"
		FAILED=1
		note "$label on $alloc run $run failed ($rc): $(tail -c 300 "$out.err" | tr '\n' ' ')"
	fi
	printf '%s,%s,%s,%s,%s,%s,"%s"\n' "$label" "$alloc" "$run" \
		"$(cat "$out.status")" \
		"$(result_get ops_per_sec <<<"$line")" \
		"$(result_get peak_rss_kb <<<"$line")" "$line" >>"$RAW"
}

for w in "${SEL[@]}"; do
	IFS='|' read -r label bin kind nargs qargs _ wo <<<"$w"
	if [ "$QUICK" = 1 ]; then args=$qargs; else args=$nargs; fi
	mapfile -t cols < <(wcols "$wo")
	runs=$(wruns "$wo")
	for ((run = 1; run <= runs; run++)); do
		for alloc in $(run_order "$label" "$run" "${cols[@]}"); do
			STEP=$((STEP + 1))
			echo "[$STEP/$TOTAL] $label $alloc run $run/$runs" >&2
			run_cell "$label" "$bin" "$kind" "$args" "$alloc" "$run" "$wo"
		done
	done
done

# ---- summary ---------------------------------------------------------------

DATE=$(date +%F)
MD="$TMP/report.md"
CSV="$TMP/report.csv"
mkdir -p "$OUTDIR/$DATE"

# Numbers of key $3 over the successful runs of workload $1 on allocator $2.
values() {
	local f

	for f in "$TMP/$1.$2".*.result; do
		[ -e "$f" ] && result_get "$3" <"$f"
	done
}

fmt_rate() {
	awk -v x="$1" 'BEGIN {
		if (x == "-") print "-"
		else if (x >= 1e9) printf "%.2fG\n", x / 1e9
		else if (x >= 1e6) printf "%.2fM\n", x / 1e6
		else if (x >= 1e3) printf "%.1fk\n", x / 1e3
		else printf "%.3g\n", x
	}'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || b == 0) print "-"
		else printf "%.2f\n", a / b
	}'
}

fmt_secs() {
	awk -v x="$1" 'BEGIN {
		if (x == "-") print "-"
		else if (x >= 1) printf "%.2f s\n", x
		else printf "%.1f ms\n", x * 1000
	}'
}

# ", fewer for: label N, ..." for the selected workloads with a runs cap.
capped_runs() {
	local w label wo n list=""

	for w in "${SEL[@]}"; do
		IFS='|' read -r label _ _ _ _ _ wo <<<"$w"
		n=$(wruns "$wo")
		[ "$n" != "$RUNS" ] && list="$list, $label $n"
	done
	[ -n "$list" ] && echo " (fewer for:${list#,})"
}

# The options field of workload $1 (empty if it was not selected).
wopts_of() {
	local w label wo

	for w in "${SEL[@]}"; do
		IFS='|' read -r label _ _ _ _ _ wo <<<"$w"
		[ "$label" = "$1" ] && { echo "$wo"; return; }
	done
}

# Overview of workload $1 with options $2: prints "metric best_peer best
# hakmem_ratio nohard_ratio hakmem_rss_ratio". The ratios are throughput
# over the best peer's (for time metrics, the best peer's time over the
# time; above 1 hakmem is faster) and peak RSS over the leanest peer's.
overview_row() {
	local label=$1 wo=$2 key=ops_per_sec metric from a med rss
	local best=- bestname=- lean=- hr=- nr=- rr=- hm hrss

	metric=$(wopt metric "$wo" | tail -n 1)
	[ "$metric" = time ] && key=secs
	from=$(wopt peers "$wo" | tail -n 1)
	from=${from:-$label}
	for a in "${ALLOCS[@]}"; do
		case "$a" in hakmem*) continue ;; esac
		read -r med _ _ < <(values "$from" "$a" "$key" | stats)
		read -r rss _ _ < <(values "$from" "$a" peak_rss_kb | stats)
		[ "$med" = "-" ] && continue
		if [ "$best" = "-" ] || awk -v m="$med" -v b="$best" -v t="$key" \
			'BEGIN { exit !(t == "secs" ? m < b : m > b) }'; then
			best=$med
			bestname=$a
		fi
		if [ "$lean" = "-" ] || awk -v r="$rss" -v l="$lean" 'BEGIN { exit !(r < l) }'; then
			lean=$rss
		fi
	done
	read -r hm _ _ < <(values "$label" hakmem "$key" | stats)
	read -r hrss _ _ < <(values "$label" hakmem peak_rss_kb | stats)
	read -r med _ _ < <(values "$label" hakmem-nohard "$key" | stats)
	if [ "$key" = secs ]; then
		hr=$(ratio "$best" "$hm")
		nr=$(ratio "$best" "$med")
	else
		hr=$(ratio "$hm" "$best")
		nr=$(ratio "$med" "$best")
	fi
	rr=$(ratio "$hrss" "$lean")
	echo "${metric:-throughput} $bestname $best $hr $nr $rr"
}

# The overview section: one row per workload, and the data of its chart.
overview() {
	local w label wo metric bestname best hr nr rr fig

	{
		echo "## Overview: hakmem against the best peer"
		echo
		echo "Per workload, hakmem's median throughput over the best peer's"
		echo "(the fastest of the other allocators; for the time metrics, the"
		echo "best peer's time over hakmem's). Above 1.00 hakmem leads, below it"
		echo "trails. hakmem-nohard is the CONFIG_HARDENED=n build. RSS is"
		echo "hakmem's peak RSS over the leanest peer's. tlb runs hakmem with"
		echo "HAKMEM_THP=never, tlb_thp with HAKMEM_THP=always (against the"
		echo "peers of tlb, which do not ask for huge pages)."
		echo
		echo "| workload | metric | best peer | its figure | hakmem | hakmem-nohard | RSS hakmem / leanest peer |"
		echo "|---|---|---|---:|---:|---:|---:|"
	} >>"$MD"
	: >"$TMP/overview.dat"
	echo "workload,metric,best_peer,best_peer_median,hakmem_ratio,hakmem_nohard_ratio,hakmem_rss_over_leanest_peer" >"$TMP/overview.csv"
	for w in "${SEL[@]}"; do
		IFS='|' read -r label _ _ _ _ _ wo <<<"$w"
		read -r metric bestname best hr nr rr < <(overview_row "$label" "$wo")
		if [ "$metric" = time ]; then
			fig=$(fmt_secs "$best")
		else
			fig="$(fmt_rate "$best")/s"
		fi
		[ "$best" = "-" ] && fig=-
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$metric" \
			"$bestname" "$fig" "$hr" "$nr" "$rr" >>"$MD"
		echo "$label $hr $nr" >>"$TMP/overview.dat"
		echo "$label,$metric,$bestname,$best,$hr,$nr,$rr" >>"$TMP/overview.csv"
	done
	echo >>"$MD"
}

{
	echo "# hakmem benchmark report, $DATE"
	echo
	echo "- mode: $([ "$QUICK" = 1 ] && echo quick || echo normal), $RUNS runs per cell$(capped_runs), interleaved across allocators, the column order shuffled per run"
	echo "- host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r)"
	echo "- compiler: $(gcc --version | head -1)"
	echo "- load average at start: $LOAD_START (other jobs on the machine widen the spreads)"
	for a in "${ALLOCS[@]}"; do
		echo "- $a: ${PRELOAD[$a]:-system libc $(ldd --version 2>/dev/null | head -1 | awk '{print $NF}')}"
	done
	echo "- transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
	echo
} >"$MD"
overview
{
	echo "## Throughput and memory"
	echo
	echo "ops/s is the median over the runs (req/s for server, malloc+free"
	echo "pairs/s for fastpath, batch100 and ring, writes/s for false_sharing,"
	echo "objects/s for burst, replacements/s for bigbuf, reads/s of the read"
	echo "phase for tlb); spread is min..max; peak RSS is the median of"
	echo "getrusage() maxima. x hakmem = allocator / hakmem (above 1: faster or"
	echo "bigger than hakmem). bigbuf and tlb are timed: secs in the last"
	echo "column; minflt is getrusage()'s minor fault count (step_minflt: of"
	echo "bigbuf's replacements only)."
	echo
	echo "| workload | allocator | ops/s | spread | x hakmem | peak RSS KiB | RSS x hakmem | extra (median) |"
	echo "|---|---|---:|---|---:|---:|---:|---|"
} >>"$MD"
echo "workload,allocator,runs_ok,median_ops_per_sec,min_ops_per_sec,max_ops_per_sec,ratio_vs_hakmem,median_peak_rss_kb,rss_ratio_vs_hakmem,extra" >"$CSV"

for w in "${SEL[@]}"; do
	IFS='|' read -r label _ _ _ _ extra wo <<<"$w"
	read -r hmed _ _ < <(values "$label" hakmem ops_per_sec | stats)
	read -r hrss _ _ < <(values "$label" hakmem peak_rss_kb | stats)
	: >"$TMP/$label.plot"
	idx=0
	mapfile -t cols < <(wcols "$wo")
	for alloc in "${cols[@]}"; do
		read -r med lo hi < <(values "$label" "$alloc" ops_per_sec | stats)
		read -r rss _ _ < <(values "$label" "$alloc" peak_rss_kb | stats)
		nok=$(cat "$TMP/$label.$alloc".*.result 2>/dev/null | wc -l)
		bad=$(cat "$TMP/$label.$alloc".*.status 2>/dev/null | grep -v '^ok$' | sort -u | paste -sd' ')
		ex=""
		for k in $extra; do
			read -r v _ _ < <(values "$label" "$alloc" "$k" | stats)
			ex="$ex$k=$v "
		done
		[ -n "$bad" ] && ex="$ex**$bad** "
		printf '| %s | %s | %s | %s..%s | %s | %s | %s | %s |\n' \
			"$label" "$alloc" "$(fmt_rate "$med")" "$(fmt_rate "$lo")" \
			"$(fmt_rate "$hi")" "$(ratio "$med" "$hmed")" "$rss" \
			"$(ratio "$rss" "$hrss")" "${ex% }" >>"$MD"
		echo "$label,$alloc,$nok,$med,$lo,$hi,$(ratio "$med" "$hmed"),$rss,$(ratio "$rss" "$hrss"),${ex% }" >>"$CSV"
		[ "$med" != "-" ] && echo "$idx $alloc $med $lo $hi" >>"$TMP/$label.plot"
		idx=$((idx + 1))
	done
done

# ---- charts ----------------------------------------------------------------

# The overview chart: hakmem's (and hakmem-nohard's) ratio to the best
# peer per workload, with the 1.0 line.
plot_overview() {
	local term=$1 f="$TMP/overview.dat" using

	[ -s "$f" ] || return 0
	using="\"$f\" using 2:xtic(1) title \"hakmem\""
	if printf '%s\n' "${ALLOCS[@]}" | grep -qx hakmem-nohard; then
		using="$using, \"\" using 3 title \"hakmem-nohard\""
	fi
	gnuplot <<EOF 2>>"$TMP/gnuplot.err" || note "gnuplot failed for the overview"
set terminal $term size 1100,480 noenhanced
set output "$OUTDIR/$DATE/overview.png"
set title "hakmem relative to the best peer per workload (median; above 1.0 hakmem leads)"
set ylabel "throughput / best peer's (time: best peer's / time)"
set datafile missing "-"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.7 border -1
set boxwidth 0.9
set yrange [0:1.2<*]
set xtics nomirror rotate by -35 left
set grid ytics
set key outside top center horizontal
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb "red" front
plot $using, NaN with lines lw 2 lc rgb "red" title "best peer (1.0)"
EOF
}

plot_charts() {
	local term=png label ylabel f wo

	if ! command -v gnuplot >/dev/null; then
		note "gnuplot not found (Debian gnuplot-nox): no charts"
		return
	fi
	echo 'set terminal pngcairo' | gnuplot >/dev/null 2>&1 && term=pngcairo
	plot_overview "$term"
	for f in "$TMP"/*.plot; do
		[ -s "$f" ] || continue
		label=$(basename "$f" .plot)
		wo=$(wopts_of "$label")
		case "$label" in
		server) ylabel="requests/s" ;;
		fastpath | batch100 | ring) ylabel="malloc+free pairs/s" ;;
		false_sharing) ylabel="writes/s" ;;
		burst) ylabel="objects/s" ;;
		bigbuf) ylabel="replacements/s" ;;
		tlb*) ylabel="reads/s (read phase)" ;;
		*) ylabel="ops/s" ;;
		esac
		gnuplot <<EOF 2>>"$TMP/gnuplot.err" || note "gnuplot failed for $label"
set terminal $term size 760,400 noenhanced
set output "$OUTDIR/$DATE/$label.png"
set title "$label (median, min..max over $(wruns "$wo") runs)"
set ylabel "$ylabel"
set yrange [0:*]
set style fill solid 0.6
set boxwidth 0.6
set xtics nomirror
set grid ytics
unset key
plot "$f" using 1:3:xtic(2) with boxes, "$f" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0
EOF
	done
}
plot_charts

# ---- valgrind: instructions per pair and cache misses -----------------------

# First number of the "summary:" or "totals:" line of a callgrind file.
cg_total() {
	awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

# Self cost of fp_loop (the benchmark's own loop) in a callgrind file.
cg_loop() {
	callgrind_annotate "$1" 2>/dev/null |
		awk '!v && /:fp_loop / { v = $1; gsub(",", "", v) } END { print v }'
}

# The object file that served malloc() in a callgrind file.
cg_malloc_obj() {
	callgrind_annotate "$1" 2>/dev/null |
		awk '!o && /:malloc \[/ { o = $0; sub(/.*\[/, "", o); sub(/\].*/, "", o) }
		END { print o ? o : "???" }'
}

valgrind_sections() {
	local n1=200000 n2=400000 ln=100000 alloc t1 t2 l1 l2 obj p stem
	local -a cmd

	if ! command -v valgrind >/dev/null; then
		note "valgrind not found: no instruction counts"
		return
	fi
	{
		echo
		echo "## Fast path: instructions per malloc+free pair (callgrind)"
		echo
		echo "\`LD_PRELOAD=<lib> valgrind --tool=callgrind bench/fastpath -n N\` for"
		echo "N = $n1 and $n2; Ir/pair = (total Ir(N2) - total Ir(N1)) / (N2 - N1)."
		echo "valgrind hands LD_PRELOAD on to the client (after its own preloads);"
		echo "callgrind does not replace malloc, so the preloaded allocator is the"
		echo "one measured: the \"malloc from\" column is the object file that"
		echo "callgrind_annotate attributes malloc() to. \"excl. loop\" subtracts the"
		echo "self cost of the benchmark loop (fp_loop). valgrind does not implement"
		echo "rseq, so an allocator that uses it runs its fallback path here."
		echo
		echo "| allocator | Ir/pair | Ir/pair excl. loop | malloc from |"
		echo "|---|---:|---:|---|"
	} >>"$MD"
	for alloc in "${ALLOCS[@]}"; do
		mapfile -t cmd < <(command_for fastpath plain "$alloc")
		[ ${#cmd[@]} -gt 0 ] || { note "fastpath binary missing"; break; }
		echo "callgrind fastpath $alloc" >&2
		for p in $n1 $n2; do
			"${cmd[@]:0:2}" valgrind --tool=callgrind \
				--callgrind-out-file="$TMP/cg.$alloc.$p" \
				"${cmd[@]:2}" -n "$p" >/dev/null 2>"$TMP/cg.$alloc.$p.err"
		done
		t1=$(cg_total "$TMP/cg.$alloc.$n1")
		t2=$(cg_total "$TMP/cg.$alloc.$n2")
		l1=$(cg_loop "$TMP/cg.$alloc.$n1")
		l2=$(cg_loop "$TMP/cg.$alloc.$n2")
		obj=$(basename "$(cg_malloc_obj "$TMP/cg.$alloc.$n2")")
		stem=$(basename "${PRELOAD[$alloc]}")
		stem=${stem%%.so*}
		if [ "${obj:-???}" = "???" ] && [ -n "$stem" ] &&
			grep -qE "^c?ob=\([0-9]+\) .*/$stem\.so" "$TMP/cg.$alloc.$n2"; then
			obj="??? ($stem.so loaded; callgrind cannot name the object of its malloc)"
		fi
		awk -v a="$alloc" -v t1="${t1:-0}" -v t2="${t2:-0}" \
			-v l1="${l1:-0}" -v l2="${l2:-0}" -v n="$((n2 - n1))" \
			-v o="${obj:-unknown}" 'BEGIN {
			if (t1 == 0 || t2 == 0) { printf "| %s | - | - | run failed |\n", a; exit }
			printf "| %s | %.1f | %.1f | %s |\n", a, (t2 - t1) / n,
				((t2 - l2) - (t1 - l1)) / n, o
		}' >>"$MD"
	done

	{
		echo
		echo "## Cache behaviour: larson under cachegrind"
		echo
		echo "\`valgrind --tool=cachegrind --cache-sim=yes bench/larson -t 2 -n $ln\`"
		echo "(valgrind runs the threads one at a time; simulated caches as"
		echo "detected from the host). Miss rates are per access."
		echo
		echo "| allocator | Ir | I1 miss % | D1 miss % | LL miss % |"
		echo "|---|---:|---:|---:|---:|"
	} >>"$MD"
	for alloc in "${ALLOCS[@]}"; do
		mapfile -t cmd < <(command_for larson plain "$alloc")
		[ ${#cmd[@]} -gt 0 ] || { note "larson binary missing"; break; }
		echo "cachegrind larson $alloc" >&2
		"${cmd[@]:0:2}" valgrind --tool=cachegrind --cache-sim=yes \
			--cachegrind-out-file="$TMP/cachegrind.$alloc" \
			"${cmd[@]:2}" -t 2 -n "$ln" >/dev/null 2>"$TMP/cachegrind.$alloc.err"
		awk -v a="$alloc" '
		/^events:/ { for (i = 2; i <= NF; i++) col[$i] = i }
		/^summary:/ {
			ir = $col["Ir"]; dr = $col["Dr"]; dw = $col["Dw"]
			i1 = $col["I1mr"]; d1 = $col["D1mr"] + $col["D1mw"]
			ll = $col["ILmr"] + $col["DLmr"] + $col["DLmw"]
			printf "| %s | %d | %.3f | %.3f | %.4f |\n", a, ir,
				100 * i1 / ir, 100 * d1 / (dr + dw),
				100 * ll / (ir + dr + dw)
			found = 1
		}
		END { if (!found) printf "| %s | - | - | - | - |\n", a }
		' "$TMP/cachegrind.$alloc" >>"$MD" 2>/dev/null ||
			echo "| $alloc | - | - | - | - |" >>"$MD"
	done
}

# ---- hakmem slow-path profile ----------------------------------------------

# Sum the named columns of the slabinfo table in file $1, loosely: the header
# is the first line naming "refills"; rows follow until a line with fewer
# fields. Tokens made only of punctuation ("#", ":", "|") are ignored, in the
# header and in the rows. Prints "refills drains superslab_refills" (- for a
# column that is absent).
slab_counts() {
	awk '
	function words(line, w,    n, i, m, t) {
		n = split(line, t, /[ \t]+/)
		m = 0
		for (i = 1; i <= n; i++)
			if (t[i] != "" && t[i] !~ /^[#:|]+$/)
				w[++m] = t[i]
		return m
	}
	!hdr && tolower($0) ~ /refills/ {
		hdr = words($0, w)
		for (i = 1; i <= hdr; i++) {
			h = tolower(w[i])
			gsub(/[^a-z_]/, "", h)
			if (h == "refills") cr = i
			else if (h == "drains") cd = i
			else if (h ~ /^(superslab|ss)_?refills?$/) cs = i
		}
		next
	}
	hdr {
		n = words($0, w)
		if (n < hdr - 1 || n < 3) {
			if (rows) hdr = 0
			next
		}
		if (cr) r += w[cr]
		if (cd) d += w[cd]
		if (cs) s += w[cs]
		rows++
	}
	END {
		printf "%s %s %s\n", cr ? r : "-", cd ? d : "-", cs ? s : "-"
	}' "$1"
}

hakmem_profile() {
	local n=2000000 cn=200000 line ops counts
	local -a cmd

	{
		echo
		echo "## hakmem slow-path profile (larson)"
		echo
	} >>"$MD"
	if [ "$HAK_MISSING" = 1 ]; then
		echo "hakmem library not available: no profile." >>"$MD"
		return
	fi
	mapfile -t cmd < <(command_for larson plain hakmem)
	if [ ${#cmd[@]} -eq 0 ]; then
		echo "larson binary missing: no profile." >>"$MD"
		return
	fi
	echo "hakmem profile: larson with HAKMEM_STATS=1" >&2
	HAKMEM_STATS=1 "${cmd[@]}" -n "$n" >"$TMP/prof.out" 2>"$TMP/prof.err"
	line=$(grep -m1 '^RESULT ' "$TMP/prof.out")
	ops=$(result_get ops <<<"$line")
	read -r -a counts < <(slab_counts "$TMP/prof.err")
	{
		echo "\`HAKMEM_STATS=1 LD_PRELOAD=$(basename "$LIB") larson -n $n\`: ${ops:-?} ops."
		echo
		if [ "${counts[0]}" != "-" ] && [ -n "$ops" ] && [ "$ops" -gt 0 ]; then
			echo "| counter | total | per million ops |"
			echo "|---|---:|---:|"
			awk -v o="$ops" -v r="${counts[0]}" -v d="${counts[1]}" \
				-v s="${counts[2]}" 'BEGIN {
				printf "| refills | %s | %.1f |\n", r, r * 1e6 / o
				if (d != "-") printf "| drains | %s | %.1f |\n", d, d * 1e6 / o
				if (s != "-") printf "| superslab_refills | %s | %.1f |\n", s, s * 1e6 / o
			}'
			echo
		else
			echo "No refills column found in the statistics; raw stderr:"
			echo
		fi
		echo '```'
		head -n 60 "$TMP/prof.err"
		echo '```'
	} >>"$MD"

	if [ "$VALGRIND" = 0 ] || ! command -v valgrind >/dev/null; then
		return
	fi
	echo "hakmem profile: larson under callgrind" >&2
	"${cmd[@]:0:2}" valgrind --tool=callgrind \
		--callgrind-out-file="$TMP/prof.cg" "${cmd[@]:2}" -n "$cn" \
		>/dev/null 2>"$TMP/prof.cg.err"
	callgrind_annotate --inclusive=yes --auto=no --threshold=100 \
		"$TMP/prof.cg" >"$TMP/prof.ann" 2>/dev/null
	# Inclusive cost per function name (summed over the per-file parts
	# callgrind_annotate splits a function into) for names matching
	# superslab or refill, as "share% Ir name", biggest first.
	awk '
	/PROGRAM TOTALS/ { t = $1; gsub(",", "", t) }
	/^ *[0-9,]+ +\( *[0-9.]+%\) +[^ ]/ {
		ir = $1
		gsub(",", "", ir)
		fn = $0
		sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", fn)
		sub(/ \[.*/, "", fn)
		sub(/.*:/, "", fn)
		if (tolower(fn) ~ /superslab|refill/)
			sum[fn] += ir
	}
	END {
		for (fn in sum)
			printf "%.4f %d %s\n", t ? 100 * sum[fn] / t : 0, sum[fn], fn
	}' "$TMP/prof.ann" | sort -rn >"$TMP/prof.fn"
	{
		echo
		echo "\`LD_PRELOAD=$(basename "$LIB") valgrind --tool=callgrind larson -n $cn\`,"
		echo "\`callgrind_annotate --inclusive=yes --threshold=100\`: inclusive cost of"
		echo "the functions named like superslab/refill (a function's inclusive cost"
		echo "covers the helpers it calls)."
		echo
		if [ -s "$TMP/prof.fn" ]; then
			echo "superslab_refill inclusive share: $(awk '$3 == "superslab_refill" { s = $1 } END { printf "%.4f%%", s }' "$TMP/prof.fn") of all instructions"
			echo
			echo "| function | Ir inclusive | share % |"
			echo "|---|---:|---:|"
			head -n 15 "$TMP/prof.fn" | awk '{ printf "| %s | %s | %s |\n", $3, $2, $1 }'
		else
			echo "No superslab/refill functions in the profile (symbols missing or"
			echo "another library given as --lib)."
		fi
	} >>"$MD"
}

if [ "$VALGRIND" = 1 ]; then
	valgrind_sections
else
	note "valgrind sections skipped (--no-valgrind)"
fi
hakmem_profile

{
	echo
	echo "## Notes"
	echo
	cat "$NOTES"
	echo "- suite time: $(($(date +%s) - START)) s"
	echo "- charts: $OUTDIR/$DATE/*.png (overview.png: hakmem against the best peer); raw runs: $OUTDIR/$DATE-raw.csv; overview: $OUTDIR/$DATE-overview.csv"
} >>"$MD"

cp "$MD" "$OUTDIR/$DATE.md"
cp "$CSV" "$OUTDIR/$DATE.csv"
cp "$RAW" "$OUTDIR/$DATE-raw.csv"
cp "$TMP/overview.csv" "$OUTDIR/$DATE-overview.csv"
cat "$MD"

if [ "$CORRUPT" = 1 ] || [ "$HAK_MISSING" = 1 ]; then
	exit 1
fi
if [ "$STRICT" = 1 ] && [ "$FAILED" = 1 ]; then
	exit 1
fi
exit 0
