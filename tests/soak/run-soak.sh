#!/bin/sh
# run-soak.sh - "make soak" (never part of "make check"): 100,000
# messages at 100 concurrent connections through the milter protocol
# (tests/bench/loadgen) into one tollgate doing SPF, DKIM and DMARC
# against nsd in a network namespace of our own. The daemon's resident
# memory, open file descriptors and threads are taken when it is idle
# after the first 10,000 messages and again after the last: they must
# not grow (RSS by at most 10% or 8 MB, descriptors and threads not at
# all). A sampler records the three every second under load as well.
#
#   SOAK_MESSAGES (default 100000), SOAK_CONCURRENCY (100),
#   SOAK_OUT (default $top_builddir/soak-results.txt): the figures
#
# Needs root, nsd, ip, openssl. Exit 0 flat, 1 grew or lost messages,
# 77 when a tool is missing.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/functional/lib.sh"
. "$top_srcdir/tests/functional/dnslib.sh"

LOADGEN=$top_builddir/tests/bench/loadgen
DKIMSIGN=$top_builddir/tests/tools/dkimsign
TOTAL=${SOAK_MESSAGES:-100000}
CONC=${SOAK_CONCURRENCY:-100}
FIRST=$((TOTAL / 10))
OUT=${SOAK_OUT:-$top_builddir/soak-results.txt}
[ "$(id -u)" = 0 ] || tg_skip "needs root (network namespace)"
tg_need_cmd nsd ip openssl base64 fold awk
[ -x "$LOADGEN" ] || tg_skip "$LOADGEN not built (make soak builds it)"
[ -x "$DKIMSIGN" ] || tg_skip "$DKIMSIGN not built (make soak builds it)"
tg_init soak
tg_netns_create || tg_skip "cannot create a network namespace"

say() {
	printf '%s\n' "$*" | tee -a "$TG_DIR/summary"
}

# ---------------------------------------------------------------- DNS, corpus

CORPUS=$TG_DIR/corpus
mkdir -p "$CORPUS"
openssl genrsa -out "$TG_DIR/rsa.pem" 2048 2>/dev/null &&
    openssl genpkey -algorithm ed25519 -out "$TG_DIR/ed.pem" 2>/dev/null ||
    tg_skip "openssl cannot make keys"
