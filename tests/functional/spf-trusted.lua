-- spf-trusted.lua - CheckTrustedClients yes: trusted clients are
-- checked too, and loopback gets no free pass (libspf2 passes it).
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/spf-lib.lua")

local function send(ip, from, qid)
	local conn = open({ ip = ip, helo = "mta.example" })
	eq("MAIL reply", "SMFIR_CONTINUE", reply_name(mail(conn, from, { qid = qid })))
	eq("RCPT reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@example.org>")))
	return conn, reply_name(data(conn))
end


case("spf: CheckTrustedClients: loopback client fails like any other", function()
	local conn, eom = send("127.0.0.1", "<a@fail.example>", "TR1")
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	authres(conn, "spf=fail smtp.mailfrom=a@fail.example smtp.helo=mta.example")
end)

case("spf: CheckTrustedClients: trusted network client checked", function()
	local conn, eom = send("203.0.113.5", "<a@pass.example>", "TR2")
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	authres(conn, "spf=fail smtp.mailfrom=a@pass.example smtp.helo=mta.example")
end)
