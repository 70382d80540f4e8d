#!/usr/bin/env bash
# bench.sh - make bench: time chat against tests/bench/floor, the bare
# floor (two processes, one read/send/recv/write per message), on loopback.
#
# Workloads, each a scripted conversation with its transcripts checked
# (each side's stdout must be the other side's script as "They say: "
# lines, byte for byte):
#   short  100,000 turns of short lines (50,000 per side)
#   short1 the same, both sides held to one CPU (taskset): each wakes
#          the other with no cross-CPU interrupt, which on a VM costs
#          more than everything else in a turn; here what the programs
#          themselves cost shows, and the times hardly vary. A third
#          program runs in its pairs: floorpoll, the floor with --poll,
#          which waits for each frame in ppoll() as chat must; chat
#          against it is what chat costs beyond that wait
#   long   1,000 turns of 60 KiB lines (61,440 bytes of printable ASCII)
#   convs  one listener (no --once) serving 1,000 short conversations in
#          a row, each with a new connector whose input is one line: the
#          listener says "hello N", the connector replies, the listener
#          says "bye N", and the connector's input ends: QUIT. (Under
#          strict turns the connector's QUIT needs a second listener
#          line, so the listener's script has two lines a conversation.)
#          Run a third time as "secret", with CHAT_SECRET set for both
#          sides: the cost of chat/2's proofs.
#
# short, short1 and long run chat and floor in turn, A B A B: BENCH_PAIRS
# pairs (default 5) of short and of short1, BENCH_LONG_PAIRS (default 3
# times as many: a long run takes a tenth of a second) of long. Per
# workload: the median
# microseconds per message of each, wall and CPU (both sides); the
# median chat/floor wall ratio with its spread (min-max of the per-pair
# ratios), and the CPU ratio, which a busy machine disturbs less; the
# peak RSS of each side. Those runs write straight to files. The slowest
# turn comes from extra runs (BENCH_STAMPED, default 2 of each) whose
# two stdouts go through tests/bench/stamp, which notes when each line
# arrives: merged, the gaps are the turns. convs runs BENCH_CONV_PAIRS
# pairs (default 3) and reports conversations per second, the listener's
# CPU time per conversation and the slowest conversation.
#
# Targets (PASS/MISS, never a failure: CI does not gate on times):
# median ratio <= 1.10, slowest turn < 40 ms, peak RSS <= 2 MiB per side.
# Exits 1 if any transcript is wrong or a process failed (an exit status
# not 0, or still running after BENCH_LIMIT seconds: a hang), else 0.
#
# Peak RSS and CPU time come from tests/bench/rusage (getrusage of the
# waited-for child; no package needed). Helpers missing or older than
# their source are built here with $CC.
#
# Environment: CHAT=path (another build), BENCH_CPU (the CPU of short1;
# default the last one this shell may use), BENCH_PAIRS, BENCH_LONG_PAIRS,
# BENCH_STAMPED, BENCH_CONV_PAIRS, BENCH_CONVERSATIONS (1000),
# BENCH_LIMIT (seconds one run may take, 120), BENCH_KEEP=1 (keep the
# scratch directory).
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.." || exit 1

CHAT=${CHAT:-./chat}
FLOOR=tests/bench/floor
STAMP=tests/bench/stamp
RUSAGE=tests/bench/rusage
PAIRS=${BENCH_PAIRS:-5}
LONG_PAIRS=${BENCH_LONG_PAIRS:-$((3 * PAIRS))}	# a long run is short
STAMPED=${BENCH_STAMPED:-2}
CONV_PAIRS=${BENCH_CONV_PAIRS:-3}
CONVS=${BENCH_CONVERSATIONS:-1000}
LIMIT=${BENCH_LIMIT:-120}
CC=${CC:-cc}
# The last CPU this shell may run on (the affinity list's last number).
PIN_CPU=${BENCH_CPU:-$(taskset -pc $$ 2>/dev/null |
    sed 's/.*[-,: ]\([0-9][0-9]*\)$/\1/')}
PIN_CPU=${PIN_CPU:-0}

SHORT_TURNS=100000
LONG_TURNS=1000
LONG_BYTES=61440
RATIO_MAX=1.10
TURN_MAX_MS=40
RSS_MAX_KIB=2048

