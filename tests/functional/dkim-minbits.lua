-- dkim-minbits.lua - DKIMMinKeyBits 2048: a valid signature made with a
-- 1024-bit key is "policy", one with a 2048-bit key passes.
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/dkim-lib.lua")

dkim_case("1024-bit key below DKIMMinKeyBits 2048", "pass-relaxed.eml",
    { { "policy (key too small: 1024 bits, minimum 2048)", "pass-relaxed.eml" } })
dkim_case("2048-bit key at DKIMMinKeyBits 2048", "pass-2048.eml",
    { { "pass (2048-bit key)", "pass-2048.eml" } })
if HAVE_ED == "yes" then
	dkim_case("ed25519 keys are not subject to DKIMMinKeyBits", "pass-ed25519.eml",
	    { { "pass (256-bit key)", "pass-ed25519.eml" } })
end
