-- spf-trusted.lua - CheckTrustedClients yes: trusted clients are
-- checked too, and loopback gets no free pass (libspf2 passes it).
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/spf-lib.lua")

case("spf: CheckTrustedClients: loopback client fails like any other", function()
	local conn, eom = send({ ip = "127.0.0.1", from = "<a@fail.example>", qid = "TR1" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	authres(conn, "spf=fail smtp.mailfrom=a@fail.example smtp.helo=mta.example")
end)

case("spf: CheckTrustedClients: trusted network client checked", function()
	local conn, eom = send({ ip = "203.0.113.5", from = "<a@pass.example>", qid = "TR2" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	authres(conn, "spf=fail smtp.mailfrom=a@pass.example smtp.helo=mta.example")
end)
