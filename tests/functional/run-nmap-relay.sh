#!/bin/sh
# run-nmap-relay.sh - nmap's smtp-open-relay script against the private
# Postfix that is misconfigured as an open relay (mynetworks =
# 0.0.0.0/0), first without tollgate (the control: nmap must call it an
# open relay, or this test proves nothing), then with tollgate attached:
# no relay accepted, nothing reaches the sink. Everything runs in a
# network namespace of our own; nmap's client is 127.0.0.1, which
# tollgate does not trust (TrustedNetworks 192.0.2.0/24).
#
# Needs root, nmap (with its smtp-open-relay script), postfix, smtp-sink.
# Exit: 0 all passed, 1 something failed, 77 when a tool is missing.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/functional/lib.sh"

[ "$(id -u)" = 0 ] || tg_skip "needs root (network namespace, Postfix)"
tg_need_cmd nmap postfix postconf smtp-sink ip ss timeout awk
getent passwd postfix >/dev/null || tg_skip "no postfix user"
nmap --script-help smtp-open-relay >/dev/null 2>&1 || tg_skip "nmap has no smtp-open-relay script"
tg_init nmap
tg_netns_create || tg_skip "cannot create a network namespace"

PF=$TG_DIR/pf
RUN=$TG_DIR/run
SINK=$TG_DIR/sink
LOG=$TG_DIR/tollgate.log
CONF=$TG_DIR/tollgate.conf
mkdir -p "$RUN"
chown postfix:postfix "$RUN"
: >"$TG_DIR/policy.conf"
chmod 0644 "$TG_DIR/policy.conf"

pf_setup "$PF" "$RUN/tollgate.sock"
sink_start "$SINK" || { echo "smtp-sink did not start" >&2; exit 99; }

# relay_scan NAME - nmap's relay tests against the Postfix port; the
# report in $TG_DIR/NAME.nmap, VERDICT "open", "closed" or "unknown"
relay_scan() {
	local out=$TG_DIR/$1.nmap
	tg_ns timeout 300 nmap -n -Pn -p "$PF_SMTP_PORT" --script +smtp-open-relay \
	    --script-args "smtp-open-relay.domain=relaytest.example,smtp-open-relay.from=probe@relaytest.example,smtp-open-relay.to=victim@elsewhere.example,smtp-open-relay.ip=127.0.0.1" \
	    127.0.0.1 >"$out" 2>&1
	if grep -q 'Server is an open relay' "$out"; then
		VERDICT=open
	elif grep -q "doesn't seem to be an open relay" "$out"; then
		VERDICT=closed
	else
		VERDICT=unknown
	fi
	TRIED=$(sed -n 's/.*(\([0-9]*\/[0-9]*\) tests).*/\1/p' "$out" | head -n 1)
}

# ---------------------------------------------------------------- control

postconf -c "$PF/etc" -e 'smtpd_milters =' 'non_smtpd_milters ='
pf_start "$PF" || { echo "postfix did not start" >&2; exit 99; }
relay_scan control
if [ $VERDICT = open ]; then
	tg_pass "control: without tollgate nmap finds the open relay (${TRIED:-?} tests relayed)"
else
	tg_fail "control: without tollgate nmap finds the open relay" "open" \
	    "$VERDICT: $(grep -A3 smtp-open-relay "$TG_DIR/control.nmap" | tr '\n' ' ' | cut -c1-200)"
fi
pf_stop
rm -f "$SINK"/*

# ---------------------------------------------------------------- tollgate

TG_SOCK=$RUN/tollgate.sock TG_PIDFILE=$RUN/tollgate.pid tg_write_conf "$CONF" \
    "TrustedNetworks 192.0.2.0/24" "UserID postfix:postfix" "AuthservID mx.example.org"
tg_start "$CONF" "$LOG" || { echo "tollgate did not start" >&2; exit 99; }
postconf -c "$PF/etc" -e "smtpd_milters = unix:$RUN/tollgate.sock" \
    'non_smtpd_milters = $smtpd_milters'
pf_start "$PF" || { echo "postfix did not start" >&2; exit 99; }
relay_scan tollgate
tg_eq "tollgate: nmap finds no open relay" closed "$VERDICT"
n=$(grep -c ' relay=fail' "$LOG")
if [ "$n" -gt 0 ]; then
	tg_pass "tollgate: refused $n relay attempts (554 5.7.1 Relay access denied)"
else
	tg_fail "tollgate: refused the relay attempts" "relay=fail lines in its log" "none"
fi
tg_grep "tollgate: Postfix logged the milter rejects" "milter-reject: RCPT from" "$PF/maillog"
sleep 1
leaked=$(ls "$SINK" 2>/dev/null | wc -l)
tg_eq "tollgate: nothing reached the sink" 0 "$leaked"
bad=$(grep -avc '^tollgate\[' "$LOG")
tg_eq "tollgate: every log line intact" 0 "$bad"
tg_stop
tg_eq "tollgate exits 0 on SIGTERM" 0 "$?"

tg_summary
