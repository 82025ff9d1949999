-- reload-before.lua - the configuration the daemon started with is in
-- force (run at start and again after each refused SIGHUP): MaxMessageSize
-- 10K and policy rule block-helo (reject 550 5.7.1 "go away").
-- PHASE names the moment it runs.
dofile(FUNCDIR .. "/mtlib.lua")

local function msg(helo, qid, bodylen)
	local conn = open({ helo = helo })
	mail(conn, "<a@remote.example>", { qid = qid })
	rcpt(conn, "<bob@example.org>")
	return conn, reply_name(data(conn, nil, string.rep("x", bodylen)))
end

case("reload " .. PHASE .. ": MaxMessageSize 10K in force", function()
	local conn, eom = msg("ok.example", "RB1", 12000)
	eq("EOM reply", "SMFIR_REPLYCODE", eom)
	eom_reply(conn, "552", "5.3.4", "Message size exceeds fixed limit (ref: RB1)")
end)

case("reload " .. PHASE .. ": policy rule block-helo in force", function()
	local conn, eom = msg("bad.example", "RB2", 100)
	eq("EOM reply", "SMFIR_REPLYCODE", eom)
	eom_reply(conn, "550", "5.7.1", "go away (ref: RB2)")
end)
