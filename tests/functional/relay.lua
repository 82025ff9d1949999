-- relay.lua - relay control at RCPT TO.
-- tollgate.conf: LocalDomains example.org, .example.org;
-- TrustedNetworks 127.0.0.0/8, ::1/128; no SubmissionDaemons match.
dofile(FUNCDIR .. "/mtlib.lua")

-- reject_rcpt - one untrusted transaction; rcpt must get 554 5.7.1
local function reject_rcpt(qid, to)
	local conn = open()
	eq("MAIL reply", "SMFIR_CONTINUE", reply_name(mail(conn, "<a@remote.example>", { qid = qid })))
	eq("RCPT " .. to .. " reply", "SMFIR_REPLYCODE", reply_name(rcpt(conn, to)))
	log_expect({ qid = qid, rcpt = to },
	    { action = "reject", code = "554", xcode = "5.7.1", rule = "relay",
	      relay = "fail", ref = qid, ip = "198.51.100.7" })
	return conn
end

case("relay: untrusted client, remote recipient rejected 554 5.7.1, local one accepted", function()
	local conn = open()
	eq("MAIL reply", "SMFIR_CONTINUE", reply_name(mail(conn, "<a@remote.example>", { qid = "RL1" })))
	eq("RCPT remote reply", "SMFIR_REPLYCODE", reply_name(rcpt(conn, "<bob@remote.example>")))
	eq("RCPT local reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@example.org>")))
	eq("RCPT subdomain reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<carol@lists.example.org>")))
	local eom = data(conn)
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(eom))
	log_expect({ qid = "RL1", rcpt = "<bob@remote.example>" },
	    { action = "reject", code = "554", xcode = "5.7.1", rule = "relay", ref = "RL1",
	      reasons = "relay: rcpt <bob@remote.example>: not a local domain, client 198.51.100.7 neither trusted nor authenticated" })
	log_expect({ qid = "RL1", nrcpt = "2" },
	    { action = "accept", rejected = "1", rcpt = "<bob@example.org>,<carol@lists.example.org>",
	      code = false })
end)

case("relay: the reject applies to that recipient only, in any order", function()
	local conn = open()
	mail(conn, "<a@remote.example>", { qid = "RL2" })
	eq("RCPT local reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@example.org>")))
	eq("RCPT remote reply", "SMFIR_REPLYCODE", reply_name(rcpt(conn, "<x@remote.example>")))
	eq("RCPT second local reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<alice@example.org>")))
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(data(conn)))
	log_expect({ qid = "RL2", nrcpt = "2" }, { action = "accept", rejected = "1" })
end)

case("relay: look-alike domains are not local", function()
	reject_rcpt("RL3a", "<bob@notexample.org>")
	reject_rcpt("RL3b", "<bob@example.org.evil.example>")
	reject_rcpt("RL3c", "<bob@example.orgg>")
end)

case("relay: upper-case and trailing-dot local domains are local", function()
	local conn = open()
	mail(conn, "<a@remote.example>", { qid = "RL4" })
	eq("RCPT Bob@EXAMPLE.ORG reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<Bob@EXAMPLE.ORG>")))
	eq("RCPT bob@example.org. reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@example.org.>")))
end)

case("relay: percent hack user%remote@local rejected", function()
	reject_rcpt("RL5", "<user%remote.example@example.org>")
end)

case("relay: bang path remote!user@local rejected", function()
	reject_rcpt("RL6", "<remote.example!user@example.org>")
end)

case("relay: source route @local:user@remote rejected", function()
	reject_rcpt("RL7a", "<@example.org:user@remote.example>")
end)

case("relay: source route @remote:user@local rejected", function()
	reject_rcpt("RL7b", "<@remote.example,@example.org:user@example.org>")
end)

case("relay: quoted local part \"user@remote\"@local rejected", function()
	reject_rcpt("RL8", "<\"user@remote.example\"@example.org>")
end)

case("relay: <postmaster> without a domain accepted (RFC 5321 4.5.1)", function()
	local conn = open()
	mail(conn, "<a@remote.example>", { qid = "RL9" })
	eq("RCPT <postmaster> reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<postmaster>")))
end)

case("relay: percent hack and bang path without a domain rejected", function()
	reject_rcpt("RL9a", "<user%remote.example>")
	reject_rcpt("RL9b", "<remote.example!user>")
end)

case("relay: trusted client 127.0.0.1 relays", function()
	local conn = open({ ip = "127.0.0.1", host = "localhost" })
	mail(conn, "<a@example.org>", { qid = "RL10" })
	eq("RCPT remote reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@remote.example>")))
	eq("RCPT percent-hack reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<u%remote.example@example.org>")))
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(data(conn)))
	log_expect({ qid = "RL10", nrcpt = "2" }, { action = "accept", ip = "127.0.0.1", rejected = false })
end)

case("relay: trusted client ::1 relays", function()
	local conn = open({ ip = "::1", host = "localhost" })
	mail(conn, "<a@example.org>", { qid = "RL11" })
	eq("RCPT remote reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@remote.example>")))
end)

case("relay: authenticated client relays from an untrusted address", function()
	local conn = open()
	eq("MAIL reply", "SMFIR_CONTINUE",
	    reply_name(mail(conn, "<bob@example.org>", { qid = "RL12", auth = "bob" })))
	eq("RCPT remote reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<x@remote.example>")))
	eq("EOM reply", "SMFIR_CONTINUE", reply_name(data(conn)))
	log_expect({ qid = "RL12", nrcpt = "1" }, { action = "accept", auth = "bob" })
end)

case("relay: empty {auth_authen} is not authentication", function()
	local conn = open()
	must("macro", mt.macro(conn, SMFIC_MAIL, "i", "RL13", "{auth_authen}", ""))
	must("mailfrom", mt.mailfrom(conn, "<bob@example.org>"))
	eq("RCPT remote reply", "SMFIR_REPLYCODE", reply_name(rcpt(conn, "<x@remote.example>")))
end)

case("relay: client of unknown address is not trusted", function()
	local conn = open({ ip = "unspec", host = "unknown" })
	mail(conn, "<a@remote.example>", { qid = "RL14" })
	eq("RCPT remote reply", "SMFIR_REPLYCODE", reply_name(rcpt(conn, "<x@remote.example>")))
	log_expect({ qid = "RL14", rcpt = "<x@remote.example>" }, { ip = "unknown", code = "554" })
end)

case("relay: a reject does not leak into the next message on the connection", function()
	local conn = open()
	mail(conn, "<a@remote.example>", { qid = "RL15a" })
	eq("RCPT remote reply", "SMFIR_REPLYCODE", reply_name(rcpt(conn, "<x@remote.example>")))
	eq("RCPT local reply", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@example.org>")))
	eq("EOM 1 reply", "SMFIR_CONTINUE", reply_name(data(conn)))
	mail(conn, "<a@remote.example>", { qid = "RL15b" })
	eq("RCPT local reply (message 2)", "SMFIR_CONTINUE", reply_name(rcpt(conn, "<bob@example.org>")))
	eq("EOM 2 reply", "SMFIR_CONTINUE", reply_name(data(conn)))
	log_expect({ qid = "RL15b", nrcpt = "1" }, { action = "accept", m = "2", rejected = false })
end)
