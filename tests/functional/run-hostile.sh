#!/bin/sh
# run-hostile.sh - hostile messages through the milter protocol: huge
# and malformed headers, raw NUL and 8-bit bytes, invalid UTF-8, a
# 100 MB body, a 20 MB line, 50 DKIM signatures, DKIM tags of absurd
# length, SPF records that loop, include 20 others or exceed the void
# lookup limit, DMARC records of garbage, a From with 50 addresses, and
# CR, LF and % meant to inject into a reply, a header or the log.
#
# Each message must end in a defined verdict within a time bound, the
# daemon's peak memory (VmHWM) must stay bounded, its one log line per
# message must be intact (one line, printable, escaped), and all along
# a prober on a second connection must keep getting answers.
#
# nsd in a network namespace of our own serves the records; messages
# are sent with tests/tools/mtsend (miltertest cannot send lines longer
# than ~1 KB, nor NUL bytes). Needs root, nsd, ip, openssl.
# Exit: 0 all passed, 1 something failed, 77 when a tool is missing.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/functional/lib.sh"
. "$top_srcdir/tests/functional/dnslib.sh"

MTSEND=$top_builddir/tests/tools/mtsend
DKIMSIGN=$top_builddir/tests/tools/dkimsign
[ "$(id -u)" = 0 ] || tg_skip "needs root (network namespace)"
tg_need_cmd nsd ip openssl base64 fold timeout awk sed od
[ -x "$MTSEND" ] || tg_skip "$MTSEND not built (make check builds it)"
[ -x "$DKIMSIGN" ] || tg_skip "$DKIMSIGN not built (make check builds it)"
tg_init hostile
if ! tg_netns_create; then
	tg_fail "network namespace created" "ip netns add to work" "an error"
	tg_summary
	exit 1
fi

SOCK=$TG_DIR/tollgate.sock
CONF=$TG_DIR/tollgate.conf
POLICY=$TG_DIR/policy.conf
LOG=$TG_DIR/tollgate.log
MSGS=$TG_DIR/msgs
mkdir -p "$MSGS"
# valgrind makes everything ~30 times slower
SLOW=1
[ "${TG_VALGRIND:-0}" = 1 ] && SLOW=20
# AddressSanitizer keeps freed memory in quarantine (and valgrind its
# own copies): peak memory says nothing there, it is only reported
MEMCHECK=yes
if [ "${TG_VALGRIND:-0}" = 1 ] || nm -D "$TOLLGATE" 2>/dev/null | grep -q __asan_init \
    || ldd "$TOLLGATE" 2>/dev/null | grep -q libasan; then
	MEMCHECK=no
fi

# mem_bound NAME GROWTH-KB BOUND-KB - a memory bound, enforced unless
# the daemon runs under ASan or valgrind
mem_bound() {
	if [ "$2" -le "$3" ]; then
		tg_pass "$1: peak memory grew $2 kB (bound $(($3 / 1024)) MB)"
	elif [ $MEMCHECK = no ]; then
		tg_pass "$1: peak memory grew $2 kB (not bounded under ASan or valgrind)"
	else
		tg_fail "$1: peak memory growth" "at most $3 kB" "$2 kB"
	fi
}

# ---------------------------------------------------------------- DNS

openssl genrsa -out "$TG_DIR/rsa.pem" 1024 2>/dev/null || tg_skip "openssl cannot make keys"
PUB=$(openssl rsa -in "$TG_DIR/rsa.pem" -pubout -outform DER 2>/dev/null | base64 -w0)

# txt VALUE - a TXT rdata of quoted strings of at most 250 characters
txt() {
	printf '%s' "$1" | fold -w 250 | sed 's/.*/"&"/' | tr '\n' ' '
}

