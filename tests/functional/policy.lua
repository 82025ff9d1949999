-- policy.lua - verdicts from the policy file (policy-test.conf):
-- reject/tempfail replies with "(ref: ...)", tag headers and subject
-- prefix, quarantine, score thresholds, allow lists, per-rule monitor.
-- tollgate.conf: MaxMessageSize 1M, TrustedNetworks 192.0.2.0/24,
-- TagSubjectPrefix "[SPAM] ". Needs the policy engine (src/policy.c).
dofile(FUNCDIR .. "/mtlib.lua")

-- msg - one message from an untrusted client to a local recipient;
-- returns conn and the EOM reply name
local function msg(o)
	local conn = open({ ip = o.ip, helo = o.helo })
	envelope(conn, o.from or "<a@remote.example>", o.qid)
	local eom = data(conn, o.headers or { { "From", "<a@remote.example>" },
	    { "Subject", o.subject or "hello" } }, o.body)
	return conn, reply_name(eom)
end

-- refusal - a case: message o is refused at EOM with exactly "CODE
-- XCODE TEXT (ref: QID)"; its log line has the fields log, if given
local function refusal(name, o, code, xcode, text, log)
	case("policy: " .. name, function()
		local conn, eom = msg(o)
		refused(conn, eom, o.qid, code, xcode, text)
		if log ~= nil then log_expect({ qid = o.qid, nrcpt = "1" }, log) end
	end)
end

-- untagged - no tag headers, no quarantine
local function untagged(conn)
	eq("X-Spam-Flag added", nil, header_added(conn, "X-Spam-Flag"))
	yes("no quarantine", not mt.eom_check(conn, MT_QUARANTINE))
end

refusal("helo rule rejects with its own reply and the ref", { qid = "POL1", helo = "bad.example" },
    "550", "5.7.1", "go away", { action = "reject", code = "550", xcode = "5.7.1",
    rule = "block-helo", ref = "POL1", reasons = "rule block-helo" })
refusal("helo in a list (subdomain item) rejects with the default reply",
    { qid = "POL2", helo = "mx1.spam.example" }, "550", "5.7.1", "Message rejected by policy",
    { action = "reject", rule = "block-helo-list" })
refusal("sender in a list (@domain item) rejects 554",
    { qid = "POL3", from = "<anyone@junk.example>" }, "554", "5.7.1", "sender blocked")
refusal("a % in the reply text is doubled for the MTA", { qid = "POL4", helo = "percent.example" },
    "550", "5.7.1", "100%% refused")
refusal("tempfail with its own reply", { qid = "POL5", from = "<later@remote.example>" },
    "451", "4.7.1", "try later",
    { action = "tempfail", code = "451", xcode = "4.7.1", rule = "defer" })
refusal("tempfail with the default reply", { qid = "POL6", from = "<tf@remote.example>" },
    "451", "4.7.1", "Message deferred by policy, try again later")

