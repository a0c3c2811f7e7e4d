#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run-programs.sh - run real programs with and without LD_PRELOAD=libhakmem.so
# and check that they behave the same.
#
# Usage: selftests/preload/run-programs.sh PATH/TO/libhakmem.so
#
# Every test runs one workload twice, in two fresh directories: once plain,
# once with the library preloaded into each program under test.  A test
# passes when both runs exit 0, their standard output is byte for byte the
# same, and the preloaded run printed no line on stderr that the plain run
# did not print.  A test whose programs are not installed is skipped.
#
# Output is TAP version 13 (kselftest style).  Exit status: 0 no failure,
# 1 some failure, 4 every program test skipped (kselftest's KSFT_SKIP).
#
# Environment:
#   RUN_PROGRAMS_TIMEOUT  seconds one program may run (default 60)
#   RUN_PROGRAMS_KEEP=1   keep the temp directory for inspection
#   RUN_PROGRAMS_ONLY     space-separated test names to run (others skip)
#
# To try the harness without hakmem, any malloc replacement works, e.g.
#   selftests/preload/run-programs.sh /usr/lib/x86_64-linux-gnu/libjemalloc.so.2

# Functions are called indirectly (wl_$name, prep_$name, traps).
# shellcheck disable=SC2317

set -u
export LC_ALL=C TZ=UTC

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

PROG_TIMEOUT=${RUN_PROGRAMS_TIMEOUT:-60}

# Set for each workload by run_mode.
MODE=plain
SHARED=
DIAG=/dev/null

if [ "$#" -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
	echo "usage: $0 PATH/TO/libhakmem.so" >&2
	exit 2
fi

echo "TAP version 13"

if [ ! -r "$1" ]; then
	echo "1..0 # SKIP preload library not found: $1"
	exit "$KSFT_SKIP"
fi
LIB=$(realpath "$1")

TESTS=(preload-loads python sort sqlite3 gcc git redis)
echo "1..${#TESTS[@]}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-run-programs.XXXXXX") || {
	echo "Bail out! mktemp failed"
	exit "$KSFT_FAIL"
}

