-- inet.lua - tollgate on a TCP socket (MaxMessageSize 10K): the same
-- no-reply flags as on a unix socket. The client is trusted
-- (TrustedNetworks 127.0.0.0/8): no DNS, only the protocol.
dofile(FUNCDIR .. "/mtlib.lua")

local HEADERS = { { "From", "<a@remote.example>" }, { "Subject", "inet test" } }

case("inet: a message accepted", function()
	local conn = open({ ip = "127.0.0.1" })
	envelope(conn, "<a@remote.example>", "IN1")
	local eom, body = data(conn, HEADERS, "Hello.\r\n")
	eq("body reply", "SMFIR_CONTINUE", reply_name(body))
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(eom))
end)

case("inet: big body refused at end of message, no reply to body chunks", function()
	-- the no-reply flags hold over TCP too (the ACKs leave at once); a
	-- tollgate that cannot find the connection's socket answers every
	-- event instead, and the chunk passing the limit gets "skip"
	local conn = open({ ip = "127.0.0.1" })
	envelope(conn, "<a@remote.example>", "IN2")
	oversize_body(conn, HEADERS, "IN2")
end)
