/*
 * fuzz_message - a whole SMTP transaction through the check pipeline,
 * as milter.c drives it (tg_session_phase() at MAIL, RCPT, each header,
 * end of headers, each body chunk, end of message), with every DNS
 * query answered from a table (fuzzlib.c, tg_dns_hook): SPF, DKIM
 * (real signatures, tests/fuzz/keys), DMARC and the policy all run.
 * Then what milter.c would write is built and checked: the SMTP reply
 * (printable ASCII, no CR or LF), the headers we add (printable, folded
 * only with LF + tab), and every log line (one line, printable).
 *
 * Input: envelope commands, one a line, then "DATA" and the message.
 *
 *   ip ADDR | ip unknown   client address (default 198.51.100.7)
 *   host NAME  helo NAME  auth LOGIN  daemon NAME  tls VERSION
 *   json                   log in JSON
 *   monitor                use the Mode monitor configuration
 *   from PATH [SIZE=N]     MAIL FROM (again: a new transaction)
 *   qid ID                 Postfix's queue id for the transaction
 *   rcpt PATH              RCPT TO
 *   dns NAME TYPE [TEXT]   a DNS record for this run: TXT A AAAA MX PTR
 *                          (TEXT as in fuzzlib.h), TIMEOUT or SERVFAIL
 *   chunk N                body chunk size (default 65535)
 *   DATA                   the rest is the message: header fields,
 *                          an empty line, the body
 *
 * FUZZ_SHOW_LOG=1 in the environment prints tollgate's log lines.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "config.h"
#include "fuzzlib.h"
#include "log.h"
#include "session.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "verdict.h"

#include "keys.h"		/* RSA_PUB, ED_PUB: the p= of the test keys */

static struct tg_config *cfg_enforce, *cfg_monitor;
static char *logbuf;
static size_t loglen;
static FILE *logfp;

static const struct {
	const char *name;
	int type;
	const char *text;
} fixed[] = {
	{ "remote.example", 16, "v=spf1 ip4:198.51.100.0/24 include:_spf.remote.example ~all" },
	{ "_spf.remote.example", 16, "v=spf1 a mx ptr exists:%{i}.ex.remote.example -all" },
	{ "remote.example", 1, "198.51.100.7" },
	{ "remote.example", 28, "2001:db8::7" },
	{ "remote.example", 15, "10 mx.remote.example" },
	{ "mx.remote.example", 1, "198.51.100.8" },
	{ "7.100.51.198.in-addr.arpa", 12, "client.remote.example" },
	{ "client.remote.example", 1, "198.51.100.7" },
	{ "client.remote.example", 16, "v=spf1 a -all" },
	{ "_dmarc.remote.example", 16, "v=DMARC1; p=reject; sp=quarantine; pct=100; "
	  "rua=mailto:d@remote.example" },
	{ "sel._domainkey.remote.example", 16, "v=DKIM1; k=rsa; p=" RSA_PUB },
	{ "ed._domainkey.remote.example", 16, "v=DKIM1; k=ed25519; p=" ED_PUB },
	{ "revoked._domainkey.remote.example", 16, "v=DKIM1; k=rsa; p=" },
	{ "sub.remote.example", 16, "v=spf1 redirect=remote.example" },
	{ "loop.example", 16, "v=spf1 include:loop.example -all" },
	{ "void.example", 16, "v=spf1 a:n1.void.example a:n2.void.example "
	  "a:n3.void.example -all" },
	{ "many.example", 16, "v=spf1 a mx a mx a mx a mx a mx a mx -all" },
	{ "slow.example", FZ_TIMEOUT, "" },
	{ "_dmarc.slow.example", FZ_TIMEOUT, "" },
	{ "broken.example", FZ_SERVFAIL, "" },
	{ "example.org", 16, "v=spf1 -all" },
	{ "_dmarc.example.org", 16, "v=DMARC1; p=none" },
	{ "two.example", 16, "v=spf1 -all" },
	{ "two.example", 16, "v=spf1 +all" },
	{ "_dmarc.two.example", 16, "v=DMARC1; p=reject" },
	{ "_dmarc.two.example", 16, "v=DMARC1; p=none" },
};

