-- dmarc-results.lua - DMARC results and the verdicts of the shipped
-- policy.conf, records served by nsd (run-dmarc.sh); SPF supplies the
-- authenticated identifier (no DKIM signatures here).
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/dmarc-lib.lua")

local REJECT = "DMARC policy of the sender domain requests rejection"

-- verdict - a case: message o (see send) gets the shipped policy's
-- verdict v: "accept OUTCOME" (logged dmarc=OUTCOME), "quarantine" or
-- "reject"; and the dmarc element want unless that is nil
local function verdict(name, o, v, want)
	case("dmarc: " .. name, function()
		local conn, eom, qid = send(o)
		if v == "quarantine" then
			quarantined(conn, eom, qid, "dmarc-quarantine")
		elseif v == "reject" then
			rejected(conn, eom, qid, "dmarc-reject", REJECT)
		else
			local outcome = v:match("^accept (%a+)$") or error("no verdict " .. v)
			accepted(conn, eom, qid, outcome)
		end
		if want ~= nil then authres(conn, want) end
	end)
end

verdict("aligned SPF pass, p=reject: pass, accepted", { mailfrom = "<a@reject.example>",
    from = "Alice <alice@reject.example>" }, "accept pass",
    "dmarc=pass (p=reject sp=reject pct=100: aligned spf) header.from=reject.example")

case("dmarc: SPF fail, p=reject: 550 5.7.1", function()
	local conn, eom, qid = send({ ip = "198.51.100.7", mailfrom = "<a@reject.example>",
	    from = "alice@reject.example" })
	rejected(conn, eom, qid, "dmarc-reject", REJECT)
	local f = log_find({ qid = qid, nrcpt = "1" }) or {}
	yes("log reasons name the DMARC result", f.reasons ~= nil
	    and f.reasons:find("rule dmarc-reject", 1, true) ~= nil, f.reasons)
end)

verdict("SPF pass of another domain is not aligned: 550", { mailfrom = "<a@monitor.example>",
    from = "alice@reject.example" }, "reject")
verdict("p=quarantine, fail: quarantined", { ip = "198.51.100.7",
    mailfrom = "<a@quarantine.example>", from = "a@quarantine.example" }, "quarantine",
    "dmarc=fail (p=quarantine sp=quarantine pct=100: no aligned spf or dkim pass) "
    .. "header.from=quarantine.example")
verdict("p=none, fail: accepted", { ip = "198.51.100.7", mailfrom = "<a@monitor.example>",
    from = "a@monitor.example" }, "accept fail",
    "dmarc=fail (p=none sp=none pct=100: no aligned spf or dkim pass) "
    .. "header.from=monitor.example")
verdict("org-domain fallback, sp=quarantine applies to the subdomain", { ip = "198.51.100.7",
    mailfrom = "<a@sub.org.example>", from = "a@sub.org.example" }, "quarantine",
    "dmarc=fail (p=reject sp=quarantine pct=100 org=org.example: no aligned "
    .. "spf or dkim pass) header.from=sub.org.example")
verdict("org-domain fallback, SPF of the org domain aligns (relaxed)",
    { mailfrom = "<a@org.example>", from = "a@sub.org.example" }, "accept pass",
    "dmarc=pass (p=reject sp=quarantine pct=100 org=org.example: aligned spf) "
    .. "header.from=sub.org.example")
verdict("the org domain itself gets p=, not sp=", { ip = "198.51.100.7",
    mailfrom = "<a@org.example>", from = "a@org.example" }, "reject")
verdict("relaxed aspf: SPF pass of a subdomain aligns", {
    mailfrom = "<a@bounce.relaxed.example>", from = "a@relaxed.example" }, "accept pass",
    "dmarc=pass (p=reject sp=reject pct=100: aligned spf) header.from=relaxed.example")
verdict("strict aspf: SPF pass of a subdomain does not align: 550", {
    mailfrom = "<a@bounce.strict.example>", from = "a@strict.example" }, "reject")
verdict("strict aspf: the same domain aligns", { mailfrom = "<a@strict.example>",
    from = "a@Strict.Example" }, "accept pass",
    "dmarc=pass (p=reject sp=reject pct=100 aspf=s: aligned spf) header.from=strict.example")
