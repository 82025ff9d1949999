/*
 * strbuf - a growable NUL-terminated string.
 *
 * Zero-initialise (struct tg_strbuf sb = {0}) to start; tg_strbuf_free()
 * releases. Appends never fail (xmalloc).
 */
#ifndef TG_STRBUF_H
#define TG_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct tg_strbuf {
	char *s;
	size_t len, cap;
};

void tg_strbuf_append(struct tg_strbuf *sb, const char *s);
void tg_strbuf_appendn(struct tg_strbuf *sb, const char *s, size_t n);
void tg_strbuf_addch(struct tg_strbuf *sb, char c);
void tg_strbuf_printf(struct tg_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tg_strbuf_vprintf(struct tg_strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void tg_strbuf_truncate(struct tg_strbuf *sb, size_t len);
/* tg_strbuf_str - the contents; "" for an empty buffer, never NULL */
const char *tg_strbuf_str(const struct tg_strbuf *sb);
void tg_strbuf_free(struct tg_strbuf *sb);

#endif
