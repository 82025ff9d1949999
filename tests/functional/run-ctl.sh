#!/bin/sh
# run-ctl.sh - tollgatectl(8) against a real, private Postfix: tollgate
# (as user postfix, RecordVerdicts all) holds mail by policy, and
# tollgatectl lists, shows, releases and deletes it, tests and replays
# messages with the same and with a changed policy, checks policies and
# counts. A real DNS server (nsd) in the test's own network namespace
# serves the SPF and DMARC records; Postfix listens on 127.0.0.1:2525
# and relays to an smtp-sink on :2526 that dumps what it gets.
#
# Needs root, postfix, swaks, smtp-sink, nsd, ip, bash; sqlite3 for the
# locked-store case. Exit 77 when they are missing. Prints
# "ok - NAME" / "not ok - NAME: expected X, got Y" per case.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/functional/lib.sh"
. "$top_srcdir/tests/functional/dnslib.sh"

CTL=${TOLLGATECTL:-$top_builddir/src/tollgatectl}

[ "$(id -u)" = 0 ] || tg_skip "needs root (network namespace, Postfix)"
tg_need_cmd postfix postqueue postsuper postcat postconf swaks smtp-sink nsd ip ss bash \
    timeout awk
getent passwd postfix >/dev/null || tg_skip "no postfix user"
[ -x "$CTL" ] || { echo "tollgatectl binary $CTL not built" >&2; exit 99; }
tg_init ctl
tg_netns_create || tg_skip "cannot create a network namespace"

PF=$TG_DIR/pf
RUN=$TG_DIR/run
SINK=$TG_DIR/sink
LOG=$TG_DIR/tollgate.log
CONF=$TG_DIR/tollgate.conf
POLICY=$TG_DIR/policy.conf
STATE=$TG_DIR/state/state.db	# its directory does not exist: tollgate makes it

mkdir -p "$RUN"
chown postfix:postfix "$RUN"

# ---------------------------------------------------------------- DNS
# 127.0.0.1 (where the mail comes from) may send for pass.example only
dns_zone example <<'ZONE'
quarantine        TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.quarantine TXT "v=DMARC1; p=quarantine"
reject            TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.reject     TXT "v=DMARC1; p=reject"
pass              TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc.pass       TXT "v=DMARC1; p=reject"
ZONE
dns_start || { tg_fail "nsd starts" "nsd answering" "no answer"; tg_summary; exit 1; }

# ---------------------------------------------------------------- tollgate
# the shipped policy, and a rule that holds on a subject; DNS waits are
# generous: under valgrind (TG_VALGRIND=1) a cold resolver takes seconds
{
	cat "$top_srcdir/conf/policy.conf"
	printf '\nrule hold: header Subject ~ /quarantine me/i -> quarantine "held for review"\n'
} >"$POLICY"
chmod 0644 "$POLICY"
# the pid file in a directory only root writes to (as /run often is)
TG_SOCK=$RUN/tollgate.sock TG_PIDFILE=$TG_DIR/tollgate.pid tg_write_conf "$CONF" \
    "TrustedNetworks 192.0.2.0/24" "UserID postfix:postfix" \
    "AuthservID mx.example.org" "Nameservers 127.0.0.1" "DNSTimeout 5s" \
    "CheckTimeout 20s" "StateDB $STATE" "RecordVerdicts all" \
    "PostfixConfigDir $PF/etc"
tg_start "$CONF" "$LOG" || { echo "tollgate did not start" >&2; exit 99; }

pf_setup "$PF" "$RUN/tollgate.sock"
# Postfix itself holds mail for one address: a held message tollgate
# did not hold
printf 'held-by-postfix@example.org HOLD\n' >"$PF/etc/hold_access"
postconf -c "$PF/etc" -e \
    "smtpd_recipient_restrictions = check_recipient_access texthash:$PF/etc/hold_access, permit"
sink_start "$SINK" || { echo "smtp-sink did not start" >&2; exit 99; }
pf_start "$PF" || { echo "postfix did not start" >&2; exit 99; }

# ---------------------------------------------------------------- helpers

