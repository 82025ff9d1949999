/*
 * dkim - DKIM verification (RFC 6376, RFC 8301, RFC 8463) with
 * libopendkim: one result per signature, in header order, with d=, s=,
 * a=, the b= prefix, the key size and why it did not pass.
 *
 * Streaming: headers go to libopendkim as they arrive, body chunks at
 * each BODY phase; nothing of the message is buffered here (the
 * session keeps the header list, libopendkim its own copy of them).
 * Key lookups (TXT s._domainkey.d) go through the shared resolver via
 * libopendkim's DNS hooks, within DNSTimeout and the message's
 * CheckTimeout; they happen at end of headers.
 *
 * Decisions (where RFC 6376 leaves a choice or libopendkim differs).
 * Reasons avoid parentheses: they become A-R comments.
 *   - rsa-sha1 (RFC 8301 3.1): a signature that verifies is "policy",
 *     "rsa-sha1 is not acceptable, RFC 8301", never pass; one that does
 *     not verify fails like any other.
 *   - RSA keys below DKIMMinKeyBits (default 1024, RFC 8301 3.2):
 *     "policy", "key too small: N bits, minimum M". ed25519 keys (256
 *     bits, RFC 8463) are not subject to the minimum.
 *   - l= (body length): libopendkim hashes the first l bytes of the
 *     canonical body and passes the signature whatever follows. We count
 *     the canonical body length ourselves (both canonicalisations, as
 *     the chunks stream by) and give "policy", "body signed only in
 *     part: l=N of M bytes", when unsigned content follows, so appended
 *     text never rides on a valid signature; an l= covering the whole
 *     body passes; one longer than the body fails.
 *   - x= and t= (libopendkim allows 300 s of clock drift): an expired
 *     signature, or one dated in the future, is "policy" (honouring x=
 *     is a local choice, RFC 6376 3.5 "MAY"; not evidence of forgery,
 *     yet never a pass); x= before t= is "permerror".
 *   - a key record with an empty p= (revoked) is "fail", "key revoked".
 *   - no key (NXDOMAIN, no TXT record) and every syntax error in the
 *     signature or in the key record are "permerror"; a key lookup that
 *     times out or gets SERVFAIL is "temperror"; libopendkim failing
 *     (memory, internal) is "temperror" marked internal.
 *   - DKIMMaxSignatures N: only the first N DKIM-Signature fields (from
 *     the top: the most recently added) reach libopendkim; the rest are
 *     not parsed, hashed or looked up, and the last result says how many
 *     were left out. libopendkim would hash the body once per distinct
 *     (c=, a=, l=) of every signature it is given, ignored or not, so
 *     merely ignoring them would not bound the work. The price: a
 *     verified signature whose h= covers a left-out DKIM-Signature field
 *     does not verify (rare: signers do not sign other signatures, and
 *     a message over the cap is abnormal anyway).
 *   - a message without a From field (libopendkim cannot proceed): each
 *     signature is "permerror".
 * No signature at all gives one result "none", "no signature". A pass
 * says the key size, "2048-bit key", then ", DNSSEC" when the key
 * record was validated and ", testing t=y" for a key in testing mode.
 *
 * Not done here: DMARC alignment (dmarc.c reads these results), ARC,
 * signing.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <dkim.h>
#include <unbound.h>

#include "checks/check.h"
#include "checks/dkim_keys.h"
#include "config.h"
#include "dns.h"
#include "session.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define BPREFIX 8		/* characters of b= reported (RFC 6008) */

/* per config snapshot */
struct dkim_global {
	DKIM_LIB *lib;
	unsigned int max_sigs;
	unsigned int min_bits;
};

/* one DKIM-Signature field, as we parsed it (for reporting) */
struct sighdr {
	const char *d, *s, *a, *b;	/* sanitised; NULL when absent or unfit */
	bool malformed;			/* libopendkim refused its tag list */
	const char *why;		/* then: its error text */
};

/* one key lookup and how it ended */
struct keyquery {
	const char *name;
	enum tg_dns_status status;
	bool bad_name;			/* not a DNS name: not asked */
	bool resolver_failed;		/* our resolver, not DNS, failed */
	struct keyquery *next;
};

/* canonical body length, counted as libopendkim hashes it */
struct canonlen {
	uint64_t len;			/* bytes committed */
	uint64_t line;			/* bytes of the current line */
	uint64_t blank;			/* empty lines not yet committed */
	bool wsp;			/* relaxed: white space pending */
};

struct bodylen {
	struct canonlen simple, relaxed;
	bool cr;			/* a CR waiting for its LF */
};

/* per message, in msg->state[]; lives in the message arena */
struct dkim_state {
	DKIM *dkim;			/* freed by msg_end */
	struct sighdr *sigs;		/* the first max_sigs fields */
	size_t nsigs, capsigs;
	size_t nskipped;		/* fields beyond DKIMMaxSignatures */
	bool count_body;		/* some signature has l= */
	struct bodylen body;
	struct keyquery *queries;
	bool eoh_done;
	bool line_open;			/* the body so far does not end a line */
	uint64_t line_len;		/* bytes of the body's current line */
	bool line_too_long;		/* a line passed MAX_LINE: not verified */
	bool nosig;			/* libopendkim found no usable signature */
	const char *unusable;		/* the message cannot be verified: why */
	const char *internal;		/* libopendkim failed: why */
};

