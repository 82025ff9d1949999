/*
 * test_spf - the SPF check without a DNS server: RFC 7208 record
 * syntax and the rewriting for libspf2, macro expansion (RFC 7208 7.4
 * examples), identity selection, IPv4-mapped clients, the mapping of
 * libspf2's results, and the check's paths that need no lookup.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <check.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spf2/spf.h>
#include <unbound.h>

#include "checks/check.h"
#include "checks/spf.h"
#include "config.h"
#include "dns.h"
#include "session.h"
#include "util/addr.h"
#include "util/arena.h"
#include "util/cidr.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "runner.h"

/* ------------------------------------------------------------ records */

static const struct record_case {
	const char *record;
	int family;
	const char *text;	/* rewritten for libspf2; NULL: invalid */
	const char *error;	/* a part of the error message */
} record_cases[] = {
	/* valid, passed on as they are */
	{ "v=spf1", AF_INET, "v=spf1", NULL },
	{ "v=spf1 ", AF_INET, "v=spf1", NULL },
	{ "v=spf1  -all  ", AF_INET, "v=spf1 -all", NULL },
	{ "V=SPF1 +A -ALL", AF_INET, "v=spf1 +A -ALL", NULL },
	{ "v=spf1 a mx ptr -all", AF_INET, "v=spf1 a mx ptr -all", NULL },
	{ "v=spf1 a:mail.example.org/24//64 ~all", AF_INET,
	  "v=spf1 a:mail.example.org/24//64 ~all", NULL },
	{ "v=spf1 a/24 mx//64 ?all", AF_INET, "v=spf1 a/24 mx//64 ?all", NULL },
	{ "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ip6:::ffff:1.2.3.4 -all", AF_INET,
	  "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ip6:::ffff:1.2.3.4 -all", NULL },
	{ "v=spf1 include:_spf.example.com exists:%{ir}.%{l1r+-}._spf.%{d} -all", AF_INET,
	  "v=spf1 include:_spf.example.com exists:%{ir}.%{l1r+-}._spf.%{d} -all", NULL },
	{ "v=spf1 include:example.com. -all", AF_INET, "v=spf1 include:example.com. -all", NULL },
	{ "v=spf1 a:%{d}.%{d2} -all", AF_INET, "v=spf1 a:%{d}.%{d2} -all", NULL },
	{ "v=spf1 a:foo-bar.123-4 -all", AF_INET, "v=spf1 a:foo-bar.123-4 -all", NULL },
	/* exp= and unknown modifiers are not for libspf2 */
	{ "v=spf1 -all exp=explain.example.com", AF_INET, "v=spf1 -all", NULL },
	{ "v=spf1 -all moo=%{d}.x foo.bar_baz-1=", AF_INET, "v=spf1 -all", NULL },
	{ "v=spf1 -all unknown=%{c}%{r}%{t}", AF_INET, "v=spf1 -all", NULL },
	/* redirect= goes last, and not at all beside "all" */
	{ "v=spf1 redirect=_spf.example.com a", AF_INET,
	  "v=spf1 a redirect=_spf.example.com", NULL },
	{ "v=spf1 Redirect=_spf.example.com ?all", AF_INET, "v=spf1 ?all", NULL },
	/* ip4:/0 and ip6:/0: "all" for their family, gone for the other */
	{ "v=spf1 -ip4:0.0.0.0/0 +all", AF_INET, "v=spf1 -all +all", NULL },
	{ "v=spf1 -ip4:0.0.0.0/0 +all", AF_INET6, "v=spf1 +all", NULL },
	{ "v=spf1 ip6:::/0 -all", AF_INET6, "v=spf1 all -all", NULL },
	{ "v=spf1 ip6:::/0 -all", AF_INET, "v=spf1 -all", NULL },
	/* not a record */
	{ "v=spf10 -all", AF_INET, NULL, "not an SPF record" },
	{ "spf1 -all", AF_INET, NULL, "not an SPF record" },
	{ " v=spf1 -all", AF_INET, NULL, "not an SPF record" },
	/* invalid: permerror where libspf2 would go on */
	{ "v=spf1 foo -all", AF_INET, NULL, "unknown mechanism: \"foo\"" },
	{ "v=spf1 ip4:192.0.2.1 foo:bar.example -all", AF_INET, NULL, "unknown mechanism" },
	{ "v=spf1 !a -all", AF_INET, NULL, "expected a mechanism or a modifier" },
	{ "v=spf1 ^all", AF_INET, NULL, "expected a mechanism or a modifier" },
	{ "v=spf1 --all", AF_INET, NULL, "expected a mechanism or a modifier" },
	{ "v=spf1 -all\t", AF_INET, NULL, "unexpected text after \"all\"" },
	{ "v=spf1 all:foo.example", AF_INET, NULL, "unexpected text after \"all\"" },
	{ "v=spf1 -redirect=a.example", AF_INET, NULL, "cannot have a qualifier" },
	{ "v=spf1 redirect=a.example redirect=b.example", AF_INET, NULL, "redirect= given twice" },
	{ "v=spf1 exp=a.example EXP=b.example -all", AF_INET, NULL, "exp= given twice" },
	{ "v=spf1 redirect=", AF_INET, NULL, "empty domain" },
	{ "v=spf1 include -all", AF_INET, NULL, "expected ':' and a domain" },
	{ "v=spf1 include: -all", AF_INET, NULL, "empty domain" },
	{ "v=spf1 exists -all", AF_INET, NULL, "expected ':' and a domain" },
	{ "v=spf1 a:localhost -all", AF_INET, NULL, "valid top label" },
	{ "v=spf1 a:example.123 -all", AF_INET, NULL, "valid top label" },
	{ "v=spf1 a:example.-com -all", AF_INET, NULL, "valid top label" },
	{ "v=spf1 a:example.com/33 -all", AF_INET, NULL, "invalid prefix length" },
	{ "v=spf1 a//129 -all", AF_INET, NULL, "invalid prefix length" },
	{ "v=spf1 a/024 -all", AF_INET, NULL, "invalid prefix length" },
	{ "v=spf1 a/24/ -all", AF_INET, NULL, "expected ':', '/' or the end" },
	{ "v=spf1 mxx -all", AF_INET, NULL, "unknown mechanism" },
	{ "v=spf1 ptr/24 -all", AF_INET, NULL, "expected ':' or the end" },
	{ "v=spf1 ip4 -all", AF_INET, NULL, "expected ':' and an address" },
	{ "v=spf1 ip4:192.0.2.300 -all", AF_INET, NULL, "invalid IPv4 address" },
	{ "v=spf1 ip4:192.0.2 -all", AF_INET, NULL, "invalid IPv4 address" },
	{ "v=spf1 ip4:192.0.2.01 -all", AF_INET, NULL, "invalid IPv4 address" },
	{ "v=spf1 ip4:192.0.2.1/33 -all", AF_INET, NULL, "invalid prefix length" },
	{ "v=spf1 ip4:2001:db8::1 -all", AF_INET, NULL, "invalid IPv4 address" },
	{ "v=spf1 ip6:2001:db8::g -all", AF_INET, NULL, "invalid IPv6 address" },
	{ "v=spf1 ip6:2001:db8::/129 -all", AF_INET, NULL, "invalid prefix length" },
	{ "v=spf1 ip6:192.0.2.1 -all", AF_INET, NULL, "invalid IPv6 address" },
	{ "v=spf1 -all moo=%d", AF_INET, NULL, "'%' not followed by" },
	{ "v=spf1 exists:%{x}.example.com -all", AF_INET, NULL, "unknown macro letter" },
	{ "v=spf1 exists:%{c}.example.com -all", AF_INET, NULL, "unknown macro letter" },
	{ "v=spf1 exists:%{d0}.example.com -all", AF_INET, NULL, "macro transformer 0" },
	{ "v=spf1 exists:%{d.example.com -all", AF_INET, NULL, "unterminated macro" },
	{ "v=spf1 exists:%{d}% -all", AF_INET, NULL, "'%' at the end" },
	{ "v=spf1 a:ex\xc3\xa4mple.com -all", AF_INET, NULL, "invalid character" },
	{ "v=spf1 =foo", AF_INET, NULL, "expected a mechanism or a modifier" },
	{ "v=spf1 1a=foo", AF_INET, NULL, "expected a mechanism or a modifier" },
};

