#!/bin/sh
# install-deps.sh - install the Debian 12 packages tollgate needs to build,
# run and test. Run as root; safe to run again.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config
	libmilter-dev libspf2-dev libopendkim-dev libopendmarc-dev
	libunbound-dev libsqlite3-dev libssl-dev check
	miltertest postfix swaks iproute2 nsd publicsuffix
	procps valgrind sasl2-bin libsasl2-modules openssl bind9-dnsutils jq
	clang libclang-rt-dev nmap perl sqlite3"

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (apt-get install)" >&2
	exit 1
fi
missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
	    || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
# no questions, and no mail system configured: tollgate's tests run
# their own private Postfix instances and never touch /etc/postfix
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