# ctl ARGS... - tollgatectl with our config (in the namespace: its DNS);
# stdout in $OUT_CTL, stderr in $ERR_CTL, status in $RC_CTL
ctl() {
	OUT_CTL=$TG_DIR/ctl.out
	ERR_CTL=$TG_DIR/ctl.err
	tg_ns timeout 60 "$CTL" -c "$CONF" "$@" >"$OUT_CTL" 2>"$ERR_CTL"
	RC_CTL=$?
}

# message NAME FROM SUBJECT - write $TG_DIR/NAME.eml
message() {
	cat >"$TG_DIR/$1.eml" <<EOF
From: Sender <$2>
To: Bob <bob@example.org>
Subject: $3
Message-ID: <$1@test.example>
X-Test-Id: $1

Hello Bob, this is message $1.
EOF
}

# send NAME FROM [RCPT] - send NAME.eml; sets QID (empty if refused)
send() {
	OUT=$TG_DIR/$1.smtp
	tg_ns timeout 60 swaks --server "127.0.0.1:$PF_SMTP_PORT" --timeout 20 \
	    --helo client.remote.example --from "$2" --to "${3:-bob@example.org}" \
	    --data "@$TG_DIR/$1.eml" >"$OUT" 2>&1
	QID=$(sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' "$OUT" | tr -d '\r' | head -n 1)
}

# pf_queue QID - the Postfix queue holding QID, or "none"
pf_queue() {
	tg_ns postqueue -c "$PF/etc" -j | grep -F "\"queue_id\": \"$1\"" |
	    sed -n 's/.*"queue_name": "\([a-z]*\)".*/\1/p' | grep . || echo none
}

# in_hold QID - for tg_wait_for
in_hold() {
	[ "$(pf_queue "$1")" = hold ]
}

# sink_has NAME - the sink got the message with X-Test-Id: NAME
sink_has() {
	grep -l -F "X-Test-Id: $1" "$SINK"/* >/dev/null 2>&1
}

# logged QID FIELD - a field (action=, rule=) of tollgate's verdict line for QID
logged() {
	grep -F "qid=$1 " "$LOG" | grep ' action=' | tail -n 1 |
	    sed -n "s/.* $2=\([^ ]*\).*/\1/p"
}

# json_field FILE KEY - the first "KEY":"value" in a JSON text
json_field() {
	sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\)\"\{0,1\}[,}].*/\1/p" "$1" | head -n 1
}

# ---------------------------------------------------------------- held by policy

message q1 a@quarantine.example "invoice 42"
send q1 a@quarantine.example
Q1=$QID
tg_match "q1: accepted and queued" '^[0-9A-Za-z]+$' "$Q1"
if tg_wait_for 10 in_hold "$Q1"; then
	tg_pass "q1: DMARC p=quarantine: $Q1 is in Postfix's hold queue"
else
	tg_fail "q1: in the hold queue" "hold" "$(pf_queue "$Q1")"
fi
tg_eq "q1: tollgate logged quarantine by dmarc-quarantine" "quarantine dmarc-quarantine" \
    "$(logged "$Q1" action) $(logged "$Q1" rule)"

message q2 a@pass.example "please quarantine me"
send q2 a@pass.example
Q2=$QID
tg_wait_for 10 in_hold "$Q2"
tg_eq "q2: the subject rule held it" "quarantine hold" \
    "$(logged "$Q2" action) $(logged "$Q2" rule)"

message r1 a@reject.example "refused"
send r1 a@reject.example
tg_match "r1: DMARC p=reject refused at end of data" '^<\*\* 550 5\.7\.1 DMARC policy' \
    "$(grep '^<\*\* 550' "$OUT" | tr -d '\r' | head -n 1)"

# a relay attempt: refused at RCPT, recorded too (RecordVerdicts all)
message rl1 a@pass.example "relay me"
send rl1 a@pass.example someone@remote.example
tg_match "rl1: relay refused at RCPT" '^<\*\* 554 5\.7\.1 Relay access denied' \
    "$(grep '^<\*\* 554' "$OUT" | tr -d '\r' | head -n 1)"

