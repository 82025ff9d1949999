-- dmarc-policy.lua - a policy acting on dmarc=permerror (rules
-- "ambiguous-from: dmarc-from is missing, multiple, invalid -> reject
-- ..." and "dmarc-broken: dmarc is permerror -> tag", then the shipped
-- policy.conf): a missing or multi-valued From never passes silently,
-- while the From domain's invalid DMARC record only tags.
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/dmarc-lib.lua")

local TEXT = "Ambiguous or missing From header"

-- refused_from - a case: message o (see send) from a@monitor.example
-- is refused by ambiguous-from, with the reply's exact text
local function refused_from(name, o)
	case("dmarc policy: " .. name, function()
		o.prefix, o.mailfrom = "DP", "<a@monitor.example>"
		local conn, eom, qid = send(o)
		rejected(conn, eom, qid, "ambiguous-from", TEXT, "permerror")
	end)
end

refused_from("two From addresses rejected by 'dmarc-from is multiple'",
    { from = "a@monitor.example, b@reject.example" })
refused_from("two From headers rejected",
    { headers = { { "From", "a@monitor.example" }, { "from", "b@reject.example" } } })
refused_from("no From header rejected", { headers = { { "Subject", "x" } } })
refused_from("unparseable From rejected",
    { from = "friends: a@monitor.example, b@reject.example;" })

case("dmarc policy: one From address passes", function()
	local conn, eom, qid = send({ prefix = "DP", mailfrom = "<a@monitor.example>",
	    from = "Monitor <a@monitor.example>" })
	accepted(conn, eom, qid, "pass")
end)

case("dmarc policy: invalid DMARC record tagged, not rejected", function()
	local conn, eom, qid = send({ prefix = "DP", mailfrom = "<a@invalid.example>",
	    from = "a@invalid.example" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	eq("X-Spam-Flag", "YES", header_added(conn, "X-Spam-Flag"))
	authres(conn, "dmarc=permerror (invalid DMARC record at _dmarc.invalid.example: Found "
	    .. "DMARC record contained a bad token value) header.from=invalid.example")
	log_expect({ qid = qid, nrcpt = "1" }, { action = "tag", rule = "dmarc-broken",
	    dmarc = "permerror", code = false })
end)
