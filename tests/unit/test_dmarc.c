/*
 * test_dmarc - the DMARC check: organisational domains from the real
 * Public Suffix List, alignment, policy discovery over a fake TXT
 * source, the result from recorded SPF and DKIM results (pct sampling
 * with a fixed roll), what a result says about the From field, and the
 * check hook on a real message, without DNS or with answers of our own.
 * The From parser has its own tests (test_from).
 */
#include "autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/nameser.h>
#include <unbound.h>

#include "checks/check.h"
#include "checks/dmarc.h"
#include "checks/psl.h"
#include "config.h"
#include "dns.h"
#include "session.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "runner.h"

/* the case tables leave trailing fields out: they are zero/NULL */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define PSL_FILE "/usr/share/publicsuffix/public_suffix_list.dat"

static struct tg_psl *psl;

static void
psl_setup(void)
{
	const char *err = NULL;

	psl = tg_psl_load(PSL_FILE, &err);
	ck_assert_msg(psl != NULL, "PSL: %s", err ? err : "?");
}

static void
psl_teardown(void)
{
	tg_psl_free(&psl);
	ck_assert_ptr_null(psl);
}

/* ------------------------------------------------------------ PSL */

static const struct org_case {
	const char *domain, *org;
} org_cases[] = {
	{ "a.b.example.co.uk", "example.co.uk" },
	{ "example.co.uk", "example.co.uk" },
	{ "co.uk", "co.uk" },			/* a public suffix: itself */
	{ "uk", "uk" },
	{ "example.com", "example.com" },
	{ "mail.example.com", "example.com" },
	{ "a.b.c.example.com", "example.com" },
	{ "sub.domain.example", "domain.example" },	/* default rule "*" */
	{ "domain.example", "domain.example" },
	{ "example", "example" },
	{ "a.b.c.ck", "b.c.ck" },		/* "*.ck" */
	{ "c.ck", "c.ck" },
	{ "www.ck", "www.ck" },			/* "!www.ck" */
	{ "a.www.ck", "www.ck" },
	{ "a.x.y.kawasaki.jp", "x.y.kawasaki.jp" },	/* "*.kawasaki.jp" */
	{ "x.y.kawasaki.jp", "x.y.kawasaki.jp" },
	{ "a.city.kawasaki.jp", "city.kawasaki.jp" },	/* "!city.kawasaki.jp" */
	{ "foo.bar.blogspot.com", "bar.blogspot.com" },	/* private section */
	{ "a.b.xn--55qx5d.cn", "b.xn--55qx5d.cn" },	/* IDN rule as UTF-8 */
	{ "xn--55qx5d.cn", "xn--55qx5d.cn" },
	{ "a.b.xn--fiqs8s", "b.xn--fiqs8s" },
	{ "a.xn--bcher-kva.example", "xn--bcher-kva.example" },
	{ "a.b.xn--zz9999zz.example", "xn--zz9999zz.example" },	/* bad punycode */
	{ "a.b.example.xn--", "example.xn--" },
	{ "a.b.\xe4\xb8\xad\xe5\x9b\xbd", "b.\xe4\xb8\xad\xe5\x9b\xbd" },	/* U-labels */
	{ "A.B.Example.CO.UK", "Example.CO.UK" },	/* any case */
	{ "a.b.XN--55QX5D.cn", "b.XN--55QX5D.cn" },
	{ "a.b.example.co.uk.", "example.co.uk." },	/* one trailing dot */
	{ "co.uk.", "co.uk." },
	{ "x.kawasaki.jp", "x.kawasaki.jp" },	/* public suffixes: themselves */
	{ "city.kawasaki.jp", "city.kawasaki.jp" },
	{ "kawasaki.jp", "kawasaki.jp" },
	{ "x.y.a.bg", "y.a.bg" },		/* one-letter labels: "a.bg" */
	{ "y.a.bg", "y.a.bg" },
	{ "a.bg", "a.bg" },
	{ "x.a.0.bg", "a.0.bg" },
	{ "a.b.c", "b.c" },
};

START_TEST(test_org_domain)
{
	const struct org_case *c = &org_cases[_i];

	ck_assert_str_eq(tg_psl_org_domain(psl, c->domain), c->org);
}
END_TEST

/* a 253-character name: libopendmarc would cut off its end */
START_TEST(test_org_domain_long)
{
	char d[300], l63[64];

	memset(l63, 'a', 63);
	l63[63] = '\0';
	snprintf(d, sizeof(d), "%s.%s.%s.bb.example.co.uk", l63, l63, l63);
	ck_assert_uint_eq(strlen(d), 208);
	ck_assert_str_eq(tg_psl_org_domain(psl, d), "example.co.uk");
	snprintf(d, sizeof(d), "%s.%s.%s.%s.co.uk", l63, l63, l63, l63 + 8);
	ck_assert_uint_eq(strlen(d), 253);
	ck_assert_str_eq(tg_psl_org_domain(psl, d), d + 64 * 3);
	ck_assert(!tg_psl_aligned(psl, d, "example.co.uk", false));
}
END_TEST

START_TEST(test_psl_missing)
{
	const char *err = NULL;
	struct tg_psl *p = tg_psl_load("/nonexistent/psl.dat", &err);

	ck_assert_ptr_null(p);
	ck_assert_str_eq(err, "PublicSuffixList /nonexistent/psl.dat: No such file or "
	    "directory (Debian package publicsuffix)");
	p = tg_psl_load("/dev/null", &err);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(err, "PublicSuffixList /dev/null: no rules in the file "
	    "(Debian package publicsuffix)");
}
END_TEST

