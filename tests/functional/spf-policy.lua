-- spf-policy.lua - policy "rule spf-fail: spf is fail -> reject" and
-- "rule helo-fail: spf-helo is fail -> reject 550 5.7.23 ..."
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/spf-lib.lua")

case("spf: policy rejects spf=fail with 550", function()
	local conn, eom = send({ ip = "198.51.100.7", from = "<a@pass.example>", qid = "PO1" })
	refused(conn, eom, "PO1", "550", "5.7.1", "Message rejected by policy")
	log_expect({ qid = "PO1", nrcpt = "1" }, { action = "reject", rule = "spf-fail", spf = "fail" })
end)

case("spf: policy lets spf=pass through", function()
	local conn, eom = send({ from = "<a@pass.example>", qid = "PO2" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	log_expect({ qid = "PO2", nrcpt = "1" }, { action = "accept", spf = "pass" })
end)

case("spf: the HELO identity is checked on its own (spf-helo)", function()
	-- MAIL FROM passes; the HELO name's record does not list the client
	local conn, eom = send({ from = "<a@pass.example>", qid = "PO3", helo = "fail.example" })
	refused(conn, eom, "PO3", "550", "5.7.23", "HELO name not authorised")
	log_expect({ qid = "PO3", nrcpt = "1" },
	    { action = "reject", rule = "helo-fail", spf = "pass", ["spf-helo"] = "fail" })
end)

case("spf: a HELO without SPF record gives spf-helo=none", function()
	local conn, eom = send({ from = "<a@pass.example>", qid = "PO4", helo = "mta.example" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	log_expect({ qid = "PO4", nrcpt = "1" },
	    { action = "accept", spf = "pass", ["spf-helo"] = "none" })
end)
