/*
 * test_policy - the policy language: every malformed input with its
 * exact error, and the evaluator on messages built by hand (check
 * results, client, envelope, headers, size), including the shipped
 * conf/policy.conf.
 */
#include "autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "session.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "runner.h"

static char dir[] = "/tmp/tg-policy-XXXXXX";
static char cfg_path[256];

/* ---------------------------------------------------------------- parse errors */

static const struct error_case {
	const char *text, *error;
} error_cases[] = {
	{ "bogus\n", "t:1:1: expected \"set\", \"list\" or \"rule\", got \"bogus\"\n" },
	{ "rule a: always -> accept\n  rule b: always -> tag\n",
	  "t:2:3: expected end of line, got \"rule\"\n" },
	{ "set tag-threshold\n", "t:1:18: expected a number, got end of line\n" },
	{ "set tag-threshold five\n", "t:1:19: expected a number, got \"five\"\n" },
	{ "set tag-threshold 1e400\n", "t:1:19: expected a number, got \"1e400\"\n" },
	{ "set spam-threshold 5\n",
	  "t:1:5: expected tag-threshold, quarantine-threshold, reject-threshold, "
	  "reject-reply or tempfail-reply, got \"spam-threshold\"\n" },
	{ "set reject-reply 450 4.7.1 \"no\"\n",
	  "t:1:18: expected a 5xx reply code, got \"450 4.7.1\"\n" },
	{ "set reject-reply 550 5.7.1\n",
	  "t:1:27: expected a reply text in double quotes, got end of line\n" },
	{ "rule a always -> accept\n", "t:1:8: expected ':' after the rule name, got \"always\"\n" },
	{ "rule 1a: always -> accept\n",
	  "t:1:6: expected a rule name (letters, digits, '-', '_'), got \"1a\"\n" },
	{ "rule a: always -> accept\nrule a: always -> tag\n",
	  "t:2:6: expected a new rule name, got \"a\" (used before)\n" },
	{ "rule a: spf is pass\n", "t:1:20: expected \"and\", \"or\" or \"->\", got end of line\n" },
	{ "rule a: spf pass -> tag\n", "t:1:13: expected \"is\", got \"pass\"\n" },
	{ "rule a: spf is great -> tag\n",
	  "t:1:16: expected an SPF result (pass, fail, softfail, neutral, none, temperror, "
	  "permerror), got \"great\"\n" },
	{ "rule a: dmarc is softfail -> tag\n",
	  "t:1:18: expected a DMARC result (pass, fail, none, temperror, permerror), "
	  "got \"softfail\"\n" },
	{ "rule a: spf is pass, -> tag\n",
	  "t:1:22: expected an SPF result (pass, fail, softfail, neutral, none, temperror, "
	  "permerror), got \"->\"\n" },
	{ "rule a: dmarc-policy is maybe -> tag\n",
	  "t:1:25: expected a DMARC policy (none, quarantine, reject), got \"maybe\"\n" },
	{ "rule a: dmarc-from is several -> tag\n",
	  "t:1:23: expected a From problem (missing, multiple, invalid), got \"several\"\n" },
	{ "rule a: dmarc-from is permerror -> tag\n",
	  "t:1:23: expected a From problem (missing, multiple, invalid), got \"permerror\"\n" },
	{ "rule a: dmarc-from is multiple, -> tag\n",
	  "t:1:33: expected a From problem (missing, multiple, invalid), got \"->\"\n" },
	{ "rule a: dmarc-from is\n",
	  "t:1:22: expected a From problem (missing, multiple, invalid), got end of line\n" },
	{ "rule a: dmarc-from multiple -> tag\n", "t:1:20: expected \"is\", got \"multiple\"\n" },
	{ "rule a: dmarc-from ~ /multiple/ -> tag\n", "t:1:20: expected \"is\", got \"~\"\n" },
	{ "rule a: always -> tag\n\nrule b: dmarc is permerror\n"
	  "    and not dmarc-from is Multiple -> tag\n",
	  "t:4:27: expected a From problem (missing, multiple, invalid), got \"Multiple\"\n" },
	{ "rule a: weather is fine -> tag\n",
	  "t:1:9: expected a condition (spf, spf-helo, dkim, dmarc, dmarc-policy, dmarc-from, "
	  "client, authenticated, tls, trusted, helo, sender, sender-domain, recipient, "
	  "recipient-domain, size, header, always, not, '('), got \"weather\"\n" },
	{ "rule a: client in friends -> accept\n",
	  "t:1:19: expected a list name defined above, an address or a CIDR, got \"friends\"\n" },
	{ "rule a: client in 192.0.2.1/24 -> accept\n",
	  "t:1:19: expected an address or CIDR, got \"192.0.2.1/24\" (address has bits set beyond the prefix length)\n" },
	{ "list l = example.org, 10.0.0.0/8\nrule a: client in l -> accept\n",
	  "t:2:19: expected a list of addresses or CIDRs, got \"example.org\" in list l\n" },
	{ "list l = a\nlist l = b\n", "t:2:6: expected a new list name, got \"l\" (defined before)\n" },
	{ "list l a, b\n", "t:1:8: expected '=', got \"a\"\n" },
	{ "list l = a,\n", "t:1:12: expected a list item, got end of line\n" },
	{ "rule a: sender in nolist -> reject\n",
	  "t:1:19: expected the name of a list defined above, got \"nolist\"\n" },
	{ "rule a: helo equals x -> tag\n", "t:1:14: expected \"is\", \"in\" or \"~\", got \"equals\"\n" },
	{ "rule a: helo ~ foo -> tag\n", "t:1:16: expected a regular expression /.../, got \"foo\"\n" },
	{ "rule a: helo ~ /foo -> tag\n", "t:1:16: expected a regular expression /.../, got \"/foo -> tag\"\n" },
	{ "rule a: helo ~ /(/ -> tag\n",
	  "t:1:16: expected a valid regular expression, got /(/ (Unmatched ( or \\()\n" },
	/* repetitions glibc's regcomp() would copy out into gigabytes */
	{ "rule a: helo ~ /a++++++++++++++++++++++++++++++/ -> tag\n",
	  "t:1:16: expected a regular expression of at most 20000 parts once its repetitions "
	  "are expanded, got /a++++++++++++++++++++++++++++++/\n" },
	{ "rule a: helo ~ /x+?/ -> tag\n",
	  "t:1:16: expected one repetition operator at a time (group the expression to "
	  "repeat it again), got /x+?/\n" },
	{ "rule a: helo ~ /x{2}*/ -> tag\n",
	  "t:1:16: expected one repetition operator at a time (group the expression to "
	  "repeat it again), got /x{2}*/\n" },
	{ "rule a: helo ~ /(a*)*\\1b/ -> tag\n",
	  "t:1:16: expected a regular expression without back-references (\\1 to \\9), "
	  "got /(a*)*\\x5c1b/\n" },
	{ "rule a: header Subject ~ /((a{99}){99}){99}/ -> tag\n",
	  "t:1:26: expected a regular expression of at most 20000 parts once its repetitions "
	  "are expanded, got /((a{99}){99}){99}/\n" },
	{ "rule a: helo ~ /x\033(/ -> tag\n",
	  "t:1:16: expected a valid regular expression, got /x\\x1b(/ (Unmatched ( or \\()\n" },
	{ "rule a: size > big -> reject\n",
	  "t:1:16: expected a size in bytes (K, M, G suffixes allowed), got \"big\"\n" },
	{ "rule a: size = 5 -> reject\n", "t:1:14: expected '>', '>=', '<' or '<=', got \"=\"\n" },
	{ "rule a: header Subject -> tag\n", "t:1:24: expected \"~\" or \"exists\", got \"->\"\n" },
	{ "rule a: header -> tag\n", "t:1:16: expected a header name, got \"->\"\n" },
	{ "rule a: (spf is fail -> tag\n", "t:1:22: expected ')', got \"->\"\n" },
	{ "rule a: always -> drop\n",
	  "t:1:19: expected an action (accept, tag, quarantine, reject, tempfail, score), got \"drop\"\n" },
	{ "rule a: always -> score lots\n", "t:1:25: expected a number, got \"lots\"\n" },
	{ "rule a: always -> reject 550 \"x\"\n",
	  "t:1:30: expected an enhanced status code like 5.7.1, got \"\\x22x\\x22\"\n" },
	{ "rule a: always -> tempfail 550 5.7.1 \"x\"\n",
	  "t:1:28: expected a 4xx reply code, got \"550 5.7.1\"\n" },
	{ "rule a: always -> reject \"unterminated\n", "t:1:26: expected a closing '\"', got \"\\x22unterminated\"\n" },
	{ "rule a: always -> tag please\n", "t:1:23: expected end of line, got \"please\"\n" },
	{ "rule a: always -> tag ~\n", "t:1:23: expected end of line, got \"~\"\n" },
	{ "list l = file:does-not-exist\n",
	  "t:1:10: cannot open list file does-not-exist: No such file or directory\n" },
	/* every error is reported, one per statement */
	{ "bogus\nrule a: spf is x -> tag\nrule b: always -> tag\nset q 1\n",
	  "t:1:1: expected \"set\", \"list\" or \"rule\", got \"bogus\"\n"
	  "t:2:16: expected an SPF result (pass, fail, softfail, neutral, none, temperror, "
	  "permerror), got \"x\"\n"
	  "t:4:5: expected tag-threshold, quarantine-threshold, reject-threshold, "
	  "reject-reply or tempfail-reply, got \"q\"\n" },
	/* control characters in what we echo back are escaped */
	{ "rule a: helo is x -> tag \x01\n", "t:1:26: expected end of line, got \"\\x01\"\n" },
};