static const char policy[] =
	"set tag-threshold 5\nset quarantine-threshold 10\nset reject-threshold 20\n"
	"list partners = 203.0.113.0/24, 2001:db8:1::/48\n"
	"list bad-helos = worse.example, .spam.example\n"
	"list blocked = spammer@remote.example, @junk.example\n"
	"rule partner: client in partners -> accept\n"
	"rule helo: helo in bad-helos -> reject 550 5.7.1 \"go away\"\n"
	"rule sender: sender in blocked -> reject\n"
	"rule dmarc: dmarc is fail and dmarc-policy is reject -> reject 550 5.7.1 \"DMARC\"\n"
	"rule dmarcq: dmarc is fail and dmarc-policy is quarantine -> quarantine\n"
	"rule ambiguous: dmarc is permerror -> tag\n"
	"rule spffail: spf is fail and not dkim is pass -> score 6\n"
	"rule softfail: spf is softfail,neutral -> score 2.5\n"
	"rule dkimfail: dkim is fail,permerror -> score 3\n"
	"rule subj: header Subject ~ /viagra|quarantine me/i -> score 12\n"
	"rule big: size > 200K -> tempfail 451 4.7.1 \"later\"\n"
	"rule helo2: spf-helo is fail -> score 1\n"
	"rule rdom: recipient-domain in bad-helos -> reject\n"
	"rule mon: helo is \"monitored.example\" -> reject monitor\n";

/* load - a configuration from text; the fuzzer cannot run without it */
static struct tg_config *
load(const char *name, const char *extra)
{
	struct tg_strbuf text = { 0 }, err = { 0 };
	struct tg_config *cfg;
	char *path;

	tg_strbuf_printf(&text, "PolicyFile policy.conf\nLocalDomains example.org, .example.org\n"
	    "TrustedNetworks 192.0.2.0/24\nSubmissionDaemons submission\n"
	    "SenderLoginMap logins\nMaxMessageSize 300K\nAuthservID mx.example.org\n"
	    "Nameservers 127.0.0.1@9\nDNSTimeout 1s\nCheckTimeout 2s\nReceivedSPF yes\n"
	    "DKIMMaxSignatures 5\nTagSubjectPrefix \"[SPAM] \"\n"
	    "ErrorActions spf:temperror=tempfail, dkim:permerror=tag\n%s", extra);
	path = fz_write(name, text.s, text.len);
	cfg = tg_config_load(path, &err);
	if (cfg == NULL) {
		fprintf(stderr, "fuzz_message: %s", tg_strbuf_str(&err));
		abort();
	}
	tg_strbuf_free(&text);
	tg_strbuf_free(&err);
	free(path);
	return cfg;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char logins[] = "alice@example.org alice\n@sales.example.org bob\n";

	free(fz_write("policy.conf", policy, sizeof(policy) - 1));
	free(fz_write("logins", logins, sizeof(logins) - 1));
	cfg_enforce = load("enforce.conf", "");
	cfg_monitor = load("monitor.conf", "Mode monitor\nCheckTrustedClients yes\n"
	    "OnInternalError accept\nSPFCheckHelo no\n");
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (fz_dns_add(fixed[i].name, fixed[i].type, fixed[i].text, false) != 0)
			abort();
	fz_dns_install();
	logfp = open_memstream(&logbuf, &loglen);
	tg_log_open(true, false, 0, TG_LOGFMT_TEXT);
	return 0;
}

/* ------------------------------------------------------------ checks */

/* printable - nothing but printable ASCII in s[0..n) */
static void
printable(const char *what, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
			dprintf(2, "fuzz_message: byte 0x%02x at %zu in %s: %.*s\n",
			    (unsigned char)s[i], i, what, (int)n, s);
			abort();
		}
}

/* header_ok - a value we add: printable, folded only as LF + WSP */
static void
header_ok(const char *what, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (*p == '\n' && (p[1] == '\t' || p[1] == ' '))
			continue;
		if (*p == '\t' && p > v && p[-1] == '\n')
			continue;
		printable(what, p, 1);
	}
}

/* logs_ok - every line logged during the run is one printable line */
static void
logs_ok(void)
{
	const char *p, *nl;

	fflush(logfp);
	if (getenv("FUZZ_SHOW_LOG") != NULL)	/* to see what a seed does */
		dprintf(2, "%.*s", (int)loglen, logbuf);
	for (p = logbuf; p < logbuf + loglen; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(logbuf + loglen - p));
		if (nl == NULL)
			abort();		/* a line without its end */
		if (strncmp(p, "tollgate[", 9) != 0)
			abort();		/* a line broken in two */
		printable("a log line", p, (size_t)(nl - p));
	}
	rewind(logfp);
	fflush(logfp);
	loglen = 0;
}

