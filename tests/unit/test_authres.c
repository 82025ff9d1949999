/*
 * test_authres - the Authentication-Results header we write, and the
 * recognition of headers that claim our authserv-id.
 */
#include "autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authres.h"
#include "config.h"
#include "session.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "runner.h"

static const struct ours_case {
	const char *value;
	bool ours;
} ours_cases[] = {
	{ "mx.example.org; spf=pass smtp.mailfrom=a@b.example", true },
	{ "MX.Example.ORG; none", true },
	{ "mx.example.org 1; dkim=pass", true },		/* with a version */
	{ "  (comment) mx.example.org;dkim=pass", true },
	{ "(nested (comment)) mx.example.org (x); spf=fail", true },
	{ "(escaped \\) paren) mx.example.org; spf=fail", true },
	{ "mx.example.org", true },
	{ "\tmx.example.org\n\t; spf=pass", true },
	{ "mx.example.org.evil.example; spf=pass", false },
	{ "mx.example.organic; spf=pass", false },
	{ "other.example; spf=pass (mx.example.org)", false },
	{ "x mx.example.org; spf=pass", false },
	{ "", false },
	{ "(unterminated mx.example.org; spf=pass", false },
	/* the authserv-id is a value: a quoted-string is the same id */
	{ "\"mx.example.org\"; spf=pass", true },
	{ "(c) \"MX.example.org\" 1; dkim=pass", true },
	{ "\"mx.exa\\mple.org\"; spf=pass", true },
	{ "\"mx.example.org.evil\"; spf=pass", false },
	{ "\"mx.example.org; spf=pass", false },
	{ "\"mx.example\"; spf=pass", false },
};

START_TEST(test_is_ours)
{
	const struct ours_case *c = &ours_cases[_i];

	ck_assert_msg(tg_authres_is_ours(c->value, "mx.example.org") == c->ours,
	    "\"%s\" should%s be ours", c->value, c->ours ? "" : " not");
}
END_TEST

/* msg_with - a message on a connection with a minimal config */
static struct tg_msg *
msg_with(struct tg_conn **connp, const char *auth)
{
	struct tg_conn *conn = tg_conn_new(tg_test_config(NULL,
	    "PolicyFile /dev/null\nLocalDomains example.org\n"), 3);

	conn->auth_user = auth ? xstrdup(auth) : NULL;
	*connp = conn;
	return tg_msg_new(conn);
}

START_TEST(test_forged_indexes)
{
	struct tg_conn *conn;
	struct tg_msg *msg = msg_with(&conn, NULL);
	static struct tg_header hs[] = {
		{ "Received", "from a" },
		{ "Authentication-Results", "mx.example.org; spf=pass" },	/* 1: ours */
		{ "authentication-results", "other.example; spf=fail" },	/* 2 */
		{ "Authentication-Results", "(x) MX.example.org; dkim=pass" },	/* 3: ours */
		{ "Subject", "hi" },
		{ "AUTHENTICATION-RESULTS", "mx.example.org; dmarc=pass" },	/* 4: ours */
	};
	int idx[8];

	msg->headers = hs;
	msg->nheaders = sizeof(hs) / sizeof(hs[0]);
	ck_assert_uint_eq(tg_authres_forged(msg, "mx.example.org", idx, 8), 3);
	ck_assert_int_eq(idx[0], 4);
	ck_assert_int_eq(idx[1], 3);
	ck_assert_int_eq(idx[2], 1);
	/* a cap keeps the highest ones */
	ck_assert_uint_eq(tg_authres_forged(msg, "mx.example.org", idx, 2), 2);
	ck_assert_int_eq(idx[0], 3);
	ck_assert_int_eq(idx[1], 1);
	ck_assert_uint_eq(tg_authres_forged(msg, "nobody.example", idx, 8), 0);
	msg->headers = NULL;
	msg->nheaders = 0;
	tg_conn_free(&conn);
}
END_TEST