START_TEST(test_parse_error)
{
	const struct error_case *c = &error_cases[_i];
	struct tg_strbuf err = { 0 };
	struct tg_policy *p = tg_policy_parse("t", c->text, &err);

	ck_assert_msg(p == NULL, "case %d parsed", _i);
	ck_assert_str_eq(tg_strbuf_str(&err), c->error);
	tg_strbuf_free(&err);
}
END_TEST

static const char *const good_policies[] = {
	"",
	"# only a comment\n\n   \n",
	"rule a: always -> accept",	/* no final newline */
	"rule a:\n  spf is fail\n  # a comment inside\n\n  and dkim is fail\n  -> score 2.5\n",
	"rule a : always -> tag\n",
	"rule a: not not not always -> tag\n",
	"rule a: spf is fail->reject\n",
	"rule a: helo ~ /a\\/b/i -> tag\n",
	"rule a: client in ::1 or client in 2001:db8::/32 or client in 192.0.2.7 -> accept\n",
	"list l = \"quoted item\", x.example\nrule a: helo in l -> tag monitor\n",
	"set reject-reply 554 5.7.1 \"Go away\"\nset tempfail-reply 421 4.3.2 \"later\"\n",
	"rule a: header \"X-Weird_Name\" exists -> score -1\n",
	"rule a: dmarc-from is missing,multiple , invalid -> reject\n",
	"rule a: dmarc is permerror and not dmarc-from is multiple -> tag\n",
};

