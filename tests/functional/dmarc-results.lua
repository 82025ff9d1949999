-- dmarc-results.lua - DMARC results and the verdicts of the shipped
-- policy.conf, records served by nsd (run-dmarc.sh); SPF supplies the
-- authenticated identifier (no DKIM signatures here).
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/dmarc-lib.lua")

local REJECT = "DMARC policy of the sender domain requests rejection"

case("dmarc: aligned SPF pass, p=reject: pass, accepted", function()
	local conn, eom, qid = send({ mailfrom = "<a@reject.example>",
	    from = "Alice <alice@reject.example>" })
	accepted(conn, eom, qid, "pass")
	authres(conn, "dmarc=pass (p=reject sp=reject pct=100: aligned spf) "
	    .. "header.from=reject.example")
end)

case("dmarc: SPF fail, p=reject: 550 5.7.1", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@reject.example>",
	    from = "alice@reject.example" })
	rejected(conn, eom, qid, "dmarc-reject", REJECT)
	local f = log_find({ qid = qid, nrcpt = "1" }) or {}
	yes("log reasons name the DMARC result", f.reasons ~= nil
	    and f.reasons:find("rule dmarc-reject", 1, true) ~= nil, f.reasons)
end)

case("dmarc: SPF pass of another domain is not aligned: 550", function()
	local conn, eom, qid = send({ mailfrom = "<a@monitor.example>",
	    from = "alice@reject.example" })
	rejected(conn, eom, qid, "dmarc-reject", REJECT)
end)

case("dmarc: p=quarantine, fail: quarantined", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@quarantine.example>",
	    from = "a@quarantine.example" })
	quarantined(conn, eom, qid, "dmarc-quarantine")
	authres(conn, "dmarc=fail (p=quarantine sp=quarantine pct=100: no aligned spf or "
	    .. "dkim pass) header.from=quarantine.example")
end)

case("dmarc: p=none, fail: accepted", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@monitor.example>",
	    from = "a@monitor.example" })
	accepted(conn, eom, qid, "fail")
	authres(conn, "dmarc=fail (p=none sp=none pct=100: no aligned spf or dkim pass) "
	    .. "header.from=monitor.example")
end)

case("dmarc: org-domain fallback, sp=quarantine applies to the subdomain", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@sub.org.example>",
	    from = "a@sub.org.example" })
	quarantined(conn, eom, qid, "dmarc-quarantine")
	authres(conn, "dmarc=fail (p=reject sp=quarantine pct=100 org=org.example: no aligned "
	    .. "spf or dkim pass) header.from=sub.org.example")
end)

case("dmarc: org-domain fallback, SPF of the org domain aligns (relaxed)", function()
	local conn, eom, qid = send({ mailfrom = "<a@org.example>", from = "a@sub.org.example" })
	accepted(conn, eom, qid, "pass")
	authres(conn, "dmarc=pass (p=reject sp=quarantine pct=100 org=org.example: aligned spf) "
	    .. "header.from=sub.org.example")
end)

case("dmarc: the org domain itself gets p=, not sp=", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@org.example>",
	    from = "a@org.example" })
	rejected(conn, eom, qid, "dmarc-reject", REJECT)
end)

case("dmarc: relaxed aspf: SPF pass of a subdomain aligns", function()
	local conn, eom, qid = send({ mailfrom = "<a@bounce.relaxed.example>",
	    from = "a@relaxed.example" })
	accepted(conn, eom, qid, "pass")
	authres(conn, "dmarc=pass (p=reject sp=reject pct=100: aligned spf) "
	    .. "header.from=relaxed.example")
end)

case("dmarc: strict aspf: SPF pass of a subdomain does not align: 550", function()
	local conn, eom, qid = send({ mailfrom = "<a@bounce.strict.example>",
	    from = "a@strict.example" })
	rejected(conn, eom, qid, "dmarc-reject", REJECT)
end)

case("dmarc: strict aspf: the same domain aligns", function()
	local conn, eom, qid = send({ mailfrom = "<a@strict.example>", from = "a@Strict.Example" })
	accepted(conn, eom, qid, "pass")
	authres(conn, "dmarc=pass (p=reject sp=reject pct=100 aspf=s: aligned spf) "
	    .. "header.from=strict.example")
end)

case("dmarc: pct=0: not sampled, reject applied as quarantine", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@pct0.example>",
	    from = "a@pct0.example" })
	quarantined(conn, eom, qid, "dmarc-quarantine")
	authres(conn, "dmarc=fail (p=reject sp=reject pct=0: no aligned spf or dkim pass, "
	    .. "not sampled: reject applied as quarantine) header.from=pct0.example")
