/*
 * fuzzlib - scratch files and the table-driven DNS the harnesses use
 * (see fuzzlib.h). Answers are built exactly as libunbound returns
 * them, wire-format answer packet included (the DKIM check hands that
 * to libopendkim), so the code under test cannot tell the difference.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <unbound.h>

#include "dns.h"
#include "fuzzlib.h"

static char tmpdir[256];

static void
rm_tmpdir(void)
{
	char cmd[128];

	if (tmpdir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzzlib: could not remove %s\n", tmpdir);
}

const char *
fz_tmpdir(void)
{
	if (tmpdir[0] == '\0') {
		const char *base = getenv("TMPDIR");

		if (base == NULL || base[0] == '\0' || strlen(base) > sizeof(tmpdir) - 20)
			base = "/tmp";
		snprintf(tmpdir, sizeof(tmpdir), "%s/tg-fuzz-XXXXXX", base);
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			abort();
		}
		atexit(rm_tmpdir);
	}
	return tmpdir;
}

char *
fz_write(const char *name, const void *data, size_t len)
{
	size_t n = strlen(fz_tmpdir()) + strlen(name) + 2;
	char *path = malloc(n);
	FILE *fp;

	snprintf(path, n, "%s/%s", fz_tmpdir(), name);
	fp = fopen(path, "w");
	if (fp == NULL || (len > 0 && fwrite(data, 1, len, fp) != len) || fclose(fp) != 0) {
		perror(path);
		abort();
	}
	return path;
}

char *
fz_strndup(const uint8_t *data, size_t len)
{
	char *s = malloc(len + 1);

	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/* ------------------------------------------------------------ the table */

struct rr {
	char *name;
	int type;
	unsigned char *rdata;
	size_t len;
	bool transient;
	struct rr *next;
};

static struct rr *table;
static unsigned int nqueries;

/* name_eq - DNS names equal, any case, a trailing dot ignored */
static bool
name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* wire_name - name in wire format into out (at most 255 bytes);
   empty labels are skipped, long ones cut to 63 */
static size_t
wire_name(const char *name, unsigned char *out)
{
	size_t o = 0;

	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		size_t c = l > 63 ? 63 : l;

		if (c > 0 && o + c + 2 <= 255) {
			out[o++] = (unsigned char)c;
			memcpy(out + o, name, c);
			o += c;
		}
		name += l;
		if (*name == '.')
			name++;
	}
	out[o++] = 0;
	return o;
}

/* rdata - text as the rdata of type; NULL when it does not parse */
static unsigned char *
rdata(int type, const char *text, size_t *len_r)
{
	unsigned char *p;
	size_t n = strlen(text);

	switch (type) {
	case 16:	/* TXT: character-strings of at most 255 */
		p = malloc(n + n / 255 + 2);
		*len_r = 0;
		do {
			size_t c = n > 255 ? 255 : n;

			p[(*len_r)++] = (unsigned char)c;
			memcpy(p + *len_r, text, c);
			*len_r += c;
			text += c;
			n -= c;
		} while (n > 0);
		return p;
	case 1:
		p = malloc(4);
		*len_r = 4;
		if (inet_pton(AF_INET, text, p) == 1)
			return p;
		break;
	case 28:
		p = malloc(16);
		*len_r = 16;
		if (inet_pton(AF_INET6, text, p) == 1)
			return p;
		break;
	case 15: {
		char *end;
		unsigned long pref = strtoul(text, &end, 10);

		if (end == text || *end != ' ' || pref > 65535)
			return NULL;
		p = malloc(2 + 256);
		p[0] = (unsigned char)(pref >> 8);
		p[1] = (unsigned char)pref;
		*len_r = 2 + wire_name(end + 1, p + 2);
		return p;
	}
	case 12:
		p = malloc(256);
		*len_r = wire_name(text, p);
		return p;
	case FZ_TIMEOUT:
	case FZ_SERVFAIL:
		*len_r = 0;
		return malloc(1);
	default:
		return NULL;
	}
	free(p);
	return NULL;
}

int
fz_dns_add(const char *name, int type, const char *text, bool transient)
{
	struct rr *r;
	size_t len;
	unsigned char *d = rdata(type, text, &len);

	if (d == NULL)
		return -1;
	r = calloc(1, sizeof(*r));
	r->name = strdup(name);
	r->type = type;
	r->rdata = d;
	r->len = len;
	r->transient = transient;
	r->next = table;
	table = r;
	return 0;
}

void
fz_dns_reset(void)
{
	struct rr **pp = &table;

	while (*pp != NULL) {
		struct rr *r = *pp;

		if (r->transient) {
			*pp = r->next;
			free(r->name);
			free(r->rdata);
			free(r);
		} else {
			pp = &r->next;
		}
	}
	nqueries = 0;
}

unsigned int
fz_dns_queries(void)
{
	return nqueries;
}

static void
put16(unsigned char *p, unsigned int v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* answer - the ub_result for name/type from the table */
static struct ub_result *
answer(const char *name, int type)
{
	struct ub_result *res;
	size_t n = 0, k = 0, plen, o;
	bool known = false;
	unsigned char *pkt;

	nqueries++;
	for (const struct rr *r = table; r != NULL; r = r->next) {
		if (!name_eq(r->name, name))
			continue;
		if (r->type == FZ_TIMEOUT)
			return NULL;
		known = true;
		if (r->type == type)
			n++;
	}
	res = calloc(1, sizeof(*res));
	res->qname = strdup(name);
	res->qtype = type;
	res->qclass = 1;
	for (const struct rr *r = table; r != NULL; r = r->next)
		if (r->type == FZ_SERVFAIL && name_eq(r->name, name))
			res->rcode = 2;
	if (!known)
		res->rcode = 3;
	if (res->rcode != 0)
		n = 0;
	res->nxdomain = res->rcode == 3;
	res->havedata = n > 0;
	res->data = calloc(n + 1, sizeof(char *));
	res->len = calloc(n + 1, sizeof(int));
	/* the packet: header, question, answers pointing at the question */
	plen = 12 + 255 + 4;
	for (const struct rr *r = table; r != NULL; r = r->next)
		if (r->type == type && n > 0 && name_eq(r->name, name))
			plen += 12 + r->len;
	pkt = calloc(1, plen);
	put16(pkt + 2, 0x8180 | (unsigned int)res->rcode);
	put16(pkt + 4, 1);
	put16(pkt + 6, (unsigned int)n);
	o = 12 + wire_name(name, pkt + 12);
	put16(pkt + o, (unsigned int)type);
	put16(pkt + o + 2, 1);
	o += 4;
	/* the table is newest first: answer in the order records were added */
	for (size_t want = n; want > 0; want--) {
		size_t i = 0;

		for (const struct rr *r = table; r != NULL; r = r->next) {
			if (r->type != type || !name_eq(r->name, name) || ++i != want)
				continue;
			res->data[k] = malloc(r->len + 1);
			memcpy(res->data[k], r->rdata, r->len);
			res->len[k++] = (int)r->len;
			put16(pkt + o, 0xc00c);
			put16(pkt + o + 2, (unsigned int)type);
			put16(pkt + o + 4, 1);
			put16(pkt + o + 6, 0);
			put16(pkt + o + 8, 300);
			put16(pkt + o + 10, (unsigned int)r->len);
			memcpy(pkt + o + 12, r->rdata, r->len);
			o += 12 + r->len;
		}
	}
	res->answer_packet = pkt;
	res->answer_len = (int)o;
	return res;
}

void
fz_dns_install(void)
{
	tg_dns_hook = answer;
}
