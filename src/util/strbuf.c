/*
 * strbuf - growable string (see strbuf.h).
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "xmalloc.h"

/* reserve - make room for n more bytes plus the terminator */
static void
reserve(struct tg_strbuf *sb, size_t n)
{
	size_t need = sb->len + n + 1;

	if (need <= sb->cap)
		return;
	if (sb->cap == 0)
		sb->cap = 64;
	while (sb->cap < need)
		sb->cap *= 2;
	sb->s = xrealloc(sb->s, sb->cap);
}

void
tg_strbuf_appendn(struct tg_strbuf *sb, const char *s, size_t n)
{
	reserve(sb, n);
	memcpy(sb->s + sb->len, s, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

void
tg_strbuf_append(struct tg_strbuf *sb, const char *s)
{
	tg_strbuf_appendn(sb, s, strlen(s));
}

void
tg_strbuf_addch(struct tg_strbuf *sb, char c)
{
	tg_strbuf_appendn(sb, &c, 1);
}

void
tg_strbuf_vprintf(struct tg_strbuf *sb, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n <= 0)
		return;
	reserve(sb, (size_t)n);
	vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void
tg_strbuf_printf(struct tg_strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tg_strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
}

void
tg_strbuf_truncate(struct tg_strbuf *sb, size_t len)
{
	if (len < sb->len) {
		sb->len = len;
		sb->s[len] = '\0';
	}
}

const char *
tg_strbuf_str(const struct tg_strbuf *sb)
{
	return sb->s ? sb->s : "";
}

void
tg_strbuf_free(struct tg_strbuf *sb)
{
	free(sb->s);
	sb->s = NULL;
	sb->len = sb->cap = 0;
}
