#!/bin/bash
# run-bench.sh - tollgate's benchmark (issue 5): run by "make bench",
# never by "make check". Prints one table and saves every figure as JSON.
#
#   make bench                      full run, about 10-13 minutes
#   make bench BENCH_QUICK=1        quick run, under 3 minutes (1 repetition)
#   BENCH_OUT=/path/x.json make bench    where the JSON goes (default
#                                   tests/bench/results/bench-DATE.json)
#   top_builddir=BUILD tests/bench/run-bench.sh     by hand
#
# What it builds, all inside a network namespace of its own (lib.sh):
#   - DNS: nsd serving seven sender domains with SPF (ip4, include, a/mx),
#     DKIM keys (rsa-2048 and ed25519) and DMARC records (p=reject/none,
#     adkim=s), plus a domain with none of them;
#   - a corpus of 20 messages, 2 KB to 250 KB, signed with
#     tests/tools/dkimsign: 14 pass SPF, DKIM and DMARC; 6 fail in
#     different ways (forged From under p=reject, body changed after
#     signing, SPF fail, wrong key, missing key, nothing at all);
#   - tollgate (the build's, or $TOLLGATE) with conf/policy.conf, the
#     do-nothing libmilter filter tests/bench/nullmilter (also with -N,
#     the no-reply flags), and the classic chain from Debian: pyspf-milter
#     (SPF), OpenDKIM (verify), OpenDMARC - each on a unix and an inet
#     socket, none exempting loopback clients (tollgate's TrustedNetworks,
#     OpenDKIM's InternalHosts, OpenDMARC's IgnoreHosts and pyspf-milter's
#     skip_addresses/InternalHosts all name 192.0.2.255 only);
#   - a private Postfix with one smtpd port per set-up (no milter, each
#     milter or chain, unix or inet) relaying to an smtp-sink.
#
# Runs, interleaved so that drift hits every set-up alike, repeated
# BENCH_REPS times (3; 1 in quick mode), medians reported:
#   milter level: tests/bench/loadgen speaks the milter protocol straight
#     to tollgate and nullmilter with 1, 10, 100 connections: messages/s,
#     latency p50/p99, filter CPU seconds per 1000 messages, peak RSS;
#   end to end: loadgen -S sends the same corpus over SMTP with 20
#     sessions, and with 1 session for the latency each filter adds
#     (each in SLICES short runs per set-up, the set-ups in turn, so
#     that ratios and added latency are taken slice by slice), to
#     Postfix: (a) no milter, (b) nullmilter, (b') nullmilter -N,
#     (c) tollgate, (d) pyspf-milter + OpenDKIM + OpenDMARC; plus
#     smtp-source with 20 sessions of a 4 KB message as a cross-check.
#   soak (full mode): 100,000 messages through tollgate, RSS and file
#     descriptors before and after.
#
# Needs root, ip, nsd, postfix, smtp-sink, smtp-source, openssl, jq and
# the bench programs (make bench builds them); installs opendkim,
# opendmarc and pyspf-milter with apt-get when missing (BENCH_INSTALL=no:
# skip the chain instead). Exit 0, 77 when something needed is missing.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/tests/functional/lib.sh"
. "$top_srcdir/tests/functional/dnslib.sh"

LOADGEN=$top_builddir/tests/bench/loadgen
NULLMILTER=$top_builddir/tests/bench/nullmilter
DKIMSIGN=$top_builddir/tests/tools/dkimsign
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 1 ] || QUICK=0
# message counts, and the most seconds one run may take (-t: a stalling
# set-up sends fewer messages instead of stretching the run)
if [ $QUICK = 1 ]; then
	REPS=${BENCH_REPS:-1}
	MILTER_N1=300 MILTER_N=1500 E2E_N=600 E2E_N1=100 SRC_N=400 SOAK=${BENCH_SOAK:-0}
	SLICES=2 MAX_T=4
else
	REPS=${BENCH_REPS:-3}
	MILTER_N1=1000 MILTER_N=3000 E2E_N=2000 E2E_N1=300 SRC_N=1000 SOAK=${BENCH_SOAK:-1}
	SLICES=5 MAX_T=6
fi
ONLY=${BENCH_ONLY:-all}		# all, or milter: the milter-level runs alone
PROFILE=${BENCH_PROFILE:-0}	# 1: perf profile of tollgate under load, then stop;
				# hold: set up, then wait (see below)