START_TEST(test_record)
{
	const struct record_case *c = &record_cases[_i];
	struct tg_arena *a = tg_arena_new();
	struct tg_spf_record rec;
	const char *err = NULL;
	int rc = tg_spf_record_parse(a, c->record, c->family, &rec, &err);

	if (c->text != NULL) {
		ck_assert_msg(rc == 0, "\"%s\": unexpected error %s", c->record, err);
		ck_assert_str_eq(rec.text, c->text);
	} else {
		ck_assert_msg(rc < 0, "\"%s\" accepted as \"%s\"", c->record, rec.text);
		ck_assert_msg(strstr(err, c->error) != NULL, "\"%s\": error \"%s\" lacks \"%s\"",
		    c->record, err, c->error);
	}
	tg_arena_free(&a);
}
END_TEST

START_TEST(test_record_modifiers)
{
	struct tg_arena *a = tg_arena_new();
	struct tg_spf_record rec;
	const char *err = NULL;

	ck_assert_int_eq(tg_spf_record_parse(a, "v=spf1 mx exp=%{d}.why.example redirect=x.example",
	    AF_INET, &rec, &err), 0);
	ck_assert_str_eq(rec.exp, "%{d}.why.example");
	ck_assert_str_eq(rec.redirect, "x.example");
	ck_assert(!rec.has_all);
	ck_assert_int_eq(tg_spf_record_parse(a, "v=spf1 ?ALL", AF_INET6, &rec, &err), 0);
	ck_assert_ptr_null(rec.exp);
	ck_assert_ptr_null(rec.redirect);
	ck_assert(rec.has_all);
	/* the error quotes the term, made printable */
	ck_assert_int_lt(tg_spf_record_parse(a, "v=spf1 a:\x01x.example", AF_INET, &rec, &err), 0);
	ck_assert_str_eq(err, "invalid character: \"a:\\x01x.example\"");
	tg_arena_free(&a);
}
END_TEST

