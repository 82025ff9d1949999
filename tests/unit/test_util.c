/*
 * test_util - the mail-agnostic helpers in src/util: CIDR parsing and
 * matching, envelope address parsing (and the routing tricks hidden
 * in it), string lists, escaping of network text, strbuf, arena and
 * xmalloc. Every assertion is on an exact output.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "util/addr.h"
#include "util/arena.h"
#include "util/cidr.h"
#include "util/strbuf.h"
#include "util/strlist.h"
#include "util/text.h"
#include "util/xmalloc.h"

#include "runner.h"

/* fmt_ip - text form of an address, for messages and comparisons */
static const char *
fmt_ip(const struct tg_ip *ip)
{
	static char buf[INET6_ADDRSTRLEN];

	tg_ip_format(ip, buf, sizeof(buf));
	return buf;
}

/* ---- cidr: addresses ------------------------------------------------ */

static const struct ip_case {
	const char *in;
	int family;		/* 0 = parse error */
	const char *text;	/* tg_ip_format of the result */
} ip_cases[] = {
	{ "192.0.2.7", AF_INET, "192.0.2.7" },
	{ "[192.0.2.7]", AF_INET, "192.0.2.7" },
	{ "0.0.0.0", AF_INET, "0.0.0.0" },
	{ "255.255.255.255", AF_INET, "255.255.255.255" },
	{ "2001:db8::1", AF_INET6, "2001:db8::1" },
	{ "2001:DB8:0:0:0:0:0:1", AF_INET6, "2001:db8::1" },
	{ "[IPv6:2001:db8::1]", AF_INET6, "2001:db8::1" },
	{ "ipv6:2001:db8::1", AF_INET6, "2001:db8::1" },
	{ "::1", AF_INET6, "::1" },
	{ "::", AF_INET6, "::" },
	/* v4-mapped folds to v4 */
	{ "::ffff:192.0.2.7", AF_INET, "192.0.2.7" },
	{ "::FFFF:192.0.2.7", AF_INET, "192.0.2.7" },
	{ "[IPv6:::ffff:192.0.2.7]", AF_INET, "192.0.2.7" },
	{ "::ffff:c000:0207", AF_INET, "192.0.2.7" },
	/* v4-compatible (deprecated) and NAT64 are not mapped */
	{ "::192.0.2.7", AF_INET6, "::192.0.2.7" },
	{ "64:ff9b::192.0.2.7", AF_INET6, "64:ff9b::c000:207" },
	/* errors */
	{ "", 0, NULL },
	{ "[]", 0, NULL },
	{ "[", 0, NULL },
	{ "[192.0.2.7", 0, NULL },
	{ "192.0.2.7]", 0, NULL },
	{ "192.0.2", 0, NULL },
	{ "192.0.2.256", 0, NULL },
	{ "192.0.2.7 ", 0, NULL },
	{ " 192.0.2.7", 0, NULL },
	{ "192.0.2.7/32", 0, NULL },
	{ "2001:db8:::1", 0, NULL },
	{ "2001:db8::g", 0, NULL },
	{ "IPv6:192.0.2.7x", 0, NULL },
	{ "example.org", 0, NULL },
	{ "1234567890123456789012345678901234567890123456789012345678901234567890", 0, NULL },
};

START_TEST(ip_parse)
{
	const struct ip_case *c = &ip_cases[_i];
	struct tg_ip ip;
	int rc = tg_ip_parse(c->in, &ip);

	if (c->family == 0) {
		ck_assert_msg(rc == -1, "\"%s\" parsed", c->in);
		return;
	}
	ck_assert_msg(rc == 0, "\"%s\" rejected", c->in);
	ck_assert_int_eq(ip.family, c->family);
	ck_assert_str_eq(fmt_ip(&ip), c->text);
}
END_TEST

START_TEST(ip_parse_bytes)
{
	static const uint8_t v4[16] = { 192, 0, 2, 7 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0x01 };
	struct tg_ip ip;

	/* v4 and mapped v4 are byte-identical, unused bytes zero */
	memset(&ip, 0xaa, sizeof(ip));
	ck_assert_int_eq(tg_ip_parse("192.0.2.7", &ip), 0);
	ck_assert_int_eq(memcmp(ip.a, v4, 16), 0);
	memset(&ip, 0xaa, sizeof(ip));
	ck_assert_int_eq(tg_ip_parse("::ffff:192.0.2.7", &ip), 0);
	ck_assert_int_eq(ip.family, AF_INET);
	ck_assert_int_eq(memcmp(ip.a, v4, 16), 0);
	ck_assert_int_eq(tg_ip_parse("2001:db8::1", &ip), 0);
	ck_assert_int_eq(memcmp(ip.a, v6, 16), 0);
}
END_TEST

START_TEST(ip_from_sockaddr)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
	struct tg_ip ip;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, "198.51.100.9", &sin.sin_addr), 1);
	ck_assert_int_eq(tg_ip_from_sockaddr((struct sockaddr *)&sin, &ip), 0);
	ck_assert_int_eq(ip.family, AF_INET);
	ck_assert_str_eq(fmt_ip(&ip), "198.51.100.9");

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::25", &sin6.sin6_addr), 1);
	ck_assert_int_eq(tg_ip_from_sockaddr((struct sockaddr *)&sin6, &ip), 0);
	ck_assert_int_eq(ip.family, AF_INET6);
	ck_assert_str_eq(fmt_ip(&ip), "2001:db8::25");

	/* Postfix on a dual-stack socket reports v4 clients mapped */
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:198.51.100.9", &sin6.sin6_addr), 1);
	ck_assert_int_eq(tg_ip_from_sockaddr((struct sockaddr *)&sin6, &ip), 0);
	ck_assert_int_eq(ip.family, AF_INET);
	ck_assert_str_eq(fmt_ip(&ip), "198.51.100.9");

	ck_assert_int_eq(tg_ip_from_sockaddr(NULL, &ip), -1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_int_eq(tg_ip_from_sockaddr((struct sockaddr *)&sun, &ip), -1);
}
END_TEST

