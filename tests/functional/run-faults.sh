#!/bin/sh
# run-faults.sh - tollgate when things around it fail:
#
#  1. DNS answering late (after DNSTimeout), not at all, or the server
#     stopped: every check ends in temperror within DNSTimeout, the
#     message within CheckTimeout, ErrorActions decides (tempfail here,
#     the default records and accepts), and lookups work again once
#     the server is back. nsd serves the zone behind dnsdelay.pl, a
#     relay that answers late or never on request.
#  2. tollgate killed with SIGKILL in the middle of load behind a
#     private Postfix (milter_default_action = tempfail): every message
#     the load sends is counted, the ones Postfix tempfailed are sent
#     again (as a client MTA would), and once tollgate is back and the
#     queue flushed, the sink holds every Message-ID exactly once.
#  3. SIGHUP with a broken policy under load: the reload is refused,
#     no connection is dropped, every message still gets the old
#     policy's verdict, a transaction open across the reload included.
#
# Needs root, nsd, perl, postfix, smtp-sink, ip, bash.
# Exit: 0 all passed, 1 something failed, 77 when a tool is missing.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/functional/lib.sh"
. "$top_srcdir/tests/functional/dnslib.sh"

MTSEND=$top_builddir/tests/tools/mtsend
[ "$(id -u)" = 0 ] || tg_skip "needs root (network namespace, Postfix)"
tg_need_cmd nsd ip perl postfix postqueue smtp-sink ss bash timeout awk
getent passwd postfix >/dev/null || tg_skip "no postfix user"
[ -x "$MTSEND" ] || tg_skip "$MTSEND not built (make check builds it)"
perl -MIO::Socket::INET -MIO::Select -MTime::HiRes -e 1 2>/dev/null ||
    tg_skip "perl lacks IO::Socket::INET"
tg_init faults
if ! tg_netns_create; then
	tg_fail "network namespace created" "ip netns add to work" "an error"
	tg_summary
	exit 1
fi
SLOW=1
[ "${TG_VALGRIND:-0}" = 1 ] && SLOW=10

# ================================================================ 1. DNS

# one sender domain per case: the resolver caches what it got before
for d in ok late late2 drop drop2 down down2 back; do
	printf '%s TXT "v=spf1 ip4:198.51.100.0/24 -all"\n_dmarc.%s TXT "v=DMARC1; p=reject"\n' "$d" "$d"
done >"$TG_DIR/records"
dns_zone example <"$TG_DIR/records"
dns_start || { tg_fail "nsd starts" "nsd answering" "no answer"; tg_summary; exit 1; }

MODE=$TG_DIR/dns.mode
echo 0 >"$MODE"
relay_start() {
	$TG_NS_EXEC perl "$TG_FUNC_DIR/dnsdelay.pl" 5300 53 "$MODE" >>"$TG_DIR/dnsdelay.log" 2>&1 &
	RELAY=$!
	tg_track "$RELAY"
	tg_wait_for 10 grep -q listening "$TG_DIR/dnsdelay.log"
}
relay_start


# two daemons: one tempfails on a DNS temperror, one keeps the defaults
# (the error is recorded in Authentication-Results and mail accepted)
POLICY=$TG_DIR/policy.conf
: >"$POLICY"
start_dns_daemon() {
	local name=$1
	shift
	TG_SOCK=$TG_DIR/$name.sock TG_PIDFILE=$TG_DIR/$name.pid tg_write_conf "$TG_DIR/$name.conf" \
	    "Nameservers 127.0.0.1@5300" "DNSTimeout 1s" "CheckTimeout 3s" \
	    "AuthservID mx.example.org" "$@"
	tg_start "$TG_DIR/$name.conf" "$TG_DIR/$name.log" ||
	    { tg_fail "$name: tollgate starts" "a socket" "none"; tg_summary; exit 1; }
}
start_dns_daemon strict "ErrorActions spf:temperror=tempfail, dmarc:temperror=tempfail"
STRICT_PID=$TG_PID
start_dns_daemon lax
LAX_PID=$TG_PID