RSA=$(openssl rsa -in "$TG_DIR/rsa.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
ED=$(openssl pkey -in "$TG_DIR/ed.pem" -pubout -outform DER 2>/dev/null | tail -c 32 | base64 -w0)
txt() {
	printf '%s' "$1" | fold -w 250 | sed 's/.*/"&"/' | tr '\n' ' '
}
{
	echo 'sender TXT "v=spf1 ip4:198.51.100.0/24 -all"'
	echo '_dmarc.sender TXT "v=DMARC1; p=reject"'
	echo "rsa._domainkey.sender TXT ( $(txt "v=DKIM1; k=rsa; p=$RSA") )"
	echo "ed._domainkey.sender TXT \"v=DKIM1; k=ed25519; p=$ED\""
	echo 'other TXT "v=spf1 ip4:192.0.2.0/24 ~all"'
	echo '_dmarc.other TXT "v=DMARC1; p=none"'
} >"$TG_DIR/records"
dns_zone example <"$TG_DIR/records"
dns_start || { echo "nsd did not start" >&2; exit 99; }

# message NAME FROM-DOMAIN KB
message() {
	{
		printf 'From: Sender <news@%s.example>\nTo: Bob <bob@example.org>\n' "$2"
		printf 'Subject: soak %s\nDate: %s\nMessage-ID: <%s@%s.example>\n\n' "$1" "$(date -R)" "$1" "$2"
		head -c $(($3 * 768)) /dev/urandom | base64 -w 76
	} >"$CORPUS/$1.txt"
}
sign() {
	"$DKIMSIGN" -d sender.example -s "$2" -k "$TG_DIR/$3.pem" ${4:+-a "$4"} <"$CORPUS/$1.txt" \
	    >"$CORPUS/$1.tmp" && mv "$CORPUS/$1.tmp" "$CORPUS/$1.txt"
}
message rsa sender 4; sign rsa rsa rsa
message ed sender 20; sign ed ed ed ed25519-sha256
message plain sender 2
message forged sender 3
message other other 60
message relay sender 1
cat >"$CORPUS/manifest" <<'EOF'
rsa.txt news@sender.example bob@example.org 198.51.100.7 mail.sender.example
ed.txt news@sender.example bob@example.org 198.51.100.8 mail.sender.example
plain.txt news@sender.example bob@example.org 198.51.100.9 mail.sender.example
forged.txt news@sender.example bob@example.org 203.0.113.5 evil.example
other.txt news@other.example bob@example.org 192.0.2.77 mail.other.example
relay.txt news@sender.example x@remote.example 203.0.113.6 evil.example
EOF

# ---------------------------------------------------------------- tollgate

SOCK=$TG_DIR/tollgate.sock
CONF=$TG_DIR/tollgate.conf
LOG=$TG_DIR/tollgate.log
cat >"$TG_DIR/policy.conf" <<'EOF'
rule dmarc-reject: dmarc is fail and dmarc-policy is reject -> reject 550 5.7.1 "DMARC policy"
rule spf-soft: spf is softfail -> score 3
rule dkim-fail: dkim is fail -> score 2
EOF
tg_write_conf "$CONF" "Nameservers 127.0.0.1" "AuthservID mx.example.org" \
    "TrustedNetworks 192.0.2.0/25" "MaxMessageSize 10M" "DNSTimeout 2s" "CheckTimeout 5s"
tg_start "$CONF" "$LOG" || { echo "tollgate did not start" >&2; exit 99; }

# figures - "RSS-kB FDS THREADS" of the daemon now
figures() {
	awk '/^VmRSS:/ { r = $2 } /^Threads:/ { t = $2 } END { printf "%s ", r; printf "%s\n", t }' \
	    "/proc/$TG_PID/status" | {
		read -r rss thr
		echo "$rss $(ls "/proc/$TG_PID/fd" | wc -l) $thr"
	}
}

# idle - wait until the connections of the last run are gone (threads
# settle), then the figures
idle() {
	local prev="" cur i
	for i in $(seq 1 30); do
		sleep 1
		cur=$(figures)
		[ "$cur" = "$prev" ] && break
		prev=$cur
	done
	figures
}

sampler() {
	while tg_alive "$TG_PID"; do
		echo "$(date +%s) $(figures)"
		sleep 1
	done >"$TG_DIR/samples"
}
sampler &
SAMPLER=$!
tg_track "$SAMPLER"

# run N LABEL - N messages; loadgen's JSON in TG_DIR/LABEL.json
run() {
	local start=$(date +%s) rc
	$TG_NS_EXEC "$LOADGEN" -q -s "unix:$SOCK" -d "$CORPUS" -n "$1" -c "$CONC" -w 0 \
	    -p "$TG_PID" -l "$2" -j "$TG_DIR/$2.json" 2>>"$TG_DIR/loadgen.err"
	rc=$?
	say "$2: $1 messages at $CONC connections in $(($(date +%s) - start))s, loadgen exit $rc: $(cat "$TG_DIR/$2.json")"
	[ $rc -eq 0 ] || tg_fail "$2: loadgen without errors" "exit 0" "exit $rc"
}

say "soak: $TOTAL messages at $CONC connections; first phase $FIRST"
START=$(figures)
say "start (idle): rss=$(echo "$START" | cut -d' ' -f1) kB fds=$(echo "$START" | cut -d' ' -f2) threads=$(echo "$START" | cut -d' ' -f3)"
run "$FIRST" first
A=$(idle)
set -- $A
RSS_A=$1 FDS_A=$2 THR_A=$3
say "after $FIRST (idle): rss=$RSS_A kB fds=$FDS_A threads=$THR_A"
run $((TOTAL - FIRST)) rest
B=$(idle)
set -- $B
RSS_B=$1 FDS_B=$2 THR_B=$3
say "after $TOTAL (idle): rss=$RSS_B kB fds=$FDS_B threads=$THR_B"
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
tg_untrack "$SAMPLER"
awk -v t="$(date +%s)" 'NR > 1 { if ($2 > r) r = $2; if ($3 > f) f = $3; if ($4 > h) h = $4 }
	END { printf "under load (peaks of 1 s samples): rss=%s kB fds=%s threads=%s\n", r, f, h }' \
    "$TG_DIR/samples" | tee -a "$TG_DIR/summary"

slack=$((RSS_A / 10))
[ $slack -lt 8192 ] && slack=8192
if [ "$RSS_B" -le $((RSS_A + slack)) ]; then
	tg_pass "RSS flat: $RSS_A kB after $FIRST, $RSS_B kB after $TOTAL (bound +$slack kB)"
else
	tg_fail "RSS flat" "at most $((RSS_A + slack)) kB" "$RSS_B kB"
fi
if [ "$FDS_B" -le "$FDS_A" ]; then
	tg_pass "open descriptors flat: $FDS_A after $FIRST, $FDS_B after $TOTAL"
else
	tg_fail "open descriptors flat" "at most $FDS_A" "$FDS_B"
fi
if [ "$THR_B" -le "$THR_A" ]; then
	tg_pass "threads flat: $THR_A after $FIRST, $THR_B after $TOTAL"
else
	tg_fail "threads flat" "at most $THR_A" "$THR_B"
fi
verdicts=$(grep -c ' action=' "$LOG")
rcpt=$(grep -c ' relay=fail ' "$LOG")
# a relay attempt has one line (refused at RCPT, no message follows)
tg_eq "every message has its verdict line" "$TOTAL" "$verdicts"
say "verdict lines: $verdicts ($rcpt refused at RCPT)"
tg_stop
tg_eq "tollgate exits 0 on SIGTERM after the soak" 0 "$?"
cp "$TG_DIR/summary" "$OUT" 2>/dev/null && echo "figures in $OUT"
tg_summary
