/*
 * spf - SPF (RFC 7208) of the MAIL FROM identity, or of the HELO
 * identity (postmaster@HELO) when the sender is <>, with libspf2.
 * One result per message, method "spf", recorded at MAIL FROM.
 *
 * libspf2 walks the records; every DNS question it has comes through
 * the SPF_dns_server_t below, which asks the shared resolver with
 * tg_msg_lookup() (DNSTimeout, CheckTimeout). Seeing every query and
 * every record there is how we correct libspf2 1.2.10:
 *   - records are selected here ("v=spf1" then SP or end; more than one
 *     is permerror; no SPF RR type query) and checked against the RFC
 *     grammar: the syntax errors it accepts are permerror;
 *   - the 10 DNS-querying terms and 2 void lookups are counted over the
 *     whole evaluation, includes too (it counts per include, and no
 *     void lookups at all);
 *   - redirect= runs last, and not at all beside "all"; ip4:/0 and
 *     ip6:/0 match everything (it reads /0 as /32); past 10 PTR names
 *     the rest are ignored (it says permerror); loopback clients are
 *     checked like any other (it passes them);
 *   - its "(invalid)" and error results become temperror after DNS
 *     trouble, permerror otherwise; its own faults are ours (internal);
 *   - the exp= explanation is looked up and expanded here, for fail
 *     only, in the record that failed (it expands it wrongly).
 * What it does not do: a separate HELO check beside a non-null sender
 * (one result, the MAIL FROM one, is what DMARC and the policy read);
 * a/0 and mx/0 (libspf2 still reads them as /32, /128); %{p} is
 * "unknown" in explanations, and its PTR lookup counts as a term.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <spf2/spf.h>

#include "checks/check.h"
#include "checks/spf.h"
#include "config.h"
#include "dns.h"
#include "log.h"
#include "session.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "util/xmalloc.h"

#define MAX_TERMS 10		/* RFC 7208 4.6.4: DNS-querying terms */
#define MAX_VOIDS 2		/* RFC 7208 4.6.4: void lookups */
#define MAX_NAMES 10		/* MX or PTR names looked at */
#define MAX_RECORDS (MAX_TERMS + 2)

/* ------------------------------------------------------------ grammar */

bool
tg_spf_is_record(const char *text)
{
	return strncasecmp(text, "v=spf1", 6) == 0 && (text[6] == '\0' || text[6] == ' ');
}

/* url_escape - RFC 3986 unreserved characters kept, the rest %XX */
static void
url_escape(struct tg_strbuf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			tg_strbuf_addch(out, (char)c);
		else
			tg_strbuf_printf(out, "%%%02X", c);
	}
}

/* macro_value - what one macro letter stands for */
static const char *
macro_value(const struct tg_spf_macro_ctx *c, int letter, char *buf, size_t len)
{
	const struct tg_ip *ip = c->ip;
	char *p = buf;

	switch (letter) {
	case 's': return c->sender ? c->sender : "";
	case 'l': return c->local ? c->local : "";
	case 'o': return c->sender_domain ? c->sender_domain : "";
	case 'd': return c->domain ? c->domain : "";
	case 'h': return c->helo ? c->helo : "unknown";
	case 'r': return c->receiver ? c->receiver : "unknown";
	case 'p': return "unknown";
	case 't':
		snprintf(buf, len, "%lld", (long long)c->now);
		return buf;
	case 'v': return ip != NULL && ip->family == AF_INET6 ? "ip6" : "in-addr";
	case 'c':
		if (ip == NULL)
			return "unknown";
		tg_ip_format(ip, buf, len);
		return buf;
	case 'i':
		if (ip == NULL)
			return "unknown";
		if (ip->family == AF_INET) {
			snprintf(buf, len, "%u.%u.%u.%u", ip->a[0], ip->a[1], ip->a[2], ip->a[3]);
			return buf;
		}
		for (int i = 0; i < 16 && len > 4; i++, len -= 4)	/* dot format */
			p += snprintf(p, len, "%s%x.%x", i ? "." : "", ip->a[i] >> 4, ip->a[i] & 15);
		return buf;
	}
	return "";
}

/* macro_transform - split val on delims, reverse, keep the rightmost
   keep parts (0: all), join with '.' (RFC 7208 7.3) */
static void
macro_transform(struct tg_strbuf *out, const char *val, unsigned int keep, bool rev,
    const char *delims, bool escape)
{
	size_t n = 1, len = strlen(val), k = 0, first;
	const char **part, *p;
	size_t *plen;
	struct tg_strbuf joined = { 0 };

	for (p = val; *p; p++)
		if (strchr(delims, *p) != NULL)
			n++;
	part = xcalloc(n, sizeof(*part));
	plen = xcalloc(n, sizeof(*plen));
	for (p = val;; p++) {
		size_t l = strcspn(p, delims);

		part[k] = p;
		plen[k++] = l;
		p += l;
		if (*p == '\0' || p >= val + len)
			break;
	}
	n = k;
	if (rev)
		for (size_t i = 0; i < n / 2; i++) {
			const char *tp = part[i];
			size_t tl = plen[i];

			part[i] = part[n - 1 - i];
			plen[i] = plen[n - 1 - i];
			part[n - 1 - i] = tp;
			plen[n - 1 - i] = tl;
		}
	first = keep > 0 && keep < n ? n - keep : 0;
	for (size_t i = first; i < n; i++) {
		if (i > first)
			tg_strbuf_addch(&joined, '.');
		tg_strbuf_appendn(&joined, part[i], plen[i]);
	}
	if (escape)
		url_escape(out, tg_strbuf_str(&joined), joined.len);
	else
		tg_strbuf_append(out, tg_strbuf_str(&joined));
	tg_strbuf_free(&joined);
	free(part);
	free(plen);
}

/* macro_walk - check (ctx NULL) or expand a macro-string of n bytes;
   *last_r: it ends with a macro-expand. NULL, or what is wrong. */
