#!/bin/sh
# run-inet.sh - tollgate on a TCP (inet:) socket, inside a network
# namespace of its own: the same no-reply flags as on a unix socket
# (tollgate finds the connection's socket and ACKs at once), a private
# Postfix talking to it over TCP sees no 40 ms Nagle/delayed-ACK stall
# per message, and SIGTERM stops the daemon at once.
#
# Needs root (namespace, Postfix), miltertest, postfix, smtp-source,
# smtp-sink, ip, ss. Exit 77 when they are missing.
# Prints "ok - NAME" / "not ok - NAME: expected X, got Y" per case.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/functional/lib.sh"

[ "$(id -u)" = 0 ] || tg_skip "needs root (network namespace, Postfix)"
tg_need_cmd miltertest postfix smtp-source smtp-sink ip ss timeout awk
getent passwd postfix >/dev/null || tg_skip "no postfix user"
tg_init inet
tg_netns_create || tg_skip "cannot create a network namespace"

PORT=8891			# inside our namespace: cannot clash
SOCK=inet:$PORT@127.0.0.1	# libmilter's spelling; Postfix's below
CONF=$TG_DIR/inet-tollgate.conf
LOG=$TG_DIR/inet.log
PF=$TG_DIR/pf
SINK=$TG_DIR/sink
N=20				# messages for the stall measure

# loopback clients trusted: the checks stay out of the timing, the
# protocol (what is answered, when) is the same
TG_PIDFILE=$TG_DIR/inet.pid tg_write_conf "$CONF" "Socket $SOCK" \
    "MaxMessageSize 10K" "TrustedNetworks 127.0.0.0/8"
tg_start "$CONF" "$LOG" || { echo "tollgate did not start" >&2; exit 99; }

# ---------------------------------------------------------------- miltertest

tg_run_lua inet "$LOG"

# ---------------------------------------------------------------- Postfix

pf_setup "$PF" "inet:127.0.0.1:$PORT"
sink_start "$SINK" || { echo "smtp-sink did not start" >&2; exit 99; }
pf_start "$PF" || { echo "postfix did not start" >&2; exit 99; }

# one message first: processes started, connections warm
tg_ns timeout 30 smtp-source -s 1 -m 1 -l 2048 -f a@remote.example \
    -t bob@example.org "127.0.0.1:$PF_SMTP_PORT"
start=$(date +%s%N)
tg_ns timeout 60 smtp-source -s 1 -m $N -l 4096 -f a@remote.example \
    -t bob@example.org "127.0.0.1:$PF_SMTP_PORT"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
echo "# $N messages, one at a time, through Postfix and tollgate over TCP: $ms ms"
tg_eq "postfix over TCP: smtp-source exit status" 0 "$rc"
# the miltertest cases above have queue ids IN1, IN2
accepts() {
	grep ' action=accept' "$LOG" | grep -vc ' qid=IN'
}
all_accepted() {
	[ "$(accepts)" -ge $((N + 1)) ]
}
tg_wait_for 20 all_accepted
tg_eq "postfix over TCP: every message has its accept verdict" $((N + 1)) "$(accepts)"
# a stall (Postfix waiting for our ACK) happens inside a message, so it
# shows in the ms= of its verdict line: 40 ms or more, against ~1.5
bound=20
[ "${TG_VALGRIND:-0}" = 1 ] && bound=35
med=$(grep ' action=accept' "$LOG" | grep -v ' qid=IN' | tail -n $N \
    | sed -n 's/.* ms=\([0-9.]*\).*/\1/p' | sort -n \
    | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
if awk -v m="${med:-999}" -v b=$bound 'BEGIN { exit !(m < b) }'; then
	tg_pass "postfix over TCP: median time per message under $bound ms ($med ms), no delayed-ACK stall"
else
	tg_fail "postfix over TCP: no delayed-ACK stall" "a median under $bound ms" "${med:-none} ms"
fi
pf_stop

# ---------------------------------------------------------------- SIGTERM

# libmilter's listener sleeps up to 5 s between looks at smfi_stop();
# tollgate wakes it (valgrind: slower start and stop, a wider bound)
bound=1000
[ "${TG_VALGRIND:-0}" = 1 ] && bound=5000
start=$(date +%s%N)
tg_stop "$TG_PID"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
tg_eq "inet: tollgate exits 0 on SIGTERM" 0 "$rc"
if [ "$ms" -lt "$bound" ]; then
	tg_pass "inet: stopped within $bound ms of SIGTERM ($ms ms)"
else
	tg_fail "inet: stopped within $bound ms of SIGTERM" "under $bound ms" "$ms ms"
fi

tg_summary
