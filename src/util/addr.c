/*
 * addr - envelope address parsing (see addr.h). Works on the text the
 * MTA hands over; it does not validate that domains exist.
 */
#include "autoconf.h"

#include <ctype.h>
#include <string.h>

#include "addr.h"
#include "arena.h"

void
tg_domain_normalize(char *d)
{
	size_t len;

	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	len = strlen(d);
	if (len > 0 && d[len - 1] == '.')
		d[len - 1] = '\0';
}

/* parse_route - "@a,@b:" prefix into hops; returns the rest, or NULL */
static const char *
parse_route(struct tg_arena *a, const char *p, const char *end,
    struct tg_addr *addr)
{
	const char *colon = memchr(p, ':', (size_t)(end - p));
	size_t n = 1;

	if (colon == NULL)
		return NULL;
	for (const char *q = p; q < colon; q++)
		if (*q == ',')
			n++;
	addr->route = tg_arena_alloc(a, n * sizeof(char *));
	while (p < colon) {
		const char *comma = memchr(p, ',', (size_t)(colon - p));
		const char *hop_end = comma ? comma : colon;
		char *hop;

		if (*p != '@' || hop_end - p < 2)
			return NULL;
		hop = tg_arena_strndup(a, p + 1, (size_t)(hop_end - p - 1));
		tg_domain_normalize(hop);
		addr->route[addr->nroute++] = hop;
		if (comma != NULL && comma + 1 >= colon)
			return NULL;		/* "@a,:" - an empty last hop */
		p = comma ? comma + 1 : colon;
	}
	if (colon + 1 >= end)
		return NULL;			/* "@a:" - a route to no mailbox */
	return colon + 1;
}

/* parse_quoted - dequote "..." at p; sets *next after the closing quote */
static char *
parse_quoted(struct tg_arena *a, const char *p, const char *end,
    const char **next)
{
	char *out = tg_arena_alloc(a, (size_t)(end - p) + 1), *o = out;

	for (p++; p < end; p++) {
		if (*p == '\\' && p + 1 < end) {
			*o++ = *++p;
		} else if (*p == '"') {
			*next = p + 1;
			return out;
		} else {
			*o++ = *p;
		}
	}
	return NULL;
}

int
tg_addr_parse(struct tg_arena *a, const char *raw, struct tg_addr *addr_r,
    const char **error_r)
{
	const char *p = raw, *end, *at = NULL;
	char *domain;

	memset(addr_r, 0, sizeof(*addr_r));
	addr_r->local = addr_r->domain = "";
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (p < end && *p == '<') {
		if (end - p < 2 || end[-1] != '>') {
			*error_r = "unbalanced '<'";
			return -1;
		}
		p++;
		end--;
	}
	if (p == end) {
		addr_r->null = true;
		return 0;
	}
	if (memchr(p, '\r', (size_t)(end - p)) || memchr(p, '\n', (size_t)(end - p))
	    || memchr(p, '<', (size_t)(end - p)) || memchr(p, '>', (size_t)(end - p))) {
		*error_r = "control or bracket character in address";
		return -1;
	}
	if (*p == '@') {
		p = parse_route(a, p, end, addr_r);
		if (p == NULL) {
			*error_r = "malformed source route";
			return -1;
		}
	}
	if (p < end && *p == '"') {
		const char *next = NULL;
		char *local = parse_quoted(a, p, end, &next);

		if (local == NULL) {
			*error_r = "unterminated quoted local part";
			return -1;
		}
		addr_r->local = local;
		if (next < end && *next != '@') {
			*error_r = "expected '@' after quoted local part";
			return -1;
		}
		at = next < end ? next : NULL;
	} else {
		for (const char *q = end; q > p; q--)
			if (q[-1] == '@') {
				at = q - 1;
				break;
			}
		addr_r->local = tg_arena_strndup(a, p, (size_t)((at ? at : end) - p));
	}
	if (at == NULL)
		return 0;
	if (at + 1 == end) {
		*error_r = "empty domain after '@'";
		return -1;
	}
	domain = tg_arena_strndup(a, at + 1, (size_t)(end - at - 1));
	tg_domain_normalize(domain);
	addr_r->domain = domain;
	return 0;
}

bool
tg_addr_has_hidden_route(const struct tg_addr *addr)
{
	return strpbrk(addr->local, "%!@") != NULL;
}

bool
tg_addr_each_domain(struct tg_arena *a, const struct tg_addr *addr,
    bool (*fn)(const char *, void *), void *ctx)
{
	char *local, *p, *bang;
	size_t i;

	for (i = 0; i < addr->nroute; i++)
		if (!fn(addr->route[i], ctx))
			return false;
	local = tg_arena_strdup(a, addr->local);
	/* bang path: every "host!" before the user */
	while ((bang = strchr(local, '!')) != NULL) {
		*bang = '\0';
		tg_domain_normalize(local);
		if (!fn(local, ctx))
			return false;
		local = bang + 1;
	}
	/* percent hack and '@' inside the local part: user%h1%h2, user@h1 */
	p = strpbrk(local, "%@");
	while (p != NULL) {
		char *next = strpbrk(p + 1, "%@");

		if (next != NULL)
			*next = '\0';
		tg_domain_normalize(p + 1);
		if (!fn(p + 1, ctx))
			return false;
		p = next;
	}
	if (addr->domain[0] != '\0' && !fn(addr->domain, ctx))
		return false;
	return true;
}