static const char *
macro_walk(const char *s, size_t n, bool exp, const struct tg_spf_macro_ctx *ctx,
    struct tg_strbuf *out, bool *last_r)
{
	const char *end = s + n;
	bool last = false;

	while (s < end) {
		unsigned int keep = 0;
		bool rev = false;
		int letter, raw;
		char delims[8], buf[80];
		size_t nd = 0;

		if (*s != '%') {
			if (!((*s >= 0x21 && *s <= 0x7e) || (exp && *s == ' ')))
				return "invalid character";
			if (out != NULL)
				tg_strbuf_addch(out, *s);
			s++;
			last = false;
			continue;
		}
		last = true;
		if (++s == end)
			return "'%' at the end";
		if (*s == '%' || *s == '_' || *s == '-') {
			if (out != NULL)
				tg_strbuf_append(out, *s == '%' ? "%" : *s == '_' ? " " : "%20");
			s++;
			continue;
		}
		if (*s++ != '{')
			return "'%' not followed by '{', '%', '_' or '-'";
		raw = s < end ? (unsigned char)*s : 0;
		letter = tolower(raw);
		if (letter == 0 || strchr(exp ? "slodiphcrtv" : "slodiphv", letter) == NULL)
			return "unknown macro letter";
		s++;
		if (s < end && isdigit((unsigned char)*s)) {
			while (s < end && isdigit((unsigned char)*s)) {
				keep = keep * 10 + (unsigned int)(*s++ - '0');
				if (keep > 1000)
					return "macro transformer too large";
			}
			if (keep == 0)
				return "macro transformer 0";
		}
		if (s < end && (*s == 'r' || *s == 'R')) {
			rev = true;
			s++;
		}
		while (s < end && *s != '\0' && strchr(".-+,/_=", *s) != NULL) {
			if (nd < sizeof(delims) - 1 && memchr(delims, *s, nd) == NULL)
				delims[nd++] = *s;
			s++;
		}
		if (s == end || *s != '}')
			return "unterminated macro";
		if (out != NULL) {
			delims[nd] = '\0';
			macro_transform(out, macro_value(ctx, letter, buf, sizeof(buf)), keep, rev,
			    nd ? delims : ".", isupper(raw) != 0);
		}
		s++;
	}
	if (last_r != NULL)
		*last_r = last;
	return NULL;
}

const char *
tg_spf_expand(const char *s, bool exp, const struct tg_spf_macro_ctx *ctx,
    struct tg_strbuf *out)
{
	return macro_walk(s, strlen(s), exp, ctx, out, NULL);
}

/* toplabel_ok - RFC 7208 toplabel */
static bool
toplabel_ok(const char *s, size_t n)
{
	bool alpha = false, hyphen = false;

	if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (isalpha((unsigned char)s[i]))
			alpha = true;
		else if (s[i] == '-')
			hyphen = true;
		else if (!isdigit((unsigned char)s[i]))
			return false;
	}
	return alpha || hyphen;
}

/* domain_spec - check a domain-spec of n bytes; NULL or what is wrong */
static const char *
domain_spec(const char *s, size_t n)
{
	const char *err;
	bool last;
	size_t i;

	if (n == 0)
		return "empty domain";
	if ((err = macro_walk(s, n, false, NULL, NULL, &last)) != NULL)
		return err;
	if (last)
		return NULL;
	if (s[n - 1] == '.')
		n--;
	for (i = n; i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '-'); i--)
		;
	if (i == 0 || s[i - 1] != '.' || !toplabel_ok(s + i, n - i))
		return "domain does not end in a valid top label";
	return NULL;
}

bool
tg_spf_domain_spec_ok(const char *spec)
{
	return domain_spec(spec, strlen(spec)) == NULL;
}

/* cidr_ok - "0" or a number without leading zero, at most max */
static bool
cidr_ok(const char *s, size_t n, unsigned int max, unsigned int *v_r)
{
	unsigned int v = 0;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	*v_r = v;
	return v <= max;
}

/* dual_cidr - strip [ "/" ip4-cidr ] [ "//" ip6-cidr ] from the end of
   s; *n_r: what is left. false when a length is out of range. */
static bool
dual_cidr(const char *s, size_t n, size_t *n_r)
{
	unsigned int v;
	size_t j;

	for (j = n; j > 0 && isdigit((unsigned char)s[j - 1]); j--)
		;
	if (j < n && j >= 2 && s[j - 1] == '/' && s[j - 2] == '/') {
		if (!cidr_ok(s + j, n - j, 128, &v))
			return false;
		n = j - 2;
		for (j = n; j > 0 && isdigit((unsigned char)s[j - 1]); j--)
			;
	}
	if (j < n && j >= 1 && s[j - 1] == '/' && !(j >= 2 && s[j - 2] == '/')) {
		if (!cidr_ok(s + j, n - j, 32, &v))
			return false;
		n = j - 1;
	}
	*n_r = n;
	return true;
}

/* ip4_ok - RFC 7208 ip4-network: four qnums */
static bool
ip4_ok(const char *s, size_t n)
{
	size_t i = 0;

	for (int q = 0; q < 4; q++) {
		size_t start = i;
		unsigned int v = 0;

		if (q > 0 && (i >= n || s[i++] != '.'))
			return false;
		start = i;
		while (i < n && isdigit((unsigned char)s[i]) && i - start < 4)
			v = v * 10 + (unsigned int)(s[i++] - '0');
		if (i == start || i - start > 3 || v > 255 || (i - start > 1 && s[start] == '0'))
			return false;
	}
	return i == n;
}