/* ---- cidr: networks ------------------------------------------------- */

static const struct cidr_case {
	const char *in;
	const char *error;	/* NULL = valid */
	int family;
	const char *net;	/* formatted network address */
	unsigned int prefix;	/* stored prefix (v4-mapped: minus 96) */
} cidr_cases[] = {
	{ "192.0.2.0/24", NULL, AF_INET, "192.0.2.0", 24 },
	{ "192.0.2.7", NULL, AF_INET, "192.0.2.7", 32 },
	{ "192.0.2.7/32", NULL, AF_INET, "192.0.2.7", 32 },
	{ "0.0.0.0/0", NULL, AF_INET, "0.0.0.0", 0 },
	{ "10.0.0.0/9", NULL, AF_INET, "10.0.0.0", 9 },
	{ "192.0.2.128/25", NULL, AF_INET, "192.0.2.128", 25 },
	{ "[192.0.2.0]/24", NULL, AF_INET, "192.0.2.0", 24 },
	{ "192.0.2.0/024", NULL, AF_INET, "192.0.2.0", 24 },
	{ "2001:db8::/32", NULL, AF_INET6, "2001:db8::", 32 },
	{ "2001:db8::1", NULL, AF_INET6, "2001:db8::1", 128 },
	{ "2001:db8::1/128", NULL, AF_INET6, "2001:db8::1", 128 },
	{ "2001:db8:8000::/33", NULL, AF_INET6, "2001:db8:8000::", 33 },
	{ "::/0", NULL, AF_INET6, "::", 0 },
	{ "::1/128", NULL, AF_INET6, "::1", 128 },
	/* a v4 network written v4-mapped: prefix counts from bit 96 */
	{ "::ffff:192.0.2.0/120", NULL, AF_INET, "192.0.2.0", 24 },
	{ "::ffff:192.0.2.7", NULL, AF_INET, "192.0.2.7", 32 },
	{ "::ffff:0.0.0.0/96", NULL, AF_INET, "0.0.0.0", 0 },
	/* host bits beyond the prefix */
	{ "192.0.2.1/24", "address has bits set beyond the prefix length", 0, NULL, 0 },
	{ "192.0.2.1/0", "address has bits set beyond the prefix length", 0, NULL, 0 },
	{ "192.0.2.129/25", "address has bits set beyond the prefix length", 0, NULL, 0 },
	{ "10.128.0.0/8", "address has bits set beyond the prefix length", 0, NULL, 0 },
	{ "2001:db8::1/127", "address has bits set beyond the prefix length", 0, NULL, 0 },
	{ "2001:db8::/16", "address has bits set beyond the prefix length", 0, NULL, 0 },
	{ "::ffff:192.0.2.1/120", "address has bits set beyond the prefix length", 0, NULL, 0 },
	/* prefixes */
	{ "192.0.2.0/33", "expected a prefix length 0-32", 0, NULL, 0 },
	{ "192.0.2.0/24x", "expected a prefix length 0-32", 0, NULL, 0 },
	{ "192.0.2.0/24/8", "expected a prefix length 0-32", 0, NULL, 0 },
	{ "192.0.2.0/99999999999999999999999", "expected a prefix length 0-32", 0, NULL, 0 },
	{ "2001:db8::/129", "expected a prefix length 0-128", 0, NULL, 0 },
	{ "::ffff:192.0.2.0/129", "expected a prefix length 0-128", 0, NULL, 0 },
	{ "192.0.2.0/", "expected a prefix length after '/'", 0, NULL, 0 },
	{ "192.0.2.0/x", "expected a prefix length after '/'", 0, NULL, 0 },
	{ "192.0.2.0/-1", "expected a prefix length after '/'", 0, NULL, 0 },
	{ "192.0.2.0/+8", "expected a prefix length after '/'", 0, NULL, 0 },
	{ "192.0.2.0/ 8", "expected a prefix length after '/'", 0, NULL, 0 },
	{ "::ffff:192.0.2.0/64", "IPv4-mapped network prefix must be at least 96", 0, NULL, 0 },
	/* addresses */
	{ "", "expected an IPv4 or IPv6 address", 0, NULL, 0 },
	{ "/24", "expected an IPv4 or IPv6 address", 0, NULL, 0 },
	{ "example.org/24", "expected an IPv4 or IPv6 address", 0, NULL, 0 },
	{ "192.0.2/24", "expected an IPv4 or IPv6 address", 0, NULL, 0 },
	{ "192.0.2.0 /24", "expected an IPv4 or IPv6 address", 0, NULL, 0 },
	{ "1234567890123456789012345678901234567890123456789012345678901234567890/8",
	  "expected an IPv4 or IPv6 address", 0, NULL, 0 },
};

