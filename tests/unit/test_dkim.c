/*
 * test_dkim - the dkim check through tg_session_phase(), as milter.c
 * drives it: messages signed here with libopendkim and keys that
 * openssl generates at start-up, key records served by a small DNS
 * responder on 127.0.0.1 inside this process (the resolver is pointed
 * at it with Nameservers), and the exact Authentication-Results
 * "dkim=" entries checked. Without openssl the signed cases are
 * skipped; the unsigned, malformed and cap cases still run.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <dkim.h>

#include "authres.h"
#include "checks/dkim_keys.h"
#include "config.h"
#include "session.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "runner.h"

static char dir[] = "/tmp/tg-dkim-XXXXXX";
static bool have_keys;

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------ keys */

enum { K_RSA1024, K_RSA512, K_RSA2048, K_ED25519, NKEYS };

static struct key {
	const char *file;		/* under dir */
	int rsa_bits;			/* 0: ed25519 */
	char *priv;			/* PEM */
	char *pub;			/* base64 for p= */
} keys[NKEYS] = {
	[K_RSA1024] = { "rsa1024", 1024, NULL, NULL },
	[K_RSA512] = { "rsa512", 512, NULL, NULL },
	[K_RSA2048] = { "rsa2048", 2048, NULL, NULL },
	[K_ED25519] = { "ed25519", 0, NULL, NULL },
};

static char *
read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	struct tg_strbuf sb = { 0 };
	char buf[1024];
	size_t n;

	if (fp == NULL)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		tg_strbuf_appendn(&sb, buf, n);
	fclose(fp);
	if (sb.len == 0) {
		tg_strbuf_free(&sb);
		return NULL;
	}
	return sb.s;
}