# msg DOMAIN - a message from a@DOMAIN.example
msg() {
	printf 'From: a@%s.example\nTo: bob@example.org\nSubject: hello\n\nHello.\n' "$1" \
	    >"$TG_DIR/$1.eml"
	echo "$TG_DIR/$1.eml"
}

# dns_case NAME DAEMON DOMAIN MAX-MS RESULT-ERE [LOG-ERE] - a message
# from a@DOMAIN.example to DAEMON; the result must match, within MAX-MS
dns_case() {
	local name=$1 d=$2 dom=$3 max=$4 want=$5 logre=${6:-} out res ms line
	out=$TG_DIR/$name.out
	timeout 60 "$MTSEND" -s "unix:$TG_DIR/$d.sock" -q "$name" -f "<a@$dom.example>" \
	    -t 30 "$(msg "$dom")" >"$out" 2>&1
	res=$(sed -n 's/^result: //p' "$out")
	ms=$(sed -n 's/^ms: //p' "$out")
	tg_match "$name: verdict" "$want" "$res"
	if [ "${ms:-99999}" -le $((max * SLOW)) ]; then
		tg_pass "$name: within ${max} ms (${ms} ms)"
	else
		tg_fail "$name: within ${max} ms" "at most $max ms" "${ms:-no answer} ms"
	fi
	if [ -n "$logre" ]; then
		line=$(grep -a " qid=$name " "$TG_DIR/$d.log" | tail -n 1)
		tg_match "$name: log line" "$logre" "$line"
	fi
}

# the baseline: answers at once
dns_case DNSOK strict ok 2000 '^continue$' ' spf=pass .* dmarc=pass .*action=accept '

# answers after 3 s, DNSTimeout 1s: each lookup gives up at 1 s
echo 3 >"$MODE"
dns_case LATE strict late 3600 '^reply 451 4\.4\.3 ' \
    ' spf=temperror .*action=tempfail code=451 xcode=4.4.3 rule=spf:temperror '
tg_grep "LATE: the reason names the timeout" "DNS timeout looking up TXT late.example" "$TG_DIR/strict.log"
dns_case LATELAX lax late2 3600 '^continue$' ' spf=temperror .*dmarc=temperror .*action=accept '
tg_grep "LATELAX: the temperror is in Authentication-Results" 'spf=temperror (DNS timeout' "$TG_DIR/LATELAX.out"

# never answers
echo drop >"$MODE"
dns_case DROP strict drop 3600 '^reply 451 4\.4\.3 ' ' spf=temperror .*action=tempfail '
dns_case DROPLAX lax drop2 3600 '^continue$' ' spf=temperror .*action=accept '

# the DNS server stopped: nothing listens on the port any more
tg_kill_pid "$RELAY" 5
dns_stop
dns_case DOWN strict down 3600 '^reply 451 4\.4\.3 ' ' spf=temperror .*action=tempfail '
dns_case DOWNLAX lax down2 3600 '^continue$' ' spf=temperror .*action=accept '

# and back: lookups work again (no resolver state stuck on "down")
echo 0 >"$MODE"
dns_start || tg_fail "nsd restarts" "nsd answering" "no answer"
: >"$TG_DIR/dnsdelay.log"
relay_start
ok=no
for i in 1 2 3 4 5 6 7 8 9 10; do
	timeout 30 "$MTSEND" -s "unix:$TG_DIR/strict.sock" -q "BACK$i" -f '<a@back.example>' \
	    -t 20 "$(msg back)" >"$TG_DIR/BACK.out" 2>&1
	if grep -a " qid=BACK$i " "$TG_DIR/strict.log" | grep -q ' spf=pass '; then
		ok=yes
		break
	fi
	sleep 1
