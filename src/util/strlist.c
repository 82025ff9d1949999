/*
 * strlist - string vector (see strlist.h).
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"
#include "strlist.h"
#include "xmalloc.h"

void
tg_strlist_add(struct tg_strlist *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = xstrdup(s);
}

bool
tg_strlist_has(const struct tg_strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], s) == 0)
			return true;
	return false;
}

bool
tg_strlist_match_domain(const struct tg_strlist *l, const char *domain)
{
	size_t dlen = strlen(domain), i;

	for (i = 0; i < l->n; i++) {
		const char *e = l->v[i];
		size_t elen = strlen(e);

		if (e[0] == '.') {
			if (dlen > elen && strcasecmp(domain + dlen - elen, e) == 0)
				return true;
		} else if (strcasecmp(domain, e) == 0) {
			return true;
		}
	}
	return false;
}

char *
tg_strlist_join(const struct tg_strlist *l, const char *sep)
{
	struct tg_strbuf sb = { 0 };
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (i > 0)
			tg_strbuf_append(&sb, sep);
		tg_strbuf_append(&sb, l->v[i]);
	}
	return sb.s ? sb.s : xstrdup("");
}

void
tg_strlist_free(struct tg_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