/* make_keys - generate every key with openssl; false if that fails */
static bool
make_keys(void)
{
	for (int i = 0; i < NKEYS; i++) {
		char priv[256], pub[256], cmd[1024];

		snprintf(priv, sizeof(priv), "%s/%s.pem", dir, keys[i].file);
		snprintf(pub, sizeof(pub), "%s/%s.pub", dir, keys[i].file);
		if (keys[i].rsa_bits > 0)
			snprintf(cmd, sizeof(cmd), "openssl genrsa -out %s %d 2>/dev/null && "
			    "openssl rsa -in %s -pubout -outform DER 2>/dev/null | base64 -w0 > %s",
			    priv, keys[i].rsa_bits, priv, pub);
		else	/* RFC 8463: p= is the raw 32-byte key, the end of the SPKI DER */
			snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ed25519 -out %s "
			    "2>/dev/null && openssl pkey -in %s -pubout -outform DER 2>/dev/null "
			    "| tail -c 32 | base64 -w0 > %s", priv, priv, pub);
		if (system(cmd) != 0)
			return false;
		keys[i].priv = read_file(priv);
		keys[i].pub = read_file(pub);
		if (keys[i].priv == NULL || keys[i].pub == NULL)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ DNS */

enum rkind { R_TXT, R_NXDOMAIN, R_SERVFAIL, R_DROP };

struct record {
	char name[128];
	enum rkind kind;
	char *txt[2];			/* one or two TXT records */
};

static struct record records[16];
static size_t nrecords;
static int dns_fd = -1;
static unsigned short dns_port;
static pthread_t dns_thread;
static atomic_bool dns_stop;
static bool dns_running;

static void
add_record(const char *name, enum rkind kind, const char *txt1, const char *txt2)
{
	struct record *r = &records[nrecords++];

	snprintf(r->name, sizeof(r->name), "%s", name);
	r->kind = kind;
	r->txt[0] = txt1 ? xstrdup(txt1) : NULL;
	r->txt[1] = txt2 ? xstrdup(txt2) : NULL;
}

static void
put16(unsigned char *p, unsigned int v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* answer - the reply to one query in q (n bytes) into out; 0 = no reply */
static size_t
answer(const unsigned char *q, size_t n, unsigned char *out, size_t cap)
{
	char name[256];
	size_t i = 12, o = 0, qend, len;
	unsigned int qtype, rcode = 0, an = 0;
	const struct record *r = NULL;

	if (n < 12)
		return 0;
	while (i < n && q[i] != 0) {
		size_t l = q[i++];

		if (i + l > n || o + l + 1 >= sizeof(name))
			return 0;
		if (o > 0)
			name[o++] = '.';
		memcpy(name + o, q + i, l);
		o += l;
		i += l;
	}
	name[o] = '\0';
	if (i + 5 > n)
		return 0;
	qtype = (unsigned int)q[i + 1] << 8 | q[i + 2];
	qend = i + 5;
	for (size_t k = 0; k < nrecords; k++)
		if (strcasecmp(records[k].name, name) == 0)
			r = &records[k];
	if (r == NULL)
		rcode = 3;
	else if (r->kind == R_DROP)
		return 0;
	else if (r->kind == R_NXDOMAIN)
		rcode = 3;
	else if (r->kind == R_SERVFAIL)
		rcode = 2;
	if (qend > cap)
		return 0;
	memcpy(out, q, qend);
	put16(out + 2, 0x8000 | (q[2] & 0x01) << 8 | 0x0400 | 0x0080 | rcode);
	put16(out + 4, 1);
	put16(out + 8, 0);
	put16(out + 10, 0);
	len = qend;
	if (r != NULL && r->kind == R_TXT && qtype == 16) {
		for (int t = 0; t < 2 && r->txt[t] != NULL; t++) {
			const char *s = r->txt[t];
			size_t sl = strlen(s), rdlen = sl + (sl + 254) / 255 + (sl == 0);
			unsigned char *p;

			if (len + 12 + rdlen > cap)
				return 0;
			p = out + len;
			put16(p, 0xc00c);
			put16(p + 2, 16);
			put16(p + 4, 1);
			put16(p + 6, 0);
			put16(p + 8, 300);
			put16(p + 10, (unsigned int)rdlen);
			p += 12;
			do {	/* character-strings of at most 255 */
				size_t c = sl > 255 ? 255 : sl;

				*p++ = (unsigned char)c;
				memcpy(p, s, c);
				p += c;
				s += c;
				sl -= c;
			} while (sl > 0);
			len += 12 + rdlen;
			an++;
		}
	}
	put16(out + 6, an);
	return len;
}

static void *
dns_serve(void *arg)
{
	unsigned char q[1500], out[4096];

	(void)arg;
	while (!atomic_load(&dns_stop)) {
		struct pollfd pfd = { .fd = dns_fd, .events = POLLIN };
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n;
		size_t len;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recvfrom(dns_fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		len = answer(q, (size_t)n, out, sizeof(out));
		if (len > 0)
			(void)sendto(dns_fd, out, len, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

/* dns_start - the responder on 127.0.0.1, once per process */
static void
dns_start(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);

	if (dns_running)
		return;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dns_fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(dns_fd, 0);
	ck_assert_int_eq(bind(dns_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(dns_fd, (struct sockaddr *)&sin, &sl), 0);
	dns_port = ntohs(sin.sin_port);
	atomic_store(&dns_stop, false);
	ck_assert_int_eq(pthread_create(&dns_thread, NULL, dns_serve, NULL), 0);
	dns_running = true;
}

static void
dns_shutdown(void)
{
	if (!dns_running)
		return;
	atomic_store(&dns_stop, true);
	pthread_join(dns_thread, NULL);
	close(dns_fd);
	dns_fd = -1;
	dns_running = false;
}

/* ------------------------------------------------------------ messages */

struct message {
	size_t n;
	char *name[24], *value[24];
	struct tg_strbuf body;
};

static void
msg_init(struct message *m, const char *subject)
{
	memset(m, 0, sizeof(*m));
	m->name[m->n] = xstrdup("From");
	m->value[m->n++] = xstrdup("Alice <alice@example.com>");
	m->name[m->n] = xstrdup("To");
	m->value[m->n++] = xstrdup("bob@example.org");
	m->name[m->n] = xstrdup("Subject");
	m->value[m->n++] = xstrdup(subject);
	m->name[m->n] = xstrdup("Date");
	m->value[m->n++] = xstrdup("Mon, 1 Jan 2024 10:00:00 +0000");
	tg_strbuf_append(&m->body, "Hello Bob,\r\n\r\nthis  is   a test.  \r\n\r\n\r\n");
}

static void
msg_free(struct message *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->name[i]);
		free(m->value[i]);
	}
	tg_strbuf_free(&m->body);
}

/* msg_prepend - a header on top (where a signer puts its signature) */
static void
msg_prepend(struct message *m, const char *name, const char *value)
{
	memmove(m->name + 1, m->name, m->n * sizeof(char *));
	memmove(m->value + 1, m->value, m->n * sizeof(char *));
	m->name[0] = xstrdup(name);
	m->value[0] = xstrdup(value);
	m->n++;
}

static void
msg_set(struct message *m, const char *name, const char *value)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcasecmp(m->name[i], name) == 0) {
			free(m->value[i]);
			m->value[i] = xstrdup(value);
		}
}

/* libopendkim 2.11.0~beta2 never frees the key of an ed25519 signing
   handle (dkim_free() only knows RSA keys): such handles are kept here
   until exit, still reachable, so that valgrind reports our leaks only
   (not static: the stores must not be optimised away) */
struct kept { DKIM_LIB *lib; DKIM *dkim; };
extern struct kept test_dkim_kept[16];
struct kept test_dkim_kept[16];
static size_t nkept;

struct signopts {
	int key;
	const char *d, *s;
	dkim_alg_t alg;
	dkim_canon_t hc, bc;
	bool len;			/* l= */
	uint64_t when, ttl;		/* t= (0: now), x= = t= + ttl */
};

/* sign - put a DKIM-Signature on top of m; returns its b= prefix */
static char *
sign(struct message *m, const struct signopts *o)
{
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	unsigned int bits = 0, flags = o->len ? DKIM_LIBFLAGS_SIGNLEN : 0;
	/* like most signers, leave other signatures out of h= */
	const char *skip[] = { "DKIM-Signature", NULL };
	struct tg_strbuf sb = { 0 };
	DKIM_STAT st;
	DKIM *dkim;
	u_char *hdr;
	size_t len;
	char *b, *prefix;

	ck_assert_ptr_nonnull(lib);
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &bits, sizeof(bits));
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags));
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SKIPHDRS, skip, sizeof(char **));
	if (o->when != 0)
		dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, (void *)&o->when,
		    sizeof(o->when));
	if (o->ttl != 0)
		dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNATURETTL, (void *)&o->ttl,
		    sizeof(o->ttl));
	dkim = dkim_sign(lib, (const u_char *)"test", NULL, (dkim_sigkey_t)keys[o->key].priv,
	    (const u_char *)o->s, (const u_char *)o->d, o->hc, o->bc, o->alg, -1, &st);
	ck_assert_msg(dkim != NULL, "dkim_sign: %s", dkim_getresultstr(st));
	for (size_t i = 0; i < m->n; i++) {
		tg_strbuf_truncate(&sb, 0);
		tg_strbuf_printf(&sb, "%s: %s", m->name[i], m->value[i]);
		ck_assert_int_eq(dkim_header(dkim, (u_char *)sb.s, sb.len), DKIM_STAT_OK);
	}
	ck_assert_int_eq(dkim_eoh(dkim), DKIM_STAT_OK);
	ck_assert_int_eq(dkim_body(dkim, (u_char *)m->body.s, m->body.len), DKIM_STAT_OK);
	st = dkim_eom(dkim, NULL);
	ck_assert_msg(st == DKIM_STAT_OK, "dkim_eom: %s %s", dkim_getresultstr(st),
	    dkim_geterror(dkim));
	ck_assert_int_eq(dkim_getsighdr_d(dkim, strlen("DKIM-Signature: "), &hdr, &len),
	    DKIM_STAT_OK);
	msg_prepend(m, "DKIM-Signature", (const char *)hdr);
	b = strstr((const char *)hdr, "b=");
	while (b != NULL && b > (char *)hdr && b[-1] == 'b')	/* not bh= */
		b = strstr(b + 2, "b=");
	ck_assert_ptr_nonnull(b);
	prefix = xstrndup(b + 2, 8);
	if (o->alg == DKIM_SIGN_ED25519SHA256 && nkept < 16) {
		test_dkim_kept[nkept].lib = lib;
		test_dkim_kept[nkept++].dkim = dkim;
	} else {
		dkim_free(dkim);
		dkim_close(lib);
	}
	tg_strbuf_free(&sb);
	return prefix;
}

