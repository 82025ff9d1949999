-- spf-policy.lua - policy "rule spf-fail: spf is fail -> reject" and
-- "rule helo-fail: spf-helo is fail -> reject 550 5.7.23 ..."
dofile(FUNCDIR .. "/mtlib.lua")

local function send(ip, from, qid, helo)
	local conn = open({ ip = ip, helo = helo or "mta.example" })
	eq("MAIL reply", "SMFIR_CONTINUE", reply_name(mail(conn, from, { qid = qid })))
	eq("RCPT reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@example.org>")))
	return conn, reply_name(data(conn))
end

case("spf: policy rejects spf=fail with 550", function()
	local conn, eom = send("198.51.100.7", "<a@pass.example>", "PO1")
	eq("EOM reply", "SMFIR_REPLYCODE", eom)
	eom_reply(conn, "550", "5.7.1", "Message rejected by policy (ref: PO1)")
	log_expect({ qid = "PO1", nrcpt = "1" }, { action = "reject", rule = "spf-fail", spf = "fail" })
end)

case("spf: policy lets spf=pass through", function()
	local conn, eom = send("192.0.2.10", "<a@pass.example>", "PO2")
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	log_expect({ qid = "PO2", nrcpt = "1" }, { action = "accept", spf = "pass" })
end)

case("spf: the HELO identity is checked on its own (spf-helo)", function()
	-- MAIL FROM passes; the HELO name's record does not list the client
	local conn, eom = send("192.0.2.10", "<a@pass.example>", "PO3", "fail.example")
	eq("EOM reply", "SMFIR_REPLYCODE", eom)
	eom_reply(conn, "550", "5.7.23", "HELO name not authorised (ref: PO3)")
	log_expect({ qid = "PO3", nrcpt = "1" },
	    { action = "reject", rule = "helo-fail", spf = "pass", ["spf-helo"] = "fail" })
end)

case("spf: a HELO without SPF record gives spf-helo=none", function()
	local conn, eom = send("192.0.2.10", "<a@pass.example>", "PO4", "mta.example")
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	log_expect({ qid = "PO4", nrcpt = "1" },
	    { action = "accept", spf = "pass", ["spf-helo"] = "none" })
end)