cleanup() {
	if [ "${RUN_PROGRAMS_KEEP:-0}" = 1 ]; then
		echo "# kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

n_test=0
n_pass=0
n_fail=0
n_skip=0

ok() {
	n_test=$((n_test + 1))
	n_pass=$((n_pass + 1))
	echo "ok $n_test - $1"
}

not_ok() {
	n_test=$((n_test + 1))
	n_fail=$((n_fail + 1))
	echo "not ok $n_test - $1"
}

skip() {
	n_test=$((n_test + 1))
	n_skip=$((n_skip + 1))
	echo "ok $n_test - $1 # SKIP $2"
}

# Print a file (at most 20 lines) as TAP diagnostics.
diag_file() {
	sed -n '1,20s/^/#   /p' "$1"
}

# First of the named programs that is missing, if any.
missing() {
	local p
	for p in "$@"; do
		if ! command -v "$p" >/dev/null 2>&1; then
			echo "$p"
			return
		fi
	done
}

now() {
	echo "${EPOCHREALTIME/[.,]/}"
}

elapsed() {
	local us=$(($(now) - $1))
	printf '%d.%01d' $((us / 1000000)) $((us % 1000000 / 100000))
}

# Run one program under test: plain, or with the library preloaded when
# MODE=preload.  Helpers (sha256sum, awk, ...) are called directly instead.
pr() {
	if [ "$MODE" = preload ]; then
		timeout -k 5 "$PROG_TIMEOUT" env LD_PRELOAD="$LIB" "$@"
	else
		timeout -k 5 "$PROG_TIMEOUT" "$@"
	fi
}

# Body of the subshell that runs one workload.  Workloads see MODE (plain or
# preload), SHARED (input made once by prep_NAME) and DIAG (a file whose
# lines are printed as TAP diagnostics), and run under set -e -o pipefail.
run_mode() {
	MODE=$1
	SHARED=$TMP/$2/shared
	DIAG=$3/diag
	cd "$3/run" || exit 1
	set -eo pipefail
	"wl_$2"
}

# run_test NAME DESCRIPTION PROGRAM...
# Runs wl_NAME in a plain and a preloaded directory and compares the runs.
run_test() {
	local name=$1 desc=$2 miss mode dir t0 rc_plain rc_pre extra
	shift 2

	if [ -n "${RUN_PROGRAMS_ONLY:-}" ] &&
	   [[ " $RUN_PROGRAMS_ONLY " != *" $name "* ]]; then
		skip "$name: $desc" "not selected by RUN_PROGRAMS_ONLY"
		return
	fi
	miss=$(missing "$@")
	if [ -n "$miss" ]; then
		skip "$name: $desc" "$miss not installed"
		return
	fi

	mkdir -p "$TMP/$name/shared"
	if declare -F "prep_$name" >/dev/null; then
		if ! (cd "$TMP/$name/shared" && "prep_$name") \
			>"$TMP/$name/prep.log" 2>&1; then
			not_ok "$name: $desc (preparing input failed)"
			diag_file "$TMP/$name/prep.log"
			return
		fi
	fi

	for mode in plain preload; do
		dir=$TMP/$name/$mode
		mkdir -p "$dir/run"
		t0=$(now)
		(run_mode "$mode" "$name" "$dir") \
			>"$dir/stdout" 2>"$dir/stderr" </dev/null
		echo $? >"$dir/rc"
		echo "# $name: $mode run $(elapsed "$t0")s"
		if [ -s "$dir/diag" ]; then
			sed 's/^/# /' "$dir/diag"
		fi
	done

	rc_plain=$(cat "$TMP/$name/plain/rc")
	rc_pre=$(cat "$TMP/$name/preload/rc")
	if [ "$rc_plain" -ne 0 ]; then
		not_ok "$name: $desc (plain run failed, exit $rc_plain)"
		diag_file "$TMP/$name/plain/stderr"
		return
	fi
	if [ "$rc_pre" -ne 0 ]; then
		not_ok "$name: $desc (preloaded run failed, exit $rc_pre)"
		diag_file "$TMP/$name/preload/stderr"
		return
	fi
	if ! cmp -s "$TMP/$name/plain/stdout" "$TMP/$name/preload/stdout"; then
		not_ok "$name: $desc (output differs)"
		diff -u "$TMP/$name/plain/stdout" "$TMP/$name/preload/stdout" \
			>"$TMP/$name/stdout.diff"
		diag_file "$TMP/$name/stdout.diff"
		return
	fi
	# Lines on the preloaded run's stderr that the plain run did not print.
	grep -v '^$' "$TMP/$name/plain/stderr" >"$TMP/$name/stderr.plain"
	extra=$(grep -v '^$' "$TMP/$name/preload/stderr" |
		grep -Fxv -f "$TMP/$name/stderr.plain")
	if [ -n "$extra" ]; then
		not_ok "$name: $desc (preloaded run printed to stderr)"
		printf '%s\n' "$extra" >"$TMP/$name/stderr.extra"
		diag_file "$TMP/$name/stderr.extra"
		return
	fi
	ok "$name: $desc"
}

# ---------------------------------------------------------------------------
# 1. The library must really be loaded, or every other test passes vacuously
#    (ld.so only warns when it cannot preload an object).

test_preload_loads() {
	local out err
	out=$(timeout 10 env LD_PRELOAD="$LIB" cat /proc/self/maps \
		2>"$TMP/preload-loads.err")
	err=$(cat "$TMP/preload-loads.err")
	if [ -n "$err" ]; then
		not_ok "preload-loads: $LIB is preloaded without complaint"
		diag_file "$TMP/preload-loads.err"
		return 1
	fi
	if ! grep -qF "$LIB" <<<"$out"; then
		not_ok "preload-loads: $LIB is mapped into a preloaded process"
		return 1
	fi
	ok "preload-loads: $LIB is mapped into a preloaded process"
}

# ---------------------------------------------------------------------------
# 2. python3: dicts, lists, strings, realloc'd buffers, big blocks, json,
#    objects freed by another thread.  PYTHONMALLOC=malloc sends every
#    object through malloc instead of pymalloc's arenas.

PY_WORKLOAD=$(cat <<'EOF'
import hashlib, json, random, threading, queue
rng = random.Random(20240601)
h = hashlib.sha256()
churn = 0
# dicts, lists and strings of many sizes, partly freed again
for rnd in range(5):
    d = {}
    for i in range(25000):
        k = "k%d_%d" % (rnd, rng.getrandbits(24))
        n = rng.randint(0, 12)
        v = [rng.getrandbits(30) for _ in range(n)]
        s = k * rng.randint(1, 40)
        d[k] = (v, s)
        churn += len(s) + 8 * n
    keys = sorted(d)
    for k in keys[::3]:
        del d[k]
    for k in keys[::500]:
        h.update(k.encode())
        h.update(repr(d.get(k, (None, ""))[0]).encode())
    h.update(str(len(d)).encode())
# growing and shrinking buffers (realloc), large blocks (mmap sizes)
buf = bytearray()
for i in range(3000):
    buf += bytes([i & 255]) * rng.randint(1, 4096)
    if i % 97 == 0:
        del buf[: len(buf) // 3]
    churn += len(buf) // 64
h.update(hashlib.sha256(buf).digest())
big = []
for i in range(300):
    sz = rng.choice((1 << 10, 1 << 14, 1 << 17, 1 << 20, 3 << 20))
    big.append(b"x" * sz)
    churn += sz
    if len(big) > 8:
        big.pop(rng.randrange(len(big)))
h.update(str(sum(map(len, big))).encode())
# json round trips, splitting, sorting
for i in range(10):
    obj = {"id%d" % j: {"n": j, "l": list(range(j % 50)), "s": "v" * (j % 300)}
           for j in range(2000)}
    txt = json.dumps(obj, sort_keys=True)
    churn += 4 * len(txt)
    back = json.loads(txt)
    assert back == obj
    h.update(hashlib.sha256(txt.encode()).digest())
    words = txt.split(",")
    words.sort()
    h.update("".join(words[::500]).encode())
    del obj, back, words
# objects allocated in one thread and freed in another
q = queue.Queue(maxsize=64)
def producer(seed, count):
    r = random.Random(seed)
    for i in range(count):
        q.put([str(r.getrandbits(64)) * r.randint(1, 40)
               for _ in range(r.randint(1, 30))])
    q.put(None)
total = [0, 0]
def consumer(nprod):
    done = 0
    while done < nprod:
        item = q.get()
        if item is None:
            done += 1
            continue
        total[0] += 1
        total[1] += sum(len(s) for s in item)
ths = [threading.Thread(target=producer, args=(s, 1500)) for s in (1, 2, 3)]
ths.append(threading.Thread(target=consumer, args=(3,)))
for t in ths:
    t.start()
for t in ths:
    t.join()
churn += total[1]
h.update(("%d %d" % tuple(total)).encode())
print("items", total[0], "chars", total[1])
print("churn-MB", churn >> 20)
print("digest", h.hexdigest())
EOF
)

# The real interpreter, not a wrapper script (pyenv shims and the like).
PYTHON=
if command -v python3 >/dev/null 2>&1; then
	PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
fi

wl_python() {
	PYTHONMALLOC=malloc PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 \
		pr "$PYTHON" -c "$PY_WORKLOAD"
}

# ---------------------------------------------------------------------------
# 3. sort: 2 million generated lines, small buffer so it merges temp files.

prep_sort() {
	awk 'BEGIN {
		x = 12345
		for (i = 0; i < 2000000; i++) {
			x = (x * 69069 + 1) % 4294967296
			printf "%08x %d line-%d\n", x, x % 100003, i
		}
	}' >input.txt
}

wl_sort() {
	pr sort -S 16M -T . --parallel=2 -k2,2n -k1,1 "$SHARED/input.txt" \
		>by-number.txt
	pr sort -r -u -S 16M -T . "$SHARED/input.txt" >reverse.txt
	wc -l <by-number.txt
	sha256sum <by-number.txt
	wc -l <reverse.txt
	sha256sum <reverse.txt
}

# ---------------------------------------------------------------------------
# 4. sqlite3: a 150k-row table, two indexes, aggregates, joins, integrity.

wl_sqlite3() {
	pr sqlite3 -batch test.db <<'EOF'
PRAGMA cache_size = -4000;
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL,
	       data BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c
			WHERE x < 150000)
INSERT INTO t SELECT x, x % 97,
	printf('name-%08d-%s', (x * 7919) % 150001, hex(x * 31)),
	(x * 31 % 1000) / 7.0, zeroblob(x % 257) FROM c;
CREATE INDEX t_grp ON t(grp, name);
CREATE INDEX t_name ON t(name);
CREATE TABLE g(grp INTEGER PRIMARY KEY, label TEXT);
INSERT INTO g SELECT DISTINCT grp, 'group ' || grp FROM t;
SELECT count(*), sum(val), total(length(data)), min(name), max(name) FROM t;
SELECT grp, count(*), printf('%.6f', avg(val)), min(name), max(name)
	FROM t GROUP BY grp ORDER BY count(*) DESC, grp LIMIT 12;
SELECT g.label, count(*), sum(length(t.name))
	FROM t JOIN g USING (grp) WHERE t.name LIKE 'name-0001%'
	GROUP BY g.label ORDER BY g.label LIMIT 12;
SELECT count(DISTINCT substr(name, 6, 4)), group_concat(id, ',')
	FROM (SELECT * FROM t WHERE grp = 42 ORDER BY name LIMIT 40);
UPDATE t SET name = upper(name), data = zeroblob(300) WHERE id % 5 = 0;
DELETE FROM t WHERE id % 7 = 0;
SELECT count(*), sum(length(data)), max(name) FROM t;
PRAGMA integrity_check;
VACUUM;
SELECT count(*) FROM t INDEXED BY t_name WHERE name > 'name-0007';
EOF
}

