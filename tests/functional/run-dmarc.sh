#!/bin/sh
# run-dmarc.sh - the DMARC check (RFC 7489) against a real DNS server:
# nsd in a network namespace of our own serving the _dmarc and SPF
# records below, tollgate in the same namespace with the shipped
# policy (conf/policy.conf), driven by miltertest(8) (dmarc-*.lua).
# SPF makes the identifier pass or fail: 192.0.2.10 is every test
# domain's designated sender, 198.51.100.7 is nobody's.
#
# Run by "make check" (env top_srcdir, top_builddir) or by hand:
#   top_builddir=/path/to/build tests/functional/run-dmarc.sh
# Exit: 0 all passed, 1 something failed, 77 when nsd, miltertest or ip
# are missing or we are not root. Prints "ok - NAME" / "not ok - NAME:
# expected X, got Y" per case.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/functional/lib.sh"
. "$top_srcdir/tests/functional/dnslib.sh"

[ "$(id -u)" = 0 ] || tg_skip "needs root (network namespace)"
tg_need_cmd nsd miltertest ip timeout awk date
tg_init dmarc
tg_netns_create || tg_skip "cannot create a network namespace"

POLICY=$TG_DIR/policy.conf

# ---------------------------------------------------------------- zones
# Names under .example, which is not in the Public Suffix List: the
# default rule makes org.example the organisational domain of
# sub.org.example.
dns_zone example <<'ZONE'
reject            TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.reject     TXT "v=DMARC1; p=reject; rua=mailto:dmarc@reject.example"
quarantine        TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.quarantine TXT "v=DMARC1; p=quarantine"
monitor           TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.monitor    TXT "v=DMARC1; p=none"
org               TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.org        TXT "v=DMARC1; p=reject; sp=quarantine"
sub.org           TXT "v=spf1 ip4:192.0.2.10 -all"
strict            TXT "v=spf1 ip4:192.0.2.10 -all"
bounce.strict     TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.strict     TXT "v=DMARC1; p=reject; aspf=s"
relaxed           TXT "v=spf1 ip4:192.0.2.10 -all"
bounce.relaxed    TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.relaxed    TXT "v=DMARC1; p=reject"
pct0              TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.pct0       TXT "v=DMARC1; p=reject; pct=0"
nodmarc           TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.nodmarc    TXT "v=spf1 -all"
two               TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.two        TXT "v=DMARC1; p=reject"
_dmarc.two        TXT "v=DMARC1; p=none"
invalid           TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.invalid    TXT "v=DMARC1; p=bogus"
split             TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.split      TXT "v=DMARC1; " "p=reject"
tempspf           TXT "v=spf1 include:spf.unserved.net -all"
_dmarc.tempspf    TXT "v=DMARC1; p=reject"
down              TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.down       TXT "v=DMARC1; p=reject"
ZONE
dns_start || { tg_fail "nsd starts" "nsd answering" "no answer"; tg_summary; exit 1; }

# ---------------------------------------------------------------- suites

# the shipped policy: dmarc fail + p=reject -> 550, + p=quarantine -> hold
cp "$top_srcdir/conf/policy.conf" "$POLICY"
dns_suite dmarc-results

# a policy refusing an unusable From (dmarc-from) but only tagging an
# invalid DMARC record (dmarc=permerror too)
{
	printf 'rule ambiguous-from: dmarc-from is missing, multiple, invalid\n'
	printf '\t-> reject 550 5.7.1 "Ambiguous or missing From header"\n'
	printf 'rule dmarc-broken: dmarc is permerror -> tag\n'
	cat "$top_srcdir/conf/policy.conf"
} >"$POLICY"
dns_suite dmarc-policy

# DNS gone (DNSTimeout 1s)
cp "$top_srcdir/conf/policy.conf" "$POLICY"
dns_down_suite dmarc-temperror "DNSTimeout 1s"
tg_reap_suites

tg_summary