message ok1 a@pass.example "hello"
send ok1 a@pass.example
OK1=$QID
tg_wait_for 15 sink_has ok1 && tg_pass "ok1: clean mail delivered" ||
    tg_fail "ok1: clean mail delivered" "in the sink" "not after 15 s"

message ph1 a@pass.example "for a held address"
send ph1 a@pass.example held-by-postfix@example.org
PH1=$QID
tg_wait_for 10 in_hold "$PH1"
tg_eq "ph1: Postfix held it (tollgate accepted it)" "hold accept" \
    "$(pf_queue "$PH1") $(logged "$PH1" action)"

tg_eq "the store was created in a new directory, owned by the daemon user, mode 640" \
    "postfix 640 postfix" \
    "$(stat -c '%U %a' "$STATE" 2>&1) $(stat -c %U "$(dirname "$STATE")" 2>&1)"

# ---------------------------------------------------------------- list

ctl quarantine list
tg_eq "list: exit 0" 0 "$RC_CTL"
tg_match "list: header line" '^QUEUE ID +HELD SINCE +STATE +SENDER +RECIPIENTS$' \
    "$(head -n 1 "$OUT_CTL")"
tg_match "list: q1 held, sender and recipient shown" \
    "^$Q1 +[0-9-]+ [0-9:]+ +held +a@quarantine\.example +bob@example\.org$" \
    "$(grep "^$Q1 " "$OUT_CTL")"
tg_match "list: q1's reason on the next line" \
    '^    dmarc-quarantine: DMARC policy of the sender domain requests quarantine$' \
    "$(grep -A1 "^$Q1 " "$OUT_CTL" | tail -n 1)"
tg_match "list: q2 held by the hold rule" '^    hold: held for review$' \
    "$(grep -A1 "^$Q2 " "$OUT_CTL" | tail -n 1)"
tg_match "list: what Postfix holds but tollgate did not is listed as unrecorded" \
    "^$PH1 +[0-9-]+ [0-9:]+ +unrecorded +a@pass\.example +held-by-postfix" \
    "$(grep "^$PH1 " "$OUT_CTL")"
tg_eq "list: newest first (q2 before q1)" "$Q2 $Q1" \
    "$(grep -E "^($Q1|$Q2) " "$OUT_CTL" | awk '{ printf "%s%s", s, $1; s = " " }')"
tg_eq "list: the refused and the delivered message are not listed" "" \
    "$(grep -F "$OK1" "$OUT_CTL")"
tg_eq "list: every line fits 80 columns" "" "$(awk 'length > 80' "$OUT_CTL")"
tg_grep "list: a count at the end" "3 messages" "$OUT_CTL"

ctl quarantine list --json
tg_eq "list --json: exit 0" 0 "$RC_CTL"
tg_match "list --json: an array of objects" '^\[\{"queue_id":' "$(cat "$OUT_CTL")"
tg_grep "list --json: q1 with its state" "{\"queue_id\":\"$Q1\"," "$OUT_CTL"
if grep -F "\"queue_id\":\"$Q1\"" "$OUT_CTL" | grep -qF '"rule":"dmarc-quarantine"' &&
    grep -qF '"state":"held","postfix_queue":"hold"' "$OUT_CTL"; then
	tg_pass "list --json: rule, state and Postfix queue"
else
	tg_fail "list --json: rule, state and Postfix queue" "rule dmarc-quarantine, state held" \
	    "$(head -c 300 "$OUT_CTL")"
fi
if command -v python3 >/dev/null 2>&1; then
	tg_eq "list --json: valid JSON with 3 entries" 3 \
	    "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <"$OUT_CTL" 2>&1)"
fi

ctl quarantine list --rule hold
tg_eq "list --rule hold: only q2" "$Q2" "$(awk 'NR > 1 && /^[^ ]/ && NF >= 4 { print $1 }' "$OUT_CTL")"
ctl quarantine list --sender QUARANTINE.example
tg_eq "list --sender (any case): only q1" "$Q1" \
    "$(awk 'NR > 1 && /^[^ ]/ && NF >= 4 { print $1 }' "$OUT_CTL")"