{
	echo "sel._domainkey.sender TXT ( $(txt "v=DKIM1; k=rsa; p=$PUB") )"
	echo 'sender TXT "v=spf1 ip4:198.51.100.0/24 -all"'
	echo '_dmarc.sender TXT "v=DMARC1; p=reject"'
	# SPF that loops, recurses through 20 includes, runs out of void lookups
	echo 'loop-a TXT "v=spf1 include:loop-b.example -all"'
	echo 'loop-b TXT "v=spf1 include:loop-a.example -all"'
	echo 'self TXT "v=spf1 include:self.example -all"'
	echo 'rloop TXT "v=spf1 redirect=rloop.example"'
	inc="v=spf1"
	for i in $(seq 1 20); do
		inc="$inc include:i$i.example"
		echo "i$i TXT \"v=spf1 ip4:203.0.113.$i -all\""
	done
	echo "inc20 TXT ( $(txt "$inc -all") )"
	echo 'void TXT "v=spf1 a:nx1.example a:nx2.example a:nx3.example a:nx4.example ip4:198.51.100.7 -all"'
	echo 'mxbomb TXT "v=spf1 mx -all"'
	for i in $(seq 1 25); do echo "mxbomb MX $i mx$i.mxbomb"; done
	big="v=spf1"
	for i in $(seq 1 200); do big="$big ip4:10.0.$((i / 250)).$((i % 250))"; done
	echo "huge TXT ( $(txt "$big -all") )"
	echo 'macro TXT "v=spf1 exists:%{l}%{l}%{l}%{l}%{l}%{l}%{l}%{l}.%{d}%{d}%{d}%{d}.x.example -all"'
	# DMARC records of garbage
	for g in 1 2 3 4 5 6; do echo "g$g TXT \"v=spf1 ip4:198.51.100.0/24 -all\""; done
	echo '_dmarc.g1 TXT "v=DMARC1; p=; sp=;;;;; pct=99999999999999999999; rua=mailto:"'
	echo '_dmarc.g2 TXT "v=DMARC1;\000\001\255p=reject\255\254"'
	echo "_dmarc.g3 TXT ( $(txt "v=DMARC1; p=reject; x=$(head -c 3000 /dev/zero | tr '\0' 'A')") )"
	many="v=DMARC1"
	for i in $(seq 1 300); do many="$many; p=reject"; done
	echo "_dmarc.g4 TXT ( $(txt "$many") )"
	echo '_dmarc.g5 TXT "v=DMARC1; p=reject"'
	echo '_dmarc.g5 TXT "v=DMARC1; p=none"'
	echo '_dmarc.g6 TXT "v=DMARC1; p=reject; rua=mailto:%s%n%x@example.org; ruf=\"\\\\\"; fo=:::::"'
} >"$TG_DIR/records"
dns_zone example <"$TG_DIR/records"
dns_start || { tg_fail "nsd starts" "nsd answering" "no answer"; tg_summary; exit 1; }

# ---------------------------------------------------------------- tollgate

cat >"$POLICY" <<'EOF'
rule spam-subject: header Subject ~ /viagra/i -> tag
rule dmarc-reject: dmarc is fail and dmarc-policy is reject -> reject 550 5.7.1 "DMARC policy"
rule many-from: dmarc is permerror -> score 1
EOF
tg_write_conf "$CONF" "MaxMessageSize 0" "Nameservers 127.0.0.1" \
    "AuthservID mx.example.org" "DNSTimeout 2s" "CheckTimeout 5s" \
    "TrustedNetworks 192.0.2.0/24" "ReceivedSPF yes"
tg_start "$CONF" "$LOG" || { tg_fail "tollgate starts" "a socket" "none"; tg_summary; exit 1; }

# hwm - the daemon's peak resident memory in kB
hwm() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$TG_PID/status" 2>/dev/null
}

# ---------------------------------------------------------------- the prober

# a trusted client (no DNS) sending a small message every 0.2 s on its
# own connection while the hostile ones run; each must be answered
printf 'From: p@example.org\nSubject: probe\n\nprobe\n' >"$TG_DIR/probe.eml"
prober() {
	i=0
	while [ ! -f "$TG_DIR/probe.stop" ]; do
		i=$((i + 1))
		out=$(timeout $((15 * SLOW)) "$MTSEND" -s "unix:$SOCK" -q "PROBE$i" -i 192.0.2.1 \
		    -f '<p@example.org>' -t $((10 * SLOW)) "$TG_DIR/probe.eml" 2>&1)
		ms=$(printf '%s\n' "$out" | sed -n 's/^ms: //p')
		case $out in
		*"result: continue"*) echo "ok $i ${ms:-?}" ;;
		*) echo "fail $i $(printf '%s' "$out" | tr '\n' ' ')" ;;
		esac
		sleep 0.2
	done >"$TG_DIR/probe.log" 2>&1
}
prober &
PROBER=$!
tg_track "$PROBER"