done
tg_eq "BACK: after the outage SPF passes again (try $i)" yes "$ok"
tg_stop_async "$STRICT_PID"
tg_stop_async "$LAX_PID"
tg_reap "$STRICT_PID"
tg_eq "strict: exits 0" 0 "$?"
tg_reap "$LAX_PID"
tg_eq "lax: exits 0" 0 "$?"

# ================================================================ 2. SIGKILL under load

PF=$TG_DIR/pf
RUN=$TG_DIR/run
SINK=$TG_DIR/sink
mkdir -p "$RUN"
chown postfix:postfix "$RUN"
: >"$TG_DIR/kill-policy.conf"
chmod 0644 "$TG_DIR/kill-policy.conf"
KCONF=$TG_DIR/kill.conf
KLOG=$TG_DIR/kill.log
# loopback is trusted: no DNS, the test is about the process dying
TG_SOCK=$RUN/tollgate.sock TG_PIDFILE=$RUN/tollgate.pid TG_POLICY=$TG_DIR/kill-policy.conf \
    tg_write_conf "$KCONF" "TrustedNetworks 127.0.0.0/8" "UserID postfix:postfix" \
    "MaxMessageSize 1M"
tg_start "$KCONF" "$KLOG" || { tg_fail "kill: tollgate starts" "a socket" "none"; tg_summary; exit 1; }
pf_setup "$PF" "$RUN/tollgate.sock"
sink_start "$SINK" || { tg_fail "smtp-sink starts" "listening" "no"; tg_summary; exit 1; }
pf_start "$PF" || { tg_fail "postfix starts" "listening" "no"; tg_summary; exit 1; }

N=${FAULT_MESSAGES:-400}
WORKERS=4
# worker W - send messages W, W+WORKERS, ... over SMTP (bash /dev/tcp);
# a 4xx at any step means "try again in 0.5 s", as a client MTA would;
# one line per attempt in LOAD/W: "ID accepted|tempfail|reject|error"
cat >"$TG_DIR/worker.sh" <<'EOF'
w=$1 n=$2 workers=$3 port=$4
send() {
	local id=$1 l code last
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 2
	reply() {
		while IFS= read -r -t 30 l <&3; do
			l=${l%$'\r'}
			case $l in [0-9][0-9][0-9]-*) continue ;; esac
			code=${l%% *}
			return 0
		done
		code=000
		return 1
	}
	step() {
		printf '%s\r\n' "$1" >&3
		reply
		case $code in "$2"*) return 0 ;; esac
		return 1
	}
	reply
	if [ "$code" != 220 ]; then
		exec 3>&-
		echo "$id tempfail $code"
		return 1
	fi
	if step "EHLO load.example" 250 && step "MAIL FROM:<load@example.org>" 250 &&
	    step "RCPT TO:<bob@example.org>" 250 && step DATA 354; then
		printf 'From: load@example.org\r\nTo: bob@example.org\r\nSubject: load %s\r\nMessage-ID: <%s@load.example>\r\n\r\nmessage %s\r\n.\r\n' \
		    "$id" "$id" "$id" >&3
		reply
	fi
	last=$code
	printf 'QUIT\r\n' >&3
	exec 3>&-
	case $last in
	250) echo "$id accepted" ;;
	4*|000) echo "$id tempfail $last" ; return 1 ;;
	*) echo "$id reject $last" ;;
	esac
	return 0
}
i=$w
while [ "$i" -le "$n" ]; do
	tries=0
	until send "fault-$i"; do
		tries=$((tries + 1))
		[ $tries -ge 120 ] && { echo "fault-$i gave-up"; break; }
		sleep 0.5
	done
	i=$((i + workers))
done
EOF
LOAD=$TG_DIR/load
mkdir -p "$LOAD"
WPIDS=""
for w in $(seq 1 $WORKERS); do
	$TG_NS_EXEC bash "$TG_DIR/worker.sh" "$w" "$N" "$WORKERS" "$PF_SMTP_PORT" >"$LOAD/$w" 2>&1 &
	WPIDS="$WPIDS $!"
	tg_track "$!"
