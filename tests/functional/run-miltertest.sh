#!/bin/sh
# run-miltertest.sh - the real tollgate daemon driven by miltertest(8):
# relay, size, submission, monitor mode, policy verdicts, escaping of
# network text, configuration checks, SIGHUP reload and SIGTERM.
#
# Run by "make check" (env top_srcdir, top_builddir) or by hand:
#   top_builddir=/path/to/build tests/functional/run-miltertest.sh
# Exit: 0 all passed, 1 something failed, 77 miltertest missing.
# Prints "ok - NAME" / "not ok - NAME: expected X, got Y" per case.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/functional/lib.sh"

tg_need_cmd miltertest timeout awk
tg_init miltertest

CONF=$TG_DIR/tollgate.conf
POLICY=$TG_DIR/policy.conf

# ---------------------------------------------------------------- suites

: >"$POLICY"
tg_suite relay "TrustedNetworks 127.0.0.0/8, ::1/128"

tg_suite size "MaxMessageSize 10K"

cat >"$TG_DIR/sender-logins" <<'EOF'
# sender address or @domain, then the logins that may use it
alice@example.org	alice
@sales.example.org	bob, carol
EOF
tg_suite submission "TrustedNetworks 192.0.2.0/24" \
    "SubmissionDaemons submission, msa" \
    "SenderLoginMap $TG_DIR/sender-logins"

tg_suite escape "MaxMessageSize 1K"

# policy-driven verdicts (need the policy engine, src/policy.c)
cp "$TG_FUNC_DIR/policy-test.conf" "$POLICY"
tg_suite policy "MaxMessageSize 1M" "TrustedNetworks 192.0.2.0/24"

tg_suite monitor "Mode monitor" "MaxMessageSize 1K" "SubmissionDaemons submission"
: >"$POLICY"

tg_suite json "LogFormat json" "MaxMessageSize 1K"
tg_reap_suites

# ---------------------------------------------------------------- LogFormat json

# json_field QID KEY - KEY of the verdict line of QID (the EOM line when
# there is one), "-" when absent
json_lines() {
	sed -n 's/^tollgate\[[0-9]*\]: //p' "$TG_DIR/json.log"
}
if command -v jq >/dev/null 2>&1; then
	if json_lines | jq -e . >/dev/null 2>&1; then
		tg_pass "json: every log line is valid JSON"
	else
		tg_fail "json: every log line is valid JSON" "valid JSON" \
		    "$(json_lines | while IFS= read -r l; do printf '%s\n' "$l" | jq -e . >/dev/null 2>&1 || printf '%s' "$l"; done | head -c 300)"
	fi
	got=$(json_lines | jq -r 'select(.qid == "JS1" and .from) | .from' 2>/dev/null | od -An -c | tr -s ' ' | head -c 200)
	want=$(printf '<evil\r\n"x"@remote.example>\n' | od -An -c | tr -s ' ')
	tg_eq "json: CR LF and quotes in the sender survive as JSON escapes" "$want" "$got"
	got=$(json_lines | jq -r 'select(.qid == "JS2" and .action) | "\(.action) \(.code) \(.xcode) \(.rule) \(.ref)"' 2>/dev/null)
	tg_eq "json: EOM verdict fields" "reject 552 5.3.4 size-limit JS2" "$got"
	got=$(json_lines | jq -r 'select(.qid == "JS3" and .action) | "\(.action) \(.nrcpt) \(.rcpt)"' 2>/dev/null)
	tg_eq "json: accept verdict fields" "accept 1 <bob@example.org>" "$got"
	dups=$(json_lines | while IFS= read -r l; do
		printf '%s\n' "$l" | jq -c --stream 'select(length == 2) | .[0][0]' 2>/dev/null | sort | uniq -d
	done | sort -u | tr '\n' ' ')
	tg_eq "json: no key twice in an object" "" "$dups"
else
	echo "# jq not found: LogFormat json lines not checked"
fi

# ---------------------------------------------------------------- tollgate -n