/* ip_network - "ip4:" / "ip6:" argument; *cidr_r the prefix or -1 */
static const char *
ip_network(const char *s, size_t n, int family, int *cidr_r)
{
	const char *slash = memchr(s, '/', n);
	size_t an = slash ? (size_t)(slash - s) : n;
	char buf[64];
	unsigned char bin[16];
	unsigned int v;

	*cidr_r = -1;
	if (family == AF_INET && !ip4_ok(s, an))
		return "invalid IPv4 address";
	if (family == AF_INET6) {
		if (an >= sizeof(buf))
			return "invalid IPv6 address";
		memcpy(buf, s, an);
		buf[an] = '\0';
		if (inet_pton(AF_INET6, buf, bin) != 1)
			return "invalid IPv6 address";
	}
	if (slash != NULL) {
		if (!cidr_ok(slash + 1, n - an - 1, family == AF_INET ? 32 : 128, &v))
			return "invalid prefix length";
		*cidr_r = (int)v;
	}
	return NULL;
}

struct parse {
	struct tg_arena *a;
	int family;
	struct tg_strbuf out;
	struct tg_spf_record *rec;
};

/* mechanism - check one directive; append what libspf2 should see */
static const char *
mechanism(struct parse *ps, const char *term, size_t tn, const char *name, size_t nn)
{
	static const char *const names[] = { "all", "include", "a", "mx", "ptr", "ip4",
		"ip6", "exists" };
	const char *rest = name + nn, *err = NULL;
	size_t rn = tn - (size_t)(rest - term), dn;
	size_t m;
	int cidr = -1;

	for (m = 0; m < sizeof(names) / sizeof(names[0]); m++)
		if (strlen(names[m]) == nn && strncasecmp(names[m], name, nn) == 0)
			break;
	switch (m) {
	case 0:			/* all */
		if (rn != 0)
			return "unexpected text after \"all\"";
		ps->rec->has_all = true;
		break;
	case 1:			/* include */
	case 7:			/* exists */
		if (rn == 0 || rest[0] != ':')
			return "expected ':' and a domain";
		err = domain_spec(rest + 1, rn - 1);
		break;
	case 2:			/* a */
	case 3:			/* mx */
		if (!dual_cidr(rest, rn, &dn))
			return "invalid prefix length";
		if (dn > 0 && rest[0] != ':')
			return "expected ':', '/' or the end";
		if (dn > 0)
			err = domain_spec(rest + 1, dn - 1);
		break;
	case 4:			/* ptr */
		if (rn > 0 && rest[0] != ':')
			return "expected ':' or the end";
		if (rn > 0)
			err = domain_spec(rest + 1, rn - 1);
		break;
	case 5:			/* ip4 */
	case 6:			/* ip6 */
		if (rn == 0 || rest[0] != ':')
			return "expected ':' and an address";
		err = ip_network(rest + 1, rn - 1, m == 5 ? AF_INET : AF_INET6, &cidr);
		break;
	default:
		return "unknown mechanism";
	}
	if (err != NULL)
		return err;
	if (cidr == 0) {
		/* libspf2 takes /0 for /32 or /128: say "all" for this family */
		if ((m == 5) == (ps->family == AF_INET)) {
			tg_strbuf_addch(&ps->out, ' ');
			if (name > term)
				tg_strbuf_addch(&ps->out, term[0]);
			tg_strbuf_append(&ps->out, "all");
		}
		return NULL;
	}
	tg_strbuf_addch(&ps->out, ' ');
	tg_strbuf_appendn(&ps->out, term, tn);
	return NULL;
}

/* modifier - check one modifier; remember redirect= and exp= */
static const char *
modifier(struct parse *ps, const char *name, size_t nn, const char *val, size_t vn)
{
	const char **slot = NULL;
	const char *err;

	if (nn == 8 && strncasecmp(name, "redirect", 8) == 0)
		slot = &ps->rec->redirect;
	else if (nn == 3 && strncasecmp(name, "exp", 3) == 0)
		slot = &ps->rec->exp;
	if (slot == NULL)	/* unknown modifier: its value is a macro-string */
		return macro_walk(val, vn, true, NULL, NULL, NULL);
	if (*slot != NULL)
		return nn == 3 ? "exp= given twice" : "redirect= given twice";
	if ((err = domain_spec(val, vn)) != NULL)
		return err;
	*slot = tg_arena_strndup(ps->a, val, vn);
	return NULL;
}

/* term - one directive or modifier */
static const char *
term(struct parse *ps, const char *t, size_t n)
{
	const char *name = t;
	size_t nn = 0;

	if (strchr("+-~?", *t) != NULL)
		name++;
	while (name + nn < t + n && (isalnum((unsigned char)name[nn]) || name[nn] == '-'
	    || name[nn] == '_' || name[nn] == '.'))
		nn++;
	if (nn == 0 || !isalpha((unsigned char)name[0]))
		return "expected a mechanism or a modifier";
	if (name + nn < t + n && name[nn] == '=') {
		if (name > t)
			return "a modifier cannot have a qualifier";
		return modifier(ps, name, nn, name + nn + 1, n - nn - 1);
	}
	return mechanism(ps, t, n, name, nn);
}

int
tg_spf_record_parse(struct tg_arena *a, const char *record, int family,
    struct tg_spf_record *rec_r, const char **error_r)
{
	struct parse ps = { .a = a, .family = family, .rec = rec_r };
	const char *p = record + 6;

	memset(rec_r, 0, sizeof(*rec_r));
	if (!tg_spf_is_record(record)) {
		*error_r = "not an SPF record";
		return -1;
	}
	tg_strbuf_append(&ps.out, "v=spf1");
	for (;;) {
		const char *err;
		size_t n;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, " ");
		if ((err = term(&ps, p, n)) != NULL) {
			struct tg_strbuf sb = { 0 };

			tg_text_line(&sb, tg_arena_strndup(a, p, n), 60);
			*error_r = tg_arena_printf(a, "%s: \"%s\"", err, tg_strbuf_str(&sb));
			tg_strbuf_free(&sb);
			tg_strbuf_free(&ps.out);
			return -1;
		}
		p += n;
	}
	if (rec_r->redirect != NULL && !rec_r->has_all)
		tg_strbuf_printf(&ps.out, " redirect=%s", rec_r->redirect);
	rec_r->text = tg_arena_strdup(a, tg_strbuf_str(&ps.out));
	tg_strbuf_free(&ps.out);
	return 0;
}