/* the message whose key lookups run on this thread right now: set only
   around dkim_eoh()/dkim_eom() (libopendkim's DNS hooks get no context
   of their own), so a connection switching threads is no problem */
static _Thread_local struct tg_msg *lookup_msg;

/* a key query started by dns_start: the answer is already here */
struct pending {
	enum tg_dns_status status;
	size_t len;
	int dnssec;
};

/* slot - our index in the check table, i.e. in msg->state[] */
static size_t
slot(void)
{
	size_t i;

	for (i = 0; tg_checks[i] != NULL && tg_checks[i] != &tg_check_dkim; i++)
		continue;
	return i;
}

/* ---------------------------------------------------------------- DNS */

/* dns_start - do the whole TXT lookup now; copy the wire reply to buf */
static int
dns_start(void *srv, int type, unsigned char *query, unsigned char *buf,
    size_t buflen, void **qh)
{
	struct tg_msg *msg = lookup_msg;
	struct dkim_state *st;
	struct tg_dns_answer ans;
	struct pending *p;
	struct keyquery *q;
	bool bad_name;

	(void)srv;
	if (msg == NULL || (st = msg->state[slot()]) == NULL)
		return DKIM_DNS_ERROR;
	memset(&ans, 0, sizeof(ans));
	ans.status = TG_DNS_ERROR;
	bad_name = tg_dns_labels((const char *)query) == 0;	/* s= or d= can make one */
	if (!bad_name)
		tg_msg_lookup(msg, (const char *)query, type, &ans);
	p = xcalloc(1, sizeof(*p));
	p->status = ans.status;
	p->dnssec = ans.secure ? DKIM_DNSSEC_SECURE
	    : msg->conn->cfg->trust_anchor != NULL ? DKIM_DNSSEC_INSECURE : DKIM_DNSSEC_UNKNOWN;
	if (ans.status == TG_DNS_OK || ans.status == TG_DNS_NXDOMAIN
	    || ans.status == TG_DNS_NODATA) {
		if (ans.res != NULL && ans.res->answer_packet != NULL
		    && ans.res->answer_len > 0 && (size_t)ans.res->answer_len <= buflen) {
			memcpy(buf, ans.res->answer_packet, (size_t)ans.res->answer_len);
			p->len = (size_t)ans.res->answer_len;
		} else {
			p->status = TG_DNS_ERROR;
		}
	}
	q = tg_arena_alloc(msg->arena, sizeof(*q));
	q->name = tg_arena_strdup(msg->arena, (const char *)query);
	q->status = p->status;
	q->bad_name = bad_name;
	q->resolver_failed = !bad_name && ans.status == TG_DNS_ERROR;
	q->next = st->queries;
	st->queries = q;
	tg_dns_answer_free(&ans);
	*qh = p;
	return DKIM_DNS_SUCCESS;
}

/* dns_waitreply - the answer of dns_start; a timeout is "expired" */
static int
dns_waitreply(void *srv, void *qh, struct timeval *to, size_t *bytes, int *error,
    int *dnssec)
{
	const struct pending *p = qh;

	(void)srv;
	(void)to;
	if (error != NULL)
		*error = 0;
	if (dnssec != NULL)
		*dnssec = p->dnssec;
	switch (p->status) {
	case TG_DNS_OK:
	case TG_DNS_NXDOMAIN:
	case TG_DNS_NODATA:
		*bytes = p->len;
		return DKIM_DNS_SUCCESS;
	case TG_DNS_TIMEOUT:
		return DKIM_DNS_EXPIRED;
	default:
		return DKIM_DNS_ERROR;
	}
}

/* dns_cancel - libopendkim is done with a query */
static int
dns_cancel(void *srv, void *qh)
{
	(void)srv;
	free(qh);
	return DKIM_DNS_SUCCESS;
}

/* query_find - how the lookup of s._domainkey.d ended, NULL if none ran */
static const struct keyquery *
query_find(const struct dkim_state *st, const char *s, const char *d)
{
	size_t sl, dl;

	if (s == NULL || d == NULL)
		return NULL;
	sl = strlen(s);
	dl = strlen(d);
	for (const struct keyquery *q = st->queries; q != NULL; q = q->next)
		if (strncasecmp(q->name, s, sl) == 0
		    && strncasecmp(q->name + sl, "._domainkey.", 12) == 0
		    && strncasecmp(q->name + sl + 12, d, dl) == 0
		    && (q->name[sl + 12 + dl] == '\0'
		    || (q->name[sl + 12 + dl] == '.' && q->name[sl + 13 + dl] == '\0')))
			return q;
	return NULL;
}

/* ---------------------------------------------------------- body length */

