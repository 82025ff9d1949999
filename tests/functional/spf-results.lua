-- spf-results.lua - every SPF result, the mechanisms, and where
-- libspf2 1.2.10 strays from RFC 7208. run-spf.sh serves the records
-- (nsd) and sets AuthservID mx.example.org, Nameservers 127.0.0.1.
-- Designated senders: 192.0.2.10 and 2001:db8::/32.
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/spf-lib.lua")

-- spf - a case: message o gets "spf=" .. result (and log spf=outcome)
local function spf(name, o, result)
	case("spf: " .. name, function()
		local conn, eom, qid = send(o)
		eq("EOM reply", "SMFIR_CONTINUE", eom)
		authres(conn, "spf=" .. result)
		log_expect({ qid = qid, nrcpt = "1" }, { spf = result:match("^(%a+)") })
	end)
end

local function from(d) return "<a@" .. d .. ".example>" end
local function props(d, helo)
	return "smtp.mailfrom=a@" .. d .. ".example smtp.helo=" .. (helo or "mta.example")
end

-- the seven results
spf("pass", { from = from("pass") }, "pass " .. props("pass"))
spf("fail (-all), no exp=: no comment", { from = from("fail") }, "fail " .. props("fail"))
spf("softfail (~all)", { from = from("softfail") }, "softfail " .. props("softfail"))
spf("neutral (?all)", { from = from("neutral") }, "neutral " .. props("neutral"))
spf("none: TXT records, none of them SPF", { from = from("nospf") }, "none " .. props("nospf"))
spf("none: the domain does not exist", { from = from("nowhere") }, "none " .. props("nowhere"))
spf("permerror: two SPF records", { from = from("two") },
    "permerror (two.example has 2 SPF records) " .. props("two"))
spf("fail from a client not designated", { from = from("pass"), ip = "198.51.100.7" },
    "fail " .. props("pass"))

-- record selection and text
spf("a record split in two strings is joined", { from = from("split") }, "pass " .. props("split"))
spf("V=SPF1 and mechanisms in upper case", { from = from("upper") }, "pass " .. props("upper"))

-- syntax errors libspf2 accepts are permerror (RFC 7208 4.6, 12)
spf("permerror: unknown mechanism, even after the matching one",
    { from = from("unknown-mech") },
    "permerror (SPF record of unknown-mech.example: unknown mechanism: \"foo:bar.example\") "
    .. props("unknown-mech"))
spf("permerror: '!' is no qualifier", { from = from("bad-qual") },
    "permerror (SPF record of bad-qual.example: expected a mechanism or a modifier: "
    .. "\"!ip4:192.0.2.10\") " .. props("bad-qual"))
spf("permerror: ip4 prefix /33", { from = from("bad-cidr") },
    "permerror (SPF record of bad-cidr.example: invalid prefix length: \"ip4:192.0.2.10/33\") "
    .. props("bad-cidr"))
spf("permerror: bad macro in an unknown modifier", { from = from("bad-macro") },
    "permerror (SPF record of bad-macro.example: '%' not followed by '{', '%', '_' or '-': "
    .. "\"moo=%d\") " .. props("bad-macro"))
spf("permerror: redirect= twice", { from = from("two-redirect") },
    "permerror (SPF record of two-redirect.example: redirect= given twice: "
    .. "\"redirect=fail.example\") " .. props("two-redirect"))
spf("permerror: exp= twice", { from = from("two-exp") },
    "permerror (SPF record of two-exp.example: exp= given twice: "
    .. "\"exp=why.expl.example\") " .. props("two-exp"))
spf("permerror: a domain without a top label", { from = from("no-tld") },
    "permerror (SPF record of no-tld.example: domain does not end in a valid top label: "
    .. "\"a:localhost\") " .. props("no-tld"))

-- mechanisms and modifiers
spf("include: pass", { from = from("include") }, "pass " .. props("include"))
spf("include: fail of the included record is no match", { from = from("include"),
    ip = "198.51.100.7" }, "fail " .. props("include"))
spf("include of a domain without SPF: permerror", { from = from("include-none") },
    "permerror (include or redirect target nospf.example has no SPF record) " .. props("include-none"))
spf("redirect=: pass", { from = from("redirect") }, "pass " .. props("redirect"))
spf("redirect= ignored beside -all", { from = from("redirect-all") },
    "fail " .. props("redirect-all"))