SOAK_N=${BENCH_SOAK_N:-100000}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${BENCH_OUT:-$top_srcdir/tests/bench/results/bench-$STAMP.json}
SESSIONS=20
PORT_A=2525			# no milter; the other ports: PORT_BASE + index
START=$(date +%s)

say() { printf '%s [%3ss] %s\n' "bench:" "$(($(date +%s) - START))" "$*" >&2; }

[ "$(id -u)" = 0 ] || tg_skip "needs root (network namespace, Postfix)"
tg_need_cmd ip nsd postfix postqueue smtp-sink smtp-source openssl base64 fold jq awk
getent passwd postfix >/dev/null || tg_skip "no postfix user"
for p in "$LOADGEN" "$NULLMILTER" "$DKIMSIGN"; do
	[ -x "$p" ] || tg_skip "$p not built (run: make bench)"
done

# the classic chain, from Debian; installed here, not by install-deps.sh
# (make check does not need it)
HAVE_CHAIN=yes
[ "$ONLY" = all ] && [ "$PROFILE" = 0 ] || HAVE_CHAIN=skipped
chain_missing() {
	local p m=""
	for p in opendkim opendmarc pyspf-milter; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || m="$m $p"
	done
	printf '%s' "$m"
}
if [ $HAVE_CHAIN = yes ] && [ -n "$(chain_missing)" ]; then
	if [ "${BENCH_INSTALL:-yes}" = yes ]; then
		say "installing$(chain_missing) for the classic-chain comparison"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		    $(chain_missing) >/dev/null 2>&1 || true
	fi
	[ -z "$(chain_missing)" ] || { HAVE_CHAIN=no; say "no classic chain:$(chain_missing) missing"; }
fi

tg_init bench
tg_netns_create || tg_skip "cannot create a network namespace"
RAW=$TG_DIR/raw.jsonl
: >"$RAW"
KEYS=$TG_DIR/keys
CORPUS=$TG_DIR/corpus
RUN=$TG_DIR/run
mkdir -p "$KEYS" "$CORPUS" "$RUN"
chown postfix:postfix "$RUN"
chmod 0755 "$RUN"

# ---------------------------------------------------------------- keys, DNS

rsa_key() {
	openssl genrsa -out "$KEYS/$1.pem" 2048 2>/dev/null &&
	    openssl rsa -in "$KEYS/$1.pem" -pubout -outform DER 2>/dev/null |
	    base64 -w0 >"$KEYS/$1.pub"
}
ed_key() {
	openssl genpkey -algorithm ed25519 -out "$KEYS/$1.pem" 2>/dev/null &&
	    openssl pkey -in "$KEYS/$1.pem" -pubout -outform DER 2>/dev/null |
	    tail -c 32 | base64 -w0 >"$KEYS/$1.pub"
}
txt() {
	printf '%s' "$1" | fold -w 250 | sed 's/.*/"&"/' | tr '\n' ' '
}
rsa_key alpha && rsa_key charlie && rsa_key delta && rsa_key rogue &&
    ed_key bravo && ed_key delta-ed && ed_key bravo-rogue ||
    tg_skip "openssl cannot make rsa-2048 and ed25519 keys"

PASS_SPF="v=spf1 ip4:127.0.0.0/8 ip4:198.51.100.0/24 -all"
{
	echo "alpha TXT \"$PASS_SPF\""
	echo "_dmarc.alpha TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@alpha.example\""
	echo "s2048._domainkey.alpha TXT ( $(txt "v=DKIM1; k=rsa; p=$(cat "$KEYS/alpha.pub")") )"
	echo "bravo TXT \"v=spf1 ip4:127.0.0.0/8 ip4:198.51.100.0/24 ~all\""
	echo "_dmarc.bravo TXT \"v=DMARC1; p=none\""
	echo "ed._domainkey.bravo TXT \"v=DKIM1; k=ed25519; p=$(cat "$KEYS/bravo.pub")\""
	echo "charlie TXT \"v=spf1 include:_spf.charlie.example -all\""
	echo "_spf.charlie TXT \"$PASS_SPF\""
	echo "_dmarc.charlie TXT \"v=DMARC1; p=reject; adkim=s\""
	echo "s2048._domainkey.charlie TXT ( $(txt "v=DKIM1; k=rsa; p=$(cat "$KEYS/charlie.pub")") )"
	echo "delta TXT \"v=spf1 a mx ip4:198.51.100.0/24 -all\""
	echo "delta A 127.0.0.1"
	echo "delta MX 10 mail.delta"
	echo "mail.delta A 192.0.2.25"
	echo "_dmarc.delta TXT \"v=DMARC1; p=reject; pct=100\""
	echo "rsa._domainkey.delta TXT ( $(txt "v=DKIM1; k=rsa; p=$(cat "$KEYS/delta.pub")") )"
	echo "ed._domainkey.delta TXT \"v=DKIM1; k=ed25519; p=$(cat "$KEYS/delta-ed.pub")\""
	echo "golf TXT \"v=spf1 ip4:192.0.2.0/24 -all\""
	echo "_dmarc.golf TXT \"v=DMARC1; p=none\""
	echo "hotel A 192.0.2.80"
	for d in alpha bravo charlie delta golf; do
		echo "mail.$d A 198.51.100.7"
	done
} >"$TG_DIR/records"
dns_zone example <"$TG_DIR/records"
dns_start || { echo "nsd did not start" >&2; exit 99; }