/* load_list - a table from the text of a list */
static struct tg_psl *
load_list(const char *text)
{
	char path[] = "/tmp/tg-psl-XXXXXX";
	const char *err = NULL;
	struct tg_psl *p;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	p = tg_psl_load(path, &err);
	unlink(path);
	ck_assert_msg(p != NULL, "PSL: %s", err ? err : "?");
	return p;
}

/* each snapshot has a table of its own: another list, loaded or
   dropped, changes nothing in this one */
START_TEST(test_psl_two_snapshots)
{
	const char *err = NULL;
	struct tg_psl *second = tg_psl_load(PSL_FILE, &err);
	struct tg_psl *tiny = load_list("com\n");

	ck_assert_ptr_nonnull(second);
	tg_psl_free(&second);
	ck_assert_ptr_null(second);
	ck_assert_str_eq(tg_psl_org_domain(tiny, "a.b.example.co.uk"), "co.uk");
	ck_assert_str_eq(tg_psl_org_domain(psl, "a.b.example.co.uk"), "example.co.uk");
	tg_psl_free(&tiny);
	ck_assert_str_eq(tg_psl_org_domain(psl, "a.b.example.co.uk"), "example.co.uk");
}
END_TEST

/* the list's algorithm on a list of our own: exceptions win, then the
   longest rule; a wildcard is one label; the default rule is "*" */
static const char tiny_list[] =
	"// a list for the tests\n"
	"test\n"
	"*.w.test\n"
	"!x.w.test\n"
	"n.test\n"
	"*.n.test\n"
	"\xc3\xbc.test\t// U-label rule, whitespace and what follows ignored\n"
	"Upper.TEST\r\n"
	"*\n"
	"\n"
	"!\n";

static const struct org_case tiny_cases[] = {
	{ "a.b.c.test", "c.test" },		/* rule "test" */
	{ "test", "test" },
	{ "w.test", "w.test" },			/* only the end of rules */
	{ "o.p.q.w.test", "p.q.w.test" },	/* "*.w.test" */
	{ "q.w.test", "q.w.test" },
	{ "p.x.w.test", "x.w.test" },		/* "!x.w.test" beats "*.w.test" */
	{ "x.w.test", "x.w.test" },
	{ "c.b.a.n.test", "b.a.n.test" },	/* "n.test" and "*.n.test" */
	{ "a.n.test", "a.n.test" },
	{ "n.test", "n.test" },
	{ "b.a.xn--tda.test", "a.xn--tda.test" },	/* "\xc3\xbc.test" */
	{ "b.a.\xc3\xbc.test", "a.\xc3\xbc.test" },
	{ "b.a.xn--zz9999zz.test", "xn--zz9999zz.test" },	/* not punycode */
	{ "b.a.upper.test", "a.upper.test" },	/* rules in any case */
	{ "B.A.UPPER.TEST.", "A.UPPER.TEST." },
	{ "a.b.other", "b.other" },		/* default rule "*" */
	{ "other", "other" },
};

START_TEST(test_org_domain_tiny)
{
	const struct org_case *c = &tiny_cases[_i];
	struct tg_psl *p = load_list(tiny_list);

	ck_assert_str_eq(tg_psl_org_domain(p, c->domain), c->org);
	tg_psl_free(&p);
}
END_TEST

/* ------------------------------------------------------------ alignment */

static const struct align_case {
	const char *a, *b;
	bool strict, aligned;
} align_cases[] = {
	{ "example.com", "example.com", false, true },
	{ "example.com", "example.com", true, true },
	{ "Example.COM.", "example.com", true, true },
	{ "mail.example.com", "example.com", false, true },
	{ "mail.example.com", "example.com", true, false },
	{ "example.com", "mail.example.com", false, true },
	{ "example.com", "mail.example.com", true, false },
	{ "a.example.com", "b.example.com", false, true },
	{ "a.example.com", "b.example.com", true, false },
	{ "example.com", "example.org", false, false },
	{ "badexample.com", "example.com", false, false },
	{ "co.uk", "example.co.uk", false, false },	/* libopendmarc says yes */
	{ "example.co.uk", "co.uk", false, false },
	{ "evil.co.uk", "example.co.uk", false, false },
	{ "mail.example.co.uk", "example.co.uk", false, true },
	{ "a.b.c.ck", "x.b.c.ck", false, true },
	{ "a.b.c.ck", "a.d.c.ck", false, false },
	{ "a.x.kawasaki.jp", "b.y.kawasaki.jp", false, false },
	{ "sub.domain.example", "domain.example", false, true },
	{ "sub.domain.example", "other.example", false, false },
	{ "a.xn--55qx5d.cn", "b.xn--55qx5d.cn", false, false },
	{ "x.a.xn--55qx5d.cn", "a.xn--55qx5d.cn", false, true },
	{ "", "example.com", false, false },
	{ "exa_mple.com", "exa_mple.com", true, false },
};

START_TEST(test_aligned)
{
	const struct align_case *c = &align_cases[_i];

	ck_assert_msg(tg_psl_aligned(psl, c->a, c->b, c->strict) == c->aligned,
	    "%s / %s %s: expected %saligned", c->a, c->b, c->strict ? "strict" : "relaxed",
	    c->aligned ? "" : "not ");
	ck_assert(!tg_psl_aligned(psl, NULL, "example.com", false));
}
END_TEST

/* ------------------------------------------------------------ discovery */