# check_n NAME CONF EXPECTED-RC [STRING...] - tollgate -n exit status and
# each STRING in its stderr
check_n() {
	local name="$1" conf="$2" want="$3" rc s err="$TG_DIR/n.err"
	shift 3
	timeout 20 "$TOLLGATE" -n -c "$conf" >"$TG_DIR/n.out" 2>"$err"
	rc=$?
	if [ "$want" = nonzero ]; then
		if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then
			tg_pass "$name: exit status non-zero"
		else
			tg_fail "$name: exit status" "non-zero" "$rc"
		fi
	else
		tg_eq "$name: exit status" "$want" "$rc"
	fi
	for s in "$@"; do
		tg_grep "$name: reports $s" "$s" "$err"
	done
}

: >"$POLICY"
tg_write_conf "$CONF"
check_n "tollgate -n good config" "$CONF" 0
tg_grep "tollgate -n good config: says OK" "configuration and policy OK" "$TG_DIR/n.out"
tg_grep "tollgate -n good config: prints effective LocalDomains" \
    "LocalDomains example.org, .example.org" "$TG_DIR/n.out"

BAD=$TG_DIR/bad.conf
tg_write_conf "$BAD"
cat >>"$BAD" <<'EOF'
# the next two lines are wrong
Bogus yes
OnInternalError sometimes
EOF
l1=$(grep -n '^Bogus' "$BAD" | cut -d: -f1)
l2=$(grep -n '^OnInternalError' "$BAD" | cut -d: -f1)
check_n "tollgate -n broken config" "$BAD" nonzero \
    "$BAD:$l1: unknown setting \"Bogus\"" \
    "$BAD:$l2: expected tempfail or accept, got \"sometimes\""

tg_write_conf "$BAD" "MaxMessageSize 10Q"
l1=$(grep -n '^MaxMessageSize' "$BAD" | cut -d: -f1)
check_n "tollgate -n bad size" "$BAD" nonzero \
    "$BAD:$l1: expected a size in bytes with optional K, M or G, got \"10Q\""

tg_write_conf "$BAD"
grep -v '^LocalDomains' "$BAD" >"$BAD.2" && mv "$BAD.2" "$BAD"
check_n "tollgate -n without LocalDomains" "$BAD" nonzero "LocalDomains is not set"

tg_write_conf "$BAD" "PolicyFile $TG_DIR/no-such-policy.conf"
check_n "tollgate -n missing policy file" "$BAD" nonzero "no-such-policy.conf"

BADPOL=$TG_DIR/bad-policy.conf
printf 'set tag-threshold 5\nrule broken: helo is -> reject\nrule ok: always -> accept\nrule worse: size > lots -> tag\n' >"$BADPOL"
tg_write_conf "$BAD" "PolicyFile $BADPOL"
check_n "tollgate -n broken policy" "$BAD" nonzero \
    "$BADPOL:2:" "$BADPOL:4:"

# ---------------------------------------------------------------- SIGHUP / SIGTERM

# hup_and_wait LOG - SIGHUP the daemon and wait for its answer in the log;
# HUP_RESULT: reloaded, refused or timeout
hup_and_wait() {
	local ok0 bad0 t="100"
	ok0=$(grep -c 'reloaded ' "$1")
	bad0=$(grep -c 'still running the previous configuration' "$1")
	kill -HUP "$TG_PID"
	HUP_RESULT=timeout
	while [ $t -gt 0 ]; do
		if [ "$(grep -c 'reloaded ' "$1")" -gt "$ok0" ]; then
			HUP_RESULT=reloaded
			break
		fi
		if [ "$(grep -c 'still running the previous configuration' "$1")" -gt "$bad0" ]; then
			HUP_RESULT=refused
			break
		fi
		sleep 0.1
		t=$((t - 1))
	done
	sleep 0.2	# the line is written just before the swap
}