ctl quarantine list --reason DMARC-quar
tg_eq "list --reason (part of a reason, any case): only q1" "$Q1" \
    "$(awk 'NR > 1 && /^[^ ]/ && NF >= 4 { print $1 }' "$OUT_CTL")"

# ---------------------------------------------------------------- show

ctl quarantine show "$Q1"
tg_eq "show: exit 0" 0 "$RC_CTL"
tg_match "show: queue id and both states" "^Queue ID: +$Q1 \\(held; Postfix: hold queue\\)$" \
    "$(grep '^Queue ID:' "$OUT_CTL")"
tg_match "show: client" '^Client: +127\.0\.0\.1 ' "$(grep '^Client:' "$OUT_CTL")"
tg_match "show: sender" '^Sender: +<a@quarantine\.example>$' "$(grep '^Sender:' "$OUT_CTL")"
tg_match "show: recipients" '^Recipients: +<bob@example\.org>$' "$(grep '^Recipients:' "$OUT_CTL")"
tg_match "show: verdict with rule and score" \
    '^Verdict: +quarantine \(rule dmarc-quarantine, score 0\.0\)$' "$(grep '^Verdict:' "$OUT_CTL")"
tg_match "show: the DMARC result and its policy" '^ +dmarc=fail quarantine\.example p=quarantine' \
    "$(grep 'dmarc=fail' "$OUT_CTL")"
tg_grep "show: the message itself from the hold queue (tagged)" "Subject: [SPAM] invoice 42" \
    "$OUT_CTL"
tg_grep "show: ... with the Authentication-Results tollgate added" \
    "Authentication-Results: mx.example.org;" "$OUT_CTL"
tg_grep "show: ... and the body" "Hello Bob, this is message q1." "$OUT_CTL"

ctl quarantine show --json --no-message "$Q1"
tg_match "show --json: one object" "^\\{\"queue_id\":\"$Q1\"" "$(cat "$OUT_CTL")"

ctl quarantine show NOSUCH1D
tg_eq "show unknown id: exit 1" 1 "$RC_CTL"
tg_grep "show unknown id: says so" "NOSUCH1D: unknown queue id" "$ERR_CTL"
ctl quarantine show 'x;rm'
tg_eq "show: a malformed id is refused" "1 tollgatectl: \"x;rm\" is not a Postfix queue id" \
    "$RC_CTL $(cat "$ERR_CTL")"

# ---------------------------------------------------------------- test, replay

ctl test "$TG_DIR/q1.eml" --client-ip 127.0.0.1 --helo client.remote.example \
    --from a@quarantine.example --rcpt bob@example.org
tg_eq "test q1.eml: exit 0" 0 "$RC_CTL"
tg_eq "test q1.eml: the daemon's verdict, live DNS" \
    "verdict:  quarantine rule=dmarc-quarantine score=0.0 (at eom)" "$(head -n 1 "$OUT_CTL")"
tg_grep "test: the rule that decided" "matched:  dmarc-quarantine         decided" "$OUT_CTL"
tg_grep "test: the check results" "dmarc=fail         quarantine.example p=quarantine" "$OUT_CTL"
tg_grep "test: the Authentication-Results value" \
    "Authentication-Results: mx.example.org;" "$OUT_CTL"

ctl test "$TG_DIR/q2.eml" --client-ip 127.0.0.1 --helo client.remote.example
tg_eq "test q2.eml, envelope from the headers: the hold rule" \
    "verdict:  quarantine rule=hold score=0.0 (at eom)" "$(head -n 1 "$OUT_CTL")"
ctl test "$TG_DIR/r1.eml" --client-ip 127.0.0.1 --helo client.remote.example --json
tg_match "test --json r1.eml: reject with the reply" \
    '"verdict":\{"action":"reject",.*"code":"550","xcode":"5.7.1"' "$(cat "$OUT_CTL")"
ctl test "$TG_DIR/ok1.eml" --client-ip 127.0.0.1 --rcpt someone@remote.example
tg_grep "test: a relay recipient is refused as at RCPT" \
    "refused:  <someone@remote.example>: 554 5.7.1 Relay access denied" "$OUT_CTL"
