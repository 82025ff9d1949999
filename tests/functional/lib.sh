# lib.sh - shared helpers for tollgate's functional tests and demo.
# Sourced (not executed) by tests/functional/run-*.sh and
# contrib/try-tollgate.sh. POSIX sh plus "local"; bash and dash both work.
#
# Environment (automake sets the first two):
#   top_srcdir, top_builddir  absolute paths; default: from the running
#                             script (tests/functional/x.sh -> ../..)
#   TG_KEEP=1                 keep the scratch directory after the run
#   TG_VALGRIND=1             run tollgate under valgrind (slow)
#   TG_VERBOSE=1              print the tollgate log at the end
#   TG_DUMP_LOGS=no           not even when the run failed
#
# Everything a test starts is recorded here by PID and stopped by PID
# from the EXIT trap; nothing is looked up by name.

# callers set top_srcdir (automake does); a run-*.sh started by hand
# finds it from its own location
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." 2>/dev/null && pwd)}"
: "${top_builddir:=$top_srcdir}"
TOLLGATE=${TOLLGATE:-$top_builddir/src/tollgate}
TG_FUNC_DIR=$top_srcdir/tests/functional

TG_PASSED=0
TG_FAILED=0
TG_PIDS=""		# processes to stop at exit
TG_CLEANUPS=""		# shell functions to run at exit (reverse order)
TG_NETNS=""		# network namespace we created, if any
TG_NS_EXEC=""		# "ip netns exec NAME" once it exists: $TG_NS_EXEC cmd &
			# keeps $! the command's own pid (a function would not)
TG_DIR=""		# scratch directory

# ------------------------------------------------------------ results

tg_pass() {
	TG_PASSED=$((TG_PASSED + 1))
	printf 'ok - %s\n' "$1"
}

# tg_fail NAME EXPECTED GOT
tg_fail() {
	TG_FAILED=$((TG_FAILED + 1))
	printf 'not ok - %s: expected %s, got %s\n' "$1" "$2" "$3"
}

# tg_eq NAME EXPECTED GOT - exact comparison
tg_eq() {
	if [ "x$2" = "x$3" ]; then
		tg_pass "$1"
	else
		tg_fail "$1" "'$2'" "'$3'"
	fi
}

# tg_match NAME ERE GOT - GOT (one line) matches the extended regex
tg_match() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		tg_pass "$1"
	else
		tg_fail "$1" "/$2/" "'$3'"
	fi
}

# tg_grep NAME FIXED-STRING FILE - FILE contains the string
tg_grep() {
	if [ -f "$3" ] && grep -Fq -- "$2" "$3"; then
		tg_pass "$1"
	else
		tg_fail "$1" "'$2' in $(basename "$3")" "no such line"
	fi
}

# tg_nogrep NAME FIXED-STRING FILE - FILE does not contain the string
tg_nogrep() {
	if [ -f "$3" ] && grep -Fq -- "$2" "$3"; then
		tg_fail "$1" "no '$2' in $(basename "$3")" \
		    "'$(grep -F -m1 -- "$2" "$3")'"
	else
		tg_pass "$1"
	fi
}

# tg_count_results FILE - add the ok/not ok lines a sub-script printed
tg_count_results() {
	local n
	n=$(grep -c '^ok - ' "$1")
	TG_PASSED=$((TG_PASSED + n))
	n=$(grep -c '^not ok - ' "$1")
	TG_FAILED=$((TG_FAILED + n))
}

# tg_summary - the logs when something failed, then the final line;
# exit status 0 when nothing failed
tg_summary() {
	if [ "$TG_FAILED" -gt 0 ] && [ "${TG_DUMP_LOGS:-yes}" = yes ]; then
		tg_dump_logs
	fi
	printf '%d passed, %d failed\n' "$TG_PASSED" "$TG_FAILED"
	[ "$TG_FAILED" -eq 0 ]
}

