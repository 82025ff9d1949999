-- dkim-results.lua - one message per DKIM result. run-dkim.sh signs the
-- messages (MSGS) and serves the keys of sender.example and
-- other.example (nsd); tollgate runs with the default DKIMMinKeyBits
-- 1024 and DKIMMaxSignatures 10, AuthservID mx.example.org.
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/dkim-lib.lua")

-- pass
dkim_case("rsa-sha256, relaxed/relaxed", "pass-relaxed.eml",
    { { "pass (1024-bit key)", "pass-relaxed.eml" } })
dkim_case("rsa-sha256, simple/simple", "pass-simple.eml",
    { { "pass (1024-bit key)", "pass-simple.eml" } })
dkim_case("2048-bit key, record in several strings", "pass-2048.eml",
    { { "pass (2048-bit key)", "pass-2048.eml" } })
if HAVE_ED == "yes" then
	dkim_case("ed25519-sha256 (RFC 8463)", "pass-ed25519.eml",
	    { { "pass (256-bit key)", "pass-ed25519.eml" } })
else
	print("# ed25519 keys not available: case skipped")
end
dkim_case("body streamed in one chunk", "pass-relaxed.eml",
    { { "pass (1024-bit key)", "pass-relaxed.eml" } }, { chunk = 65536 })
dkim_case("l= covering the whole body", "with-l.eml",
    { { "pass (1024-bit key)", "with-l.eml" } })

-- fail
dkim_case("body changed after signing", "body-changed.eml",
    { { "fail (body hash mismatch)", "body-changed.eml" } })
dkim_case("signed header changed after signing", "header-changed.eml",
    { { "fail (signature mismatch)", "header-changed.eml" } })
dkim_case("key revoked (empty p=)", "revoked.eml",
    { { "fail (key revoked)", "revoked.eml" } })

-- policy: valid, but not acceptable here
dkim_case("512-bit key (RFC 8301)", "small-key.eml",
    { { "policy (key too small: 512 bits, minimum 1024)", "small-key.eml" } })
dkim_case("rsa-sha1 (RFC 8301)", "sha1.eml",
    { { "policy (rsa-sha1 is not acceptable, RFC 8301)", "sha1.eml" } })
dkim_case("expired (x= an hour ago)", "expired.eml",
    { { "policy (signature expired)", "expired.eml" } })
dkim_case("text appended after l=", "appended.eml",
    { { "policy (body signed only in part: l=55 of 96 bytes)", "appended.eml" } })

-- errors
dkim_case("no key record (NXDOMAIN)", "no-key.eml",
    { { "permerror (no key: NXDOMAIN)", "no-key.eml" } })
dkim_case("malformed signature (no b=)", "malformed.eml",
    { { "permerror (malformed signature: missing parameters in signature data)",
        "malformed.eml" } })
dkim_case("unknown algorithm", "unknown-alg.eml",
    { { "permerror (unknown algorithm a=)", "unknown-alg.eml" } })

-- several, none
dkim_case("two signatures, one good and one broken", "two.eml",
    { { "pass (1024-bit key)", "two.eml", 1 },
      { "fail (signature mismatch)", "two.eml", 2 } })
dkim_case("no signature", "unsigned.eml", { { "none (no signature)" } })

-- trusted clients are not checked (CheckTrustedClients no)
case("dkim: a trusted client gets no dkim= element", function()
	local conn, eom = deliver("pass-relaxed.eml", "DKT1", { ip = "127.0.0.1" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	eq("dkim= elements", 0,
	    #authres_entries(header_added(conn, "Authentication-Results"), "dkim"))
	log_expect({ qid = "DKT1", nrcpt = "1" }, { dkim = false })
end)