/* canon_char - one character of a line, both canonicalisations */
static void
canon_char(struct bodylen *b, unsigned char c)
{
	b->simple.line++;
	if (c == ' ' || c == '\t') {
		b->relaxed.wsp = true;
	} else {
		if (b->relaxed.wsp)
			b->relaxed.line++;
		b->relaxed.wsp = false;
		b->relaxed.line++;
	}
}

/* canon_eol - a CRLF: empty lines wait, they may be trailing ones */
static void
canon_eol(struct canonlen *c)
{
	if (c->line > 0) {
		c->len += c->blank * 2 + c->line + 2;
		c->blank = 0;
	} else {
		c->blank++;
	}
	c->line = 0;
	c->wsp = false;
}

/* body_count - feed one chunk to both counters */
static void
body_count(struct bodylen *b, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (b->cr) {
			b->cr = false;
			if (p[i] == '\n') {
				canon_eol(&b->simple);
				canon_eol(&b->relaxed);
				continue;
			}
			canon_char(b, '\r');
		}
		if (p[i] == '\r')
			b->cr = true;
		else
			canon_char(b, p[i]);
	}
}

/* body_total - canonical body length (RFC 6376 3.4.3, 3.4.4) at end */
static uint64_t
body_total(const struct bodylen *b, bool relaxed)
{
	struct bodylen end = *b;
	const struct canonlen *c;

	if (end.cr)
		canon_char(&end, '\r');
	c = relaxed ? &end.relaxed : &end.simple;
	if (c->line > 0)
		return c->len + c->blank * 2 + c->line + 2;
	if (!relaxed && c->len == 0)
		return 2;		/* an empty body is one CRLF */
	return c->len;
}

/* ------------------------------------------------------------- parsing */

/* token - v when every character is in allowed, else NULL */
static const char *
token(const char *v, const char *allowed)
{
	if (v == NULL || v[0] == '\0' || v[strspn(v, allowed)] != '\0')
		return NULL;
	return v;
}

#define DOMAIN_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"
#define B64_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/="

/* parse_sighdr - d=, s=, a=, b= of a tag list (RFC 6376 3.2), white
   space removed; what is not a clean token stays NULL */
static void
parse_sighdr(struct tg_arena *a, const char *v, struct sighdr *sh, bool *has_l)
{
	char *copy = tg_arena_strdup(a, v), *save = NULL;

	for (char *t = strtok_r(copy, ";", &save); t != NULL; t = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(t, '='), *name = t, *w = NULL;

		if (eq == NULL)
			continue;
		*eq = '\0';
		/* drop all FWS from the name and the value */
		for (char *r = name, *o = name;; r++) {
			if (*r != ' ' && *r != '\t' && *r != '\r' && *r != '\n')
				*o++ = *r;
			if (*r == '\0')
				break;
		}
		w = eq + 1;
		for (char *r = w, *o = w;; r++) {
			if (*r != ' ' && *r != '\t' && *r != '\r' && *r != '\n')
				*o++ = *r;
			if (*r == '\0')
				break;
		}
		if (strcmp(name, "d") == 0)
			sh->d = token(w, DOMAIN_CHARS);
		else if (strcmp(name, "s") == 0)
			sh->s = token(w, DOMAIN_CHARS);
		else if (strcmp(name, "a") == 0)
			sh->a = token(w, DOMAIN_CHARS);
		else if (strcmp(name, "b") == 0 && token(w, B64_CHARS) != NULL)
			sh->b = tg_arena_strndup(a, w, BPREFIX);
		else if (strcmp(name, "l") == 0)
			*has_l = true;
	}
}

/* is_signature - the field libopendkim will take as a DKIM-Signature:
   the name before the first colon, trailing white space ignored */
static bool
is_signature(const char *field, size_t len)
{
	const char *colon = memchr(field, ':', len);
	size_t n;

	if (colon == NULL)
		return false;
	n = (size_t)(colon - field);
	while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\t'))
		n--;
	return n == 14 && strncasecmp(field, "DKIM-Signature", 14) == 0;
}

/* ------------------------------------------------------------- results */

/* lib_text - a libopendkim message fit for an A-R comment: our reasons
   avoid parentheses (they would be escaped), so do its */
static const char *
lib_text(struct tg_arena *a, const char *prefix, const char *e, const char *dflt)
{
	struct tg_strbuf sb = { 0 };
	const char *r;

	tg_strbuf_append(&sb, prefix);
	if (e == NULL || e[0] == '\0')
		e = dflt;
	for (; *e; e++) {
		if (strncmp(e, "(s)", 3) == 0) {
			tg_strbuf_addch(&sb, 's');
			e += 2;
		} else {
			tg_strbuf_addch(&sb, *e == '(' ? '[' : *e == ')' ? ']' : *e);
		}
	}
	r = tg_arena_strdup(a, tg_strbuf_str(&sb));
	tg_strbuf_free(&sb);
	return r;
}

/* the libopendkim signature errors that are not pass/fail decisions of
   ours, with their outcome and text */