/* ------------------------------------------------------------ driving */

/* load_cfg - a config using our DNS responder */
static struct tg_config *
load_cfg(const char *extra)
{
	return tg_test_config(dir, "PolicyFile /dev/null\nLocalDomains example.org\n"
	    "AuthservID mx.example.org\nTrustedNetworks 192.0.2.0/24\n"
	    "Nameservers 127.0.0.1@%u\nCheckTimeout 3s\n%s%s",
	    dns_port, strstr(extra, "DNSTimeout") ? "" : "DNSTimeout 700ms\n", extra);
}

/* how header values reach the check */
#define V_CRLF 0			/* folded with CRLF */
#define V_LF 1				/* folded with a bare LF, as Postfix does */
#define V_LEADSPC 2			/* with the space after the colon (SMFIP_HDR_LEADSPC) */

/* deliver - the message through every phase, body in chunks of chunk
   bytes (0: one chunk), header values in form vform */
static struct tg_conn *
deliver(struct tg_config *cfg, const char *ip, const struct message *m, size_t chunk,
    int vform)
{
	struct tg_conn *conn = tg_conn_new(cfg, 1);
	struct tg_phase_arg arg = { 0 };
	struct tg_msg *msg;
	struct tg_ip addr;
	const char *err;

	ck_assert_int_eq(tg_ip_parse(ip, &addr), 0);
	tg_conn_set_ip(conn, &addr);
	msg = tg_msg_new(conn);
	msg->sender_raw = "<alice@example.com>";
	msg->sender_ok = tg_addr_parse(msg->arena, msg->sender_raw, &msg->sender, &err) == 0;
	tg_session_phase(msg, TG_PH_MAIL, NULL);
	arg.rcpt = "<bob@example.org>";
	tg_session_phase(msg, TG_PH_RCPT, &arg);
	for (size_t i = 0; i < m->n; i++) {
		struct tg_phase_arg h = { .hname = m->name[i], .hvalue = m->value[i] };
		char *v = NULL;

		if (vform == V_LEADSPC) {
			/* as with SMFIP_HDR_LEADSPC: the value keeps its space */
			v = fmt(" %s", m->value[i]);
			h.hvalue = v;
			h.leadspc = true;
		} else if (vform == V_LF) {
			const char *s = m->value[i];
			char *o = v = xstrdup(s);

			for (; *s; s++)
				if (!(*s == '\r' && s[1] == '\n'))
					*o++ = *s;
			*o = '\0';
			h.hvalue = v;
		}
		tg_session_phase(msg, TG_PH_HEADER, &h);
		free(v);
	}
	tg_session_phase(msg, TG_PH_EOH, NULL);
	for (size_t off = 0; off < m->body.len;) {
		struct tg_phase_arg b = { 0 };
		size_t n = chunk == 0 || m->body.len - off < chunk ? m->body.len - off : chunk;

		b.body = (const unsigned char *)m->body.s + off;
		b.bodylen = n;
		tg_session_phase(msg, TG_PH_BODY, &b);
		off += n;
	}
	tg_session_phase(msg, TG_PH_EOM, NULL);
	return conn;
}