# ---------------------------------------------------------------------------
# 5. gcc -O2 on a generated C file; compare disassembly and program output.

prep_gcc() {
	awk 'BEGIN {
		n = 300
		print "#include <stdio.h>"
		print "#include <stdlib.h>"
		print "#include <string.h>"
		print "struct rec { long a; int b[8]; char s[24]; };"
		for (i = 0; i < n; i++) {
			printf "static __attribute__((noinline)) long f%d(long x, struct rec *r)\n", i
			print "{"
			print "\tlong acc = x;"
			printf "\tfor (int k = 0; k < %d; k++) {\n", 3 + i % 11
			printf "\t\tswitch ((acc + k) %% %d) {\n", 3 + i % 5
			printf "\t\tcase 0: acc = acc * %d + r->b[k & 7]; break;\n", 3 + 2 * (i % 13)
			printf "\t\tcase 1: acc ^= (acc >> %d) + r->a; break;\n", 1 + i % 17
			printf "\t\tcase 2: r->b[(k + %d) & 7] += (int)acc; break;\n", i % 8
			printf "\t\tdefault: acc -= %d; break;\n", i
			print "\t\t}"
			print "\t}"
			printf "\tsnprintf(r->s, sizeof(r->s), \"f%d:%%ld\", acc & 0xffff);\n", i
			if (i > 0)
				printf "\treturn acc %% 1000003 + (x & 1 ? f%d(x >> 1, r) : 0);\n", i - 1
			else
				print "\treturn acc % 1000003;"
			print "}"
		}
		print "int main(void)"
		print "{"
		print "\tstruct rec *r = calloc(1, sizeof(*r));"
		print "\tunsigned long sum = 0;"
		print "\tr->a = 7;"
		for (i = 0; i < n; i++)
			printf "\tsum = sum * 31 + (unsigned long)f%d(%d, r) + strlen(r->s);\n", i, i * 37 + 5
		print "\tprintf(\"%lu %s\\n\", sum, r->s);"
		print "\tfree(r);"
		print "\treturn 0;"
		print "}"
	}' >gen.c
}

