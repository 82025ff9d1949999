-- monitor.lua - Mode monitor: log and mark what would have happened,
-- never reject, hold or tempfail -- except relay control, which stays
-- enforced. tollgate.conf: Mode monitor, MaxMessageSize 1K,
-- SubmissionDaemons submission, TrustedNetworks 127.0.0.0/8; policy
-- policy-test.conf (the policy cases need src/policy.c).
dofile(FUNCDIR .. "/mtlib.lua")

local function msg(o)
	local conn = open({ helo = o.helo, daemon = o.daemon })
	mail(conn, o.from or "<a@remote.example>", { qid = o.qid, args = o.args })
	rcpt(conn, "<bob@example.org>")
	local eom = data(conn, { { "From", "<a@remote.example>" },
	    { "Subject", o.subject or "test" } }, o.body)
	return conn, reply_name(eom)
end

case("monitor: oversize message accepted, verdict header says what would happen", function()
	-- 26 + 15 header bytes, 2 for the empty line, 2000 body bytes
	local conn, eom = msg({ qid = "MON1", body = string.rep("x", 2000) })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	eq("X-Tollgate-Verdict",
	    "reject (monitor) score=0.0 rule=size-limit; size-limit: message of at least 2043 bytes exceeds 1024",
	    header_added(conn, "X-Tollgate-Verdict"))
	eq("X-Spam-Flag added", nil, header_added(conn, "X-Spam-Flag"))
	yes("no subject change", not mt.eom_check(conn, MT_HDRCHANGE, "Subject"))
	log_expect({ qid = "MON1", nrcpt = "1" },
	    { action = "accept", monitor = "reject", code = "552", xcode = "5.3.4", rule = "size-limit" })
end)

case("monitor: relay control stays enforced", function()
	local conn = open()
	mail(conn, "<a@remote.example>", { qid = "MON2" })
	eq("RCPT remote reply", "SMFIR_REPLYCODE", reply_name(rcpt(conn, "<x@remote.example>")))
	log_expect({ qid = "MON2", rcpt = "<x@remote.example>" },
	    { action = "reject", code = "554", monitor = false })
end)

case("monitor: submission without AUTH only logged", function()
	local conn = open({ daemon = "submission" })
	sender(conn, "<mon3@example.org>", "SMFIR_CONTINUE")
	log_expect({ from = "<mon3@example.org>" },
	    { action = "accept", monitor = "reject", code = "530", xcode = "5.7.0", rule = "auth-required" })
end)

case("monitor: SIZE= over the limit only logged", function()
	local conn = open()
	sender(conn, "<mon4@remote.example>", "SMFIR_CONTINUE", { args = { "SIZE=5000" } })
	log_expect({ from = "<mon4@remote.example>" },
	    { action = "accept", monitor = "reject", code = "552", rule = "size-limit" })
end)

case("monitor: policy reject only marked", function()
	local conn, eom = msg({ qid = "MON5", helo = "bad.example" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	eq("X-Tollgate-Verdict", "reject (monitor) score=0.0 rule=block-helo; rule block-helo",
	    header_added(conn, "X-Tollgate-Verdict"))
	eq("X-Spam-Flag added", nil, header_added(conn, "X-Spam-Flag"))
	log_expect({ qid = "MON5", nrcpt = "1" },
	    { action = "accept", monitor = "reject", code = "550", rule = "block-helo" })
end)

case("monitor: policy tempfail only marked", function()
	local conn, eom = msg({ qid = "MON6", from = "<later@remote.example>" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	log_expect({ qid = "MON6", nrcpt = "1" }, { action = "accept", monitor = "tempfail" })
end)

case("monitor: policy quarantine not held", function()
	local conn, eom = msg({ qid = "MON7", subject = "quarantine me" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	yes("no quarantine", not mt.eom_check(conn, MT_QUARANTINE))
	local v = header_added(conn, "X-Tollgate-Verdict")
	yes("X-Tollgate-Verdict starts 'quarantine (monitor)'", starts(v, "quarantine (monitor)"), v)
	log_expect({ qid = "MON7", nrcpt = "1" }, { action = "accept", monitor = "quarantine" })
end)

case("monitor: policy tag still tags", function()
	local conn, eom = msg({ qid = "MON8", subject = "viagra" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	eq("X-Spam-Flag", "YES", header_added(conn, "X-Spam-Flag"))
	log_expect({ qid = "MON8", nrcpt = "1" }, { action = "tag", monitor = false })
end)