# the daemons from here on: CONF, with tg_write_conf's socket
SOCK=$TG_DIR/tollgate.sock
LOG=$TG_DIR/reload.log
cat >"$POLICY" <<'EOF'
rule block-helo: helo is "bad.example" -> reject 550 5.7.1 "go away"
EOF
tg_write_conf "$CONF" "MaxMessageSize 10K"
cp "$CONF" "$TG_DIR/good.conf"
if tg_start "$CONF" "$LOG"; then
	tg_grep "start-up line names the policy file" "policy $POLICY" "$LOG"
	tg_run_lua reload-before "$LOG" -D PHASE="at start"

	# 1. a broken tollgate.conf: error with file:line, old config kept
	tg_write_conf "$CONF" "MaxMessageSize 10K" "Mode sometimes"
	hup_and_wait "$LOG"
	tg_eq "SIGHUP with a broken tollgate.conf is refused" refused "$HUP_RESULT"
	l1=$(grep -n '^Mode' "$CONF" | cut -d: -f1)
	tg_grep "SIGHUP broken conf: log names file:line" \
	    "$CONF:$l1: expected enforce or monitor, got \"sometimes\"" "$LOG"
	tg_run_lua reload-before "$LOG" -D PHASE="after a broken conf"

	# 2. a broken policy: error with file:line, old policy kept
	cp "$TG_DIR/good.conf" "$CONF"
	printf 'rule block-helo: helo is "bad.example" -> reject 550 5.7.1 "go away"\nrule oops: helo is -> \n' >"$POLICY"
	hup_and_wait "$LOG"
	tg_eq "SIGHUP with a broken policy is refused" refused "$HUP_RESULT"
	tg_grep "SIGHUP broken policy: log names file:line" "$POLICY:2:" "$LOG"
	tg_run_lua reload-before "$LOG" -D PHASE="after a broken policy"

	# 3. a good new conf and policy: both take effect
	cat >"$POLICY" <<'EOF'
rule block-helo2: helo is "worse.example" -> reject 550 5.7.1 "go away too"
EOF
	tg_write_conf "$CONF" "MaxMessageSize 20K"
	hup_and_wait "$LOG"
	tg_eq "SIGHUP with a good config and policy reloads" reloaded "$HUP_RESULT"
	tg_run_lua reload-after "$LOG"

	# 4. SIGTERM: exits 0, removes its pid file and nothing else
	tg_eq "pid file holds the daemon's pid" "$TG_PID" "$(cat "$TG_DIR/tollgate.pid" 2>/dev/null)"
	tg_stop
	tg_eq "SIGTERM: exit status" 0 "$?"
	if [ -e "$TG_DIR/tollgate.pid" ]; then
		tg_fail "SIGTERM: pid file removed" "no $TG_DIR/tollgate.pid" "it exists"
	else
		tg_pass "SIGTERM: pid file removed"
	fi
	for f in "$CONF" "$POLICY" "$LOG" "$TG_DIR/sender-logins"; do
		if [ -f "$f" ]; then
			tg_pass "SIGTERM: $(basename "$f") still there"
		else
			tg_fail "SIGTERM: $(basename "$f") still there" "the file" "gone"
		fi
	done
	tg_grep "SIGTERM: logs stopping" "stopped" "$LOG"
else
	tg_fail "reload: tollgate starts" "a socket" "no socket"
fi

# a second daemon on the same socket must not steal it from the first
tg_write_conf "$CONF"
: >"$POLICY"
LOG=$TG_DIR/twice.log
if tg_start "$CONF" "$LOG"; then
	first=$TG_PID
	timeout 20 "$TOLLGATE" -f -c "$CONF" >>"$TG_DIR/twice2.log" 2>&1 &
	second=$!
	tg_track "$second"
	sleep 1
	if tg_alive "$second"; then
		tg_fail "second daemon on a socket in use exits" "exit" "still running"
		tg_kill_pid "$second" 5
	else
		wait "$second"
		rc=$?
		if [ $rc -ne 0 ]; then tg_pass "second daemon on a socket in use exits non-zero"
		else tg_fail "second daemon on a socket in use exits non-zero" "non-zero" "$rc"; fi
		tg_untrack "$second"
	fi
	TG_PID=$first
	tg_run_lua alive "$LOG"
	tg_stop
else
	tg_fail "twice: tollgate starts" "a socket" "no socket"
fi

tg_summary