static const struct is_record_case {
	const char *text;
	bool yes;
} is_record_cases[] = {
	{ "v=spf1", true }, { "v=spf1 -all", true }, { "V=Spf1 a", true },
	{ "v=spf1-all", false }, { "v=spf10", false }, { "v=spf2.0/pra", false },
	{ "", false }, { "v=spf", false }, { " v=spf1", false },
};

START_TEST(test_is_record)
{
	const struct is_record_case *c = &is_record_cases[_i];

	ck_assert_msg(tg_spf_is_record(c->text) == c->yes, "\"%s\"", c->text);
}
END_TEST

static const struct spec_case {
	const char *spec;
	bool ok;
} spec_cases[] = {
	{ "example.com", true }, { "example.com.", true }, { "_spf.example.com", true },
	{ "%{d}", true }, { "%{ir}.%{v}._spf.%{d2}", true }, { "x.%-", true },
	{ "a.b-c", true }, { "a.1-2", true }, { "a.x1", true },
	{ "", false }, { "com", false }, { "example.com..", false }, { "example.123", false },
	{ "example.-com", false }, { "example.com-", false }, { "%{d}com", false },
	{ "example.com/24", false }, { "%{t}.example.com", false }, { "ex ample.com", false },
};

START_TEST(test_domain_spec)
{
	const struct spec_case *c = &spec_cases[_i];

	ck_assert_msg(tg_spf_domain_spec_ok(c->spec) == c->ok, "\"%s\" should%s be valid",
	    c->spec, c->ok ? "" : " not");
}
END_TEST

/* ------------------------------------------------------------ macros */