# ---------------------------------------------------------------- helpers

# send NAME MAX-SECONDS [mtsend options] [FILE] - one message with queue
# id NAME; MTSEND output in $TG_DIR/NAME.out, RESULT its result line
send() {
	local name=$1 max=$2
	shift 2
	timeout $((max * SLOW + 30)) "$MTSEND" -s "unix:$SOCK" -q "$name" -t $((max * SLOW + 10)) \
	    "$@" >"$TG_DIR/$name.out" 2>&1
	RESULT=$(sed -n 's/^result: //p' "$TG_DIR/$name.out" | head -n 1)
	MS=$(sed -n 's/^ms: //p' "$TG_DIR/$name.out")
	if [ -z "$RESULT" ]; then
		tg_fail "$name: a defined verdict" "a result" "$(tr '\n' ' ' <"$TG_DIR/$name.out" | cut -c1-200)"
		return 1
	fi
	if [ "${MS:-999999}" -le $((max * 1000 * SLOW)) ]; then
		tg_pass "$name: answered in ${MS} ms (bound ${max} s): $(printf '%s' "$RESULT" | cut -c1-80)"
	else
		tg_fail "$name: answered within ${max} s" "at most $((max * 1000)) ms" "${MS} ms"
	fi
}

# verdict_line NAME - the last log line of queue id NAME, checked intact:
# one line, printable ASCII only, starting "tollgate[", with an action
verdict_line() {
	local name=$1 line
	LINE=$(grep -a " qid=$name " "$LOG" | tail -n 1)
	if [ -z "$LINE" ]; then
		tg_fail "$name: a verdict line in the log" "qid=$name" "none"
		return 1
	fi
	if printf '%s' "$LINE" | LC_ALL=C grep -q '[^ -~]'; then
		tg_fail "$name: log line printable" "printable ASCII" \
		    "$(printf '%s' "$LINE" | LC_ALL=C tr -c ' -~' '?' | cut -c1-200)"
	elif printf '%s\n' "$LINE" | grep -Eq '^tollgate\[[0-9]+\]: c=[0-9]+ m=[0-9]+ qid=[^ ]+ .* action=[a-z]+ .*ms=[0-9.]+$'; then
		tg_pass "$name: log line intact ($(printf '%s' "$LINE" | wc -c) bytes)"
	else
		tg_fail "$name: log line intact" "c= m= qid= ... action= ... ms=" \
		    "$(printf '%s' "$LINE" | cut -c1-300)"
	fi
}

# field NAME KEY - KEY=value of NAME's verdict line (unquoted only)
field() {
	grep -a " qid=$1 " "$LOG" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# headers_clean NAME - every header tollgate added or changed: no CR, a
# LF only as folding (LF then TAB), printable otherwise
headers_clean() {
	local bad
	bad=$(grep -E '^eom: (addheader|insheader|chgheader)' "$TG_DIR/$1.out" |
	    sed 's/\\x0a\\x09//g' | grep -E '\\x0[0-9a-f]|\\x1[0-9a-f]|\\x7f|\\x[89a-f][0-9a-f]' | cut -c1-200)
	tg_eq "$1: headers we add carry no CR, no bare LF, no 8-bit" "" "$bad"
}

# message FILE [HEADER-LINE...] - From, To, Subject, the extra header
# lines (printf %b escapes), an empty line, a short body
message() {
	local f=$1
	shift
	{
		for h in "$@"; do printf '%b\n' "$h"; done
		printf 'To: bob@example.org\nMessage-ID: <%s@sender.example>\n\nHello.\n' "$(basename "$f")"
	} >"$f"
}

HWM0=$(hwm)

# ---------------------------------------------------------------- headers

awk 'BEGIN { print "From: a@sender.example"; print "Subject: many headers";
	for (i = 1; i <= 10000; i++) printf "X-Header-%d: value %d\n", i, i;
	print "To: bob@example.org"; print ""; print "body" }' >"$MSGS/h10k"
