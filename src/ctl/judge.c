/*
 * judge - a message through tollgate's decision outside the daemon
 * (see judge.h). A record is rebuilt from what was stored; a file is
 * fed to tg_session_phase() the way milter.c feeds what Postfix sends:
 * MAIL, each RCPT, each header (value with its leading space), end of
 * headers, the body in CRLF lines, end of message.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "config.h"
#include "ctl/fmt.h"
#include "ctl/judge.h"
#include "session.h"
#include "store.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define MAX_FILE (64u << 20)

static const char *
phase_name(unsigned int phase)
{
	return phase == TG_PH_MAIL ? "mail" : phase == TG_PH_RCPT ? "rcpt" : "eom";
}

/* new_conn - a connection under the published configuration */
static struct tg_conn *
new_conn(const char *ip, bool *ok_r)
{
	struct tg_conn *conn = tg_conn_new(tg_config_acquire(), 1);
	struct tg_ip addr;

	*ok_r = true;
	if (ip == NULL || strcmp(ip, "unknown") == 0)
		tg_conn_set_ip(conn, NULL);
	else if (tg_ip_parse(ip, &addr) == 0)
		tg_conn_set_ip(conn, &addr);
	else
		*ok_r = false;
	return conn;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* ---------------------------------------------------------------- records */

void
tg_judge_record(const struct tg_store_rec *rec, struct tg_judgement *j)
{
	struct tg_conn *conn;
	struct tg_msg *msg;
	size_t first;
	const char *err;
	bool ok;

	memset(j, 0, sizeof(*j));
	conn = new_conn(rec->addr_known ? rec->client_ip : NULL, &ok);
	conn->trusted = rec->trusted;	/* as it was, whatever TrustedNetworks says now */
	conn->hostname = dup_or_null(rec->client_name);
	conn->helo = dup_or_null(rec->helo);
	conn->auth_user = dup_or_null(rec->auth_user);
	conn->tls_version = dup_or_null(rec->tls_version);
	conn->daemon_name = dup_or_null(rec->daemon_name);
	msg = tg_msg_new(conn);
	msg->qid = rec->qid ? tg_arena_strdup(msg->arena, rec->qid) : NULL;
	tg_msg_set_sender(msg, rec->sender ? rec->sender : "<>", NULL, &err);
	msg->rcpts = tg_arena_alloc(msg->arena, (rec->nrcpts + 1) * sizeof(*msg->rcpts));
	for (size_t i = 0; i < rec->nrcpts; i++)
		msg->rcpts[i] = tg_arena_strdup(msg->arena, rec->rcpts[i]);
	msg->nrcpts = msg->caprcpts = rec->nrcpts;
	msg->nrcpts_rejected = rec->nrcpts_rejected;
	msg->headers = tg_arena_alloc(msg->arena, (rec->nheaders + 1) * sizeof(*msg->headers));
	for (size_t i = 0; i < rec->nheaders; i++) {
		msg->headers[i].name = tg_arena_strdup(msg->arena, rec->headers[i].name);
		msg->headers[i].value = tg_arena_strdup(msg->arena, rec->headers[i].value);
	}
	msg->nheaders = msg->capheaders = rec->nheaders;
	msg->size = rec->size;
	msg->size_announced = rec->size_announced;
	first = rec->nresults;
	for (size_t i = 0; i < rec->nresults; i++) {
		const struct tg_store_result *sr = &rec->results[i];
		int o = tg_outcome_parse(sr->outcome);
		struct tg_result *r;

		/* the gates look at what end of message itself recorded */
		if (sr->phase == TG_PH_EOM && first == rec->nresults)
			first = i;
		r = tg_result_add(msg, tg_arena_strdup(msg->arena, sr->method),
		    o < 0 ? TG_PERMERROR : (enum tg_outcome)o, (enum tg_phase)sr->phase,
		    sr->reason ? "%s" : NULL, sr->reason);
		r->policy = sr->policy ? tg_arena_strdup(msg->arena, sr->policy) : NULL;
		r->domain = sr->domain ? tg_arena_strdup(msg->arena, sr->domain) : NULL;
		r->props = sr->props ? tg_arena_strdup(msg->arena, sr->props) : NULL;
		r->internal = sr->internal;
	}
	tg_session_decide(msg, first);
	j->conn = conn;
	j->msg = msg;
	j->phase = TG_PH_EOM;
}

/* ---------------------------------------------------------------- files */

/* read_file - the whole file, NUL-terminated; NULL after printing why */
static char *
read_file(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	struct tg_strbuf sb = { 0 };
	char buf[65536];
	size_t n;

	if (fp == NULL) {
		fprintf(stderr, "tollgatectl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0 && sb.len < MAX_FILE)
		tg_strbuf_appendn(&sb, buf, n);
	if (ferror(fp) || sb.len >= MAX_FILE) {
		fprintf(stderr, "tollgatectl: %s: %s\n", path, ferror(fp) ? strerror(errno)
		    : "larger than 64M");
		fclose(fp);
		tg_strbuf_free(&sb);
		return NULL;
	}
	fclose(fp);
	*len_r = sb.len;
	return sb.s != NULL ? sb.s : xstrdup("");
}

/* header_addrs - the addresses of an address-list header value ("A
   <a@x>, b@y"), each as "<addr>"; appended to *v */
static void
header_addrs(struct tg_arena *a, const char *value, const char ***v, size_t *n)
{
	const char *p = value;

	while (*p != '\0') {
		const char *start = p, *lt = NULL, *gt = NULL;
		bool quoted = false;

		/* one list member: up to a comma outside quotes and <> */
		for (; *p != '\0' && (quoted || (lt != NULL && gt == NULL) || *p != ','); p++) {
			if (*p == '"')
				quoted = !quoted;
			else if (*p == '<' && !quoted && lt == NULL)
				lt = p;
			else if (*p == '>' && !quoted && lt != NULL && gt == NULL)
				gt = p;
		}
		if (lt != NULL && gt != NULL) {
			*v = xrealloc(*v, (*n + 1) * sizeof(**v));
			(*v)[(*n)++] = tg_arena_strndup(a, lt, (size_t)(gt - lt + 1));
		} else {
			const char *s = start + strspn(start, " \t\r\n");
			size_t len = strcspn(s, " \t\r\n,;");

			if (memchr(s, '@', len) != NULL) {
				*v = xrealloc(*v, (*n + 1) * sizeof(**v));
				(*v)[(*n)++] = tg_arena_printf(a, "<%.*s>", (int)len, s);
			}
		}
		if (*p == ',')
			p++;
	}
}

/* split_headers - the header fields of text (until the empty line) as
   name and value (with its leading space; folded lines joined by "\n");
   *body_r is what follows the empty line */
static size_t
split_headers(struct tg_arena *a, char *text, struct tg_header **h_r, char **body_r)
{
	struct tg_header *h = NULL;
	size_t n = 0;
	char *p = text;

	if (strncmp(p, "From ", 5) == 0)	/* an mbox separator line */
		p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n');
	while (*p != '\0' && *p != '\n' && !(p[0] == '\r' && p[1] == '\n')) {
		char *eol = p + strcspn(p, "\n"), *colon = memchr(p, ':', (size_t)(eol - p));
		char *line, *name_end;
		struct tg_strbuf v = { 0 };

		if (colon == NULL || colon == p) {	/* no header field: skip it */
			p = eol + (*eol == '\n');
			continue;
		}
		for (name_end = colon; name_end > p && (name_end[-1] == ' ' || name_end[-1] == '\t');)
			name_end--;
		h = xrealloc(h, (n + 1) * sizeof(*h));
		h[n].name = tg_arena_strndup(a, p, (size_t)(name_end - p));
		for (line = colon + 1;;) {
			char *end = line + strcspn(line, "\n");
			size_t len = (size_t)(end - line);

			if (len > 0 && line[len - 1] == '\r')
				len--;
			tg_strbuf_appendn(&v, line, len);
			p = end + (*end == '\n');
			if (*p != ' ' && *p != '\t')
				break;
			tg_strbuf_addch(&v, '\n');
			line = p;
		}
		h[n++].value = tg_arena_strdup(a, tg_strbuf_str(&v));
		tg_strbuf_free(&v);
	}
	if (*p == '\r')
		p++;
	if (*p == '\n')
		p++;
	*body_r = p;
	*h_r = h;
	return n;
}

/* find_header - the value of the first header called name, or NULL */
static const char *
find_header(const struct tg_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

/* any_of - one of the headers names[] is present */
static bool
any_of(const struct tg_header *h, size_t n, const char *const *names)
{
	for (size_t i = 0; names[i] != NULL; i++)
		if (find_header(h, n, names[i]) != NULL)
			return true;
	return false;
}

/* default_envelope - sender and recipients the message names itself */
static void
default_envelope(struct tg_arena *a, struct tg_judge_env *env, const struct tg_header *h,
    size_t nh, const char ***rcpts_r)
{
	static const char *const rcpt_headers[] = { "Delivered-To", "X-Original-To", NULL };
	const char **v = NULL, *val;
	size_t n = 0;

	if (env->sender == NULL) {
		if ((val = find_header(h, nh, "Return-Path")) == NULL)
			val = find_header(h, nh, "From");
		if (val != NULL)
			header_addrs(a, val, &v, &n);
		env->sender = n > 0 ? v[0] : "<>";
		n = 0;
	}
	if (env->nrcpts == 0) {
		for (size_t i = 0; rcpt_headers[i] != NULL && n == 0; i++)
			if ((val = find_header(h, nh, rcpt_headers[i])) != NULL)
				header_addrs(a, val, &v, &n);
		for (size_t i = 0; i < nh && !any_of(h, nh, rcpt_headers); i++)
			if (strcasecmp(h[i].name, "To") == 0 || strcasecmp(h[i].name, "Cc") == 0)
				header_addrs(a, h[i].value, &v, &n);
		env->rcpts = v;
		env->nrcpts = n;
		*rcpts_r = v;
	} else {
		free(v);
	}
}

/* bracketed - "<addr>" for a bare address */
static const char *
bracketed(struct tg_arena *a, const char *addr)
{
	return addr[0] == '<' ? addr : tg_arena_printf(a, "<%s>", addr);
}

/* refused - a recipient the RCPT gates refused */
static void
refused(struct tg_judgement *j, const char *rcpt)
{
	const struct tg_verdict *v = &j->msg->verdict;
	struct tg_strbuf sb = { 0 };

	tg_strbuf_printf(&sb, "%s: %s %s %s", rcpt, tg_verdict_code(v), tg_verdict_xcode(v),
	    v->text ? v->text : "");
	for (size_t i = 0; i < v->nreasons; i++)
		tg_strbuf_printf(&sb, "%s%s", i ? "; " : " (", v->reasons[i]);
	if (v->nreasons > 0)
		tg_strbuf_addch(&sb, ')');
	j->refused = xrealloc(j->refused, (j->nrefused + 1) * sizeof(*j->refused));
	j->refused[j->nrefused++] = tg_arena_strdup(j->msg->arena, tg_strbuf_str(&sb));
	tg_strbuf_free(&sb);
}

/* feed_body - the body in chunks with CRLF line ends */
static void
feed_body(struct tg_msg *msg, const char *body)
{
	struct tg_strbuf chunk = { 0 };

	for (const char *p = body; *p != '\0'; p++) {
		if (*p == '\n' && (p == body || p[-1] != '\r'))
			tg_strbuf_addch(&chunk, '\r');
		tg_strbuf_addch(&chunk, *p);
		if (chunk.len >= 65536 || p[1] == '\0') {
			struct tg_phase_arg arg = { .body = (const unsigned char *)chunk.s,
				.bodylen = chunk.len };

			tg_session_phase(msg, TG_PH_BODY, &arg);
			tg_strbuf_truncate(&chunk, 0);
		}
	}
	tg_strbuf_free(&chunk);
}

/* feed - the phases after MAIL; the phase that decided */
static unsigned int
feed(struct tg_judgement *j, const struct tg_judge_env *env, const struct tg_header *h,
    size_t nh, const char *body)
{
	struct tg_msg *msg = j->msg;

	if (tg_session_phase(msg, TG_PH_MAIL, NULL) && msg->verdict.action >= TG_TEMPFAIL)
		return TG_PH_MAIL;
	for (size_t i = 0; i < env->nrcpts; i++) {
		struct tg_phase_arg arg = { .rcpt = bracketed(msg->arena, env->rcpts[i]) };

		if (tg_session_phase(msg, TG_PH_RCPT, &arg) && msg->verdict.action >= TG_TEMPFAIL) {
			refused(j, arg.rcpt);
			msg->nrcpts_rejected++;
			continue;
		}
		tg_msg_add_rcpt(msg, arg.rcpt);
	}
	if (msg->nrcpts == 0)
		return TG_PH_RCPT;	/* every recipient refused: no DATA */
	for (size_t i = 0; i < nh; i++) {
		struct tg_phase_arg arg = { .hname = h[i].name, .hvalue = h[i].value,
			.leadspc = true };

		tg_session_phase(msg, TG_PH_HEADER, &arg);
	}
	tg_session_phase(msg, TG_PH_EOH, NULL);
	feed_body(msg, body);
	tg_session_phase(msg, TG_PH_EOM, NULL);
	return TG_PH_EOM;
}

int
tg_judge_file(const char *path, struct tg_judge_env *env, struct tg_judgement *j)
{
	struct tg_header *h = NULL;
	const char **rcpts = NULL, *err;
	char *text, *body;
	size_t len, nh;
	bool ok;

	memset(j, 0, sizeof(*j));
	if ((text = read_file(path, &len)) == NULL)
		return -1;
	j->conn = new_conn(env->client_ip, &ok);
	if (!ok) {
		fprintf(stderr, "tollgatectl: --client-ip %s: not an IPv4 or IPv6 address\n",
		    env->client_ip);
		free(text);
		tg_judge_free(j);
		return -1;
	}
	j->conn->hostname = dup_or_null(env->client_name);
	j->conn->helo = dup_or_null(env->helo);
	j->conn->auth_user = dup_or_null(env->auth);
	j->conn->tls_version = dup_or_null(env->tls);
	j->conn->daemon_name = dup_or_null(env->daemon);
	j->msg = tg_msg_new(j->conn);
	nh = split_headers(j->msg->arena, text, &h, &body);
	default_envelope(j->msg->arena, env, h, nh, &rcpts);
	tg_msg_set_sender(j->msg, bracketed(j->msg->arena, env->sender), NULL, &err);
	j->phase = feed(j, env, h, nh, body);
	free(rcpts);
	free(h);
	free(text);
	return 0;
}

void
tg_judge_free(struct tg_judgement *j)
{
	free(j->refused);
	tg_conn_free(&j->conn);
	memset(j, 0, sizeof(*j));
}

const char *
tg_judge_label(const struct tg_msg *msg)
{
	const struct tg_verdict *v = &msg->verdict;

	if (!v->monitored)
		return tg_action_name(v->action);
	return tg_arena_printf(msg->arena, "%s (monitor: %s)", tg_action_name(v->action),
	    tg_action_name(v->would));
}

/* ---------------------------------------------------------------- report */

/* matched - a reason as a line about the rule or gate behind it */
static void
matched(struct tg_strbuf *out, const char *reason)
{
	const char *open = strchr(reason, '(');

	if (strncmp(reason, "rule ", 5) == 0)
		tg_strbuf_printf(out, "%-24s decided\n", reason + 5);
	else if (strncmp(reason, "monitor: rule ", 14) == 0)
		tg_strbuf_printf(out, "%s (monitor only)\n", reason + 14);
	else if (open != NULL && (open[1] == '+' || open[1] == '-') && strchr(reason, ' ') == NULL)
		tg_strbuf_printf(out, "%-24.*s score %.*s\n", (int)(open - reason), reason,
		    (int)strcspn(open + 1, ")"), open + 1);
	else
		tg_strbuf_printf(out, "%s\n", reason);
}

/* result_line - "spf=fail  domain (reason) [policy]" */
static void
result_line(struct tg_strbuf *out, const struct tg_result *r)
{
	struct tg_strbuf sb = { 0 };

	tg_strbuf_printf(&sb, "%s=%s", r->method, tg_outcome_name(r->outcome));
	tg_strbuf_printf(out, "%-18s", tg_strbuf_str(&sb));
	if (r->domain != NULL)
		tg_strbuf_printf(out, " %s", r->domain);
	if (r->policy != NULL)
		tg_strbuf_printf(out, " p=%s", r->policy);
	if (r->reason != NULL && r->reason[0] != '\0')
		tg_strbuf_printf(out, " (%s)", r->reason);
	if (r->internal)
		tg_strbuf_append(out, " [internal error]");
	tg_strbuf_addch(out, '\n');
	tg_strbuf_free(&sb);
}

/* indent - "label:" in a 10-column margin, or the margin alone */
static void
indent(struct tg_strbuf *out, const char *label)
{
	tg_strbuf_printf(out, "%-10s", label ? label : "");
}

static void
report_text(const struct tg_judgement *j, struct tg_strbuf *out)
{
	const struct tg_msg *msg = j->msg;
	const struct tg_verdict *v = &msg->verdict;
	struct tg_strbuf sb = { 0 };

	tg_strbuf_printf(out, "verdict:  %s rule=%s score=%.1f (at %s)\n", tg_judge_label(msg),
	    v->rule ? v->rule : "-", v->score, phase_name(j->phase));
	if (v->action >= TG_TEMPFAIL || v->monitored)
		tg_strbuf_printf(out, "reply:    %s %s %s\n", tg_verdict_code(v),
		    tg_verdict_xcode(v), v->text ? v->text : "");
	else if (v->text != NULL)
		tg_strbuf_printf(out, "text:     %s\n", v->text);
	tg_strbuf_append(out, "envelope: ");
	tg_strbuf_printf(out, "client %s", msg->conn->addr);
	if (msg->conn->helo != NULL)
		tg_strbuf_printf(out, " helo %s", msg->conn->helo);
	if (msg->conn->auth_user != NULL)
		tg_strbuf_printf(out, " auth %s", msg->conn->auth_user);
	tg_strbuf_printf(out, " from %s to ", msg->sender_raw ? msg->sender_raw : "<>");
	for (size_t i = 0; i < msg->nrcpts; i++)
		tg_strbuf_printf(out, "%s%s", i ? "," : "", msg->rcpts[i]);
	tg_strbuf_printf(out, "%s\n", msg->nrcpts ? "" : "(none accepted)");
	for (size_t i = 0; i < j->nrefused; i++) {
		indent(out, i ? NULL : "refused:");
		tg_strbuf_printf(out, "%s\n", j->refused[i]);
	}
	for (size_t i = 0; i < v->nreasons; i++) {
		indent(out, i ? NULL : "matched:");
		matched(out, v->reasons[i]);
	}
	if (v->nreasons == 0)
		tg_strbuf_append(out, "matched:  no rule\n");
	for (size_t i = 0; i < msg->nresults; i++) {
		indent(out, i ? NULL : "results:");
		result_line(out, &msg->results[i]);
	}
	if (msg->nresults == 0)
		tg_strbuf_append(out, "results:  no check ran\n");
	if (j->phase == TG_PH_EOM && v->action < TG_TEMPFAIL) {
		tg_authres_value(msg, msg->conn->cfg->authserv_id, &sb);
		tg_strbuf_printf(out, "Authentication-Results: %s\n", tg_strbuf_str(&sb));
	}
	tg_strbuf_free(&sb);
}

/* json_verdict - the verdict object (tg_judge_json_verdict) */
static void
json_verdict(struct tg_json *js, const char *key, const struct tg_msg *msg)
{
	const struct tg_verdict *v = &msg->verdict;
	bool code = v->action >= TG_TEMPFAIL || v->monitored;

	tg_json_obj(js, key);
	tg_json_str(js, "action", tg_action_name(v->action));
	tg_json_bool(js, "monitored", v->monitored);
	tg_json_str(js, "would", v->monitored ? tg_action_name(v->would) : NULL);
	tg_json_str(js, "code", code ? tg_verdict_code(v) : NULL);
	tg_json_str(js, "xcode", code ? tg_verdict_xcode(v) : NULL);
	tg_json_str(js, "text", v->text);
	tg_json_str(js, "rule", v->rule);
	tg_json_num(js, "score", v->score);
	tg_json_strs(js, "reasons", v->reasons, v->nreasons);
	tg_json_end(js);
}

static void
report_json(const struct tg_judgement *j, struct tg_strbuf *out)
{
	const struct tg_msg *msg = j->msg;
	struct tg_json js = { .out = out };
	struct tg_strbuf sb = { 0 };

	tg_json_obj(&js, NULL);
	tg_json_str(&js, "phase", phase_name(j->phase));
	json_verdict(&js, "verdict", msg);
	tg_json_obj(&js, "envelope");
	tg_json_str(&js, "client_ip", msg->conn->addr);
	tg_json_str(&js, "helo", msg->conn->helo);
	tg_json_str(&js, "auth", msg->conn->auth_user);
	tg_json_str(&js, "sender", msg->sender_raw);
	tg_json_strs(&js, "recipients", msg->rcpts, msg->nrcpts);
	tg_json_end(&js);
	tg_json_strs(&js, "refused", j->refused, j->nrefused);
	tg_json_arr(&js, "results");
	for (size_t i = 0; i < msg->nresults; i++) {
		const struct tg_result *r = &msg->results[i];

		tg_json_obj(&js, NULL);
		tg_json_str(&js, "method", r->method);
		tg_json_str(&js, "outcome", tg_outcome_name(r->outcome));
		tg_json_str(&js, "domain", r->domain);
		tg_json_str(&js, "policy", r->policy);
		tg_json_str(&js, "reason", r->reason);
		tg_json_str(&js, "props", r->props);
		tg_json_end(&js);
	}
	tg_json_end(&js);
	if (j->phase == TG_PH_EOM && msg->verdict.action < TG_TEMPFAIL)
		tg_authres_value(msg, msg->conn->cfg->authserv_id, &sb);
	tg_json_str(&js, "authentication_results", sb.len ? tg_strbuf_str(&sb) : NULL);
	tg_json_end(&js);
	tg_strbuf_addch(out, '\n');
	tg_strbuf_free(&sb);
}

void
tg_judge_report(const struct tg_judgement *j, bool json, struct tg_strbuf *out)
{
	if (json)
		report_json(j, out);
	else
		report_text(j, out);
}

void
tg_judge_json_verdict(struct tg_json *js, const char *key, const struct tg_msg *msg)
{
	json_verdict(js, key, msg);
}