START_TEST(test_value_none)
{
	struct tg_conn *conn;
	struct tg_msg *msg = msg_with(&conn, NULL);
	struct tg_strbuf sb = { 0 };

	tg_authres_value(msg, "mx.example.org", &sb);
	ck_assert_str_eq(sb.s, "mx.example.org; none");
	tg_strbuf_free(&sb);
	tg_conn_free(&conn);
}
END_TEST

START_TEST(test_value_results)
{
	struct tg_conn *conn;
	struct tg_msg *msg = msg_with(&conn, "bob\r\nX-Injected: 1");
	struct tg_strbuf sb = { 0 };
	struct tg_result *r;

	/* recorded out of order: written auth, spf, dkim, dmarc */
	r = tg_result_add(msg, "dmarc", TG_FAIL, TG_PH_EOM, "p=reject");
	r->props = "header.from=sender.example";
	r = tg_result_add(msg, "spf", TG_FAIL, TG_PH_MAIL, "not (allowed) \\ here");
	r->props = "smtp.mailfrom=a@sender.example smtp.helo=mx.sender.example";
	r = tg_result_add(msg, "dkim", TG_PASS, TG_PH_EOM, NULL);
	r->props = "header.d=sender.example header.s=s1 header.a=rsa-sha256 header.b=AbCdEfGh";
	r = tg_result_add(msg, "dkim", TG_FAIL, TG_PH_EOM, "body hash mismatch");
	r->props = "header.d=other.example header.s=s2 header.a=ed25519-sha256 header.b=12345678";
	tg_result_add(msg, "relay", TG_PASS, TG_PH_RCPT, NULL);	/* not a method of A-R */
	tg_authres_value(msg, "mx.example.org", &sb);
	ck_assert_str_eq(sb.s, "mx.example.org;\n"
	    "\tauth=pass smtp.auth=bob??X-Injected: 1;\n"
	    "\tspf=fail (not \\(allowed\\) \\\\ here) smtp.mailfrom=a@sender.example smtp.helo=mx.sender.example;\n"
	    "\tdkim=pass header.d=sender.example header.s=s1 header.a=rsa-sha256 header.b=AbCdEfGh;\n"
	    "\tdkim=fail (body hash mismatch) header.d=other.example header.s=s2 header.a=ed25519-sha256 header.b=12345678;\n"
	    "\tdmarc=fail (p=reject) header.from=sender.example");
	tg_strbuf_free(&sb);
	tg_conn_free(&conn);
}
END_TEST

START_TEST(test_received_spf)
{
	struct tg_conn *conn;
	struct tg_msg *msg = msg_with(&conn, NULL);
	struct tg_strbuf sb = { 0 };
	struct tg_ip ip;
	const char *err;
	struct tg_result *r;

	ck_assert(!tg_authres_received_spf(msg, "mx.example.org", &sb));
	ck_assert_int_eq(tg_ip_parse("192.0.2.9", &ip), 0);
	tg_conn_set_ip(conn, &ip);
	conn->helo = xstrdup("mx.sender.example");
	ck_assert_int_eq(tg_addr_parse(msg->arena, "<a@sender.example>", &msg->sender, &err), 0);
	msg->sender_ok = true;
	r = tg_result_add(msg, "spf", TG_SOFTFAIL, TG_PH_MAIL, "transitioning");
	ck_assert(tg_authres_received_spf(msg, "mx.example.org", &sb));
	ck_assert_str_eq(sb.s, "softfail (transitioning)\n\tclient-ip=192.0.2.9; "
	    "envelope-from=\"a@sender.example\"; helo=mx.sender.example;\n"
	    "\treceiver=mx.example.org; identity=mailfrom");
	(void)r;
	tg_strbuf_free(&sb);
	tg_conn_free(&conn);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("authres");
	TCase *tc = tg_test_tcase(s, "authres");

	TG_LOOP_TEST(tc, test_is_ours, ours_cases);
	tcase_add_test(tc, test_forged_indexes);
	tcase_add_test(tc, test_value_none);
	tcase_add_test(tc, test_value_results);
	tcase_add_test(tc, test_received_spf);
	return tg_test_run(s);
}