/* dkim_ar - the dkim= entries of our Authentication-Results, one per
   line, without the separating ';' */
static char *
dkim_ar(const struct tg_msg *msg)
{
	struct tg_strbuf ar = { 0 }, out = { 0 };
	char *save = NULL;

	tg_authres_value(msg, "mx.example.org", &ar);
	for (char *l = strtok_r(ar.s, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		size_t n;

		while (*l == '\t')
			l++;
		if (strncmp(l, "dkim=", 5) != 0)
			continue;
		n = strlen(l);
		if (n > 0 && l[n - 1] == ';')
			l[--n] = '\0';
		if (out.len > 0)
			tg_strbuf_addch(&out, '\n');
		tg_strbuf_append(&out, l);
	}
	tg_strbuf_free(&ar);
	if (out.s == NULL)
		return xstrdup("");
	return out.s;
}

/* expect - run the message and compare the dkim= entries */
static void
expect(const char *cfgextra, const struct message *m, size_t chunk, int vform,
    const char *want)
{
	struct tg_config *cfg = load_cfg(cfgextra);
	struct tg_conn *conn = deliver(cfg, "198.51.100.7", m, chunk, vform);
	char *got = dkim_ar(conn->msg);

	ck_assert_str_eq(got, want);
	free(got);
	tg_conn_free(&conn);
}

static char *
fmt(const char *f, ...)
{
	struct tg_strbuf sb = { 0 };
	va_list ap;

	va_start(ap, f);
	tg_strbuf_vprintf(&sb, f, ap);
	va_end(ap);
	return sb.s != NULL ? sb.s : xstrdup("");
}

#define NEED_KEYS() do { \
	if (!have_keys) { \
		fprintf(stderr, "skipped %s: no openssl keys\n", __func__); \
		return; \
	} \
	dns_start(); \
} while (0)

/* ------------------------------------------------------------ cases */

START_TEST(unsigned_message_is_none)
{
	struct message m;

	dns_start();
	msg_init(&m, "plain");
	expect("", &m, 0, V_CRLF, "dkim=none (no signature)");
	msg_free(&m);
}
END_TEST

START_TEST(trusted_client_not_checked)
{
	struct message m;
	struct tg_config *cfg;
	struct tg_conn *conn;

	dns_start();
	msg_init(&m, "trusted");
	msg_prepend(&m, "DKIM-Signature", "v=1; a=rsa-sha256; d=example.com; s=x; h=from; "
	    "bh=AAAA; b=BBBB");
	cfg = load_cfg("");
	conn = deliver(cfg, "192.0.2.9", &m, 0, V_CRLF);
	ck_assert_ptr_null(tg_msg_result(conn->msg, "dkim"));
	tg_conn_free(&conn);
	msg_free(&m);
}
END_TEST

static const struct syntax_case {
	const char *name, *value, *want;
} syntax_cases[] = {
	{ "tag without value", "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b",
	  "dkim=permerror (malformed signature: tag without value at end of signature data) "
	  "header.d=example.com header.s=sel header.a=rsa-sha256" },
	{ "required tag missing", "v=1; a=rsa-sha256; d=example.com; s=sel; bh=AAAA; b=QUJD",
	  "dkim=permerror (malformed signature: missing parameters in signature data) "
	  "header.d=example.com header.s=sel header.a=rsa-sha256 header.b=QUJD" },
	{ "unknown algorithm", "v=1; a=rsa-sha512; d=example.com; s=sel; h=from; bh=QUJD; b=QUJD",
	  "dkim=permerror (unknown algorithm a=) "
	  "header.d=example.com header.s=sel header.a=rsa-sha512 header.b=QUJD" },
	{ "unknown version", "v=2; a=rsa-sha256; d=example.com; s=sel; h=from; bh=QUJD; b=QUJD",
	  "dkim=permerror (unsupported signature version v=) "
	  "header.d=example.com header.s=sel header.a=rsa-sha256 header.b=QUJD" },
	{ "i= outside d=", "v=1; a=rsa-sha256; d=example.com; i=@evil.example; s=sel; h=from; "
	  "bh=QUJD; b=QUJD",
	  "dkim=permerror (i= is not within d=) "
	  "header.d=example.com header.s=sel header.a=rsa-sha256 header.b=QUJD" },
	{ "h= without From", "v=1; a=rsa-sha256; d=example.com; s=sel; h=subject; bh=QUJD; b=QUJD",
	  "dkim=permerror (h= does not include From) "
	  "header.d=example.com header.s=sel header.a=rsa-sha256 header.b=QUJD" },
	{ "bad d= characters", "v=1; a=rsa-sha256; d=exa(mple).com; s=sel; h=from; bh=QUJD; "
	  "b=QUJD; bogus",
	  "dkim=permerror (malformed signature: tag without value at end of signature data) "
	  "header.s=sel header.a=rsa-sha256 header.b=QUJD" },
};

