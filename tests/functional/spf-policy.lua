-- spf-policy.lua - policy "rule spf-fail: spf is fail -> reject"
dofile(FUNCDIR .. "/mtlib.lua")

local function send(ip, from, qid)
	local conn = open({ ip = ip, helo = "mta.example" })
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