static const struct sigerr {
	int err;
	enum tg_outcome outcome;
	const char *text;
} sigerrs[] = {
	{ DKIM_SIGERROR_VERSION, TG_PERMERROR, "unsupported signature version v=" },
	{ DKIM_SIGERROR_DOMAIN, TG_PERMERROR, "i= is not within d=" },
	{ DKIM_SIGERROR_EXPIRED, TG_POLICY, "signature expired" },
	{ DKIM_SIGERROR_FUTURE, TG_POLICY, "signature timestamp t= in the future" },
	{ DKIM_SIGERROR_TIMESTAMPS, TG_PERMERROR, "expiry x= is before signing time t=" },
	{ DKIM_SIGERROR_INVALID_HC, TG_PERMERROR, "unknown header canonicalization c=" },
	{ DKIM_SIGERROR_INVALID_BC, TG_PERMERROR, "unknown body canonicalization c=" },
	{ DKIM_SIGERROR_MISSING_A, TG_PERMERROR, "malformed signature: a= missing" },
	{ DKIM_SIGERROR_INVALID_A, TG_PERMERROR, "unknown algorithm a=" },
	{ DKIM_SIGERROR_MISSING_H, TG_PERMERROR, "malformed signature: h= missing" },
	{ DKIM_SIGERROR_INVALID_L, TG_PERMERROR, "malformed signature: bad l=" },
	{ DKIM_SIGERROR_INVALID_Q, TG_PERMERROR, "unknown query method q=" },
	{ DKIM_SIGERROR_INVALID_QO, TG_PERMERROR, "unknown query option q=" },
	{ DKIM_SIGERROR_MISSING_D, TG_PERMERROR, "malformed signature: d= missing" },
	{ DKIM_SIGERROR_EMPTY_D, TG_PERMERROR, "malformed signature: d= empty" },
	{ DKIM_SIGERROR_MISSING_S, TG_PERMERROR, "malformed signature: s= missing" },
	{ DKIM_SIGERROR_EMPTY_S, TG_PERMERROR, "malformed signature: s= empty" },
	{ DKIM_SIGERROR_MISSING_B, TG_PERMERROR, "malformed signature: b= missing" },
	{ DKIM_SIGERROR_EMPTY_B, TG_PERMERROR, "malformed signature: b= empty" },
	{ DKIM_SIGERROR_CORRUPT_B, TG_PERMERROR, "malformed signature: b= is not base64" },
	{ DKIM_SIGERROR_DNSSYNTAX, TG_PERMERROR, "malformed key record" },
	{ DKIM_SIGERROR_MISSING_BH, TG_PERMERROR, "malformed signature: bh= missing" },
	{ DKIM_SIGERROR_EMPTY_BH, TG_PERMERROR, "malformed signature: bh= empty" },
	{ DKIM_SIGERROR_CORRUPT_BH, TG_PERMERROR, "malformed signature: bh= is not base64" },
	{ DKIM_SIGERROR_SUBDOMAIN, TG_FAIL, "key t=s does not allow a subdomain in i=" },
	{ DKIM_SIGERROR_MULTIREPLY, TG_PERMERROR, "several key records" },
	{ DKIM_SIGERROR_EMPTY_H, TG_PERMERROR, "malformed signature: h= empty" },
	{ DKIM_SIGERROR_INVALID_H, TG_PERMERROR, "h= does not include From" },
	{ DKIM_SIGERROR_TOOLARGE_L, TG_FAIL, "l= is longer than the body" },
	{ DKIM_SIGERROR_KEYVERSION, TG_PERMERROR, "unknown key record version v=" },
	{ DKIM_SIGERROR_KEYUNKNOWNHASH, TG_PERMERROR, "key record h= names no known hash" },
	{ DKIM_SIGERROR_KEYHASHMISMATCH, TG_PERMERROR, "key record h= does not allow this hash" },
	{ DKIM_SIGERROR_NOTEMAILKEY, TG_PERMERROR, "key record s= is not for email" },
	{ DKIM_SIGERROR_KEYTYPEMISSING, TG_PERMERROR, "malformed key record: k= missing" },
	{ DKIM_SIGERROR_KEYTYPEUNKNOWN, TG_PERMERROR, "unknown key type k=" },
	{ DKIM_SIGERROR_KEYREVOKED, TG_FAIL, "key revoked" },
	{ DKIM_SIGERROR_KEYDECODE, TG_PERMERROR, "key cannot be decoded" },
	{ DKIM_SIGERROR_MISSING_V, TG_PERMERROR, "malformed signature: v= missing" },
	{ DKIM_SIGERROR_EMPTY_V, TG_PERMERROR, "malformed signature: v= empty" },
};

