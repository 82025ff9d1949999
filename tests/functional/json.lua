-- json.lua - traffic for the LogFormat json checks in run-miltertest.sh
-- (which reads the log with jq). MaxMessageSize 1K.
dofile(FUNCDIR .. "/mtlib.lua")

case("json: relay reject with CR LF in the sender", function()
	local conn = open()
	mail(conn, "<evil\r\n\"x\"@remote.example>", { qid = "JS1" })
	eq("RCPT remote reply", "SMFIR_REPLYCODE", reply_name(rcpt(conn, "<x@remote.example>")))
end)

case("json: oversize message rejected at end of data", function()
	local conn = open({ ip = "127.0.0.1", host = "localhost" })
	mail(conn, "<a@example.org>", { qid = "JS2" })
	rcpt(conn, "<bob@example.org>")
	eq("EOM reply", "SMFIR_REPLYCODE", reply_name(data(conn, nil, string.rep("x", 2000))))
end)

case("json: accepted message", function()
	local conn = open({ ip = "127.0.0.1", host = "localhost" })
	mail(conn, "<a@example.org>", { qid = "JS3" })
	rcpt(conn, "<bob@example.org>")
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(data(conn)))
end)