verdict("pct=0: not sampled, reject applied as quarantine", { ip = "198.51.100.7",
    mailfrom = "<a@pct0.example>", from = "a@pct0.example" }, "quarantine",
    "dmarc=fail (p=reject sp=reject pct=0: no aligned spf or dkim pass, "
    .. "not sampled: reject applied as quarantine) header.from=pct0.example")
verdict("a record in two strings is joined", { ip = "198.51.100.7",
    mailfrom = "<a@split.example>", from = "a@split.example" }, "reject")

-- the From header
verdict("two From addresses: permerror, no domain, accepted by default", {
    ip = "198.51.100.7", mailfrom = "<a@monitor.example>",
    from = "a@monitor.example, b@reject.example" }, "accept permerror",
    "dmarc=permerror (multiple From addresses: 2)")
verdict("two From headers: permerror", { ip = "198.51.100.7", mailfrom = "<a@monitor.example>",
    headers = { { "From", "a@monitor.example" }, { "From", "b@reject.example" },
    { "Subject", "two" } } }, "accept permerror", "dmarc=permerror (multiple From headers: 2)")
verdict("no From header: permerror", { mailfrom = "<a@reject.example>",
    headers = { { "Subject", "no from" } } }, "accept permerror",
    "dmarc=permerror (no From header)")
verdict("a quoted display name with @ and a comma is one mailbox", {
    mailfrom = "<a@monitor.example>",
    from = "\"Support, Bank (alice@reject.example)\" <a@monitor.example>" }, "accept pass",
    "dmarc=pass (p=none sp=none pct=100: aligned spf) header.from=monitor.example")
verdict("group syntax in From: permerror", { mailfrom = "<a@reject.example>",
    from = "friends: a@reject.example, b@monitor.example;" }, "accept permerror",
    "dmarc=permerror (group syntax in From)")

-- the DMARC record
verdict("no DMARC record: none", { ip = "198.51.100.7", mailfrom = "<a@nodmarc.example>",
    from = "a@nodmarc.example" }, "accept none",
    "dmarc=none (no DMARC record at _dmarc.nodmarc.example) header.from=nodmarc.example")
verdict("no record at a subdomain nor its org domain: none", { ip = "198.51.100.7",
    mailfrom = "<a@x.nodmarc.example>", from = "a@x.nodmarc.example" }, "accept none",
    "dmarc=none (no DMARC record at _dmarc.x.nodmarc.example or "
    .. "_dmarc.nodmarc.example) header.from=x.nodmarc.example")
verdict("two DMARC records: none (RFC 7489 6.6.3)", { ip = "198.51.100.7",
    mailfrom = "<a@two.example>", from = "a@two.example" }, "accept none",
    "dmarc=none (2 DMARC records at _dmarc.two.example) header.from=two.example")
verdict("invalid record: permerror", { ip = "198.51.100.7", mailfrom = "<a@invalid.example>",
    from = "a@invalid.example" }, "accept permerror",
    "dmarc=permerror (invalid DMARC record at _dmarc.invalid.example: Found "
    .. "DMARC record contained a bad token value) header.from=invalid.example")

case("dmarc: SPF temperror that could have aligned: temperror, never fail", function()
	local conn, eom, qid = send({ mailfrom = "<a@tempspf.example>", from = "a@tempspf.example" })
	accepted(conn, eom, qid, "temperror")
	authres(conn, "dmarc=temperror (p=reject sp=reject pct=100: spf temperror could have "
	    .. "aligned) header.from=tempspf.example")
	log_expect({ qid = qid, nrcpt = "1" }, { spf = "temperror" })
end)

case("dmarc: a trusted client is not checked", function()
	local conn = open({ ip = "127.0.0.1", helo = "localhost" })
	envelope(conn, "<a@reject.example>", "DMTRUST")
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(data(conn,
	    { { "From", "a@reject.example, b@monitor.example" } })))
	eq("dmarc= elements", 0,
	    #authres_entries(header_added(conn, "Authentication-Results"), "dmarc"))
	log_expect({ qid = "DMTRUST", nrcpt = "1" }, { action = "accept", dmarc = false })
end)
