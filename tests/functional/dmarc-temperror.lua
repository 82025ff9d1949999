-- dmarc-temperror.lua - the DNS server is gone (DNSTimeout 1s, default
-- ErrorActions): dmarc=temperror within the DNS timeout, never fail, and
-- the message is accepted.
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/dmarc-lib.lua")

case("dmarc: DNS down: temperror within DNSTimeout, accepted", function()
	local conn = open({ ip = "192.0.2.10", helo = "mta.example" })
	envelope(conn, "<a@down.example>", "DT1")
	local t0 = now()
	local eom = reply_name(data(conn, { { "From", "a@down.example" } }))
	local spent = now() - t0
	yes("end of message answered within 1.5 s", spent < 1.5, spent)
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	local all = authres_entries(header_added(conn, "Authentication-Results"))
	local got = all[#all]	-- the dmarc element is the last
	yes("dmarc=temperror naming the lookup", got == "dmarc=temperror (DNS timeout looking "
	    .. "up _dmarc.down.example) header.from=down.example"
	    or got == "dmarc=temperror (DNS servfail looking up _dmarc.down.example) "
	    .. "header.from=down.example", got)
	log_expect({ qid = "DT1", nrcpt = "1" }, { action = "accept", dmarc = "temperror" })
end)