fail=0
bad() {
	echo "bench: FAIL: $*" >&2
	fail=1
}

for h in floor stamp rusage; do
	if [[ ! -x tests/bench/$h || tests/bench/$h.c -nt tests/bench/$h ]]; then
		echo "bench: building tests/bench/$h" >&2
		$CC -std=c11 -Wall -Wextra -pedantic -O2 -g \
		    -o tests/bench/$h tests/bench/$h.c || exit 1
	fi
done
if [[ ! -x $CHAT ]]; then
	echo "bench: no $CHAT: run make first" >&2
	exit 1
fi

tmp=$(mktemp -d) || exit 1
# shellcheck disable=SC2317	# (called by the trap)
cleanup() {
	local pid
	for pid in $(jobs -p); do
		kill "$pid" 2>/dev/null
	done
	if [[ ${BENCH_KEEP:-} == 1 ]]; then
		echo "bench: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_us() {
	local t=$EPOCHREALTIME
	echo $(( ${t%[.,]*} * 1000000 + 10#${t#*[.,]} ))
}

# === Scripts and the transcripts they must give ===========================

# short: "line N from listener" / "line N from connector".
awk -v n=$((SHORT_TURNS / 2)) 'BEGIN {
	for (i = 1; i <= n; i++) print "line " i " from listener" }' \
	> "$tmp/short.L"
awk -v n=$((SHORT_TURNS / 2)) 'BEGIN {
	for (i = 1; i <= n; i++) print "line " i " from connector" }' \
	> "$tmp/short.C"
# long: LONG_BYTES of printable ASCII a line, each line its own (a
# numbered head, then the 95 printable characters from a moving start).
gen_long() {
	awk -v n=$((LONG_TURNS / 2)) -v bytes=$LONG_BYTES -v who="$1" \
	    -v step="$2" 'BEGIN {
		for (c = 32; c < 127; c++)
			chars = chars sprintf("%c", c)
		base = chars
		while (length(base) < bytes + 95)
			base = base base
		for (i = 1; i <= n; i++) {
			head = "line " i " from " who ": "
			print head substr(base, (i * step) % 95 + 1,
			    bytes - length(head))
		}
	}'
}
gen_long listener 7 > "$tmp/long.L"
gen_long connector 11 > "$tmp/long.C"
# convs: per conversation the listener says two lines, the connector
# replies to the first, and its input ends at its second turn (QUIT).
awk -v n="$CONVS" 'BEGIN { for (i = 1; i <= n; i++) {
	print "hello " i " from listener"; print "bye " i " from listener" } }' \
	> "$tmp/convs.L"
awk -v n="$CONVS" 'BEGIN {
	for (i = 1; i <= n; i++) print "reply " i " from connector" }' \
	> "$tmp/convs.C"
# A side's stdout is the other side's lines as "They say: " lines.
cp "$tmp/short.L" "$tmp/short1.L"
cp "$tmp/short.C" "$tmp/short1.C"
for w in short short1 long convs; do
	sed 's/^/They say: /' "$tmp/$w.C" > "$tmp/$w.Lexp"
	sed 's/^/They say: /' "$tmp/$w.L" > "$tmp/$w.Cexp"
done

# === Running one conversation ===============================================