wl_gcc() {
	cp "$SHARED/gen.c" gen.c
	pr gcc -O2 -Wall -c gen.c -o gen.o
	pr gcc -O2 gen.o -o gen
	if command -v objdump >/dev/null 2>&1; then
		objdump -d gen.o | sha256sum
	fi
	sha256sum <gen.o
	pr ./gen
}

# ---------------------------------------------------------------------------
# 6. git: many commits with fixed dates, then log, gc, fsck, diff --stat.

wl_git() {
	local i ts
	export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
	export GIT_AUTHOR_NAME="Hak Tester" GIT_AUTHOR_EMAIL="hak@example.com"
	export GIT_COMMITTER_NAME="Hak Tester"
	export GIT_COMMITTER_EMAIL="hak@example.com"
	export GIT_TERMINAL_PROMPT=0 GIT_PAGER=cat PAGER=cat
	pr git -c init.defaultBranch=main init -q repo
	cd repo
	mkdir src docs
	for ((i = 1; i <= 80; i++)); do
		awk -v c="$i" 'BEGIN {
			# rewrite a few files, add one, delete one now and then
			for (f = 0; f < 6; f++) {
				id = (c * 7 + f * 13) % 40
				file = sprintf("src/file%02d.txt", id)
				for (l = 0; l < 60 + id; l++)
					printf "commit %d file %d line %d value %d\n",
						c, id, l, (c * l * 2654435761) % 1000 > file
				close(file)
			}
			file = sprintf("docs/note%03d.md", c)
			printf "# note %d\n\n%s\n", c, "generated text" > file
		}'
		if ((i % 9 == 0)); then
			rm -f "docs/note$(printf '%03d' $((i - 5))).md"
		fi
		ts="@$((1700000000 + i * 3600)) +0000"
		GIT_AUTHOR_DATE=$ts GIT_COMMITTER_DATE=$ts pr git add -A
		GIT_AUTHOR_DATE=$ts GIT_COMMITTER_DATE=$ts \
			pr git commit -q -m "commit $i" -m "Generated change number $i."
	done
	pr git log --stat --format='%H %an %ad %s' --date=iso-strict | sha256sum
	pr git log --oneline | wc -l
	pr git rev-parse HEAD HEAD~40
	pr git diff --stat HEAD~60 HEAD | tail -n 3
	pr git gc -q --prune=now
	pr git fsck --full --strict --no-progress
	pr git count-objects -v | grep -E '^(count|in-pack|packs):'
	pr git diff --stat HEAD~79 HEAD | tail -n 1
	pr git archive --format=tar HEAD | sha256sum
}

