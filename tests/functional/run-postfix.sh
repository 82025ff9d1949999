#!/bin/sh
# run-postfix.sh - tollgate in front of a real, private Postfix that is
# deliberately misconfigured as an open relay (mynetworks = 0.0.0.0/0):
# tollgate alone must keep it closed. Everything runs in a network
# namespace of its own (Postfix on 127.0.0.1:2525 and :2587 for
# submission, an smtp-sink on :2526 that dumps what Postfix relays).
# Mail comes from 127.0.0.1, which tollgate does NOT trust
# (TrustedNetworks 192.0.2.0/24).
#
# Needs root (namespace, Postfix), postfix, swaks, smtp-sink, ip, bash;
# saslpasswd2 for the SMTP AUTH cases. Exit 77 when they are missing.
# Prints "ok - NAME" / "not ok - NAME: expected X, got Y" per case.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/functional/lib.sh"

[ "$(id -u)" = 0 ] || tg_skip "needs root (network namespace, Postfix)"
tg_need_cmd postfix postqueue postcat swaks smtp-sink ip ss bash timeout awk
getent passwd postfix >/dev/null || tg_skip "no postfix user"
tg_init postfix
tg_netns_create || tg_skip "cannot create a network namespace"

PF=$TG_DIR/pf
RUN=$TG_DIR/run			# like /run/tollgate: owned by the daemon user
SINK=$TG_DIR/sink
LOG=$TG_DIR/tollgate.log
CONF=$TG_DIR/tollgate.conf
POLICY=$TG_DIR/policy.conf
HAVE_SASL=no
command -v saslpasswd2 >/dev/null 2>&1 && HAVE_SASL=yes

mkdir -p "$RUN"
chown postfix:postfix "$RUN"

cat >"$POLICY" <<'EOF'
rule block-helo: helo is "bad.example" -> reject 550 5.7.1 "go away"
rule percent-text: helo is "percent.example" -> reject 550 5.7.1 "100% refused"
rule defer: sender is "later@remote.example" -> tempfail 451 4.7.1 "try later"
rule hold: header Subject ~ /quarantine me/i -> quarantine "held for review"
rule spammy: header Subject ~ /viagra/i -> tag
EOF
cat >"$TG_DIR/sender-logins" <<'EOF'
alice@example.org	alice@example.org
@sales.example.org	bob@example.org
EOF
chmod 0644 "$POLICY" "$TG_DIR/sender-logins"

TG_SOCK=$RUN/tollgate.sock TG_PIDFILE=$RUN/tollgate.pid tg_write_conf "$CONF" \
    "TrustedNetworks 192.0.2.0/24" "UserID postfix:postfix" \
    "MaxMessageSize 100K" "SenderLoginMap $TG_DIR/sender-logins" \
    "AuthservID mx.example.org"
tg_start "$CONF" "$LOG" || { echo "tollgate did not start" >&2; exit 99; }
TG_MAIN_PID=$TG_PID

pf_setup "$PF" "$RUN/tollgate.sock"
if [ $HAVE_SASL = yes ]; then
	pf_add_sasl_user "$PF" alice@example.org alicepw || HAVE_SASL=no
	pf_add_sasl_user "$PF" bob@example.org bobpw || HAVE_SASL=no
fi
sink_start "$SINK" || { echo "smtp-sink did not start" >&2; exit 99; }
pf_start "$PF" || { echo "postfix did not start" >&2; exit 99; }

# ---------------------------------------------------------------- helpers

# send NAME [swaks options...] - one SMTP session with swaks (inside the
# namespace); the transcript is $TG_DIR/NAME.smtp, the test id header
# X-Test-Id: NAME lets the sink's copy be found
send() {
	local name="$1"
	shift
	OUT=$TG_DIR/$name.smtp
	tg_ns timeout 60 swaks --server "127.0.0.1:${PORT:-$PF_SMTP_PORT}" \
	    --timeout 20 --helo "${HELO:-client.remote.example}" \
	    --header "X-Test-Id: $name" "$@" >"$OUT" 2>&1
}