/* ------------------------------------------------------------ identity */

/* name_ok - a name we may ask DNS about: labels of 1..63 bytes, at
   most 253 in all (one trailing dot allowed), at least two labels */
static bool
name_ok(const char *name)
{
	return tg_dns_labels(name) >= 2;
}

bool
tg_spf_helo_is_domain(const char *helo)
{
	struct tg_ip ip;
	const char *last;

	if (helo == NULL || helo[0] == '[' || tg_ip_parse(helo, &ip) == 0 || !name_ok(helo))
		return false;
	for (const char *p = helo; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return false;
	last = strrchr(helo, '.');
	if (last[1] == '\0') {		/* trailing dot: look at the label before */
		const char *q = last;

		while (q > helo && q[-1] != '.')
			q--;
		return toplabel_ok(q, (size_t)(last - q));
	}
	return toplabel_ok(last + 1, strlen(last + 1));
}

int
tg_spf_identity(struct tg_arena *a, const struct tg_addr *sender, bool sender_ok,
    const char *helo, struct tg_spf_identity *id_r, const char **why_r)
{
	memset(id_r, 0, sizeof(*id_r));
	if (!sender_ok) {
		*why_r = "unparsable sender";
		return -1;
	}
	if (sender->null) {
		if (!tg_spf_helo_is_domain(helo)) {
			*why_r = helo == NULL ? "null sender and no HELO"
			    : "null sender and the HELO is not a domain name";
			return -1;
		}
		id_r->helo = true;
		id_r->local = "postmaster";
		id_r->domain = tg_arena_strdup(a, helo);
	} else {
		if (sender->domain[0] == '\0') {
			*why_r = "sender without a domain";
			return -1;
		}
		id_r->local = sender->local[0] != '\0' ? sender->local : "postmaster";
		id_r->domain = sender->domain;
	}
	id_r->sender = tg_arena_printf(a, "%s@%s", id_r->local, id_r->domain);
	return 0;
}

void
tg_spf_client_ip(const struct tg_ip *ip, struct tg_ip *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	*out = *ip;
	if (ip->family == AF_INET6 && memcmp(ip->a, mapped, sizeof(mapped)) == 0) {
		memset(out, 0, sizeof(*out));
		out->family = AF_INET;
		memcpy(out->a, ip->a + 12, 4);
	}
}

enum tg_outcome
tg_spf_map(int spf_result, bool dns_trouble)
{
	switch (spf_result) {
	case SPF_RESULT_PASS: return TG_PASS;
	case SPF_RESULT_FAIL: return TG_FAIL;
	case SPF_RESULT_SOFTFAIL: return TG_SOFTFAIL;
	case SPF_RESULT_NEUTRAL: return TG_NEUTRAL;
	case SPF_RESULT_NONE: return TG_NONE;
	case SPF_RESULT_PERMERROR: return TG_PERMERROR;
	default:		/* SPF_RESULT_INVALID, SPF_RESULT_TEMPERROR */
		return dns_trouble ? TG_TEMPERROR : TG_PERMERROR;
	}
}

/* ------------------------------------------------------------ DNS layer */

/* a stored record: where it came from and its exp= (for explanations) */
struct rec_info {
	const char *domain;
	const char *exp;
};

/* one check_host() run, as our DNS layer sees it */
struct eval {
	struct tg_msg *msg;
	struct tg_ip ip;		/* the client, v4-mapped made v4 */
	unsigned int terms, voids;	/* RFC 7208 4.6.4 counters */
	bool started;			/* the first record was asked for */
	bool no_record;			/* ... and there was none */
	const char **names;		/* MX/PTR targets: their address lookups */
	size_t nnames, inames;		/* are part of the term, not terms */
	enum tg_outcome forced;		/* decided by us; TG_NONE: not */
	const char *forced_reason;
	bool dns_trouble, internal;	/* a lookup timed out/failed; our fault */
	const char *trouble_reason;
	struct rec_info recs[MAX_RECORDS];
	size_t nrecs;
	int exp_rec;			/* record of the last explanation asked */
};

/* the run of this thread, set around the libspf2 calls only */
static _Thread_local struct eval *current;

/* stop - decide the result ourselves; the first decision stands */
static void
stop(struct eval *ev, enum tg_outcome o, const char *reason)
{
	if (ev->forced == TG_NONE) {
		ev->forced = o;
		ev->forced_reason = reason;
	}
}

/* trouble - a lookup that did not get an answer */
static void
trouble(struct eval *ev, enum tg_dns_status st, const char *type, const char *name)
{
	const char *what = st == TG_DNS_TIMEOUT ? "DNS timeout"
	    : st == TG_DNS_ERROR ? "DNS lookup error" : "DNS server failure";

	if (st == TG_DNS_ERROR)
		ev->internal = true;
	else
		ev->dns_trouble = true;
	if (ev->trouble_reason == NULL)
		ev->trouble_reason = tg_arena_printf(ev->msg->arena, "%s looking up %s %s",
		    what, type, name);
}

static const char *
type_name(ns_type type)
{
	switch (type) {
	case ns_t_a: return "A";
	case ns_t_aaaa: return "AAAA";
	case ns_t_mx: return "MX";
	case ns_t_ptr: return "PTR";
	case ns_t_txt: return "TXT";
	default: return "?";
	}
}

/* rr_new - an answer for libspf2; allocation failure exits */
static SPF_dns_rr_t *
rr_new(SPF_dns_server_t *server, const char *domain, ns_type type, int herrno)
{
	SPF_dns_rr_t *rr = SPF_dns_rr_new_init(server, domain, type, 0, herrno);

	if (rr == NULL)
		tg_log_fatal("libspf2: out of memory");
	return rr;
}

/* rr_add - room for record k of len bytes */
static SPF_dns_rr_data_t *
rr_add(SPF_dns_rr_t *rr, int k, size_t len)
{
	if (SPF_dns_rr_buf_realloc(rr, k, len) != SPF_E_SUCCESS)
		tg_log_fatal("libspf2: out of memory");
	return rr->rr[k];
}

/* wire_name - an uncompressed wire-format name as text, no final dot;
   -1 for the root, a malformed name or unusual characters */
static int
wire_name(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t l = p[i++];

		if (l == 0) {
			out[o] = '\0';
			return o > 0 ? 0 : -1;
		}
		if (l > 63 || i + l > len || o + l + 2 > outlen)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (size_t j = 0; j < l; j++) {
			if (p[i + j] <= 0x20 || p[i + j] >= 0x7f || p[i + j] == '.')
				return -1;
			out[o++] = (char)p[i + j];
		}
		i += l;
	}
	return -1;
}

