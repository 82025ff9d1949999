/*
 * test_from - the strict RFC 5322 From parser: mailbox lists that parse
 * and the ambiguous ones it refuses, local parts as written, and the
 * one From domain of a message's header fields.
 */
#include "autoconf.h"

#include <check.h>
#include <string.h>

#include "util/arena.h"
#include "util/from.h"

#include "runner.h"

static const struct from_case {
	const char *value;
	const char *domain;		/* the first mailbox's, or NULL */
	size_t n;			/* mailboxes; 0 = error */
	const char *error;		/* expected error, for n == 0 */
} from_cases[] = {
	/* one mailbox */
	{ "a@example.com", "example.com", 1, NULL },
	{ "<a@example.com>", "example.com", 1, NULL },
	{ "John Doe <a@Example.COM>", "example.com", 1, NULL },
	{ "\"Doe, John\" <a@example.com>", "example.com", 1, NULL },
	{ "\"evil@attacker.example, x\" <a@example.com>", "example.com", 1, NULL },
	{ "\"a \\\" quote, b@evil.example\" <a@example.com>", "example.com", 1, NULL },
	{ "John Q. Public <jqp@example.com>", "example.com", 1, NULL },
	{ "(a@evil.example) a@example.com (b@evil.example, c@evil.example)", "example.com", 1, NULL },
	{ "(nested (a@evil.example) \\) ) <a@example.com>", "example.com", 1, NULL },
	{ "a@(comment)example.com", "example.com", 1, NULL },
	{ "a . b@example.com", "example.com", 1, NULL },
	{ "\"a b\"@example.com", "example.com", 1, NULL },
	{ "=?utf-8?q?a=40evil.example?= <a@example.com>", "example.com", 1, NULL },
	{ "=?utf-8?b?ZXZpbEBhdHRhY2tlci5leGFtcGxl?= <a@example.com>", "example.com", 1, NULL },
	{ "J\xc3\xb6rg <j@example.com>", "example.com", 1, NULL },
	{ "Name\r\n\t<a@mail.example.com>\r\n\t(folded)", "mail.example.com", 1, NULL },
	{ "  a@example.com  ", "example.com", 1, NULL },
	{ "a@xn--bcher-kva.example", "xn--bcher-kva.example", 1, NULL },
	{ "a@localhost", "localhost", 1, NULL },
	{ "a@a23456789012345678901234567890123456789012345678901234567890123.example",
	  "a23456789012345678901234567890123456789012345678901234567890123.example", 1, NULL },
	/* several mailboxes: parsed, the caller refuses them */
	{ "a@example.com, b@example.org", "example.com", 2, NULL },
	{ "A <a@example.com>, \"B\" <b@evil.example>", "example.com", 2, NULL },
	{ "a@example.com,b@example.com,c@example.com", "example.com", 3, NULL },
	/* errors */
	{ "", NULL, 0, "empty From header" },
	{ "   \r\n\t ", NULL, 0, "empty From header" },
	{ "(only a comment)", NULL, 0, "empty From header" },
	{ "group: a@example.com;", NULL, 0, "group syntax in From" },
	{ "undisclosed-recipients:;", NULL, 0, "group syntax in From" },
	{ "a@example.com; b@evil.example", NULL, 0, "group syntax in From" },
	{ "a@example.com,", NULL, 0, "empty element in From address list" },
	{ ",a@example.com", NULL, 0, "empty element in From address list" },
	{ "a@example.com,,b@example.com", NULL, 0, "empty element in From address list" },
	{ "John Doe", NULL, 0, "From address without @" },
	{ "John <doe>", NULL, 0, "From address without @" },
	{ "<>", NULL, 0, "empty address <> in From" },
	{ "<@relay.example:a@example.com>", NULL, 0, "source route in From" },
	{ "a@[192.0.2.1]", NULL, 0, "address literal in From" },
	{ "a@", NULL, 0, "From address without a domain" },
	{ "@example.com", NULL, 0, "From address without a local part" },
	{ "a@example.com.", NULL, 0, "From domain is not a valid DNS name" },
	{ "a@-example.com", NULL, 0, "From domain is not a valid DNS name" },
	{ "a@example-.com", NULL, 0, "From domain is not a valid DNS name" },
	{ "a@exa_mple.com", NULL, 0, "From domain is not a valid DNS name" },
	{ "a@b\xc3\xbc" "cher.example", NULL, 0, "From domain is not a valid DNS name" },
	{ "a@192.0.2.1", NULL, 0, "From domain is not a valid DNS name" },
	{ "a@example..com", NULL, 0, "From domain is not a valid DNS name" },
	{ "a@a234567890123456789012345678901234567890123456789012345678901234.example",
	  NULL, 0, "From domain is not a valid DNS name" },
	{ "\"unterminated <a@example.com>", NULL, 0, "unterminated quoted string in From" },
	{ "(unterminated a@example.com", NULL, 0, "unterminated comment in From" },
	{ "<a@example.com", NULL, 0, "unterminated <address> in From" },
	{ "a@example.com <b@evil.example>", NULL, 0, "unexpected character after From address" },
	{ "a@evil.example <b@example.com>", NULL, 0, "unexpected character after From address" },
	{ "a@exa mple.com", NULL, 0, "unexpected character after From address" },
	{ "John Smith@example.com", NULL, 0, "invalid local part in From" },
	{ "a..b@example.com", NULL, 0, "invalid local part in From" },
	{ "<a..b@example.com>", NULL, 0, "invalid local part in From" },
	{ "a@b@example.com", NULL, 0, "unexpected character after From address" },
	{ "Name [x] <a@example.com>", NULL, 0, "unexpected character in From" },
};