send H10K 60 -f '<a@sender.example>' "$MSGS/h10k" && verdict_line H10K

{ printf 'From: a@sender.example\nSubject: '; head -c 1048576 /dev/zero | tr '\0' 'A'
  printf '\nTo: bob@example.org\n\nbody\n'; } >"$MSGS/h1m"
send H1M 30 -f '<a@sender.example>' "$MSGS/h1m" && verdict_line H1M
# a 1 MB line folded into a million-byte header of short lines
{ printf 'From: a@sender.example\nX-Folded: x'; head -c 500000 /dev/zero | tr '\0' '\n' | sed 's/^/ y/'
  printf 'To: bob@example.org\n\nbody\n'; } >"$MSGS/hfold"
send HFOLD 30 -f '<a@sender.example>' "$MSGS/hfold" && verdict_line HFOLD

message "$MSGS/nul" 'From: a@sender.example' 'Subject: nul\0inside\0the\0value' \
    'X-Nul: \0' 'X-Bin: \001\002\033[31m\177\r\033]0;title\007' 'X-Empty:' \
    'X-8bit: \200\201\376\377 caf\351'
send NUL 15 -f '<a@sender.example>' "$MSGS/nul" && verdict_line NUL
headers_clean NUL

message "$MSGS/utf8" 'From: \300\257\355\240\200 <a@sender.example>' \
    'Subject: \342\202 truncated \370\210\200\200\200 five bytes \364\220\200\200 beyond' \
    'X-Overlong: \300\200\340\200\200\360\200\200\200' 'Reply-To: \377\376@\377.example'
send UTF8 15 -f "$(printf '<\303\251\377@sender.example>')" \
    -H "$(printf 'h\351lo.\377.example')" "$MSGS/utf8" && verdict_line UTF8
headers_clean UTF8

# a transaction held open for 3 s after 10,000 headers on one
# connection; meanwhile another connection gets its answer at once
"$MTSEND" -s "unix:$SOCK" -q HOLD -p 3000 -t $((30 * SLOW)) -f '<a@sender.example>' \
    "$MSGS/h10k" >"$TG_DIR/HOLD.out" 2>&1 &
held=$!
sleep 1
send HOLDPROBE 1 -i 192.0.2.1 -f '<p@example.org>' "$TG_DIR/probe.eml"
if tg_alive "$held"; then
	tg_pass "HOLD: the held transaction was still open meanwhile"
else
	tg_fail "HOLD: the held transaction still open" "running" "finished early"
fi
wait "$held"
tg_match "HOLD: the held transaction ends in a verdict" '^result: ' "$(grep '^result: ' "$TG_DIR/HOLD.out")"

# ---------------------------------------------------------------- DKIM

printf 'From: Alice <alice@sender.example>\nTo: Bob <bob@example.org>\nSubject: signed\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <s@sender.example>\n\nHello Bob.\n' \
    >"$MSGS/base"
"$DKIMSIGN" -d sender.example -s sel -k "$TG_DIR/rsa.pem" <"$MSGS/base" >"$MSGS/signed" ||
    tg_fail "dkimsign" "exit 0" "exit $?"
SIG=$(awk '/^DKIM-Signature:/ { p = 1 } p && !/^DKIM-Signature:/ && !/^[ \t]/ { exit } p' "$MSGS/signed")
send DKIMOK 15 -f '<alice@sender.example>' "$MSGS/signed" && verdict_line DKIMOK
tg_eq "DKIMOK: a signature that verifies passes" pass "$(field DKIMOK dkim)"

# 100 MB of body under a signature (over another body): the whole body
# is hashed, streamed; the daemon's peak memory must not follow it
before=$(hwm)
{ printf '%s\n' "$SIG"; sed -n '/^From:/,$p' "$MSGS/base" | sed '/^$/q'; } >"$MSGS/big-head"
send BODY100M 120 -f '<alice@sender.example>' -b 104857600 "$MSGS/big-head" && verdict_line BODY100M
after=$(hwm)
size=$(field BODY100M size)
if [ "${size:-0}" -ge 104857600 ]; then tg_pass "BODY100M: size=$size counted"
else tg_fail "BODY100M: size counted" "at least 104857600" "${size:-none}"; fi
tg_eq "BODY100M: dkim hashed the body and found it changed" fail "$(field BODY100M dkim)"
mem_bound BODY100M $((after - before)) 32768

