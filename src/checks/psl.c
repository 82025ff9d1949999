/*
 * psl - organisational domains (RFC 7489 3.2) from the Public Suffix
 * List, and identifier alignment (RFC 7489 3.1) on top of them.
 *
 * What it does: loads the list into libopendmarc and asks it for the
 * longest matching rule, then corrects what libopendmarc 1.4.2 gets
 * wrong: it misses the default rule "*", wildcard rules ("*.X" read as
 * "X") and their exceptions, upper case, IDN rules (we decode A-labels
 * with our own punycode decoder and look up U-labels) and one-letter
 * leftmost labels, and it lets a parent such as co.uk align with
 * example.co.uk.
 *
 * What it does not do: DNS, or any DMARC policy (checks/dmarc.c).
 */
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendmarc/dmarc.h>

#include "checks/psl.h"
#include "util/from.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* exported by libopendmarc 1.4 but missing from its public header */
int opendmarc_get_tld(u_char *domain, u_char *tld, size_t tld_len);

struct tg_psl {
	char **wild;			/* X of each "*.X" rule, sorted */
	size_t nwild;
	char **excl;			/* E of each "!E" rule, sorted */
	size_t nexcl;
	bool loaded;			/* holds libopendmarc's table */
};

/* libopendmarc keeps one process-wide table: loaded by every snapshot
   (the newest wins), freed when the last snapshot goes */
static pthread_mutex_t psl_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int psl_users;

