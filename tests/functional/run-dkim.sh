#!/bin/sh
# run-dkim.sh - the DKIM check (RFC 6376, 8301, 8463) against a real DNS
# server: keys generated here with openssl, messages signed with
# tests/tools/dkimsign, the key records served by nsd in a network
# namespace of our own, tollgate in the same namespace driven by
# miltertest(8) (dkim-*.lua), the exact dkim= entries of the
# Authentication-Results header and the log line checked.
#
# Run by "make check" (env top_srcdir, top_builddir) or by hand:
#   top_builddir=/path/to/build tests/functional/run-dkim.sh
# Exit: 0 all passed, 1 something failed, 77 when nsd, miltertest, ip,
# openssl or dkimsign are missing or we are not root. Prints
# "ok - NAME" / "not ok - NAME: expected X, got Y" per case.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/functional/lib.sh"
. "$top_srcdir/tests/functional/dnslib.sh"

DKIMSIGN=$top_builddir/tests/tools/dkimsign

[ "$(id -u)" = 0 ] || tg_skip "needs root (network namespace)"
tg_need_cmd nsd miltertest ip openssl base64 fold timeout awk sed
[ -x "$DKIMSIGN" ] || tg_skip "$DKIMSIGN not built (make check builds it)"
tg_init dkim
tg_netns_create || tg_skip "cannot create a network namespace"

POLICY=$TG_DIR/policy.conf
KEYS=$TG_DIR/keys
MSGS=$TG_DIR/msgs
mkdir -p "$KEYS" "$MSGS"

# ---------------------------------------------------------------- keys

# rsa_key NAME BITS - KEYS/NAME.pem and KEYS/NAME.pub (base64 of the DER
# public key, the p= of RFC 6376)
rsa_key() {
	openssl genrsa -out "$KEYS/$1.pem" "$2" 2>/dev/null &&
	    openssl rsa -in "$KEYS/$1.pem" -pubout -outform DER 2>/dev/null |
	    base64 -w0 >"$KEYS/$1.pub"
}

# ed_key NAME - an ed25519 key; p= is the raw 32-byte key (RFC 8463)
ed_key() {
	openssl genpkey -algorithm ed25519 -out "$KEYS/$1.pem" 2>/dev/null &&
	    openssl pkey -in "$KEYS/$1.pem" -pubout -outform DER 2>/dev/null |
	    tail -c 32 | base64 -w0 >"$KEYS/$1.pub"
}

rsa_key rsa1024 1024 && rsa_key rsa2048 2048 && rsa_key rsa512 512 ||
    tg_skip "openssl cannot make RSA keys"
HAVE_ED=yes
ed_key ed25519 || HAVE_ED=no

# txt VALUE - a TXT rdata of quoted strings of at most 250 characters
txt() {
	printf '%s' "$1" | fold -w 250 | sed 's/.*/"&"/' | tr '\n' ' '
}

# ---------------------------------------------------------------- zones
# sender.example signs; other.example is a second signer.
{
	echo "r1024._domainkey.sender TXT $(txt "v=DKIM1; k=rsa; p=$(cat "$KEYS/rsa1024.pub")")"
	echo "r2048._domainkey.sender TXT ( $(txt "v=DKIM1; k=rsa; p=$(cat "$KEYS/rsa2048.pub")") )"
	echo "r512._domainkey.sender TXT $(txt "v=DKIM1; k=rsa; p=$(cat "$KEYS/rsa512.pub")")"
	[ $HAVE_ED = no ] ||
	    echo "ed._domainkey.sender TXT $(txt "v=DKIM1; k=ed25519; p=$(cat "$KEYS/ed25519.pub")")"
	echo 'revoked._domainkey.sender TXT "v=DKIM1; k=rsa; p="'
	echo "r1024._domainkey.other TXT $(txt "v=DKIM1; k=rsa; p=$(cat "$KEYS/rsa1024.pub")")"
	echo 'sender A 192.0.2.1'
	echo 'other A 192.0.2.2'
} >"$TG_DIR/records"
dns_zone example <"$TG_DIR/records"	# not in a pipe: dns_zone sets variables
dns_start || { tg_fail "nsd starts" "nsd answering" "no answer"; tg_summary; exit 1; }