# 20 MB in one line without a line end
before=$(hwm)
send LINE20M 60 -f '<alice@sender.example>' -B 20971520 "$MSGS/big-head" && verdict_line LINE20M
after=$(hwm)
# libopendkim would hold the whole line in memory: past 1 MB it is not fed
tg_eq "LINE20M: a body line over 1 MB is not verified (dkim=policy)" policy "$(field LINE20M dkim)"
mem_bound LINE20M $((after - before)) 32768

# 50 signatures: the good one on top, 49 more (copies with other
# selectors and domains); only DKIMMaxSignatures (10) are verified
{
	printf '%s\n' "$SIG"
	for i in $(seq 1 49); do
		printf '%s\n' "$SIG" | sed "s/s=sel;/s=sel$i;/; s/d=sender.example;/d=d$i.sender.example;/"
	done
	sed -n '/^From:/,$p' "$MSGS/signed"
} >"$MSGS/dkim50"
send DKIM50 30 -f '<alice@sender.example>' "$MSGS/dkim50" && verdict_line DKIM50
n=$(field DKIM50 dkim | tr ',' '\n' | grep -c .)
tg_eq "DKIM50: ten signatures verified (DKIMMaxSignatures), the rest ignored" 10 "$n"

# absurd tag lengths: b= of 1 MB, a d= and an s= of 10 KB, h= naming
# From 20,000 times, an unknown tag of 200 KB
A10K=$(head -c 10000 /dev/zero | tr '\0' 'a')
{
	printf 'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s.example;\n' "$A10K"
	printf '\ts=%s; t=1; bh=%s;\n' "$A10K" "$(head -c 300000 /dev/zero | tr '\0' 'B')"
	printf '\th=%s;\n' "$(yes from | head -n 20000 | tr '\n' ':')from"
	printf '\tzz=%s;\n' "$(head -c 200000 /dev/zero | tr '\0' 'z')"
	printf '\tb=%s\n' "$(head -c 1000000 /dev/zero | tr '\0' 'Q')"
	printf '%s\n' "$SIG"
	sed -n '/^From:/,$p' "$MSGS/signed"
} >"$MSGS/dkimlong"
send DKIMLONG 30 -f '<alice@sender.example>' "$MSGS/dkimlong" && verdict_line DKIMLONG
tg_match "DKIMLONG: the absurd signature is an error, the good one passes" \
    '^(permerror,pass|pass,permerror|permerror,pass,.*)$' "$(field DKIMLONG dkim)"

# ---------------------------------------------------------------- SPF

