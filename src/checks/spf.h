/*
 * spf - the parts of the SPF check (checks/spf.c) that work without
 * DNS, exported for the unit tests: RFC 7208 record syntax, macro
 * expansion, identity selection, client address and result mapping.
 * The check itself is tg_check_spf (check.h).
 */
#ifndef TG_SPF_H
#define TG_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "session.h"

struct tg_arena;
struct tg_strbuf;
struct tg_addr;
struct tg_ip;

/* a record checked against the RFC 7208 grammar, rewritten for libspf2 */
struct tg_spf_record {
	const char *text;		/* "v=spf1" + mechanisms, then redirect= */
	const char *exp;		/* the exp= domain-spec, or NULL */
	const char *redirect;		/* the redirect= domain-spec, or NULL */
	bool has_all;
};

/* tg_spf_is_record - text starts with "v=spf1" then SP or its end */
bool tg_spf_is_record(const char *text);

/* tg_spf_record_parse - check record (the whole TXT string) against
   RFC 7208 section 12 and rewrite it for libspf2 for a client of
   family (AF_INET or AF_INET6): exp= and unknown modifiers dropped,
   redirect= moved last (or dropped when there is an "all"), ip4:/0
   and ip6:/0 turned into "all" or dropped. Strings live in arena a.
   -1 with *error_r (in a) when the record is not valid. */
int tg_spf_record_parse(struct tg_arena *a, const char *record, int family,
    struct tg_spf_record *rec_r, const char **error_r);

/* tg_spf_domain_spec_ok - a valid domain-spec (RFC 7208 8.1) */
bool tg_spf_domain_spec_ok(const char *spec);

/* what the macros of RFC 7208 section 7 expand to */
struct tg_spf_macro_ctx {
	const char *sender;		/* s: local@domain */
	const char *local;		/* l */
	const char *sender_domain;	/* o */
	const char *domain;		/* d: the current domain */
	const char *helo;		/* h; NULL: "unknown" */
	const char *receiver;		/* r; NULL: "unknown" */
	const struct tg_ip *ip;		/* i, c, v */
	time_t now;			/* t */
};

/* tg_spf_expand - expand a macro-string (exp: an explain-string, with
   SP and the c, r, t letters) into out; NULL, or what is wrong with s.
   %{p} expands to "unknown" (no DNS here). */
const char *tg_spf_expand(const char *s, bool exp, const struct tg_spf_macro_ctx *ctx,
    struct tg_strbuf *out);

/* the identity an SPF check is about */
struct tg_spf_identity {
	const char *sender;		/* local@domain, "postmaster@HELO" for <> */
	const char *local;
	const char *domain;		/* what check_host() starts from */
	bool helo;			/* HELO identity: the sender was <> */
};

/* tg_spf_helo_is_domain - HELO is a multi-label domain name, not an
   address literal or a bare word */
bool tg_spf_helo_is_domain(const char *helo);

/* tg_spf_identity - the MAIL FROM identity, or postmaster@HELO for the
   null sender; strings in a. -1 with *why_r when there is none to
   check (check_host() would return "none"). */
int tg_spf_identity(struct tg_arena *a, const struct tg_addr *sender, bool sender_ok,
    const char *helo, struct tg_spf_identity *id_r, const char **why_r);

/* tg_spf_client_ip - the address to check: IPv4-mapped IPv6
   (::ffff:a.b.c.d) becomes IPv4 */
void tg_spf_client_ip(const struct tg_ip *ip, struct tg_ip *out);

/* tg_spf_map - our outcome for libspf2's SPF_result_t value: its
   "(invalid)" and its errors are temperror when a lookup timed out or
   failed (dns_trouble), permerror otherwise */
enum tg_outcome tg_spf_map(int spf_result, bool dns_trouble);

#endif