START_TEST(cidr_parse)
{
	const struct cidr_case *c = &cidr_cases[_i];
	struct tg_cidr cidr;
	const char *err = NULL;
	int rc = tg_cidr_parse(c->in, &cidr, &err);

	if (c->error != NULL) {
		ck_assert_msg(rc == -1, "\"%s\" parsed", c->in);
		ck_assert_ptr_nonnull(err);
		ck_assert_str_eq(err, c->error);
		return;
	}
	ck_assert_msg(rc == 0, "\"%s\": %s", c->in, err ? err : "?");
	ck_assert_int_eq(cidr.net.family, c->family);
	ck_assert_str_eq(fmt_ip(&cidr.net), c->net);
	ck_assert_uint_eq(cidr.prefix, c->prefix);
}
END_TEST

static const struct contains_case {
	const char *net, *ip;
	bool in;
} contains_cases[] = {
	{ "192.0.2.0/24", "192.0.2.0", true },
	{ "192.0.2.0/24", "192.0.2.255", true },
	{ "192.0.2.0/24", "192.0.3.0", false },
	{ "192.0.2.0/24", "192.0.1.255", false },
	{ "192.0.2.0/24", "::ffff:192.0.2.9", true },
	{ "192.0.2.0/24", "2001:db8::c000:209", false },
	{ "192.0.2.7", "192.0.2.7", true },
	{ "192.0.2.7/32", "192.0.2.6", false },
	{ "192.0.2.7/32", "192.0.2.8", false },
	{ "192.0.2.128/25", "192.0.2.200", true },
	{ "192.0.2.128/25", "192.0.2.127", false },
	{ "10.0.0.0/9", "10.127.255.255", true },
	{ "10.0.0.0/9", "10.128.0.0", false },
	{ "0.0.0.0/0", "198.51.100.1", true },
	{ "0.0.0.0/0", "255.255.255.255", true },
	{ "0.0.0.0/0", "::1", false },
	{ "0.0.0.0/0", "2001:db8::1", false },
	{ "2001:db8::/32", "2001:db8:ffff:ffff::1", true },
	{ "2001:db8::/32", "2001:db9::1", false },
	{ "2001:db8::/32", "192.0.2.1", false },
	{ "2001:db8:8000::/33", "2001:db8:ffff::1", true },
	{ "2001:db8:8000::/33", "2001:db8:7fff::1", false },
	{ "2001:db8::1/128", "2001:db8::1", true },
	{ "2001:db8::1/128", "2001:db8::2", false },
	{ "::/0", "2001:db8::1", true },
	{ "::/0", "::1", true },
	/* mapped clients are v4: a v6 catch-all does not see them */
	{ "::/0", "::ffff:192.0.2.1", false },
	{ "::/0", "192.0.2.1", false },
	{ "::ffff:192.0.2.0/120", "192.0.2.77", true },
	{ "::ffff:192.0.2.0/120", "::ffff:192.0.2.77", true },
	{ "::ffff:192.0.2.0/120", "192.0.3.77", false },
	{ "::ffff:0.0.0.0/96", "203.0.113.5", true },
};

START_TEST(cidr_contains)
{
	const struct contains_case *c = &contains_cases[_i];
	struct tg_cidr cidr;
	struct tg_ip ip;
	const char *err;

	ck_assert_msg(tg_cidr_parse(c->net, &cidr, &err) == 0, "%s", c->net);
	ck_assert_msg(tg_ip_parse(c->ip, &ip) == 0, "%s", c->ip);
	ck_assert_msg(tg_cidr_contains(&cidr, &ip) == c->in, "%s in %s: expected %s",
	    c->ip, c->net, c->in ? "true" : "false");
}
END_TEST

/* cidrlist_of - a list from a NULL-terminated array of networks */
static void
cidrlist_of(struct tg_cidrlist *l, const char *const *nets)
{
	struct tg_cidr c;
	const char *err;

	for (; *nets != NULL; nets++) {
		ck_assert_msg(tg_cidr_parse(*nets, &c, &err) == 0, "%s", *nets);
		tg_cidrlist_add(l, &c);
	}
}

/* in_list - ip (text) is in l */
static bool
in_list(const struct tg_cidrlist *l, const char *s)
{
	struct tg_ip ip;

	ck_assert_msg(tg_ip_parse(s, &ip) == 0, "%s", s);
	return tg_cidrlist_contains(l, &ip);
}

START_TEST(cidrlist_mixed_families)
{
	static const char *const nets[] = { "192.0.2.0/24", "2001:db8::/32",
		"::ffff:198.51.100.0/120", "127.0.0.1", "::1/128", NULL };
	struct tg_cidrlist l = { 0 };

	ck_assert(!in_list(&l, "192.0.2.1"));		/* empty list */
	ck_assert(!in_list(&l, "::1"));
	cidrlist_of(&l, nets);
	ck_assert_uint_eq(l.n, 5);
	ck_assert(in_list(&l, "192.0.2.1"));
	ck_assert(in_list(&l, "::ffff:192.0.2.1"));
	ck_assert(in_list(&l, "2001:db8::5"));
	ck_assert(in_list(&l, "198.51.100.9"));
	ck_assert(in_list(&l, "::ffff:198.51.100.9"));
	ck_assert(in_list(&l, "127.0.0.1"));
	ck_assert(in_list(&l, "::1"));
	ck_assert(!in_list(&l, "127.0.0.2"));
	ck_assert(!in_list(&l, "203.0.113.1"));
	ck_assert(!in_list(&l, "2001:db9::1"));
	ck_assert(!in_list(&l, "::2"));
	ck_assert(!in_list(&l, "::c000:201"));		/* v4-compatible, not mapped */
	tg_cidrlist_free(&l);
	ck_assert_ptr_null(l.v);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_uint_eq(l.cap, 0);
	ck_assert(!in_list(&l, "192.0.2.1"));
}
END_TEST