for c in loop-a:SPFLOOP self:SPFSELF rloop:SPFRLOOP inc20:SPFINC20 void:SPFVOID \
    mxbomb:SPFMX huge:SPFHUGE macro:SPFMACRO; do
	d=${c%%:*} q=${c#*:}
	message "$MSGS/$q" "From: a@$d.example" "Subject: spf $d"
	send "$q" 15 -f "<a@$d.example>" "$MSGS/$q" && verdict_line "$q"
done
for q in SPFLOOP SPFSELF SPFRLOOP SPFINC20 SPFVOID SPFMX; do
	tg_eq "$q: SPF limits make it permerror" permerror "$(field "$q" spf)"
done
# 200 ip4: are valid SPF, but libspf2 keeps ~512 bytes of them and drops
# the rest, "-all" included: that would be neutral, tollgate says permerror
tg_eq "SPFHUGE: a record too large for libspf2 is permerror, not a truncated neutral" \
    permerror "$(field SPFHUGE spf)"

# ---------------------------------------------------------------- DMARC

for g in 1 2 3 4 5 6; do
	message "$MSGS/g$g" "From: a@g$g.example" "Subject: dmarc garbage $g"
	send "DMARCG$g" 15 -f "<a@g$g.example>" "$MSGS/g$g" && verdict_line "DMARCG$g"
	tg_match "DMARCG$g: garbage is permerror or no DMARC" '^(permerror|none|pass)$' \
	    "$(field "DMARCG$g" dmarc)"
done

from=""
for i in $(seq 1 50); do from="$from${from:+, }User $i <u$i@sender.example>"; done
message "$MSGS/from50" "From: $from" "Subject: fifty authors"
send FROM50 15 -f '<u1@sender.example>' "$MSGS/from50" && verdict_line FROM50
tg_eq "FROM50: fifty From addresses are no single author: dmarc=permerror" permerror \
    "$(field FROM50 dmarc)"

# ---------------------------------------------------------------- injection

CRLF_FROM=$(printf '<evil\r\nX-Injected: from%%s%%n@sender.example>')
CRLF_HELO=$(printf 'evil\r\nX-Injected: helo%%n')
CRLF_QID=$(printf 'INJ%%n\r\nX')
message "$MSGS/inject" "From: a@sender.example\r\nX-Injected: header" "Subject: %s%n\r\n.\r\nQUIT"
timeout 60 "$MTSEND" -s "unix:$SOCK" -q "$CRLF_QID" -f "$CRLF_FROM" -H "$CRLF_HELO" \
    -r '<x@remote.example>' -r '<bob@example.org>' "$MSGS/inject" >"$TG_DIR/INJ.out" 2>&1
r=$(sed -n 's/^rcpt <x@remote.example>: reply //p' "$TG_DIR/INJ.out")
tg_eq "INJ: relay reply keeps the MTA's queue id escaped (% doubled, CR LF as ?)" \
    '554 5.7.1 Relay access denied (ref: INJ%%n??X)' "$r"
tg_match "INJ: the message itself gets a verdict" '.' "$(sed -n 's/^result: //p' "$TG_DIR/INJ.out")"
headers_clean INJ
if grep -E '^eom: ' "$TG_DIR/INJ.out" | grep -q 'X-Injected'; then
	# the text may appear, escaped, inside a value: never as a header of its own
	if grep -E '^eom: (addheader|insheader|chgheader) [0-9]* ?X-Injected' "$TG_DIR/INJ.out"; then
		tg_fail "INJ: no header injected" "none" "an X-Injected header"
	else
		tg_pass "INJ: injected text stays inside a header value"
	fi
else
	tg_pass "INJ: no injected text in the headers we add"
fi
# every line of the log starts a line of ours: nothing broke a line
bad=$(grep -avc '^tollgate\[' "$LOG")
tg_eq "log: every line is a whole tollgate line (no injected line breaks)" 0 "$bad"
if LC_ALL=C grep -aq '[^ -~]' "$LOG"; then
	tg_fail "log: printable ASCII only" "no control or 8-bit byte" \
	    "$(LC_ALL=C grep -an '[^ -~]' "$LOG" | head -n 1 | cut -c1-200)"
else
	tg_pass "log: printable ASCII only"
fi
tg_match "log: the injected sender is escaped" 'from="?<evil\\x0d\\x0aX-Injected: from%s%n@sender.example>' \
    "$(grep -a 'X-Injected: from' "$LOG" | head -n 1)"

# ---------------------------------------------------------------- bounds

touch "$TG_DIR/probe.stop"
wait "$PROBER" 2>/dev/null
tg_untrack "$PROBER"
np=$(grep -c '^ok ' "$TG_DIR/probe.log")
nf=$(grep -c '^fail ' "$TG_DIR/probe.log")
slow=$(awk '$1 == "ok" && $3 != "?" && $3 > 5000 * '"$SLOW"' { n++ } END { print n + 0 }' "$TG_DIR/probe.log")
if [ "$np" -ge 3 ] && [ "$nf" -eq 0 ]; then
	tg_pass "prober: $np messages on a second connection all answered meanwhile"
else
	tg_fail "prober: every message on a second connection answered" "at least 3, no failure" \
	    "$np ok, $nf failed: $(grep '^fail ' "$TG_DIR/probe.log" | head -n 2 | tr '\n' ' ')"
fi
tg_eq "prober: none took over 5 s" 0 "$slow"
peak=$(hwm)
mem_bound "the whole run (${HWM0} kB at start, ${peak} kB peak)" $((peak - HWM0)) 262144
tg_stop
tg_eq "tollgate exits 0 on SIGTERM after it all" 0 "$?"

tg_summary
