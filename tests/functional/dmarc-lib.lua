-- dmarc-lib.lua - helpers of the dmarc-*.lua suites (after mtlib.lua).
-- Designated SPF sender of every test domain: 192.0.2.10; 198.51.100.7
-- is nobody's, so SPF fails for it.

local n = 0

-- send - one message: MAIL FROM o.mailfrom from o.ip (192.0.2.10), the
-- headers o.headers (default From: o.from and a Subject); returns
-- conn, the EOM reply name and the queue id
function send(o)
	n = n + 1
	local qid = string.format("%s%d", o.prefix or "DM", n)
	local conn = open({ ip = o.ip or "192.0.2.10", helo = "mta.example" })
	envelope(conn, o.mailfrom, qid)
	local eom = data(conn, o.headers or { { "From", o.from }, { "Subject", "dmarc" } })
	return conn, reply_name(eom), qid
end

-- authres - our Authentication-Results header was added and its dmarc
-- element, always its last, is exactly want
function authres(conn, want)
	local all = authres_entries(authres_expect(conn, "dmarc", { want }))
	eq("last Authentication-Results element", want, all[#all])
end

-- accepted - delivered as is: continue, not held
function accepted(conn, eom, qid, dmarc)
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	yes("not quarantined", not mt.eom_check(conn, MT_QUARANTINE))
	log_expect({ qid = qid, nrcpt = "1" }, { action = "accept", dmarc = dmarc })
end

-- quarantined - held by rule
function quarantined(conn, eom, qid, rule)
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	yes("quarantine requested", mt.eom_check(conn, MT_QUARANTINE))
	log_expect({ qid = qid, nrcpt = "1" }, { action = "quarantine", dmarc = "fail", rule = rule })
end

-- rejected - 550 5.7.1 text (ref: qid) by rule
function rejected(conn, eom, qid, rule, text, dmarc)
	refused(conn, eom, qid, "550", "5.7.1", text)
	log_expect({ qid = qid, nrcpt = "1" }, { action = "reject", code = "550",
	    xcode = "5.7.1", rule = rule, dmarc = dmarc or "fail" })
end