static const struct macro_case {
	const char *in;
	bool v6, exp;
	const char *out;	/* NULL: an error */
} macro_cases[] = {
	/* RFC 7208 7.4 */
	{ "%{s}", false, false, "strong-bad@email.example.com" },
	{ "%{o}", false, false, "email.example.com" },
	{ "%{d}", false, false, "email.example.com" },
	{ "%{d4}", false, false, "email.example.com" },
	{ "%{d3}", false, false, "email.example.com" },
	{ "%{d2}", false, false, "example.com" },
	{ "%{d1}", false, false, "com" },
	{ "%{dr}", false, false, "com.example.email" },
	{ "%{d2r}", false, false, "example.email" },
	{ "%{l}", false, false, "strong-bad" },
	{ "%{l-}", false, false, "strong.bad" },
	{ "%{lr}", false, false, "strong-bad" },
	{ "%{lr-}", false, false, "bad.strong" },
	{ "%{l1r-}", false, false, "strong" },
	{ "%{ir}.%{v}._spf.%{d2}", false, false, "3.2.0.192.in-addr._spf.example.com" },
	{ "%{lr-}.lp._spf.%{d2}", false, false, "bad.strong.lp._spf.example.com" },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", false, false,
	  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", false, false,
	  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
	{ "%{d2}.trusted-domains.example.net", false, false,
	  "example.com.trusted-domains.example.net" },
	{ "%{ir}.%{v}._spf.%{d2}", true, false,
	  "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com" },
	/* escapes, URL encoding, several delimiters */
	{ "%%%_%-", false, false, "% %20" },
	{ "%{S}", false, false, "strong-bad%40email.example.com" },
	{ "%{l+-}", false, false, "strong.bad" },
	{ "%{h}", false, false, "mx.email.example.com" },
	{ "%{p}", false, false, "unknown" },
	/* explain-string: SP and c, r, t */
	{ "%{i} is not one of %{d}'s designated mail servers.", false, true,
	  "192.0.2.3 is not one of email.example.com's designated mail servers." },
	{ "%{c} at %{r} at %{t}", true, true,
	  "2001:db8::cb01 at mx.example.org at 1234567890" },
	{ "%{C}", true, true, "2001%3Adb8%3A%3Acb01" },
	/* errors */
	{ "%{c}", false, false, NULL },
	{ "a b", false, false, NULL },
	{ "%{d0}", false, false, NULL },
	{ "%{q}", false, true, NULL },
	{ "%x", false, true, NULL },
	{ "%{d", false, true, NULL },
	{ "%", false, true, NULL },
};

START_TEST(test_macro)
{
	const struct macro_case *c = &macro_cases[_i];
	struct tg_ip ip;
	struct tg_strbuf out = { 0 };
	struct tg_spf_macro_ctx ctx = {
		.sender = "strong-bad@email.example.com", .local = "strong-bad",
		.sender_domain = "email.example.com", .domain = "email.example.com",
		.helo = "mx.email.example.com", .receiver = "mx.example.org", .ip = &ip,
		.now = 1234567890,
	};
	const char *err;

	ck_assert_int_eq(tg_ip_parse(c->v6 ? "2001:db8::cb01" : "192.0.2.3", &ip), 0);
	err = tg_spf_expand(c->in, c->exp, &ctx, &out);
	if (c->out == NULL)
		ck_assert_msg(err != NULL, "\"%s\" expanded to \"%s\"", c->in, tg_strbuf_str(&out));
	else {
		ck_assert_msg(err == NULL, "\"%s\": %s", c->in, err);
		ck_assert_str_eq(tg_strbuf_str(&out), c->out);
	}
	tg_strbuf_free(&out);
}
END_TEST

/* ------------------------------------------------------------ identity */

static const struct helo_case {
	const char *helo;
	bool domain;
} helo_cases[] = {
	{ "mx.example.org", true }, { "MX.Example.ORG.", true }, { "a-b.c_d.example", true },
	{ "[192.0.2.1]", false }, { "[IPv6:2001:db8::1]", false }, { "192.0.2.1", false },
	{ "localhost", false }, { "example.123", false }, { "bad name.example", false },
	{ "", false }, { "x..example", false },
};

START_TEST(test_helo_is_domain)
{
	const struct helo_case *c = &helo_cases[_i];

	ck_assert_msg(tg_spf_helo_is_domain(c->helo) == c->domain, "\"%s\"", c->helo);
}
END_TEST

static const struct identity_case {
	const char *sender;	/* NULL: unparsable */
	const char *helo;
	const char *id_sender, *id_domain;	/* NULL: no identity */
	bool helo_identity;
	const char *why;
} identity_cases[] = {
	{ "<user@Example.ORG>", "mx.example.net", "user@example.org", "example.org", false, NULL },
	{ "<\"a b\"@example.org>", NULL, "a b@example.org", "example.org", false, NULL },
	{ "<>", "mx.example.net", "postmaster@mx.example.net", "mx.example.net", true, NULL },
	{ "<>", "[192.0.2.1]", NULL, NULL, false, "the HELO is not a domain name" },
	{ "<>", NULL, NULL, NULL, false, "null sender and no HELO" },
	{ "<user>", "mx.example.net", NULL, NULL, false, "sender without a domain" },
	{ NULL, "mx.example.net", NULL, NULL, false, "unparsable sender" },
};