START_TEST(test_parse_good)
{
	struct tg_strbuf err = { 0 };
	struct tg_policy *p = tg_policy_parse("t", good_policies[_i], &err);

	ck_assert_msg(p != NULL, "case %d: %s", _i, tg_strbuf_str(&err));
	ck_assert_str_eq(tg_strbuf_str(&err), "");
	tg_policy_free(&p);
	ck_assert_ptr_null(p);
	tg_strbuf_free(&err);
}
END_TEST

START_TEST(test_nesting_limit)
{
	struct tg_strbuf text = { 0 }, err = { 0 };
	struct tg_policy *p;

	tg_strbuf_append(&text, "rule a: ");
	for (int i = 0; i < 1000; i++)
		tg_strbuf_append(&text, "(");
	tg_strbuf_append(&text, "always");
	for (int i = 0; i < 1000; i++)
		tg_strbuf_append(&text, ")");
	tg_strbuf_append(&text, " -> tag\n");
	p = tg_policy_parse("t", tg_strbuf_str(&text), &err);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(tg_strbuf_str(&err), "expected at most 64 nested conditions"));
	tg_strbuf_free(&text);
	tg_strbuf_free(&err);
}
END_TEST

START_TEST(test_load_file)
{
	char path[256], listpath[256], want[512];
	struct tg_strbuf err = { 0 };
	struct tg_policy *p;
	FILE *fp;

	snprintf(listpath, sizeof(listpath), "%s/nets", dir);
	fp = fopen(listpath, "w");
	fputs("# partners\n192.0.2.0/24, 198.51.100.0/24\n2001:db8::/32\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/p.conf", dir);
	fp = fopen(path, "w");
	fputs("list nets = file:nets\nrule partners: client in nets -> accept\n", fp);
	fclose(fp);
	p = tg_policy_load(path, &err);
	ck_assert_msg(p != NULL, "%s", tg_strbuf_str(&err));
	ck_assert_uint_eq(tg_policy_nrules(p), 1);
	tg_policy_free(&p);

	/* a NUL byte is refused */
	fp = fopen(path, "w");
	fwrite("rule a: always -> tag\n\0", 1, 23, fp);
	fclose(fp);
	p = tg_policy_load(path, &err);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(tg_strbuf_str(&err), "expected a text file, got a NUL byte"));
	tg_strbuf_truncate(&err, 0);

	/* an error names the file and the line */
	fp = fopen(path, "w");
	fputs("# From problems\nrule from: dmarc-from is multiple,\n    absent -> reject\n", fp);
	fclose(fp);
	p = tg_policy_load(path, &err);
	ck_assert_ptr_null(p);
	snprintf(want, sizeof(want), "%s:3:5: expected a From problem (missing, multiple, "
	    "invalid), got \"absent\"\n", path);
	ck_assert_str_eq(tg_strbuf_str(&err), want);
	tg_strbuf_truncate(&err, 0);

	p = tg_policy_load("/nonexistent/policy.conf", &err);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(tg_strbuf_str(&err),
	    "/nonexistent/policy.conf: cannot open policy file: No such file or directory\n");
	tg_strbuf_truncate(&err, 0);

	/* the file name is the admin's, any bytes: the error is one printable
	   line all the same (found by fuzz_config) */
	p = tg_policy_load("/nonexistent/p\r\n\tx\377.conf", &err);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(tg_strbuf_str(&err), "/nonexistent/p\\x0d\\x0a\\x09x\\xff.conf: "
	    "cannot open policy file: No such file or directory\n");
	tg_strbuf_free(&err);
}
END_TEST

/* ---------------------------------------------------------------- evaluation */

/* a message as the policy sees it */
struct facts {
	const char *ip, *helo, *auth, *tls, *sender;
	const char *rcpts[4];
	const char *spf, *dkim[3], *dmarc, *dmarc_policy;
	const char *dmarc_reason, *dmarc_domain;	/* as the DMARC check records them */
	const char *headers[4][2];
	unsigned long long size;
};

static struct tg_conn *conn;

