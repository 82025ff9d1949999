/*
 * fmt - tollgatectl's output helpers (see fmt.h): fixed-width cells
 * and rows, times, sizes, addresses, ages, and the JSON writer.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/fmt.h"
#include "util/strbuf.h"
#include "util/text.h"

/* printable - s with every byte that is not printable ASCII as '?' */
static void
printable(struct tg_strbuf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		tg_strbuf_addch(out, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
}

void
tg_fmt_clip(struct tg_strbuf *out, const char *s, size_t width)
{
	size_t len = strlen(s);

	if (width == 0 || len <= width) {
		printable(out, s, len);
	} else if (width <= 3) {
		printable(out, s, width);
	} else {
		printable(out, s, width - 3);
		tg_strbuf_append(out, "...");
	}
}

void
tg_fmt_cell(struct tg_strbuf *out, const char *s, size_t width)
{
	size_t start = out->len;

	tg_fmt_clip(out, s, width);
	while (width > 0 && out->len - start < width)
		tg_strbuf_addch(out, ' ');
}

void
tg_fmt_row(struct tg_strbuf *out, const struct tg_fmt_col *cols, size_t ncols,
    const char *const *cells, size_t total)
{
	size_t start = out->len, used = 0;

	for (size_t i = 0; i < ncols; i++) {
		const char *cell = cells ? cells[i] : cols[i].heading;
		bool last = i + 1 == ncols;
		size_t w = cols[i].width;

		if (cell == NULL)
			cell = "-";
		if (i > 0) {
			tg_strbuf_addch(out, ' ');
			used++;
		}
		if (last) {
			/* the rest of the line, at least a little */
			w = total > used + 4 ? total - used : 4;
			tg_fmt_clip(out, cell, w);
		} else if (cols[i].whole && strlen(cell) > w) {
			tg_fmt_clip(out, cell, 0);
			w = strlen(cell);
		} else {
			tg_fmt_cell(out, cell, w);
		}
		used += w;
	}
	while (out->len > start && out->s[out->len - 1] == ' ')
		tg_strbuf_truncate(out, out->len - 1);
	tg_strbuf_addch(out, '\n');
}

void
tg_fmt_time(struct tg_strbuf *out, time_t t)
{
	struct tm tm;
	char buf[32];

	if (t == 0 || localtime_r(&t, &tm) == NULL) {
		tg_strbuf_addch(out, '-');
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
	tg_strbuf_append(out, buf);
}

void
tg_fmt_iso(struct tg_strbuf *out, time_t t)
{
	struct tm tm;
	char buf[32];

	if (gmtime_r(&t, &tm) == NULL)
		return;
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	tg_strbuf_append(out, buf);
}

void
tg_fmt_size(struct tg_strbuf *out, uint64_t bytes)
{
	static const char units[] = "KMGT";
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		tg_strbuf_printf(out, "%llu", (unsigned long long)bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) - 1) {
		v /= 1024;
		u++;
	}
	tg_strbuf_printf(out, "%.1f%c", v, units[u]);
}

void
tg_fmt_addr(struct tg_strbuf *out, const char *raw)
{
	size_t len;

	if (raw == NULL) {
		tg_strbuf_addch(out, '-');
		return;
	}
	len = strlen(raw);
	if (len >= 2 && raw[0] == '<' && raw[len - 1] == '>') {
		raw++;
		len -= 2;
	}
	if (len == 0)
		tg_strbuf_append(out, "<>");
	else
		printable(out, raw, len);
}

void
tg_fmt_addrs(struct tg_strbuf *out, const char *const *v, size_t n)
{
	if (n == 0) {
		tg_strbuf_addch(out, '-');
		return;
	}
	tg_fmt_addr(out, v[0]);
	if (n > 1)
		tg_strbuf_printf(out, " +%zu", n - 1);
}

long
tg_fmt_parse_age(const char *s)
{
	char *end;
	long n, mult;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	n = strtol(s, &end, 10);
	switch (*end) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case '\0':
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (n > 100L * 365 * 86400 / mult)
		return -1;
	return n * mult;
}

time_t
tg_fmt_parse_since(const char *s, time_t now)
{
	struct tm tm;
	const char *end;
	long age;

	if (strchr(s, '-') == NULL) {
		age = tg_fmt_parse_age(s);
		return age < 0 ? -1 : now - age;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end != NULL && (*end == ' ' || *end == 'T'))
		end = strptime(end + 1, "%H:%M", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/* ---------------------------------------------------------------- JSON */

/* value_start - comma and key before a value */
static void
value_start(struct tg_json *j, const char *key)
{
	if (j->more[j->depth])
		tg_strbuf_addch(j->out, ',');
	j->more[j->depth] = true;
	if (key != NULL) {
		tg_strbuf_addch(j->out, '"');
		tg_text_json(j->out, key);
		tg_strbuf_append(j->out, "\":");
	}
}

static void
open_nested(struct tg_json *j, const char *key, char c)
{
	value_start(j, key);
	tg_strbuf_addch(j->out, c);
	if (j->depth + 1 < sizeof(j->more) / sizeof(j->more[0]))
		j->depth++;
	j->more[j->depth] = false;
	j->closer[j->depth] = c == '{' ? '}' : ']';
}

void
tg_json_obj(struct tg_json *j, const char *key)
{
	open_nested(j, key, '{');
}

void
tg_json_arr(struct tg_json *j, const char *key)
{
	open_nested(j, key, '[');
}

void
tg_json_end(struct tg_json *j)
{
	if (j->depth == 0)
		return;
	tg_strbuf_addch(j->out, j->closer[j->depth]);
	j->depth--;
}

void
tg_json_str(struct tg_json *j, const char *key, const char *v)
{
	value_start(j, key);
	if (v == NULL) {
		tg_strbuf_append(j->out, "null");
		return;
	}
	tg_strbuf_addch(j->out, '"');
	tg_text_json(j->out, v);
	tg_strbuf_addch(j->out, '"');
}

void
tg_json_strs(struct tg_json *j, const char *key, const char *const *v, size_t n)
{
	tg_json_arr(j, key);
	for (size_t i = 0; i < n; i++)
		tg_json_str(j, NULL, v[i]);
	tg_json_end(j);
}

void
tg_json_int(struct tg_json *j, const char *key, long long v)
{
	value_start(j, key);
	tg_strbuf_printf(j->out, "%lld", v);
}

void
tg_json_num(struct tg_json *j, const char *key, double v)
{
	value_start(j, key);
	tg_strbuf_printf(j->out, "%.6g", v);
}

void
tg_json_bool(struct tg_json *j, const char *key, bool v)
{
	value_start(j, key);
	tg_strbuf_append(j->out, v ? "true" : "false");
}

void
tg_json_time(struct tg_json *j, const char *key, time_t t)
{
	if (t == 0) {
		tg_json_str(j, key, NULL);
		return;
	}
	value_start(j, key);
	tg_strbuf_addch(j->out, '"');
	tg_fmt_iso(j->out, t);
	tg_strbuf_addch(j->out, '"');
}