START_TEST(cidrlist_grows)
{
	struct tg_cidrlist l = { 0 };
	struct tg_cidr c;
	const char *err;
	char buf[64];
	int i;

	for (i = 0; i < 40; i++) {
		snprintf(buf, sizeof(buf), "10.%d.0.0/16", i * 2);
		ck_assert_int_eq(tg_cidr_parse(buf, &c, &err), 0);
		tg_cidrlist_add(&l, &c);
	}
	ck_assert_uint_eq(l.n, 40);
	ck_assert_uint_ge(l.cap, 40);
	for (i = 0; i < 80; i++) {
		snprintf(buf, sizeof(buf), "10.%d.1.2", i);
		ck_assert_msg(in_list(&l, buf) == (i % 2 == 0), "%s", buf);
	}
	tg_cidrlist_free(&l);
}
END_TEST

/* ---- addr ----------------------------------------------------------- */

/* collect - tg_addr_each_domain callback: domains joined by ',' */
static bool
collect(const char *domain, void *ctx)
{
	struct tg_strbuf *sb = ctx;

	if (sb->len > 0)
		tg_strbuf_addch(sb, ',');
	tg_strbuf_append(sb, domain);
	return true;
}

static const struct addr_case {
	const char *raw;
	bool null;
	const char *local, *domain;
	const char *route;	/* hops joined by ',' */
	const char *each;	/* tg_addr_each_domain, joined by ',' */
	bool hidden;
} addr_cases[] = {
	{ "<>", true, "", "", "", "", false },
	{ "", true, "", "", "", "", false },
	{ "  <>\t", true, "", "", "", "", false },
	{ "<user@example.org>", false, "user", "example.org", "", "example.org", false },
	{ "user@example.org", false, "user", "example.org", "", "example.org", false },
	{ " <user@example.org> ", false, "user", "example.org", "", "example.org", false },
	{ "<user@Example.ORG.>", false, "user", "example.org", "", "example.org", false },
	{ "<User.Name+tag@EXAMPLE.org>", false, "User.Name+tag", "example.org", "",
	  "example.org", false },
	{ "<postmaster>", false, "postmaster", "", "", "", false },
	{ "<user@[192.0.2.1]>", false, "user", "[192.0.2.1]", "", "[192.0.2.1]", false },
	/* source routes */
	{ "<@a.example:u@b.example>", false, "u", "b.example", "a.example",
	  "a.example,b.example", false },
	{ "<@A.Example,@b.example.:u@C.example>", false, "u", "c.example",
	  "a.example,b.example", "a.example,b.example,c.example", false },
	/* percent hack */
	{ "<user%other.example@local.example>", false, "user%other.example",
	  "local.example", "", "other.example,local.example", true },
	{ "<user%H1.example%h2.example.@local.example>", false,
	  "user%H1.example%h2.example.", "local.example", "",
	  "h1.example,h2.example,local.example", true },
	/* bang paths */
	{ "<host!user@local.example>", false, "host!user", "local.example", "",
	  "host,local.example", true },
	{ "<a.example!B.example!user@local.example>", false,
	  "a.example!B.example!user", "local.example", "",
	  "a.example,b.example,local.example", true },
	{ "<Host!User%Mid.Example@Local.Example>", false, "Host!User%Mid.Example",
	  "local.example", "", "host,mid.example,local.example", true },
	/* quoted local parts */
	{ "<\"a@evil.example\"@local.example>", false, "a@evil.example",
	  "local.example", "", "evil.example,local.example", true },
	{ "<\"john doe\"@example.org>", false, "john doe", "example.org", "",
	  "example.org", false },
	{ "<\"a\\\"b\\\\c\"@example.org>", false, "a\"b\\c", "example.org", "",
	  "example.org", false },
	{ "<\"quoted\">", false, "quoted", "", "", "", false },
	/* the last '@' of an unquoted local part separates the domain */
	{ "<a@evil.example@local.example>", false, "a@evil.example", "local.example",
	  "", "evil.example,local.example", true },
	/* all three tricks at once */
	{ "<@r.example:x.example!u%y.example@local.example>", false,
	  "x.example!u%y.example", "local.example", "r.example",
	  "r.example,x.example,y.example,local.example", true },
};

START_TEST(addr_parse)
{
	const struct addr_case *c = &addr_cases[_i];
	struct tg_arena *a = tg_arena_new();
	struct tg_strbuf sb = { 0 };
	struct tg_addr addr;
	const char *err = NULL;
	size_t i;

	ck_assert_msg(tg_addr_parse(a, c->raw, &addr, &err) == 0, "%s: %s", c->raw,
	    err ? err : "?");
	ck_assert_int_eq(addr.null, c->null);
	ck_assert_str_eq(addr.local, c->local);
	ck_assert_str_eq(addr.domain, c->domain);
	for (i = 0; i < addr.nroute; i++) {
		if (i > 0)
			tg_strbuf_addch(&sb, ',');
		tg_strbuf_append(&sb, addr.route[i]);
	}
	ck_assert_str_eq(tg_strbuf_str(&sb), c->route);
	tg_strbuf_truncate(&sb, 0);
	ck_assert(tg_addr_each_domain(a, &addr, collect, &sb));
	ck_assert_str_eq(tg_strbuf_str(&sb), c->each);
	ck_assert_int_eq(tg_addr_has_hidden_route(&addr), c->hidden);
	/* each_domain works on a copy: the parsed address is unchanged */
	ck_assert_str_eq(addr.local, c->local);
	tg_strbuf_free(&sb);
	tg_arena_free(&a);
}
END_TEST