/* add - one dkim result with the signature's properties */
static struct tg_result *
add(struct tg_msg *msg, const struct sighdr *sh, enum tg_outcome o, const char *reason,
    bool internal)
{
	struct tg_result *r = tg_result_add(msg, "dkim", o, TG_PH_EOM, "%s", reason);
	struct tg_strbuf sb = { 0 };

	r->internal = internal;
	if (sh == NULL)
		return r;
	r->domain = sh->d;
	if (sh->d != NULL)
		tg_strbuf_printf(&sb, "header.d=%s", sh->d);
	if (sh->s != NULL)
		tg_strbuf_printf(&sb, "%sheader.s=%s", sb.len ? " " : "", sh->s);
	if (sh->a != NULL)
		tg_strbuf_printf(&sb, "%sheader.a=%s", sb.len ? " " : "", sh->a);
	if (sh->b != NULL)
		tg_strbuf_printf(&sb, strpbrk(sh->b, "/=") ? "%sheader.b=\"%s\"" : "%sheader.b=%s",
		    sb.len ? " " : "", sh->b);
	if (sb.len > 0)
		r->props = tg_arena_strdup(msg->arena, tg_strbuf_str(&sb));
	tg_strbuf_free(&sb);
	return r;
}

/* key_problem - NOKEY / KEYFAIL: what the lookup said; *internal when
   our own resolver failed */
static void
key_problem(const struct dkim_state *st, const struct sighdr *sh, int err,
    enum tg_outcome *o, const char **why, bool *internal)
{
	const struct keyquery *q = query_find(st, sh->s, sh->d);
	enum tg_dns_status s = q != NULL ? q->status : TG_DNS_ERROR;

	if (q != NULL && q->bad_name) {
		*o = TG_PERMERROR;
		*why = "no key: not a valid DNS name";
		return;
	}
	if (q != NULL && q->resolver_failed) {
		*o = TG_TEMPERROR;
		*why = "key lookup failed: resolver error";
		*internal = true;
		return;
	}
	if (err == DKIM_SIGERROR_NOKEY) {
		*o = TG_PERMERROR;
		*why = s == TG_DNS_NXDOMAIN ? "no key: NXDOMAIN" : "no key record";
		return;
	}
	*o = TG_TEMPERROR;
	*why = s == TG_DNS_TIMEOUT ? "key lookup timed out"
	    : s == TG_DNS_SERVFAIL ? "key lookup failed: SERVFAIL"
	    : s == TG_DNS_OK ? "unusable DNS reply for the key" : "key lookup failed";
}

/* verdict_of - the outcome and reason of one processed signature */
static void
verdict_of(const struct dkim_global *g, struct dkim_state *st, struct tg_msg *msg,
    DKIM_SIGINFO *sig, const struct sighdr *sh, enum tg_outcome *o, const char **why,
    bool *internal)
{
	int err = dkim_sig_geterror(sig);
	unsigned int flags = dkim_sig_getflags(sig), bits = 0;
	const char *alg = (const char *)dkim_sig_gettagvalue(sig, false, (u_char *)"a");
	bool ed = alg != NULL && strcasecmp(alg, "ed25519-sha256") == 0;
	bool sha1 = alg != NULL && strcasecmp(alg, "rsa-sha1") == 0;
	ssize_t signlen = -1;
	dkim_canon_t bc = DKIM_CANON_SIMPLE;

	if (dkim_sig_getkeysize(sig, &bits) != DKIM_STAT_OK)
		bits = 0;
	if (ed)
		bits = 256;
	if (err == DKIM_SIGERROR_OK && (flags & DKIM_SIGFLAG_PASSED)
	    && dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH) {
		uint64_t total;

		(void)dkim_sig_getcanonlen(st->dkim, sig, NULL, NULL, &signlen);
		(void)dkim_sig_getcanons(sig, NULL, &bc);
		total = body_total(&st->body, bc == DKIM_CANON_RELAXED);
		if (!ed && bits < g->min_bits) {
			*o = TG_POLICY;
			*why = tg_arena_printf(msg->arena, "key too small: %u bits, minimum %u",
			    bits, g->min_bits);
		} else if (sha1) {
			*o = TG_POLICY;
			*why = "rsa-sha1 is not acceptable, RFC 8301";
		} else if (signlen >= 0 && st->count_body && total > (uint64_t)signlen) {
			*o = TG_POLICY;
			*why = tg_arena_printf(msg->arena,
			    "body signed only in part: l=%lld of %llu bytes",
			    (long long)signlen, (unsigned long long)total);
		} else {
			*o = TG_PASS;
			*why = tg_arena_printf(msg->arena, "%u-bit key%s%s", bits,
			    dkim_sig_getdnssec(sig) == DKIM_DNSSEC_SECURE ? ", DNSSEC" : "",
			    (flags & DKIM_SIGFLAG_TESTKEY) ? ", testing t=y" : "");
		}
		return;
	}
	switch (err) {
	case DKIM_SIGERROR_KEYTOOSMALL:
		*o = TG_POLICY;
		*why = tg_arena_printf(msg->arena, "key too small: %u bits, minimum %u",
		    bits, g->min_bits);
		return;
	case DKIM_SIGERROR_BADSIG:
	case DKIM_SIGERROR_OK:
		*o = TG_FAIL;
		*why = (flags & DKIM_SIGFLAG_PASSED) && dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH
		    ? "body hash mismatch" : "signature mismatch";
		return;
	case DKIM_SIGERROR_NOKEY:
	case DKIM_SIGERROR_KEYFAIL:
		key_problem(st, sh, err, o, why, internal);
		return;
	case DKIM_SIGERROR_UNKNOWN:
		*o = TG_NEUTRAL;
		*why = "not verified";
		return;
	}
	for (size_t i = 0; i < sizeof(sigerrs) / sizeof(sigerrs[0]); i++)
		if (sigerrs[i].err == err) {
			*o = sigerrs[i].outcome;
			*why = sigerrs[i].text;
			return;
		}
	*o = TG_PERMERROR;
	*why = tg_arena_printf(msg->arena, "signature error: %s",
	    dkim_sig_geterrorstr(err) ? dkim_sig_geterrorstr(err) : "unknown");
}