static struct tg_msg *
make_msg(const struct facts *f)
{
	struct tg_msg *msg;
	struct tg_ip ip;
	const char *err;
	struct tg_strbuf cerr = { 0 };
	struct tg_config *cfg = tg_config_load(cfg_path, &cerr);

	ck_assert_msg(cfg != NULL, "%s", tg_strbuf_str(&cerr));
	tg_strbuf_free(&cerr);
	/* the connection owns this reference */
	conn = tg_conn_new(cfg, 1);
	ck_assert_int_eq(tg_ip_parse(f->ip ? f->ip : "198.51.100.7", &ip), 0);
	tg_conn_set_ip(conn, &ip);
	conn->helo = xstrdup(f->helo ? f->helo : "mx.sender.example");
	conn->auth_user = f->auth ? xstrdup(f->auth) : NULL;
	conn->tls_version = f->tls ? xstrdup(f->tls) : NULL;
	msg = tg_msg_new(conn);
	msg->sender_raw = f->sender ? f->sender : "<alice@sender.example>";
	msg->sender_ok = tg_addr_parse(msg->arena, msg->sender_raw, &msg->sender, &err) == 0;
	msg->rcpts = tg_arena_alloc(msg->arena, 4 * sizeof(*msg->rcpts));
	for (size_t i = 0; i < 4 && f->rcpts[i] != NULL; i++)
		msg->rcpts[msg->nrcpts++] = f->rcpts[i];
	if (msg->nrcpts == 0)
		msg->rcpts[msg->nrcpts++] = "<bob@example.org>";
	if (f->spf)
		tg_result_add(msg, "spf", tg_outcome_parse(f->spf), TG_PH_MAIL, NULL);
	for (size_t i = 0; i < 3 && f->dkim[i] != NULL; i++)
		tg_result_add(msg, "dkim", tg_outcome_parse(f->dkim[i]), TG_PH_EOM, NULL);
	if (f->dmarc) {
		struct tg_result *r = tg_result_add(msg, "dmarc", tg_outcome_parse(f->dmarc),
		    TG_PH_EOM, NULL);

		r->reason = f->dmarc_reason;
		r->policy = f->dmarc_policy;
		r->domain = f->dmarc_domain;
	}
	for (size_t i = 0; i < 4 && f->headers[i][0] != NULL; i++) {
		struct tg_phase_arg arg = { .hname = f->headers[i][0], .hvalue = f->headers[i][1] };

		tg_session_phase(msg, TG_PH_HEADER, &arg);
	}
	msg->size = f->size ? f->size : 2000;
	return msg;
}

struct eval_case {
	const char *name, *policy;
	struct facts facts;
	const char *action, *rule, *code, *xcode, *text, *reasons;
	double score;
};

#define TAGPOL "set tag-threshold 5\nset quarantine-threshold 10\nset reject-threshold 20\n"

/* From problems apart from an invalid DMARC record (dmarc is permerror
   for both); the facts as the DMARC check records them */
#define FROMPOL "rule multi-from: dmarc-from is multiple\n" \
	"    -> reject 550 5.7.1 \"Ambiguous From header\"\n" \
	"rule bad-from: dmarc-from is missing, invalid -> quarantine\n" \
	"rule dmarc-broken: dmarc is permerror -> tag\n"
#define FROM_PROBLEM(why) .dmarc = "permerror", .dmarc_reason = (why)
#define BAD_RECORD .dmarc = "permerror", .dmarc_domain = "example.com", \
	.dmarc_reason = "invalid DMARC record at _dmarc.example.com: Found DMARC record " \
	"contained a bad token value"