static const struct addr_error {
	const char *raw, *error;
} addr_errors[] = {
	{ "<", "unbalanced '<'" },
	{ "<user@example.org", "unbalanced '<'" },
	{ "<user@example.org>x", "unbalanced '<'" },
	{ "user@example.org>", "control or bracket character in address" },
	{ "<a<b@example.org>", "control or bracket character in address" },
	{ "<<user@example.org>>", "control or bracket character in address" },
	{ "<user@exa\r\nmple.org>", "control or bracket character in address" },
	{ "<user@example.org\n>", "control or bracket character in address" },
	{ "<user@>", "empty domain after '@'" },
	{ "user@", "empty domain after '@'" },
	{ "<\"abc\"@>", "empty domain after '@'" },
	{ "<@a.example>", "malformed source route" },
	{ "<@>", "malformed source route" },
	{ "<@:u@b.example>", "malformed source route" },
	{ "<@a.example,b.example:u@c.example>", "malformed source route" },
	{ "<@a.example,:u@c.example>", "malformed source route" },
	{ "<@a.example:>", "malformed source route" },
	{ "<\"abc@example.org>", "unterminated quoted local part" },
	{ "<\"abc\\\">", "unterminated quoted local part" },
	{ "<\"abc\"x@example.org>", "expected '@' after quoted local part" },
};

START_TEST(addr_parse_errors)
{
	const struct addr_error *c = &addr_errors[_i];
	struct tg_arena *a = tg_arena_new();
	struct tg_addr addr;
	const char *err = NULL;

	ck_assert_msg(tg_addr_parse(a, c->raw, &addr, &err) == -1, "\"%s\" parsed", c->raw);
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, c->error);
	tg_arena_free(&a);
}
END_TEST

/* stop_at - callback that refuses one domain, counting calls */
struct stop_ctx {
	const char *refuse;
	int calls;
};

static bool
stop_at(const char *domain, void *ctx)
{
	struct stop_ctx *s = ctx;

	s->calls++;
	return strcmp(domain, s->refuse) != 0;
}

START_TEST(addr_each_domain_stops)
{
	struct tg_arena *a = tg_arena_new();
	struct tg_addr addr;
	const char *err;
	struct stop_ctx s = { "evil.example", 0 };

	ck_assert_int_eq(tg_addr_parse(a, "<@r.example:u%evil.example%x.example@local.example>",
	    &addr, &err), 0);
	ck_assert(!tg_addr_each_domain(a, &addr, stop_at, &s));
	ck_assert_int_eq(s.calls, 2);	/* r.example, evil.example */
	s.refuse = "r.example";
	s.calls = 0;
	ck_assert(!tg_addr_each_domain(a, &addr, stop_at, &s));
	ck_assert_int_eq(s.calls, 1);
	s.refuse = "local.example";
	s.calls = 0;
	ck_assert(!tg_addr_each_domain(a, &addr, stop_at, &s));
	ck_assert_int_eq(s.calls, 4);
	s.refuse = "nowhere.example";
	s.calls = 0;
	ck_assert(tg_addr_each_domain(a, &addr, stop_at, &s));
	ck_assert_int_eq(s.calls, 4);
	/* a bang hop stops it too */
	ck_assert_int_eq(tg_addr_parse(a, "<evil.example!u@local.example>", &addr, &err), 0);
	s.refuse = "evil.example";
	s.calls = 0;
	ck_assert(!tg_addr_each_domain(a, &addr, stop_at, &s));
	ck_assert_int_eq(s.calls, 1);
	tg_arena_free(&a);
}
END_TEST

START_TEST(domain_normalize)
{
	char a[] = "Example.ORG.", b[] = "a..", c[] = "", d[] = ".", e[] = "MiXeD-1.Example";

	tg_domain_normalize(a);
	ck_assert_str_eq(a, "example.org");
	tg_domain_normalize(b);
	ck_assert_str_eq(b, "a.");	/* one trailing dot only */
	tg_domain_normalize(c);
	ck_assert_str_eq(c, "");
	tg_domain_normalize(d);
	ck_assert_str_eq(d, "");
	tg_domain_normalize(e);
	ck_assert_str_eq(e, "mixed-1.example");
}
END_TEST

/* ---- strlist -------------------------------------------------------- */

static const struct match_case {
	const char *domain;
	bool match;
} match_cases[] = {
	{ "example.org", true },
	{ "EXAMPLE.ORG", true },
	{ "Example.Org", true },
	{ "a.sub.example.org", true },
	{ "A.B.SUB.Example.Org", true },
	{ "sub.example.org", false },		/* ".sub.example.org" excludes the apex */
	{ "xsub.example.org", false },
	{ "www.example.org", false },		/* "example.org" has no wildcard */
	{ "example.org.evil.net", false },
	{ "notexample.org", false },
	{ "org", false },
	{ "", false },
	{ "example.net", true },
	{ "mail.example.net", false },
	{ "b.example", true },
	{ "example", false },
	{ "a.b.example", true },
};

START_TEST(strlist_match_domain)
{
	const struct match_case *c = &match_cases[_i];
	struct tg_strlist l = { 0 };

	tg_strlist_add(&l, "example.org");
	tg_strlist_add(&l, ".sub.example.org");
	tg_strlist_add(&l, "Example.NET");
	tg_strlist_add(&l, ".EXAMPLE");
	ck_assert_msg(tg_strlist_match_domain(&l, c->domain) == c->match, "%s: expected %s",
	    c->domain, c->match ? "match" : "no match");
	tg_strlist_free(&l);
}
END_TEST