START_TEST(test_identity)
{
	const struct identity_case *c = &identity_cases[_i];
	struct tg_arena *a = tg_arena_new();
	struct tg_addr addr = { 0 };
	struct tg_spf_identity id;
	const char *why = NULL, *perr;
	bool ok = c->sender != NULL && tg_addr_parse(a, c->sender, &addr, &perr) == 0;
	int rc = tg_spf_identity(a, &addr, ok, c->helo, &id, &why);

	if (c->id_sender != NULL) {
		ck_assert_msg(rc == 0, "%s: %s", c->sender, why);
		ck_assert_str_eq(id.sender, c->id_sender);
		ck_assert_str_eq(id.domain, c->id_domain);
		ck_assert(id.helo == c->helo_identity);
	} else {
		ck_assert_int_lt(rc, 0);
		ck_assert_msg(strstr(why, c->why) != NULL, "\"%s\" lacks \"%s\"", why, c->why);
	}
	tg_arena_free(&a);
}
END_TEST

START_TEST(test_client_ip)
{
	struct tg_ip in, out;

	/* a v4-mapped address as it would come in a sockaddr_in6 */
	memset(&in, 0, sizeof(in));
	in.family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:192.0.2.10", in.a), 1);
	tg_spf_client_ip(&in, &out);
	ck_assert_int_eq(out.family, AF_INET);
	ck_assert_mem_eq(out.a, "\xc0\x00\x02\x0a", 4);
	/* the text form parses the same way */
	ck_assert_int_eq(tg_ip_parse("::ffff:192.0.2.10", &in), 0);
	tg_spf_client_ip(&in, &out);
	ck_assert_int_eq(out.family, AF_INET);
	ck_assert_mem_eq(out.a, "\xc0\x00\x02\x0a", 4);
	/* other IPv6 addresses stay, v4-compatible ones too */
	ck_assert_int_eq(tg_ip_parse("2001:db8::ffff:c000:20a", &in), 0);
	tg_spf_client_ip(&in, &out);
	ck_assert_int_eq(out.family, AF_INET6);
	ck_assert_mem_eq(out.a, in.a, 16);
	memset(&in, 0, sizeof(in));
	in.family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "::192.0.2.10", in.a), 1);
	tg_spf_client_ip(&in, &out);
	ck_assert_int_eq(out.family, AF_INET6);
	ck_assert_int_eq(tg_ip_parse("192.0.2.10", &in), 0);
	tg_spf_client_ip(&in, &out);
	ck_assert_int_eq(out.family, AF_INET);
	ck_assert_mem_eq(out.a, in.a, 4);
}
END_TEST

static const struct map_case {
	int spf;
	bool dns;
	enum tg_outcome want;
} map_cases[] = {
	{ SPF_RESULT_PASS, false, TG_PASS },
	{ SPF_RESULT_FAIL, false, TG_FAIL },
	{ SPF_RESULT_SOFTFAIL, false, TG_SOFTFAIL },
	{ SPF_RESULT_NEUTRAL, false, TG_NEUTRAL },
	{ SPF_RESULT_NONE, false, TG_NONE },
	{ SPF_RESULT_PERMERROR, false, TG_PERMERROR },
	{ SPF_RESULT_PERMERROR, true, TG_PERMERROR },
	{ SPF_RESULT_TEMPERROR, true, TG_TEMPERROR },
	{ SPF_RESULT_TEMPERROR, false, TG_PERMERROR },	/* e.g. a bad macro in exists: */
	{ SPF_RESULT_INVALID, true, TG_TEMPERROR },
	{ SPF_RESULT_INVALID, false, TG_PERMERROR },
	{ SPF_RESULT_PASS, true, TG_PASS },	/* a failed %{p} lookup changes nothing */
};

START_TEST(test_map)
{
	const struct map_case *c = &map_cases[_i];

	ck_assert_int_eq(tg_spf_map(c->spf, c->dns), c->want);
}
END_TEST

/* ------------------------------------------------------------ the check */

/* config - the check's settings plus extra; a nameserver nobody
   answers on: no case here may ask DNS */
static struct tg_config *
config(const char *extra)
{
	return tg_test_config(NULL, "PolicyFile /dev/null\nLocalDomains example.org\n"
	    "AuthservID mx.example.org\nNameservers 127.0.0.1@9\nDNSTimeout 1s\n"
	    "CheckTimeout 1s\nTrustedNetworks 127.0.0.0/8\n%s", extra);
}

