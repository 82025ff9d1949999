/*
 * dmarc - the DMARC check's internal interface (RFC 7489), exported for
 * its unit tests; the daemon only uses tg_check_dmarc (check.h), and
 * the policy tg_dmarc_from_problem().
 *
 * The pieces, each testable without DNS or a milter (the From field is
 * util/from.h, organisational domains and alignment checks/psl.h):
 *   - policy discovery (RFC 7489 6.6.3) over a TXT lookup function;
 *   - the result, from a discovered record and the SPF and DKIM
 *     results already recorded for the message;
 *   - what was wrong with the From field of a recorded result, which
 *     the policy language tests ("dmarc-from is multiple").
 */
#ifndef TG_CHECKS_DMARC_H
#define TG_CHECKS_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "dns.h"
#include "session.h"

struct tg_arena;
struct tg_psl;

/* ------------------------------------------------------------ discovery */

/* TXT lookups: fetch returns the status and, for TG_DNS_OK, the
   records (character-strings joined) in *txt_r, strings in a */
struct tg_dmarc_txt_source {
	enum tg_dns_status (*fetch)(void *ctx, struct tg_arena *a, const char *name,
	    const char ***txt_r, size_t *n_r);
	void *ctx;
};

enum tg_dmarc_found {
	TG_DMARC_RECORD,		/* exactly one DMARC record */
	TG_DMARC_NO_RECORD,		/* none, or several: no DMARC for this mail */
	TG_DMARC_DNS_TEMPERROR,		/* a lookup timed out or failed */
	TG_DMARC_DNS_INTERNAL,		/* our resolver failed */
};

struct tg_dmarc_discovery {
	enum tg_dmarc_found found;
	const char *record;		/* TG_DMARC_RECORD: its text */
	const char *domain;		/* where it was published */
	bool at_org;			/* at the org domain, not the From domain */
	const char *why;		/* otherwise: what happened */
};

/* tg_dmarc_is_record - txt starts with the version tag "v=DMARC1" */
bool tg_dmarc_is_record(const char *txt);

/* tg_dmarc_discover - RFC 7489 6.6.3: _dmarc.FROM, and when it holds
   no DMARC record, _dmarc.ORG (if different). Several records at a
   name mean no DMARC at all. Strings in a. */
void tg_dmarc_discover(const struct tg_dmarc_txt_source *src, struct tg_arena *a,
    const char *from, const char *org, struct tg_dmarc_discovery *d);

/* ------------------------------------------------------------ result */

struct tg_dmarc_input {
	const char *from;		/* the RFC5322.From domain */
	const struct tg_dmarc_discovery *disc;
	const struct tg_result *results;	/* the message's results so far */
	size_t nresults;
	/* sample - 0..99 for pct sampling; NULL: arc4random_uniform */
	unsigned int (*sample)(void *ctx);
	void *sample_ctx;
};

struct tg_dmarc_outcome {
	enum tg_outcome outcome;	/* pass fail none temperror permerror */
	const char *policy;		/* "none", "quarantine", "reject" or NULL */
	const char *reason;		/* in the arena */
	bool internal;			/* an error of ours */
};

/* tg_dmarc_evaluate - the DMARC result: the record parsed by
   libopendmarc, SPF (first "spf" result) and DKIM (every "dkim" pass)
   alignment, sp= for a subdomain when the record is the org domain's,
   pct sampling; a temperror of SPF or DKIM that could have produced an
   aligned pass turns fail into temperror */
void tg_dmarc_evaluate(const struct tg_psl *psl, struct tg_arena *a,
    const struct tg_dmarc_input *in, struct tg_dmarc_outcome *out);

/* ------------------------------------------------------------ From */

/* why a message has no author domain (RFC 7489 6.6.1) */
enum tg_dmarc_from {
	TG_DMARC_FROM_OK,		/* one author domain, or no such result */
	TG_DMARC_FROM_MISSING,		/* no From field */
	TG_DMARC_FROM_MULTIPLE,		/* several From fields, or addresses in one */
	TG_DMARC_FROM_INVALID,		/* one From field that does not parse */
};

/* tg_dmarc_from_problem - what was wrong with the From field of a
   "dmarc" result: the check records an unusable From as permerror
   without a domain, its reason the text util/from.c gave ("no From
   header", "multiple From headers: N", "multiple From addresses: N",
   or why the field does not parse), while an invalid record's
   permerror has the From domain. Reads only r (any result, or NULL),
   so results read back from the verdict store tell the same. */
enum tg_dmarc_from tg_dmarc_from_problem(const struct tg_result *r);

#endif
