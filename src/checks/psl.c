/*
 * psl - organisational domains (RFC 7489 3.2) from the Public Suffix
 * List, and identifier alignment (RFC 7489 3.1) on top of them.
 *
 * What it does: reads the list into a read-only table of its own, one
 * per configuration snapshot (no process-wide state, no locks): the
 * names of the rules in one buffer and an open-addressing hash of
 * offsets into it, each marked as a rule "X", a wildcard "*.X", an
 * exception "!X" or only the end of longer rules (so a lookup stops at
 * the first suffix that no rule ends with). A lookup applies the
 * list's algorithm: an exception wins, then the longest matching rule;
 * a wildcard matches one label; the default rule is "*". The list
 * holds IDN rules as U-labels and names arrive as A-labels: "xn--"
 * labels are decoded with our own punycode decoder (RFC 3492) first.
 *
 * What it does not do: DNS, IDNA mapping beyond ASCII case, or any
 * DMARC policy (checks/dmarc.c).
 */
#include "autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checks/psl.h"
#include "util/from.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* what the list says about a name: the bits above SLOT_SHIFT of its
   slot; none of them for a name that only ends longer rules */
enum { K_RULE = 1, K_WILD = 2, K_EXCEPT = 4 };

/* a slot: 0 when empty, else the offset of a name in names, and kinds */
#define SLOT_SHIFT 29
#define SLOT_OFF ((UINT32_C(1) << SLOT_SHIFT) - 1)

/* the longest rule kept, in bytes: a name of 253 characters decodes
   to less (each character gives at most one code point, 4 bytes) */
#define RULE_MAX 1012

struct tg_psl {
	struct tg_strbuf names;		/* NUL-terminated, after one NUL */
	uint32_t *slots;		/* linear probing */
	size_t mask;			/* number of slots - 1 */
	size_t used;
	size_t maxlen;			/* longest name, bytes */
};

#define HASH_INIT UINT32_C(2166136261)