# ---------------------------------------------------------------- corpus

# body BYTES - base64 lines of about that many bytes (no line starts with '.')
body() {
	head -c $(($1 * 3 / 4)) /dev/urandom | base64 -w 76
}

# message NAME FROM-HEADER-DOMAIN KB - an unsigned message CORPUS/NAME.txt
message() {
	{
		printf 'From: Sender <news@%s.example>\n' "$2"
		printf 'To: Bob <bob@example.org>\n'
		printf 'Subject: bench message %s, %s KB\n' "$1" "$3"
		printf 'Date: %s\n' "$(date -R)"
		printf 'Message-ID: <%s.%s@%s.example>\n' "$1" "$$" "$2"
		printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n'
		printf 'Content-Transfer-Encoding: 7bit\n\n'
		body $(($3 * 1024))
	} >"$CORPUS/$1.txt"
}

# sign NAME DOMAIN SELECTOR KEY [dkimsign options] - sign CORPUS/NAME.txt in place
sign() {
	local n=$1 d=$2 s=$3 k=$4
	shift 4
	"$DKIMSIGN" -d "$d.example" -s "$s" -k "$KEYS/$k.pem" "$@" <"$CORPUS/$n.txt" \
	    >"$CORPUS/$n.tmp" && mv "$CORPUS/$n.tmp" "$CORPUS/$n.txt" ||
	    { echo "dkimsign failed for $n" >&2; exit 99; }
}

# add NAME ENVELOPE-DOMAIN CLIENT-IP - a manifest line
add() {
	printf '%s.txt bounce@%s.example bob@example.org %s mail.%s.example\n' \
	    "$1" "$2" "$3" "$2" >>"$CORPUS/manifest"
}

say "generating keys, zones and the corpus"
OK_IP=198.51.100.7 BAD_IP=203.0.113.5
: >"$CORPUS/manifest"
# 14 passing: SPF pass, DKIM pass, DMARC pass
for kb in 2 8 40 250; do
	message "alpha-$kb" alpha $kb; sign "alpha-$kb" alpha s2048 alpha; add "alpha-$kb" alpha $OK_IP
done
for kb in 3 12 100; do
	message "bravo-$kb" bravo $kb; sign "bravo-$kb" bravo ed bravo -a ed25519-sha256
	add "bravo-$kb" bravo $OK_IP
done
for kb in 4 20 60; do
	message "charlie-$kb" charlie $kb; sign "charlie-$kb" charlie s2048 charlie
	add "charlie-$kb" charlie $OK_IP
done
for kb in 2 6 30 150; do
	message "delta-$kb" delta $kb; sign "delta-$kb" delta ed delta-ed -a ed25519-sha256
	sign "delta-$kb" delta rsa delta -c relaxed/simple; add "delta-$kb" delta $OK_IP
done
# 6 failing
message forged alpha 5; add forged golf $BAD_IP			# DMARC fail, p=reject
message altered alpha 15; sign altered alpha s2048 alpha		# DKIM fail, DMARC pass by SPF
printf 'appended after signing\n' >>"$CORPUS/altered.txt"; add altered alpha $OK_IP
message golf golf 3; add golf golf $BAD_IP				# SPF fail, DMARC fail p=none
message wrongkey bravo 10; sign wrongkey bravo ed bravo-rogue -a ed25519-sha256
add wrongkey golf $BAD_IP						# DKIM fail, SPF fail
message nokey charlie 50; sign nokey charlie missing rogue; add nokey hotel $BAD_IP	# no key, DMARC fail p=reject
message hotel hotel 2; add hotel hotel $BAD_IP				# nothing published
NCORPUS=$(wc -l <"$CORPUS/manifest")
CORPUS_KB=$(du -sk "$CORPUS" | cut -f1)

