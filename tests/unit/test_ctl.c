/*
 * test_ctl - tollgatectl's output formatting (cells, rows that fit the
 * terminal, times, sizes, addresses, ages, the JSON writer) and its
 * reading of postqueue -j lines and queue ids.
 */
#include "autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/fmt.h"
#include "ctl/postfix.h"
#include "util/strbuf.h"

#include "runner.h"

/* fmt - the result of one formatting call, in a static buffer */
#define FMT(call) ({ \
	struct tg_strbuf sb_ = { 0 }; \
	static char buf_[512]; \
	struct tg_strbuf *out = &sb_; \
	call; \
	snprintf(buf_, sizeof(buf_), "%s", tg_strbuf_str(&sb_)); \
	tg_strbuf_free(&sb_); \
	buf_; \
})

static const struct cell_case {
	const char *in;
	size_t width;
	const char *out;
} cell_cases[] = {
	{ "abc", 5, "abc  " },
	{ "abcde", 5, "abcde" },
	{ "abcdef", 5, "ab..." },
	{ "abcdef", 3, "abc" },
	{ "abcdef", 0, "abcdef" },
	{ "", 2, "  " },
	{ "tab\there", 0, "tab?here" },
	{ "\xc3\xa9t\xc3\xa9", 6, "??t?? " },
};

START_TEST(cell_widths)
{
	const struct cell_case *c = &cell_cases[_i];

	ck_assert_str_eq(FMT(tg_fmt_cell(out, c->in, c->width)), c->out);
}
END_TEST

START_TEST(rows_fit)
{
	static const struct tg_fmt_col cols[] = {
		{ "ID", 11, true }, { "STATE", 6, false }, { "WHO", 0, false },
	};
	const char *cells[] = { "4D7C81C2A1D", "held", "someone@example.org, more" };
	const char *longid[] = { "4D7C81C2A1D9X2", "held", "x" };
	const char *missing[] = { "A", NULL, NULL };
	char *line;

	ck_assert_str_eq(FMT(tg_fmt_row(out, cols, 3, NULL, 80)), "ID          STATE  WHO\n");
	ck_assert_str_eq(FMT(tg_fmt_row(out, cols, 3, cells, 80)),
	    "4D7C81C2A1D held   someone@example.org, more\n");
	/* the last column is cut to the width, with no trailing space */
	line = FMT(tg_fmt_row(out, cols, 3, cells, 30));
	ck_assert_str_eq(line, "4D7C81C2A1D held   someone@...\n");
	ck_assert_uint_eq(strlen(line) - 1, 30);
	/* an id is never cut: the line goes on after it */
	ck_assert_str_eq(FMT(tg_fmt_row(out, cols, 3, longid, 80)), "4D7C81C2A1D9X2 held   x\n");
	ck_assert_str_eq(FMT(tg_fmt_row(out, cols, 3, missing, 80)), "A           -      -\n");
}
END_TEST

START_TEST(times_sizes_addresses)
{
	const char *v[] = { "<bob@example.org>", "<carol@example.org>", "<dan@example.org>" };

	setenv("TZ", "UTC", 1);
	tzset();
	ck_assert_str_eq(FMT(tg_fmt_time(out, 1716287521)), "2024-05-21 10:32");
	ck_assert_str_eq(FMT(tg_fmt_time(out, 0)), "-");
	ck_assert_str_eq(FMT(tg_fmt_iso(out, 1716287521)), "2024-05-21T10:32:01Z");
	ck_assert_str_eq(FMT(tg_fmt_size(out, 912)), "912");
	ck_assert_str_eq(FMT(tg_fmt_size(out, 4200)), "4.1K");
	ck_assert_str_eq(FMT(tg_fmt_size(out, 12u << 20)), "12.0M");
	ck_assert_str_eq(FMT(tg_fmt_addr(out, "<a@b.example>")), "a@b.example");
	ck_assert_str_eq(FMT(tg_fmt_addr(out, "a@b.example")), "a@b.example");
	ck_assert_str_eq(FMT(tg_fmt_addr(out, "<>")), "<>");
	ck_assert_str_eq(FMT(tg_fmt_addr(out, NULL)), "-");
	ck_assert_str_eq(FMT(tg_fmt_addrs(out, v, 3)), "bob@example.org +2");
	ck_assert_str_eq(FMT(tg_fmt_addrs(out, v, 1)), "bob@example.org");
	ck_assert_str_eq(FMT(tg_fmt_addrs(out, v, 0)), "-");
}
END_TEST

static const struct age_case {
	const char *in;
	long secs;
} age_cases[] = {
	{ "90s", 90 }, { "45m", 2700 }, { "12h", 43200 }, { "30d", 2592000 }, { "2w", 1209600 },
	{ "7", 604800 }, { "0s", 0 },
	{ "", -1 }, { "d", -1 }, { "-3d", -1 }, { "3x", -1 }, { "3dd", -1 }, { "99999999w", -1 },
};

START_TEST(ages)
{
	const struct age_case *c = &age_cases[_i];

	ck_assert_int_eq(tg_fmt_parse_age(c->in), c->secs);
}
END_TEST

