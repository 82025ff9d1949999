/*
 * fuzz_dmarc - DMARC policy discovery and evaluation (checks/dmarc.c,
 * checks/psl.c, libopendmarc's record parser). The input is lines:
 *
 *   from DOMAIN                     the RFC5322.From domain (first line)
 *   NAME TEXT                       a TXT record at NAME (e.g. _dmarc.x)
 *   NAME !timeout | !servfail | !error
 *   spf|dkim RESULT DOMAIN          a result the check has recorded
 *   pct N                           the sampling roll (0-99)
 *
 * Discovery runs over those records, the org domain from the real
 * Public Suffix List; the outcome must be one DMARC can have, with a
 * reason, and a policy only for pass, fail and temperror.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checks/dmarc.h"
#include "checks/psl.h"
#include "fuzzlib.h"
#include "session.h"
#include "util/arena.h"

#define MAXL 64

struct input {
	const char *names[MAXL], *texts[MAXL];
	size_t n;
};

static struct tg_psl *psl;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *err = NULL;

	psl = tg_psl_load("/usr/share/publicsuffix/public_suffix_list.dat", &err);
	if (psl == NULL) {
		fprintf(stderr, "fuzz_dmarc: %s\n", err ? err : "no PSL");
		abort();
	}
	return 0;
}

static enum tg_dns_status
fetch(void *ctx, struct tg_arena *a, const char *name, const char ***txt_r, size_t *n_r)
{
	const struct input *in = ctx;
	bool known = false;

	*txt_r = tg_arena_alloc(a, (in->n + 1) * sizeof(**txt_r));
	*n_r = 0;
	for (size_t i = 0; i < in->n; i++) {
		if (strcasecmp(in->names[i], name) != 0)
			continue;
		if (strcmp(in->texts[i], "!timeout") == 0)
			return TG_DNS_TIMEOUT;
		if (strcmp(in->texts[i], "!servfail") == 0)
			return TG_DNS_SERVFAIL;
		if (strcmp(in->texts[i], "!error") == 0)
			return TG_DNS_ERROR;
		known = true;
		(*txt_r)[(*n_r)++] = in->texts[i];
	}
	return *n_r > 0 ? TG_DNS_OK : known ? TG_DNS_NODATA : TG_DNS_NXDOMAIN;
}

static unsigned int
roll(void *ctx)
{
	return *(unsigned int *)ctx % 100;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct tg_arena *a = tg_arena_new();
	char *s = fz_strndup(data, len), *save = NULL;
	struct input in = { .n = 0 };
	struct tg_result results[MAXL];
	size_t nres = 0;
	const char *from = "mail.example.com";
	unsigned int pct = 0;
	struct tg_dmarc_txt_source src = { fetch, &in };
	struct tg_dmarc_discovery disc;
	struct tg_dmarc_input din = { 0 };
	struct tg_dmarc_outcome out;

	memset(results, 0, sizeof(results));
	for (char *l = strtok_r(s, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');

		if (sp == NULL)
			continue;
		*sp++ = '\0';
		if (strcmp(l, "from") == 0) {
			from = sp;
		} else if (strcmp(l, "pct") == 0) {
			pct = (unsigned int)strtoul(sp, NULL, 10);
		} else if ((strcmp(l, "spf") == 0 || strcmp(l, "dkim") == 0) && nres < MAXL) {
			char *dom = strchr(sp, ' ');
			int o;

			if (dom != NULL)
				*dom++ = '\0';
			if ((o = tg_outcome_parse(sp)) < 0)
				continue;
			results[nres].method = strcmp(l, "spf") == 0 ? "spf" : "dkim";
			results[nres].outcome = (enum tg_outcome)o;
			results[nres].domain = dom;
			if (results[nres].method[0] == 's' && dom != NULL && nres % 2 == 0)
				results[nres].props = tg_arena_printf(a, "smtp.mailfrom=x@%s", dom);
			nres++;
		} else if (in.n < MAXL) {
			in.names[in.n] = l;
			in.texts[in.n++] = sp;
		}
	}
	tg_dmarc_discover(&src, a, from, tg_psl_org_domain(psl, from), &disc);
	if (disc.found == TG_DMARC_RECORD && (disc.record == NULL || disc.domain == NULL))
		abort();
	din.from = from;
	din.disc = &disc;
	din.results = results;
	din.nresults = nres;
	din.sample = roll;
	din.sample_ctx = &pct;
	tg_dmarc_evaluate(psl, a, &din, &out);
	switch (out.outcome) {
	case TG_PASS:
	case TG_FAIL:
		if (out.policy == NULL)
			abort();
		/* FALLTHROUGH */
	case TG_TEMPERROR:
	case TG_NONE:
	case TG_PERMERROR:
		if (out.reason == NULL)
			abort();
		break;
	default:
		abort();
	}
	if (out.policy != NULL && strcmp(out.policy, "none") != 0
	    && strcmp(out.policy, "quarantine") != 0 && strcmp(out.policy, "reject") != 0)
		abort();
	(void)tg_psl_aligned(psl, from, disc.domain, false);
	(void)tg_psl_aligned(psl, from, disc.domain, true);
	free(s);
	tg_arena_free(&a);
	return 0;
}