/* rr_fill - the answer's records as libspf2 wants them; MX and PTR
   names are remembered: their address lookups are not terms */
static void
rr_fill(struct eval *ev, SPF_dns_rr_t *rr, const struct tg_dns_answer *ans, ns_type type)
{
	int k = 0;

	if (type == ns_t_mx || type == ns_t_ptr) {
		ev->names = tg_arena_alloc(ev->msg->arena, MAX_NAMES * sizeof(*ev->names));
		ev->nnames = ev->inames = 0;
	}
	for (size_t i = 0; i < ans->n; i++) {
		const unsigned char *d = (const unsigned char *)ans->rdata[i];
		size_t len = (size_t)ans->len[i];
		struct tg_strbuf sb = { 0 };
		char name[256];

		switch (type) {
		case ns_t_a:
		case ns_t_aaaa:
			if (len != (type == ns_t_a ? 4u : 16u))
				continue;
			memcpy(type == ns_t_a ? (void *)&rr_add(rr, k, sizeof(struct in_addr))->a
			    : (void *)&rr_add(rr, k, sizeof(struct in6_addr))->aaaa, d, len);
			break;
		case ns_t_mx:
		case ns_t_ptr:
			/* RFC 7208 5.5: past 10 PTR names the rest are ignored */
			if (type == ns_t_ptr && k == MAX_NAMES)
				continue;
			if (type == ns_t_mx && (len < 3 || wire_name(d + 2, len - 2, name, sizeof(name)) < 0))
				continue;
			if (type == ns_t_ptr && wire_name(d, len, name, sizeof(name)) < 0)
				continue;
			strcpy(rr_add(rr, k, strlen(name) + 1)->mx, name);
			if (ev->nnames < MAX_NAMES)
				ev->names[ev->nnames++] = tg_arena_strdup(ev->msg->arena, name);
			break;
		case ns_t_txt:
			if (tg_dns_txt(ans, i, &sb) < 0) {
				tg_strbuf_free(&sb);
				continue;
			}
			strcpy(rr_add(rr, k, sb.len + 1)->txt, tg_strbuf_str(&sb));
			tg_strbuf_free(&sb);
			break;
		default:
			continue;
		}
		k++;
	}
	rr->num_rr = k;
	if (k == 0)
		rr->herrno = NO_DATA;
}

/* is_term - does this lookup start a DNS-querying term? The address
   lookups of the names an MX or PTR answer gave do not. */
static bool
is_term(struct eval *ev, const char *domain, ns_type type)
{
	if (type == ns_t_a || type == ns_t_aaaa) {
		if (ev->inames < ev->nnames && strcasecmp(domain, ev->names[ev->inames]) == 0) {
			ev->inames++;
			return false;
		}
		ev->nnames = ev->inames = 0;
		return true;
	}
	ev->nnames = ev->inames = 0;
	return type == ns_t_mx || type == ns_t_ptr;
}

/* dns_lookup - libspf2's questions (A, AAAA, MX, PTR) to our resolver */
static SPF_dns_rr_t *
dns_lookup(SPF_dns_server_t *server, const char *domain, ns_type type, int should_cache)
{
	struct eval *ev = current;
	struct tg_dns_answer ans;
	SPF_dns_rr_t *rr;
	bool term;

	if (ev == NULL || ev->forced != TG_NONE || ev->internal)
		return rr_new(server, domain, type, TRY_AGAIN);
	term = is_term(ev, domain, type);
	if (term && ++ev->terms > MAX_TERMS) {
		stop(ev, TG_PERMERROR, "more than 10 DNS lookups");
		return rr_new(server, domain, type, TRY_AGAIN);
	}
	/* RFC 7208 4.8: an over-long expanded name loses labels on the left */
	while (strlen(domain) > 253 && strchr(domain, '.') != NULL)
		domain = strchr(domain, '.') + 1;
	if (type != ns_t_a && type != ns_t_aaaa && type != ns_t_mx && type != ns_t_ptr
	    && type != ns_t_txt)
		return rr_new(server, domain, type, NO_DATA);
	if (!name_ok(domain)) {
		rr = rr_new(server, domain, type, HOST_NOT_FOUND);
	} else {
		tg_msg_lookup(ev->msg, domain, type, &ans);
		switch (ans.status) {
		case TG_DNS_OK:
			rr = rr_new(server, domain, type, NETDB_SUCCESS);
			rr_fill(ev, rr, &ans, type);
			break;
		case TG_DNS_NXDOMAIN:
			rr = rr_new(server, domain, type, HOST_NOT_FOUND);
			break;
		case TG_DNS_NODATA:
			rr = rr_new(server, domain, type, NO_DATA);
			break;
		default:
			trouble(ev, ans.status, type_name(type), domain);
			rr = rr_new(server, domain, type, TRY_AGAIN);
			break;
		}
		tg_dns_answer_free(&ans);
	}
	if (term && rr->herrno != NETDB_SUCCESS && rr->herrno != TRY_AGAIN
	    && ++ev->voids > MAX_VOIDS) {
		stop(ev, TG_PERMERROR, "more than 2 void DNS lookups");
		rr->herrno = TRY_AGAIN;
	}
	return rr;
}