# ---------------------------------------------------------------------------
# 7. redis-server on loopback, redis-benchmark, then a deterministic check.

port_in_use() {
	if command -v ss >/dev/null 2>&1; then
		[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

# Stop the server if the workload ends early (set -e, timeout).
redis_stop() {
	local pid
	pid=$(cat redis.pid 2>/dev/null) || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		sleep 0.5
		kill -KILL "$pid" 2>/dev/null
	fi
	return 0
}

wl_redis() {
	local port pid tries rc i
	local cli=(pr redis-cli -h 127.0.0.1)

	for ((tries = 0; tries < 50; tries++)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		port_in_use "$port" || break
	done
	cli+=(-p "$port")
	if [ "$MODE" = preload ]; then
		set -- env LD_PRELOAD="$LIB"
	else
		set --
	fi
	trap redis_stop EXIT
	timeout -k 5 "$PROG_TIMEOUT" "$@" redis-server --port "$port" \
		--bind 127.0.0.1 --protected-mode yes --save '' \
		--appendonly no --daemonize no --dir "$PWD" \
		--pidfile "$PWD/redis.pid" --logfile "$PWD/redis.log" &
	pid=$!	# timeout(1), which passes on signals and the exit status
	# The server must answer within 15 s.
	for ((tries = 0; ; tries++)); do
		if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]
		then
			break
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			rc=0
			wait "$pid" || rc=$?
			echo "redis-server exited with status $rc at start" >&2
			cat redis.log >&2 2>/dev/null || true
			return 1
		fi
		if [ "$tries" -ge 150 ]; then
			echo "redis-server did not answer on port $port" >&2
			cat redis.log >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.1
	done
	if [ "$MODE" = preload ] &&
	   ! grep -qF "$LIB" "/proc/$(cat redis.pid)/maps"; then
		echo "$LIB is not mapped into redis-server" >&2
		return 1
	fi
	# Throughput numbers vary from run to run: keep them out of stdout.
	pr redis-benchmark -h 127.0.0.1 -p "$port" -n 20000 -c 20 -q \
		-t set,get,lpush,lpop >bench.log
	# "libc" for a libc build, "jemalloc-X" for one linked to jemalloc
	# (Debian's): malloc, free etc. then still bind to the preloaded
	# library, which comes first in the symbol lookup order.
	"${cli[@]}" info memory | tr -d '\r' |
		sed -n "s/^mem_allocator:/redis mem_allocator ($MODE): /p" \
		>>"$DIAG"
	{
		for ((i = 0; i < 2000; i++)); do
			echo "SET key:$i value-$i-$((i * i % 9973))"
		done
		for ((i = 0; i < 200; i++)); do
			printf 'RPUSH list item%d-%0*d\n' "$i" $((i % 300)) 0
		done
		echo "HSET h a 1 b 2 c 3"
		echo "INCRBY counter 41"
		echo "INCR counter"
	} | "${cli[@]}" -n 1 >load.log
	wc -l <load.log
	sha256sum <load.log
	for i in 0 1 999 1999 2000; do
		"${cli[@]}" -n 1 get "key:$i"
	done
	"${cli[@]}" -n 1 llen list
	"${cli[@]}" -n 1 lindex list 199
	"${cli[@]}" -n 1 hgetall h
	"${cli[@]}" -n 1 get counter
	"${cli[@]}" -n 1 dbsize
	"${cli[@]}" shutdown nosave
	rc=0
	wait "$pid" || rc=$?
	echo "redis-server exit status $rc"
	if [ "$rc" -ne 0 ]; then
		cat redis.log >&2
		return 1
	fi
}

# ---------------------------------------------------------------------------

if ! test_preload_loads; then
	echo "Bail out! $LIB cannot be preloaded"
	exit "$KSFT_FAIL"
fi

if [ -n "$PYTHON" ]; then
	run_test python "python3 allocation-heavy workload" "$PYTHON"
else
	run_test python "python3 allocation-heavy workload" python3
fi
run_test sort "sort of 2 million generated lines" sort awk sha256sum
run_test sqlite3 "sqlite3 table of 150k rows with indexes" sqlite3
run_test gcc "gcc -O2 on a generated 300-function file" gcc awk sha256sum
run_test git "git commits, log, gc, fsck, diff --stat" git awk sha256sum
run_test redis "redis-server with redis-benchmark and redis-cli" \
	redis-server redis-cli redis-benchmark

echo "# Totals: pass:$n_pass fail:$n_fail xfail:0 xpass:0 skip:$n_skip error:0"
echo "# $n_pass passed, $n_fail failed, $n_skip skipped"

if [ "$n_fail" -gt 0 ]; then
	exit "$KSFT_FAIL"
elif [ "$n_skip" -eq $((n_test - 1)) ]; then
	# Every program was skipped: only preload-loads ran.
	exit "$KSFT_SKIP"
fi
exit "$KSFT_PASS"
