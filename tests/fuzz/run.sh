#!/bin/sh
# run.sh - replay the seed corpora through the libFuzzer harnesses, or
# fuzz each harness for a bounded time. Used by "make fuzz-replay" and
# "make fuzz-run" (tests/fuzz/fuzz.mk); by hand:
#
#   tests/fuzz/run.sh replay BUILD/tests/fuzz tests/fuzz [HARNESS...]
#   tests/fuzz/run.sh fuzz   BUILD/tests/fuzz tests/fuzz SECONDS [HARNESS...]
#
# replay runs every file of corpus/HARNESS/ once (the regression test:
# each crash ever found is kept there). fuzz starts from those seeds and
# the dictionary HARNESS.dict when there is one, for SECONDS per
# harness, FUZZ_JOBS (default 2) harnesses at a time; new inputs go to
# BUILD/tests/fuzz/work/HARNESS, crashes to BUILD/tests/fuzz/artifacts.
# Prints one line per harness (executions, seconds, result) and exits 1
# when any harness crashed, leaked or timed out.

set -u
mode=$1 bin=$2 src=$3
shift 3
secs=60
if [ "$mode" = fuzz ]; then
	secs=$1
	shift
fi
harnesses=${*:-fuzz_config fuzz_policy fuzz_addr fuzz_from fuzz_authres fuzz_spf_record fuzz_dmarc fuzz_message}
jobs=${FUZZ_JOBS:-2}
# per harness: the largest input worth trying (bytes)
max_len() {
	case $1 in
	fuzz_message) echo 65536 ;;
	fuzz_config|fuzz_policy|fuzz_dmarc) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

mkdir -p "$bin/logs" "$bin/artifacts"
# leaks are errors; libFuzzer's own malloc limit stops runaway inputs
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# one HARNESS - run it; the result line goes to logs/HARNESS.result
one() {
	h=$1 log=$bin/logs/$1.log res=$bin/logs/$1.result
	corpus=$src/corpus/$h
	dict=""
	[ -f "$src/$h.dict" ] && dict="-dict=$src/$h.dict"
	start=$(date +%s)
	# the harness's scratch files (libFuzzer does not always run atexit)
	TMPDIR=$bin/tmp/$h
	export TMPDIR
	rm -rf "$TMPDIR"
	mkdir -p "$TMPDIR"
	if [ "$mode" = replay ]; then
		set -- $(find "$corpus" -type f | sort)
		n=$#
		if [ $n -eq 0 ]; then	# no file: libFuzzer would fuzz forever
			echo "$h: no seed corpus in $corpus: FAILED" >"$res"
			return
		fi
		"$bin/$h" -rss_limit_mb=2048 -timeout=25 "$@" >"$log" 2>&1
		rc=$?
		t=$(($(date +%s) - start))
		if [ $rc -eq 0 ]; then
			echo "$h: replayed $n inputs in ${t}s: ok" >"$res"
		else
			echo "$h: replay FAILED (exit $rc), see $log" >"$res"
		fi
	else
		mkdir -p "$bin/work/$h"
		"$bin/$h" -max_total_time="$secs" -max_len="$(max_len "$h")" -timeout=25 \
		    -rss_limit_mb=2048 -print_final_stats=1 $dict \
		    -artifact_prefix="$bin/artifacts/$h-" "$bin/work/$h" "$corpus" >"$log" 2>&1
		rc=$?
		t=$(($(date +%s) - start))
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1)
		if [ $rc -eq 0 ]; then
			echo "$h: ${execs:-?} executions in ${t}s, ${cov:-cov: ?}: ok" >"$res"
		else
			echo "$h: ${execs:-?} executions in ${t}s: FAILED (exit $rc), see $log" >"$res"
		fi
	fi
}

running=0
trap 'rm -rf "$bin/tmp"' EXIT
for h in $harnesses; do
	if [ ! -x "$bin/$h" ]; then
		echo "$h: not built ($bin/$h)" >"$bin/logs/$h.result"
		continue
	fi
	one "$h" &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

failed=0
for h in $harnesses; do
	cat "$bin/logs/$h.result"
	if ! grep -q ': ok$' "$bin/logs/$h.result"; then
		failed=1
		[ -f "$bin/logs/$h.log" ] && grep -A 40 -m 1 -E 'ERROR: |runtime error|deadly signal' \
		    "$bin/logs/$h.log" | head -n 60
	fi
done
exit $failed