ctl test "$TG_DIR/q1.eml"
tg_eq "test without --client-ip: usage error" 2 "$RC_CTL"

ctl test --id "$Q1"
tg_eq "test --id: the recorded results give the same verdict" \
    "verdict:  quarantine rule=dmarc-quarantine score=0.0 (at eom)" "$(head -n 1 "$OUT_CTL")"

{
	sed 's/^rule dmarc-quarantine: .*/rule dmarc-quarantine: dmarc is fail and dmarc-policy is quarantine/; s/^\t-> quarantine "DMARC policy of the sender domain requests quarantine"/\t-> reject 550 5.7.1 "DMARC quarantine is reject here"/' "$POLICY"
} >"$TG_DIR/new-policy.conf"
ctl test --id "$Q1" --policy "$TG_DIR/new-policy.conf"
tg_eq "test --id --policy: the candidate policy's verdict" \
    "verdict:  reject rule=dmarc-quarantine score=0.0 (at eom)" "$(head -n 1 "$OUT_CTL")"

ctl replay
tg_eq "replay: exit 0" 0 "$RC_CTL"
tg_match "replay with the running policy: nothing changes" '^0 verdicts would change\.$' \
    "$(grep 'would change' "$OUT_CTL")"
NREC=$(sed -n 's/^replayed \([0-9]*\) recorded.*/\1/p' "$OUT_CTL")
tg_eq "replay: every end-of-message verdict replayed" 5 "$NREC"
ctl replay --policy "$TG_DIR/new-policy.conf"
tg_match "replay --policy: one verdict changes" '^1 verdict would change:$' \
    "$(grep 'would change' "$OUT_CTL")"
tg_match "replay --policy: q1 quarantine -> reject" \
    "^$Q1 +[0-9-]+ [0-9:]+ +quarantine +reject +a@quarantine\\.example$" "$(grep "^$Q1 " "$OUT_CTL")"
tg_match "replay --policy: counts before and after" '^quarantine +2 +1$' \
    "$(grep '^quarantine ' "$OUT_CTL")"
ctl replay --policy "$TG_DIR/new-policy.conf" --json
tg_match "replay --json: totals" '"total":5,"changed":1' "$(cat "$OUT_CTL")"

# ---------------------------------------------------------------- check

printf 'rule a: spf is fail -> score 3\nrule b: helo is "x" ->\nrule c: dkim is maybe -> tag\n' \
    >"$TG_DIR/bad.conf"
ctl check "$TG_DIR/bad.conf"
tg_eq "check bad policy: exit 1" 1 "$RC_CTL"
tg_match "check: errors as file:line:col" "^$TG_DIR/bad\\.conf:2:[0-9]+: expected " \
    "$(sed -n 1p "$OUT_CTL")"
tg_match "check: every error, not the first" "^$TG_DIR/bad\\.conf:3:[0-9]+: expected " \
    "$(sed -n 2p "$OUT_CTL")"
ctl check "$TG_DIR/new-policy.conf"
tg_match "check good policy: OK with its rule count" 'new-policy\.conf: OK \([0-9]+ rules\)$' \
    "$(cat "$OUT_CTL")"
ctl check
tg_match "check the configuration and its policy" "^$CONF: OK \\(policy $POLICY, [0-9]+ rules\\)$" \
    "$(cat "$OUT_CTL")"

# ---------------------------------------------------------------- release, delete

ctl quarantine release "$Q2"
tg_eq "release q2: exit 0" 0 "$RC_CTL"
tg_match "release: says what went" "^released $Q2 \\(from a@pass\\.example to bob@example\\.org\\)$" \
    "$(cat "$OUT_CTL")"
if tg_wait_for 15 sink_has q2; then
	tg_pass "release: the sink got q2"
else
	tg_fail "release: the sink got q2" "in the sink" "not after 15 s (queue: $(pf_queue "$Q2"))"
fi
ctl quarantine show --no-message "$Q2"
tg_match "release: the store records who and when" '^State: +released by root at [0-9-]+ [0-9:]+$' \
    "$(grep '^State:' "$OUT_CTL")"