/* fail_all - every examined signature gets the same (error) result */
static void
fail_all(struct dkim_state *st, struct tg_msg *msg, enum tg_outcome o, const char *why,
    bool internal)
{
	if (st->nsigs == 0) {
		add(msg, NULL, o, why, internal);
		return;
	}
	for (size_t i = 0; i < st->nsigs; i++) {
		const struct sighdr *sh = &st->sigs[i];

		if (sh->malformed && !internal)
			add(msg, sh, TG_PERMERROR, sh->why, false);
		else
			add(msg, sh, o, why, internal);
	}
}

/* record - the results at end of message */
static void
record(const struct dkim_global *g, struct dkim_state *st, struct tg_msg *msg)
{
	DKIM_SIGINFO **list = NULL;
	int n = 0, j = 0;
	size_t first = msg->nresults;

	if (st->internal != NULL) {
		fail_all(st, msg, TG_TEMPERROR, st->internal, true);
	} else if (st->nsigs == 0) {
		add(msg, NULL, TG_NONE, "no signature", false);
	} else if (st->unusable != NULL) {
		fail_all(st, msg, TG_PERMERROR, st->unusable, false);
	} else if (st->line_too_long) {
		fail_all(st, msg, TG_POLICY, "not verified: a body line longer than 1 MB", false);
	} else if (st->nosig) {
		fail_all(st, msg, TG_PERMERROR, "not verifiable", false);
	} else if (dkim_getsiglist(st->dkim, &list, &n) != DKIM_STAT_OK) {
		fail_all(st, msg, TG_TEMPERROR, "internal error: no signature list", true);
	} else {
		size_t good = 0;

		for (size_t i = 0; i < st->nsigs; i++)
			good += !st->sigs[i].malformed;
		if (good != (size_t)n) {
			fail_all(st, msg, TG_TEMPERROR,
			    "internal error: signature list out of step", true);
		} else {
			for (size_t i = 0; i < st->nsigs; i++) {
				const struct sighdr *sh = &st->sigs[i];
				enum tg_outcome o;
				const char *why;
				bool internal = false;

				if (sh->malformed) {
					add(msg, sh, TG_PERMERROR, sh->why, false);
					continue;
				}
				verdict_of(g, st, msg, list[j++], sh, &o, &why, &internal);
				add(msg, sh, o, why, internal);
			}
		}
	}
	if (st->nskipped > 0 && msg->nresults > first) {
		struct tg_result *r = &msg->results[msg->nresults - 1];

		r->reason = tg_arena_printf(msg->arena, "%s%s%zu more signature%s not verified, "
		    "DKIMMaxSignatures %u", r->reason ? r->reason : "", r->reason ? "; " : "",
		    st->nskipped, st->nskipped == 1 ? "" : "s", g->max_sigs);
	}
}

/* --------------------------------------------------------------- phases */

/* internal - libopendkim failed us: remember why, stop feeding it */
static void
internal(struct dkim_state *st, struct tg_msg *msg, const char *where, DKIM_STAT stat)
{
	const char *e = st->dkim != NULL ? dkim_geterror(st->dkim) : NULL;
	const char *r = dkim_getresultstr(stat);

	if (st->internal == NULL)
		st->internal = lib_text(msg->arena, tg_arena_printf(msg->arena,
		    "internal error: %s: %s%s", where, r != NULL ? r : "failed",
		    e != NULL && e[0] ? ": " : ""), e, "");
}

/* state_get - this message's state, created (with the verifying handle)
   on first use; NULL when the checks do not apply to the client */
static struct dkim_state *
state_get(struct dkim_global *g, struct tg_msg *msg)
{
	size_t i = slot();
	struct dkim_state *st = msg->state[i];
	DKIM_STAT stat = DKIM_STAT_OK;

	if (st != NULL || !tg_msg_inbound(msg))
		return st;
	st = tg_arena_alloc(msg->arena, sizeof(*st));
	msg->state[i] = st;
	st->dkim = dkim_verify(g->lib, (const u_char *)tg_msg_ref(msg), NULL, &stat);
	if (st->dkim == NULL)
		internal(st, msg, "dkim_verify", stat);
	return st;
}

/* on_header - one header field to libopendkim, "Name: value" with
   CRLF line ends (the MTA may fold with a bare LF) */
