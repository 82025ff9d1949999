-- spf-temperror.lua - the DNS server is gone (DNSTimeout 1s,
-- ErrorActions spf:temperror=tempfail): temperror, quickly, and 451.
dofile(FUNCDIR .. "/mtlib.lua")

case("spf: DNS down: temperror within ~2 s, 451 4.4.3", function()
	local conn = open({ ip = "192.0.2.10", helo = "mta.example" })
	local t0 = now()
	eq("MAIL reply", "SMFIR_CONTINUE",
	    reply_name(mail(conn, "<a@temp.example>", { qid = "TE1" })))
	local spent = now() - t0
	yes("MAIL FROM answered within 2.5 s", spent < 2.5, spent)
	eq("RCPT reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@example.org>")))
	refused(conn, reply_name(data(conn)), "TE1", "451", "4.4.3",
	    "Temporary failure checking spf, try again later")
	local f = log_expect({ qid = "TE1", nrcpt = "1" }, { action = "tempfail", spf = "temperror" })
	yes("reason names the lookup", f.reasons ~= nil
	    and f.reasons:find("looking up TXT temp.example", 1, true) ~= nil, f.reasons)
end)
