/*
 * dmarc - DMARC (RFC 7489) at end of message, from the SPF and DKIM
 * results the earlier checks recorded.
 *
 * What it does: takes the author domain from the From field
 * (util/from.c: one header, one mailbox, a real DNS name, or
 * dmarc=permerror), finds the policy record itself through the shared
 * resolver (libopendmarc never does DNS here), lets libopendmarc parse
 * the record, and computes alignment (checks/psl.c), the result and
 * the applicable policy itself, because libopendmarc 1.4.2 gets
 * alignment and organisational domains wrong.
 *
 * What it does not do: reports (rua/ruf), DNSSEC policy, acting on the
 * result (the policy file does: "dmarc is fail and dmarc-policy is
 * reject", "dmarc-from is missing, multiple, invalid" for a From
 * without one author domain, "dmarc is permerror" for that and an
 * invalid record alike).
 */
#include "autoconf.h"

#include <arpa/nameser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendmarc/dmarc.h>

#include "checks/check.h"
#include "checks/dmarc.h"
#include "checks/psl.h"
#include "config.h"
#include "dns.h"
#include "session.h"
#include "util/arena.h"
#include "util/from.h"
#include "util/strbuf.h"

/* ================================================================ discovery */

/* skip_wsp - RFC 7489 WSP */
static const char *
skip_wsp(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

bool
tg_dmarc_is_record(const char *txt)
{
	const char *p = txt;

	if (*p != 'v' && *p != 'V')
		return false;
	p = skip_wsp(p + 1);
	if (*p != '=')
		return false;
	p = skip_wsp(p + 1);
	if (strncmp(p, "DMARC1", 6) != 0)	/* %x44 %x4d ...: case matters */
		return false;
	p = skip_wsp(p + 6);
	return *p == ';' || *p == '\0';
}

/* lookup - the DMARC records at _dmarc.domain; *several_r when there
   is more than one (then there is no DMARC for the message at all) */
static enum tg_dmarc_found
lookup(const struct tg_dmarc_txt_source *src, struct tg_arena *a, const char *domain,
    struct tg_dmarc_discovery *d, bool *several_r)
{
	const char *name = tg_arena_printf(a, "_dmarc.%s", domain);
	const char **txt = NULL;
	size_t n = 0, found = 0;

	*several_r = false;
	if (strlen(name) > 253) {
		d->why = tg_arena_printf(a, "no DMARC record for %s (name too long)", domain);
		return TG_DMARC_NO_RECORD;
	}
	switch (src->fetch(src->ctx, a, name, &txt, &n)) {
	case TG_DNS_OK:
		for (size_t i = 0; i < n; i++)
			if (tg_dmarc_is_record(txt[i]) && found++ == 0)
				d->record = txt[i];
		if (found == 1) {
			d->domain = domain;
			return TG_DMARC_RECORD;
		}
		*several_r = found > 1;
		d->record = NULL;
		d->why = found > 1 ? tg_arena_printf(a, "%zu DMARC records at %s", found, name)
		    : tg_arena_printf(a, "no DMARC record at %s", name);
		return TG_DMARC_NO_RECORD;
	case TG_DNS_NXDOMAIN:
	case TG_DNS_NODATA:
		d->why = tg_arena_printf(a, "no DMARC record at %s", name);
		return TG_DMARC_NO_RECORD;
	case TG_DNS_TIMEOUT:
		d->why = tg_arena_printf(a, "DNS timeout looking up %s", name);
		return TG_DMARC_DNS_TEMPERROR;
	case TG_DNS_SERVFAIL:
		d->why = tg_arena_printf(a, "DNS servfail looking up %s", name);
		return TG_DMARC_DNS_TEMPERROR;
	case TG_DNS_ERROR:
	default:
		d->why = tg_arena_printf(a, "resolver error looking up %s", name);
		return TG_DMARC_DNS_INTERNAL;
	}
}

void
tg_dmarc_discover(const struct tg_dmarc_txt_source *src, struct tg_arena *a,
    const char *from, const char *org, struct tg_dmarc_discovery *d)
{
	bool several;

	memset(d, 0, sizeof(*d));
	d->found = lookup(src, a, from, d, &several);
	if (d->found != TG_DMARC_NO_RECORD || several || org == NULL
	    || strcmp(org, from) == 0)
		return;
	d->found = lookup(src, a, org, d, &several);
	if (d->found == TG_DMARC_RECORD)
		d->at_org = true;
	else if (d->found == TG_DMARC_NO_RECORD && !several)
		d->why = tg_arena_printf(a, "no DMARC record at _dmarc.%s or _dmarc.%s",
		    from, org);
}

/* ================================================================ result */

/* policy_name - the word for libopendmarc's p=/sp= letter */
static const char *
policy_name(int p)
{
	switch (p) {
	case DMARC_RECORD_P_NONE:
		return "none";
	case DMARC_RECORD_P_QUARANTINE:
		return "quarantine";
	case DMARC_RECORD_P_REJECT:
		return "reject";
	default:
		return NULL;
	}
}

/* lower_policy - RFC 7489 6.6.4: what a message not sampled by pct gets */
static const char *
lower_policy(const char *p)
{
	return strcmp(p, "reject") == 0 ? "quarantine" : "none";
}

/* pct_ok - every pct= value is 1*3DIGIT (libopendmarc takes "pct=x"
   for 0 and an empty value for 100) */
static bool
pct_ok(const char *rec)
{
	for (const char *p = rec; p != NULL;) {
		const char *end = strchr(p, ';'), *t = skip_wsp(p), *v;
		const char *e = end != NULL ? end : p + strlen(p);
		size_t digits = 0;

		p = end != NULL ? end + 1 : NULL;
		if (e - t < 3 || strncasecmp(t, "pct", 3) != 0)
			continue;
		v = skip_wsp(t + 3);
		if (v >= e || *v != '=')
			continue;
		for (v = skip_wsp(v + 1); v < e && *v >= '0' && *v <= '9'; v++)
			digits++;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		if (digits == 0 || digits > 3 || v != e)
			return false;
	}
	return true;
}

/* mailfrom_spf - the SPF result DMARC uses: the MAIL FROM (or, for <>,
   HELO) identity; a separately recorded HELO check does not count */
static const struct tg_result *
mailfrom_spf(const struct tg_dmarc_input *in)
{
	const struct tg_result *first = NULL;

	for (size_t i = 0; i < in->nresults; i++) {
		const struct tg_result *r = &in->results[i];

		if (strcmp(r->method, "spf") != 0)
			continue;
		if (r->props != NULL && strncmp(r->props, "smtp.mailfrom=", 14) == 0)
			return r;
		if (first == NULL)
			first = r;
	}
	return first;
}

struct align {
	bool spf, dkim;			/* an aligned pass */
	const char *dkim_d;		/* the d= that gave it */
	bool spf_maybe, dkim_maybe;	/* a temperror that could have */
};

/* alignment - which methods produced an aligned pass, and which could
   have but for a temperror (a result without a domain could be anything) */
static void
alignment(const struct tg_psl *psl, const struct tg_dmarc_input *in,
    bool spf_strict, bool dkim_strict, struct align *al)
{
	const struct tg_result *spf = mailfrom_spf(in);

	memset(al, 0, sizeof(*al));
	if (spf != NULL) {
		bool aligned = tg_psl_aligned(psl, spf->domain, in->from, spf_strict);

		al->spf = spf->outcome == TG_PASS && aligned;
		al->spf_maybe = spf->outcome == TG_TEMPERROR && (aligned || spf->domain == NULL);
	}
	for (size_t i = 0; i < in->nresults && !al->dkim; i++) {
		const struct tg_result *r = &in->results[i];
		bool aligned;

		if (strcmp(r->method, "dkim") != 0)
			continue;
		aligned = tg_psl_aligned(psl, r->domain, in->from, dkim_strict);
		if (r->outcome == TG_PASS && aligned) {
			al->dkim = true;
			al->dkim_d = r->domain;
		} else if (r->outcome == TG_TEMPERROR && (aligned || r->domain == NULL)) {
			al->dkim_maybe = true;
		}
	}
}

/* sampled - RFC 7489 6.6.4: is this message one of the pct in 100? */
static bool
sampled(const struct tg_dmarc_input *in, int pct)
{
	unsigned int roll;

	if (pct >= 100)
		return true;
	roll = in->sample != NULL ? in->sample(in->sample_ctx) : arc4random_uniform(100);
	return roll < (unsigned int)pct;
}

/* decide - outcome, policy and reason from a parsed record */
static void
decide(const struct tg_psl *psl, struct tg_arena *a, const struct tg_dmarc_input *in,
    DMARC_POLICY_T *pctx, struct tg_dmarc_outcome *out)
{
	const struct tg_dmarc_discovery *d = in->disc;
	int p = 0, sp = 0, pct = 100, adkim = 0, aspf = 0;
	const char *policy, *subpolicy;
	struct tg_strbuf sb = { 0 };
	struct align al;

	opendmarc_policy_fetch_p(pctx, &p);
	opendmarc_policy_fetch_sp(pctx, &sp);
	opendmarc_policy_fetch_pct(pctx, &pct);
	opendmarc_policy_fetch_adkim(pctx, &adkim);
	opendmarc_policy_fetch_aspf(pctx, &aspf);
	policy = policy_name(p);
	if (policy == NULL) {		/* parsed, yet no p=: never seen */
		out->outcome = TG_PERMERROR;
		out->reason = tg_arena_printf(a, "invalid DMARC record at _dmarc.%s: no p=",
		    d->domain);
		return;
	}
	subpolicy = policy_name(sp) != NULL ? policy_name(sp) : policy;
	if (d->at_org)
		policy = subpolicy;	/* a subdomain of the domain that published */
	tg_strbuf_printf(&sb, "p=%s sp=%s pct=%d", policy_name(p), subpolicy, pct);
	if (aspf == DMARC_RECORD_A_STRICT)
		tg_strbuf_append(&sb, " aspf=s");
	if (adkim == DMARC_RECORD_A_STRICT)
		tg_strbuf_append(&sb, " adkim=s");
	if (d->at_org)
		tg_strbuf_printf(&sb, " org=%s", d->domain);
	alignment(psl, in, aspf == DMARC_RECORD_A_STRICT, adkim == DMARC_RECORD_A_STRICT, &al);
	if (al.spf || al.dkim) {
		out->outcome = TG_PASS;
		tg_strbuf_append(&sb, ": aligned");
		if (al.spf)
			tg_strbuf_append(&sb, " spf");
		if (al.dkim)
			tg_strbuf_printf(&sb, "%s dkim d=%s", al.spf ? " and" : "", al.dkim_d);
	} else if (al.spf_maybe || al.dkim_maybe) {
		out->outcome = TG_TEMPERROR;
		tg_strbuf_printf(&sb, ": %s%s%s temperror could have aligned",
		    al.spf_maybe ? "spf" : "", al.spf_maybe && al.dkim_maybe ? " and " : "",
		    al.dkim_maybe ? "dkim" : "");
	} else {
		out->outcome = TG_FAIL;
		tg_strbuf_append(&sb, ": no aligned spf or dkim pass");
		if (!sampled(in, pct) && strcmp(policy, "none") != 0) {
			tg_strbuf_printf(&sb, ", not sampled: %s applied as %s", policy,
			    lower_policy(policy));
			policy = lower_policy(policy);
		}
	}
	out->policy = policy;
	out->reason = tg_arena_strdup(a, tg_strbuf_str(&sb));
	tg_strbuf_free(&sb);
}

void
tg_dmarc_evaluate(const struct tg_psl *psl, struct tg_arena *a,
    const struct tg_dmarc_input *in, struct tg_dmarc_outcome *out)
{
	const struct tg_dmarc_discovery *d = in->disc;
	DMARC_POLICY_T *pctx;
	int st;

	memset(out, 0, sizeof(*out));
	out->reason = d->why;
	switch (d->found) {
	case TG_DMARC_NO_RECORD:
		out->outcome = TG_NONE;
		return;
	case TG_DMARC_DNS_TEMPERROR:
		out->outcome = TG_TEMPERROR;
		return;
	case TG_DMARC_DNS_INTERNAL:
		out->outcome = TG_TEMPERROR;
		out->internal = true;
		return;
	case TG_DMARC_RECORD:
		break;
	}
	pctx = opendmarc_policy_connect_init((u_char *)"0.0.0.0", 0);
	if (pctx == NULL) {
		out->outcome = TG_TEMPERROR;
		out->internal = true;
		out->reason = "libopendmarc: out of memory";
		return;
	}
	st = opendmarc_policy_store_dmarc(pctx, (u_char *)(uintptr_t)d->record,
	    (u_char *)(uintptr_t)in->from,
	    d->at_org ? (u_char *)(uintptr_t)d->domain : NULL);
	if (st != DMARC_PARSE_OKAY || !pct_ok(d->record)) {
		out->outcome = TG_PERMERROR;
		out->reason = tg_arena_printf(a, "invalid DMARC record at _dmarc.%s: %s",
		    d->domain, st != DMARC_PARSE_OKAY ? opendmarc_policy_status_to_str(st)
		    : "pct is not a number from 0 to 100");
	} else {
		decide(psl, a, in, pctx, out);
	}
	opendmarc_policy_connect_shutdown(pctx);
}

/* ================================================================ From */

enum tg_dmarc_from
tg_dmarc_from_problem(const struct tg_result *r)
{
	if (r == NULL || strcmp(r->method, "dmarc") != 0 || r->outcome != TG_PERMERROR
	    || r->domain != NULL)
		return TG_DMARC_FROM_OK;
	if (r->reason == NULL)
		return TG_DMARC_FROM_INVALID;
	if (strcmp(r->reason, "no From header") == 0)
		return TG_DMARC_FROM_MISSING;
	if (strncmp(r->reason, "multiple From ", 14) == 0)
		return TG_DMARC_FROM_MULTIPLE;
	return TG_DMARC_FROM_INVALID;
}

/* ================================================================ the check */

/* msg_txt - TXT records through the message's resolver and budget */
static enum tg_dns_status
msg_txt(void *ctx, struct tg_arena *a, const char *name, const char ***txt_r, size_t *n_r)
{
	struct tg_msg *msg = ctx;
	struct tg_dns_answer ans;
	enum tg_dns_status st;

	tg_msg_lookup(msg, name, ns_t_txt, &ans);
	st = ans.status;
	*txt_r = NULL;
	*n_r = 0;
	if (st == TG_DNS_OK && ans.n > 0) {
		*txt_r = tg_arena_alloc(a, ans.n * sizeof(**txt_r));
		for (size_t i = 0; i < ans.n; i++) {
			struct tg_strbuf sb = { 0 };

			/* a malformed record or one with a NUL is no DMARC record */
			if (tg_dns_txt(&ans, i, &sb) == 0 && strlen(tg_strbuf_str(&sb)) == sb.len)
				(*txt_r)[(*n_r)++] = tg_arena_strdup(a, tg_strbuf_str(&sb));
			tg_strbuf_free(&sb);
		}
	} else if (st == TG_DNS_OK) {
		st = TG_DNS_NODATA;
	}
	tg_dns_answer_free(&ans);
	return st;
}

/* dmarc_setup - load the Public Suffix List for this snapshot */
static int
dmarc_setup(const struct tg_config *cfg, void **global_r, const char **error_r)
{
	if (cfg->public_suffix_list == NULL || cfg->public_suffix_list[0] == '\0') {
		*error_r = "PublicSuffixList is not set; DMARC needs it";
		return -1;
	}
	*global_r = tg_psl_load(cfg->public_suffix_list, error_r);
	return *global_r != NULL ? 0 : -1;
}

/* dmarc_teardown - the snapshot is gone */
static void
dmarc_teardown(void *global)
{
	struct tg_psl *psl = global;

	tg_psl_free(&psl);
}

/* author_domain - the RFC5322.From domain of the message, or NULL with
   *error_r (tg_from_domain) */
static const char *
author_domain(struct tg_msg *msg, const char **error_r)
{
	const char **names = tg_arena_alloc(msg->arena, msg->nheaders * sizeof(*names));
	const char **values = tg_arena_alloc(msg->arena, msg->nheaders * sizeof(*values));

	for (size_t i = 0; i < msg->nheaders; i++) {
		names[i] = msg->headers[i].name;
		values[i] = msg->headers[i].value;
	}
	return tg_from_domain(msg->arena, names, values, msg->nheaders, error_r);
}

/* dmarc_eom - one "dmarc" result for an inbound message */
static void
dmarc_eom(void *global, struct tg_msg *msg, enum tg_phase phase,
    const struct tg_phase_arg *arg)
{
	const struct tg_psl *psl = global;
	struct tg_dmarc_txt_source src = { msg_txt, msg };
	struct tg_dmarc_discovery disc;
	struct tg_dmarc_input in = { 0 };
	struct tg_dmarc_outcome o;
	const char *from, *err = NULL;
	struct tg_result *r;

	if (phase != TG_PH_EOM || !tg_msg_inbound(msg))
		return;
	from = author_domain(msg, &err);
	if (from == NULL) {
		/* no author domain: no domain, the reason from util/from.c, which
		   tg_dmarc_from_problem() reads ("dmarc-from is ..." in the policy) */
		tg_result_add(msg, "dmarc", TG_PERMERROR, TG_PH_EOM, "%s", err);
		return;
	}
	tg_dmarc_discover(&src, msg->arena, from, tg_psl_org_domain(psl, from), &disc);
	in.from = from;
	in.disc = &disc;
	in.results = msg->results;
	in.nresults = msg->nresults;
	tg_dmarc_evaluate(psl, msg->arena, &in, &o);
	r = tg_result_add(msg, "dmarc", o.outcome, TG_PH_EOM, "%s", o.reason);
	r->domain = from;
	r->policy = o.policy;
	r->internal = o.internal;
	r->props = tg_arena_printf(msg->arena, "header.from=%s", from);
}

const struct tg_check tg_check_dmarc = {
	.name = "dmarc",
	.phases = TG_PH_EOM,
	.setup = dmarc_setup,
	.teardown = dmarc_teardown,
	.on_phase = dmarc_eom,
};