static const struct record_case {
	const char *txt;
	bool dmarc;
} record_cases[] = {
	{ "v=DMARC1; p=none", true },
	{ "v=DMARC1", true },
	{ "v=DMARC1;", true },
	{ "V = DMARC1 ;p=none", true },
	{ "v=DMARC1\t; p=reject", true },
	{ "v=dmarc1; p=none", false },
	{ "v=DMARC10; p=none", false },
	{ "v=DMARC1p=none", false },
	{ " v=DMARC1; p=none", false },
	{ "p=none; v=DMARC1", false },
	{ "v=spf1 -all", false },
	{ "", false },
};

START_TEST(test_is_record)
{
	const struct record_case *c = &record_cases[_i];

	ck_assert_msg(tg_dmarc_is_record(c->txt) == c->dmarc, "\"%s\"", c->txt);
}
END_TEST

/* a fake DNS: name -> status and records */
struct fake_rr {
	const char *name;
	enum tg_dns_status status;
	const char *txt[3];
};

struct fake_dns {
	const struct fake_rr *rr;
	int queries;
	char asked[4][128];
};

static enum tg_dns_status
fake_fetch(void *ctx, struct tg_arena *a, const char *name, const char ***txt_r, size_t *n_r)
{
	struct fake_dns *f = ctx;

	if (f->queries < 4)
		snprintf(f->asked[f->queries], sizeof(f->asked[0]), "%s", name);
	f->queries++;
	*txt_r = NULL;
	*n_r = 0;
	for (const struct fake_rr *r = f->rr; r->name != NULL; r++) {
		if (strcmp(r->name, name) != 0)
			continue;
		if (r->status == TG_DNS_OK) {
			*txt_r = tg_arena_alloc(a, 3 * sizeof(**txt_r));
			for (size_t i = 0; i < 3 && r->txt[i] != NULL; i++)
				(*txt_r)[(*n_r)++] = r->txt[i];
		}
		return r->status;
	}
	return TG_DNS_NXDOMAIN;
}

static const struct discover_case {
	const char *from, *org;
	struct fake_rr rr[4];
	enum tg_dmarc_found found;
	const char *record, *domain;	/* for TG_DMARC_RECORD */
	bool at_org;
	const char *why;
	int queries;
} discover_cases[] = {
	{ "example.com", "example.com",
	  { { "_dmarc.example.com", TG_DNS_OK, { "v=DMARC1; p=reject" } } },
	  TG_DMARC_RECORD, "v=DMARC1; p=reject", "example.com", false, NULL, 1 },
	{ "sub.example.com", "example.com",
	  { { "_dmarc.example.com", TG_DNS_OK, { "v=DMARC1; p=reject; sp=none" } } },
	  TG_DMARC_RECORD, "v=DMARC1; p=reject; sp=none", "example.com", true, NULL, 2 },
	{ "sub.example.com", "example.com",
	  { { "_dmarc.sub.example.com", TG_DNS_NODATA },
	    { "_dmarc.example.com", TG_DNS_OK, { "v=DMARC1; p=quarantine" } } },
	  TG_DMARC_RECORD, "v=DMARC1; p=quarantine", "example.com", true, NULL, 2 },
	{ "sub.example.com", "example.com",	/* not DMARC records: discarded */
	  { { "_dmarc.sub.example.com", TG_DNS_OK, { "v=spf1 -all", "hello" } },
	    { "_dmarc.example.com", TG_DNS_OK, { "other", "v=DMARC1; p=none" } } },
	  TG_DMARC_RECORD, "v=DMARC1; p=none", "example.com", true, NULL, 2 },
	{ "sub.example.com", "example.com",	/* the From domain's own wins */
	  { { "_dmarc.sub.example.com", TG_DNS_OK, { "v=DMARC1; p=none" } },
	    { "_dmarc.example.com", TG_DNS_OK, { "v=DMARC1; p=reject" } } },
	  TG_DMARC_RECORD, "v=DMARC1; p=none", "sub.example.com", false, NULL, 1 },
	{ "sub.example.com", "example.com",	/* two: no DMARC, no fallback */
	  { { "_dmarc.sub.example.com", TG_DNS_OK, { "v=DMARC1; p=none", "v=DMARC1; p=reject" } },
	    { "_dmarc.example.com", TG_DNS_OK, { "v=DMARC1; p=reject" } } },
	  TG_DMARC_NO_RECORD, NULL, NULL, false, "2 DMARC records at _dmarc.sub.example.com", 1 },
	{ "example.com", "example.com",
	  { { "_dmarc.example.com", TG_DNS_OK, { "v=DMARC1; p=none", "x", "v=DMARC1; p=none" } } },
	  TG_DMARC_NO_RECORD, NULL, NULL, false, "2 DMARC records at _dmarc.example.com", 1 },
	{ "sub.example.com", "example.com",
	  { { "_dmarc.example.com", TG_DNS_OK, { "v=DMARC1; p=none", "v=DMARC1; p=reject" } } },
	  TG_DMARC_NO_RECORD, NULL, NULL, false, "2 DMARC records at _dmarc.example.com", 2 },
	{ "sub.example.com", "example.com", { { NULL } },
	  TG_DMARC_NO_RECORD, NULL, NULL, false,
	  "no DMARC record at _dmarc.sub.example.com or _dmarc.example.com", 2 },
	{ "example.com", "example.com", { { NULL } },
	  TG_DMARC_NO_RECORD, NULL, NULL, false, "no DMARC record at _dmarc.example.com", 1 },
	{ "sub.example.com", "example.com",	/* a timeout: no fallback */
	  { { "_dmarc.sub.example.com", TG_DNS_TIMEOUT },
	    { "_dmarc.example.com", TG_DNS_OK, { "v=DMARC1; p=reject" } } },
	  TG_DMARC_DNS_TEMPERROR, NULL, NULL, false,
	  "DNS timeout looking up _dmarc.sub.example.com", 1 },
	{ "sub.example.com", "example.com",
	  { { "_dmarc.example.com", TG_DNS_SERVFAIL } },
	  TG_DMARC_DNS_TEMPERROR, NULL, NULL, false,
	  "DNS servfail looking up _dmarc.example.com", 2 },
	{ "example.com", "example.com",
	  { { "_dmarc.example.com", TG_DNS_ERROR } },
	  TG_DMARC_DNS_INTERNAL, NULL, NULL, false,
	  "resolver error looking up _dmarc.example.com", 1 },
};