START_TEST(since)
{
	time_t now = 1716287521;

	setenv("TZ", "UTC", 1);
	tzset();
	ck_assert_int_eq(tg_fmt_parse_since("7d", now), now - 7 * 86400);
	ck_assert_int_eq(tg_fmt_parse_since("2024-05-21", now), 1716249600);
	ck_assert_int_eq(tg_fmt_parse_since("2024-05-21 10:00", now), 1716285600);
	ck_assert_int_eq(tg_fmt_parse_since("2024-05-21T10:00", now), 1716285600);
	ck_assert_int_eq(tg_fmt_parse_since("2024-05-21 junk", now), -1);
	ck_assert_int_eq(tg_fmt_parse_since("yesterday", now), -1);
}
END_TEST

START_TEST(json_writer)
{
	struct tg_strbuf sb = { 0 };
	struct tg_json js = { .out = &sb };

	tg_json_obj(&js, NULL);
	tg_json_str(&js, "id", "4D7C\"81\\");
	tg_json_int(&js, "n", -3);
	tg_json_num(&js, "score", 5.5);
	tg_json_bool(&js, "ok", true);
	tg_json_str(&js, "none", NULL);
	tg_json_time(&js, "t", 1716287521);
	tg_json_time(&js, "never", 0);
	tg_json_arr(&js, "v");
	tg_json_str(&js, NULL, "a\nb");
	tg_json_obj(&js, NULL);
	tg_json_end(&js);
	tg_json_arr(&js, NULL);
	tg_json_end(&js);
	tg_json_end(&js);
	tg_json_obj(&js, "o");
	tg_json_int(&js, "x", 1);
	tg_json_end(&js);
	tg_json_end(&js);
	ck_assert_str_eq(tg_strbuf_str(&sb), "{\"id\":\"4D7C\\\"81\\\\\",\"n\":-3,\"score\":5.5,"
	    "\"ok\":true,\"none\":null,\"t\":\"2024-05-21T10:32:01Z\",\"never\":null,"
	    "\"v\":[\"a\\u000ab\",{},[]],\"o\":{\"x\":1}}");
	tg_json_end(&js);	/* one too many: nothing */
	ck_assert_uint_eq(sb.len, strlen("{\"id\":\"4D7C\\\"81\\\\\",\"n\":-3,\"score\":5.5,"
	    "\"ok\":true,\"none\":null,\"t\":\"2024-05-21T10:32:01Z\",\"never\":null,"
	    "\"v\":[\"a\\u000ab\",{},[]],\"o\":{\"x\":1}}"));
	tg_strbuf_free(&sb);
}
END_TEST

START_TEST(postqueue_lines)
{
	struct tg_pf_entry e;

	ck_assert_int_eq(tg_pf_parse_line("{\"queue_name\": \"hold\", \"queue_id\": "
	    "\"4D7C81C2A1D\", \"arrival_time\": 1716287521, \"message_size\": 1234, "
	    "\"forced_expire\": false, \"sender\": \"a@remote.example\", \"recipients\": "
	    "[{\"address\": \"bob@example.org\"}, {\"address\": \"c\\u0040x.example\", "
	    "\"delay_reason\": \"connect to x[1.2.3.4]: \\\"refused\\\"\"}]}", &e), 0);
	ck_assert_str_eq(e.queue, "hold");
	ck_assert_str_eq(e.qid, "4D7C81C2A1D");
	ck_assert_int_eq(e.arrival, 1716287521);
	ck_assert_uint_eq(e.size, 1234);
	ck_assert_str_eq(e.sender, "a@remote.example");
	ck_assert_uint_eq(e.nrcpts, 2);
	ck_assert_str_eq(e.rcpts[1], "c@x.example");
	tg_pf_entry_free(&e);
	/* the null sender is "" */
	ck_assert_int_eq(tg_pf_parse_line("{\"queue_name\":\"deferred\",\"queue_id\":\"A1\","
	    "\"sender\":\"\",\"recipients\":[]}", &e), 0);
	ck_assert_str_eq(e.sender, "");
	ck_assert_uint_eq(e.nrcpts, 0);
	tg_pf_entry_free(&e);
	/* what is no queue entry */
	ck_assert_int_eq(tg_pf_parse_line("postqueue: warning: Mail system is down", &e), -1);
	ck_assert_int_eq(tg_pf_parse_line("{\"queue_name\": \"hold\"}", &e), -1);
	ck_assert_int_eq(tg_pf_parse_line("{\"queue_name\": \"hold\", \"queue_id\": \"A", &e), -1);
	ck_assert_int_eq(tg_pf_parse_line("{\"queue_id\": \"A\", \"queue_name\": [[[[[[[[[[[[[["
	    "[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]}", &e), -1);
}
END_TEST

START_TEST(queue_ids)
{
	ck_assert(tg_pf_valid_qid("4D7C81C2A1D"));
	ck_assert(tg_pf_valid_qid("4XyZ1AbC2dFgh"));	/* long queue ids */
	ck_assert(!tg_pf_valid_qid(""));
	ck_assert(!tg_pf_valid_qid("ALL"));		/* postsuper: every message */
	ck_assert(!tg_pf_valid_qid("-d"));
	ck_assert(!tg_pf_valid_qid("A1;rm"));
	ck_assert(!tg_pf_valid_qid("A1 B2"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tg_test_tcase(s, "format");

	TG_LOOP_TEST(tc, cell_widths, cell_cases);
	tcase_add_test(tc, rows_fit);
	tcase_add_test(tc, times_sizes_addresses);
	TG_LOOP_TEST(tc, ages, age_cases);
	tcase_add_test(tc, since);
	tcase_add_test(tc, json_writer);
	tcase_add_test(tc, postqueue_lines);
	tcase_add_test(tc, queue_ids);
	return tg_test_run(s);
}
