-- spf-lib.lua - helpers of the spf-*.lua suites (after mtlib.lua).

local n = 0

-- send - one message: MAIL FROM o.from from o.ip (192.0.2.10) saying
-- HELO o.helo (mta.example), queue id o.qid (SPF1, SPF2, ...); returns
-- conn, the EOM reply name and the queue id
function send(o)
	n = n + 1
	local qid = o.qid or string.format("SPF%d", n)
	local conn = open({ ip = o.ip or "192.0.2.10", helo = o.helo or "mta.example" })
	envelope(conn, o.from, qid)
	return conn, reply_name(data(conn)), qid
end

-- authres - an Authentication-Results header was inserted, ours, and
-- its spf element is exactly want ("spf=pass smtp.mailfrom=..."), or
-- absent when want is nil
function authres(conn, want)
	authres_expect(conn, "spf", { want })
end