START_TEST(test_discover)
{
	const struct discover_case *c = &discover_cases[_i];
	struct fake_dns f = { .rr = c->rr };
	struct tg_dmarc_txt_source src = { fake_fetch, &f };
	struct tg_arena *a = tg_arena_new();
	struct tg_dmarc_discovery d;

	tg_dmarc_discover(&src, a, c->from, c->org, &d);
	ck_assert_msg(d.found == c->found, "case %d: found %d, expected %d", _i, d.found,
	    c->found);
	ck_assert_int_eq(f.queries, c->queries);
	ck_assert_str_eq(f.asked[0], tg_arena_printf(a, "_dmarc.%s", c->from));
	if (c->found == TG_DMARC_RECORD) {
		ck_assert_str_eq(d.record, c->record);
		ck_assert_str_eq(d.domain, c->domain);
		ck_assert(d.at_org == c->at_org);
	} else {
		ck_assert_str_eq(d.why, c->why);
	}
	tg_arena_free(&a);
}
END_TEST

/* ------------------------------------------------------------ result */

struct res {
	const char *method;
	enum tg_outcome outcome;
	const char *domain, *props;
};

static const struct eval_case {
	const char *from, *record, *record_at;	/* record_at: org domain, or NULL */
	struct res res[4];
	unsigned int roll;			/* the pct sampling roll */
	enum tg_outcome outcome;
	const char *policy, *reason;
} eval_cases[] = {
	/* SPF alignment */
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_PASS, "example.com" }, { "dkim", TG_NONE } }, 0,
	  TG_PASS, "reject", "p=reject sp=reject pct=100: aligned spf" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_PASS, "bounces.example.com" } }, 0,
	  TG_PASS, "reject", "p=reject sp=reject pct=100: aligned spf" },
	{ "example.com", "v=DMARC1; p=reject; aspf=s", NULL,
	  { { "spf", TG_PASS, "bounces.example.com" } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100 aspf=s: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; p=reject; aspf=s", NULL,
	  { { "spf", TG_PASS, "EXAMPLE.com" } }, 0,
	  TG_PASS, "reject", "p=reject sp=reject pct=100 aspf=s: aligned spf" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_PASS, "example.org" } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_FAIL, "example.com" } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_SOFTFAIL, "example.com" }, { "spf", TG_PASS, "example.com",
	      "smtp.helo=example.com" } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_PASS, "example.com", "smtp.helo=example.com" },
	    { "spf", TG_FAIL, "example.com", "smtp.mailfrom=a@example.com" } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100: no aligned spf or dkim pass" },
	/* DKIM alignment: any aligned pass */
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_FAIL, "example.com" }, { "dkim", TG_PASS, "example.com" } }, 0,
	  TG_PASS, "reject", "p=reject sp=reject pct=100: aligned dkim d=example.com" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "dkim", TG_PASS, "esp.example" }, { "dkim", TG_FAIL, "example.com" },
	    { "dkim", TG_PASS, "sub.example.com" } }, 0,
	  TG_PASS, "reject", "p=reject sp=reject pct=100: aligned dkim d=sub.example.com" },
	{ "example.com", "v=DMARC1; p=reject; adkim=s", NULL,
	  { { "dkim", TG_PASS, "sub.example.com" } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100 adkim=s: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_PASS, "example.com" }, { "dkim", TG_PASS, "example.com" } }, 0,
	  TG_PASS, "reject", "p=reject sp=reject pct=100: aligned spf and dkim d=example.com" },
	{ "example.co.uk", "v=DMARC1; p=reject", NULL,
	  { { "dkim", TG_PASS, "co.uk" }, { "spf", TG_PASS, "other.co.uk" } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100: no aligned spf or dkim pass" },
	/* temperror that could have passed: temperror, never fail */
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_TEMPERROR, "example.com" }, { "dkim", TG_NONE } }, 0,
	  TG_TEMPERROR, "reject", "p=reject sp=reject pct=100: spf temperror could have aligned" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_TEMPERROR, "example.org" } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_FAIL, "example.com" }, { "dkim", TG_TEMPERROR, "example.com" } }, 0,
	  TG_TEMPERROR, "reject", "p=reject sp=reject pct=100: dkim temperror could have aligned" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_TEMPERROR, NULL }, { "dkim", TG_TEMPERROR, NULL } }, 0,
	  TG_TEMPERROR, "reject",
	  "p=reject sp=reject pct=100: spf and dkim temperror could have aligned" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_TEMPERROR, "example.com" }, { "dkim", TG_PASS, "example.com" } }, 0,
	  TG_PASS, "reject", "p=reject sp=reject pct=100: aligned dkim d=example.com" },
	{ "example.com", "v=DMARC1; p=reject", NULL,
	  { { "spf", TG_PERMERROR, "example.com" } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; p=reject", NULL, { { NULL } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100: no aligned spf or dkim pass" },
	/* which policy: p, sp for a subdomain when the org domain published */
	{ "example.com", "v=DMARC1; p=quarantine", NULL, { { NULL } }, 0,
	  TG_FAIL, "quarantine", "p=quarantine sp=quarantine pct=100: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; p=none; sp=reject", NULL, { { NULL } }, 0,
	  TG_FAIL, "none", "p=none sp=reject pct=100: no aligned spf or dkim pass" },
	{ "sub.example.com", "v=DMARC1; p=reject; sp=none", "example.com", { { NULL } }, 0,
	  TG_FAIL, "none",
	  "p=reject sp=none pct=100 org=example.com: no aligned spf or dkim pass" },
	{ "sub.example.com", "v=DMARC1; p=none; sp=quarantine", "example.com", { { NULL } }, 0,
	  TG_FAIL, "quarantine",
	  "p=none sp=quarantine pct=100 org=example.com: no aligned spf or dkim pass" },
	{ "sub.example.com", "v=DMARC1; p=reject", "example.com", { { NULL } }, 0,
	  TG_FAIL, "reject",
	  "p=reject sp=reject pct=100 org=example.com: no aligned spf or dkim pass" },
	{ "sub.example.com", "v=DMARC1; p=reject; sp=none", "example.com",
	  { { "spf", TG_PASS, "example.com" } }, 0,
	  TG_PASS, "none", "p=reject sp=none pct=100 org=example.com: aligned spf" },
	{ "sub.example.com", "v=DMARC1; p=reject; sp=none; aspf=s", "example.com",
	  { { "spf", TG_PASS, "example.com" } }, 0,
	  TG_FAIL, "none",
	  "p=reject sp=none pct=100 aspf=s org=example.com: no aligned spf or dkim pass" },
	/* pct sampling: roll < pct is sampled */
	{ "example.com", "v=DMARC1; p=reject; pct=50", NULL, { { NULL } }, 49,
	  TG_FAIL, "reject", "p=reject sp=reject pct=50: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; p=reject; pct=50", NULL, { { NULL } }, 50,
	  TG_FAIL, "quarantine", "p=reject sp=reject pct=50: no aligned spf or dkim pass, "
	  "not sampled: reject applied as quarantine" },
	{ "example.com", "v=DMARC1; p=quarantine; pct=0", NULL, { { NULL } }, 0,
	  TG_FAIL, "none", "p=quarantine sp=quarantine pct=0: no aligned spf or dkim pass, "
	  "not sampled: quarantine applied as none" },
	{ "example.com", "v=DMARC1; p=none; pct=0", NULL, { { NULL } }, 0,
	  TG_FAIL, "none", "p=none sp=none pct=0: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; p=reject; pct=10", NULL,
	  { { "spf", TG_PASS, "example.com" } }, 99,
	  TG_PASS, "reject", "p=reject sp=reject pct=10: aligned spf" },
	{ "sub.example.com", "v=DMARC1; p=none; sp=reject; pct=20", "example.com", { { NULL } }, 20,
	  TG_FAIL, "quarantine", "p=none sp=reject pct=20 org=example.com: no aligned spf or "
	  "dkim pass, not sampled: reject applied as quarantine" },
	/* records libopendmarc accepts or refuses */
	{ "example.com", "v=DMARC1; p=r", NULL, { { NULL } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; p=reject; foo=bar; rua=mailto:d@example.com", NULL,
	  { { NULL } }, 0,
	  TG_FAIL, "reject", "p=reject sp=reject pct=100: no aligned spf or dkim pass" },
	{ "example.com", "v=DMARC1; rf=iodef; p=reject", NULL,
	  { { "spf", TG_PASS, "mail.example.com" } }, 0,
	  TG_PASS, "reject", "p=reject sp=reject pct=100: aligned spf" },
	{ "example.com", "v=DMARC1", NULL, { { NULL } }, 0, TG_PERMERROR, NULL,
	  "invalid DMARC record at _dmarc.example.com: Found DMARC record lacked a required "
	  "p= entry" },
	{ "example.com", "v=DMARC1; p=bogus", NULL, { { NULL } }, 0, TG_PERMERROR, NULL,
	  "invalid DMARC record at _dmarc.example.com: Found DMARC record contained a bad "
	  "token value" },
	{ "example.com", "v=DMARC1; p=reject; sp=maybe", NULL, { { NULL } }, 0, TG_PERMERROR,
	  NULL, "invalid DMARC record at _dmarc.example.com: Found DMARC record contained a "
	  "bad token value" },
	{ "example.com", "v=DMARC1; p=reject; adkim=x", NULL, { { NULL } }, 0, TG_PERMERROR,
	  NULL, "invalid DMARC record at _dmarc.example.com: Found DMARC record contained a "
	  "bad token value" },
	{ "example.com", "v=DMARC1; p=reject; pct=101", NULL, { { NULL } }, 0, TG_PERMERROR,
	  NULL, "invalid DMARC record at _dmarc.example.com: Found DMARC record contained a "
	  "bad token value" },
	{ "example.com", "v=DMARC1; p=reject; pct=abc", NULL, { { NULL } }, 0, TG_PERMERROR,
	  NULL, "invalid DMARC record at _dmarc.example.com: pct is not a number from 0 to 100" },
	{ "example.com", "v=DMARC1; p=reject; pct=", NULL, { { NULL } }, 0, TG_PERMERROR,
	  NULL, "invalid DMARC record at _dmarc.example.com: pct is not a number from 0 to 100" },
	{ "example.com", "v=DMARC1; p=reject; pct = 5x", NULL, { { NULL } }, 0, TG_PERMERROR,
	  NULL, "invalid DMARC record at _dmarc.example.com: pct is not a number from 0 to 100" },
	{ "example.com", "v=DMARC1; p=reject; pct = 5 ", NULL, { { NULL } }, 5,
	  TG_FAIL, "quarantine", "p=reject sp=reject pct=5: no aligned spf or dkim pass, "
	  "not sampled: reject applied as quarantine" },
	{ "sub.example.com", "v=DMARC1; p=reject; v=DMARC2", "example.com", { { NULL } }, 0,
	  TG_PERMERROR, NULL, "invalid DMARC record at _dmarc.example.com: Found DMARC record "
	  "contained a bad v= value" },
};

static unsigned int
fixed_roll(void *ctx)
{
	return *(const unsigned int *)ctx;
}

START_TEST(test_evaluate)
{
	const struct eval_case *c = &eval_cases[_i];
	struct tg_result results[4];
	struct tg_dmarc_discovery d = { .found = TG_DMARC_RECORD, .record = c->record };
	struct tg_dmarc_input in = { .from = c->from, .disc = &d, .results = results,
		.sample = fixed_roll, .sample_ctx = (void *)&c->roll };
	struct tg_arena *a = tg_arena_new();
	struct tg_dmarc_outcome o;

	memset(results, 0, sizeof(results));
	for (size_t i = 0; i < 4 && c->res[i].method != NULL; i++) {
		results[i].method = c->res[i].method;
		results[i].outcome = c->res[i].outcome;
		results[i].domain = c->res[i].domain;
		results[i].props = c->res[i].props;
		in.nresults++;
	}
	d.domain = c->record_at != NULL ? c->record_at : c->from;
	d.at_org = c->record_at != NULL;
	tg_dmarc_evaluate(psl, a, &in, &o);
	ck_assert_msg(o.outcome == c->outcome, "case %d: %s, expected %s (%s)", _i,
	    tg_outcome_name(o.outcome), tg_outcome_name(c->outcome), o.reason);
	if (c->policy == NULL)
		ck_assert_ptr_null(o.policy);
	else
		ck_assert_str_eq(o.policy, c->policy);
	ck_assert_str_eq(o.reason, c->reason);
	ck_assert(!o.internal);
	tg_arena_free(&a);
}
END_TEST

START_TEST(test_evaluate_no_record)
{
	struct tg_arena *a = tg_arena_new();
	struct tg_dmarc_discovery d = { .found = TG_DMARC_NO_RECORD, .why = "no DMARC record" };
	struct tg_result spf = { .method = "spf", .outcome = TG_PASS, .domain = "example.com" };
	struct tg_dmarc_input in = { .from = "example.com", .disc = &d, .results = &spf,
		.nresults = 1 };
	struct tg_dmarc_outcome o;

	tg_dmarc_evaluate(psl, a, &in, &o);
	ck_assert_int_eq(o.outcome, TG_NONE);
	ck_assert_ptr_null(o.policy);
	ck_assert_str_eq(o.reason, "no DMARC record");
	d.found = TG_DMARC_DNS_TEMPERROR;
	d.why = "DNS timeout";
	tg_dmarc_evaluate(psl, a, &in, &o);
	ck_assert_int_eq(o.outcome, TG_TEMPERROR);
	ck_assert_ptr_null(o.policy);
	ck_assert(!o.internal);
	d.found = TG_DMARC_DNS_INTERNAL;
	tg_dmarc_evaluate(psl, a, &in, &o);
	ck_assert_int_eq(o.outcome, TG_TEMPERROR);
	ck_assert(o.internal);
	tg_arena_free(&a);
}
END_TEST

/* the default roll (arc4random): pct=50 lowers some and keeps some */
START_TEST(test_sampling_random)
{
	struct tg_arena *a = tg_arena_new();
	struct tg_dmarc_discovery d = { .found = TG_DMARC_RECORD,
		.record = "v=DMARC1; p=reject; pct=50", .domain = "example.com" };
	struct tg_dmarc_input in = { .from = "example.com", .disc = &d };
	struct tg_dmarc_outcome o;
	int reject = 0, quarantine = 0;

	for (int i = 0; i < 200; i++) {
		tg_dmarc_evaluate(psl, a, &in, &o);
		ck_assert_int_eq(o.outcome, TG_FAIL);
		if (strcmp(o.policy, "reject") == 0)
			reject++;
		else if (strcmp(o.policy, "quarantine") == 0)
			quarantine++;
	}
	ck_assert_int_eq(reject + quarantine, 200);
	ck_assert_int_gt(reject, 40);
	ck_assert_int_gt(quarantine, 40);
	tg_arena_free(&a);
}
END_TEST

/* ------------------------------------------------------------ From */

/* what a recorded result (as the verdict store gives it back) says
   about the From field: only a dmarc permerror without a domain */
static const struct problem_case {
	struct tg_result r;
	enum tg_dmarc_from problem;
} problem_cases[] = {
	{ { "dmarc", TG_PERMERROR, TG_PH_EOM, "multiple From headers: 3" },
	  TG_DMARC_FROM_MULTIPLE },
	{ { "dmarc", TG_PERMERROR, TG_PH_EOM, "multiple From addresses: 2" },
	  TG_DMARC_FROM_MULTIPLE },
	{ { "dmarc", TG_PERMERROR, TG_PH_EOM, "no From header" }, TG_DMARC_FROM_MISSING },
	{ { "dmarc", TG_PERMERROR, TG_PH_EOM, "unterminated comment in From" },
	  TG_DMARC_FROM_INVALID },
	{ { "dmarc", TG_PERMERROR, TG_PH_EOM, NULL }, TG_DMARC_FROM_INVALID },
	/* an invalid record: the From domain is known */
	{ { "dmarc", TG_PERMERROR, TG_PH_EOM, "invalid DMARC record at _dmarc.example.com: "
	    "Found DMARC record lacked a required p= entry", NULL, "example.com",
	    "header.from=example.com" }, TG_DMARC_FROM_OK },
	{ { "dmarc", TG_PERMERROR, TG_PH_EOM, "no From header", NULL, "example.com" },
	  TG_DMARC_FROM_OK },
	/* other results */
	{ { "dmarc", TG_FAIL, TG_PH_EOM, "no From header" }, TG_DMARC_FROM_OK },
	{ { "dmarc", TG_NONE, TG_PH_EOM, "multiple From headers: 2" }, TG_DMARC_FROM_OK },
	{ { "dkim", TG_PERMERROR, TG_PH_EOM, "no From header" }, TG_DMARC_FROM_OK },
	{ { "spf", TG_PERMERROR, TG_PH_MAIL, "multiple From headers: 2" }, TG_DMARC_FROM_OK },
};

START_TEST(test_from_problem)
{
	const struct problem_case *c = &problem_cases[_i];

	ck_assert_msg(tg_dmarc_from_problem(&c->r) == c->problem, "case %d: %d, expected %d",
	    _i, tg_dmarc_from_problem(&c->r), c->problem);
	ck_assert_int_eq(tg_dmarc_from_problem(NULL), TG_DMARC_FROM_OK);
}
END_TEST

/* ------------------------------------------------------------ the check */

static char dir[] = "/tmp/tg-dmarc-XXXXXX";

/* load_cfg - a config whose resolver asks a port where nothing listens */
static struct tg_config *
load_cfg(const char *extra, struct tg_strbuf *err)
{
	return tg_test_config_try(dir, err, "PolicyFile /dev/null\nLocalDomains example.org\n"
	    "TrustedNetworks 192.0.2.0/24\nNameservers 127.0.0.1@9\n"
	    "DNSTimeout 300ms\nCheckTimeout 1s\n%s", extra);
}

static struct tg_config *shared_cfg;	/* the "check" tests' load_cfg("") */

/* cfg_setup - a fresh shared_cfg for each "check" test */
static void
cfg_setup(void)
{
	struct tg_strbuf err = { 0 };

	shared_cfg = load_cfg("", &err);
	ck_assert_msg(shared_cfg != NULL, "config: %s", tg_strbuf_str(&err));
	tg_strbuf_free(&err);
}

/* cfg_teardown - and its release */
static void
cfg_teardown(void)
{
	tg_config_release(&shared_cfg);
}

static size_t
dmarc_index(void)
{
	for (size_t i = 0; tg_checks[i] != NULL; i++)
		if (tg_checks[i] == &tg_check_dmarc)
			return i;
	ck_abort_msg("dmarc is not in the check table");
	return 0;
}

/* run_eom - a message from ip with headers, then only the dmarc check */
static const struct tg_result *
run_eom(struct tg_config *cfg, const char *ip, const char *const *hdrs, struct tg_conn **connp)
{
	struct tg_conn *conn;
	struct tg_msg *msg;
	struct tg_ip addr;

	cfg->refs++;		/* the connection's reference */
	conn = tg_conn_new(cfg, 1);

	ck_assert_int_eq(tg_ip_parse(ip, &addr), 0);
	tg_conn_set_ip(conn, &addr);
	msg = tg_msg_new(conn);
	for (size_t i = 0; hdrs[i] != NULL; i += 2) {
		struct tg_phase_arg h = { .hname = hdrs[i], .hvalue = hdrs[i + 1] };

		tg_session_phase(msg, TG_PH_HEADER, &h);
	}
	tg_check_dmarc.on_phase(cfg->check_global[dmarc_index()], msg, TG_PH_EOM, NULL);
	*connp = conn;
	return tg_msg_result(msg, "dmarc");
}

/* a From field without one author domain: permerror, no domain, no
   policy, the reason from util/from.c, and the problem named */
static const struct from_case {
	const char *hdrs[7];		/* name, value, ..., NULL */
	const char *reason;
	enum tg_dmarc_from problem;
} from_cases[] = {
	{ { "From", "a@example.com", "From", "b@evil.example" },
	  "multiple From headers: 2", TG_DMARC_FROM_MULTIPLE },
	{ { "From", "a@example.com", "Subject", "x", "from ", "b@evil.example" },
	  "multiple From headers: 2", TG_DMARC_FROM_MULTIPLE },
	{ { "From", "a@example.com, b@evil.example", "Subject", "x" },
	  "multiple From addresses: 2", TG_DMARC_FROM_MULTIPLE },
	{ { "From", "A <a@example.com>, \"B, (c@x.example)\" <b@evil.example>" },
	  "multiple From addresses: 2", TG_DMARC_FROM_MULTIPLE },
	{ { "Subject", "x" }, "no From header", TG_DMARC_FROM_MISSING },
	{ { NULL }, "no From header", TG_DMARC_FROM_MISSING },
	{ { "From", "friends: a@example.com, b@evil.example;" }, "group syntax in From",
	  TG_DMARC_FROM_INVALID },
	{ { "From", "alice" }, "From address without @", TG_DMARC_FROM_INVALID },
	{ { "From", "" }, "empty From header", TG_DMARC_FROM_INVALID },
	{ { "From", "a@[192.0.2.1]" }, "address literal in From", TG_DMARC_FROM_INVALID },
	{ { "From", "a@exa_mple.com" }, "From domain is not a valid DNS name",
	  TG_DMARC_FROM_INVALID },
};

START_TEST(test_check_from_errors)
{
	const struct from_case *c = &from_cases[_i];
	const struct tg_result *r;
	struct tg_conn *conn;

	r = run_eom(shared_cfg, "198.51.100.7", c->hdrs, &conn);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->outcome, TG_PERMERROR);
	ck_assert_str_eq(r->reason, c->reason);
	ck_assert_ptr_null(r->policy);
	ck_assert_ptr_null(r->domain);
	ck_assert_ptr_null(r->props);
	ck_assert(!r->internal);
	ck_assert_int_eq(tg_dmarc_from_problem(r), c->problem);
	tg_conn_free(&conn);
	/* a trusted client is not checked (CheckTrustedClients no) */
	r = run_eom(shared_cfg, "192.0.2.1", c->hdrs, &conn);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(tg_dmarc_from_problem(r), TG_DMARC_FROM_OK);
	tg_conn_free(&conn);
}
END_TEST