static const struct eval_case eval_cases[] = {
	{ "empty policy accepts", "", { 0 }, "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "always reject, defaults", "rule r: always -> reject\n", { 0 },
	  "reject", "r", "550", "5.7.1", "Message rejected by policy", "rule r", 0 },
	{ "reject with own reply", "rule r: always -> reject 554 5.7.0 \"Not here\"\n", { 0 },
	  "reject", "r", "554", "5.7.0", "Not here", "rule r", 0 },
	{ "reject text only", "rule r: always -> reject \"Nope\"\n", { 0 },
	  "reject", "r", "550", "5.7.1", "Nope", "rule r", 0 },
	{ "set reject-reply is the default",
	  "set reject-reply 554 5.7.9 \"Policy\"\nrule r: always -> reject\n", { 0 },
	  "reject", "r", "554", "5.7.9", "Policy", "rule r", 0 },
	{ "tempfail defaults", "rule r: always -> tempfail\n", { 0 },
	  "tempfail", "r", "451", "4.7.1", "Message deferred by policy, try again later", "rule r", 0 },
	{ "quarantine with reason", "rule q: always -> quarantine \"held for review\"\n", { 0 },
	  "quarantine", "q", "250", "2.0.0", "held for review", "rule q", 0 },
	{ "first stopping rule wins",
	  "rule a: always -> tag\nrule b: always -> reject\n", { 0 },
	  "tag", "a", "250", "2.0.0", NULL, "rule a", 0 },
	{ "allow list before block",
	  "list ok = 198.51.100.0/24\nrule allow: client in ok -> accept\nrule b: always -> reject\n",
	  { 0 }, "accept", "allow", "250", "2.0.0", NULL, "rule allow", 0 },
	{ "client v6 list", "list ok = 2001:db8::/32\nrule allow: client in ok -> reject\n",
	  { .ip = "2001:db8::5" }, "reject", "allow", "550", "5.7.1", "Message rejected by policy", "rule allow", 0 },
	{ "client v4 not in v6 list", "list ok = 2001:db8::/32\nrule allow: client in ok -> reject\n",
	  { 0 }, "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "client bare address", "rule x: client in 198.51.100.7 -> tag\n", { 0 },
	  "tag", "x", "250", "2.0.0", NULL, "rule x", 0 },
	{ "spf fail scores below tag", TAGPOL "rule s: spf is fail -> score 3\n",
	  { .spf = "fail" }, "accept", NULL, "250", "2.0.0", NULL, "s(+3.0)", 3 },
	{ "scores add up to tag",
	  TAGPOL "rule s: spf is fail -> score 3\nrule d: dkim is fail -> score 3\n",
	  { .spf = "fail", .dkim = { "fail" } }, "tag", "tag-threshold", "250", "2.0.0", NULL,
	  "s(+3.0); d(+3.0); score 6.0 >= tag-threshold 5.0", 6 },
	{ "scores add up to quarantine",
	  TAGPOL "rule s: spf is fail -> score 6\nrule d: dkim is fail -> score 6\n",
	  { .spf = "fail", .dkim = { "fail" } }, "quarantine", "quarantine-threshold", "250", "2.0.0",
	  NULL, "s(+6.0); d(+6.0); score 12.0 >= quarantine-threshold 10.0", 12 },
	{ "scores add up to reject",
	  TAGPOL "rule s: spf is fail -> score 12\nrule d: dkim is fail -> score 8.5\n",
	  { .spf = "fail", .dkim = { "fail" } }, "reject", "reject-threshold", "550", "5.7.1",
	  "Message rejected by policy", "s(+12.0); d(+8.5); score 20.5 >= reject-threshold 20.0", 20.5 },
	{ "negative score", TAGPOL "rule s: spf is fail -> score 6\nrule d: dkim is pass -> score -2\n",
	  { .spf = "fail", .dkim = { "pass" } }, "accept", NULL, "250", "2.0.0", NULL,
	  "s(+6.0); d(-2.0)", 4 },
	{ "no thresholds: score alone accepts", "rule s: always -> score 100\n", { 0 },
	  "accept", NULL, "250", "2.0.0", NULL, "s(+100.0)", 100 },
	{ "no result counts as none", "rule n: spf is none -> tag\n", { 0 },
	  "tag", "n", "250", "2.0.0", NULL, "rule n", 0 },
	{ "spf-helo is its own result", "rule h: spf-helo is fail -> reject\nrule s: spf is fail -> tag\n",
	  { .spf = "fail" }, "tag", "s", "250", "2.0.0", NULL, "rule s", 0 },
	{ "result list", "rule n: spf is temperror, permerror -> tempfail\n", { .spf = "permerror" },
	  "tempfail", "n", "451", "4.7.1", "Message deferred by policy, try again later", "rule n", 0 },
	{ "any dkim signature", "rule d: dkim is pass -> accept\nrule x: always -> tag\n",
	  { .dkim = { "fail", "pass" } }, "accept", "d", "250", "2.0.0", NULL, "rule d", 0 },
	{ "dkim none is not fail", "rule d: dkim is none -> tag\n", { .dkim = { "fail" } },
	  "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "dmarc reject", "rule dr: dmarc is fail and dmarc-policy is reject -> reject\n",
	  { .dmarc = "fail", .dmarc_policy = "reject" }, "reject", "dr", "550", "5.7.1",
	  "Message rejected by policy", "rule dr", 0 },
	{ "dmarc pass with p=reject", "rule dr: dmarc is fail and dmarc-policy is reject -> reject\n",
	  { .dmarc = "pass", .dmarc_policy = "reject" }, "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "two From fields", FROMPOL, { FROM_PROBLEM("multiple From headers: 2") },
	  "reject", "multi-from", "550", "5.7.1", "Ambiguous From header", "rule multi-from", 0 },
	{ "two From addresses", FROMPOL, { FROM_PROBLEM("multiple From addresses: 2") },
	  "reject", "multi-from", "550", "5.7.1", "Ambiguous From header", "rule multi-from", 0 },
	{ "no From", FROMPOL, { FROM_PROBLEM("no From header") },
	  "quarantine", "bad-from", "250", "2.0.0", NULL, "rule bad-from", 0 },
	{ "unparsable From", FROMPOL, { FROM_PROBLEM("group syntax in From") },
	  "quarantine", "bad-from", "250", "2.0.0", NULL, "rule bad-from", 0 },
	{ "invalid DMARC record is no From problem", FROMPOL, { BAD_RECORD },
	  "tag", "dmarc-broken", "250", "2.0.0", NULL, "rule dmarc-broken", 0 },
	{ "DMARC fail is no From problem", FROMPOL,
	  { .dmarc = "fail", .dmarc_domain = "example.com", .dmarc_policy = "reject" },
	  "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "no DMARC result is no From problem", FROMPOL, { .spf = "pass" },
	  "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "dmarc-from list", "rule f: dmarc-from is missing, multiple -> reject\n",
	  { FROM_PROBLEM("no From header") }, "reject", "f", "550", "5.7.1",
	  "Message rejected by policy", "rule f", 0 },
	{ "dmarc-from list, other problem", "rule f: dmarc-from is missing, multiple -> reject\n",
	  { FROM_PROBLEM("From address without @") }, "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "not dmarc-from", "rule r: dmarc is permerror and not dmarc-from is missing, multiple,"
	  "invalid -> score 2\n", { BAD_RECORD }, "accept", NULL, "250", "2.0.0", NULL,
	  "r(+2.0)", 2 },
	{ "dmarc is permerror: a From problem", "rule p: dmarc is permerror -> reject\n",
	  { FROM_PROBLEM("multiple From headers: 2") }, "reject", "p", "550", "5.7.1",
	  "Message rejected by policy", "rule p", 0 },
	{ "dmarc is permerror: an invalid record", "rule p: dmarc is permerror -> reject\n",
	  { BAD_RECORD }, "reject", "p", "550", "5.7.1", "Message rejected by policy", "rule p", 0 },
	{ "or and precedence", "rule x: spf is pass or spf is fail and dkim is pass -> tag\n",
	  { .spf = "pass", .dkim = { "fail" } }, "tag", "x", "250", "2.0.0", NULL, "rule x", 0 },
	{ "parentheses", "rule x: (spf is pass or spf is fail) and dkim is pass -> tag\n",
	  { .spf = "pass", .dkim = { "fail" } }, "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "not", "rule x: not authenticated -> tag\n", { .auth = "bob" },
	  "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "authenticated", "rule x: authenticated -> accept\nrule y: always -> reject\n",
	  { .auth = "bob" }, "accept", "x", "250", "2.0.0", NULL, "rule x", 0 },
	{ "tls", "rule x: not tls -> score 1\n", { .tls = "TLSv1.3" },
	  "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "trusted", "rule x: trusted -> accept\nrule y: always -> tag\n", { .ip = "127.0.0.1" },
	  "accept", "x", "250", "2.0.0", NULL, "rule x", 0 },
	{ "helo is, any case", "rule h: helo is BAD.example -> reject\n", { .helo = "bad.EXAMPLE" },
	  "reject", "h", "550", "5.7.1", "Message rejected by policy", "rule h", 0 },
	{ "helo regex", "rule h: helo ~ /^[0-9.]+$/ -> score 2\n", { .helo = "192.0.2.4" },
	  "accept", NULL, "250", "2.0.0", NULL, "h(+2.0)", 2 },
	{ "helo list of domains", "list bad = .dyn.example\nrule h: helo in bad -> tag\n",
	  { .helo = "host-1.dyn.example" }, "tag", "h", "250", "2.0.0", NULL, "rule h", 0 },
	{ "sender is", "rule s: sender is Alice@SENDER.example -> tag\n",
	  { .sender = "<Alice@sender.EXAMPLE>" }, "tag", "s", "250", "2.0.0", NULL, "rule s", 0 },
	{ "sender local part is case-sensitive", "rule s: sender is alice@sender.example -> tag\n",
	  { .sender = "<Alice@sender.example>" }, "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "null sender", "rule s: sender is <> -> tag\n", { .sender = "<>" },
	  "tag", "s", "250", "2.0.0", NULL, "rule s", 0 },
	{ "sender in list by @domain", "list blk = spam@x.example, @bad.example\n"
	  "rule s: sender in blk -> reject\n", { .sender = "<any@bad.example>" },
	  "reject", "s", "550", "5.7.1", "Message rejected by policy", "rule s", 0 },
	{ "sender in list by address", "list blk = spam@x.example, @bad.example\n"
	  "rule s: sender in blk -> reject\n", { .sender = "<spam@x.example>" },
	  "reject", "s", "550", "5.7.1", "Message rejected by policy", "rule s", 0 },
	{ "sender in list: other address", "list blk = spam@x.example, @bad.example\n"
	  "rule s: sender in blk -> reject\n", { .sender = "<ham@x.example>" },
	  "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "sender in list by subdomain pattern", "list blk = .bad.example\n"
	  "rule s: sender in blk -> reject\n", { .sender = "<a@mx.bad.example>" },
	  "reject", "s", "550", "5.7.1", "Message rejected by policy", "rule s", 0 },
	{ "sender regex", "rule s: sender ~ /^bounce-[0-9]+@/ -> score 1\n",
	  { .sender = "<bounce-123@lists.example>" }, "accept", NULL, "250", "2.0.0", NULL,
	  "s(+1.0)", 1 },
	{ "sender-domain is", "rule s: sender-domain is sender.example -> tag\n", { 0 },
	  "tag", "s", "250", "2.0.0", NULL, "rule s", 0 },
	{ "sender-domain in, apex only", "list l = sender.example\nrule s: sender-domain in l -> tag\n",
	  { .sender = "<a@sub.sender.example>" }, "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "any recipient", "rule r: recipient is ceo@example.org -> quarantine\n",
	  { .rcpts = { "<bob@example.org>", "<ceo@Example.ORG>" } }, "quarantine", "r", "250", "2.0.0",
	  NULL, "rule r", 0 },
	{ "recipient-domain", "rule r: recipient-domain is example.org -> tag\n", { 0 },
	  "tag", "r", "250", "2.0.0", NULL, "rule r", 0 },
	{ "recipient regex icase", "rule r: recipient ~ /^BOB@/i -> tag\n", { 0 },
	  "tag", "r", "250", "2.0.0", NULL, "rule r", 0 },
	{ "size >", "rule big: size > 1M -> reject 552 5.3.4 \"Too big for us\"\n",
	  { .size = 1048577 }, "reject", "big", "552", "5.3.4", "Too big for us", "rule big", 0 },
	{ "size > at the limit", "rule big: size > 1M -> reject\n", { .size = 1048576 },
	  "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "size <=", "rule small: size <= 10K -> score -1\n", { .size = 10240 },
	  "accept", NULL, "250", "2.0.0", NULL, "small(-1.0)", -1 },
	{ "header regex", "rule h: header subject ~ /viagra/i -> tag\n",
	  { .headers = { { "From", "a@b" }, { "Subject", "Cheap VIAGRA" } } },
	  "tag", "h", "250", "2.0.0", NULL, "rule h", 0 },
	{ "header regex no match", "rule h: header Subject ~ /viagra/ -> tag\n",
	  { .headers = { { "Subject", "Cheap VIAGRA" } } }, "accept", NULL, "250", "2.0.0", NULL, "", 0 },
	{ "header second instance", "rule h: header Received ~ /evil/ -> tag\n",
	  { .headers = { { "Received", "from a" }, { "Received", "from evil" } } },
	  "tag", "h", "250", "2.0.0", NULL, "rule h", 0 },
	{ "header exists", "rule h: header List-Id exists -> score -1\n",
	  { .headers = { { "list-id", "<x.example>" } } }, "accept", NULL, "250", "2.0.0", NULL,
	  "h(-1.0)", -1 },
	{ "monitor rule does not act",
	  "rule m: always -> reject monitor\nrule s: always -> score 1 monitor\n", { 0 },
	  "accept", NULL, "250", "2.0.0", NULL,
	  "monitor: rule m would reject; monitor: rule s would score +1.0", 0 },
	{ "monitor then real rule",
	  "rule m: always -> reject monitor\nrule t: always -> tag\n", { 0 },
	  "tag", "t", "250", "2.0.0", NULL, "monitor: rule m would reject; rule t", 0 },
};