/* spf_text - the one SPF record among the TXT records of ans; NULL
   with *count_r 0 (none) or more than 1 */
static const char *
spf_text(struct tg_arena *a, const struct tg_dns_answer *ans, size_t *count_r)
{
	const char *found = NULL;

	*count_r = 0;
	for (size_t i = 0; i < ans->n; i++) {
		struct tg_strbuf sb = { 0 };

		if (tg_dns_txt(ans, i, &sb) == 0 && tg_spf_is_record(tg_strbuf_str(&sb))) {
			found = tg_arena_strdup(a, tg_strbuf_str(&sb));
			++*count_r;
		}
		tg_strbuf_free(&sb);
	}
	return *count_r == 1 ? found : NULL;
}

/* count_mechs - the mechanisms of a record checked by tg_spf_record_parse()
   as libspf2 counts them: terms that do not start with "name=", and
   redirect= (which libspf2 compiles as a mechanism) */
static unsigned int
count_mechs(const char *text)
{
	unsigned int n = 0;

	for (const char *t = text + strcspn(text, " "); *t != '\0';) {
		size_t len, name;

		t += strspn(t, " ");
		len = strcspn(t, " ");
		name = strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789-_.");
		if (len > 0 && (!(name > 0 && name < len && t[name] == '=')
		    || (name == 8 && strncasecmp(t, "redirect", 8) == 0)))
			n++;
		t += len;
	}
	return n;
}

/* compile - check, rewrite and compile the record of domain */
static SPF_errcode_t
compile(struct eval *ev, SPF_server_t *server, SPF_response_t *resp, const char *domain,
    const char *text, SPF_record_t **recp)
{
	struct tg_arena *a = ev->msg->arena;
	struct tg_spf_record rec;
	const char *err;
	SPF_errcode_t rc;
	size_t idx = ev->nrecs;

	if (tg_spf_record_parse(a, text, ev->ip.family, &rec, &err) < 0) {
		stop(ev, TG_PERMERROR, tg_arena_printf(a, "SPF record of %s: %s", domain, err));
		return SPF_E_SYNTAX;
	}
	if (idx == MAX_RECORDS) {
		stop(ev, TG_PERMERROR, "more than 10 DNS lookups");
		return SPF_E_BIG_DNS;
	}
	ev->recs[idx].domain = tg_arena_strdup(a, domain);
	ev->recs[idx].exp = rec.exp;
	ev->nrecs++;
	/* the exp= marker tells dns_get_exp() which record gave the result */
	rc = SPF_record_compile(server, resp, recp,
	    tg_arena_printf(a, "%s exp=tg-%zu.invalid", rec.text, idx));
	if (rc == SPF_E_NO_MEMORY) {
		ev->internal = true;
		ev->trouble_reason = "libspf2: out of memory";
	} else if (rc != SPF_E_SUCCESS) {
		stop(ev, TG_PERMERROR, tg_arena_printf(a, "SPF record of %s: %s", domain,
		    SPF_strerror(rc)));
	} else if (*recp != NULL && (*recp)->num_mech != count_mechs(rec.text)) {
		/* libspf2 1.2.10 keeps about 512 bytes of compiled mechanisms
		   and silently drops the rest (a final "-all" among them):
		   evaluating what is left would give a wrong answer */
		stop(ev, TG_PERMERROR, tg_arena_printf(a, "SPF record of %s: %u mechanisms, "
		    "too large for libspf2 (it kept %u)", domain, count_mechs(rec.text),
		    (unsigned int)(*recp)->num_mech));
		SPF_record_free(*recp);
		*recp = NULL;
		rc = SPF_E_BIG_MECH;
	}
	return rc;
}

/* dns_get_spf - the record of req->cur_dom: the first one asked for is
   the identity's, the others are include and redirect targets (terms) */
static SPF_errcode_t
dns_get_spf(SPF_server_t *server, SPF_request_t *req, SPF_response_t *resp,
    SPF_record_t **recp)
{
	struct eval *ev = current;
	const char *domain = req->cur_dom, *text;
	struct tg_dns_answer ans;
	size_t count = 0;
	bool top;

	*recp = NULL;
	if (ev == NULL || domain == NULL)
		return SPF_E_INTERNAL_ERROR;
	top = !ev->started;
	ev->started = true;
	ev->nnames = ev->inames = 0;
	if (ev->forced != TG_NONE || ev->internal)
		return SPF_E_DNS_ERROR;
	if (!top && ++ev->terms > MAX_TERMS) {
		stop(ev, TG_PERMERROR, "more than 10 DNS lookups");
		return SPF_E_BIG_DNS;
	}
	if (!name_ok(domain)) {
		ans.status = TG_DNS_NXDOMAIN;
		ans.res = NULL;
	} else {
		tg_msg_lookup(ev->msg, domain, ns_t_txt, &ans);
	}
	if (ans.status != TG_DNS_OK && ans.status != TG_DNS_NXDOMAIN
	    && ans.status != TG_DNS_NODATA) {
		trouble(ev, ans.status, "TXT", domain);
		tg_dns_answer_free(&ans);
		return SPF_E_DNS_ERROR;
	}
	text = ans.status == TG_DNS_OK ? spf_text(ev->msg->arena, &ans, &count) : NULL;
	tg_dns_answer_free(&ans);
	if (count > 1) {
		stop(ev, TG_PERMERROR, tg_arena_printf(ev->msg->arena,
		    "%s has %zu SPF records", domain, count));
		return SPF_E_MULTIPLE_RECORDS;
	}
	if (text == NULL) {
		if (top)
			ev->no_record = true;
		else
			stop(ev, TG_PERMERROR, tg_arena_printf(ev->msg->arena,
			    "include or redirect target %s has no SPF record", domain));
		return SPF_E_NOT_SPF;
	}
	return compile(ev, server, resp, domain, text, recp);
}