# ---------------------------------------------------------------- messages

cat >"$MSGS/base.txt" <<'EOF'
From: Alice <alice@sender.example>
To: Bob <bob@example.org>
Subject: quarterly report
Date: Mon, 1 Jan 2024 10:00:00 +0000
Message-ID: <dkim-test@sender.example>

Hello Bob,

the  figures are   attached.  

Alice


EOF

# sign OUT IN DOMAIN SELECTOR KEY [dkimsign options] - MSGS/OUT.eml
sign() {
	local out=$1 in=$2 d=$3 s=$4 k=$5
	shift 5
	"$DKIMSIGN" -d "$d" -s "$s" -k "$KEYS/$k.pem" "$@" <"$MSGS/$in" >"$MSGS/$out.eml" ||
	    tg_fail "dkimsign $out" "exit 0" "exit $?"
}

sign pass-relaxed base.txt sender.example r1024 rsa1024
sign pass-simple base.txt sender.example r1024 rsa1024 -c simple/simple
sign pass-2048 base.txt sender.example r2048 rsa2048 -c relaxed/simple
[ $HAVE_ED = no ] || sign pass-ed25519 base.txt sender.example ed ed25519 -a ed25519-sha256
sign body-changed base.txt sender.example r1024 rsa1024
sed -i 's/attached/enclosed/' "$MSGS/body-changed.eml"
sign header-changed base.txt sender.example r1024 rsa1024
sed -i 's/^Subject: quarterly report/Subject: quarterly report (fw)/' "$MSGS/header-changed.eml"
sign small-key base.txt sender.example r512 rsa512
sign no-key base.txt sender.example missing rsa1024
sign revoked base.txt sender.example revoked rsa1024
sign sha1 base.txt sender.example r1024 rsa1024 -a rsa-sha1
sign expired base.txt sender.example r1024 rsa1024 -t $(($(date +%s) - 7200)) -x 3600
sign with-l base.txt sender.example r1024 rsa1024 -l -c simple/simple
cp "$MSGS/with-l.eml" "$MSGS/appended.eml"
printf 'P.S. click http://evil.example/ now\r\n' >>"$MSGS/appended.eml"
# two signatures: other.example signed first, then the Subject changed
# (as a list does) and sender.example signed
sign two-a base.txt other.example r1024 rsa1024
sed -i 's/^Subject: quarterly report/Subject: [list] quarterly report/' "$MSGS/two-a.eml"
sign two two-a.eml sender.example r1024 rsa1024
# three signatures for the cap
sign three-a base.txt other.example r1024 rsa1024
sign three-b three-a.eml sender.example r1024 rsa1024 -c simple/simple
sign three three-b.eml sender.example r2048 rsa2048
cp "$MSGS/base.txt" "$MSGS/unsigned.eml"
# hand-made broken signatures over a valid message
{ printf 'DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=r1024; h=from; bh=AAAA\n'
  cat "$MSGS/base.txt"; } >"$MSGS/malformed.eml"
{ printf 'DKIM-Signature: v=1; a=rsa-sha512; d=sender.example; s=r1024; h=from;\n'
  printf '\tbh=QUJDRA==; b=QUJDREVGR0hJSktM\n'
  cat "$MSGS/base.txt"; } >"$MSGS/unknown-alg.eml"

# ---------------------------------------------------------------- suites

# the scripts read the messages from MSGS, skip ed25519 unless HAVE_ED
TG_LUA_VARS="MSGS HAVE_ED"
: >"$POLICY"
dns_suite dkim-results
dns_suite dkim-minbits "DKIMMinKeyBits 2048"
dns_suite dkim-cap "DKIMMaxSignatures 2"
tg_reap_suites

# the DNS server goes away: key lookups time out, within DNSTimeout
dns_stop
start=$(date +%s)
dns_suite dkim-timeout "DNSTimeout 1s" "CheckTimeout 6s"
took=$(($(date +%s) - start))
tg_reap_suites
if [ "$took" -le 20 ]; then
	tg_pass "dkim-timeout: the suite (daemon start, 2 messages, stop) took ${took}s"
else
	tg_fail "dkim-timeout: suite time" "at most 20s" "${took}s"
fi

tg_summary
