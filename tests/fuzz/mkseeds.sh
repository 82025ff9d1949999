#!/bin/sh
# mkseeds.sh - (re)write the DKIM-signed seeds of corpus/fuzz_message
# with the test keys in keys/ (whose public halves are in keys.h and in
# fuzz_message.c's DNS table). Needs the dkimsign test tool:
#
#   tests/fuzz/mkseeds.sh BUILD/tests/tools/dkimsign
#
# The other seeds are plain files written by hand.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sign=$1
out=$here/corpus/fuzz_message
mkdir -p "$out"

msg() {
	cat <<'EOF'
From: Alice <alice@remote.example>
To: Bob <bob@example.org>
Subject: quarterly report
Date: Mon, 1 Jan 2024 10:00:00 +0000
Message-ID: <fuzz-seed@remote.example>

Hello Bob,

the  figures are   attached.

Alice
EOF
}

env() {
	printf 'helo client.remote.example\nfrom <alice@remote.example>\nqid SEED%s\nrcpt <bob@example.org>\n%sDATA\n' "$1" "${2:-}"
}

{ env 1; msg | "$sign" -d remote.example -s sel -k "$here/keys/rsa.pem"; } >"$out/dkim-rsa"
{ env 2; msg | "$sign" -d remote.example -s ed -k "$here/keys/ed.pem" -a ed25519-sha256; } \
    >"$out/dkim-ed25519"
{ env 3; msg | "$sign" -d remote.example -s sel -k "$here/keys/rsa.pem" -c simple/simple -l \
    | "$sign" -d remote.example -s ed -k "$here/keys/ed.pem" -a ed25519-sha256; } >"$out/dkim-two"
{ env 4; msg | "$sign" -d remote.example -s revoked -k "$here/keys/rsa.pem"; } >"$out/dkim-revoked"
{ env 5 'ip 203.0.113.9
'; msg | "$sign" -d remote.example -s sel -k "$here/keys/rsa.pem" -t 1700000000 -x 60; } \
    >"$out/dkim-expired"
# signed, then the body changed: a body hash mismatch
{ env 6; msg | "$sign" -d remote.example -s sel -k "$here/keys/rsa.pem" | sed 's/figures/FIGURES/'; } \
    >"$out/dkim-bodyhash"