/* lower - ASCII lowercase; other bytes as they are */
static char
lower(char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* hash_step - FNV-1a, fed from a name's last byte to its first, so that
   a lookup extends the hash of a suffix by one label to the left */
static uint32_t
hash_step(uint32_t h, unsigned char c)
{
	return (h ^ c) * UINT32_C(16777619);
}

/* hash_name - the hash of s[0..len) */
static uint32_t
hash_name(const char *s, size_t len)
{
	uint32_t h = HASH_INIT;

	while (len > 0)
		h = hash_step(h, (unsigned char)s[--len]);
	return h;
}

/* find - the slot of s[0..len), or the empty slot where it would go */
static uint32_t *
find(const struct tg_psl *psl, const char *s, size_t len, uint32_t h)
{
	for (size_t i = h & psl->mask;; i = (i + 1) & psl->mask) {
		uint32_t *slot = &psl->slots[i];
		const char *name = psl->names.s + (*slot & SLOT_OFF);

		if (*slot == 0 || (strncmp(name, s, len) == 0 && name[len] == '\0'))
			return slot;
	}
}

/* grow - twice the slots (1024 at first), every name placed again */
static void
grow(struct tg_psl *psl)
{
	uint32_t *old = psl->slots;
	size_t n = old != NULL ? psl->mask + 1 : 0;

	psl->mask = n > 0 ? 2 * n - 1 : 1023;
	psl->slots = xcalloc(psl->mask + 1, sizeof(*psl->slots));
	for (size_t i = 0; i < n; i++) {
		const char *name = psl->names.s + (old[i] & SLOT_OFF);

		if (old[i] != 0)
			*find(psl, name, strlen(name), hash_name(name, strlen(name))) = old[i];
	}
	free(old);
}

/* put - mark the name at offset off (len bytes) with kind; false when
   it was there already (and now has kind too) */
static bool
put(struct tg_psl *psl, size_t off, size_t len, unsigned int kind)
{
	const char *name;
	uint32_t *slot;

	if ((psl->used + 1) * 4 > (psl->mask + 1) * 3)	/* at most 3/4 full */
		grow(psl);
	name = psl->names.s + off;
	slot = find(psl, name, len, hash_name(name, len));
	if (*slot != 0) {
		*slot |= (uint32_t)kind << SLOT_SHIFT;
		return false;
	}
	*slot = (uint32_t)off | (uint32_t)kind << SLOT_SHIFT;
	psl->used++;
	return true;
}

/* add_rule - one rule of the file, lowercased in place; -1 (EFBIG)
   when the names outgrow the slots' offsets */
static int
add_rule(struct tg_psl *psl, char *rule)
{
	unsigned int kind = K_RULE;
	size_t off = psl->names.len, len;

	if (strncmp(rule, "*.", 2) == 0) {
		kind = K_WILD;
		rule += 2;
	} else if (rule[0] == '!') {
		kind = K_EXCEPT;
		rule++;
	}
	len = strlen(rule);
	if (len == 0 || len > RULE_MAX || strcmp(rule, "*") == 0)
		return 0;	/* the default rule, or no name can match */
	if (off + len + 1 > SLOT_OFF) {
		errno = EFBIG;
		return -1;
	}
	for (char *p = rule; *p != '\0'; p++)
		*p = lower(*p);
	tg_strbuf_appendn(&psl->names, rule, len + 1);
	if (!put(psl, off, len, kind)) {
		tg_strbuf_truncate(&psl->names, off);	/* "X" and "*.X": one name */
		return 0;
	}
	if (len > psl->maxlen)
		psl->maxlen = len;
	for (size_t i = 0; i + 1 < len; i++)
		if (rule[i] == '.')
			(void)put(psl, off + i + 1, len - i - 1, 0);
	return 0;
}

/* read_rules - the rules of the file; -1 (errno) when it cannot be
   read or holds no rule */
static int
read_rules(struct tg_psl *psl, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, nrules = 0;
	int err = 0;

	if (fp == NULL)
		return -1;
	tg_strbuf_addch(&psl->names, '\0');	/* offset 0 is no name */
	grow(psl);				/* a table even for no name */
	while (getline(&line, &cap, fp) != -1) {
		line[strcspn(line, " \t\r\n")] = '\0';
		if (line[0] == '\0' || strncmp(line, "//", 2) == 0)
			continue;
		nrules++;
		if (add_rule(psl, line) < 0) {
			err = errno;
			break;
		}
	}
	if (err == 0 && ferror(fp))
		err = errno;
	else if (err == 0 && nrules == 0)
		err = ENODATA;
	free(line);
	fclose(fp);
	errno = err;
	return err ? -1 : 0;
}

struct tg_psl *
tg_psl_load(const char *path, const char **error_r)
{
	static char err[600];
	struct tg_psl *psl = xcalloc(1, sizeof(*psl));

	if (read_rules(psl, path) < 0) {
		snprintf(err, sizeof(err), "PublicSuffixList %.400s: %s (Debian package "
		    "publicsuffix)", path, errno == ENODATA ? "no rules in the file"
		    : strerror(errno));
		*error_r = err;
		tg_psl_free(&psl);
		return NULL;
	}
	/* read-only from now on: give back what the doubling left over */
	psl->names.cap = psl->names.len + 1;
	psl->names.s = xrealloc(psl->names.s, psl->names.cap);
	return psl;
}

void
tg_psl_free(struct tg_psl **pslp)
{
	struct tg_psl *psl = *pslp;

	if (psl == NULL)
		return;
	tg_strbuf_free(&psl->names);
	free(psl->slots);
	free(psl);
	*pslp = NULL;
}

/* RFC 3492 parameters; PC_MAXCP code points at most, PC_OUT bytes */
enum { PC_BASE = 36, PC_TMIN = 1, PC_TMAX = 26, PC_SKEW = 38, PC_DAMP = 700 };
enum { PC_MAXCP = 64, PC_OUT = PC_MAXCP * 4 };

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

/* utf8_put - one code point at out; the bytes written */
static size_t
utf8_put(char *out, uint32_t c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3f));
	out[2] = (char)(0x80 | (c >> 6 & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* punycode_decode - the RFC 3492 string in[0..len) (after "xn--") as
   UTF-8 in out, its length in *outlen_r; -1 when it is not valid
   punycode */
static int
punycode_decode(const char *in, size_t len, char out[PC_OUT], size_t *outlen_r)
{
	uint32_t cp[PC_MAXCP], n = 128, i = 0, bias = 72;
	size_t ncp = 0, b = 0, pos;

	for (size_t j = 0; j < len; j++)
		if (in[j] == '-')
			b = j;
	if (b > PC_MAXCP)
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
		if (ncp == PC_MAXCP || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff))
			return -1;
		memmove(cp + i + 1, cp + i, (ncp - i) * sizeof(cp[0]));
		cp[i++] = n;
		ncp++;
	}
	*outlen_r = 0;
	for (size_t j = 0; j < ncp; j++)
		*outlen_r += utf8_put(out + *outlen_r, cp[j]);
	return 0;
}

