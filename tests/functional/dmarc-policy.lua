-- dmarc-policy.lua - a policy acting on dmarc=permerror (rule
-- "ambiguous-from: dmarc is permerror -> reject ...", then the shipped
-- policy.conf): a missing or multi-valued From never passes silently.
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/dmarc-lib.lua")

local TEXT = "Ambiguous or missing From header"

case("dmarc policy: two From addresses rejected by 'dmarc is permerror'", function()
	local conn, eom, qid = send({ prefix = "DP", mailfrom = "<a@monitor.example>",
	    from = "a@monitor.example, b@reject.example" })
	rejected(conn, eom, qid, "ambiguous-from", TEXT, "permerror")
end)

case("dmarc policy: two From headers rejected", function()
	local conn, eom, qid = send({ prefix = "DP", mailfrom = "<a@monitor.example>",
	    headers = { { "From", "a@monitor.example" }, { "from", "b@reject.example" } } })
	rejected(conn, eom, qid, "ambiguous-from", TEXT, "permerror")
end)

case("dmarc policy: no From header rejected", function()
	local conn, eom, qid = send({ prefix = "DP", mailfrom = "<a@monitor.example>",
	    headers = { { "Subject", "x" } } })
	rejected(conn, eom, qid, "ambiguous-from", TEXT, "permerror")
end)

case("dmarc policy: one From address passes", function()
	local conn, eom, qid = send({ prefix = "DP", mailfrom = "<a@monitor.example>",
	    from = "Monitor <a@monitor.example>" })
	accepted(conn, eom, qid, "pass")
end)
