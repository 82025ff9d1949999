/*
 * addr - RFC 5321 path parsing for envelope addresses.
 *
 * Knows the tricks used to sneak relaying past a naive "domain after
 * the last @" test: source routes (@a,@b:user@c), the percent hack
 * (user%other@local), bang paths (other!user@local) and quoted local
 * parts holding '@'. tg_addr_each_domain() lists every domain such an
 * address could be routed to, so a relay check can require all of
 * them to be local.
 */
#ifndef TG_ADDR_H
#define TG_ADDR_H

#include <stdbool.h>
#include <stddef.h>

struct tg_arena;

struct tg_addr {
	const char *local;	/* dequoted local part; "" for <> */
	const char *domain;	/* lowercase, no trailing dot; "" if absent */
	const char **route;	/* source-route hops, lowercase */
	size_t nroute;
	bool null;		/* the null path <> */
};

/* tg_addr_parse - parse "<...>" or a bare path; strings live in arena a.
   -1 with *error_r (static text) on syntax errors. */
int tg_addr_parse(struct tg_arena *a, const char *raw, struct tg_addr *addr_r,
    const char **error_r);

/* tg_addr_each_domain - call fn for the route hops, the hidden domains
   in the local part, then the domain itself (when present). Returns
   false as soon as fn does, true otherwise. */
bool tg_addr_each_domain(struct tg_arena *a, const struct tg_addr *addr,
    bool (*fn)(const char *domain, void *ctx), void *ctx);

/* tg_addr_has_hidden_route - the local part holds '%', '!' or '@' */
bool tg_addr_has_hidden_route(const struct tg_addr *addr);

/* tg_domain_normalize - lowercase and drop one trailing dot, in place */
void tg_domain_normalize(char *domain);

#endif
