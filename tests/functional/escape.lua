-- escape.lua - network text (CR, LF, %, quotes, 8-bit bytes, very long
-- strings) never reaches a log line or an SMTP reply unescaped.
-- tollgate.conf: MaxMessageSize 1K, TrustedNetworks 127.0.0.0/8.
dofile(FUNCDIR .. "/mtlib.lua")

-- raw_log_ok - no log line starts with injected text, no CR anywhere
local function raw_log_ok(injected)
	for _, l in ipairs(log_lines()) do
		if l:find("\r", 1, true) then
			fail("no CR in the log", "none", "a line with CR: " .. l)
			return
		end
		if not starts(l, "tollgate[") then
			fail("every log line to start with tollgate[", "", "'" .. l .. "'")
			return
		end
	end
end

case("escape: CR LF % in the sender are escaped in the log", function()
	local from = "<evil\r\nX-Injected: yes%n%s@remote.example>"
	local conn = open()
	mail(conn, from, { qid = "ESC1" })
	eq("RCPT remote reply", "SMFIR_REPLYCODE", reply_name(rcpt(conn, "<x@remote.example>")))
	local f = log_expect({ qid = "ESC1", rcpt = "<x@remote.example>" },
	    { from = from, code = "554" })
	yes("raw line carries \\x0d\\x0a",
	    f.raw ~= nil and f.raw:find("from=\"<evil\\x0d\\x0aX-Injected: yes%n%s@remote.example>\"", 1, true) ~= nil,
	    f.raw)
	raw_log_ok()
end)

case("escape: CR LF % from the MTA never reach the reply text unescaped", function()
	local conn = open({ ip = "127.0.0.1", host = "localhost" })
	mail(conn, "<a@example.org>", { qid = "Q%1\r\nX" })
	rcpt(conn, "<bob@example.org>")
	local eom = data(conn, nil, string.rep("x", 2000))
	eq("EOM reply", "SMFIR_REPLYCODE", reply_name(eom))
	-- '%' doubled (the MTA undoubles it), CR and LF replaced
	eom_reply(conn, "552", "5.3.4", "Message size exceeds fixed limit (ref: Q%%1??X)")
	raw_log_ok()
end)

case("escape: quotes, backslash and = in HELO are escaped in the log", function()
	local helo = "a\"b\\c=d e"
	local conn = open({ helo = helo })
	mail(conn, "<a@remote.example>", { qid = "ESC3" })
	rcpt(conn, "<x@remote.example>")
	local f = log_expect({ qid = "ESC3", rcpt = "<x@remote.example>" }, { helo = helo })
	yes("raw helo field", f.raw ~= nil and f.raw:find("helo=\"a\\x22b\\x5cc=d e\"", 1, true) ~= nil, f.raw)
end)

case("escape: 8-bit bytes in the sender are escaped in the log", function()
	local from = "<j\195\169r\195\180me@remote.example>"
	local conn = open()
	mail(conn, from, { qid = "ESC4" })
	rcpt(conn, "<x@remote.example>")
	local f = log_expect({ qid = "ESC4", rcpt = "<x@remote.example>" }, { from = from })
	yes("raw from field", f.raw ~= nil and f.raw:find("from=<j\\xc3\\xa9r\\xc3\\xb4me@remote.example>", 1, true) ~= nil, f.raw)
end)

case("escape: a very long sender is cut short in the log", function()
	-- miltertest itself cannot send more than ~1020 bytes per command
	local from = "<" .. string.rep("a", 990) .. "@remote.example>"
	local conn = open()
	mail(conn, from, { qid = "ESC5" })
	rcpt(conn, "<x@remote.example>")
	local f = log_expect({ qid = "ESC5", rcpt = "<x@remote.example>" }, {})
	yes("from ends with ...", f.from ~= nil and f.from:sub(-3) == "...", f.from and f.from:sub(-20))
	eq("from length", 1003, f.from and #f.from)
end)

case("escape: a very long queue id is cut short in log and reply", function()
	local qid = string.rep("Q", 1010)
	local conn = open({ ip = "127.0.0.1", host = "localhost" })
	mail(conn, "<a@example.org>", { qid = qid })
	rcpt(conn, "<bob@example.org>")
	eq("EOM reply", "SMFIR_REPLYCODE", reply_name(data(conn, nil, string.rep("x", 2000))))
	eom_reply(conn, "552", "5.3.4", "Message size exceeds fixed limit (ref: " .. string.rep("Q", 64) .. ")")
	local f = log_expect({ qid = string.rep("Q", 1000) .. "..." }, { ref = string.rep("Q", 1000) .. "..." })
end)

case("escape: CR LF in a header do not break the verdict log line", function()
	local conn = open({ ip = "127.0.0.1", host = "localhost" })
	mail(conn, "<a@example.org>", { qid = "ESC6" })
	rcpt(conn, "<bob@example.org>")
	local eom = data(conn, { { "Subject", "hi\r\nX-Injected: 1" } }, "short\r\n")
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(eom))
	log_expect({ qid = "ESC6", nrcpt = "1" }, { action = "accept" })
	raw_log_ok()
end)