START_TEST(test_eval)
{
	const struct eval_case *c = &eval_cases[_i];
	struct tg_strbuf err = { 0 }, reasons = { 0 };
	struct tg_policy *p = tg_policy_parse("t", c->policy, &err);
	struct tg_msg *msg;
	struct tg_verdict v = { 0 };

	ck_assert_msg(p != NULL, "%s: %s", c->name, tg_strbuf_str(&err));
	msg = make_msg(&c->facts);
	tg_policy_decide(p, msg, &v);
	ck_assert_msg(strcmp(tg_action_name(v.action), c->action) == 0, "%s: action %s",
	    c->name, tg_action_name(v.action));
	if (c->rule == NULL)
		ck_assert_msg(v.rule == NULL, "%s: rule %s", c->name, v.rule);
	else
		ck_assert_msg(v.rule != NULL && strcmp(v.rule, c->rule) == 0, "%s: rule %s",
		    c->name, v.rule ? v.rule : "(null)");
	ck_assert_str_eq(tg_verdict_code(&v), c->code);
	ck_assert_str_eq(tg_verdict_xcode(&v), c->xcode);
	if (c->text == NULL)
		ck_assert_msg(v.text == NULL, "%s: text %s", c->name, v.text);
	else
		ck_assert_msg(v.text != NULL && strcmp(v.text, c->text) == 0, "%s: text %s",
		    c->name, v.text ? v.text : "(null)");
	tg_verdict_reasons(&v, &reasons);
	ck_assert_msg(strcmp(tg_strbuf_str(&reasons), c->reasons) == 0, "%s: reasons \"%s\"",
	    c->name, tg_strbuf_str(&reasons));
	ck_assert_msg(v.score == c->score, "%s: score %.2f", c->name, v.score);
	tg_strbuf_free(&reasons);
	tg_strbuf_free(&err);
	tg_conn_free(&conn);
	tg_policy_free(&p);
}
END_TEST