START_TEST(test_from_parse)
{
	const struct from_case *c = &from_cases[_i];
	struct tg_arena *a = tg_arena_new();
	struct tg_from_mailbox *list;
	const char *err = NULL;
	size_t n;
	int rc = tg_from_parse(a, c->value, &list, &n, &err);

	if (c->n == 0) {
		ck_assert_msg(rc == -1, "\"%s\": parsed, should fail", c->value);
		ck_assert_msg(err != NULL && strcmp(err, c->error) == 0,
		    "\"%s\": error \"%s\", expected \"%s\"", c->value, err ? err : "(null)",
		    c->error);
	} else {
		ck_assert_msg(rc == 0, "\"%s\": %s", c->value, err ? err : "?");
		ck_assert_msg(n == c->n, "\"%s\": %zu mailboxes, expected %zu", c->value, n, c->n);
		ck_assert_str_eq(list[0].domain, c->domain);
	}
	tg_arena_free(&a);
}
END_TEST

START_TEST(test_from_local_part)
{
	struct tg_arena *a = tg_arena_new();
	struct tg_from_mailbox *list;
	const char *err;
	size_t n;

	ck_assert_int_eq(tg_from_parse(a, "X <\"a b\"@example.com>, c.d@example.org",
	    &list, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[0].local, "\"a b\"");
	ck_assert_str_eq(list[1].local, "c.d");
	ck_assert_str_eq(list[1].domain, "example.org");
	tg_arena_free(&a);
}
END_TEST

static const struct headers_case {
	const char *names[4], *values[4];
	const char *domain, *error;
} headers_cases[] = {
	{ { "Subject", "From" }, { "x", "A <a@Example.com>" }, "example.com", NULL },
	{ { "Subject" }, { "x" }, NULL, "no From header" },
	{ { "From", "Subject", "from" }, { "a@example.com", "x", "b@evil.example" },
	  NULL, "multiple From headers: 2" },
	{ { "From", "FROM" }, { "a@example.com", "a@example.com" },
	  NULL, "multiple From headers: 2" },
	{ { "From", "From " }, { "a@example.com", "b@evil.example" },
	  NULL, "multiple From headers: 2" },
	{ { "From" }, { "a@example.com, b@evil.example" }, NULL, "multiple From addresses: 2" },
	{ { "From" }, { "a@example.com, a@example.com" }, NULL, "multiple From addresses: 2" },
	{ { "From" }, { "" }, NULL, "empty From header" },
	{ { "From" }, { "nobody" }, NULL, "From address without @" },
	{ { "Reply-To", "Sender", "From" }, { "r@evil.example", "s@evil.example", "a@example.com" },
	  "example.com", NULL },
};

START_TEST(test_from_domain)
{
	const struct headers_case *c = &headers_cases[_i];
	struct tg_arena *a = tg_arena_new();
	const char *err = NULL, *d;
	size_t nh = 0;

	while (nh < 4 && c->names[nh] != NULL)
		nh++;
	d = tg_from_domain(a, c->names, c->values, nh, &err);
	if (c->domain != NULL) {
		ck_assert_msg(d != NULL, "case %d: %s", _i, err ? err : "?");
		ck_assert_str_eq(d, c->domain);
	} else {
		ck_assert_msg(d == NULL, "case %d: got %s", _i, d);
		ck_assert_str_eq(err, c->error);
	}
	tg_arena_free(&a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("from");
	TCase *tc;

	tc = tg_test_tcase(s, "from");
	TG_LOOP_TEST(tc, test_from_parse, from_cases);
	tcase_add_test(tc, test_from_local_part);
	TG_LOOP_TEST(tc, test_from_domain, headers_cases);

	return tg_test_run(s);
}
