/*
 * test_session - the per-phase walk and the built-in gates (relay,
 * submission AUTH, sender login, size) and Mode monitor, through the
 * same entry point milter.c uses, without libmilter.
 */
#include "autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "session.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "runner.h"

static char dir[] = "/tmp/tg-session-XXXXXX";

/* load_cfg - a config from text (plus an empty policy) */
static struct tg_config *
load_cfg(const char *extra)
{
	char logins[256];
	FILE *fp;

	snprintf(logins, sizeof(logins), "%s/logins", dir);
	fp = fopen(logins, "w");
	fputs("alice@example.org alice\n@team.example.org bob, carol\n", fp);
	fclose(fp);
	return tg_test_config(dir, "PolicyFile /dev/null\n"
	    "LocalDomains example.org, .sub.example.org\n"
	    "TrustedNetworks 192.0.2.0/24, 2001:db8::/32\nSubmissionDaemons submission\n"
	    "MaxMessageSize 1K\nSenderLoginMap %s\n%s", logins, extra);
}

/* new_conn - a connection from ip ("" = unknown) */
static struct tg_conn *
new_conn(struct tg_config *cfg, const char *ip, const char *auth, const char *daemon)
{
	struct tg_conn *conn = tg_conn_new(cfg, 7);
	struct tg_ip addr;

	if (ip[0] != '\0') {
		ck_assert_int_eq(tg_ip_parse(ip, &addr), 0);
		tg_conn_set_ip(conn, &addr);
	} else {
		tg_conn_set_ip(conn, NULL);
	}
	conn->auth_user = auth ? xstrdup(auth) : NULL;
	conn->daemon_name = daemon ? xstrdup(daemon) : NULL;
	return conn;
}

/* mail - start a message from sender; returns whether a gate decided */
static bool
mail(struct tg_conn *conn, const char *sender, unsigned long long size)
{
	struct tg_msg *msg = tg_msg_new(conn);
	const char *err;

	msg->sender_raw = sender;
	msg->sender_ok = tg_addr_parse(msg->arena, sender, &msg->sender, &err) == 0;
	msg->size_announced = size;
	return tg_session_phase(msg, TG_PH_MAIL, NULL);
}

static bool
rcpt(struct tg_conn *conn, const char *r)
{
	struct tg_phase_arg arg = { .rcpt = r };

	return tg_session_phase(conn->msg, TG_PH_RCPT, &arg);
}

/* assert_verdict - action and reply of the message's verdict */
static void
assert_verdict(const struct tg_msg *msg, enum tg_action act, const char *code,
    const char *xcode, const char *rule)
{
	ck_assert_str_eq(tg_action_name(msg->verdict.action), tg_action_name(act));
	ck_assert_str_eq(tg_verdict_code(&msg->verdict), code);
	ck_assert_str_eq(tg_verdict_xcode(&msg->verdict), xcode);
	if (rule == NULL)
		ck_assert_ptr_null(msg->verdict.rule);
	else
		ck_assert_str_eq(msg->verdict.rule, rule);
}