ctl quarantine release "$Q2"
tg_eq "release twice: exit 1" 1 "$RC_CTL"
tg_match "release twice: says by whom" "^tollgatectl: $Q2: already released by root at " \
    "$(cat "$ERR_CTL")"
ctl quarantine release NOSUCH2D
tg_eq "release unknown id: exit 1" 1 "$RC_CTL"
tg_grep "release unknown id: says so" "NOSUCH2D: unknown queue id" "$ERR_CTL"

ctl quarantine delete "$Q1"
tg_eq "delete q1: exit 0" 0 "$RC_CTL"
tg_eq "delete: Postfix no longer has q1" none "$(pf_queue "$Q1")"
ctl quarantine list --all --json
if grep -qF "{\"queue_id\":\"$Q1\"," "$OUT_CTL" &&
    grep -F "\"queue_id\":\"$Q1\"" "$OUT_CTL" | grep -q '"state":"deleted"'; then
	tg_pass "delete: list --all shows q1 deleted"
else
	tg_fail "delete: list --all shows q1 deleted" "state deleted" "$(head -c 300 "$OUT_CTL")"
fi
sleep 0.5
tg_eq "delete: q1 never reached the sink" no "$(sink_has q1 && echo yes || echo no)"

# held messages that change behind tollgate's back
message q3 a@quarantine.example "lost one"
send q3 a@quarantine.example
Q3=$QID
tg_wait_for 10 in_hold "$Q3"
tg_ns postsuper -c "$PF/etc" -d "$Q3" >/dev/null 2>&1
ctl quarantine list
tg_match "list: a held message Postfix lost shows as missing" \
    "^$Q3 +[0-9-]+ [0-9:]+ +missing " "$(grep "^$Q3 " "$OUT_CTL")"
tg_grep "list: ... and says so" "Postfix no longer has it" "$OUT_CTL"
ctl quarantine release "$Q3"
tg_eq "release of a lost message: exit 1" 1 "$RC_CTL"
tg_grep "release of a lost message: says why" "Postfix does not hold this message (it is gone)" \
    "$ERR_CTL"
ctl quarantine delete "$Q3"
tg_eq "delete of a lost message settles the record" \
    "0 $Q3: Postfix no longer had it; recorded as deleted" "$RC_CTL $(cat "$OUT_CTL")"

ctl quarantine delete "$PH1"
tg_match "delete of an unrecorded held message works, and says so" \
    "^deleted $PH1 .*; tollgate had not held it$" "$(cat "$OUT_CTL")"

# ---------------------------------------------------------------- a locked store

QUARANTINED=3 DELETED=2		# so far; the locked-store case adds one

if command -v sqlite3 >/dev/null 2>&1; then
	# another process holds the write lock for 4 s
	(printf 'BEGIN IMMEDIATE;\n'; sleep 4; printf 'COMMIT;\n') | sqlite3 "$STATE" &
	LOCKER=$!
	sleep 0.5
	message q4 a@quarantine.example "while the store is locked"
	send q4 a@quarantine.example
	Q4=$QID
	wait "$LOCKER"
	tg_wait_for 10 in_hold "$Q4"
	tg_eq "locked store: the verdict still applies (held)" "hold quarantine" \
	    "$(pf_queue "$Q4") $(logged "$Q4" action)"
	MS=$(grep -F "qid=$Q4 " "$LOG" | grep ' action=' | sed -n 's/.* ms=\([0-9]*\).*/\1/p')
	if [ -n "$MS" ] && [ "$MS" -lt 1000 ]; then
		tg_pass "locked store: the verdict took ${MS} ms, not the 4 s of the lock"
	else
		tg_fail "locked store: the verdict is not delayed" "ms < 1000" "ms=$MS"
	fi
	# the writer tried again until the lock went: recorded, nothing lost
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		ctl quarantine list
		grep -Eq "^$Q4 +[0-9-]+ [0-9:]+ +held " "$OUT_CTL" && break
		sleep 0.5
	done
	tg_match "locked store: recorded once the lock was released" \
	    "^$Q4 +[0-9-]+ [0-9:]+ +held " "$(grep "^$Q4 " "$OUT_CTL")"
	tg_nogrep "locked store: no record given up" "qid=$Q4 .*verdict not recorded" "$LOG"
	ctl quarantine delete "$Q4"
	tg_eq "locked store: its record is settled like any other" 0 "$RC_CTL"
	QUARANTINED=4 DELETED=3
