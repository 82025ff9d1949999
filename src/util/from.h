/*
 * from - the RFC 5322 From field, parsed strictly: a message has an
 * author domain only if it has exactly one From header holding exactly
 * one mailbox with a domain that is a DNS host name. No DNS, no mail
 * policy: what a missing or ambiguous From means is the caller's.
 */
#ifndef TG_FROM_H
#define TG_FROM_H

#include <stdbool.h>
#include <stddef.h>

struct tg_arena;

struct tg_from_mailbox {
	const char *local;		/* the local part as written */
	const char *domain;		/* lowercase, a valid DNS host name */
};

/* tg_from_parse - every mailbox of one From field value (RFC 5322
   mailbox-list; comments, quoted strings, obsolete dotted phrases
   allowed; encoded words are never decoded). Strings live in a.
   Returns 0 with the list, or -1 with *error_r (static text) for
   anything else: empty field, group syntax, an empty list element, a
   mailbox without '@', <>, a source route, an address literal, a
   domain that is not a DNS host name (U-labels included: use
   A-labels), unbalanced quotes, comments or brackets. */
int tg_from_parse(struct tg_arena *a, const char *value,
    struct tg_from_mailbox **list_r, size_t *n_r, const char **error_r);

/* tg_from_domain - the RFC5322.From domain of a message given its nh
   header fields (names[i]: values[i], borrowed): NULL with *error_r
   (static, or in a) when there is no From header, several, several
   mailboxes, or one that does not parse */
const char *tg_from_domain(struct tg_arena *a, const char *const *names,
    const char *const *values, size_t nh, const char **error_r);

/* tg_domain_is_hostname - a DNS host name: LDH labels of 1-63, at most
   253 characters, no trailing dot, not an all-numeric last label */
bool tg_domain_is_hostname(const char *domain);

#endif