START_TEST(malformed_signature)
{
	const struct syntax_case *c = &syntax_cases[_i];
	struct message m;

	dns_start();
	msg_init(&m, c->name);
	msg_prepend(&m, "DKIM-Signature", c->value);
	expect("", &m, 0, V_CRLF, c->want);
	msg_free(&m);
}
END_TEST

START_TEST(no_from_header)
{
	struct message m;
	struct tg_strbuf want = { 0 };

	dns_start();
	msg_init(&m, "no from");
	free(m.name[0]);
	m.name[0] = xstrdup("Sender");
	msg_prepend(&m, "DKIM-Signature", "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; "
	    "bh=QUJD; b=QUJD");
	tg_strbuf_append(&want, "dkim=permerror (message not verifiable: no from header field "
	    "detected) header.d=example.com header.s=sel header.a=rsa-sha256 header.b=QUJD");
	expect("", &m, 0, V_CRLF, want.s);
	tg_strbuf_free(&want);
	msg_free(&m);
}
END_TEST

/* sig_ar - the expected entry for a signature over example.com */
static char *
sig_ar(const char *result, const char *sel, const char *alg, const char *b)
{
	return fmt("dkim=%s header.d=example.com header.s=%s header.a=%s header.b=%s%s%s",
	    result, sel, alg, strpbrk(b, "/=") ? "\"" : "", b, strpbrk(b, "/=") ? "\"" : "");
}