/* dns_get_exp - libspf2 wants an explanation: only note for which
   record (the marker compile() put in); explanation() does the work */
static SPF_errcode_t
dns_get_exp(SPF_server_t *server, const char *domain, char **bufp, size_t *buflenp)
{
	struct eval *ev = current;
	unsigned int idx;
	char *nb;

	if (ev != NULL && sscanf(domain, "tg-%u.invalid", &idx) == 1 && idx < ev->nrecs)
		ev->exp_rec = (int)idx;
	if (*bufp == NULL || *buflenp < 1) {
		if ((nb = realloc(*bufp, 1)) == NULL)
			return SPF_E_NO_MEMORY;
		*bufp = nb;
		*buflenp = 1;
	}
	(*bufp)[0] = '\0';
	return SPF_E_SUCCESS;
}

static void
dns_destroy(SPF_dns_server_t *server)
{
	free(server);
}

/* ------------------------------------------------------------ the check */

/* explanation - RFC 7208 6.2: the exp= text of the record that failed,
   expanded; NULL when there is none or it cannot be had */
static const char *
explanation(const struct eval *ev, const struct tg_spf_identity *id)
{
	const struct rec_info *ri;
	struct tg_msg *msg = ev->msg;
	struct tg_spf_macro_ctx ctx;
	struct tg_strbuf name = { 0 }, txt = { 0 }, out = { 0 };
	struct tg_dns_answer ans = { .status = TG_DNS_ERROR };
	const char *result = NULL;

	if (ev->exp_rec < 0 || (ri = &ev->recs[ev->exp_rec])->exp == NULL)
		return NULL;
	ctx = (struct tg_spf_macro_ctx){ .sender = id->sender, .local = id->local,
		.sender_domain = id->domain, .domain = ri->domain, .helo = msg->conn->helo,
		.receiver = msg->conn->cfg->authserv_id, .ip = &ev->ip, .now = time(NULL) };
	if (tg_spf_expand(ri->exp, false, &ctx, &name) == NULL && name_ok(tg_strbuf_str(&name)))
		tg_msg_lookup(msg, tg_strbuf_str(&name), ns_t_txt, &ans);
	if (ans.status == TG_DNS_OK && ans.n == 1 && tg_dns_txt(&ans, 0, &txt) == 0
	    && tg_spf_expand(tg_strbuf_str(&txt), true, &ctx, &out) == NULL && out.len > 0)
		result = tg_arena_strndup(msg->arena, tg_strbuf_str(&out),
		    out.len > 300 ? 300 : out.len);
	tg_dns_answer_free(&ans);
	tg_strbuf_free(&name);
	tg_strbuf_free(&txt);
	tg_strbuf_free(&out);
	return result;
}

/* finish - our outcome for the run; evaluated: a record was found and
   interpreted */
static enum tg_outcome
finish(struct eval *ev, const SPF_response_t *resp, SPF_errcode_t err, bool evaluated,
    const char **reason_r)
{
	SPF_errcode_t why = evaluated ? resp->err : err;
	enum tg_outcome o;

	*reason_r = NULL;
	if (ev->forced != TG_NONE) {
		*reason_r = ev->forced_reason;
		return ev->forced;
	}
	if (ev->internal || why == SPF_E_NO_MEMORY || why == SPF_E_INTERNAL_ERROR) {
		ev->internal = true;
		*reason_r = ev->trouble_reason ? ev->trouble_reason
		    : tg_arena_printf(ev->msg->arena, "libspf2: %s", SPF_strerror(why));
		return TG_TEMPERROR;
	}
	if (!evaluated && ev->no_record)
		return TG_NONE;
	o = evaluated ? tg_spf_map(resp->result, ev->dns_trouble)
	    : ev->dns_trouble ? TG_TEMPERROR : TG_PERMERROR;
	if (o == TG_TEMPERROR)
		*reason_r = ev->trouble_reason;
	else if (o == TG_PERMERROR)
		*reason_r = tg_arena_printf(ev->msg->arena, "libspf2: %s", SPF_strerror(why));
	return o;
}

/* request - a libspf2 request for the identity and client; NULL if
   libspf2 is out of memory */
static SPF_request_t *
request(SPF_server_t *server, const struct eval *ev, const struct tg_spf_identity *id,
    const char *helo)
{
	SPF_request_t *req = SPF_request_new(server);
	struct in_addr a4;
	struct in6_addr a6;

	if (req == NULL)
		return NULL;
	if (ev->ip.family == AF_INET) {
		memcpy(&a4, ev->ip.a, sizeof(a4));
		SPF_request_set_ipv4(req, a4);
	} else {
		memcpy(&a6, ev->ip.a, sizeof(a6));
		SPF_request_set_ipv6(req, a6);
	}
	if (SPF_request_set_env_from(req, id->sender) != 0
	    || (helo != NULL && SPF_request_set_helo_dom(req, helo) != SPF_E_SUCCESS)) {
		SPF_request_free(req);
		return NULL;
	}
	req->cur_dom = id->domain;	/* check_host()'s <domain>; ours */
	return req;
}

/* evaluate - check_host() for the identity; *reason_r, *internal_r */
static enum tg_outcome
evaluate(SPF_server_t *server, struct tg_msg *msg, const struct tg_spf_identity *id,
    const char **reason_r, bool *internal_r)
{
	struct eval ev = { .msg = msg, .exp_rec = -1 };
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	SPF_record_t *rec = NULL;
	SPF_errcode_t err = SPF_E_NO_MEMORY;
	bool evaluated = false;
	enum tg_outcome o;

	tg_spf_client_ip(&msg->conn->ip, &ev.ip);
	req = request(server, &ev, id, msg->conn->helo);
	if (req != NULL && (resp = SPF_response_new(req)) != NULL) {
		/* as SPF_request_query_mailfrom(), without its free pass
		   for loopback clients */
		current = &ev;
		err = SPF_server_get_record(server, req, resp, &rec);
		if (err == SPF_E_SUCCESS) {
			resp->spf_record_exp = rec;
			SPF_record_interpret(rec, req, resp, 0);
			evaluated = true;
		}
		current = NULL;
		if (rec != NULL)
			SPF_record_free(rec);
	}
	o = finish(&ev, resp, err, evaluated, reason_r);
	if (o == TG_FAIL)
		*reason_r = explanation(&ev, id);
	*internal_r = ev.internal && o == TG_TEMPERROR;
	if (resp != NULL)
		SPF_response_free(resp);
	if (req != NULL)
		SPF_request_free(req);
	return o;
}