/* verdict_ok - what milter.c's reply() and apply() would send */
static void
verdict_ok(struct tg_msg *msg, bool eom)
{
	const struct tg_verdict *v = &msg->verdict;
	const char *id = msg->conn->cfg->authserv_id;
	struct tg_strbuf sb = { 0 };
	int idx[64];

	if (v->action > TG_REJECT)
		abort();
	if (v->action == TG_REJECT || v->action == TG_TEMPFAIL) {
		const char *err;

		if (tg_reply_validate(tg_verdict_code(v), tg_verdict_xcode(v),
		    v->action == TG_REJECT ? '5' : '4', &err) != 0)
			abort();
		tg_verdict_reply_text(v, tg_msg_ref(msg), &sb);
		printable("the SMTP reply", sb.s, sb.len);
		tg_strbuf_free(&sb);
		return;
	}
	if (!eom)
		return;
	(void)tg_authres_forged(msg, id, idx, sizeof(idx) / sizeof(idx[0]));
	tg_authres_value(msg, id, &sb);
	header_ok("Authentication-Results", tg_strbuf_str(&sb));
	tg_strbuf_truncate(&sb, 0);
	if (tg_authres_received_spf(msg, id, &sb))
		header_ok("Received-SPF", tg_strbuf_str(&sb));
	tg_strbuf_truncate(&sb, 0);
	tg_verdict_header(v, &sb);
	header_ok("X-Tollgate-Verdict", tg_strbuf_str(&sb));
	tg_strbuf_truncate(&sb, 0);
	tg_verdict_reasons(v, &sb);
	{
		struct tg_strbuf why = { 0 };	/* the quarantine reason */

		tg_text_header(&why, tg_strbuf_str(&sb), 200);
		header_ok("the quarantine reason", tg_strbuf_str(&why));
		tg_strbuf_free(&why);
	}
	tg_strbuf_free(&sb);
}

/* ------------------------------------------------------------ the run */

struct run {
	struct tg_conn *conn;
	struct tg_msg *msg;
	size_t chunk;
};

/* mail - MAIL FROM as mlfi_envfrom */
static void
mail(struct run *r, char *args)
{
	char *params[] = { strchr(args, ' '), NULL };	/* an ESMTP parameter */
	const char *err;
	struct tg_msg *msg;

	if (params[0] != NULL)
		*params[0]++ = '\0';
	msg = r->msg = tg_msg_new(r->conn);
	if (tg_msg_set_sender(msg, args, params, &err) < 0)
		tg_log_conn(TG_LOG_INFO, r->conn, msg, "unparsable sender: %s", err);
	if (tg_session_phase(msg, TG_PH_MAIL, NULL)) {
		verdict_ok(msg, false);
		tg_log_verdict(msg, NULL);
		if (msg->verdict.action >= TG_TEMPFAIL) {
			tg_msg_free(r->conn);
			r->msg = NULL;
		}
	}
}

/* rcpt - RCPT TO as mlfi_envrcpt */
static void
rcpt(struct run *r, const char *to)
{
	struct tg_phase_arg arg = { .rcpt = to };

	if (r->msg == NULL)
		return;
	if (tg_session_phase(r->msg, TG_PH_RCPT, &arg)) {
		verdict_ok(r->msg, false);
		tg_log_verdict(r->msg, to);
		if (r->msg->verdict.action >= TG_TEMPFAIL) {
			r->msg->nrcpts_rejected++;
			return;
		}
	}
	tg_msg_add_rcpt(r->msg, to);
}

/* header_end - the end of the header field starting at p (continuation
   lines included), and where the next one starts */
static const char *
header_end(const char *p, const char *end, const char **next_r)
{
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL) {
			*next_r = end;
			return end;
		}
		if (nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t')) {
			p = nl + 1;
			continue;
		}
		*next_r = nl + 1;
		return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	}
}

/* data - headers, end of headers, body, end of message */
static void
data(struct run *r, const char *p, const char *end)
{
	struct tg_msg *msg = r->msg;
	const char *next;

	if (msg == NULL)
		return;
	while (p < end && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
		const char *colon = memchr(p, ':', (size_t)(end - p)), *e = header_end(p, end, &next);
		struct tg_phase_arg arg = { .leadspc = true };
		char *name, *value;

		if (colon == NULL || colon > e || colon == p)
			break;		/* not a header field: the body starts */
		name = tg_arena_strndup(msg->arena, p, (size_t)(colon - p));
		value = tg_arena_strndup(msg->arena, colon + 1, (size_t)(e - colon - 1));
		arg.hname = name;
		arg.hvalue = value;
		tg_session_phase(msg, TG_PH_HEADER, &arg);
		p = next;
	}
	if (p < end && *p == '\r')
		p++;
	if (p < end && *p == '\n')
		p++;
	tg_session_phase(msg, TG_PH_EOH, NULL);
	while (p < end && !msg->oversize) {
		struct tg_phase_arg arg = { 0 };

		arg.body = (const unsigned char *)p;
		arg.bodylen = (size_t)(end - p) < r->chunk ? (size_t)(end - p) : r->chunk;
		tg_session_phase(msg, TG_PH_BODY, &arg);
		p += arg.bodylen;
	}
	tg_session_phase(msg, TG_PH_EOM, NULL);
	verdict_ok(msg, true);
	tg_log_verdict(msg, NULL);
	tg_msg_free(r->conn);
	r->msg = NULL;
}

