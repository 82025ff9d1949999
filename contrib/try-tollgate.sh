#!/bin/sh
# try-tollgate.sh - run tollgate for real, in front of a private Postfix
# on 127.0.0.1 that hands every message to a sink, and show where the
# verdicts appear. Nothing touches the system's Postfix or /etc/postfix.
#
#   sudo ./contrib/try-tollgate.sh          (Debian 12; Ctrl-C stops it all)
#
# What it does:
#   1. installs missing Debian packages (tests/install-deps.sh),
#   2. builds tollgate unless already built (autoreconf -fi && ./configure
#      && make, in the source tree; TOLLGATE=/path/to/tollgate skips this),
#   3. writes a scratch directory (TRY_DIR, default /tmp/try-tollgate.XXXXXX):
#      tollgate.conf made from conf/tollgate.conf (LocalDomains example.org),
#      policy.conf = conf/policy.conf plus two demo rules, a private Postfix
#      (pf/), an smtp-sink that dumps each relayed message (sink/),
#   4. starts them, prints what to try, waits for Ctrl-C, stops them.
#
# Ports (127.0.0.1): TRY_SMTP_PORT 2525 (smtpd), TRY_SUBMISSION_PORT 2587
# (submission, SMTP AUTH user alice@example.org password "alice"),
# TRY_SINK_PORT 2526 (the sink).
#
# The Postfix is deliberately an open relay (mynetworks = 0.0.0.0/0), and
# 127.0.0.1 is NOT in tollgate's TrustedNetworks here: your test mail
# counts as mail from the internet, and tollgate alone keeps the relay shut.

set -u
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${top_builddir:-$top_srcdir}

if [ "$(id -u)" -ne 0 ]; then
	echo "try-tollgate.sh: run as root (it starts a private Postfix)" >&2
	exit 1
fi

need_install=no
for c in postfix swaks smtp-sink saslpasswd2 autoreconf pkg-config ss; do
	command -v "$c" >/dev/null 2>&1 || need_install=yes
done
if [ $need_install = yes ]; then
	echo "== installing the Debian packages tollgate needs"
	"$top_srcdir/tests/install-deps.sh" || exit 1
fi

if [ -z "${TOLLGATE:-}" ]; then
	TOLLGATE=$top_builddir/src/tollgate
	echo "== building tollgate in $top_builddir"
	(
		cd "$top_builddir" || exit 1
		if [ ! -f Makefile ]; then
			[ -x "$top_srcdir/configure" ] || (cd "$top_srcdir" && autoreconf -fi) || exit 1
			"$top_srcdir/configure" >configure.out 2>&1 || {
				tail -n 20 configure.out >&2
				exit 1
			}
		fi
		make -j2 src/tollgate >make.out 2>&1 || { tail -n 30 make.out >&2; exit 1; }
	) || { echo "try-tollgate.sh: build failed" >&2; exit 1; }
fi
export TOLLGATE

PF_SMTP_PORT=${TRY_SMTP_PORT:-2525}
PF_SUBMISSION_PORT=${TRY_SUBMISSION_PORT:-2587}
PF_SINK_PORT=${TRY_SINK_PORT:-2526}
. "$top_srcdir/tests/functional/lib.sh"

for p in "$PF_SMTP_PORT" "$PF_SUBMISSION_PORT" "$PF_SINK_PORT"; do
	if pf_listening "$p"; then
		echo "try-tollgate.sh: port $p on 127.0.0.1 is in use; set TRY_SMTP_PORT," \
		    "TRY_SUBMISSION_PORT or TRY_SINK_PORT" >&2
		exit 1
	fi
done

TG_KEEP=${TG_KEEP:-1}	# keep the logs and the sink for a look afterwards
TG_DUMP_LOGS=no
if [ -n "${TRY_DIR:-}" ]; then
	mkdir -p "$TRY_DIR" && chmod 0755 "$TRY_DIR"
	TG_DIR=$TRY_DIR
	trap tg_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
else
	tg_init try
fi
D=$TG_DIR
mkdir -p "$D/run"
chown postfix:postfix "$D/run"