/* a regular expression sees the first 8 KB of a value and 50 fields of
   a name: a hostile message cannot keep regexec() busy for minutes */
START_TEST(test_regex_bounds)
{
	struct tg_strbuf err = { 0 }, big = { 0 }, late = { 0 };
	struct tg_policy *slow, *late_word, *anchored, *many;
	struct facts f = { 0 };
	struct tg_msg *msg;
	struct tg_verdict v;
	struct timespec t0, t1;

	for (int i = 0; i < 1024 * 1024; i++)
		tg_strbuf_addch(&big, 'a');
	for (int i = 0; i < 9000; i++)
		tg_strbuf_addch(&late, 'a');
	tg_strbuf_append(&late, " viagra");
	slow = tg_policy_parse("t", "rule r: header Subject ~ /([a-z]+ )+spam/ -> reject\n", &err);
	late_word = tg_policy_parse("t", "rule r: header Subject ~ /viagra/ -> reject\n", &err);
	anchored = tg_policy_parse("t", "rule r: header Subject ~ /^a+$/ -> reject\n", &err);
	many = tg_policy_parse("t", "rule r: header X-Many ~ /^hit$/ -> reject\n", &err);
	ck_assert_msg(slow && late_word && anchored && many, "%s", tg_strbuf_str(&err));

	/* 1 MB of letters: quadratic regexec() would take half an hour */
	f.headers[0][0] = "Subject";
	f.headers[0][1] = tg_strbuf_str(&big);
	msg = make_msg(&f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&v, 0, sizeof(v));
	tg_policy_decide(slow, msg, &v);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(v.action, TG_ACCEPT);
	ck_assert_msg(t1.tv_sec - t0.tv_sec < 5, "took %lds", (long)(t1.tv_sec - t0.tv_sec));
	/* the window ends at 8 KB: ^a+$ matches the start of the value */
	memset(&v, 0, sizeof(v));
	tg_policy_decide(anchored, msg, &v);
	ck_assert_int_eq(v.action, TG_REJECT);
	tg_conn_free(&conn);

	/* a word after the first 8 KB is not seen */
	f.headers[0][1] = tg_strbuf_str(&late);
	msg = make_msg(&f);
	memset(&v, 0, sizeof(v));
	tg_policy_decide(late_word, msg, &v);
	ck_assert_int_eq(v.action, TG_ACCEPT);
	tg_conn_free(&conn);

	/* the 51st field of a name is not looked at, the 50th is */
	f.headers[0][0] = NULL;
	msg = make_msg(&f);
	for (int i = 1; i <= 51; i++) {
		struct tg_phase_arg arg = { .hname = "X-Many", .hvalue = i == 51 ? "hit" : "miss" };

		tg_session_phase(msg, TG_PH_HEADER, &arg);
	}
	memset(&v, 0, sizeof(v));
	tg_policy_decide(many, msg, &v);
	ck_assert_int_eq(v.action, TG_ACCEPT);
	msg->headers[49].value = "hit";
	memset(&v, 0, sizeof(v));
	tg_policy_decide(many, msg, &v);
	ck_assert_int_eq(v.action, TG_REJECT);
	tg_conn_free(&conn);

	tg_policy_free(&slow);
	tg_policy_free(&late_word);
	tg_policy_free(&anchored);
	tg_policy_free(&many);
	tg_strbuf_free(&big);
	tg_strbuf_free(&late);
	tg_strbuf_free(&err);
}
END_TEST

