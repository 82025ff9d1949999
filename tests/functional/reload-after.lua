-- reload-after.lua - after a good SIGHUP: MaxMessageSize 20K and the new
-- policy (rule block-helo2: helo "worse.example" -> 550 "go away too").
dofile(FUNCDIR .. "/mtlib.lua")

local function msg(helo, qid, bodylen)
	local conn = open({ helo = helo })
	mail(conn, "<a@remote.example>", { qid = qid })
	rcpt(conn, "<bob@example.org>")
	return conn, reply_name(data(conn, nil, string.rep("x", bodylen)))
end

case("reload after a good SIGHUP: new MaxMessageSize 20K in force", function()
	local conn, eom = msg("ok.example", "RA1", 12000)
	eq("EOM reply (12000 bytes)", "SMFIR_CONTINUE", eom)
	conn, eom = msg("ok.example", "RA2", 22000)
	eq("EOM reply (22000 bytes)", "SMFIR_REPLYCODE", eom)
end)

case("reload after a good SIGHUP: old policy rule gone", function()
	local conn, eom = msg("bad.example", "RA3", 100)
	eq("EOM reply", "SMFIR_CONTINUE", eom)
end)

case("reload after a good SIGHUP: new policy rule in force", function()
	local conn, eom = msg("worse.example", "RA4", 100)
	eq("EOM reply", "SMFIR_REPLYCODE", eom)
	eom_reply(conn, "550", "5.7.1", "go away too (ref: RA4)")
end)