/* invalid_record - tg_dns_hook: every name holds one TXT record, an
   invalid DMARC record */
static struct ub_result *
invalid_record(const char *name, int type)
{
	static const char rdata[] = "\021v=DMARC1; p=bogus";	/* one character-string */
	struct ub_result *res = xcalloc(1, sizeof(*res));

	res->qname = xstrdup(name);
	res->qtype = type;
	res->qclass = 1;
	res->data = xcalloc(2, sizeof(*res->data));
	res->len = xcalloc(2, sizeof(*res->len));
	res->data[0] = xmalloc(sizeof(rdata) - 1);
	memcpy(res->data[0], rdata, sizeof(rdata) - 1);
	res->len[0] = (int)sizeof(rdata) - 1;
	res->havedata = type == ns_t_txt;
	return res;
}

/* an invalid record is a permerror too, but with the From domain: no
   From problem */
START_TEST(test_check_invalid_record)
{
	static const char *const hdrs[] = { "From", "A <a@broken.example>", NULL };
	const struct tg_result *r;
	struct tg_conn *conn;

	tg_dns_hook = invalid_record;
	r = run_eom(shared_cfg, "198.51.100.7", hdrs, &conn);
	tg_dns_hook = NULL;
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(r->outcome == TG_PERMERROR, "%s: %s", tg_outcome_name(r->outcome),
	    r->reason);
	ck_assert_str_eq(r->reason, "invalid DMARC record at _dmarc.broken.example: Found "
	    "DMARC record contained a bad token value");
	ck_assert_str_eq(r->domain, "broken.example");
	ck_assert_str_eq(r->props, "header.from=broken.example");
	ck_assert_ptr_null(r->policy);
	ck_assert_int_eq(tg_dmarc_from_problem(r), TG_DMARC_FROM_OK);
	tg_conn_free(&conn);
}
END_TEST