static void
on_header(const struct dkim_global *g, struct dkim_state *st, struct tg_msg *msg,
    const struct tg_phase_arg *arg)
{
	struct tg_strbuf sb = { 0 };
	struct sighdr *sh = NULL;
	bool sig, has_l = false;
	DKIM_STAT stat;

	if (st->internal != NULL || st->eoh_done || arg->hname == NULL || arg->hvalue == NULL)
		return;
	tg_strbuf_append(&sb, arg->hname);
	tg_strbuf_addch(&sb, ':');
	/* with SMFIP_HDR_LEADSPC the value keeps its own leading space, as
	   simple header canonicalisation needs; without it the MTA took
	   the space away and one is the best guess */
	if (!arg->leadspc)
		tg_strbuf_addch(&sb, ' ');
	for (const char *p = arg->hvalue; *p; p++) {
		if (*p == '\n' && (p == arg->hvalue || p[-1] != '\r'))
			tg_strbuf_addch(&sb, '\r');
		tg_strbuf_addch(&sb, *p);
	}
	sig = is_signature(sb.s, sb.len);
	if (sig) {
		if (st->nsigs >= g->max_sigs) {
			st->nskipped++;
			tg_strbuf_free(&sb);
			return;
		}
		if (st->nsigs == st->capsigs) {
			struct sighdr *nv;

			st->capsigs = st->capsigs ? st->capsigs * 2 : 4;
			nv = tg_arena_alloc(msg->arena, st->capsigs * sizeof(*nv));
			if (st->nsigs > 0)
				memcpy(nv, st->sigs, st->nsigs * sizeof(*nv));
			st->sigs = nv;
		}
		sh = &st->sigs[st->nsigs++];
		parse_sighdr(msg->arena, arg->hvalue, sh, &has_l);
		if (has_l)
			st->count_body = true;
	}
	stat = dkim_header(st->dkim, (u_char *)sb.s, sb.len);
	if (stat == DKIM_STAT_SYNTAX && sh != NULL) {
		sh->malformed = true;
		sh->why = lib_text(msg->arena, "malformed signature: ", dkim_geterror(st->dkim),
		    "syntax error");
	} else if (stat != DKIM_STAT_OK && stat != DKIM_STAT_SYNTAX) {
		internal(st, msg, "dkim_header", stat);
	}
	tg_strbuf_free(&sb);
}

/* on_eoh - end of headers: libopendkim parses the signatures and looks
   up their keys (through dns_start) */
static void
on_eoh(struct dkim_state *st, struct tg_msg *msg)
{
	DKIM_STAT stat;

	if (st->eoh_done)
		return;
	st->eoh_done = true;
	if (st->internal != NULL)
		return;
	lookup_msg = msg;
	stat = dkim_eoh(st->dkim);
	lookup_msg = NULL;
	switch (stat) {
	case DKIM_STAT_OK:
		break;
	case DKIM_STAT_NOSIG:
		st->nosig = true;
		break;
	case DKIM_STAT_SYNTAX:
	case DKIM_STAT_CANTVRFY:
		st->unusable = lib_text(msg->arena, "message not verifiable: ",
		    dkim_geterror(st->dkim), "syntax error");
		break;
	default:
		internal(st, msg, "dkim_eoh", stat);
		break;
	}
}

/* libopendkim holds a body line in memory until its end: a line longer
   than this (RFC 5322 allows 998 characters) is not fed to it, so one
   message cannot make tollgate allocate its size */
#define MAX_LINE (1024 * 1024)

/* line_length - follow the current line's length through a chunk;
   false once it passes MAX_LINE */
static bool
line_length(struct dkim_state *st, const unsigned char *p, size_t n)
{
	const unsigned char *nl = memrchr(p, '\n', n);

	st->line_len = nl != NULL ? n - (size_t)(nl + 1 - p) : st->line_len + n;
	if (st->line_len > MAX_LINE)
		st->line_too_long = true;
	return !st->line_too_long;
}

/* on_body - one chunk, straight to libopendkim */
static void
on_body(struct dkim_state *st, struct tg_msg *msg, const struct tg_phase_arg *arg)
{
	DKIM_STAT stat;

	if (arg->body == NULL || arg->bodylen == 0)
		return;
	on_eoh(st, msg);
	if (st->internal != NULL || st->unusable != NULL || st->nosig || st->line_too_long)
		return;
	if (!line_length(st, arg->body, arg->bodylen))
		return;
	if (st->count_body)
		body_count(&st->body, arg->body, arg->bodylen);
	/* libopendkim only reads the chunk */
	stat = dkim_body(st->dkim, (u_char *)(uintptr_t)arg->body, arg->bodylen);
	if (stat != DKIM_STAT_OK)
		internal(st, msg, "dkim_body", stat);
	st->line_open = arg->body[arg->bodylen - 1] != '\n';
}

/* end_line - RFC 6376 3.4.3: a body not ending in CRLF gets one (else
   libopendkim's dkim_eom() gives up with DKIM_STAT_SYNTAX and nothing is
   verified); Postfix always ends the body so, other MTAs may not */
