-- dkim-lib.lua - helpers of the dkim-*.lua suites (after mtlib.lua).
-- Globals from run-dkim.sh: MSGS (the signed message files), HAVE_ED.

-- read_msg - a message file as the MTA hands it over: headers
-- { name, value } (folded values keep their CRLF) and the body (CRLF)
function read_msg(file)
	local fh = io.open(MSGS .. "/" .. file, "rb")
	if fh == nil then error("no message file " .. file) end
	local s = fh:read("a")
	fh:close()
	s = s:gsub("\r?\n", "\r\n")
	local hend = s:find("\r\n\r\n", 1, true)
	local head, body = s:sub(1, hend + 1), s:sub(hend + 4)
	local headers = {}
	for line in head:gmatch("(.-)\r\n") do
		if line:match("^[ \t]") and #headers > 0 then
			headers[#headers][2] = headers[#headers][2] .. "\r\n" .. line
		else
			local n, v = line:match("^([^:]+):[ ]?(.*)$")
			table.insert(headers, { n, v })
		end
	end
	return headers, body
end

-- deliver - MAIL, RCPT, the file's headers, its body in chunks of
-- o.chunk bytes (default 7: the check must stream), EOM; o.ip is the
-- client (default an untrusted one). Returns conn and the EOM reply name.
function deliver(file, qid, o)
	o = o or {}
	local headers, body = read_msg(file)
	local conn = open({ ip = o.ip })
	envelope(conn, "<alice@sender.example>", qid)
	for _, h in ipairs(headers) do must("header", mt.header(conn, h[1], h[2])) end
	must("eoh", mt.eoh(conn))
	local chunk = o.chunk or 7
	for i = 1, #body, chunk do
		must("body", mt.bodystring(conn, body:sub(i, i + chunk - 1)))
	end
	must("eom", mt.eom(conn))
	return conn, reply_name(mt.getreply(conn))
end

-- sig - "header.d=D header.s=S header.a=A header.b=B" of the n-th
-- DKIM-Signature (from the top, default the first) of a message file
function sig(file, n)
	local headers = read_msg(file)
	local k = 0
	for _, h in ipairs(headers) do
		if h[1]:lower() == "dkim-signature" then
			k = k + 1
			if k == (n or 1) then
				local t = {}
				for tag, val in (h[2]:gsub("%s", "") .. ";"):gmatch("([%w_]+)=([^;]*);") do
					t[tag] = val
				end
				local p = {}
				if t.d then table.insert(p, "header.d=" .. t.d) end
				if t.s then table.insert(p, "header.s=" .. t.s) end
				if t.a then table.insert(p, "header.a=" .. t.a) end
				if t.b then
					local b = t.b:sub(1, 8)
					if b:find("[/=]") then b = '"' .. b .. '"' end
					table.insert(p, "header.b=" .. b)
				end
				return table.concat(p, " ")
			end
		end
	end
	error(file .. " has no DKIM-Signature number " .. tostring(n or 1))
end

local n = 0

-- dkim_case - one message: its dkim= elements (want: list of
-- { outcome-and-comment, file, signature number }) and the log's dkim=
function dkim_case(name, file, want, o)
	o = o or {}
	case("dkim: " .. name, function()
		n = n + 1
		local qid = string.format("DK%d", n)
		local conn, eom = deliver(file, qid, o)
		eq("EOM reply", "SMFIR_CONTINUE", eom)
		local lines, outcomes = {}, {}
		for _, w in ipairs(want) do
			local line = "dkim=" .. w[1]
			if w[2] ~= nil then line = line .. " " .. sig(w[2], w[3]) end
			table.insert(lines, line)
			table.insert(outcomes, w[1]:match("^(%a+)"))
		end
		authres_expect(conn, "dkim", lines)
		log_expect({ qid = qid, nrcpt = "1" },
		    { dkim = #outcomes > 0 and table.concat(outcomes, ",") or false })
	end)
end