else
	echo "# sqlite3 not found: locked-store case skipped"
fi

# ---------------------------------------------------------------- stats, purge

ctl stats
tg_eq "stats: exit 0" 0 "$RC_CTL"
tg_match "stats: the total" '^[0-9]+ verdicts since ' "$(head -n 1 "$OUT_CTL")"
tg_match "stats: quarantine count with outcomes" \
    "^  quarantine +$QUARANTINED .*\\(held 0, released 1, deleted $DELETED, expired 0\\)\$" \
    "$(grep '^  quarantine' "$OUT_CTL")"
tg_match "stats: rejects (end of data and RCPT)" '^  reject +2 ' "$(grep '^  reject' "$OUT_CTL")"
tg_grep "stats: rules by hits" "rules by hits:" "$OUT_CTL"
tg_match "stats: top rejected client" '^ +2  127\.0\.0\.1$' \
    "$(sed -n '/^top rejected clients:/{n;p;}' "$OUT_CTL")"
tg_eq "stats: top rejected sender domains" "pass.example reject.example" \
    "$(sed -n '/^top rejected sender domains:/,$p' "$OUT_CTL" | awk 'NR > 1 && NF == 2 { printf "%s%s", s, $2; s = " " }')"
ctl stats --json
tg_match "stats --json: counts" \
    "\"actions\":\\{\"accept\":2,\"tag\":0,\"quarantine\":$QUARANTINED,\"tempfail\":0,\"reject\":2\\}" \
    "$(cat "$OUT_CTL")"

message q5 a@quarantine.example "old one"
send q5 a@quarantine.example
Q5=$QID
tg_wait_for 10 in_hold "$Q5"
sleep 2.1
ctl quarantine purge --older-than 1s --dry-run
tg_grep "purge --dry-run: names what would go" "would expire $Q5" "$OUT_CTL"
tg_eq "purge --dry-run: nothing went" hold "$(pf_queue "$Q5")"
ctl quarantine purge --older-than 1s
tg_eq "purge: exit 0" 0 "$RC_CTL"
tg_grep "purge: expired q5" "expired $Q5" "$OUT_CTL"
tg_eq "purge: Postfix no longer has q5" none "$(pf_queue "$Q5")"
ctl quarantine list --all
tg_match "purge: q5 is expired in the store" "^$Q5 +[0-9-]+ [0-9:]+ +expired " \
    "$(grep "^$Q5 " "$OUT_CTL")"

tg_eq "the daemon can still write after tollgatectl (as root) used the store" \
    "postfix postfix" "$(stat -c %U "$STATE-wal" 2>&1) $(stat -c %U "$STATE-shm" 2>&1)"

# ---------------------------------------------------------------- usage

ctl --help
tg_match "--help lists the commands" '^  quarantine ' "$(grep '^  quarantine' "$OUT_CTL")"
for cmd in "quarantine" "check" "test" "replay" "stats"; do
	ctl $cmd --help
	tg_match "$cmd --help: usage, exit 0" "^0 usage: tollgatectl $cmd" \
	    "$RC_CTL $(head -n 1 "$OUT_CTL")"
done
ctl frobnicate
tg_eq "unknown command: exit 2" 2 "$RC_CTL"

tg_eq "pid file names the daemon" "$TG_PID" "$(cat "$TG_DIR/tollgate.pid" 2>/dev/null)"
tg_stop "$TG_PID"
tg_eq "tollgate exits 0 on SIGTERM" 0 "$?"
# unprivileged at exit, it cannot remove the file: it names no process
tg_eq "pid file in a root-owned directory: emptied at exit" 0 \
    "$(stat -c %s "$TG_DIR/tollgate.pid" 2>/dev/null || echo gone)"
tg_grep "pid file: emptying logged" "pid file $TG_DIR/tollgate.pid emptied" "$LOG"
tg_summary