# ---------------------------------------------------------------- tollgate.conf
# the shipped file with the paths moved into the scratch directory
sed -e "s|^Socket[[:space:]].*|Socket			unix:$D/run/tollgate.sock|" \
    -e "s|^PidFile[[:space:]].*|PidFile			$D/run/tollgate.pid|" \
    -e "s|^PolicyFile[[:space:]].*|PolicyFile		$D/policy.conf|" \
    -e "s|^#*UserID[[:space:]].*|UserID			postfix:postfix|" \
    -e "s|^LocalDomains[[:space:]].*|LocalDomains		example.org, .example.org|" \
    -e "s|^TrustedNetworks[[:space:]].*|# try-tollgate.sh: loopback is NOT trusted, so your swaks counts as the internet\nTrustedNetworks		192.0.2.0/24|" \
    -e "s|^#*SenderLoginMap[[:space:]].*|SenderLoginMap		$D/sender-logins|" \
    -e "s|^Syslog[[:space:]].*|Syslog			no|" \
    "$top_srcdir/conf/tollgate.conf" >"$D/tollgate.conf"
# a key the shipped file lacks: append it
for kv in "Socket unix:$D/run/tollgate.sock" "PidFile $D/run/tollgate.pid" \
    "PolicyFile $D/policy.conf" "UserID postfix:postfix" \
    "LocalDomains example.org, .example.org" "TrustedNetworks 192.0.2.0/24" \
    "SenderLoginMap $D/sender-logins" "Syslog no"; do
	grep -q "^${kv%% *}[[:space:]]" "$D/tollgate.conf" || printf '%s\n' "$kv" >>"$D/tollgate.conf"
done
printf 'alice@example.org\talice@example.org\n' >"$D/sender-logins"
cp "$top_srcdir/conf/policy.conf" "$D/policy.conf"
cat >>"$D/policy.conf" <<'EOF'

# ---- added by contrib/try-tollgate.sh for the demo
rule demo-tag: header Subject ~ /viagra/i -> tag
rule demo-hold: header Subject ~ /quarantine me/i -> quarantine "demo quarantine"
rule demo-reject: helo is "bad.example" -> reject 550 5.7.1 "go away"
EOF
chmod 0644 "$D/tollgate.conf" "$D/policy.conf" "$D/sender-logins"

if ! "$TOLLGATE" -n -c "$D/tollgate.conf" >"$D/check.out" 2>&1; then
	echo "tollgate -n rejected the demo configuration:" >&2
	cat "$D/check.out" >&2
	exit 1
fi

# ---------------------------------------------------------------- start
echo "== starting tollgate, smtp-sink and a private Postfix in $D"
tg_start "$D/tollgate.conf" "$D/tollgate.log" || exit 1
pf_setup "$D/pf" "$D/run/tollgate.sock"
pf_add_sasl_user "$D/pf" alice@example.org alice || echo "(SMTP AUTH user not created)"
sink_start "$D/sink" || { echo "smtp-sink did not start" >&2; exit 1; }
pf_start "$D/pf" || { echo "postfix did not start" >&2; exit 1; }

S="swaks --server 127.0.0.1:$PF_SMTP_PORT --from you@remote.example"
cat <<EOF

tollgate $("$TOLLGATE" -V | cut -d' ' -f2) (pid $TG_PID) is filtering a private Postfix on 127.0.0.1:$PF_SMTP_PORT.

Send a test message (in another terminal):

  accepted, relayed to the sink:
    $S --to bob@example.org
  relaying refused, 554 5.7.1 at RCPT (Postfix alone would relay it):
    $S --to someone@remote.example
  relay tricks refused the same way:
    $S --to 'someone%remote.example@example.org'
  tagged (X-Spam-Flag, X-Tollgate-Verdict, [SPAM] subject):
    $S --to bob@example.org --header 'Subject: cheap viagra'
  quarantined (Postfix hold queue; postqueue -c $D/pf/etc -p):
    $S --to bob@example.org --header 'Subject: please quarantine me'
  rejected by a policy rule:
    $S --to bob@example.org --helo bad.example
  submission without AUTH (530 5.7.0), then with AUTH (relay allowed):
    swaks --server 127.0.0.1:$PF_SUBMISSION_PORT --from alice@example.org --to someone@remote.example
    swaks --server 127.0.0.1:$PF_SUBMISSION_PORT --from alice@example.org --to someone@remote.example \\
        --auth PLAIN --auth-user alice@example.org --auth-password alice

Where the verdict shows:
  tollgate's log (one line per message):  tail -f $D/tollgate.log
  what Postfix relayed (one file each):   ls $D/sink/
  Postfix's log:                          $D/pf/maillog
  the hold queue:                         postqueue -c $D/pf/etc -p

Edit $D/policy.conf, then: kill -HUP $TG_PID (a broken file is refused, see the log).
Ctrl-C stops tollgate, Postfix and the sink.
EOF

while tg_alive "$TG_PID"; do
	sleep 1
done
echo "tollgate exited; see $D/tollgate.log" >&2
exit 1