START_TEST(strlist_basics)
{
	struct tg_strlist l = { 0 };
	char word[] = "Submission", buf[16], *s;
	int i;

	ck_assert(!tg_strlist_has(&l, "x"));
	ck_assert(!tg_strlist_match_domain(&l, "example.org"));
	s = tg_strlist_join(&l, ", ");
	ck_assert_str_eq(s, "");
	free(s);

	tg_strlist_add(&l, word);
	word[0] = 'X';			/* the list owns a copy */
	tg_strlist_add(&l, "smtps");
	tg_strlist_add(&l, "");
	ck_assert_uint_eq(l.n, 3);
	ck_assert_str_eq(l.v[0], "Submission");
	ck_assert(tg_strlist_has(&l, "submission"));
	ck_assert(tg_strlist_has(&l, "SMTPS"));
	ck_assert(tg_strlist_has(&l, ""));
	ck_assert(!tg_strlist_has(&l, "Xubmission"));
	ck_assert(!tg_strlist_has(&l, "smtp"));
	s = tg_strlist_join(&l, ", ");
	ck_assert_str_eq(s, "Submission, smtps, ");
	free(s);
	s = tg_strlist_join(&l, "");
	ck_assert_str_eq(s, "Submissionsmtps");
	free(s);
	tg_strlist_free(&l);
	ck_assert_ptr_null(l.v);
	ck_assert_uint_eq(l.n, 0);

	for (i = 0; i < 50; i++) {
		snprintf(buf, sizeof(buf), "w%d", i);
		tg_strlist_add(&l, buf);
	}
	ck_assert_uint_eq(l.n, 50);
	ck_assert_str_eq(l.v[0], "w0");
	ck_assert_str_eq(l.v[49], "w49");
	ck_assert(tg_strlist_has(&l, "W37"));
	tg_strlist_free(&l);
}
END_TEST

/* ---- text ----------------------------------------------------------- */

enum text_fn { LOG, REPLY, HEADER, JSON };

static const struct text_case {
	enum text_fn fn;
	const char *in;
	size_t max;		/* ignored for JSON */
	const char *out;
} text_cases[] = {
	/* log: \xNN for '\\', '"' and anything not printable ASCII */
	{ LOG, "plain text 100% <a@b>", 100, "plain text 100% <a@b>" },
	{ LOG, "a\"b\\c", 100, "a\\x22b\\x5cc" },
	{ LOG, "x\r\ny", 100, "x\\x0d\\x0ay" },
	{ LOG, "\t\x01\x1f\x7f", 100, "\\x09\\x01\\x1f\\x7f" },
	{ LOG, "caf\xc3\xa9", 100, "caf\\xc3\\xa9" },
	{ LOG, "\xff", 100, "\\xff" },
	{ LOG, "", 100, "" },
	{ LOG, "", 0, "" },
	{ LOG, "abcdef", 3, "abc..." },
	{ LOG, "abc", 3, "abc" },
	{ LOG, "abcd", 0, "..." },
	{ LOG, "\r\r\r\r", 2, "\\x0d\\x0d..." },	/* max counts input bytes */
	/* reply: '%' doubled (smfi_setreply is printf-like), others '?' */
	{ REPLY, "100% bad", 100, "100%% bad" },
	{ REPLY, "100% bad\r\nX: y\t\xc3\xa9", 100, "100%% bad??X: y???" },
	{ REPLY, "%s%n", 100, "%%s%%n" },
	{ REPLY, "\"quoted\" \\ ok", 100, "\"quoted\" \\ ok" },
	{ REPLY, "\x01\x7f", 100, "??" },
	{ REPLY, "abcdef", 3, "abc" },
	{ REPLY, "%%%", 2, "%%%%" },
	{ REPLY, "abc", 0, "" },
	/* header: other bytes as '?' (no folding, no injection) */
	{ HEADER, "a\tb\r\nc%\"\\\xff", 100, "a?b??c%\"\\?" },
	{ HEADER, "X-Injected: yes\r\n", 100, "X-Injected: yes??" },
	{ HEADER, "abcdef", 4, "abcd" },
	{ HEADER, "", 4, "" },
	/* json: quotes and backslash escaped; \u00XX for the rest */
	{ JSON, "say \"hi\" \\o/", 0, "say \\\"hi\\\" \\\\o/" },
	{ JSON, "\r\n\t\x01\x1f\x7f", 0, "\\u000d\\u000a\\u0009\\u0001\\u001f\\u007f" },
	{ JSON, "caf\xc3\xa9", 0, "caf\\u00c3\\u00a9" },
	{ JSON, "100% </script> '", 0, "100% </script> '" },
	{ JSON, "", 0, "" },
};

START_TEST(text_escape)
{
	const struct text_case *c = &text_cases[_i];
	struct tg_strbuf sb = { 0 };

	switch (c->fn) {
	case LOG:
		tg_text_log(&sb, c->in, c->max);
		break;
	case REPLY:
		tg_text_reply(&sb, c->in, c->max);
		break;
	case HEADER:
		tg_text_header(&sb, c->in, c->max);
		break;
	case JSON:
		tg_text_json(&sb, c->in);
		break;
	}
	ck_assert_str_eq(tg_strbuf_str(&sb), c->out);
	ck_assert_uint_eq(sb.len, strlen(c->out));
	tg_strbuf_free(&sb);
}
END_TEST