/* run - the spf check at MAIL FROM for one message */
static const struct tg_result *
run(struct tg_config *cfg, struct tg_conn **connp, const char *ip, const char *helo,
    const char *sender)
{
	struct tg_conn *conn;
	struct tg_msg *msg;
	struct tg_ip addr;
	const char *err;
	size_t i;

	cfg->refs++;		/* the connection's reference (one thread here) */
	conn = tg_conn_new(cfg, 1);
	if (ip != NULL) {
		ck_assert_int_eq(tg_ip_parse(ip, &addr), 0);
		tg_conn_set_ip(conn, &addr);
	}
	conn->helo = helo ? xstrdup(helo) : NULL;
	msg = tg_msg_new(conn);
	msg->sender_raw = sender ? sender : "<<junk>>";
	msg->sender_ok = sender != NULL
	    && tg_addr_parse(msg->arena, sender, &msg->sender, &err) == 0;
	for (i = 0; tg_checks[i] != &tg_check_spf; i++)
		ck_assert_ptr_nonnull(tg_checks[i]);
	ck_assert_ptr_nonnull(cfg->check_global[i]);
	tg_check_spf.on_phase(cfg->check_global[i], msg, TG_PH_MAIL, NULL);
	*connp = conn;
	return tg_msg_result(msg, "spf");
}

START_TEST(test_check_without_dns)
{
	struct tg_config *cfg = config("");
	struct tg_conn *conn;
	const struct tg_result *r;

	/* null sender, HELO an address literal: none, nothing asked */
	r = run(cfg, &conn, "192.0.2.10", "[192.0.2.10]", "<>");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->outcome, TG_NONE);
	ck_assert_int_eq(r->phase, TG_PH_MAIL);
	ck_assert_str_eq(r->reason, "null sender and the HELO is not a domain name");
	ck_assert_str_eq(r->props, "smtp.helo=[192.0.2.10]");
	ck_assert_ptr_null(r->domain);
	ck_assert(!r->internal);
	tg_conn_free(&conn);

	/* a malformed sender domain: check_host() says none without DNS;
	   this goes through libspf2 and our get_spf hook */
	r = run(cfg, &conn, "192.0.2.10", "mx.example.net", "<user@localhost>");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->outcome, TG_NONE);
	ck_assert_ptr_null(r->reason);
	ck_assert_str_eq(r->domain, "localhost");
	ck_assert_str_eq(r->props, "smtp.mailfrom=user@localhost smtp.helo=mx.example.net");
	tg_conn_free(&conn);

	/* an odd local part is left out of smtp.mailfrom, a bad HELO too */
	r = run(cfg, &conn, "192.0.2.10", "bad (helo)", "<\"a;b\"@localhost>");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->props, "smtp.mailfrom=localhost");
	tg_conn_free(&conn);

	/* the client address unknown: none */
	r = run(cfg, &conn, NULL, "mx.example.net", "<user@example.net>");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->outcome, TG_NONE);
	ck_assert_str_eq(r->reason, "client address unknown");
	tg_conn_free(&conn);

	/* unparsable sender */
	r = run(cfg, &conn, "192.0.2.10", "mx.example.net", NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->outcome, TG_NONE);
	ck_assert_str_eq(r->reason, "unparsable sender");
	tg_conn_free(&conn);

	/* a trusted client is not checked */
	r = run(cfg, &conn, "127.0.0.1", "mx.example.net", "<user@localhost>");
	ck_assert_ptr_null(r);
	tg_conn_free(&conn);
	tg_config_release(&cfg);
}
END_TEST

START_TEST(test_check_trusted_clients)
{
	struct tg_config *cfg = config("CheckTrustedClients yes\n");
	struct tg_conn *conn;
	const struct tg_result *r;

	r = run(cfg, &conn, "127.0.0.1", "mx.example.net", "<user@localhost>");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->outcome, TG_NONE);
	tg_conn_free(&conn);
	tg_config_release(&cfg);
}
END_TEST