# tg_dump_logs - the end of every log in the scratch directory
TG_DUMPED=no
tg_dump_logs() {
	local f
	TG_DUMPED=yes
	[ -n "$TG_DIR" ] && [ -d "$TG_DIR" ] || return 0
	for f in "$TG_DIR"/*.log "$TG_DIR"/pf/maillog; do
		[ -s "$f" ] || continue
		echo "# ---- $f (last 15 lines)"
		tail -n 15 "$f" | sed 's/^/# /'
	done
}

# ------------------------------------------------------------ lifecycle

# tg_skip REASON - automake's "skipped" status
tg_skip() {
	printf 'SKIP: %s\n' "$1"
	exit 77
}

# tg_need_cmd CMD... - skip unless every command exists
tg_need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || tg_skip "$c not found"
	done
}

# tg_init NAME - scratch directory and the cleanup trap
tg_init() {
	TG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-$1.XXXXXX") || {
		echo "cannot create a scratch directory" >&2
		exit 99
	}
	chmod 0755 "$TG_DIR"	# the Postfix and sink users must get in
	trap tg_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	if [ ! -x "$TOLLGATE" ]; then
		echo "tollgate binary $TOLLGATE not built" >&2
		exit 99
	fi
}

# tg_at_exit FUNC - run FUNC from the EXIT trap (last registered, first run)
tg_at_exit() {
	TG_CLEANUPS="$1 $TG_CLEANUPS"
}

# tg_track PID - stop PID at exit
tg_track() {
	TG_PIDS="$1 $TG_PIDS"
}

# tg_untrack PID
tg_untrack() {
	local p rest=""
	for p in $TG_PIDS; do
		[ "$p" = "$1" ] || rest="$rest $p"
	done
	TG_PIDS=$rest
}

# tg_kill_pid PID [TIMEOUT] - SIGTERM, wait up to TIMEOUT seconds (default
# 10), then SIGKILL. Returns the exit status when PID is our child
# (137 when it had to be killed), else 127.
tg_kill_pid() {
	local pid="$1" t=$((${2:-10} * 10)) rc="0" w
	if tg_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		while [ $t -gt 0 ] && tg_alive "$pid"; do
			sleep 0.1
			t=$((t - 1))
		done
		if [ $t -le 0 ]; then
			echo "pid $pid did not stop on SIGTERM; killing it" >&2
			kill -KILL "$pid" 2>/dev/null
			rc=137
		fi
	fi
	wait "$pid" 2>/dev/null
	w=$?
	[ $rc -ne 0 ] || rc=$w
	tg_untrack "$pid"
	return $rc
}

# tg_alive PID - running (an exited child waiting to be reaped is not)
tg_alive() {
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

tg_cleanup() {
	local rc="$?" f p
	trap - EXIT INT TERM HUP
	for f in $TG_CLEANUPS; do
		"$f" >/dev/null 2>&1
	done
	for p in $TG_PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $TG_PIDS; do
		tg_kill_pid "$p" 10 >/dev/null 2>&1
	done
	if [ -n "$TG_NETNS" ]; then
		ip netns delete "$TG_NETNS" 2>/dev/null
		rm -rf "/etc/netns/$TG_NETNS"
	fi
	if [ -n "$TG_DIR" ] && [ -d "$TG_DIR" ]; then
		if [ "$TG_DUMPED" = no ] && { [ "${TG_VERBOSE:-0}" = 1 ] ||
		    { [ $rc -ne 0 ] && [ "${TG_DUMP_LOGS:-yes}" = yes ]; }; }; then
			tg_dump_logs
		fi
		if [ "${TG_KEEP:-0}" = 1 ]; then
			echo "scratch directory kept: $TG_DIR"
		else
			rm -rf "$TG_DIR"
		fi
	fi
	exit $rc
}

# ------------------------------------------------------------ waiting

# tg_wait_for SECONDS COMMAND... - poll every 0.1 s until COMMAND succeeds
tg_wait_for() {
	local t=$(($1 * 10))
	shift
	while [ $t -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		t=$((t - 1))
	done
	"$@"
}

# tg_wait_log SECONDS FIXED-STRING FILE
tg_wait_log() {
	tg_wait_for "$1" grep -Fq -- "$2" "$3"
}

# ------------------------------------------------------------ netns

# tg_netns_create - a namespace with lo up and a resolv.conf pointing at
# 127.0.0.1 (nothing answers there, so lookups fail at once)
tg_netns_create() {
	TG_NETNS=tgtest$$
	ip netns add "$TG_NETNS" || { TG_NETNS=""; return 1; }
	TG_NS_EXEC="ip netns exec $TG_NETNS"
	ip -n "$TG_NETNS" link set lo up || return 1
	mkdir -p "/etc/netns/$TG_NETNS"
	echo "nameserver 127.0.0.1" >"/etc/netns/$TG_NETNS/resolv.conf"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"/etc/netns/$TG_NETNS/hosts"
}

# tg_ns CMD... - run CMD inside our namespace (or here when there is none)
tg_ns() {
	$TG_NS_EXEC "$@"
}

# ------------------------------------------------------------ tollgate

# tg_write_conf FILE [ "Key value" ... ] - a test tollgate.conf: defaults
# below, each argument replacing the default of its key (or adding it)
tg_write_conf() {
	local file="$1" kv key
	shift
	cat >"$file.tmp" <<EOF
Socket unix:${TG_SOCK:-$TG_DIR/tollgate.sock}
PidFile ${TG_PIDFILE:-$TG_DIR/tollgate.pid}
PolicyFile ${TG_POLICY:-$TG_DIR/policy.conf}
LocalDomains example.org, .example.org
TrustedNetworks 127.0.0.0/8, ::1/128
MaxMessageSize 100K
SubmissionDaemons submission
Syslog no
Mode enforce
TagHeaders yes
TagSubjectPrefix "[SPAM] "
DNSTimeout 2s
CheckTimeout 4s
StateDB $TG_DIR/state/state.db
EOF
	# DNS: bounded well inside miltertest's 10 s per step, whatever the
	# host's resolv.conf points at (tests with their own DNS override it)
	for kv in "$@"; do
		key=${kv%% *}
		awk -v k="$key" 'tolower($1) != tolower(k)' "$file.tmp" >"$file.tmp2"
		mv "$file.tmp2" "$file.tmp"
		printf '%s\n' "$kv" >>"$file.tmp"
	done
	mv "$file.tmp" "$file"
	[ -f "${TG_POLICY:-$TG_DIR/policy.conf}" ] || : >"${TG_POLICY:-$TG_DIR/policy.conf}"
}

# tg_socket_path CONF - the unix socket path a conf names (nothing for
# an inet: socket)
tg_socket_path() {
	awk 'tolower($1) == "socket" && $2 !~ /^inet6?:/ { sub(/^(unix|local):/, "", $2); print $2 }' "$1"
}

# tg_start CONF LOG - start tollgate -f in the background (inside the
# namespace if there is one), wait until its socket accepts. Sets TG_PID.
tg_start() {
	local conf="$1" log="$2" sock
	sock=$(tg_socket_path "$conf")
	if [ "${TG_VALGRIND:-0}" = 1 ]; then
		$TG_NS_EXEC valgrind -q --error-exitcode=99 --leak-check=full \
		    --show-possibly-lost=no --vgdb=no \
		    --errors-for-leak-kinds=definite \
		    "$TOLLGATE" -f -c "$conf" 2>>"$log" &
	else
		$TG_NS_EXEC "$TOLLGATE" -f -c "$conf" 2>>"$log" &
	fi
	TG_PID=$!
	tg_track "$TG_PID"
	if ! tg_wait_for 20 tg_started "$sock" "$log"; then
		echo "tollgate did not start (socket $sock); log:" >&2
		cat "$log" >&2
		return 1
	fi
}

# tg_started SOCK LOG - socket exists (SOCK empty: an inet: socket,
# open before the line) and the start-up line was logged
tg_started() {
	tg_alive "$TG_PID" || return 1
	{ [ -z "$1" ] || [ -S "$1" ]; } && grep -q 'starting tollgate' "$2"
}

# tg_stop [PID] - SIGTERM and wait; returns tollgate's exit status
tg_stop() {
	local pid="${1:-$TG_PID}"
	[ -n "$pid" ] || return 0
	tg_kill_pid "$pid" 15
}

# tg_stop_async [PID] - SIGTERM now, reap later with tg_reap; lets the
# shutdowns of several daemons overlap
TG_STOPPING=""
tg_stop_async() {
	local pid="${1:-$TG_PID}"
	kill -TERM "$pid" 2>/dev/null
	TG_STOPPING="$TG_STOPPING $pid"
}

# tg_reap PID - exit status of a daemon stopped with tg_stop_async
tg_reap() {
	tg_kill_pid "$1" 15
}

# ------------------------------------------------------------ miltertest

# A run-*.sh drives daemons with the miltertest(8) scripts NAME.lua of
# this directory: tg_suite gives each script a daemon of its own and
# sends it SIGTERM afterwards; tg_reap_suites then wants exit status 0
# of each.

TG_LUA_VARS=""		# names of shell variables tg_run_lua also hands to
			# every script (-D NAME=VALUE), e.g. "MSGS HAVE_ED"
TG_SUITE_PIDS=""	# NAME:PID of each daemon stopped, not yet reaped

# tg_run_lua SUITE LOG [-D NAME=VALUE...] - SUITE.lua against the daemon
# TG_PID listening on SOCK, LOG its log; the script's ok/not ok lines are
# printed and counted, and one that does not run to its end fails. Its
# globals: FUNCDIR, SOCK, LOG, DIR (TG_DIR), POLICY, TGPID, those named
# in TG_LUA_VARS, then the -D arguments.
tg_run_lua() {
	local suite="$1" log="$2" out="$TG_DIR/$1.out" rc v
	shift 2
	for v in $TG_LUA_VARS; do
		eval "set -- -D \"$v=\$$v\" \"\$@\""
	done
	$TG_NS_EXEC timeout 120 miltertest -s "$TG_FUNC_DIR/$suite.lua" \
	    -D FUNCDIR="$TG_FUNC_DIR" -D SOCK="$SOCK" -D LOG="$log" \
	    -D DIR="$TG_DIR" -D POLICY="${TG_POLICY:-$TG_DIR/policy.conf}" \
	    -D TGPID="$TG_PID" "$@" >"$out" 2>&1
	rc=$?
	grep -E '^(ok|not ok) - ' "$out"
	tg_count_results "$out"
	if [ $rc -ne 0 ]; then
		tg_fail "$suite.lua ran to the end" "miltertest exit 0" \
		    "exit $rc: $(grep -Ev '^(ok|not ok) - ' "$out" | tail -n 3 | tr '\n' ' ')"
	fi
}

# tg_suite_start NAME [conf overrides...] - a daemon of its own for
# NAME.lua: TG_DIR/NAME-tollgate.conf (tg_write_conf with the overrides),
# NAME.sock, NAME.pid, NAME.log. Sets SOCK and TG_PID; a daemon that
# does not start is a failed case and returns 1.
tg_suite_start() {
	local name="$1" conf="$TG_DIR/$1-tollgate.conf"
	shift
	SOCK=$TG_DIR/$name.sock
	TG_SOCK=$SOCK TG_PIDFILE=$TG_DIR/$name.pid tg_write_conf "$conf" "$@"
	tg_start "$conf" "$TG_DIR/$name.log" && return 0
	tg_fail "$name: tollgate starts" "a socket" "no socket"
	return 1
}

# tg_suite_run NAME - NAME.lua against the daemon tg_suite_start left in
# TG_PID, then SIGTERM to it (its exit status: tg_reap_suites)
tg_suite_run() {
	tg_run_lua "$1" "$TG_DIR/$1.log"
	tg_stop_async "$TG_PID"
	TG_SUITE_PIDS="$TG_SUITE_PIDS $1:$TG_PID"
}

# tg_suite NAME [conf overrides...] - tg_suite_start, then tg_suite_run.
# The policy is the policy file as it is when the daemon starts.
tg_suite() {
	tg_suite_start "$@" && tg_suite_run "$1"
}

# tg_reap_suites - each daemon tg_suite_run stopped has exited 0
tg_reap_suites() {
	local s rc
	for s in $TG_SUITE_PIDS; do
		tg_reap "${s#*:}"
		rc=$?
		tg_eq "${s%%:*}: tollgate exits 0 on SIGTERM" 0 "$rc"
	done
	TG_SUITE_PIDS=""
}

# ------------------------------------------------------------ postfix

# Ports inside the namespace (private, so fixed numbers cannot clash)
PF_SMTP_PORT=${PF_SMTP_PORT:-2525}
PF_SUBMISSION_PORT=${PF_SUBMISSION_PORT:-2587}
PF_SINK_PORT=${PF_SINK_PORT:-2526}

# pf_setup DIR MILTER-SOCKET - write a private Postfix instance into DIR
# (MILTER-SOCKET: a unix socket path, or inet:HOST:PORT)
# (configuration DIR/etc, queue DIR/queue, log DIR/maillog):
# deliberately an open relay (mynetworks = 0.0.0.0/0) so that only
# tollgate stands between the world and relaying; everything goes to
# the smtp-sink on PF_SINK_PORT. SASL (cyrus sasldb) on the submission
# service when saslpasswd2 exists.
pf_setup() {
	local pf="$1" sock="$2"
	case $sock in inet:*) ;; *) sock=unix:$sock ;; esac
	mkdir -p "$pf/etc/sasl" "$pf/queue" "$pf/data"
	chown postfix "$pf/data"
	cat >"$pf/etc/main.cf" <<EOF
# private test instance - never the system Postfix
compatibility_level = 3.6
config_directory = $pf/etc
queue_directory = $pf/queue
data_directory = $pf/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.example.org
mydomain = example.org
myorigin = \$mydomain
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
# THE MISCONFIGURATION: every client is "mynetworks", so Postfix relays
# for anyone. tollgate must keep it closed.
mynetworks = 0.0.0.0/0
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [127.0.0.1]:$PF_SINK_PORT
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_banner = \$myhostname ESMTP test
in_flow_delay = 0
smtpd_client_connection_rate_limit = 0
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_milters = $sock
non_smtpd_milters = \$smtpd_milters
milter_default_action = tempfail
milter_protocol = 6
message_size_limit = 10240000
biff = no
append_dot_mydomain = no
smtputf8_enable = no
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
# SASL for the submission service
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $pf/etc/sasl
smtpd_sasl_auth_enable = no
smtpd_tls_security_level = none
EOF
	cat >"$pf/etc/master.cf" <<EOF
$PF_SMTP_PORT      inet  n       -       n       -       -       smtpd
$PF_SUBMISSION_PORT      inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/submission
  -o milter_macro_daemon_name=submission
  -o smtpd_sasl_auth_enable=yes
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	cat >"$pf/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $pf/sasldb2
EOF
}

# pf_add_sasl_user DIR USER@REALM PASSWORD
pf_add_sasl_user() {
	local pf="$1" user="${2%@*}" realm="${2#*@}"
	printf '%s' "$3" | saslpasswd2 -p -c -f "$pf/sasldb2" -u "$realm" "$user" || return 1
	chown postfix "$pf/sasldb2" && chmod 0640 "$pf/sasldb2"
}

# pf_start DIR - start the instance (inside the namespace), wait for smtpd
pf_start() {
	local pf="$1"
	PF_DIR=$pf
	tg_at_exit pf_cleanup
	tg_ns postfix -c "$pf/etc" start >>"$pf/start.log" 2>&1 || {
		cat "$pf/start.log" "$pf/maillog" >&2 2>/dev/null
		return 1
	}
	tg_wait_for 20 pf_listening "$PF_SMTP_PORT" || {
		echo "postfix does not listen on $PF_SMTP_PORT" >&2
		cat "$pf/start.log" "$pf/maillog" >&2 2>/dev/null
		return 1
	}
}

# pf_listening PORT - something accepts on 127.0.0.1:PORT (in the namespace)
pf_listening() {
	tg_ns ss -Hltn "sport = :$1" 2>/dev/null | grep -q LISTEN
}

# pf_stop - stop the instance; fall back to the master's pid file
pf_stop() {
	local pf="${PF_DIR:-}"
	[ -n "$pf" ] || return 0
	tg_ns postfix -c "$pf/etc" stop >/dev/null 2>&1
	tg_wait_for 10 pf_master_gone "$pf"
}

pf_master_gone() {
	local pid
	[ -f "$1/queue/pid/master.pid" ] || return 0
	pid=$(tr -dc 0-9 <"$1/queue/pid/master.pid")
	[ -n "$pid" ] && tg_alive "$pid" && return 1
	return 0
}

pf_cleanup() {
	local pid
	[ -n "${PF_DIR:-}" ] || return 0
	pf_stop
	if [ -f "$PF_DIR/queue/pid/master.pid" ]; then
		pid=$(tr -dc 0-9 <"$PF_DIR/queue/pid/master.pid")
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	fi
	PF_DIR=""
}

# sink_start DIR - smtp-sink on PF_SINK_PORT dumping each message into DIR
sink_start() {
	local dir="$1"
	mkdir -p "$dir"
	chown postfix "$dir"
	$TG_NS_EXEC smtp-sink -u postfix -d "$dir/%Y%m%d%H%M%S." -h sink.example \
	    "127.0.0.1:$PF_SINK_PORT" 64 >>"$dir/../sink.log" 2>&1 &
	SINK_PID=$!
	tg_track "$SINK_PID"
	tg_wait_for 10 pf_listening "$PF_SINK_PORT"
}
