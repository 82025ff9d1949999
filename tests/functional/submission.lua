-- submission.lua - SubmissionDaemons submission, msa; SenderLoginMap:
--   alice@example.org   alice
--   @sales.example.org  bob, carol
-- TrustedNetworks 192.0.2.0/24 (the test clients are not in it).
dofile(FUNCDIR .. "/mtlib.lua")

case("submission: no AUTH on the submission service refused 530 5.7.0", function()
	local conn = open({ daemon = "submission" })
	sender(conn, "<sub1@example.org>", "SMFIR_REPLYCODE")
	log_expect({ from = "<sub1@example.org>" },
	    { action = "reject", code = "530", xcode = "5.7.0", rule = "auth-required",
	      daemon = "submission",
	      reasons = "auth-required: service submission requires SMTP AUTH" })
end)

case("submission: a second SubmissionDaemons name is honoured", function()
	local conn = open({ daemon = "msa" })
	sender(conn, "<sub2@example.org>", "SMFIR_REPLYCODE")
	log_expect({ from = "<sub2@example.org>" }, { code = "530", xcode = "5.7.0" })
end)

case("submission: another daemon without AUTH may send to local domains", function()
	local conn = open({ daemon = "smtpd" })
	sender(conn, "<sub3@remote.example>", "SMFIR_CONTINUE")
end)

case("submission: authenticated, owned sender accepted and may relay", function()
	local conn = open({ daemon = "submission" })
	sender(conn, "<alice@example.org>", "SMFIR_CONTINUE", { qid = "SUB4", auth = "alice" })
	eq("RCPT remote reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<x@remote.example>")))
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(data(conn)))
	log_expect({ qid = "SUB4", nrcpt = "2" },
	    { action = "accept", auth = "alice", daemon = "submission" })
end)

case("submission: authenticated, sender not owned refused 553 5.7.1", function()
	local conn = open({ daemon = "submission" })
	sender(conn, "<alice@example.org>", "SMFIR_REPLYCODE", { auth = "bob" })
	log_expect({ from = "<alice@example.org>", auth = "bob" },
	    { action = "reject", code = "553", xcode = "5.7.1", rule = "sender-login",
	      reasons = "sender-login: sender alice@example.org is not owned by login bob" })
end)

case("submission: an @domain entry gives the whole domain", function()
	local conn = open({ daemon = "submission" })
	sender(conn, "<anyone@sales.example.org>", "SMFIR_CONTINUE", { auth = "bob" })
	conn = open({ daemon = "submission" })
	sender(conn, "<orders@sales.example.org>", "SMFIR_CONTINUE", { auth = "carol" })
	conn = open({ daemon = "submission" })
	sender(conn, "<orders@sales.example.org>", "SMFIR_REPLYCODE", { auth = "alice" })
end)

case("submission: sender domain compared without regard to case", function()
	local conn = open({ daemon = "submission" })
	sender(conn, "<alice@EXAMPLE.org>", "SMFIR_CONTINUE", { auth = "alice" })
end)

case("submission: sender not in the map at all refused", function()
	local conn = open({ daemon = "submission" })
	sender(conn, "<someone@remote.example>", "SMFIR_REPLYCODE", { auth = "alice" })
	log_expect({ from = "<someone@remote.example>", auth = "alice" },
	    { code = "553", xcode = "5.7.1", rule = "sender-login" })
end)

case("submission: sender-login also applies to AUTH on port 25", function()
	local conn = open({ daemon = "smtpd" })
	sender(conn, "<alice@example.org>", "SMFIR_REPLYCODE", { auth = "carol" })
end)

case("submission: null sender of an authenticated user accepted", function()
	local conn = open({ daemon = "submission" })
	sender(conn, "<>", "SMFIR_CONTINUE", { auth = "alice" })
end)

case("submission: a refused MAIL does not stop the next one", function()
	local conn = open({ daemon = "submission" })
	sender(conn, "<alice@example.org>", "SMFIR_REPLYCODE", { auth = "bob" })
	eq("RCPT 2 of the refused sender", "SMFIR_REPLYCODE",
	    reply_name(rcpt(conn, "<x@remote.example>")))
	mt.abort(conn)
	sender(conn, "<bob@sales.example.org>", "SMFIR_CONTINUE", { auth = "bob" })
	eq("RCPT reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<x@remote.example>")))
end)