START_TEST(test_check_dns_down)
{
	struct tg_config *cfg = config("");
	struct tg_conn *conn;
	const struct tg_result *r;

	/* nothing answers on 127.0.0.1@9: temperror with the lookup named,
	   not an internal error */
	r = run(cfg, &conn, "192.0.2.10", "mx.example.net", "<user@example.net>");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->outcome, TG_TEMPERROR);
	ck_assert_msg(strstr(r->reason, "looking up TXT example.net") != NULL, "%s", r->reason);
	ck_assert(!r->internal);
	ck_assert_str_eq(r->domain, "example.net");
	tg_conn_free(&conn);
	tg_config_release(&cfg);
}
END_TEST

/* hook_txt - tg_dns_hook answering every TXT query with hook_record */
static const char *hook_record;

static struct ub_result *
hook_txt(const char *name, int type)
{
	struct ub_result *res = xcalloc(1, sizeof(*res));
	size_t len = strlen(hook_record), o = 0;
	char *rd = xmalloc(len + len / 255 + 2);

	res->qname = xstrdup(name);
	res->qtype = type;
	res->qclass = 1;
	res->data = xcalloc(2, sizeof(char *));
	res->len = xcalloc(2, sizeof(int));
	if (type != 16) {
		res->rcode = 3;		/* NXDOMAIN for anything else */
		res->nxdomain = 1;
		free(rd);
		return res;
	}
	for (size_t used = 0; used < len;) {	/* character-strings of 255 */
		size_t c = len - used > 255 ? 255 : len - used;

		rd[o++] = (char)c;
		memcpy(rd + o, hook_record + used, c);
		o += c;
		used += c;
	}
	res->data[0] = rd;
	res->len[0] = (int)o;
	res->havedata = 1;
	return res;
}

START_TEST(test_check_record_too_large_for_libspf2)
{
	struct tg_config *cfg = config("");
	struct tg_strbuf rec = { 0 };
	struct tg_conn *conn;
	const struct tg_result *r;

	/* libspf2 silently keeps only ~512 bytes of compiled mechanisms:
	   64 ip4: and a final -all lost the -all (neutral instead of fail) */
	tg_strbuf_append(&rec, "v=spf1");
	for (int i = 1; i <= 64; i++)
		tg_strbuf_printf(&rec, " ip4:10.0.0.%d", i);
	tg_strbuf_append(&rec, " -all");
	hook_record = tg_strbuf_str(&rec);
	tg_dns_hook = hook_txt;
	r = run(cfg, &conn, "192.0.2.10", "mx.example.net", "<user@example.net>");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->outcome, TG_PERMERROR);
	ck_assert_msg(strstr(r->reason, "65 mechanisms, too large for libspf2") != NULL,
	    "%s", r->reason);
	tg_conn_free(&conn);

	/* one less fits: the -all is there, so fail */
	tg_strbuf_truncate(&rec, 0);
	tg_strbuf_append(&rec, "v=spf1");
	for (int i = 1; i <= 63; i++)
		tg_strbuf_printf(&rec, " ip4:10.0.0.%d", i);
	tg_strbuf_append(&rec, " -all exp=why.example");
	hook_record = tg_strbuf_str(&rec);
	r = run(cfg, &conn, "192.0.2.10", "mx.example.net", "<user@example.net>");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->outcome, TG_FAIL);
	tg_conn_free(&conn);
	tg_dns_hook = NULL;
	tg_strbuf_free(&rec);
	tg_config_release(&cfg);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spf");
	TCase *tc = tg_test_tcase(s, "spf");

	tcase_set_timeout(tc, 30);
	TG_LOOP_TEST(tc, test_record, record_cases);
	tcase_add_test(tc, test_record_modifiers);
	TG_LOOP_TEST(tc, test_is_record, is_record_cases);
	TG_LOOP_TEST(tc, test_domain_spec, spec_cases);
	TG_LOOP_TEST(tc, test_macro, macro_cases);
	TG_LOOP_TEST(tc, test_helo_is_domain, helo_cases);
	TG_LOOP_TEST(tc, test_identity, identity_cases);
	tcase_add_test(tc, test_client_ip);
	TG_LOOP_TEST(tc, test_map, map_cases);
	tcase_add_test(tc, test_check_without_dns);
	tcase_add_test(tc, test_check_trusted_clients);
	tcase_add_test(tc, test_check_dns_down);
	tcase_add_test(tc, test_check_record_too_large_for_libspf2);
	return tg_test_run(s);
}
