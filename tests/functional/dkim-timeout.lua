-- dkim-timeout.lua - the DNS server is gone (DNSTimeout 1s,
-- CheckTimeout 6s): the key lookup times out, dkim=temperror, and the
-- message is accepted (ErrorActions default: accept and record) before
-- the message's lookup budget runs out.
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/dkim-lib.lua")

dkim_case("key lookup timed out", "pass-relaxed.eml",
    { { "temperror (key lookup timed out)", "pass-relaxed.eml" } })
dkim_case("an unsigned message needs no lookup", "unsigned.eml",
    { { "none (no signature)" } })
case("dkim: temperror accepted within CheckTimeout", function()
	local f = log_expect({ qid = "DK1", nrcpt = "1" }, { dkim = "temperror", action = "accept" })
	local ms = tonumber(f.ms or "")
	yes("message done within CheckTimeout 6s (ms=)", ms ~= nil and ms < 6500, f.ms)
end)