# reply_to CMD - the reply swaks got to the command starting with CMD
# (e.g. "RCPT TO:<x@remote.example>", "MAIL FROM", "."), or "none"
reply_to() {
	awk -v cmd="$1" '
		found && /^<(-|\*\*) / { sub(/^<(-|\*\*) +/, ""); print; exit }
		index($0, " -> " cmd) == 1 { found = 1 }
		END { if (!found) print "none" }
	' "$OUT" | tr -d '\r' | head -n 1
}

# reply_to_data - the reply to the end of the message (after " -> .")
reply_to_data() {
	awk '
		found && /^<(-|\*\*) / { sub(/^<(-|\*\*) +/, ""); print; exit }
		$0 == " -> ." { found = 1 }
	' "$OUT" | tr -d '\r' | head -n 1
}

# ref_of REPLY - the "(ref: X)" of a reply
ref_of() {
	printf '%s\n' "$1" | sed -n 's/.*(ref: \([^)]*\))$/\1/p'
}

# qid_of - "queued as ID" from the last transcript
qid_of() {
	sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' "$OUT" | tr -d '\r' | head -n 1
}

# sink_file NAME - the sink's dump of the message with X-Test-Id: NAME
sink_file() {
	grep -l -F "X-Test-Id: $1" "$SINK"/* 2>/dev/null | head -n 1
}

# wait_sink NAME - wait up to 15 s for it; sets SINK_FILE
wait_sink() {
	tg_wait_for 15 sh -c "grep -l -F 'X-Test-Id: $1' '$SINK'/* >/dev/null 2>&1"
	SINK_FILE=$(sink_file "$1")
}

# check_ref NAME REPLY - the reply ends "(ref: X)" and the log has ref=X
check_ref() {
	local ref
	ref=$(ref_of "$2")
	if [ -z "$ref" ]; then
		tg_fail "$1: reply carries (ref: ...)" "(ref: X)" "'$2'"
	elif grep -q " ref=$ref " "$LOG"; then
		tg_pass "$1: ref $ref is in tollgate's log"
	else
		tg_fail "$1: ref in tollgate's log" "ref=$ref in the log" "no such line"
	fi
}

# smtp_raw CMD... - a bare SMTP session (for what swaks cannot send, like
# MAIL FROM parameters); prints "<- reply" and "-> command" lines
smtp_raw() {
	tg_ns timeout 60 bash -c '
		port=$1; shift
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 2
		rd() {
			while IFS= read -r -t 15 l <&3; do
				l=${l%$(printf "\r")}
				printf "<- %s\n" "$l"
				case $l in [0-9][0-9][0-9]-*) ;; *) return 0 ;; esac
			done
			return 1
		}
		rd || exit 3
		for c in "$@"; do
			printf "%s\r\n" "$c" >&3
			printf -- "-> %s\n" "$c"
			rd || exit 3
		done
	' smtp_raw "$PF_SMTP_PORT" "$@"
}

# ---------------------------------------------------------------- relay

send relay1 --from a@remote.example --to x@remote.example --quit-after RCPT
r=$(reply_to "RCPT TO:<x@remote.example>")
tg_match "relay: remote recipient refused at RCPT although Postfix is an open relay" \
    '^554 5\.7\.1 Relay access denied \(ref: [0-9A-Za-z.]+\)$' "$r"
check_ref "relay" "$r"
tg_grep "relay: Postfix logs the milter reject" "milter-reject: RCPT from" "$PF/maillog"

# the relay tricks, each aimed at a local domain but routed elsewhere
for trick in 'user%remote.example@example.org' 'remote.example!user@example.org' \
    '"user@remote.example"@example.org' '@example.org:user@remote.example'; do
	send trick --from a@remote.example --to "$trick" --quit-after RCPT
	r=$(reply_to "RCPT TO:<$trick>")
	tg_match "relay trick <$trick> refused" '^554 5\.7\.1 Relay access denied \(ref: [0-9A-Za-z.]+\)$' "$r"
done

# a mixed transaction: the local recipient gets the message, the remote does not
send mixed --from a@remote.example --to bob@example.org,x@remote.example
tg_match "mixed: remote recipient refused" '^554 5\.7\.1 ' "$(reply_to "RCPT TO:<x@remote.example>")"
tg_match "mixed: local recipient accepted" '^250 ' "$(reply_to "RCPT TO:<bob@example.org>")"
tg_match "mixed: message accepted for the local recipient" '^250 .*queued as' "$(reply_to_data)"
wait_sink mixed
if [ -n "$SINK_FILE" ]; then
	tg_pass "mixed: message reached the sink"
	tg_eq "mixed: relayed to the local recipient only" "X-Rcpt-Args: <bob@example.org> ORCPT=rfc822;bob@example.org" \
	    "$(grep '^X-Rcpt-Args:' "$SINK_FILE" | tr -d '\r' | tr '\n' '|' | sed 's/|$//')"
	tg_nogrep "mixed: no tag on clean mail" "X-Spam-Flag" "$SINK_FILE"
else
	tg_fail "mixed: message reached the sink" "a file in the sink" "none after 15 s"
fi

# ---------------------------------------------------------------- local delivery

send local1 --from a@remote.example --to bob@example.org --header "Subject: hello there"
r=$(reply_to_data)
tg_match "local: message for a local domain accepted" '^250 2\.0\.0 Ok: queued as [0-9A-Za-z]+$' "$r"
QID=$(qid_of)
wait_sink local1
if [ -n "$SINK_FILE" ]; then
	tg_pass "local: message delivered to the sink"
	tg_grep "local: subject unchanged" "Subject: hello there" "$SINK_FILE"
	tg_grep "local: Postfix queue id in Received" "with ESMTP id $QID" "$SINK_FILE"
	tg_nogrep "local: no X-Spam-Flag" "X-Spam-Flag" "$SINK_FILE"
	tg_nogrep "local: no X-Tollgate-Verdict" "X-Tollgate-Verdict" "$SINK_FILE"
else
	tg_fail "local: message delivered to the sink" "a file in the sink" "none after 15 s"
fi
tg_grep "local: one verdict line with the queue id" "qid=$QID ip=127.0.0.1" "$LOG"
if grep -F "qid=$QID " "$LOG" | grep -q ' action=accept '; then
	tg_pass "local: verdict accept logged"
else
	tg_fail "local: verdict accept logged" "action=accept for qid $QID" "$(grep -F "qid=$QID " "$LOG" | tail -n 1)"
fi

# ---------------------------------------------------------------- Authentication-Results

# a client's header claiming our authserv-id is forged: it goes, ours
# comes; a header of another authserv-id stays
send ar1 --from a@remote.example --to bob@example.org \
    --header "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=forged.example" \
    --add-header "Authentication-Results: other.example; spf=pass smtp.mailfrom=remote.example"
tg_match "A-R: message accepted" '^250 .*queued as' "$(reply_to_data)"
wait_sink ar1
if [ -n "$SINK_FILE" ]; then
	tg_eq "A-R: exactly one header with our authserv-id" 1 \
	    "$(grep -c '^Authentication-Results: mx\.example\.org;' "$SINK_FILE")"
	tg_nogrep "A-R: the forged header is gone" "smtp.mailfrom=forged.example" "$SINK_FILE"
	tg_grep "A-R: another authserv-id's header is kept" \
	    "Authentication-Results: other.example; spf=pass smtp.mailfrom=remote.example" "$SINK_FILE"
else
	tg_fail "A-R: message reached the sink" "a file in the sink" "none after 15 s"
fi

# ---------------------------------------------------------------- size

# tollgate does not answer MAIL FROM (SMFIP_NR_MAIL): a sender refused
# there is refused at each RCPT TO, as Postfix's smtpd_delay_reject does
smtp_raw "EHLO client.remote.example" "MAIL FROM:<big@remote.example> SIZE=200000" \
    "RCPT TO:<bob@example.org>" QUIT >"$TG_DIR/size1.smtp" 2>&1
OUT=$TG_DIR/size1.smtp
raw_reply() { awk -v cmd="$1" 'f && /^<- / { sub(/^<- /, ""); print; exit }
	index($0, "-> " cmd) == 1 { f = 1 }' "$OUT"; }
tg_match "size: MAIL FROM with SIZE=200000 answered by Postfix" '^250 ' "$(raw_reply "MAIL FROM")"
r=$(raw_reply "RCPT TO")
tg_match "size: SIZE=200000 over MaxMessageSize 100K refused at RCPT by tollgate" \
    '^552 5\.3\.4 Message size exceeds fixed limit \(ref: c[0-9]+\.[0-9]+\)$' "$r"
check_ref "size: SIZE" "$r"

head -c 150000 /dev/zero | tr '\0' 'x' | fold -w 76 >"$TG_DIR/big.body"
send size2 --from a@remote.example --to bob@example.org --body "@$TG_DIR/big.body"
r=$(reply_to_data)
tg_match "size: 150K message without SIZE= refused at end of data" \
    '^552 5\.3\.4 Message size exceeds fixed limit \(ref: [0-9A-Za-z]+\)$' "$r"
check_ref "size: body" "$r"
sleep 0.5
if [ -z "$(sink_file size2)" ]; then tg_pass "size: nothing relayed"
else tg_fail "size: nothing relayed" "no sink file" "$(sink_file size2)"; fi

# ---------------------------------------------------------------- submission

PORT=$PF_SUBMISSION_PORT send sub1 --from alice@example.org --to x@remote.example --quit-after RCPT
r=$(reply_to "RCPT TO:<x@remote.example>")
tg_match "submission: without AUTH refused 530 5.7.0 at RCPT" \
    '^530 5\.7\.0 Authentication required \(ref: c[0-9]+\.[0-9]+\)$' "$r"
tg_grep "submission: log names the service" "daemon=submission from=<alice@example.org>" "$LOG"

if [ $HAVE_SASL = yes ]; then
	PORT=$PF_SUBMISSION_PORT send sub2 --from alice@example.org --to x@remote.example \
	    --auth PLAIN --auth-user alice@example.org --auth-password alicepw
	tg_match "submission: AUTH PLAIN accepted by Postfix" '^235 ' "$(reply_to "AUTH PLAIN")"
	tg_match "submission: authenticated owner may relay" '^250 ' "$(reply_to "RCPT TO:<x@remote.example>")"
	tg_match "submission: authenticated message queued" '^250 .*queued as' "$(reply_to_data)"
	wait_sink sub2
	if [ -n "$SINK_FILE" ]; then
		tg_pass "submission: authenticated relay reached the sink"
		tg_grep "submission: relayed to the remote recipient" "X-Rcpt-Args: <x@remote.example>" "$SINK_FILE"
	else
		tg_fail "submission: authenticated relay reached the sink" "a file in the sink" "none after 15 s"
	fi
	tg_grep "submission: log has the login" "auth=alice@example.org daemon=submission" "$LOG"

	PORT=$PF_SUBMISSION_PORT send sub3 --from alice@example.org --to bob@example.org \
	    --auth PLAIN --auth-user bob@example.org --auth-password bobpw --quit-after RCPT
	r=$(reply_to "RCPT TO:<bob@example.org>")
	tg_match "submission: sender not owned by the login refused 553 5.7.1" \
	    '^553 5\.7\.1 Sender address not owned by the authenticated user \(ref: c[0-9]+\.[0-9]+\)$' "$r"

	PORT=$PF_SUBMISSION_PORT send sub4 --from orders@sales.example.org --to x@remote.example \
	    --auth PLAIN --auth-user bob@example.org --auth-password bobpw --quit-after RCPT
	tg_match "submission: @domain entry of the login accepted" '^250 ' \
	    "$(reply_to "RCPT TO:<x@remote.example>")"
else
	echo "# saslpasswd2 not found: SMTP AUTH cases left to run-miltertest.sh"
fi

# ---------------------------------------------------------------- policy

send tag1 --from a@remote.example --to bob@example.org --header "Subject: cheap viagra"
tg_match "policy tag: message accepted" '^250 .*queued as' "$(reply_to_data)"
wait_sink tag1
if [ -n "$SINK_FILE" ]; then
	tg_grep "policy tag: X-Spam-Flag: YES in the relayed copy" "X-Spam-Flag: YES" "$SINK_FILE"
	tg_grep "policy tag: X-Tollgate-Verdict in the relayed copy" \
	    "X-Tollgate-Verdict: tag score=0.0 rule=spammy" "$SINK_FILE"
	tg_grep "policy tag: subject prefixed" "Subject: [SPAM] cheap viagra" "$SINK_FILE"
else
	tg_fail "policy tag: message reached the sink" "a file in the sink" "none after 15 s"
fi

send hold1 --from a@remote.example --to bob@example.org --header "Subject: please quarantine me"
r=$(reply_to_data)
tg_match "policy quarantine: message accepted" '^250 .*queued as' "$r"
QID=$(qid_of)
if [ -n "$QID" ] && tg_wait_for 10 sh -c "$TG_NS_EXEC postqueue -c '$PF/etc' -j | grep -F '\"queue_id\": \"$QID\"' | grep -qF '\"queue_name\": \"hold\"'"; then
	tg_pass "policy quarantine: message $QID in the hold queue"
else
	tg_fail "policy quarantine: message in the hold queue" "queue_name hold for $QID" \
	    "$(tg_ns postqueue -c "$PF/etc" -j 2>&1 | grep -F "$QID" | head -c 200)"
fi
if grep -q "$QID: milter-hold: .*milter triggers HOLD action" "$PF/maillog"; then
	tg_pass "policy quarantine: Postfix logs the milter HOLD"
else
	tg_fail "policy quarantine: Postfix logs the milter HOLD" \
	    "'$QID: milter-hold: ... milter triggers HOLD action'" "$(grep -F "$QID" "$PF/maillog" | tail -n 1)"
fi
tg_ns postcat -c "$PF/etc" -hq "$QID" >"$TG_DIR/held.txt" 2>&1
tg_grep "policy quarantine: the held copy is tagged" "X-Spam-Flag: YES" "$TG_DIR/held.txt"
tg_grep "policy quarantine: the held copy says why" "X-Tollgate-Verdict: quarantine score=0.0 rule=hold" "$TG_DIR/held.txt"
sleep 0.5
if [ -z "$(sink_file hold1)" ]; then tg_pass "policy quarantine: nothing relayed"
else tg_fail "policy quarantine: nothing relayed" "no sink file" "$(sink_file hold1)"; fi

HELO=bad.example send rej1 --from a@remote.example --to bob@example.org
r=$(reply_to_data)
tg_match "policy reject: 550 5.7.1 with the rule's text and the queue id as ref" \
    '^550 5\.7\.1 go away \(ref: [0-9A-Za-z]+\)$' "$r"
check_ref "policy reject" "$r"

HELO=percent.example send rej2 --from a@remote.example --to bob@example.org
tg_match "policy reject: a % in the text reaches the client as one %" \
    '^550 5\.7\.1 100% refused \(ref: [0-9A-Za-z]+\)$' "$(reply_to_data)"

send defer1 --from later@remote.example --to bob@example.org
tg_match "policy tempfail: 451 4.7.1 with the rule's text" \
    '^451 4\.7\.1 try later \(ref: [0-9A-Za-z]+\)$' "$(reply_to_data)"

# ---------------------------------------------------------------- nothing escaped

leaked=$(grep -l '^X-Rcpt-Args: <[^>]*remote\.example' "$SINK"/* 2>/dev/null \
    | xargs -r grep -L 'X-Test-Id: sub2' | tr '\n' ' ')
tg_eq "relay: nothing but the authenticated message went to a remote domain" "" "$leaked"

# ---------------------------------------------------------------- filter down

tg_stop "$TG_MAIN_PID"
tg_eq "tollgate (as user postfix) exits 0 on SIGTERM" 0 "$?"
send down1 --from a@remote.example --to bob@example.org --quit-after RCPT
r=$(grep -m1 '^<\*\* ' "$OUT" | tr -d '\r' | sed 's/^<\*\* *//')
tg_match "filter down: Postfix tempfails (milter_default_action = tempfail)" '^4[0-9][0-9] ' "$r"

tg_summary