START_TEST(text_appends)
{
	struct tg_strbuf sb = { 0 };

	tg_strbuf_append(&sb, "helo=");
	tg_text_log(&sb, "evil\n", 100);
	tg_strbuf_append(&sb, " reply=");
	tg_text_reply(&sb, "50%", 100);
	tg_strbuf_append(&sb, " hdr=");
	tg_text_header(&sb, "a\rb", 100);
	tg_strbuf_append(&sb, " json=");
	tg_text_json(&sb, "\"");
	ck_assert_str_eq(tg_strbuf_str(&sb),
	    "helo=evil\\x0a reply=50%% hdr=a?b json=\\\"");
	tg_strbuf_free(&sb);
}
END_TEST

START_TEST(text_output_is_safe)
{
	char in[256];
	struct tg_strbuf sb = { 0 };
	size_t i;

	/* every byte value 1..255 */
	for (i = 0; i < 255; i++)
		in[i] = (char)(i + 1);
	in[255] = '\0';
	tg_text_log(&sb, in, sizeof(in));
	ck_assert_uint_eq(sb.len, 95 - 2 + (255 - 95 + 2) * 4);
	for (i = 0; i < sb.len; i++)
		ck_assert(sb.s[i] >= 0x20 && sb.s[i] < 0x7f && sb.s[i] != '"');
	tg_strbuf_truncate(&sb, 0);
	tg_text_reply(&sb, in, sizeof(in));
	ck_assert_uint_eq(sb.len, 256);		/* 255 bytes, one '%' doubled */
	for (i = 0; i < sb.len; i++)
		ck_assert(sb.s[i] >= 0x20 && sb.s[i] < 0x7f);
	tg_strbuf_truncate(&sb, 0);
	tg_text_header(&sb, in, sizeof(in));
	ck_assert_uint_eq(sb.len, 255);
	for (i = 0; i < sb.len; i++)
		ck_assert(sb.s[i] >= 0x20 && sb.s[i] < 0x7f);
	tg_strbuf_truncate(&sb, 0);
	tg_text_json(&sb, in);
	ck_assert_uint_eq(sb.len, 93 + 2 * 2 + (255 - 95) * 6);
	for (i = 0; i < sb.len; i++)
		ck_assert(sb.s[i] >= 0x20 && sb.s[i] < 0x7f);
	tg_strbuf_free(&sb);
}
END_TEST

/* ---- strbuf --------------------------------------------------------- */

static void __attribute__((format(printf, 2, 3)))
sb_vprintf(struct tg_strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tg_strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
}

START_TEST(strbuf_basics)
{
	struct tg_strbuf sb = { 0 };

	ck_assert_str_eq(tg_strbuf_str(&sb), "");
	ck_assert_uint_eq(sb.len, 0);
	tg_strbuf_append(&sb, "abc");
	tg_strbuf_appendn(&sb, "defghi", 3);
	tg_strbuf_addch(&sb, '-');
	tg_strbuf_printf(&sb, "%d/%s/%05.1f", 42, "x", 2.5);
	sb_vprintf(&sb, "[%c%u]", 'v', 7u);
	ck_assert_str_eq(tg_strbuf_str(&sb), "abcdef-42/x/002.5[v7]");
	ck_assert_uint_eq(sb.len, strlen("abcdef-42/x/002.5[v7]"));
	ck_assert_uint_gt(sb.cap, sb.len);

	tg_strbuf_truncate(&sb, 100);		/* longer: no change */
	ck_assert_str_eq(tg_strbuf_str(&sb), "abcdef-42/x/002.5[v7]");
	tg_strbuf_truncate(&sb, 3);
	ck_assert_str_eq(tg_strbuf_str(&sb), "abc");
	ck_assert_uint_eq(sb.len, 3);
	tg_strbuf_append(&sb, "Z");
	ck_assert_str_eq(tg_strbuf_str(&sb), "abcZ");
	tg_strbuf_truncate(&sb, 0);
	ck_assert_str_eq(tg_strbuf_str(&sb), "");

	tg_strbuf_free(&sb);
	ck_assert_ptr_null(sb.s);
	ck_assert_uint_eq(sb.len, 0);
	ck_assert_uint_eq(sb.cap, 0);
	ck_assert_str_eq(tg_strbuf_str(&sb), "");
	tg_strbuf_free(&sb);			/* twice is harmless */

	tg_strbuf_truncate(&sb, 0);		/* on an empty buffer */
	tg_strbuf_printf(&sb, "%s", "");	/* empty output adds nothing */
	ck_assert_str_eq(tg_strbuf_str(&sb), "");
	tg_strbuf_appendn(&sb, "", 0);
	ck_assert_str_eq(tg_strbuf_str(&sb), "");
	ck_assert_uint_eq(sb.len, 0);
	tg_strbuf_append(&sb, "again");
	ck_assert_str_eq(tg_strbuf_str(&sb), "again");
	tg_strbuf_free(&sb);
}
END_TEST

START_TEST(strbuf_grows)
{
	struct tg_strbuf sb = { 0 };
	char big[5000];
	size_t i;

	for (i = 0; i < 1000; i++)
		tg_strbuf_addch(&sb, (char)('a' + i % 26));
	ck_assert_uint_eq(sb.len, 1000);
	ck_assert_uint_eq(strlen(tg_strbuf_str(&sb)), 1000);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(sb.s[i], 'a' + (int)(i % 26));
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tg_strbuf_printf(&sb, "<%s>", big);
	ck_assert_uint_eq(sb.len, 1000 + 2 + sizeof(big) - 1);
	ck_assert_int_eq(sb.s[1000], '<');
	ck_assert_int_eq(sb.s[sb.len - 1], '>');
	ck_assert_int_eq(sb.s[sb.len], '\0');
	ck_assert_uint_gt(sb.cap, sb.len);
	tg_strbuf_free(&sb);
}
END_TEST

