-- alive.lua - the daemon behind SOCK still answers
dofile(FUNCDIR .. "/mtlib.lua")

case("first daemon still answers on its socket", function()
	local conn = open()
	eq("MAIL reply", "SMFIR_CONTINUE", reply_name(mail(conn, "<a@remote.example>", { qid = "ALIVE" })))
	eq("RCPT remote reply", "SMFIR_REPLYCODE", reply_name(rcpt(conn, "<x@remote.example>")))
	log_expect({ qid = "ALIVE", rcpt = "<x@remote.example>" }, { code = "554" })
end)
