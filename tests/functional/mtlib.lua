-- mtlib.lua - helpers for tollgate's miltertest scripts.
--
-- Loaded by every tests/functional/*.lua suite with
--   dofile(FUNCDIR .. "/mtlib.lua")
-- Globals given by tg_run_lua (lib.sh) with miltertest -D:
--   FUNCDIR  this directory      SOCK  tollgate's unix socket path
--   LOG      tollgate's stderr log file
--   DIR      the run's scratch directory, POLICY  the policy file,
--   TGPID    the daemon's pid; a run-*.sh may add more (TG_LUA_VARS)
--
-- A suite is a list of case("name", function() ... end) calls. Each case
-- prints "ok - NAME" or "not ok - NAME: expected X, got Y" (all failed
-- expectations of the case, joined with "; "). A Lua error inside a case
-- fails that case only.

mt.set_timeout(10)

local REPLIES = {}
for _, n in ipairs({ "SMFIR_CONTINUE", "SMFIR_ACCEPT", "SMFIR_REJECT",
    "SMFIR_TEMPFAIL", "SMFIR_DISCARD", "SMFIR_REPLYCODE", "SMFIR_SKIP" }) do
	if _G[n] ~= nil then REPLIES[_G[n]] = n end
end

-- reply_name - "SMFIR_REPLYCODE" for a mt.getreply() value
function reply_name(r)
	if r == nil then return "nil" end
	return REPLIES[r] or string.format("reply %s", tostring(r))
end

local function show(v)
	if type(v) == "string" then return "'" .. v .. "'" end
	return tostring(v)
end

local current = nil
local conns = {}

-- case - run one test case
function case(name, fn)
	current = { name = name, fails = {} }
	conns = {}
	local ok, err = pcall(fn)
	if not ok then
		table.insert(current.fails, "expected no error, got " .. tostring(err))
	end
	for _, c in ipairs(conns) do pcall(mt.disconnect, c) end
	conns = {}
	if #current.fails == 0 then
		print("ok - " .. name)
	else
		print("not ok - " .. name .. ": " .. table.concat(current.fails, "; "))
	end
	io.stdout:flush()
	current = nil
end

-- fail - record a failed expectation in the current case
function fail(what, expected, got)
	table.insert(current.fails, string.format("expected %s %s, got %s",
	    what, expected, got))
end

-- eq - exact equality
function eq(what, expected, got)
	if expected ~= got then fail(what, show(expected), show(got)) end
	return expected == got
end

-- yes - a condition that must hold
function yes(what, cond, got)
	if not cond then fail(what, "true", got ~= nil and show(got) or "false") end
	return cond
end

-- reply - the last reply of conn must be the SMFIR_* constant expected
function reply(what, conn, expected)
	local r = mt.getreply(conn)
	if r ~= expected then fail(what .. " reply", reply_name(expected), reply_name(r)) end
	return r == expected
end

-- must - a miltertest call must return nil (its error string otherwise)
function must(what, rc)
	if rc ~= nil then error(what .. ": " .. tostring(rc), 2) end
end

-- ------------------------------------------------------------ sessions

-- open - connect and send connection info.
--   o.ip (default 198.51.100.7, an untrusted address), o.host,
--   o.daemon ({daemon_name} at connect), o.helo (sent unless false),
--   o.proto, o.actions (the SMFIP_* steps and SMFIF_* actions offered;
--   miltertest offers them all)
function open(o)
	o = o or {}
	-- SOCK: a unix socket path, or "inet:PORT@HOST"
	local conn = mt.connect(SOCK:find("^inet") and SOCK or "unix:" .. SOCK, 40, 0.05)
	if conn == nil then error("cannot connect to " .. SOCK) end
	table.insert(conns, conn)
	-- (miltertest takes the steps before the actions, whatever its manual says)
	if o.proto or o.actions then
		must("negotiate", mt.negotiate(conn, 6, o.proto, o.actions))
	end
	if o.daemon then
		must("macro connect", mt.macro(conn, SMFIC_CONNECT, "{daemon_name}", o.daemon,
		    "j", "mx.example.org"))
	end
	must("conninfo", mt.conninfo(conn, o.host or "client.remote.example",
	    o.ip or "198.51.100.7"))
	if o.helo ~= false then
		must("helo", mt.helo(conn, o.helo or "client.remote.example"))
	end
	return conn
end

-- mail - MAIL FROM with macros: o.qid ("i"), o.auth ({auth_authen}),
-- extra ESMTP args in o.args
function mail(conn, from, o)
	o = o or {}
	local macros = {}
	if o.qid then table.insert(macros, "i"); table.insert(macros, o.qid) end
	if o.auth then
		table.insert(macros, "{auth_authen}"); table.insert(macros, o.auth)
		table.insert(macros, "{auth_type}"); table.insert(macros, "PLAIN")
	end
	if #macros > 0 then
		must("macro mail", mt.macro(conn, SMFIC_MAIL, table.unpack(macros)))
	end
	must("mailfrom", mt.mailfrom(conn, from, table.unpack(o.args or {})))
	return mt.getreply(conn)
end

-- rcpt - RCPT TO; returns the reply
function rcpt(conn, to)
	must("rcptto", mt.rcptto(conn, to))
	return mt.getreply(conn)
end

-- sender - MAIL FROM, which tollgate does not answer (SMFIP_NR_MAIL),
-- then RCPT TO a local recipient, whose reply must be want:
-- SMFIR_REPLYCODE for a sender refused at MAIL (told at each RCPT, as
-- Postfix's smtpd_delay_reject does), SMFIR_CONTINUE for one accepted.
-- The MAIL log line is written by the time RCPT is answered.
function sender(conn, from, want, o)
	eq("MAIL reply (none)", "SMFIR_CONTINUE", reply_name(mail(conn, from, o)))
	eq("RCPT reply", want, reply_name(rcpt(conn, "<bob@example.org>")))
end

-- data - headers (list of {name, value}), then body; returns the EOM reply.
-- The headers/body replies are not answered by tollgate (NR_HDR etc.)
-- or are "continue"/"skip".
function data(conn, headers, body)
	for _, h in ipairs(headers or { { "From", "<a@remote.example>" },
	    { "Subject", "test" } }) do
		must("header", mt.header(conn, h[1], h[2]))
	end
	must("eoh", mt.eoh(conn))
	must("body", mt.bodystring(conn, body or "Hello.\r\n"))
	local body_reply = mt.getreply(conn)
	must("eom", mt.eom(conn))
	return mt.getreply(conn), body_reply
end

-- eom_reply - the EOM SMTP reply must be exactly "CODE XCODE TEXT"
function eom_reply(conn, code, xcode, text)
	local ok = mt.eom_check(conn, MT_SMTPREPLY, code, xcode, text)
	if not ok then
		fail("EOM reply", show(code .. " " .. xcode .. " " .. text), "another reply")
	end
	return ok
end

-- oversize_body - headers, then three body chunks of 8000 bytes that
-- pass a 10K MaxMessageSize, none answered (SMFIP_NR_BODY: the chunks
-- past the limit are read and only counted), then the EOM reply must be
-- 552 5.3.4 with the reference qid
function oversize_body(conn, headers, qid)
	for _, h in ipairs(headers) do must("header", mt.header(conn, h[1], h[2])) end
	must("eoh", mt.eoh(conn))
	for i = 1, 3 do
		must("body " .. i, mt.bodystring(conn, string.rep("y", 8000) .. "\r\n"))
		eq("no reply to body chunk " .. i, "SMFIR_CONTINUE", reply_name(mt.getreply(conn)))
	end
	must("eom", mt.eom(conn))
	eq("EOM reply", "SMFIR_REPLYCODE", reply_name(mt.getreply(conn)))
	eom_reply(conn, "552", "5.3.4", "Message size exceeds fixed limit (ref: " .. qid .. ")")
end

-- envelope - MAIL FROM from (queue id qid) and RCPT TO
-- <bob@example.org>, each of which must be continued
function envelope(conn, from, qid)
	eq("MAIL reply", "SMFIR_CONTINUE", reply_name(mail(conn, from, { qid = qid })))
	eq("RCPT reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@example.org>")))
end

-- refused - the EOM reply (eom, its name) carries a code, and it is
-- exactly "CODE XCODE TEXT (ref: QID)"
function refused(conn, eom, qid, code, xcode, text)
	eq("EOM reply", "SMFIR_REPLYCODE", eom)
	return eom_reply(conn, code, xcode, text .. " (ref: " .. qid .. ")")
end

-- now - the time of day in seconds, to the nanosecond
function now()
	local p = io.popen("date +%s.%N")
	local t = p:read("*n")
	p:close()
	return t
end

-- ------------------------------------------------------------ the log

-- unescape - tollgate writes \xNN for backslash, quote and non-printables
function unescape(v)
	return (v:gsub("\\x(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- parse_line - "key=value key=\"quoted\"" fields of a tollgate log line
-- into a table; also .raw (the line) and .text (after "tollgate[PID]: ")
function parse_line(line)
	local f = { raw = line }
	local s = line:gsub("^tollgate%[%d+%]: ", "")
	f.text = s
	local i, n = 1, #s
	while i <= n do
		local k, eqpos = s:match("^([%w_%-]+)()=", i)
		if k == nil then
			-- free text: skip to the next space
			local sp = s:find(" ", i, true)
			if sp == nil then break end
			i = sp + 1
		else
			local j = eqpos + 1
			local v
			if s:sub(j, j) == '"' then
				local buf = {}
				j = j + 1
				while j <= n and s:sub(j, j) ~= '"' do
					table.insert(buf, s:sub(j, j))
					j = j + 1
				end
				v = unescape(table.concat(buf))
				j = j + 1
			else
				local sp = s:find(" ", j, true) or (n + 1)
				v = unescape(s:sub(j, sp - 1))
				j = sp
			end
			-- the first occurrence of a key wins
			if f[k] == nil then f[k] = v end
			i = j + 1
		end
	end
	return f
end

-- log_lines - every line of the tollgate log
function log_lines()
	local lines = {}
	local fh = io.open(LOG, "rb")
	if fh == nil then return lines end
	for l in fh:lines() do table.insert(lines, l) end
	fh:close()
	return lines
end

-- log_find - the last log line whose fields match every key of want
-- (string values exact); nil if none
function log_find(want)
	local lines = log_lines()
	for i = #lines, 1, -1 do
		local f = parse_line(lines[i])
		local match = true
		for k, v in pairs(want) do
			if f[k] ~= v then match = false; break end
		end
		if match then return f end
	end
	return nil
end

-- log_expect - find the line matching want, then check the fields of
-- expect; returns the line's fields (or an empty table)
function log_expect(want, expect)
	local f = log_find(want)
	local keys = {}
	for k, v in pairs(want) do table.insert(keys, k .. "=" .. v) end
	table.sort(keys)
	if f == nil then
		fail("a log line with", table.concat(keys, " "), "none")
		return {}
	end
	local names = {}
	for k in pairs(expect or {}) do table.insert(names, k) end
	table.sort(names)
	for _, k in ipairs(names) do
		local v = expect[k]
		if v == false then
			if f[k] ~= nil then fail("no log field " .. k, "absent", show(f[k])) end
		elseif f[k] ~= v then
			fail("log " .. k, show(v), show(f[k]))
		end
	end
	return f
end

-- starts - s begins with prefix
function starts(s, prefix)
	return s ~= nil and s:sub(1, #prefix) == prefix
end

-- header_added - the value of the n-th (from 0) header name added at
-- EOM. miltertest negotiates SMFIP_HDR_LEADSPC, so what tollgate writes
-- must start with the one space that goes after the colon: it is taken
-- off here, and a value without it comes back marked so no test passes.
function header_added(conn, name, n)
	local v = mt.getheader(conn, name, n or 0)
	if v == nil then return nil end
	if v:sub(1, 1) ~= " " then return "(no leading space)" .. v end
	return v:sub(2)
end

-- ------------------------------------------------------------ Authentication-Results

-- authres_entries - the elements of an Authentication-Results value
-- whose method is method ("spf", "dkim", "dmarc"; all of them when nil),
-- in order, each without its ';'; an empty list for a nil value. tollgate
-- starts each element on a line of its own: a ';' in a comment does not
-- end one.
function authres_entries(value, method)
	local out = {}
	if value == nil then return out end
	local first = true
	for part in (value .. "\n\t"):gmatch("(.-)\r?\n\t") do
		if first then
			first = false	-- the authserv-id
		else
			part = part:gsub(";$", "")
			if method == nil or part:match("^([%w_%-]+)=") == method then
				table.insert(out, part)
			end
		end
	end
	return out
end

-- authres_expect - our Authentication-Results header was inserted, its
-- authserv-id is mx.example.org, and its method= elements are exactly
-- want (a list); returns the header's value
function authres_expect(conn, method, want)
	yes("Authentication-Results inserted",
	    mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results"))
	local v = header_added(conn, "Authentication-Results")
	yes("Authentication-Results starts with our authserv-id",
	    v ~= nil and v:sub(1, 15) == "mx.example.org;", v)
	local got = authres_entries(v, method)
	eq("number of " .. method .. "= elements", #want, #got)
	for i = 1, math.max(#want, #got) do
		eq(method .. "= element " .. i, want[i], got[i])
	end
	return v
end