# ---------------------------------------------------------------- filters

PSL=/usr/share/publicsuffix/public_suffix_list.dat
NOBODY=192.0.2.255	# the only "internal" host any filter is told about
INET_NULL=8890 INET_NULLN=8891 INET_TG=8892 INET_SPF=8893 INET_DKIM=8894 INET_DMARC=8895

# start_bg NAME PIDVAR CMD... - a daemon in the namespace, tracked by PID
start_bg() {
	local name=$1 var=$2
	shift 2
	$TG_NS_EXEC "$@" >>"$TG_DIR/$name.log" 2>&1 &
	eval "$var=$!"
	tg_track "$!"
}

# ready_unix PATH / ready_inet PORT
ready_unix() { [ -S "$1" ]; }
ready_inet() { pf_listening "$1"; }
need_ready() {
	tg_wait_for 30 "$@" || { echo "bench: not ready: $*" >&2; tg_dump_logs; exit 99; }
}

cp "$top_srcdir/conf/policy.conf" "$TG_DIR/policy.conf"
chmod 0644 "$TG_DIR/policy.conf"
mkdir -p "$RUN/tg-u" "$RUN/tg-i" "$RUN/tg-a"
chown postfix:postfix "$RUN/tg-u" "$RUN/tg-i" "$RUN/tg-a"
# tg_conf FILE SOCKET DIR - tollgate.conf as an admin would write it
tg_conf() {
	TG_SOCK=/unused TG_PIDFILE=$3/tollgate.pid TG_POLICY=$TG_DIR/policy.conf \
	    tg_write_conf "$1" "Socket $2" "SocketMode 0666" "UserID postfix:postfix" \
	    "TrustedNetworks $NOBODY/32" "MaxMessageSize 25M" "AuthservID mx.example.org" \
	    "Nameservers 127.0.0.1" "DNSTimeout 5s" "CheckTimeout 20s" "PublicSuffixList $PSL"
	# the verdict store, when this build has one: beside the socket
	sed -i '/^StateDB /d' "$1"
	printf 'StateDB %s/state.db\n' "$3" >>"$1"
	"$TOLLGATE" -n -c "$1" 2>&1 | grep -q 'unknown setting "StateDB"' &&
	    sed -i '/^StateDB /d' "$1"
	return 0
}
tg_conf "$TG_DIR/tg-u.conf" "unix:$RUN/tg-u/tollgate.sock" "$RUN/tg-u"
tg_conf "$TG_DIR/tg-i.conf" "inet:$INET_TG@127.0.0.1" "$RUN/tg-i"
# (c') the same recording every verdict (milter level only): what the
# verdict store costs when an admin wants replay and stats of all mail
tg_conf "$TG_DIR/tg-a.conf" "unix:$RUN/tg-a/tollgate.sock" "$RUN/tg-a"
printf 'RecordVerdicts all\n' >>"$TG_DIR/tg-a.conf"
for c in tg-u tg-i tg-a; do
	"$TOLLGATE" -n -c "$TG_DIR/$c.conf" >"$TG_DIR/$c.check" 2>&1 ||
	    { cat "$TG_DIR/$c.check" >&2; echo "bench: tollgate -n refuses $c.conf" >&2; exit 99; }
done

say "starting tollgate, nullmilter$([ $HAVE_CHAIN = yes ] && echo ", pyspf-milter, OpenDKIM, OpenDMARC")"
start_bg tg-u PID_TG_U "$TOLLGATE" -f -c "$TG_DIR/tg-u.conf"
start_bg tg-i PID_TG_I "$TOLLGATE" -f -c "$TG_DIR/tg-i.conf"
start_bg tg-a PID_TG_A "$TOLLGATE" -f -c "$TG_DIR/tg-a.conf"
start_bg null-u PID_NULL_U "$NULLMILTER" -p "unix:$RUN/null.sock"
start_bg null-i PID_NULL_I "$NULLMILTER" -p "inet:$INET_NULL@127.0.0.1"
start_bg nulln-u PID_NULLN_U "$NULLMILTER" -N -p "unix:$RUN/nulln.sock"
start_bg nulln-i PID_NULLN_I "$NULLMILTER" -N -p "inet:$INET_NULLN@127.0.0.1"
need_ready ready_unix "$RUN/tg-u/tollgate.sock"
need_ready ready_unix "$RUN/tg-a/tollgate.sock"
need_ready ready_inet $INET_TG
need_ready ready_unix "$RUN/null.sock"
need_ready ready_unix "$RUN/nulln.sock"
need_ready ready_inet $INET_NULL
need_ready ready_inet $INET_NULLN