static int
dns_type(const char *t)
{
	static const struct { const char *n; int type; } types[] = {
		{ "TXT", 16 }, { "A", 1 }, { "AAAA", 28 }, { "MX", 15 }, { "PTR", 12 },
		{ "TIMEOUT", FZ_TIMEOUT }, { "SERVFAIL", FZ_SERVFAIL },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i].n) == 0)
			return types[i].type;
	return 0;
}

/* dns - "NAME TYPE [TEXT]" into the table for this run */
static void
dns(char *args)
{
	char *type = strchr(args, ' '), *text;
	int t;

	if (type == NULL)
		return;
	*type++ = '\0';
	text = strchr(type, ' ');
	if (text != NULL)
		*text++ = '\0';
	if ((t = dns_type(type)) != 0 && strlen(args) < 300 && (text == NULL || strlen(text) < 4000))
		(void)fz_dns_add(args, t, text ? text : "", true);
}

/* command - one envelope line; false at DATA */
static bool
command(struct run *r, char *line, bool *json)
{
	char *arg = strchr(line, ' ');
	struct tg_conn *c = r->conn;

	if (arg != NULL)
		*arg++ = '\0';
	else
		arg = line + strlen(line);
	if (strcmp(line, "DATA") == 0)
		return false;
	if (strcmp(line, "ip") == 0) {
		struct tg_ip ip;

		tg_conn_set_ip(c, tg_ip_parse(arg, &ip) == 0 ? &ip : NULL);
	} else if (strcmp(line, "host") == 0) {
		free(c->hostname);
		c->hostname = strdup(arg);
	} else if (strcmp(line, "helo") == 0) {
		free(c->helo);
		c->helo = strdup(arg);
	} else if (strcmp(line, "auth") == 0) {
		free(c->auth_user);
		c->auth_user = arg[0] ? strdup(arg) : NULL;
	} else if (strcmp(line, "daemon") == 0) {
		free(c->daemon_name);
		c->daemon_name = strdup(arg);
	} else if (strcmp(line, "tls") == 0) {
		free(c->tls_version);
		c->tls_version = strdup(arg);
	} else if (strcmp(line, "json") == 0) {
		*json = true;
		tg_log_set_format(TG_LOGFMT_JSON);
	} else if (strcmp(line, "from") == 0) {
		mail(r, arg);
	} else if (strcmp(line, "qid") == 0 && r->msg != NULL && r->msg->qid == NULL) {
		r->msg->qid = tg_arena_strdup(r->msg->arena, arg);
	} else if (strcmp(line, "rcpt") == 0) {
		rcpt(r, arg);
	} else if (strcmp(line, "dns") == 0) {
		dns(arg);
	} else if (strcmp(line, "chunk") == 0) {
		r->chunk = strtoul(arg, NULL, 10);
		if (r->chunk == 0 || r->chunk > 65535)
			r->chunk = 65535;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data_in, size_t len)
{
	const char *p = (const char *)data_in, *end = p + len;
	struct tg_config *cfg;
	struct run r = { .chunk = 65535 };
	FILE *saved = stderr;
	bool json = false;

	cfg = len > 8 && memmem(p, len < 200 ? len : 200, "monitor\n", 8) != NULL
	    ? cfg_monitor : cfg_enforce;
	cfg->refs++;			/* the connection's reference */
	stderr = logfp;			/* tollgate's log lines, to be checked */
	r.conn = tg_conn_new(cfg, 1);
	{
		struct tg_ip ip;

		(void)tg_ip_parse("198.51.100.7", &ip);
		tg_conn_set_ip(r.conn, &ip);
	}
	r.conn->hostname = strdup("client.remote.example");
	r.conn->helo = strdup("client.remote.example");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = strndup(p, n);
		bool more = command(&r, line, &json);

		free(line);
		p += n + (nl != NULL);
		if (!more) {
			data(&r, p, end);
			break;
		}
	}
	tg_conn_free(&r.conn);
	stderr = saved;
	logs_ok();
	if (json)
		tg_log_set_format(TG_LOGFMT_TEXT);
	fz_dns_reset();
	return 0;
}