end)

case("dmarc: a record in two strings is joined", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@split.example>",
	    from = "a@split.example" })
	rejected(conn, eom, qid, "dmarc-reject", REJECT)
end)

case("dmarc: two From addresses: permerror, no domain, accepted by default", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@monitor.example>",
	    from = "a@monitor.example, b@reject.example" })
	accepted(conn, eom, qid, "permerror")
	authres(conn, "dmarc=permerror (multiple From addresses: 2)")
end)

case("dmarc: two From headers: permerror", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@monitor.example>",
	    headers = { { "From", "a@monitor.example" }, { "From", "b@reject.example" },
	    { "Subject", "two" } } })
	accepted(conn, eom, qid, "permerror")
	authres(conn, "dmarc=permerror (multiple From headers: 2)")
end)

case("dmarc: no From header: permerror", function()
	local conn, eom, qid = send({ mailfrom = "<a@reject.example>",
	    headers = { { "Subject", "no from" } } })
	accepted(conn, eom, qid, "permerror")
	authres(conn, "dmarc=permerror (no From header)")
end)

case("dmarc: a quoted display name with @ and a comma is one mailbox", function()
	local conn, eom, qid = send({ mailfrom = "<a@monitor.example>",
	    from = "\"Support, Bank (alice@reject.example)\" <a@monitor.example>" })
	accepted(conn, eom, qid, "pass")
	authres(conn, "dmarc=pass (p=none sp=none pct=100: aligned spf) "
	    .. "header.from=monitor.example")
end)

case("dmarc: group syntax in From: permerror", function()
	local conn, eom, qid = send({ mailfrom = "<a@reject.example>",
	    from = "friends: a@reject.example, b@monitor.example;" })
	accepted(conn, eom, qid, "permerror")
	authres(conn, "dmarc=permerror (group syntax in From)")
end)

case("dmarc: no DMARC record: none", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@nodmarc.example>",
	    from = "a@nodmarc.example" })
	accepted(conn, eom, qid, "none")
	authres(conn, "dmarc=none (no DMARC record at _dmarc.nodmarc.example) "
	    .. "header.from=nodmarc.example")
end)

case("dmarc: no record at a subdomain nor its org domain: none", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@x.nodmarc.example>",
	    from = "a@x.nodmarc.example" })
	accepted(conn, eom, qid, "none")
	authres(conn, "dmarc=none (no DMARC record at _dmarc.x.nodmarc.example or "
	    .. "_dmarc.nodmarc.example) header.from=x.nodmarc.example")
end)

case("dmarc: two DMARC records: none (RFC 7489 6.6.3)", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@two.example>",
	    from = "a@two.example" })
	accepted(conn, eom, qid, "none")
	authres(conn, "dmarc=none (2 DMARC records at _dmarc.two.example) "
	    .. "header.from=two.example")
end)

case("dmarc: invalid record: permerror", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@invalid.example>",
	    from = "a@invalid.example" })
	accepted(conn, eom, qid, "permerror")
	authres(conn, "dmarc=permerror (invalid DMARC record at _dmarc.invalid.example: Found "
	    .. "DMARC record contained a bad token value) header.from=invalid.example")
end)

case("dmarc: SPF temperror that could have aligned: temperror, never fail", function()
	local conn, eom, qid = send({ mailfrom = "<a@tempspf.example>", from = "a@tempspf.example" })
	accepted(conn, eom, qid, "temperror")
	authres(conn, "dmarc=temperror (p=reject sp=reject pct=100: spf temperror could have "
	    .. "aligned) header.from=tempspf.example")
	log_expect({ qid = qid, nrcpt = "1" }, { spf = "temperror" })
end)

case("dmarc: a trusted client is not checked", function()
	local conn = open({ ip = "127.0.0.1", helo = "localhost" })
	eq("MAIL reply", "SMFIR_CONTINUE", reply_name(mail(conn, "<a@reject.example>",
	    { qid = "DMTRUST" })))
	eq("RCPT reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@example.org>")))
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(data(conn,
	    { { "From", "a@reject.example, b@monitor.example" } })))
	eq("no dmarc element", nil, dmarc_entry(conn))
	log_expect({ qid = "DMTRUST", nrcpt = "1" }, { action = "accept", dmarc = false })
end)