/* suffix_labels - the labels of the public suffix of d[0..len): those
   of the prevailing rule, one fewer for an exception, one for the
   default rule "*". Labels are added from the right, as the list
   spells them (lowercase, A-labels decoded), until no rule can match. */
static size_t
suffix_labels(const struct tg_psl *psl, const char *d, size_t len)
{
	char buf[RULE_MAX], ulabel[PC_OUT];
	size_t used = 0, k = 0, best = 1, except = 0;
	uint32_t h = HASH_INIT;
	const char *lab = d + len;

	if (psl == NULL)
		return best;
	for (;;) {
		const char *end = lab, *src;
		unsigned int kind;
		size_t n;
		uint32_t slot;

		while (lab > d && lab[-1] != '.')
			lab--;
		src = lab;
		n = (size_t)(end - lab);
		if (n > 4 && strncasecmp(lab, "xn--", 4) == 0
		    && punycode_decode(lab + 4, n - 4, ulabel, &n) == 0)
			src = ulabel;	/* else n is still the label's length */
		if (used + (k > 0) + n > psl->maxlen)
			break;
		if (k++ > 0) {
			buf[RULE_MAX - ++used] = '.';
			h = hash_step(h, '.');
		}
		for (size_t i = n; i > 0; i--) {
			char c = lower(src[i - 1]);

			buf[RULE_MAX - ++used] = c;
			h = hash_step(h, (unsigned char)c);
		}
		slot = *find(psl, buf + RULE_MAX - used, used, h);
		if (slot == 0)
			break;
		kind = slot >> SLOT_SHIFT;
		if (kind & K_EXCEPT)
			except = k;
		if (kind & K_RULE)
			best = k;
		if ((kind & K_WILD) && lab > d)
			best = k + 1;	/* one label more, if there is one */
		if (lab == d)
			break;
		lab--;		/* the dot */
	}
	return except > 0 ? except - 1 : best;
}

/* last_labels - the suffix of d[0..len) made of its last n labels */
static const char *
last_labels(const char *d, size_t len, size_t n)
{
	for (size_t i = len; i > 0; i--)
		if (d[i - 1] == '.' && --n == 0)
			return d + i;
	return d;
}

const char *
tg_psl_org_domain(const struct tg_psl *psl, const char *domain)
{
	size_t len;

	if (domain == NULL || domain[0] == '\0')
		return domain;
	len = strlen(domain);
	if (len > 1 && domain[len - 1] == '.')
		len--;		/* one trailing dot: the same name */
	return last_labels(domain, len, suffix_labels(psl, domain, len) + 1);
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
		out[i] = lower(in[i]);
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
