#!/bin/sh
# run-spf.sh - the SPF check (RFC 7208) against a real DNS server: nsd
# in a network namespace of our own serving the records below, tollgate
# in the same namespace, driven by miltertest(8) (spf-*.lua).
#
# Run by "make check" (env top_srcdir, top_builddir) or by hand:
#   top_builddir=/path/to/build tests/functional/run-spf.sh
# Exit: 0 all passed, 1 something failed, 77 when nsd, miltertest or ip
# are missing or we are not root. Prints "ok - NAME" / "not ok - NAME:
# expected X, got Y" per case.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/functional/lib.sh"
. "$top_srcdir/tests/functional/dnslib.sh"

[ "$(id -u)" = 0 ] || tg_skip "needs root (network namespace)"
tg_need_cmd nsd miltertest ip
tg_init spf
if ! tg_netns_create; then
	tg_fail "network namespace created" "ip netns add to work" "an error"
	tg_summary
	exit 1
fi

POLICY=$TG_DIR/policy.conf

# ---------------------------------------------------------------- zones
# Clients: 192.0.2.10 and 2001:db8::25 are the designated senders,
# 198.51.100.7 is not; 192.88.99.10 has a reverse name, 192.88.99.11
# eleven that do not validate (libunbound answers the reverse zones of
# the documentation networks itself). Names under .example (libunbound answers .test
# itself).
dns_zone example <<'ZONE'
pass          TXT "v=spf1 ip4:192.0.2.10 ip6:2001:db8::/32 -all"
fail          TXT "v=spf1 ip4:192.0.2.99 -all"
softfail      TXT "v=spf1 ip4:192.0.2.99 ~all"
neutral       TXT "v=spf1 ip4:192.0.2.99 ?all"
nospf         A   192.0.2.1
nospf         TXT "just some text"
two           TXT "v=spf1 ip4:192.0.2.10 -all"
two           TXT "v=spf1 -all"
split         TXT "v=spf1 ip4:192.0.2.10 " "-all"
upper         TXT "V=SPF1 IP4:192.0.2.10 -ALL"
unknown-mech  TXT "v=spf1 ip4:192.0.2.10 foo:bar.example -all"
bad-qual      TXT "v=spf1 !ip4:192.0.2.10 -all"
bad-cidr      TXT "v=spf1 ip4:192.0.2.10/33 -all"
bad-macro     TXT "v=spf1 ip4:192.0.2.10 -all moo=%d"
two-redirect  TXT "v=spf1 redirect=pass.example redirect=fail.example"
two-exp       TXT "v=spf1 ip4:192.0.2.10 -all exp=why.expl.example exp=why.expl.example"
no-tld        TXT "v=spf1 a:localhost -all"
include       TXT "v=spf1 include:pass.example -all"
include-none  TXT "v=spf1 include:nospf.example -all"
redirect      TXT "v=spf1 redirect=pass.example"
redirect-all  TXT "v=spf1 redirect=pass.example -all"
redirect-mid  TXT "v=spf1 redirect=fail.example ip4:192.0.2.10"
a             TXT "v=spf1 a -all"
a             A   192.0.2.10
a             AAAA 2001:db8::25
a-other       TXT "v=spf1 a:host.a.example/24 -all"
host.a        A   192.0.2.200
mx            TXT "v=spf1 mx -all"
mx            MX  10 mail1.mx
mx            MX  20 mail2.mx
mail1.mx      A   192.0.2.50
mail2.mx      A   192.0.2.10
ptr           TXT "v=spf1 ptr -all"
host.ptr      A   192.88.99.10
ptr11         TXT "v=spf1 ptr -all"
exists        TXT "v=spf1 exists:%{i}.ok.exists.example -all"
192.0.2.10.ok.exists A 127.0.0.2
zero          TXT "v=spf1 -ip4:0.0.0.0/0 +all"
helo          TXT "v=spf1 ip4:192.0.2.10 -all"
expl          TXT "v=spf1 ip4:192.0.2.99 -all exp=why.expl.example"
why.expl      TXT "%{i} is not one of %{d}'s designated mail servers."
redirect-expl TXT "v=spf1 redirect=expl.example exp=other.expl.example"
other.expl    TXT "wrong explanation"
soft-expl     TXT "v=spf1 ~all exp=why.expl.example"
void2         TXT "v=spf1 a:nx1.example mx:nx2.example ip4:192.0.2.10 -all"
void3         TXT "v=spf1 a:nx1.example a:nx2.example exists:nx3.example ip4:192.0.2.10 -all"
loop-a        TXT "v=spf1 include:loop-b.example -all"
loop-b        TXT "v=spf1 include:loop-a.example -all"
chain10       TXT "v=spf1 include:c2.example -all"
chain11       TXT "v=spf1 include:c1.example -all"
c1            TXT "v=spf1 include:c2.example -all"
c2            TXT "v=spf1 include:c3.example -all"
c3            TXT "v=spf1 include:c4.example -all"
c4            TXT "v=spf1 include:c5.example -all"
c5            TXT "v=spf1 include:c6.example -all"
c6            TXT "v=spf1 include:c7.example -all"
c7            TXT "v=spf1 include:c8.example -all"
c8            TXT "v=spf1 include:c9.example -all"
c9            TXT "v=spf1 include:c10.example -all"
c10           TXT "v=spf1 include:c11.example -all"
c11           TXT "v=spf1 ip4:192.0.2.10 -all"
flat10        TXT "v=spf1 a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example ip4:192.0.2.10 -all"
flat11        TXT "v=spf1 a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example a:host.a.example ip4:192.0.2.10 -all"
ZONE
dns_zone 99.88.192.in-addr.arpa <<'ZONE'
10            PTR host.ptr.example.
11            PTR n1.ptr11.example.
11            PTR n2.ptr11.example.
11            PTR n3.ptr11.example.
11            PTR n4.ptr11.example.
11            PTR n5.ptr11.example.
11            PTR n6.ptr11.example.
11            PTR n7.ptr11.example.
11            PTR n8.ptr11.example.
11            PTR n9.ptr11.example.
11            PTR n10.ptr11.example.
11            PTR n11.ptr11.example.
ZONE
dns_start || { tg_fail "nsd starts" "nsd answering" "no answer"; tg_summary; exit 1; }

# ---------------------------------------------------------------- suites

: >"$POLICY"
dns_suite spf-results
dns_suite spf-trusted "CheckTrustedClients yes" "TrustedNetworks 127.0.0.0/8, 203.0.113.0/24"
printf 'rule spf-fail: spf is fail -> reject\nrule helo-fail: spf-helo is fail -> reject 550 5.7.23 "HELO name not authorised"\n' >"$POLICY"
dns_suite spf-policy
: >"$POLICY"

# DNS gone: every lookup times out (DNSTimeout 1s)
dns_down_suite spf-temperror "DNSTimeout 1s" "ErrorActions spf:temperror=tempfail"
tg_reap_suites

tg_summary
