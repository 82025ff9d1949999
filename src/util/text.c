/*
 * text - escaping of network text (see text.h).
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "strbuf.h"
#include "text.h"

/* printable - plain printable ASCII, space included */
static int
printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

/* escape - printable ASCII kept (and '"' when keep_quote), the rest \xNN */
static void
escape(struct tg_strbuf *out, const char *in, size_t max, int keep_quote)
{
	size_t i;

	for (i = 0; in[i] != '\0'; i++) {
		unsigned char c = (unsigned char)in[i];

		if (i == max) {
			tg_strbuf_append(out, "...");
			return;
		}
		if (printable(c) && c != '\\' && (c != '"' || keep_quote))
			tg_strbuf_addch(out, (char)c);
		else
			tg_strbuf_printf(out, "\\x%02x", c);
	}
}

void
tg_text_log(struct tg_strbuf *out, const char *in, size_t max)
{
	escape(out, in, max, 0);
}

void
tg_text_line(struct tg_strbuf *out, const char *in, size_t max)
{
	escape(out, in, max, 1);
}

void
tg_text_reply(struct tg_strbuf *out, const char *in, size_t max)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '%')
			tg_strbuf_append(out, "%%");
		else
			tg_strbuf_addch(out, printable(c) ? (char)c : '?');
	}
}

void
tg_text_header(struct tg_strbuf *out, const char *in, size_t max)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)in[i];

		tg_strbuf_addch(out, printable(c) ? (char)c : '?');
	}
}

void
tg_text_json(struct tg_strbuf *out, const char *in)
{
	for (; *in != '\0'; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '"' || c == '\\') {
			tg_strbuf_addch(out, '\\');
			tg_strbuf_addch(out, (char)c);
		} else if (printable(c)) {
			tg_strbuf_addch(out, (char)c);
		} else {
			tg_strbuf_printf(out, "\\u%04x", c);
		}
	}
}