static const struct sig_case {
	const char *name;
	struct signopts o;
	const char *cfg;
	int tweak;			/* what happens to the message after signing */
	size_t chunk;
	int vform;			/* V_CRLF ... */
	const char *result;		/* "pass (1024-bit key)" ... */
} sig_cases[] = {
#define T_NONE 0
#define T_BODY 1			/* a body line changed */
#define T_HEADER 2			/* the Subject changed */
#define T_APPEND 3			/* text appended to the body */
#define T_BLANKS 4			/* empty lines appended (invisible to DKIM) */
#define T_NOEOL 5			/* the body's last line without its CRLF */
	/* RFC 6376 3.4.3: the missing CRLF is added (libopendkim alone
	   refuses such a body and verifies nothing) */
	{ "last line without CRLF, relaxed", { .key = K_RSA1024, .d = "example.com",
	    .s = "rsa1024", .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED,
	    .bc = DKIM_CANON_RELAXED }, "", T_NOEOL, 0, V_CRLF, "pass (1024-bit key)" },
	{ "last line without CRLF, simple, in 5-byte chunks", { .key = K_RSA1024,
	    .d = "example.com", .s = "rsa1024", .alg = DKIM_SIGN_RSASHA256,
	    .hc = DKIM_CANON_SIMPLE, .bc = DKIM_CANON_SIMPLE }, "", T_NOEOL, 5, V_CRLF,
	  "pass (1024-bit key)" },
	{ "rsa-sha256 relaxed", { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_NONE, 0, V_CRLF, "pass (1024-bit key)" },
	{ "rsa-sha256 simple", { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_SIMPLE, .bc = DKIM_CANON_SIMPLE },
	    "", T_NONE, 0, V_CRLF, "pass (1024-bit key)" },
	{ "2048-bit key in two TXT strings", { .key = K_RSA2048, .d = "example.com",
	    .s = "rsa2048", .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED,
	    .bc = DKIM_CANON_SIMPLE }, "", T_NONE, 0, V_CRLF,
	  "pass (2048-bit key)" },
	{ "ed25519-sha256", { .key = K_ED25519, .d = "example.com", .s = "ed25519",
	    .alg = DKIM_SIGN_ED25519SHA256, .hc = DKIM_CANON_RELAXED,
	    .bc = DKIM_CANON_RELAXED }, "", T_NONE, 0, V_CRLF, "pass (256-bit key)" },
	{ "body in 1-byte chunks", { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_SIMPLE, .bc = DKIM_CANON_SIMPLE },
	    "", T_NONE, 1, V_CRLF, "pass (1024-bit key)" },
	{ "folded with bare LF (Postfix)", { .key = K_RSA1024, .d = "example.com",
	    .s = "rsa1024", .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_SIMPLE,
	    .bc = DKIM_CANON_SIMPLE }, "", T_NONE, 0, V_LF,
	  "pass (1024-bit key)" },
	{ "values with their leading space", { .key = K_RSA1024, .d = "example.com",
	    .s = "rsa1024", .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_SIMPLE,
	    .bc = DKIM_CANON_SIMPLE }, "", T_NONE, 0, V_LEADSPC,
	  "pass (1024-bit key)" },
	{ "body changed", { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_BODY, 0, V_CRLF,
	  "fail (body hash mismatch)" },
	{ "signed header changed", { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_HEADER, 0, V_CRLF,
	  "fail (signature mismatch)" },
	{ "ed25519 body changed", { .key = K_ED25519, .d = "example.com", .s = "ed25519",
	    .alg = DKIM_SIGN_ED25519SHA256, .hc = DKIM_CANON_RELAXED,
	    .bc = DKIM_CANON_RELAXED }, "", T_BODY, 0, V_CRLF,
	  "fail (body hash mismatch)" },
	{ "512-bit key", { .key = K_RSA512, .d = "example.com", .s = "rsa512",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_NONE, 0, V_CRLF,
	  "policy (key too small: 512 bits, minimum 1024)" },
	{ "DKIMMinKeyBits 2048", { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "DKIMMinKeyBits 2048\n", T_NONE, 0, V_CRLF,
	  "policy (key too small: 1024 bits, minimum 2048)" },
	{ "rsa-sha1", { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA1, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_NONE, 0, V_CRLF,
	  "policy (rsa-sha1 is not acceptable, RFC 8301)" },
	{ "l= covering the body", { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED,
	    .len = true }, "", T_BLANKS, 3, V_CRLF,
	  "pass (1024-bit key)" },
	{ "l= with text appended", { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_SIMPLE, .bc = DKIM_CANON_SIMPLE,
	    .len = true }, "", T_APPEND, 5, V_CRLF,
	  "policy (body signed only in part: l=36 of 74 bytes)" },
	{ "expired", { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED,
	    .len = false, .when = 1, .ttl = 3600 }, "", T_NONE, 0, V_CRLF,
	  "policy (signature expired)" },
	{ "revoked key", { .key = K_RSA1024, .d = "example.com", .s = "revoked",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_NONE, 0, V_CRLF, "fail (key revoked)" },
	{ "no key (NXDOMAIN)", { .key = K_RSA1024, .d = "example.com", .s = "missing",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_NONE, 0, V_CRLF,
	  "permerror (no key: NXDOMAIN)" },
	{ "selector no DNS name can have", { .key = K_RSA1024, .d = "example.com",
	    .s = "s234567890123456789012345678901234567890123456789012345678901234",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_NONE, 0, V_CRLF,
	  "permerror (no key: not a valid DNS name)" },
	{ "no key record (NODATA)", { .key = K_RSA1024, .d = "example.com", .s = "nodata",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_NONE, 0, V_CRLF,
	  "permerror (no key record)" },
	{ "two key records", { .key = K_RSA1024, .d = "example.com", .s = "two",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_NONE, 0, V_CRLF,
	  "permerror (several key records)" },
	{ "key record not a tag list", { .key = K_RSA1024, .d = "example.com", .s = "junk",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_NONE, 0, V_CRLF,
	  "permerror (malformed key record)" },
	{ "key of the wrong type", { .key = K_RSA1024, .d = "example.com", .s = "edkey",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_NONE, 0, V_CRLF,
	  "permerror (key cannot be decoded)" },
	{ "key lookup SERVFAIL", { .key = K_RSA1024, .d = "example.com", .s = "servfail",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "", T_NONE, 0, V_CRLF,
	  "temperror (key lookup failed: SERVFAIL)" },
	{ "key lookup timeout", { .key = K_RSA1024, .d = "example.com", .s = "slow",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED },
	    "DNSTimeout 300ms\n", T_NONE, 0, V_CRLF,
	  "temperror (key lookup timed out)" },
};

static void
tweak(struct message *m, int t)
{
	if (t == T_BODY) {
		char *p = strstr(m->body.s, "test");

		p[0] = 'b';
	} else if (t == T_HEADER) {
		msg_set(m, "Subject", "changed");
	} else if (t == T_APPEND) {
		tg_strbuf_append(&m->body, "Click here: http://evil.example/\r\n");
	} else if (t == T_BLANKS) {
		tg_strbuf_append(&m->body, "\r\n\r\n \r\n");
	} else if (t == T_NOEOL) {
		size_t n = m->body.len;

		while (n > 0 && (m->body.s[n - 1] == '\r' || m->body.s[n - 1] == '\n'))
			n--;
		tg_strbuf_truncate(&m->body, n);
	}
}

START_TEST(signed_message)
{
	const struct sig_case *c = &sig_cases[_i];
	struct signopts o = c->o;
	struct message m;
	char *b, *want, *cfg;
	const char *alg;

	NEED_KEYS();
	msg_init(&m, c->name);
	if (o.ttl != 0)		/* signed two hours ago, valid for one */
		o.when = (uint64_t)time(NULL) - 7200;
	b = sign(&m, &o);
	tweak(&m, c->tweak);
	alg = o.alg == DKIM_SIGN_ED25519SHA256 ? "ed25519-sha256"
	    : o.alg == DKIM_SIGN_RSASHA1 ? "rsa-sha1" : "rsa-sha256";
	want = sig_ar(c->result, o.s, alg, b);
	cfg = fmt("%s", c->cfg);
	expect(cfg, &m, c->chunk, c->vform, want);
	free(cfg);
	free(want);
	free(b);
	msg_free(&m);
}
END_TEST

START_TEST(two_signatures_one_bad)
{
	struct signopts good = { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED };
	struct signopts other = { .key = K_ED25519, .d = "example.com", .s = "ed25519",
	    .alg = DKIM_SIGN_ED25519SHA256, .hc = DKIM_CANON_RELAXED,
	    .bc = DKIM_CANON_RELAXED };
	struct message m;
	char *b1, *b2, *want, *w1, *w2;

	NEED_KEYS();
	msg_init(&m, "two signatures");
	b1 = sign(&m, &good);
	/* the second signer saw another Subject, as after a list rewrote it */
	msg_set(&m, "Subject", "[list] two signatures");
	b2 = sign(&m, &other);
	w2 = sig_ar("pass (256-bit key)", "ed25519", "ed25519-sha256", b2);
	w1 = sig_ar("fail (signature mismatch)", "rsa1024", "rsa-sha256", b1);
	want = fmt("%s\n%s", w2, w1);
	expect("", &m, 0, V_CRLF, want);
	free(want);
	free(w1);
	free(w2);
	free(b1);
	free(b2);
	msg_free(&m);
}
END_TEST

START_TEST(signature_cap)
{
	struct signopts o = { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED };
	struct message m;
	char *b[3], *w1, *w2, *want;

	NEED_KEYS();
	msg_init(&m, "three signatures");
	for (int i = 0; i < 3; i++)
		b[i] = sign(&m, &o);
	/* the top two are verified, the third (bottom) is left out */
	w1 = sig_ar("pass (1024-bit key)", "rsa1024", "rsa-sha256", b[2]);
	w2 = sig_ar("pass (1024-bit key; 1 more signature not verified, DKIMMaxSignatures 2)",
	    "rsa1024", "rsa-sha256", b[1]);
	want = fmt("%s\n%s", w1, w2);
	expect("DKIMMaxSignatures 2\n", &m, 0, V_CRLF, want);
	free(want);
	free(w1);
	free(w2);
	for (int i = 0; i < 3; i++)
		free(b[i]);
	msg_free(&m);
}
END_TEST

START_TEST(cap_without_dns)
{
	struct message m;

	dns_start();
	msg_init(&m, "cap");
	for (int i = 0; i < 3; i++)
		msg_prepend(&m, "DKIM-Signature", "v=1; a=rsa-sha256; d=example.com; s=sel; "
		    "h=from; bh=QUJD");
	expect("DKIMMaxSignatures 1\n", &m, 0, V_CRLF,
	    "dkim=permerror (malformed signature: missing parameters in signature data; "
	    "2 more signatures not verified, DKIMMaxSignatures 1) "
	    "header.d=example.com header.s=sel header.a=rsa-sha256");
	msg_free(&m);
}
END_TEST

/* the result record itself: domain for DMARC, nothing internal */
START_TEST(result_fields)
{
	struct signopts o = { .key = K_RSA1024, .d = "example.com", .s = "rsa1024",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED };
	struct message m;
	struct tg_config *cfg;
	struct tg_conn *conn;
	const struct tg_result *r;
	char *b;

	NEED_KEYS();
	msg_init(&m, "fields");
	b = sign(&m, &o);
	cfg = load_cfg("");
	conn = deliver(cfg, "198.51.100.7", &m, 0, V_CRLF);
	r = tg_msg_result(conn->msg, "dkim");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->outcome, TG_PASS);
	ck_assert_str_eq(r->domain, "example.com");
	ck_assert_int_eq(r->phase, TG_PH_EOM);
	ck_assert(!r->internal);
	tg_conn_free(&conn);
	free(b);
	msg_free(&m);
}
END_TEST

/* a key decoded once serves the next messages signed with it: proof
   that libopendkim's d2i_PUBKEY_bio calls reach checks/dkim_keys.c;
   another key is decoded afresh and passes with its own size */
START_TEST(decoded_key_reused)
{
	struct signopts o2048 = { .key = K_RSA2048, .d = "example.com", .s = "rsa2048",
	    .alg = DKIM_SIGN_RSASHA256, .hc = DKIM_CANON_RELAXED, .bc = DKIM_CANON_RELAXED };
	struct signopts o1024 = o2048;
	struct tg_dkim_keys_stats st0, st;
	struct message m2048, m1024;
	char *b2048, *b1024, *w2048, *w1024;

	NEED_KEYS();
	o1024.key = K_RSA1024;
	o1024.s = "rsa1024";
	msg_init(&m2048, "key reuse");
	msg_init(&m1024, "another key");
	b2048 = sign(&m2048, &o2048);
	b1024 = sign(&m1024, &o1024);
	w2048 = sig_ar("pass (2048-bit key)", "rsa2048", "rsa-sha256", b2048);
	w1024 = sig_ar("pass (1024-bit key)", "rsa1024", "rsa-sha256", b1024);
	tg_config_publish(load_cfg(""));
	tg_dkim_keys_stats(&st0);
	for (int i = 0; i < 4; i++) {
		/* the other key last: it may take the first one's slot */
		const struct message *m = i == 3 ? &m1024 : &m2048;
		struct tg_conn *conn = deliver(tg_config_acquire(), "198.51.100.7", m, 0, V_CRLF);
		char *got = dkim_ar(conn->msg);

		ck_assert_str_eq(got, i == 3 ? w1024 : w2048);
		free(got);
		tg_conn_free(&conn);
	}
	tg_dkim_keys_stats(&st);
	ck_assert_uint_eq(st.misses - st0.misses, 2);	/* rsa2048, then rsa1024 */
	ck_assert_uint_eq(st.hits - st0.hits, 2);	/* rsa2048 twice more */
	ck_assert_uint_ge(st.entries, 1);
	tg_config_publish(NULL);		/* the snapshot goes, and the keys */
	tg_dkim_keys_stats(&st);
	ck_assert_uint_eq(st.entries, 0);
	free(w1024);
	free(w2048);
	free(b1024);
	free(b2048);
	msg_free(&m1024);
	msg_free(&m2048);
}
END_TEST

/* ------------------------------------------------------------ main */

static void
setup_records(void)
{
	char *txt;

	txt = fmt("v=DKIM1; k=rsa; p=%s", keys[K_RSA1024].pub);
	add_record("rsa1024._domainkey.example.com", R_TXT, txt, NULL);
	free(txt);
	txt = fmt("v=DKIM1; k=rsa; p=%s", keys[K_RSA512].pub);
	add_record("rsa512._domainkey.example.com", R_TXT, txt, NULL);
	free(txt);
	txt = fmt("v=DKIM1; k=rsa; p=%s", keys[K_RSA2048].pub);
	add_record("rsa2048._domainkey.example.com", R_TXT, txt, NULL);
	free(txt);
	txt = fmt("v=DKIM1; k=ed25519; p=%s", keys[K_ED25519].pub);
	add_record("ed25519._domainkey.example.com", R_TXT, txt, NULL);
	free(txt);
	txt = fmt("v=DKIM1; k=rsa; p=%s", keys[K_ED25519].pub);
	add_record("edkey._domainkey.example.com", R_TXT, txt, NULL);
	free(txt);
	txt = fmt("v=DKIM1; k=rsa; p=%s", keys[K_RSA1024].pub);
	add_record("two._domainkey.example.com", R_TXT, txt, txt);
	free(txt);
	add_record("revoked._domainkey.example.com", R_TXT, "v=DKIM1; k=rsa; p=", NULL);
	add_record("junk._domainkey.example.com", R_TXT, "hello world", NULL);
	add_record("nodata._domainkey.example.com", R_TXT, NULL, NULL);
	add_record("servfail._domainkey.example.com", R_SERVFAIL, NULL, NULL);
	add_record("slow._domainkey.example.com", R_DROP, NULL, NULL);
}

int
main(void)
{
	Suite *s = suite_create("dkim");
	TCase *tc = tg_test_tcase(s, "verify");
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	have_keys = make_keys();
	if (!have_keys)
		fputs("test_dkim: openssl could not make keys; signed cases skipped\n", stderr);
	else
		setup_records();
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, unsigned_message_is_none);
	tcase_add_test(tc, trusted_client_not_checked);
	TG_LOOP_TEST(tc, malformed_signature, syntax_cases);
	tcase_add_test(tc, no_from_header);
	TG_LOOP_TEST(tc, signed_message, sig_cases);
	tcase_add_test(tc, two_signatures_one_bad);
	tcase_add_test(tc, signature_cap);
	tcase_add_test(tc, cap_without_dns);
	tcase_add_test(tc, result_fields);
	tcase_add_test(tc, decoded_key_reused);
	rc = tg_test_run(s);
	dns_shutdown();
	for (int i = 0; i < NKEYS; i++) {
		free(keys[i].priv);
		free(keys[i].pub);
	}
	for (size_t i = 0; i < nrecords; i++) {
		free(records[i].txt[0]);
		free(records[i].txt[1]);
	}
	tg_test_rmtree(dir);
	return rc;
}
