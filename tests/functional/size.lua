-- size.lua - MaxMessageSize 10K: the announced SIZE= at MAIL FROM and
-- the bytes really received, refused with 552 5.3.4.
dofile(FUNCDIR .. "/mtlib.lua")

local LIMIT = 10 * 1024

-- tollgate counts "Name: value\r\n" per header, the empty line, the body
local function hsize(headers)
	local n = 2
	for _, h in ipairs(headers) do n = n + #h[1] + 2 + #h[2] + 2 end
	return n
end

local HEADERS = { { "From", "<a@remote.example>" }, { "Subject", "size test" } }

case("size: SIZE= above MaxMessageSize refused with 552 5.3.4", function()
	local conn = open()
	sender(conn, "<big1@remote.example>", "SMFIR_REPLYCODE", { args = { "SIZE=20000" } })
	local f = log_expect({ from = "<big1@remote.example>" },
	    { action = "reject", code = "552", xcode = "5.3.4", rule = "size-limit",
	      reasons = "size-limit: announced SIZE=20000 exceeds 10240" })
	-- no queue id yet: the reference is cCONN.MSG and the log says which
	if f.c ~= nil then eq("ref without a queue id", "c" .. f.c .. "." .. f.m, f.ref) end
end)

case("size: SIZE= equal to MaxMessageSize accepted", function()
	local conn = open()
	sender(conn, "<big2@remote.example>", "SMFIR_CONTINUE", { args = { "SIZE=" .. LIMIT } })
end)

case("size: SIZE= with other ESMTP parameters", function()
	local conn = open()
	sender(conn, "<big3@remote.example>", "SMFIR_REPLYCODE",
	    { args = { "BODY=8BITMIME", "SIZE=10241" } })
	log_expect({ from = "<big3@remote.example>" }, { code = "552", xcode = "5.3.4" })
end)

case("size: malformed SIZE= is ignored", function()
	local conn = open()
	sender(conn, "<big4@remote.example>", "SMFIR_CONTINUE", { args = { "SIZE=lots" } })
end)

case("size: an MTA that does not offer SMFIP_NR_MAIL is refused at RCPT too", function()
	-- every step but SMFIP_NR_MAIL (0x4000) of SMFI_CURR_PROT: libmilter
	-- answers MAIL "continue" itself, and the refusal comes at RCPT
	local conn = open({ proto = 0x1FBFFF })
	sender(conn, "<big5@remote.example>", "SMFIR_REPLYCODE", { args = { "SIZE=20000" } })
	log_expect({ from = "<big5@remote.example>" }, { code = "552", xcode = "5.3.4" })
	-- the refused transaction ends with it: a new MAIL is judged afresh
	mt.abort(conn)
	sender(conn, "<big6@remote.example>", "SMFIR_CONTINUE", { args = { "SIZE=100" } })
end)

case("size: message of exactly MaxMessageSize accepted", function()
	local conn = open()
	mail(conn, "<a@remote.example>", { qid = "SZ5" })
	rcpt(conn, "<bob@example.org>")
	local body = string.rep("x", LIMIT - hsize(HEADERS))
	local eom = data(conn, HEADERS, body)
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(eom))
	log_expect({ qid = "SZ5", nrcpt = "1" }, { action = "accept", size = tostring(LIMIT) })
end)

case("size: message one byte over MaxMessageSize refused at end of data", function()
	local conn = open()
	mail(conn, "<a@remote.example>", { qid = "SZ6" })
	rcpt(conn, "<bob@example.org>")
	local body = string.rep("x", LIMIT + 1 - hsize(HEADERS))
	local eom = data(conn, HEADERS, body)
	eq("EOM reply", "SMFIR_REPLYCODE", reply_name(eom))
	eom_reply(conn, "552", "5.3.4", "Message size exceeds fixed limit (ref: SZ6)")
	log_expect({ qid = "SZ6", nrcpt = "1" },
	    { action = "reject", code = "552", xcode = "5.3.4", rule = "size-limit", ref = "SZ6",
	      size = tostring(LIMIT + 1) })
end)

case("size: big body without SIZE= refused at end of message, more chunks after the limit", function()
	local conn = open()
	mail(conn, "<a@remote.example>", { qid = "SZ7" })
	rcpt(conn, "<bob@example.org>")
	oversize_body(conn, HEADERS, "SZ7")
end)

case("size: a refused message does not affect the next one", function()
	local conn = open()
	mail(conn, "<a@remote.example>", { qid = "SZ8a" })
	rcpt(conn, "<bob@example.org>")
	eq("EOM 1 reply", "SMFIR_REPLYCODE", reply_name(data(conn, HEADERS, string.rep("z", 20000))))
	mail(conn, "<a@remote.example>", { qid = "SZ8b" })
	rcpt(conn, "<bob@example.org>")
	eq("EOM 2 reply", "SMFIR_CONTINUE", reply_name(data(conn, HEADERS, "small\r\n")))
	log_expect({ qid = "SZ8b", nrcpt = "1" }, { action = "accept", m = "2" })
end)

case("log: no key appears twice in a verdict line", function()
	-- e.g. the message size and the result of the "size" check
	for _, l in ipairs(log_lines()) do
		if l:find(" action=", 1, true) then
			local seen = {}
			local f = parse_line(l)
			local t = f.text:gsub("\"[^\"]*\"", "\"\"")
			for k in t:gmatch("%f[%w_-]([%w_-]+)=") do
				if seen[k] then
					fail("each key once in", "'" .. l .. "'", "'" .. k .. "' twice")
					return
				end
				seen[k] = true
			end
		end
	end
end)