/* DNS down: temperror within the time limits, never fail */
START_TEST(test_check_dns_down)
{
	static const char *const hdrs[] = { "From", "A <a@dns-down.example>", NULL };
	const struct tg_result *r;
	struct tg_conn *conn;
	struct timespec t0, t1;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = run_eom(shared_cfg, "198.51.100.7", hdrs, &conn);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(r->outcome == TG_TEMPERROR, "%s: %s", tg_outcome_name(r->outcome),
	    r->reason);
	ck_assert_msg(strstr(r->reason, "_dmarc.dns-down.example") != NULL, "%s", r->reason);
	ck_assert_str_eq(r->domain, "dns-down.example");
	ck_assert_str_eq(r->props, "header.from=dns-down.example");
	ck_assert_ptr_null(r->policy);
	ck_assert_msg(ms < 1500, "took %.0f ms", ms);
	tg_conn_free(&conn);
}
END_TEST

START_TEST(test_check_setup_error)
{
	struct tg_strbuf err = { 0 };
	struct tg_config *cfg = load_cfg("PublicSuffixList /nonexistent/psl.dat\n", &err);

	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(tg_strbuf_str(&err), "dmarc: PublicSuffixList /nonexistent/psl.dat: "
	    "No such file or directory") != NULL, "%s", tg_strbuf_str(&err));
	tg_strbuf_free(&err);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dmarc");
	TCase *tc;
	int rc;

	if (access(PSL_FILE, R_OK) != 0) {
		printf("SKIP: %s missing (Debian package publicsuffix)\n", PSL_FILE);
		return 77;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	tc = tg_test_tcase(s, "psl");
	tcase_add_checked_fixture(tc, psl_setup, psl_teardown);
	TG_LOOP_TEST(tc, test_org_domain, org_cases);
	tcase_add_test(tc, test_org_domain_long);
	tcase_add_test(tc, test_psl_missing);
	tcase_add_test(tc, test_psl_two_snapshots);
	TG_LOOP_TEST(tc, test_org_domain_tiny, tiny_cases);
	TG_LOOP_TEST(tc, test_aligned, align_cases);

	tc = tg_test_tcase(s, "discovery");
	TG_LOOP_TEST(tc, test_is_record, record_cases);
	TG_LOOP_TEST(tc, test_discover, discover_cases);

	tc = tg_test_tcase(s, "result");
	tcase_add_checked_fixture(tc, psl_setup, psl_teardown);
	TG_LOOP_TEST(tc, test_evaluate, eval_cases);
	tcase_add_test(tc, test_evaluate_no_record);
	tcase_add_test(tc, test_sampling_random);

	tc = tg_test_tcase(s, "from");
	TG_LOOP_TEST(tc, test_from_problem, problem_cases);

	tc = tg_test_tcase(s, "check");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, cfg_setup, cfg_teardown);
	TG_LOOP_TEST(tc, test_check_from_errors, from_cases);
	tcase_add_test(tc, test_check_invalid_record);
	tcase_add_test(tc, test_check_dns_down);
	tcase_add_test(tc, test_check_setup_error);

	rc = tg_test_run(s);
	tg_test_rmtree(dir);
	return rc;
}