spf("redirect= runs after the mechanisms, wherever it stands", { from = from("redirect-mid") },
    "pass " .. props("redirect-mid"))
spf("a: pass", { from = from("a") }, "pass " .. props("a"))
spf("a:domain/24: pass", { from = from("a-other") }, "pass " .. props("a-other"))
spf("a: client not in it fails", { from = from("a"), ip = "198.51.100.7" }, "fail " .. props("a"))
spf("mx: the second MX host", { from = from("mx") }, "pass " .. props("mx"))
-- (libunbound answers the reverse zones of the documentation networks
-- itself, so the ptr client is 192.88.99.10)
spf("ptr: validated reverse name", { from = from("ptr"), ip = "192.88.99.10" },
    "pass " .. props("ptr"))
spf("ptr: 11 reverse names, none validated: fail (the rest past 10 ignored, not permerror)",
    { from = from("ptr11"), ip = "192.88.99.11" }, "fail " .. props("ptr11"))
spf("ptr: no reverse name", { from = from("ptr"), ip = "198.51.100.7" }, "fail " .. props("ptr"))
spf("exists: with %{i}", { from = from("exists") }, "pass " .. props("exists"))
spf("ip4:0.0.0.0/0 matches every IPv4 client", { from = from("zero") }, "fail " .. props("zero"))

-- the lookup limits, counted over includes too (RFC 7208 4.6.4)
spf("10 includes deep: pass", { from = from("chain10") }, "pass " .. props("chain10"))
spf("11 includes deep: permerror", { from = from("chain11") },
    "permerror (more than 10 DNS lookups) " .. props("chain11"))
spf("10 a: terms in one record: no match, then ip4: pass", { from = from("flat10") },
    "pass " .. props("flat10"))
spf("11 a: terms in one record: permerror", { from = from("flat11") },
    "permerror (more than 10 DNS lookups) " .. props("flat11"))
spf("include loop: permerror", { from = from("loop-a") },
    "permerror (more than 10 DNS lookups) " .. props("loop-a"))
spf("2 void lookups: pass", { from = from("void2") }, "pass " .. props("void2"))
spf("3 void lookups: permerror", { from = from("void3") },
    "permerror (more than 2 void DNS lookups) " .. props("void3"))

-- explanations: fail only, expanded, from the record that failed
spf("exp=: the explanation of a fail, macros expanded", { from = from("expl") },
    "fail (192.0.2.10 is not one of expl.example's designated mail servers.) " .. props("expl"))
spf("exp= after redirect= is the target's, with its domain", { from = from("redirect-expl") },
    "fail (192.0.2.10 is not one of expl.example's designated mail servers.) "
    .. props("redirect-expl"))
spf("exp= on softfail: no explanation", { from = from("soft-expl") },
    "softfail " .. props("soft-expl"))

-- clients and identities
spf("IPv6 client in ip6:", { from = from("pass"), ip = "2001:db8::25" }, "pass " .. props("pass"))
spf("IPv6 client, a: uses AAAA", { from = from("a"), ip = "2001:db8::25" }, "pass " .. props("a"))
spf("IPv6 client not designated", { from = from("pass"), ip = "2001:db9::1" },
    "fail " .. props("pass"))
spf("IPv4-mapped IPv6 client is checked as IPv4", { from = from("pass"),
    ip = "::ffff:192.0.2.10" }, "pass " .. props("pass"))
spf("null sender: postmaster@HELO", { from = "<>", helo = "helo.example" },
    "pass smtp.mailfrom=postmaster@helo.example smtp.helo=helo.example")
spf("null sender: HELO not designated", { from = "<>", helo = "helo.example",
    ip = "198.51.100.7" }, "fail smtp.mailfrom=postmaster@helo.example smtp.helo=helo.example")
spf("null sender, HELO an address literal: none", { from = "<>", helo = "[192.0.2.10]" },
    "none (null sender and the HELO is not a domain name) smtp.helo=[192.0.2.10]")

case("spf: a trusted client is not checked", function()
	local conn, eom = send({ from = from("fail"), ip = "127.0.0.1", qid = "SPFTR" })
	eq("EOM reply", "SMFIR_CONTINUE", eom)
	authres(conn, nil)
	log_expect({ qid = "SPFTR", nrcpt = "1" }, { spf = false })
end)