/* cmp_str - qsort/bsearch order of C strings */
static int
cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* push - append a copy of s to a malloc'd list */
static void
push(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

/* in_set - s is in the sorted list */
static bool
in_set(char *const *v, size_t n, const char *s)
{
	return n > 0 && bsearch(&s, v, n, sizeof(*v), cmp_str) != NULL;
}

/* psl_rules - the wildcard and exception rules of the file; -1 (errno)
   when it cannot be read or holds no rule */
static int
psl_rules(struct tg_psl *psl, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, nrules = 0;
	int err = 0;

	if (fp == NULL)
		return -1;
	while (getline(&line, &cap, fp) != -1) {
		line[strcspn(line, " \t\r\n")] = '\0';
		if (line[0] == '\0' || strncmp(line, "//", 2) == 0)
			continue;
		nrules++;
		if (strncmp(line, "*.", 2) == 0)
			push(&psl->wild, &psl->nwild, line + 2);
		else if (line[0] == '!')
			push(&psl->excl, &psl->nexcl, line + 1);
	}
	if (ferror(fp))
		err = errno;
	else if (nrules == 0)
		err = ENODATA;
	free(line);
	fclose(fp);
	if (psl->nwild > 0)
		qsort(psl->wild, psl->nwild, sizeof(*psl->wild), cmp_str);
	if (psl->nexcl > 0)
		qsort(psl->excl, psl->nexcl, sizeof(*psl->excl), cmp_str);
	errno = err;
	return err ? -1 : 0;
}

struct tg_psl *
tg_psl_load(const char *path, const char **error_r)
{
	static char err[600];
	struct tg_psl *psl = xcalloc(1, sizeof(*psl));
	OPENDMARC_LIB_T lib;
	int rc;

	if (psl_rules(psl, path) < 0) {
		snprintf(err, sizeof(err), "PublicSuffixList %.400s: %s (Debian package "
		    "publicsuffix)", path, errno == ENODATA ? "no rules in the file"
		    : strerror(errno));
		goto fail;
	}
	memset(&lib, 0, sizeof(lib));
	lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
	if (strlen(path) >= sizeof(lib.tld_source_file)) {
		snprintf(err, sizeof(err), "PublicSuffixList %.400s: path too long", path);
		goto fail;
	}
	memcpy(lib.tld_source_file, path, strlen(path) + 1);
	pthread_mutex_lock(&psl_lock);
	rc = opendmarc_policy_library_init(&lib);
	if (rc == 0) {
		psl_users++;
		psl->loaded = true;
	}
	pthread_mutex_unlock(&psl_lock);
	if (rc != 0) {
		snprintf(err, sizeof(err), "PublicSuffixList %.400s: libopendmarc cannot load it: %s",
		    path, rc > 0 && rc < 200 ? strerror(rc) : "error");
		goto fail;
	}
	return psl;
fail:
	*error_r = err;
	tg_psl_free(&psl);
	return NULL;
}

void
tg_psl_free(struct tg_psl **pslp)
{
	struct tg_psl *psl = *pslp;
	OPENDMARC_LIB_T lib;

	if (psl == NULL)
		return;
	for (size_t i = 0; i < psl->nwild; i++)
		free(psl->wild[i]);
	for (size_t i = 0; i < psl->nexcl; i++)
		free(psl->excl[i]);
	free(psl->wild);
	free(psl->excl);
	pthread_mutex_lock(&psl_lock);
	if (psl->loaded && --psl_users == 0) {
		memset(&lib, 0, sizeof(lib));
		opendmarc_policy_library_shutdown(&lib);
	}
	pthread_mutex_unlock(&psl_lock);
	free(psl);
	*pslp = NULL;
}

/* RFC 3492 parameters */
enum { PC_BASE = 36, PC_TMIN = 1, PC_TMAX = 26, PC_SKEW = 38, PC_DAMP = 700 };

/* pc_adapt - the RFC 3492 bias adaptation */
static uint32_t
pc_adapt(uint32_t delta, uint32_t npoints, bool first)
{
	uint32_t k = 0;

	delta = first ? delta / PC_DAMP : delta / 2;
	delta += delta / npoints;
	while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
		delta /= PC_BASE - PC_TMIN;
		k += PC_BASE;
	}
	return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

/* utf8_put - one code point */
static void
utf8_put(struct tg_strbuf *out, uint32_t c)
{
	if (c < 0x80) {
		tg_strbuf_addch(out, (char)c);
	} else if (c < 0x800) {
		tg_strbuf_addch(out, (char)(0xc0 | c >> 6));
		tg_strbuf_addch(out, (char)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		tg_strbuf_addch(out, (char)(0xe0 | c >> 12));
		tg_strbuf_addch(out, (char)(0x80 | (c >> 6 & 0x3f)));
		tg_strbuf_addch(out, (char)(0x80 | (c & 0x3f)));
	} else {
		tg_strbuf_addch(out, (char)(0xf0 | c >> 18));
		tg_strbuf_addch(out, (char)(0x80 | (c >> 12 & 0x3f)));
		tg_strbuf_addch(out, (char)(0x80 | (c >> 6 & 0x3f)));
		tg_strbuf_addch(out, (char)(0x80 | (c & 0x3f)));
	}
}

/* punycode_decode - the RFC 3492 string in[0..len) (after "xn--") as
   UTF-8 appended to out; -1 when it is not valid punycode */
static int
punycode_decode(const char *in, size_t len, struct tg_strbuf *out)
{
	uint32_t cp[64], n = 128, i = 0, bias = 72;
	size_t ncp = 0, b = 0, pos;

	for (size_t j = 0; j < len; j++)
		if (in[j] == '-')
			b = j;
	if (b > sizeof(cp) / sizeof(cp[0]))
		return -1;
	for (size_t j = 0; j < b; j++)
		cp[ncp++] = (unsigned char)in[j];
	for (pos = b > 0 ? b + 1 : 0; pos < len;) {
		uint32_t oldi = i, w = 1;

		for (uint32_t k = PC_BASE;; k += PC_BASE) {
			unsigned char c;
			uint32_t digit, t;

			if (pos >= len)
				return -1;
			c = (unsigned char)in[pos++];
			if (c >= '0' && c <= '9')
				digit = c - '0' + 26;
			else if (c >= 'a' && c <= 'z')
				digit = c - 'a';
			else if (c >= 'A' && c <= 'Z')
				digit = c - 'A';
			else
				return -1;
			if (digit > (UINT32_MAX - i) / w)
				return -1;
			i += digit * w;
			t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
			if (digit < t)
				break;
			if (w > UINT32_MAX / (PC_BASE - t))
				return -1;
			w *= PC_BASE - t;
		}
		bias = pc_adapt(i - oldi, (uint32_t)ncp + 1, oldi == 0);
		if (i / (ncp + 1) > UINT32_MAX - n)
			return -1;
		n += i / (uint32_t)(ncp + 1);
		i %= (uint32_t)(ncp + 1);
		if (ncp == sizeof(cp) / sizeof(cp[0]) || n > 0x10ffff
		    || (n >= 0xd800 && n <= 0xdfff))
			return -1;
		memmove(cp + i + 1, cp + i, (ncp - i) * sizeof(cp[0]));
		cp[i++] = n;
		ncp++;
	}
	for (size_t j = 0; j < ncp; j++)
		utf8_put(out, cp[j]);
	return 0;
}

/* to_unicode - domain with each A-label ("xn--") decoded, into out;
   false when one does not decode */
static bool
to_unicode(const char *domain, struct tg_strbuf *out)
{
	for (const char *p = domain; *p != '\0';) {
		size_t len = strcspn(p, ".");

		if (len > 4 && strncasecmp(p, "xn--", 4) == 0) {
			if (punycode_decode(p + 4, len - 4, out) < 0)
				return false;
		} else {
			tg_strbuf_appendn(out, p, len);
		}
		p += len;
		if (*p == '.')
			tg_strbuf_addch(out, *p++);
	}
	return true;
}

/* count_labels - labels of a non-empty name */
static size_t
count_labels(const char *d)
{
	size_t n = 1;

	for (; *d != '\0'; d++)
		if (*d == '.')
			n++;
	return n;
}

/* last_labels - the suffix of d made of its last n labels */
static const char *
last_labels(const char *d, size_t n)
{
	size_t total = count_labels(d);

	for (; total > n; total--)
		d = strchr(d, '.') + 1;
	return d;
}

const char *
tg_psl_org_domain(const struct tg_psl *psl, const char *domain)
{
	struct tg_strbuf u = { 0 };
	u_char tld[1024];
	const char *parent, *tail = domain;
	size_t n;

	if (domain == NULL || domain[0] == '\0')
		return domain;
	/* libopendmarc truncates names at 255 bytes, from the right: keep
	   the last 137-200 characters, more than any rule plus one label */
	while (strlen(tail) > 200 && strchr(tail, '.') != NULL)
		tail = strchr(tail, '.') + 1;
	/* libopendmarc loses a one-letter leftmost label ("c.ck" is read as
	   "ck"): give it a dummy one, which only counts when domain is
	   itself a public suffix (and last_labels() then stops at domain) */
	tg_strbuf_append(&u, "tg.");
	/* the list holds IDN rules as UTF-8: look up U-labels, count labels */
	if (strstr(tail, "xn--") == NULL || !to_unicode(tail, &u) || u.len > 240) {
		tg_strbuf_truncate(&u, 3);
		tg_strbuf_append(&u, tail);
	}
	memset(tld, 0, sizeof(tld));
	pthread_mutex_lock(&psl_lock);
	(void)opendmarc_get_tld((u_char *)u.s, tld, sizeof(tld) - 1);
	pthread_mutex_unlock(&psl_lock);
	if (tld[0] == '\0') {
		n = 2;		/* no rule matched: the default rule "*" */
	} else {
		n = count_labels((const char *)tld);
		/* libopendmarc reads "*.X" as "X": one label more, unless "!" */
		parent = strchr((const char *)tld, '.');
		if (psl != NULL && parent != NULL && in_set(psl->wild, psl->nwild, parent + 1)
		    && !in_set(psl->excl, psl->nexcl, (const char *)tld))
			n++;
	}
	tg_strbuf_free(&u);
	return last_labels(domain, n);
}

/* normalize - lowercase copy without one trailing dot; false unless a
   DNS host name */
static bool
normalize(const char *in, char out[256])
{
	size_t len = in != NULL ? strlen(in) : 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
	out[len] = '\0';
	return tg_domain_is_hostname(out);
}

bool
tg_psl_aligned(const struct tg_psl *psl, const char *a, const char *b, bool strict)
{
	char x[256], y[256];

	if (!normalize(a, x) || !normalize(b, y))
		return false;
	if (strcmp(x, y) == 0)
		return true;
	return !strict && strcmp(tg_psl_org_domain(psl, x), tg_psl_org_domain(psl, y)) == 0;
}