/* ---- arena ---------------------------------------------------------- */

START_TEST(arena_basics)
{
	struct tg_arena *a = tg_arena_new();
	unsigned char *p;
	char *s;
	size_t i;

	ck_assert_uint_eq(tg_arena_size(a), 0);
	p = tg_arena_alloc(a, 100);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(p[i], 0);
	memset(p, 0xee, 100);
	ck_assert_uint_ge(tg_arena_size(a), 100);

	s = tg_arena_strdup(a, "hello");
	ck_assert_str_eq(s, "hello");
	ck_assert_str_eq(tg_arena_strndup(a, "abcdef", 3), "abc");
	ck_assert_str_eq(tg_arena_strndup(a, "ab", 10), "ab");
	ck_assert_str_eq(tg_arena_strndup(a, "abc", 0), "");
	ck_assert_str_eq(tg_arena_strdup(a, ""), "");
	ck_assert_str_eq(tg_arena_printf(a, "%s-%d-%c", "x", 42, 'z'), "x-42-z");
	ck_assert_str_eq(tg_arena_printf(a, "%s", ""), "");
	/* earlier allocations are untouched */
	ck_assert_str_eq(s, "hello");
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(p[i], 0xee);
	/* zero-size allocations are distinct, usable pointers */
	ck_assert_ptr_nonnull(tg_arena_alloc(a, 0));
	ck_assert_ptr_ne(tg_arena_alloc(a, 0), tg_arena_alloc(a, 0));

	tg_arena_free(&a);
	ck_assert_ptr_null(a);
	tg_arena_free(&a);			/* NULL is fine */
}
END_TEST

START_TEST(arena_many_and_large)
{
	struct tg_arena *a = tg_arena_new();
	unsigned char *p[2000], *big;
	size_t i, j, before;

	for (i = 0; i < 2000; i++) {
		size_t n = 1 + i % 61;

		p[i] = tg_arena_alloc(a, n);
		ck_assert_uint_eq((uintptr_t)p[i] % alignof(max_align_t), 0);
		for (j = 0; j < n; j++)
			ck_assert_int_eq(p[i][j], 0);
		memset(p[i], (int)(i & 0xff), n);
	}
	before = tg_arena_size(a);
	ck_assert_uint_ge(before, 2000);
	big = tg_arena_alloc(a, 200000);	/* bigger than any chunk */
	ck_assert_uint_ge(tg_arena_size(a), before + 200000);
	for (j = 0; j < 200000; j++)
		ck_assert_int_eq(big[j], 0);
	memset(big, 0x5a, 200000);
	ck_assert_ptr_nonnull(tg_arena_alloc(a, 10));	/* still usable after */
	for (i = 0; i < 2000; i++)
		for (j = 0; j < 1 + i % 61; j++)
			ck_assert_int_eq(p[i][j], (int)(i & 0xff));
	tg_arena_free(&a);
}
END_TEST

/* ---- xmalloc -------------------------------------------------------- */

START_TEST(xmalloc_helpers)
{
	unsigned char *z = xcalloc(16, 4);
	char *s;
	size_t i;

	for (i = 0; i < 64; i++)
		ck_assert_int_eq(z[i], 0);
	z = xrealloc(z, 128);
	ck_assert_int_eq(z[63], 0);
	free(z);
	free(xmalloc(0));		/* 0 bytes still gives a pointer */
	free(xcalloc(0, 0));
	s = xstrdup("copy");
	ck_assert_str_eq(s, "copy");
	free(s);
	s = xstrndup("truncated", 5);
	ck_assert_str_eq(s, "trunc");
	free(s);
	s = xstrndup("ab", 10);
	ck_assert_str_eq(s, "ab");
	free(s);
	s = xasprintf("%s=%d", "n", -3);
	ck_assert_str_eq(s, "n=-3");
	free(s);
	s = xasprintf("%s", "");
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("util");
	TCase *tc;

	tc = tg_test_tcase(s, "cidr");
	TG_LOOP_TEST(tc, ip_parse, ip_cases);
	tcase_add_test(tc, ip_parse_bytes);
	tcase_add_test(tc, ip_from_sockaddr);
	TG_LOOP_TEST(tc, cidr_parse, cidr_cases);
	TG_LOOP_TEST(tc, cidr_contains, contains_cases);
	tcase_add_test(tc, cidrlist_mixed_families);
	tcase_add_test(tc, cidrlist_grows);

	tc = tg_test_tcase(s, "addr");
	TG_LOOP_TEST(tc, addr_parse, addr_cases);
	TG_LOOP_TEST(tc, addr_parse_errors, addr_errors);
	tcase_add_test(tc, addr_each_domain_stops);
	tcase_add_test(tc, domain_normalize);

	tc = tg_test_tcase(s, "strlist");
	TG_LOOP_TEST(tc, strlist_match_domain, match_cases);
	tcase_add_test(tc, strlist_basics);

	tc = tg_test_tcase(s, "text");
	TG_LOOP_TEST(tc, text_escape, text_cases);
	tcase_add_test(tc, text_appends);
	tcase_add_test(tc, text_output_is_safe);

	tc = tg_test_tcase(s, "memory");
	tcase_add_test(tc, strbuf_basics);
	tcase_add_test(tc, strbuf_grows);
	tcase_add_test(tc, arena_basics);
	tcase_add_test(tc, arena_many_and_large);
	tcase_add_test(tc, xmalloc_helpers);

	return tg_test_run(s);
}
