-- inet.lua - tollgate on a TCP socket (MaxMessageSize 10K): no no-reply
-- flags are negotiated there, so every event gets its answer, and the
-- chunk that passes the size limit is answered "skip". The client is
-- trusted (TrustedNetworks 127.0.0.0/8): no DNS, only the protocol.
dofile(FUNCDIR .. "/mtlib.lua")

local HEADERS = { { "From", "<a@remote.example>" }, { "Subject", "inet test" } }

case("inet: a message accepted, every step answered", function()
	local conn = open({ ip = "127.0.0.1" })
	envelope(conn, "<a@remote.example>", "IN1")
	local eom, body = data(conn, HEADERS, "Hello.\r\n")
	eq("body reply", "SMFIR_CONTINUE", reply_name(body))
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(eom))
end)

case("inet: big body refused at end of message, tollgate skips the rest", function()
	local conn = open({ ip = "127.0.0.1" })
	envelope(conn, "<a@remote.example>", "IN2")
	for _, h in ipairs(HEADERS) do must("header", mt.header(conn, h[1], h[2])) end
	must("eoh", mt.eoh(conn))
	must("body 1", mt.bodystring(conn, string.rep("y", 8000) .. "\r\n"))
	eq("reply to a chunk under the limit", "SMFIR_CONTINUE", reply_name(mt.getreply(conn)))
	must("body 2", mt.bodystring(conn, string.rep("y", 8000) .. "\r\n"))
	-- a real answer: with SMFIP_NR_BODY there would be none to read
	eq("reply to the chunk passing the limit", "SMFIR_SKIP", reply_name(mt.getreply(conn)))
	must("eom", mt.eom(conn))
	eq("EOM reply", "SMFIR_REPLYCODE", reply_name(mt.getreply(conn)))
	eom_reply(conn, "552", "5.3.4", "Message size exceeds fixed limit (ref: IN2)")
end)