# start_listener RUN STAMPED PROG ARGS...: start PROG --listen ARGS under
# rusage, stdin $tmp/RUN.in, stdout RUN.lout (through stamp if STAMPED),
# stderr through a FIFO until its "Listening on" line (10 s at most), the
# rest to RUN.lerr. Sets lpid, catpid and port; returns 1 if it failed.
start_listener() {
	local run=$1 stamped=$2 prog=$3 w r line
	shift 3
	rm -f "$run.fifo"
	mkfifo "$run.fifo" || return 1
	if [[ $stamped == 1 ]]; then
		"${pin[@]}" "$RUSAGE" -t "$LIMIT" "$run.lru" "$prog" --listen "$@" \
		    <"$run.in" 2>"$run.fifo" |
		    "$STAMP" "$run.lout" "$run.ltimes" &
	else
		"${pin[@]}" "$RUSAGE" -t "$LIMIT" "$run.lru" "$prog" --listen "$@" \
		    <"$run.in" >"$run.lout" 2>"$run.fifo" &
	fi
	lpid=$!
	# Read-write first: opening the reading end alone would block
	# until the listener opens its end, with no deadline.
	# shellcheck disable=SC2094	# (both ends of the FIFO: on purpose)
	exec {w}<>"$run.fifo" {r}<"$run.fifo"
	line=
	read -r -t 10 -u "$r" line
	exec {w}>&-
	cat <&"$r" >"$run.lerr" &
	catpid=$!
	exec {r}<&-
	port=${line##*:}
	if [[ $line != "Listening on 127.0.0.1:"* || ! $port =~ ^[0-9]+$ ]]
	then
		bad "$run: no 'Listening on' line within 10 s (got '$line')"
		kill "$lpid" 2>/dev/null
		wait "$lpid" "$catpid"
		return 1
	fi
	return 0
}

# ru_field FILE NAME: a field of a rusage report ("status" etc.).
ru_field() {
	local words i
	read -r -a words < "$1" 2>/dev/null || { echo "?"; return; }
	for ((i = 0; i < ${#words[@]} - 1; i += 2)); do
		if [[ ${words[i]} == "$2" ]]; then
			echo "${words[i + 1]}"
			return
		fi
	done
	echo "?"
}

# check_run RUN WORKLOAD WHAT: both exited 0, both transcripts right;
# else say what is wrong and return 1.
check_run() {
	local run=$1 w=$2 what=$3 side st before=$fail
	fail=0
	for side in listener connector; do
		# (convs: the connectors are not under rusage; they are
		# checked one by one as they exit)
		[[ -e $run.${side:0:1}ru ]] || continue
		st=$(ru_field "$run.${side:0:1}ru" status)
		if [[ $st != 0 ]]; then
			bad "$what: $side exit status $st; stderr:" \
			    "$(head -c 300 "$run.${side:0:1}err" 2>/dev/null)"
		fi
	done
	if ! cmp -s "$run.lout" "$tmp/$w.Lexp"; then
		bad "$what: listener transcript wrong" \
		    "($(cmp "$run.lout" "$tmp/$w.Lexp" 2>&1 | head -1))"
	fi
	if ! cmp -s "$run.cout" "$tmp/$w.Cexp"; then
		bad "$what: connector transcript wrong" \
		    "($(cmp "$run.cout" "$tmp/$w.Cexp" 2>&1 | head -1))"
	fi
	if ((fail)); then
		return 1
	fi
	fail=$before
	return 0
}

# ru_cpu FILE: user + system microseconds of a rusage report.
ru_cpu() {
	echo $(( $(ru_field "$1" utime_us) + $(ru_field "$1" stime_us) ))
}

# one_run WORKLOAD NAME PROG N STAMPED: one conversation of a script,
# timed from starting the listener to both exiting; appends
# "WORKLOAD NAME N WALL_US LRSS_KIB CRSS_KIB CPU_US" to $tmp/results
# (CPU: user + system time of both sides), or with STAMPED, "WORKLOAD
# NAME turns ..." (stamp --turns) to $tmp/turns. A failed run is
# reported and left out.
one_run() {
	local w=$1 name=$2 prog=$3 n=$4 stamped=$5 run t0 t1 cpid cpu
	run=$tmp/run.$w.$name.$n.$stamped
	ln -sf "$tmp/$w.L" "$run.in"
	t0=$(now_us)
	start_listener "$run" "$stamped" "$prog" 127.0.0.1:0 --once \
	    "${extra[@]}" || return
	if [[ $stamped == 1 ]]; then
		"${pin[@]}" "$RUSAGE" -t "$LIMIT" "$run.cru" "$prog" \
		    --connect "127.0.0.1:$port" "${extra[@]}" <"$tmp/$w.C" \
		    2>"$run.cerr" |
		    "$STAMP" "$run.cout" "$run.ctimes" &
	else
		"${pin[@]}" "$RUSAGE" -t "$LIMIT" "$run.cru" "$prog" \
		    --connect "127.0.0.1:$port" "${extra[@]}" <"$tmp/$w.C" \
		    >"$run.cout" 2>"$run.cerr" &
	fi
	cpid=$!
	wait "$cpid" "$lpid" "$catpid"
	t1=$(now_us)
	if ! check_run "$run" "$w" \
	    "$w $name run $n$( ((stamped)) && echo " (stamped)")"; then
		:	# a failed run counts for nothing
	elif [[ $stamped == 1 ]]; then
		echo "$w $name $("$STAMP" --turns "$run.ctimes" "$run.ltimes")" \
		    >> "$tmp/turns"
		printf '  %-6s %-5s stamped run: %s\n' "$w" "$name" \
		    "$(tail -1 "$tmp/turns" | cut -d' ' -f3-)"
	else
		cpu=$(( $(ru_cpu "$run.lru") + $(ru_cpu "$run.cru") ))
		echo "$w $name $n $((t1 - t0)) $(ru_field "$run.lru" maxrss_kib)" \
		    "$(ru_field "$run.cru" maxrss_kib) $cpu" >> "$tmp/results"
		printf '  %-6s %-5s run %d: %8.3f s, CPU %8.3f s, RSS %s / %s KiB\n' \
		    "$w" "$name" "$n" "$(( (t1 - t0) / 1000 ))e-3" \
		    "$(( cpu / 1000 ))e-3" "$(ru_field "$run.lru" maxrss_kib)" \
		    "$(ru_field "$run.cru" maxrss_kib)"
	fi
	rm -f "$run".lout "$run".cout	# up to 30 MB each
}

# conv_run NAME PROG N: one listener, CONVS connectors one after another.
# Appends "convs NAME N WALL_US LRSS_KIB CPU_US" to $tmp/results and
# "convs NAME turns ..." for the gaps between conversations.
conv_run() {
	local name=$1 prog=$2 n=$3 run t0 t1 i line cpid st late dog
	run=$tmp/run.convs.$name.$n
	ln -sf "$tmp/convs.L" "$run.in"
	: > "$run.cout"
	: > "$run.cerr"
	t0=$(now_us)
	start_listener "$run" 1 "$prog" 127.0.0.1:0 || return
	# The listener has LIMIT seconds (rusage -t); so have the
	# connectors, all together: a watchdog interrupts the wait for one
	# that hangs.
	late=0
	trap 'late=1' USR1
	(
		trap 'kill "$nap"; exit' TERM
		sleep "$LIMIT" &
		nap=$!
		wait "$nap" && kill -USR1 $$
	) &
	dog=$!
	i=0
	while IFS= read -r line; do
		i=$((i + 1))
		"$prog" --connect "127.0.0.1:$port" <<<"$line" \
		    >>"$run.cout" 2>>"$run.cerr" &
		cpid=$!
		wait "$cpid"
		st=$?
		if ((late)); then
			kill -KILL "$cpid" 2>/dev/null
			wait "$cpid"
			bad "convs $name run $n: connector $i still running" \
			    "after $LIMIT s"
			break
		fi
		if ((st != 0)); then
			bad "convs $name run $n: connector $i exit status $st:" \
			    "$(tail -3 "$run.cerr")"
			break
		fi
	done < "$tmp/convs.C"
	kill "$dog" 2>/dev/null
	wait "$dog" 2>/dev/null
	trap - USR1
	if ((i < CONVS || late)); then
		kill "$lpid" 2>/dev/null
	fi
	wait "$lpid" "$catpid"
	t1=$(now_us)
	check_run "$run" convs "convs $name run $n" || return
	echo "convs $name $n $((t1 - t0)) $(ru_field "$run.lru" maxrss_kib)" \
	    "$(ru_cpu "$run.lru")" >> "$tmp/results"
	# One listener line per conversation: its gaps are whole
	# conversations, connector start-up included.
	awk 'NR > 1 { printf "%.3f\n", ($1 - p) / 1e6 } { p = $1 }' \
	    "$run.ltimes" | sort -n | tail -1 |
	    sed "s/^/convs $name slowest_conv_ms /" >> "$tmp/turns"
	printf '  convs %-5s run %d: %8.3f s, listener RSS %s KiB, CPU %s us\n' \
	    "$name" "$n" "$(( (t1 - t0) / 1000 ))e-3" \
	    "$(ru_field "$run.lru" maxrss_kib)" \
	    "$(tail -1 "$tmp/results" | cut -d' ' -f6)"
}

# === The runs ===============================================================

: > "$tmp/results"
: > "$tmp/turns"
start=$(now_us)
echo "bench: $CHAT ($("$CHAT" --version | head -1)$(
    [[ $CHAT == ./chat ]] && git describe --always --dirty 2>/dev/null |
    sed 's/^/, tree /')) against $FLOOR"
echo "bench: $(nproc 2>/dev/null || echo ?) CPUs, $(uname -sr)," \
    "load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
pin=()
extra=()	# more arguments for both sides (floor --poll)
for w in short short1 long; do
	n=$PAIRS
	[[ $w == long ]] && n=$LONG_PAIRS
	pin=()
	if [[ $w == short1 ]]; then
		if ! command -v taskset >/dev/null; then
			echo "bench: short1 left out: no taskset (util-linux)"
			continue
		fi
		# (rusage itself is pinned: the program inherits it, and
		# taskset's own memory stays out of the peak RSS)
		pin=(taskset -c "$PIN_CPU")
	fi
	for ((p = 1; p <= n; p++)); do
		one_run $w chat "$CHAT" $p 0
		one_run $w floor "$FLOOR" $p 0
		if [[ $w == short1 ]]; then
			extra=(--poll)
			one_run $w floorpoll "$FLOOR" $p 0
			extra=()
		fi
	done
	# (short1's slowest turn would include the stamping process
	# queueing behind both sides on the one CPU: not measured)
	[[ $w == short1 ]] && continue
	for ((p = 1; p <= STAMPED; p++)); do
		one_run $w chat "$CHAT" $p 1
		one_run $w floor "$FLOOR" $p 1
	done
done
pin=()
for ((p = 1; p <= CONV_PAIRS; p++)); do
	conv_run chat "$CHAT" $p
	conv_run floor "$FLOOR" $p
	# The same with a shared secret on both sides: chat/2's handshake
	# with nonces and proofs, what a secret costs a conversation.
	CHAT_SECRET=bench-secret-0123456789 conv_run secret "$CHAT" $p
done

# === Report ==================================================================

echo
echo "bench: results ($(( ($(now_us) - start) / 1000000 )) s in all)"
awk -v short_turns=$SHORT_TURNS -v long_turns=$LONG_TURNS -v convs="$CONVS" \
    -v pin_cpu="$PIN_CPU" \
    -v ratio_max=$RATIO_MAX -v turn_max=$TURN_MAX_MS -v rss_max=$RSS_MAX_KIB '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)	# insertion sort: n is small
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function verdict(ok) { return ok ? "PASS" : "MISS" }
# ratios(W, BASE): chat against BASE in workload W, pair by pair: sets m,
# lo, hi (wall) and cm, clo, chi (CPU); returns the number of pairs.
function ratios(w, base,    p, n, r, c) {
	n = 0; lo = ""; hi = ""; clo = ""; chi = ""
	for (p = 1; p <= pairs[w]; p++) {
		if (!((w, "chat", p) in wall_of) || !((w, base, p) in wall_of))
			continue
		r[++n] = wall_of[w, "chat", p] / wall_of[w, base, p]
		if (lo == "" || r[n] < lo) lo = r[n]
		if (hi == "" || r[n] > hi) hi = r[n]
		c[n] = cpu_of[w, "chat", p] / cpu_of[w, base, p]
		if (clo == "" || c[n] < clo) clo = c[n]
		if (chi == "" || c[n] > chi) chi = c[n]
	}
	m = n > 0 ? median(r, n) : 0
	cm = n > 0 ? median(c, n) : 0
	return n
}
FILENAME ~ /turns$/ {
	if ($3 == "turns") {
		# $4 turns, $6 max_us, $8 at, $10 p50_us, $12 p99_us
		if (!(($1, $2) in turn) || $6 + 0 > turn[$1, $2]) {
			turn[$1, $2] = $6 + 0
			info[$1, $2] = "message " $8 "; median turn " $10 \
			    " us, p99 " $12 " us"
		}
	} else if ($3 == "slowest_conv_ms")
		slowconv[$2] = $4 + 0 > slowconv[$2] + 0 ? $4 + 0 : slowconv[$2]
	next
}
{
	key = $1 SUBSEP $2
	k = ++count[key]
	wall[key, k] = $4
	wall_of[$1, $2, $3] = $4
	pairs[$1] = $3 > pairs[$1] ? $3 : pairs[$1]
	if ($5 > lrss[key]) lrss[key] = $5
	if ($1 == "convs") cpu[key, k] = $6
	else {
		if ($6 > crss[key]) crss[key] = $6
		cpu[key, k] = $7
		cpu_of[$1, $2, $3] = $7
	}
}
END {
	for (wi = 1; wi <= 3; wi++) {
		w = wi == 1 ? "short" : wi == 2 ? "short1" : "long"
		if (!(w in pairs))
			continue
		msgs = w == "long" ? long_turns : short_turns
		printf "\n%s: %d turns of %s lines%s, %d pairs\n", w, msgs,
		    w == "long" ? "61440-byte" : "short",
		    w == "short1" ? ", both sides on CPU " pin_cpu : "",
		    pairs[w]
		printf "  median us/msg     wall       CPU   " \
		    "peak RSS listener / connector\n"
		for (ni = 1; ni <= 3; ni++) {
			name = ni == 1 ? "chat" : ni == 2 ? "floor" : "floorpoll"
			n = count[w, name]
			if (n == 0)
				continue
			for (k = 1; k <= n; k++) v[k] = wall[w, name, k] / msgs
			med = median(v, n)
			for (k = 1; k <= n; k++) v[k] = cpu[w, name, k] / msgs
			printf "  %-13s %8.2f  %8.2f   %8d / %d KiB\n", name,
			    med, median(v, n), lrss[w, name], crss[w, name]
		}
		if (count[w, "floorpoll"] > 0 && ratios(w, "floorpoll") > 0)
			printf "  chat/floorpoll: wall ratio %.3f (pairs " \
			    "%.3f-%.3f), CPU ratio %.3f (%.3f-%.3f)\n", m, lo,
			    hi, cm, clo, chi
		n = ratios(w, "floor")
		if (n > 0)
			printf "  chat/floor: wall ratio %.3f (pairs %.3f-%.3f)," \
			    " CPU ratio %.3f (%.3f-%.3f)\n", m, lo, hi,
			    cm, clo, chi
		for (ni = 1; ni <= 2; ni++) {
			name = ni == 1 ? "chat" : "floor"
			if ((w, name) in turn)
				printf "  slowest turn %-5s %7.3f ms (%s)\n", name,
				    turn[w, name] / 1000, info[w, name]
		}
		t = "n/a"
		if (n > 0)
			t = verdict(m <= ratio_max)
		printf "  target: wall ratio <= %.2f %s", ratio_max, t
		t = "n/a"
		if ((w, "chat") in turn)
			t = verdict(turn[w, "chat"] / 1000 < turn_max)
		printf "; slowest turn < %d ms %s", turn_max, t
		printf "; RSS <= %d KiB %s\n", rss_max,
		    verdict(lrss[w, "chat"] <= rss_max &&
		    crss[w, "chat"] <= rss_max)
	}
	printf "\nconvs: one listener, %d conversations in a row, %d run(s)\n",
	    convs, pairs["convs"]
	printf "  median        conv/s   listener CPU/conv  peak RSS  " \
	    "slowest conv\n"
	for (ni = 1; ni <= 3; ni++) {
		name = ni == 1 ? "chat" : ni == 2 ? "floor" : "secret"
		n = count["convs", name]
		if (n == 0) continue
		for (k = 1; k <= n; k++)
			v[k] = convs * 1e6 / wall["convs", name, k]
		cps = median(v, n)
		for (k = 1; k <= n; k++) v[k] = cpu["convs", name, k] / convs
		printf "  %-11s %8.0f   %11.1f us   %5d KiB  %8.3f ms\n",
		    name, cps, median(v, n), lrss["convs", name], slowconv[name]
	}
}' "$tmp/turns" "$tmp/results" || bad "the report failed"

echo
if [[ $fail != 0 ]]; then
	echo "bench: FAILED: a transcript or an exit status was wrong (above)"
	exit 1
fi
echo "bench: all transcripts right (times are reported, never failed on)"
exit 0