/* pvalue_ok - s can stand as an RFC 8601 property value as it is */
static bool
pvalue_ok(const char *s, const char *extra)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return false;
	return true;
}

/* props - "smtp.mailfrom=ADDR smtp.helo=HELO", what can be said of it */
static const char *
props(struct tg_msg *msg, const struct tg_spf_identity *id)
{
	const char *helo = msg->conn->helo, *from = NULL;
	const struct tg_addr *s = &msg->sender;

	if (id->sender != NULL)
		from = pvalue_ok(id->local, "!#$%&'*+-/=?^_`{|}~.") ? id->sender : id->domain;
	else if (msg->sender_ok && !s->null && s->domain[0] != '\0')
		from = pvalue_ok(s->local, "!#$%&'*+-/=?^_`{|}~.")
		    ? tg_arena_printf(msg->arena, "%s@%s", s->local, s->domain) : s->domain;
	if (helo != NULL && !pvalue_ok(helo, ".-_:[]"))
		helo = NULL;
	if (from != NULL && helo != NULL)
		return tg_arena_printf(msg->arena, "smtp.mailfrom=%s smtp.helo=%s", from, helo);
	if (from != NULL)
		return tg_arena_printf(msg->arena, "smtp.mailfrom=%s", from);
	if (helo != NULL)
		return tg_arena_printf(msg->arena, "smtp.helo=%s", helo);
	return NULL;
}

/* spf_phase - at MAIL FROM: one "spf" result */
static void
spf_phase(void *global, struct tg_msg *msg, enum tg_phase phase,
    const struct tg_phase_arg *arg)
{
	const struct tg_conn *conn = msg->conn;
	struct tg_spf_identity id;
	const char *reason = NULL;
	bool internal = false;
	enum tg_outcome o;
	struct tg_result *r;

	if (global == NULL || phase != TG_PH_MAIL || !tg_msg_inbound(msg))
		return;
	if (tg_spf_identity(msg->arena, &msg->sender, msg->sender_ok, conn->helo, &id,
	    &reason) < 0)
		o = TG_NONE;
	else if (!conn->addr_known) {
		o = TG_NONE;
		reason = "client address unknown";
	} else
		o = evaluate(global, msg, &id, &reason, &internal);
	r = tg_result_add(msg, "spf", o, TG_PH_MAIL, "%s", "");
	r->reason = reason;
	r->domain = id.domain;
	r->props = props(msg, &id);
	r->internal = internal;
	/* RFC 7208 2.3: the HELO identity on its own, when it is a domain
	   (for <> it already was the identity above); the policy sees it
	   as "spf-helo", DMARC and Authentication-Results use the MAIL
	   FROM result only */
	if (!conn->cfg->spf_helo || id.helo || !conn->addr_known
	    || !tg_spf_helo_is_domain(conn->helo))
		return;
	{
		struct tg_spf_identity hid = { .helo = true, .local = "postmaster" };
		const char *hreason = NULL;
		bool hinternal = false;

		hid.domain = tg_arena_strdup(msg->arena, conn->helo);
		hid.sender = tg_arena_printf(msg->arena, "postmaster@%s", hid.domain);
		o = evaluate(global, msg, &hid, &hreason, &hinternal);
		r = tg_result_add(msg, "spf-helo", o, TG_PH_MAIL, "%s", "");
		r->reason = hreason;
		r->domain = hid.domain;
		r->internal = hinternal;
	}
}

static void __attribute__((noreturn))
spf_fatal(const char *file, int line, const char *text)
{
	tg_log(TG_LOG_ERR, "libspf2 %s:%d: %s", file ? file : "?", line, text);
	abort();
}

static void
spf_quiet(const char *file, int line, const char *text)
{
	/* libspf2's warnings are about records; our results say it */
}

static void
log_handlers(void)
{
	SPF_error_handler = spf_fatal;
	SPF_warning_handler = spf_quiet;
	SPF_info_handler = spf_quiet;
	SPF_debug_handler = spf_quiet;
}

/* spf_setup - one libspf2 server per configuration, asking DNS through us */
static int
spf_setup(const struct tg_config *cfg, void **global_r, const char **error_r)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	SPF_dns_server_t *dns = xcalloc(1, sizeof(*dns));
	SPF_server_t *server;

	pthread_once(&once, log_handlers);
	dns->destroy = dns_destroy;
	dns->lookup = dns_lookup;
	dns->get_spf = dns_get_spf;
	dns->get_exp = dns_get_exp;
	dns->name = "tollgate";
	server = SPF_server_new_dns(dns, 0);
	if (server == NULL) {
		free(dns);
		*error_r = "cannot create the libspf2 server";
		return -1;
	}
	if (cfg->authserv_id != NULL && cfg->authserv_id[0] != '\0')
		SPF_server_set_rec_dom(server, cfg->authserv_id);
	*global_r = server;
	return 0;
}

static void
spf_teardown(void *global)
{
	SPF_server_t *server = global;
	SPF_dns_server_t *dns = server->resolver;
	bool owned = server->destroy_resolver != 0;

	SPF_server_free(server);
	if (!owned)		/* SPF_server_new_dns() leaves it to us */
		SPF_dns_free(dns);
}

const struct tg_check tg_check_spf = {
	.name = "spf",
	.phases = TG_PH_MAIL,
	.setup = spf_setup,
	.teardown = spf_teardown,
	.on_phase = spf_phase,
};