# the classic chain: SPF (pyspf-milter), then DKIM (OpenDKIM), then DMARC
# (OpenDMARC reads the first two's Authentication-Results); each told to
# check loopback clients and to ask nsd; none rejects by itself except
# OpenDMARC on p=reject, as tollgate's policy does
chain_conf() {	# chain_conf TAG SOCK-SPF SOCK-DKIM SOCK-DMARC
	local t=$1 d=$RUN/chain-$1
	mkdir -p "$d"
	chown postfix:postfix "$d"
	echo "$NOBODY" >"$d/ignore.hosts"
	cat >"$d/pyspf.conf" <<EOF
debugLevel = 0
TestOnly = 1
HELO_reject = False
Mail_From_reject = False
PermError_reject = False
TempError_Defer = False
skip_addresses = $NOBODY/32
Header_Type = AR
Authserv_Id = mx.example.org
Socket = $2
PidFile = $d/pyspf.pid
UserID = postfix
UMask = 0
InternalHosts = $NOBODY
EOF
	cat >"$d/opendkim.conf" <<EOF
Mode			v
Socket			$3
PidFile			$d/opendkim.pid
UserID			postfix:postfix
UMask			000
Syslog			no
Background		no
AuthservID		mx.example.org
AlwaysAddARHeader	yes
InternalHosts		$NOBODY
Nameservers		127.0.0.1
MinimumKeyBits		1024
EOF
	cat >"$d/opendmarc.conf" <<EOF
Socket			$4
PidFile			$d/opendmarc.pid
UserID			postfix:postfix
UMask			000
Syslog			false
AuthservID		mx.example.org
TrustedAuthservIDs	mx.example.org
IgnoreHosts		$d/ignore.hosts
IgnoreAuthenticatedClients false
PublicSuffixList	$PSL
RejectFailures		true
SPFSelfValidate		false
EOF
	chmod 0644 "$d"/*.conf "$d/ignore.hosts"
}
if [ $HAVE_CHAIN = yes ]; then
	chain_conf u "local:$RUN/chain-u/pyspf.sock" "local:$RUN/chain-u/opendkim.sock" \
	    "local:$RUN/chain-u/opendmarc.sock"
	chain_conf i "inet:$INET_SPF@127.0.0.1" "inet:$INET_DKIM@127.0.0.1" \
	    "inet:$INET_DMARC@127.0.0.1"
	for t in u i; do
		start_bg "spf-$t" "PID_SPF_$t" pyspf-milter "$RUN/chain-$t/pyspf.conf"
		start_bg "dkim-$t" "PID_DKIM_$t" opendkim -f -x "$RUN/chain-$t/opendkim.conf"
		start_bg "dmarc-$t" "PID_DMARC_$t" opendmarc -f -c "$RUN/chain-$t/opendmarc.conf"
	done
	for f in pyspf opendkim opendmarc; do need_ready ready_unix "$RUN/chain-u/$f.sock"; done
	for p in $INET_SPF $INET_DKIM $INET_DMARC; do need_ready ready_inet $p; done
	CHAIN_U="$PID_SPF_u,$PID_DKIM_u,$PID_DMARC_u"
	CHAIN_I="$PID_SPF_i,$PID_DKIM_i,$PID_DMARC_i"
fi

# ---------------------------------------------------------------- Postfix

PF=$TG_DIR/pf
SETUPS=""
start_postfix() {
pf_setup "$PF" "$RUN/unused.sock"
postconf -c "$PF/etc" -e "smtpd_milters =" "non_smtpd_milters =" \
    "default_process_limit = 200" "smtpd_client_connection_count_limit = 0" \
    "smtp_destination_concurrency_limit = 20" "maillog_file = $PF/maillog" \
    "smtpd_client_message_rate_limit = 0" "smtpd_client_recipient_rate_limit = 0"
# one smtpd per set-up: SETUP:PORT:MILTERS
SETUPS="null-u:2531:unix:$RUN/null.sock nulln-u:2532:unix:$RUN/nulln.sock"
SETUPS="$SETUPS tollgate-u:2533:unix:$RUN/tg-u/tollgate.sock"
SETUPS="$SETUPS null-i:2541:inet:127.0.0.1:$INET_NULL nulln-i:2542:inet:127.0.0.1:$INET_NULLN"
SETUPS="$SETUPS tollgate-i:2543:inet:127.0.0.1:$INET_TG"
if [ $HAVE_CHAIN = yes ]; then
	SETUPS="$SETUPS chain-u:2534:unix:$RUN/chain-u/pyspf.sock,unix:$RUN/chain-u/opendkim.sock,unix:$RUN/chain-u/opendmarc.sock"
	SETUPS="$SETUPS chain-i:2544:inet:127.0.0.1:$INET_SPF,inet:127.0.0.1:$INET_DKIM,inet:127.0.0.1:$INET_DMARC"
fi
for s in $SETUPS; do
	name=${s%%:*} rest=${s#*:}
	port=${rest%%:*} milters=${rest#*:}
	printf '%s inet n - n - - smtpd\n  -o syslog_name=postfix/%s\n  -o { smtpd_milters = %s }\n' \
	    "$port" "$name" "${milters//,/ }" >>"$PF/etc/master.cf"
done
# the sink, without dumping messages to disk
$TG_NS_EXEC smtp-sink -u postfix -h sink.example "127.0.0.1:$PF_SINK_PORT" 256 \
    >>"$TG_DIR/sink.log" 2>&1 &
tg_track $!
tg_wait_for 10 pf_listening "$PF_SINK_PORT" || { echo "smtp-sink did not start" >&2; exit 99; }
pf_start "$PF" || exit 99
for s in $SETUPS; do
	rest=${s#*:}
	need_ready ready_inet "${rest%%:*}"
done
}
[ "$ONLY" = all ] && [ "$PROFILE" = 0 ] && start_postfix

# port_of SETUP / pids_of SETUP
port_of() {
	local s rest
	[ "$1" = none ] && { echo $PORT_A; return; }
	for s in $SETUPS; do
		[ "${s%%:*}" = "$1" ] || continue
		rest=${s#*:}
		echo "${rest%%:*}"
	done
}
pids_of() {
	case $1 in
	null-u) echo "$PID_NULL_U" ;; null-i) echo "$PID_NULL_I" ;;
	nulln-u) echo "$PID_NULLN_U" ;; nulln-i) echo "$PID_NULLN_I" ;;
	tollgate-u) echo "$PID_TG_U" ;; tollgate-i) echo "$PID_TG_I" ;;
	tollgate-all-u) echo "$PID_TG_A" ;;
	chain-u) echo "$CHAIN_U" ;; chain-i) echo "$CHAIN_I" ;;
	esac
}
milter_sock() {
	case $1 in
	null-u) echo "unix:$RUN/null.sock" ;; null-i) echo "inet:$INET_NULL@127.0.0.1" ;;
	nulln-u) echo "unix:$RUN/nulln.sock" ;; nulln-i) echo "inet:$INET_NULLN@127.0.0.1" ;;
	tollgate-u) echo "unix:$RUN/tg-u/tollgate.sock" ;;
	tollgate-all-u) echo "unix:$RUN/tg-a/tollgate.sock" ;;
	tollgate-i) echo "inet:$INET_TG@127.0.0.1" ;;
	esac
}

# queue_drain - wait until Postfix has delivered everything (hold aside)
queue_drain() {
	local t=600 n
	while [ $t -gt 0 ]; do
		n=$(tg_ns postqueue -c "$PF/etc" -j 2>/dev/null | grep -vc '"queue_name": *"hold"')
		[ "$n" -eq 0 ] && return 0
		sleep 0.2
		t=$((t - 1))
	done
	say "warning: the queue did not drain"
}

# tag_json KIND REP - add fields to the last line loadgen wrote
last_json() {
	tail -n 1 "$1"
}
record() {	# record KIND SETUP REP FILE [SLICE]
	last_json "$4" | jq -c --arg kind "$1" --arg setup "$2" --argjson rep "$3" \
	    --argjson slice "${5:-0}" '. + {kind: $kind, setup: $setup, rep: $rep, slice: $slice}' >>"$RAW"
}

# ---------------------------------------------------------------- runs

# milter_run SETUP N MSGS REP
milter_run() {
	local out=$TG_DIR/lg.json
	: >"$out"
	tg_ns "$LOADGEN" -q -s "$(milter_sock "$1")" -d "$CORPUS" -c "$2" -n "$3" \
	    -t "${5:-$MAX_T}" -p "$(pids_of "$1")" -l "$1" -j "$out" 2>>"$TG_DIR/loadgen.err" ||
	    say "warning: loadgen $1 c=$2 reported errors"
	[ -s "$out" ] && record milter "$1" "$4" "$out"
}

# e2e_run SETUP SESSIONS MSGS REP [SLICE] - loadgen -S through Postfix;
# with one session every message's latency is kept (-L)
e2e_run() {
	local out=$TG_DIR/lg.json pids
	pids=$(pids_of "$1")
	: >"$out"
	tg_ns "$LOADGEN" -q -S -s "inet:$(port_of "$1")@127.0.0.1" -d "$CORPUS" -c "$2" -n "$3" \
	    -t $((MAX_T * 2)) -w "$2" ${pids:+-p "$pids"} -l "$1" -j "$out" \
	    $([ "$2" = 1 ] && echo -L) 2>>"$TG_DIR/loadgen.err" ||
	    say "warning: SMTP run $1 s=$2 had errors"
	[ -s "$out" ] && record e2e "$1" "$4" "$out" "${5:-0}"
	queue_drain
}

# cpu_of PIDS - user+system seconds of comma-separated PIDs
cpu_of() {
	local p t=0
	for p in ${1//,/ }; do
		t=$(awk -v t="$t" '{ sub(/^.*\) /, ""); split($0, f, " ");
		    printf "%.2f", t + (f[12] + f[13]) / 100 }' "/proc/$p/stat")
	done
	echo "$t"
}

# src_run SETUP REP - smtp-source, 20 sessions of a generated 4 KB message
src_run() {
	local port pids c0 c1 t0 t1
	port=$(port_of "$1")
	pids=$(pids_of "$1")
	c0=$(cpu_of "$pids")
	t0=$(date +%s.%N)
	tg_ns smtp-source -s $SESSIONS -m $SRC_N -l 4096 -M mail.alpha.example \
	    -f bounce@alpha.example -t bob@example.org "127.0.0.1:$port" \
	    >>"$TG_DIR/smtp-source.log" 2>&1
	t1=$(date +%s.%N)
	c1=$(cpu_of "$pids")
	jq -nc --arg setup "$1" --argjson rep "$2" --argjson n $SRC_N \
	    --argjson secs "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
	    --argjson cpu "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')" \
	    '{kind: "smtp-source", setup: $setup, rep: $rep, concurrency: 20, messages: $n,
	      seconds: $secs, msgs_per_s: ($n / $secs),
	      filter: {cpu_s_per_1000: ($cpu * 1000 / $n)}}' >>"$RAW"
	queue_drain
}

MILTER_SETUPS="nulln-u null-u tollgate-u tollgate-all-u nulln-i null-i tollgate-i"
E2E_SETUPS="none null-u nulln-u tollgate-u null-i nulln-i tollgate-i"
[ $HAVE_CHAIN = yes ] && E2E_SETUPS="$E2E_SETUPS chain-u chain-i"
[ "$ONLY" = all ] || E2E_SETUPS=""

# BENCH_PROFILE=hold: set everything up, print how to reach it, and wait
# until the file it names is removed (for perf, strace, callgrind by hand)
if [ "$PROFILE" = hold ]; then
	echo "tollgate unix: pid $PID_TG_U socket unix:$RUN/tg-u/tollgate.sock"
	echo "tollgate inet: pid $PID_TG_I socket inet:$INET_TG@127.0.0.1 (netns $TG_NETNS)"
	echo "corpus: $CORPUS; loadgen: ip netns exec $TG_NETNS $LOADGEN -s SOCK -d $CORPUS -n N -c C"
	echo "remove $TG_DIR/hold to stop"
	touch "$TG_DIR/hold"
	while [ -e "$TG_DIR/hold" ]; do sleep 1; done
	exit 0
fi

# BENCH_PROFILE=1: where tollgate spends its CPU under milter-level load
# (10 connections, unix socket), with perf; the report goes beside the JSON
if [ "$PROFILE" = 1 ]; then
	tg_need_cmd perf
	PROF=${OUT%.json}.perf.txt
	mkdir -p "$(dirname "$PROF")"
	milter_run tollgate-u 10 500 0
	perf record -F 2000 -g -o "$TG_DIR/perf.data" -p "$PID_TG_U" >/dev/null 2>&1 &
	PERF_PID=$!
	sleep 0.5
	milter_run tollgate-u 10 $((MILTER_N * 2)) 1 30
	kill -INT "$PERF_PID"
	wait "$PERF_PID"
	perf report -i "$TG_DIR/perf.data" --stdio --no-children --sort dso,symbol \
	    --percent-limit 0.7 -g none >"$PROF" 2>/dev/null
	perf report -i "$TG_DIR/perf.data" --stdio --children --sort symbol \
	    --percent-limit 3 -g none >>"$PROF" 2>/dev/null
	tail -n 1 "$RAW" | jq -c '[.msgs_per_s, .lat_ms.p50, .filter.cpu_s_per_1000]'
	grep -v '^#' "$PROF" | grep -v '^$' | head -n 60
	echo "profile: $PROF"
	exit 0
fi

say "corpus: $NCORPUS messages, $CORPUS_KB KB; $REPS repetition(s)$([ $QUICK = 1 ] && echo ', quick mode')"
# one message through every set-up first: wrong set-ups fail here, not later
for s in $E2E_SETUPS; do
	e2e_run "$s" 1 "$NCORPUS" 0
done
BROKEN=$(jq -r 'select(.rep == 0 and .outcomes.error > 0) | .setup' "$RAW" | tr '\n' ' ')
if [ -n "$BROKEN" ]; then
	echo "bench: set-ups that cannot take mail: $BROKEN; see $TG_DIR (TG_KEEP=1)" >&2
	tg_dump_logs
	exit 99
fi
for rep in $(seq 1 "$REPS"); do
	say "repetition $rep/$REPS: milter level"
	for n in 1 10 100; do
		msgs=$MILTER_N
		[ $n = 1 ] && msgs=$MILTER_N1
		for s in $MILTER_SETUPS; do
			milter_run "$s" $n $msgs "$rep"
		done
	done
	[ -n "$E2E_SETUPS" ] && say "repetition $rep/$REPS: end to end"
	# SLICES short runs per set-up, taken in turn so that drift hits
	# every set-up alike; report.jq takes the ratios between set-ups and
	# the latency a filter adds slice by slice, and pools the latencies
	for sessions in "$SESSIONS" 1; do
		total=$E2E_N
		[ "$sessions" = 1 ] && total=$E2E_N1
		for k in $(seq 1 "$SLICES"); do
			for s in $E2E_SETUPS; do
				e2e_run "$s" "$sessions" $((total / SLICES)) "$rep" "$k"
			done
		done
	done
	[ -n "$E2E_SETUPS" ] && say "repetition $rep/$REPS: smtp-source"
	for s in $E2E_SETUPS; do
		src_run "$s" "$rep"
	done
done

if [ "$SOAK" = 1 ]; then
	say "soak: $SOAK_N messages through tollgate (unix, 100 connections)"
	milter_run tollgate-u 100 "$SOAK_N" 1 600
	tail -n 1 "$RAW" | jq -c '. + {kind: "soak"}' >"$TG_DIR/soak.json"
	sed -i '$d' "$RAW"
	cat "$TG_DIR/soak.json" >>"$RAW"
fi

# what the filters decided, so a broken set-up shows (e.g. all tempfail)
say "checking the verdicts"
OUTCOMES=$(grep -c 'action=' "$TG_DIR/tg-u.log" 2>/dev/null)

# ---------------------------------------------------------------- report

mkdir -p "$(dirname "$OUT")"
COMMIT=$(git -C "$top_srcdir" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$top_srcdir" status --porcelain -- src 2>/dev/null | grep -c .)
jq -s --arg commit "$COMMIT" --argjson dirty "$DIRTY" --arg date "$STAMP" \
    --argjson quick $QUICK --argjson reps "$REPS" --arg tollgate "$TOLLGATE" \
    --argjson corpus "$NCORPUS" --argjson corpus_kb "$CORPUS_KB" \
    --arg postfix "$(postconf -d -h mail_version 2>/dev/null)" \
    --arg chain "$([ $HAVE_CHAIN = yes ] && dpkg-query -W -f='${Package} ${Version}; ' opendkim opendmarc pyspf-milter)" \
    --argjson cores "$(nproc)" -f "$top_srcdir/tests/bench/report.jq" "$RAW" >"$OUT" ||
    { echo "bench: cannot write $OUT" >&2; exit 99; }

jq -r -f "$top_srcdir/tests/bench/table.jq" "$OUT"
echo
echo "tollgate verdict lines logged (unix instance): $OUTCOMES; run took $(($(date +%s) - START)) s"
echo "JSON: $OUT"