static const struct relay_case {
	const char *name, *ip, *auth, *rcpt;
	bool denied;
} relay_cases[] = {
	{ "local recipient from the world", "198.51.100.7", NULL, "<bob@example.org>", false },
	{ "local domain in capitals, trailing dot", "198.51.100.7", NULL, "<bob@EXAMPLE.org.>", false },
	{ "listed subdomain", "198.51.100.7", NULL, "<bob@a.sub.example.org>", false },
	{ "bare postmaster", "198.51.100.7", NULL, "<postmaster>", false },
	{ "foreign recipient", "198.51.100.7", NULL, "<bob@other.example>", true },
	{ "subdomain not listed", "198.51.100.7", NULL, "<bob@x.example.org>", true },
	{ "percent hack", "198.51.100.7", NULL, "<user%other.example@example.org>", true },
	{ "bang path", "198.51.100.7", NULL, "<other.example!user@example.org>", true },
	{ "source route", "198.51.100.7", NULL, "<@example.org:user@other.example>", true },
	{ "source route via foreign", "198.51.100.7", NULL, "<@other.example:user@example.org>", true },
	{ "quoted at sign", "198.51.100.7", NULL, "<\"user@other.example\"@example.org>", true },
	{ "address literal", "198.51.100.7", NULL, "<user@[192.0.2.1]>", true },
	{ "empty recipient", "198.51.100.7", NULL, "<>", true },
	{ "unparsable recipient", "198.51.100.7", NULL, "<user@", true },
	{ "unknown client address", "", NULL, "<bob@other.example>", true },
	{ "trusted v4 client", "192.0.2.10", NULL, "<bob@other.example>", false },
	{ "trusted v4-mapped client", "::ffff:192.0.2.10", NULL, "<bob@other.example>", false },
	{ "trusted v6 client", "2001:db8::1", NULL, "<bob@other.example>", false },
	{ "untrusted v6 client", "2001:db9::1", NULL, "<bob@other.example>", true },
	{ "authenticated client", "198.51.100.7", "alice", "<bob@other.example>", false },
};

START_TEST(relay_gate)
{
	const struct relay_case *c = &relay_cases[_i];
	struct tg_config *cfg = load_cfg("");
	struct tg_conn *conn = new_conn(cfg, c->ip, c->auth, NULL);
	bool decided;

	ck_assert_msg(!mail(conn, c->auth ? "<alice@example.org>" : "<x@remote.example>", 0),
	    "%s: MAIL decided", c->name);
	decided = rcpt(conn, c->rcpt);
	ck_assert_msg(decided == c->denied, "%s: expected %s", c->name,
	    c->denied ? "relay denied" : "recipient accepted");
	if (c->denied)
		assert_verdict(conn->msg, TG_REJECT, "554", "5.7.1", "relay");
	tg_conn_free(&conn);
}
END_TEST

START_TEST(submission_needs_auth)
{
	struct tg_config *cfg = load_cfg("");
	struct tg_conn *conn = new_conn(cfg, "198.51.100.7", NULL, "submission");

	ck_assert(mail(conn, "<alice@example.org>", 0));
	assert_verdict(conn->msg, TG_REJECT, "530", "5.7.0", "auth-required");
	tg_conn_free(&conn);
	cfg = load_cfg("");
	conn = new_conn(cfg, "198.51.100.7", NULL, "smtpd");
	ck_assert(!mail(conn, "<alice@example.org>", 0));
	tg_conn_free(&conn);
}
END_TEST

static const struct login_case {
	const char *login, *sender;
	bool ok;
} login_cases[] = {
	{ "alice", "<alice@example.org>", true },
	{ "alice", "<ALICE@Example.ORG>", true },
	{ "bob", "<alice@example.org>", false },
	{ "bob", "<x@team.example.org>", true },
	{ "carol", "<y@team.example.org>", true },
	{ "alice", "<x@team.example.org>", false },
	{ "alice", "<nobody@unlisted.example>", false },
	{ "alice", "<>", true },
};

START_TEST(sender_login)
{
	const struct login_case *c = &login_cases[_i];
	struct tg_config *cfg = load_cfg("");
	struct tg_conn *conn = new_conn(cfg, "198.51.100.7", c->login, "submission");

	ck_assert_msg(mail(conn, c->sender, 0) == !c->ok, "%s as %s", c->login, c->sender);
	if (!c->ok)
		assert_verdict(conn->msg, TG_REJECT, "553", "5.7.1", "sender-login");
	tg_conn_free(&conn);
}
END_TEST