case("policy: quarantine holds the message and tags it", function()
	local conn, eom = msg({ qid = "POL7", subject = "Please QUARANTINE me" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	yes("quarantine requested", mt.eom_check(conn, MT_QUARANTINE))
	eq("X-Spam-Flag", "YES", header_added(conn, "X-Spam-Flag"))
	local v = header_added(conn, "X-Tollgate-Verdict")
	yes("X-Tollgate-Verdict starts 'quarantine score=0.0 rule=hold'",
	    starts(v, "quarantine score=0.0 rule=hold"), v)
	log_expect({ qid = "POL7", nrcpt = "1" }, { action = "quarantine", rule = "hold" })
end)

case("policy: tag adds X-Spam-Flag, X-Tollgate-Verdict and the subject prefix", function()
	local conn, eom = msg({ qid = "POL8", subject = "cheap Viagra" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	eq("X-Spam-Flag", "YES", header_added(conn, "X-Spam-Flag"))
	local v = header_added(conn, "X-Tollgate-Verdict")
	eq("X-Tollgate-Verdict", "tag score=0.0 rule=spammy; rule spammy", v)
	yes("Subject changed to '[SPAM] cheap Viagra'",
	    mt.eom_check(conn, MT_HDRCHANGE, "Subject", " [SPAM] cheap Viagra"))
	yes("no quarantine", not mt.eom_check(conn, MT_QUARANTINE))
	log_expect({ qid = "POL8", nrcpt = "1" },
	    { action = "tag", rule = "spammy", code = false, score = "0.0" })
end)

case("policy: score below the tag threshold accepts untouched", function()
	local conn, eom = msg({ qid = "POL9", headers = { { "Subject", "x" }, { "X-Score-A", "1" } } })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	untagged(conn)
	log_expect({ qid = "POL9", nrcpt = "1" },
	    { action = "accept", score = "3.0", reasons = "score-a(+3.0)" })
end)

case("policy: scores add up to the tag threshold", function()
	local conn, eom = msg({ qid = "POL10",
	    headers = { { "Subject", "x" }, { "X-Score-A", "1" }, { "X-Score-B", "1" } } })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	eq("X-Spam-Flag", "YES", header_added(conn, "X-Spam-Flag"))
	yes("Subject prefixed", mt.eom_check(conn, MT_HDRCHANGE, "Subject", " [SPAM] x"))
	local v = header_added(conn, "X-Tollgate-Verdict")
	yes("X-Tollgate-Verdict starts 'tag score=6.0'", starts(v, "tag score=6.0"), v)
	log_expect({ qid = "POL10", nrcpt = "1" },
	    { action = "tag", score = "6.0",
	      reasons = "score-a(+3.0); score-b(+3.0); score 6.0 >= tag-threshold 5.0" })
end)

case("policy: score at the quarantine threshold holds", function()
	local conn, eom = msg({ qid = "POL11", headers = { { "Subject", "x" }, { "X-Score-C", "1" } } })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	yes("quarantine requested", mt.eom_check(conn, MT_QUARANTINE))
	log_expect({ qid = "POL11", nrcpt = "1" }, { action = "quarantine", score = "12.0" })
end)

refusal("score at the reject threshold rejects",
    { qid = "POL12", headers = { { "Subject", "x" }, { "X-Score-D", "1" } } },
    "550", "5.7.1", "Message rejected by policy", { action = "reject", score = "20.0",
    reasons = "score-d(+20.0); score 20.0 >= reject-threshold 20.0" })

case("policy: negative scores count", function()
	local conn, eom = msg({ qid = "POL13", headers = { { "Subject", "x" },
	    { "X-Score-A", "1" }, { "X-Score-B", "1" }, { "X-Score-Minus", "1" } } })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	untagged(conn)
	log_expect({ qid = "POL13", nrcpt = "1" }, { action = "accept", score = "1.5" })
end)

case("policy: an earlier accept rule (allow list) wins", function()
	local conn, eom = msg({ qid = "POL14", ip = "203.0.113.9", helo = "bad.example" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	untagged(conn)
	log_expect({ qid = "POL14", nrcpt = "1" }, { action = "accept", rule = "allow-partner" })
end)

case("policy: an accept rule cannot open the relay", function()
	local conn = open({ ip = "203.0.113.9" })
	mail(conn, "<a@remote.example>", { qid = "POL15" })
	eq("RCPT remote reply", "SMFIR_REPLYCODE", reply_name(rcpt(conn, "<x@remote.example>")))
end)

case("policy: a monitor rule only logs what it would do", function()
	local conn, eom = msg({ qid = "POL16", helo = "monitored.example" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	untagged(conn)
	local f = log_expect({ qid = "POL16", nrcpt = "1" }, { action = "accept" })
	yes("log says 'rule would-reject would reject'",
	    f.raw ~= nil and f.raw:find("rule would-reject would reject", 1, true) ~= nil, f.raw)
end)

case("policy: no rule matches, message accepted untouched", function()
	local conn, eom = msg({ qid = "POL17" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	untagged(conn)
	eq("X-Tollgate-Verdict added", nil, header_added(conn, "X-Tollgate-Verdict"))
	log_expect({ qid = "POL17", nrcpt = "1" }, { action = "accept", score = "0.0", rule = false })
end)

case("policy: an MTA that refuses our header changes gets 451, and the log says so", function()
	-- every action but SMFIF_ADDHDRS (0x01): no Authentication-Results
	local conn = open({ actions = 0x1FE })
	envelope(conn, "<a@remote.example>", "PF1")
	refused(conn, reply_name(data(conn)), "PF1", "451", "4.3.0",
	    "Temporary filter failure, try again later")
	log_expect({ qid = "PF1", nrcpt = "1" }, { action = "tempfail", code = "451", xcode = "4.3.0",
	    rule = "internal-error:milter",
	    reasons = "internal-error:milter: could not modify the message" })
end)