done

sink_count() {
	grep -l 'Message-ID: <fault-' "$SINK"/* 2>/dev/null | wc -l
}
# kill at about a quarter of the load, in the middle of transactions
tg_wait_for 120 sh -c "[ \$(cat $LOAD/* | grep -c ' accepted') -ge $((N / 4)) ]"
KILLED_AT=$(cat "$LOAD"/* | grep -c ' accepted')
kill -KILL "$TG_PID"
wait "$TG_PID" 2>/dev/null
tg_untrack "$TG_PID"
sleep 2
tg_start "$KCONF" "$KLOG" || tg_fail "kill: tollgate restarts on its stale socket" "a socket" "none"
for p in $WPIDS; do
	wait "$p"
	tg_untrack "$p"
done
tg_ns postqueue -c "$PF/etc" -f >/dev/null 2>&1
tg_wait_for 60 sh -c "[ \$(grep -l 'Message-ID: <fault-' '$SINK'/* 2>/dev/null | wc -l) -ge $N ]"
sleep 1
cat "$LOAD"/* >"$TG_DIR/load.all"
accepted=$(grep -c ' accepted$' "$TG_DIR/load.all")
tempfails=$(grep -c ' tempfail' "$TG_DIR/load.all")
gaveup=$(grep -c 'gave-up' "$TG_DIR/load.all")
rejects=$(grep -c ' reject' "$TG_DIR/load.all")
tg_eq "kill: every one of the $N messages sent was accepted in the end" "$N" "$accepted"
tg_eq "kill: none rejected, none given up" "0 0" "$rejects $gaveup"
if [ "$tempfails" -gt 0 ]; then
	tg_pass "kill: SIGKILL after $KILLED_AT messages: $tempfails attempts tempfailed meanwhile"
else
	tg_fail "kill: the kill was felt" "some tempfailed attempts" "none"
fi
grep -h -o 'Message-ID: <fault-[0-9]*@load.example>' "$SINK"/* 2>/dev/null | sort >"$TG_DIR/sink.ids"
tg_eq "kill: the sink holds $N distinct Message-IDs" "$N" "$(sort -u "$TG_DIR/sink.ids" | wc -l)"
tg_eq "kill: no Message-ID delivered twice" "" "$(uniq -d "$TG_DIR/sink.ids" | head -n 3 | tr '\n' ' ')"
missing=$(seq 1 "$N" | sed 's/.*/Message-ID: <fault-&@load.example>/' | sort | comm -23 - "$TG_DIR/sink.ids" | head -n 3 | tr '\n' ' ')
tg_eq "kill: none missing" "" "$missing"
left=$(tg_ns postqueue -c "$PF/etc" -j 2>/dev/null | grep -c queue_id)
tg_eq "kill: the Postfix queue is empty" 0 "$left"
tg_grep "kill: Postfix logged the tempfails of the dead filter" "milter" "$PF/maillog"
tg_stop
tg_eq "kill: restarted tollgate exits 0" 0 "$?"
pf_cleanup

# ================================================================ 3. SIGHUP with a broken policy

HPOL=$TG_DIR/hup-policy.conf
printf 'rule block: header Subject ~ /blockme/ -> reject 550 5.7.1 "blocked by policy"\n' >"$HPOL"
HCONF=$TG_DIR/hup.conf
HLOG=$TG_DIR/hup.log
TG_SOCK=$TG_DIR/hup.sock TG_PIDFILE=$TG_DIR/hup.pid TG_POLICY=$HPOL \
    tg_write_conf "$HCONF" "TrustedNetworks 192.0.2.0/24"
tg_start "$HCONF" "$HLOG" || { tg_fail "hup: tollgate starts" "a socket" "none"; tg_summary; exit 1; }
printf 'From: a@example.org\nSubject: blockme please\n\nx\n' >"$TG_DIR/block.eml"
printf 'From: a@example.org\nSubject: hello\n\nx\n' >"$TG_DIR/pass.eml"

# loaders: 4 loops of 60 messages, every other one to be blocked
for w in 1 2 3 4; do
	(
		for i in $(seq 1 60); do
			f=pass
			[ $((i % 2)) -eq 0 ] && f=block
			out=$("$MTSEND" -s "unix:$TG_DIR/hup.sock" -q "H$w-$i" -i 192.0.2.5 \
			    -f '<a@example.org>' -t 20 "$TG_DIR/$f.eml" 2>&1)
			printf '%s %s %s\n' "$f" "H$w-$i" "$(printf '%s\n' "$out" | sed -n 's/^\(result\|error\): //p' | head -n 1)"
		done
	) >"$TG_DIR/hup-load.$w" 2>&1 &
	tg_track "$!"
	eval "HL$w=$!"
done
# a transaction open across the reloads
"$MTSEND" -s "unix:$TG_DIR/hup.sock" -q HOLDHUP -i 192.0.2.5 -f '<a@example.org>' -p 4000 \
    -t 30 "$TG_DIR/block.eml" >"$TG_DIR/HOLDHUP.out" 2>&1 &
held=$!
tg_track "$held"
sleep 0.5
cp "$HPOL" "$HPOL.good"
printf 'rule block: header Subject ~ /blockme/ -> reject 550 5.7.1 "blocked by policy"\nrule broken: helo is -> \n' >"$HPOL"
for i in 1 2 3 4 5; do
	kill -HUP "$TG_PID"
	sleep 0.4
done
tg_wait_for 10 sh -c "[ \$(grep -c 'still running the previous configuration' '$HLOG') -ge 1 ]"
for w in 1 2 3 4; do
	eval "p=\$HL$w"
	wait "$p"
	tg_untrack "$p"
done
wait "$held"
tg_untrack "$held"
cat "$TG_DIR"/hup-load.* >"$TG_DIR/hup-load.all"
refused=$(grep -c 'still running the previous configuration' "$HLOG")
if [ "$refused" -ge 1 ]; then
	tg_pass "hup: the broken policy was refused ($refused reloads), with file:line"
else
	tg_fail "hup: broken policy refused" "'still running the previous configuration'" "none"
fi
tg_grep "hup: the refusal names the file and line" "$HPOL:2:" "$HLOG"
tg_eq "hup: 240 messages sent under the reloads" 240 "$(wc -l <"$TG_DIR/hup-load.all")"
tg_eq "hup: no connection dropped (no error)" "" \
    "$(grep -v ' continue$\| reply 550 5\.7\.1 blocked by policy' "$TG_DIR/hup-load.all" | head -n 3 | tr '\n' ' ')"
tg_eq "hup: every blockme message still rejected by the old policy" 120 \
    "$(grep -c '^block .* reply 550 5\.7\.1 blocked by policy (ref: ' "$TG_DIR/hup-load.all")"
tg_eq "hup: every other message accepted" 120 "$(grep -c '^pass .* continue$' "$TG_DIR/hup-load.all")"
tg_match "hup: the transaction open across the reloads got the old policy's verdict" \
    '^reply 550 5\.7\.1 blocked by policy' "$(sed -n 's/^result: //p' "$TG_DIR/HOLDHUP.out")"
# the good policy back: a reload now succeeds
cp "$HPOL.good" "$HPOL"
ok0=$(grep -c 'reloaded ' "$HLOG")
kill -HUP "$TG_PID"
tg_wait_for 10 sh -c "[ \$(grep -c 'reloaded ' '$HLOG') -gt $ok0 ]"
if [ "$(grep -c 'reloaded ' "$HLOG")" -gt "$ok0" ]; then tg_pass "hup: a good policy reloads afterwards"
else tg_fail "hup: a good policy reloads afterwards" "reloaded" "nothing"; fi
tg_stop
tg_eq "hup: tollgate exits 0" 0 "$?"

tg_summary