START_TEST(size_announced_and_real)
{
	struct tg_config *cfg = load_cfg("");
	struct tg_conn *conn = new_conn(cfg, "192.0.2.1", NULL, NULL);
	struct tg_phase_arg arg = { 0 };
	unsigned char body[600] = { 0 };

	ck_assert(mail(conn, "<a@example.org>", 1025));
	assert_verdict(conn->msg, TG_REJECT, "552", "5.3.4", "size-limit");
	ck_assert(!mail(conn, "<a@example.org>", 1024));
	arg.body = body;
	arg.bodylen = sizeof(body);
	ck_assert(!tg_session_phase(conn->msg, TG_PH_BODY, &arg));
	ck_assert(!conn->msg->oversize);
	ck_assert(!tg_session_phase(conn->msg, TG_PH_BODY, &arg));
	ck_assert(conn->msg->oversize);
	ck_assert(tg_session_phase(conn->msg, TG_PH_EOM, NULL));
	assert_verdict(conn->msg, TG_REJECT, "552", "5.3.4", "size-limit");
	tg_conn_free(&conn);
}
END_TEST

START_TEST(eom_empty_policy_accepts)
{
	struct tg_config *cfg = load_cfg("");
	struct tg_conn *conn = new_conn(cfg, "198.51.100.7", NULL, NULL);
	struct tg_phase_arg h = { .hname = "Subject", .hvalue = "hello" };

	ck_assert(!mail(conn, "<a@remote.example>", 0));
	ck_assert(!rcpt(conn, "<bob@example.org>"));
	ck_assert(!tg_session_phase(conn->msg, TG_PH_HEADER, &h));
	ck_assert_str_eq(tg_msg_header(conn->msg, "subject"), "hello");
	ck_assert(tg_session_phase(conn->msg, TG_PH_EOM, NULL));
	assert_verdict(conn->msg, TG_ACCEPT, "250", "2.0.0", NULL);
	ck_assert_uint_eq(conn->msg->size, strlen("Subject: hello\r\n"));
	tg_conn_free(&conn);
}
END_TEST

START_TEST(monitor_mode)
{
	struct tg_config *cfg = load_cfg("Mode monitor\n");
	struct tg_conn *conn = new_conn(cfg, "198.51.100.7", NULL, "submission");

	/* a suspended gate: logged as would-reject, accepted */
	ck_assert(mail(conn, "<a@remote.example>", 0));
	ck_assert(conn->msg->verdict.monitored);
	ck_assert_int_eq(conn->msg->verdict.would, TG_REJECT);
	assert_verdict(conn->msg, TG_ACCEPT, "530", "5.7.0", "auth-required");
	/* relay denial is never suspended */
	ck_assert(rcpt(conn, "<bob@other.example>"));
	ck_assert(!conn->msg->verdict.monitored);
	assert_verdict(conn->msg, TG_REJECT, "554", "5.7.1", "relay");
	tg_conn_free(&conn);
}
END_TEST

START_TEST(reference_and_reply_text)
{
	struct tg_config *cfg = load_cfg("");
	struct tg_conn *conn = new_conn(cfg, "198.51.100.7", NULL, NULL);
	struct tg_strbuf sb = { 0 };
	struct tg_msg *msg;

	mail(conn, "<a@remote.example>", 0);
	msg = conn->msg;
	ck_assert_str_eq(tg_msg_ref(msg), "c7.1");
	msg->qid = "4Fxyz";
	ck_assert_str_eq(tg_msg_ref(msg), "4Fxyz");
	tg_verdict_set(&msg->verdict, TG_REJECT, "550", "5.7.1", "100% bad\r\nX: y", "r");
	tg_verdict_reply_text(&msg->verdict, tg_msg_ref(msg), &sb);
	ck_assert_str_eq(tg_strbuf_str(&sb), "100%% bad??X: y (ref: 4Fxyz)");
	tg_strbuf_free(&sb);
	tg_conn_free(&conn);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tg_test_tcase(s, "gates");
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	TG_LOOP_TEST(tc, relay_gate, relay_cases);
	tcase_add_test(tc, submission_needs_auth);
	TG_LOOP_TEST(tc, sender_login, login_cases);
	tcase_add_test(tc, size_announced_and_real);
	tcase_add_test(tc, eom_empty_policy_accepts);
	tcase_add_test(tc, monitor_mode);
	tcase_add_test(tc, reference_and_reply_text);
	rc = tg_test_run(s);
	tg_test_rmtree(dir);
	return rc;
}