/* the shipped default policy does what tollgate-policy(5) says */
static const struct shipped_case {
	struct facts facts;
	const char *action, *rule, *code;
} shipped_cases[] = {
	{ { .dmarc = "fail", .dmarc_policy = "reject" }, "reject", "dmarc-reject", "550" },
	{ { .dmarc = "fail", .dmarc_policy = "quarantine" }, "quarantine", "dmarc-quarantine", "250" },
	{ { .dmarc = "fail", .dmarc_policy = "none" }, "accept", NULL, "250" },
	{ { .spf = "fail" }, "accept", NULL, "250" },
	{ { .spf = "fail", .dkim = { "fail" } }, "tag", "tag-threshold", "250" },
	{ { .spf = "softfail", .dkim = { "fail" } }, "accept", NULL, "250" },
	/* a broken signature next to a good one is no failure */
	{ { .spf = "fail", .dkim = { "fail", "pass" } }, "accept", NULL, "250" },
	{ { .spf = "pass", .dkim = { "pass" }, .dmarc = "pass", .dmarc_policy = "reject" },
	  "accept", NULL, "250" },
};

START_TEST(test_shipped)
{
	const struct shipped_case *c = &shipped_cases[_i];
	struct tg_strbuf err = { 0 };
	struct tg_policy *p = tg_policy_load(TOP_SRCDIR "/conf/policy.conf", &err);
	struct tg_msg *msg;
	struct tg_verdict v = { 0 };

	ck_assert_msg(p != NULL, "%s", tg_strbuf_str(&err));
	msg = make_msg(&c->facts);
	tg_policy_decide(p, msg, &v);
	ck_assert_str_eq(tg_action_name(v.action), c->action);
	if (c->rule)
		ck_assert_str_eq(v.rule, c->rule);
	else
		ck_assert_ptr_null(v.rule);
	ck_assert_str_eq(tg_verdict_code(&v), c->code);
	tg_conn_free(&conn);
	tg_policy_free(&p);
	tg_strbuf_free(&err);
}
END_TEST

static void
setup(void)
{
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cfg_path, sizeof(cfg_path), "%s/tollgate.conf", dir);
	fp = fopen(cfg_path, "w");
	fputs("PolicyFile /dev/null\nLocalDomains example.org\nTrustedNetworks 127.0.0.0/8\n", fp);
	fclose(fp);
}

static void
teardown(void)
{
	ck_assert_int_eq(tg_test_rmtree(dir), 0);
	strcpy(dir + strlen(dir) - 6, "XXXXXX");
}

int
main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tg_test_tcase(s, "parse");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	TG_LOOP_TEST(tc, test_parse_error, error_cases);
	TG_LOOP_TEST(tc, test_parse_good, good_policies);
	tcase_add_test(tc, test_nesting_limit);
	tcase_add_test(tc, test_load_file);
	tc = tg_test_tcase(s, "eval");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_regex_bounds);
	TG_LOOP_TEST(tc, test_eval, eval_cases);
	TG_LOOP_TEST(tc, test_shipped, shipped_cases);
	return tg_test_run(s);
}