static void
end_line(struct dkim_state *st, struct tg_msg *msg)
{
	static const unsigned char crlf[] = "\r\n";
	DKIM_STAT stat;

	if (!st->line_open)
		return;
	st->line_open = false;
	if (st->count_body)
		body_count(&st->body, crlf, 2);
	stat = dkim_body(st->dkim, (u_char *)(uintptr_t)crlf, 2);
	if (stat != DKIM_STAT_OK)
		internal(st, msg, "dkim_body", stat);
}

/* on_eom - finish the hashes, check the signatures, record results */
static void
on_eom(const struct dkim_global *g, struct dkim_state *st, struct tg_msg *msg)
{
	DKIM_STAT stat;

	on_eoh(st, msg);
	if (st->internal == NULL && st->unusable == NULL && !st->nosig && !st->line_too_long)
		end_line(st, msg);
	if (st->internal == NULL && st->unusable == NULL && !st->nosig && !st->line_too_long) {
		lookup_msg = msg;
		stat = dkim_eom(st->dkim, NULL);
		lookup_msg = NULL;
		switch (stat) {
		case DKIM_STAT_NORESOURCE:
		case DKIM_STAT_INTERNAL:
		case DKIM_STAT_INVALID:
		case DKIM_STAT_CBERROR:
		case DKIM_STAT_CBINVALID:
		case DKIM_STAT_CBREJECT:
		case DKIM_STAT_CBTRYAGAIN:
			internal(st, msg, "dkim_eom", stat);
			break;
		default:	/* per signature below */
			break;
		}
	}
	record(g, st, msg);
}

/* check_phase - the phases, for clients the checks apply to */
static void
check_phase(void *global, struct tg_msg *msg, enum tg_phase phase,
    const struct tg_phase_arg *arg)
{
	struct dkim_global *g = global;
	struct dkim_state *st;

	if (g == NULL || (st = state_get(g, msg)) == NULL)
		return;
	switch (phase) {
	case TG_PH_HEADER:
		on_header(g, st, msg, arg);
		break;
	case TG_PH_EOH:
		on_eoh(st, msg);
		break;
	case TG_PH_BODY:
		on_body(st, msg, arg);
		break;
	case TG_PH_EOM:
		on_eom(g, st, msg);
		break;
	default:
		break;
	}
}

/* check_msg_end - free the verifying handle */
static void
check_msg_end(void *global, struct tg_msg *msg)
{
	size_t i = slot();
	struct dkim_state *st = msg->state[i];

	(void)global;
	if (st != NULL && st->dkim != NULL) {
		dkim_free(st->dkim);
		st->dkim = NULL;
	}
	msg->state[i] = NULL;
}

/* ---------------------------------------------------------------- setup */

/* check_setup - one DKIM_LIB per config snapshot, its DNS through ours */
static int
check_setup(const struct tg_config *cfg, void **global_r, const char **error_r)
{
	struct dkim_global *g = xcalloc(1, sizeof(*g));
	unsigned int bits = cfg->dkim_min_key_bits;
	unsigned int secs = (cfg->dns_timeout_ms + 999) / 1000;

	g->max_sigs = cfg->dkim_max_signatures;
	g->min_bits = cfg->dkim_min_key_bits;
	tg_dkim_keys_init();
	g->lib = dkim_init(NULL, NULL);
	if (g->lib == NULL) {
		*error_r = "cannot initialise libopendkim";
		free(g);
		return -1;
	}
	if (!dkim_libfeature(g->lib, DKIM_FEATURE_SHA256)) {
		*error_r = "libopendkim was built without rsa-sha256";
		goto fail;
	}
	if (dkim_options(g->lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &bits, sizeof(bits))
	    != DKIM_STAT_OK
	    || dkim_options(g->lib, DKIM_OP_SETOPT, DKIM_OPTS_TIMEOUT, &secs, sizeof(secs))
	    != DKIM_STAT_OK) {
		*error_r = "cannot set libopendkim options";
		goto fail;
	}
	/* every key lookup through our resolver; nothing of libresolv's */
	dkim_dns_set_init(g->lib, NULL);
	dkim_dns_set_close(g->lib, NULL);
	(void)dkim_dns_set_query_service(g->lib, g);
	dkim_dns_set_query_start(g->lib, dns_start);
	dkim_dns_set_query_waitreply(g->lib, dns_waitreply);
	dkim_dns_set_query_cancel(g->lib, dns_cancel);
	*global_r = g;
	return 0;
fail:
	dkim_close(g->lib);
	free(g);
	return -1;
}

/* check_teardown - the snapshot is gone; so are the decoded keys (a
   verification still running keeps its own reference) */
static void
check_teardown(void *global)
{
	struct dkim_global *g = global;

	if (g == NULL)
		return;
	dkim_close(g->lib);
	free(g);
	tg_dkim_keys_clear();
}

const struct tg_check tg_check_dkim = {
	.name = "dkim",
	.phases = TG_PH_HEADER | TG_PH_EOH | TG_PH_BODY | TG_PH_EOM,
	.setup = check_setup,
	.teardown = check_teardown,
	.on_phase = check_phase,
	.msg_end = check_msg_end,
};
