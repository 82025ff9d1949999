/*
 * fmt - how tollgatectl writes things: columns that fit a terminal,
 * times, ages, sizes, addresses, and a small JSON writer. Everything
 * goes into the caller's strbuf; nothing here does I/O, so all of it
 * is unit-tested (tests/unit/test_ctl.c).
 */
#ifndef TG_CTL_FMT_H
#define TG_CTL_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct tg_strbuf;

/* tg_fmt_cell - s in exactly width columns: padded, or cut to end in
   "..." when longer; bytes that are not printable ASCII show as '?'.
   width 0: s as it is (made printable). */
void tg_fmt_cell(struct tg_strbuf *out, const char *s, size_t width);
/* tg_fmt_clip - s in at most width columns, not padded */
void tg_fmt_clip(struct tg_strbuf *out, const char *s, size_t width);

/* a table column: heading and width; the last column takes the rest
   of the line */
struct tg_fmt_col {
	const char *heading;
	size_t width;
	bool whole;			/* never cut (an id): a longer cell pushes on */
};
/* tg_fmt_row - one line of cells (NULL shows as "-"), columns one
   space apart, the last one clipped so the line fits total columns;
   no trailing spaces; ends in '\n'. cells NULL: the headings. */
void tg_fmt_row(struct tg_strbuf *out, const struct tg_fmt_col *cols, size_t ncols,
    const char *const *cells, size_t total);

/* tg_fmt_time - "2024-05-21 10:32" in local time ("-" for 0) */
void tg_fmt_time(struct tg_strbuf *out, time_t t);
/* tg_fmt_iso - "2024-05-21T10:32:01Z" (UTC) */
void tg_fmt_iso(struct tg_strbuf *out, time_t t);
/* tg_fmt_size - 912, 4.1K, 12.0M */
void tg_fmt_size(struct tg_strbuf *out, uint64_t bytes);
/* tg_fmt_addr - an envelope address without "<>"; "<>" for the null
   sender, "-" for NULL */
void tg_fmt_addr(struct tg_strbuf *out, const char *raw);
/* tg_fmt_addrs - the first address and "+N" for the others */
void tg_fmt_addrs(struct tg_strbuf *out, const char *const *v, size_t n);

/* tg_fmt_parse_age - "90s", "45m", "12h", "30d", "2w" (a bare number
   is days) into seconds; -1 if it is none of these */
long tg_fmt_parse_age(const char *s);
/* tg_fmt_parse_since - an age (that long before now) or a local date
   "2024-05-21" or "2024-05-21 10:00"; -1 if it is neither */
time_t tg_fmt_parse_since(const char *s, time_t now);

/* a JSON document under construction: compact, keys in given order */
struct tg_json {
	struct tg_strbuf *out;
	unsigned int depth;
	bool more[32];			/* a value was written at this depth */
	char closer[32];		/* '}' or ']' for each open level */
};
/* key is NULL inside arrays and for the top-level value */
void tg_json_obj(struct tg_json *j, const char *key);
void tg_json_arr(struct tg_json *j, const char *key);
void tg_json_end(struct tg_json *j);	/* closes the innermost } or ] */
void tg_json_str(struct tg_json *j, const char *key, const char *v);	/* NULL: null */
/* tg_json_strs - the n strings of v as an array */
void tg_json_strs(struct tg_json *j, const char *key, const char *const *v, size_t n);
void tg_json_int(struct tg_json *j, const char *key, long long v);
void tg_json_num(struct tg_json *j, const char *key, double v);	/* 6 digits */
void tg_json_bool(struct tg_json *j, const char *key, bool v);
/* tg_json_time - ISO 8601 UTC, or null for 0 */
void tg_json_time(struct tg_json *j, const char *key, time_t t);

#endif
