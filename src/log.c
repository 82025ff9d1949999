/*
 * log - where log lines go, and the per-message summary line. The same
 * field writer produces "key=value" text and JSON, so both formats
 * always carry the same facts. Network text is escaped here.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "session.h"
#include "util/strbuf.h"
#include "util/text.h"

static bool log_stderr = true;
static enum tg_logformat log_format = TG_LOGFMT_TEXT;
static pthread_mutex_t stderr_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warning", "error", "fatal" };
static const int level_prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT };

/* a line under construction, text or JSON */
struct line {
	struct tg_strbuf sb;
	bool json;
};

void
tg_log_open(bool to_stderr, bool use_syslog, int facility, enum tg_logformat fmt)
{
	log_stderr = to_stderr || !use_syslog;
	log_format = fmt;
	if (!log_stderr)
		openlog("tollgate", LOG_PID | LOG_NDELAY, facility);
}

void
tg_log_set_format(enum tg_logformat fmt)
{
	log_format = fmt;
}

/* emit - write one finished line */
static void
emit(enum tg_loglevel lvl, const char *text)
{
	if (!log_stderr) {
		syslog(level_prio[lvl], "%s", text);
		return;
	}
	pthread_mutex_lock(&stderr_lock);
	fprintf(stderr, "tollgate[%ld]: %s\n", (long)getpid(), text);
	fflush(stderr);
	pthread_mutex_unlock(&stderr_lock);
}

/* line_start - a line of level lvl in the configured format */
static void
line_start(struct line *l, enum tg_loglevel lvl)
{
	memset(l, 0, sizeof(*l));
	l->json = log_format == TG_LOGFMT_JSON;
	if (l->json)
		tg_strbuf_printf(&l->sb, "{\"level\":\"%s\"", level_names[lvl]);
	else if (lvl != TG_LOG_INFO)
		tg_strbuf_printf(&l->sb, "%s: ", level_names[lvl]);
}

/* field - key and an escaped string value */
static void
field(struct line *l, const char *key, const char *value)
{
	if (value == NULL)
		return;
	if (l->json) {
		tg_strbuf_printf(&l->sb, ",\"%s\":\"", key);
		tg_text_json(&l->sb, value);
		tg_strbuf_addch(&l->sb, '"');
		return;
	}
	if (l->sb.len > 0 && l->sb.s[l->sb.len - 1] != ' ')
		tg_strbuf_addch(&l->sb, ' ');
	tg_strbuf_printf(&l->sb, "%s=", key);
	if (value[0] == '\0' || strpbrk(value, " \"=") != NULL) {
		tg_strbuf_addch(&l->sb, '"');
		tg_text_log(&l->sb, value, 1000);
		tg_strbuf_addch(&l->sb, '"');
	} else {
		tg_text_log(&l->sb, value, 1000);
	}
}

/* field_raw - key and a value we produced (a number): never quoted */
static void __attribute__((format(printf, 3, 4)))
field_raw(struct line *l, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (l->json)
		tg_strbuf_printf(&l->sb, ",\"%s\":", key);
	else
		tg_strbuf_printf(&l->sb, "%s%s=", l->sb.len ? " " : "", key);
	va_start(ap, fmt);
	tg_strbuf_vprintf(&l->sb, fmt, ap);
	va_end(ap);
}

/* line_end - close and emit */
static void
line_end(struct line *l, enum tg_loglevel lvl)
{
	if (l->json)
		tg_strbuf_addch(&l->sb, '}');
	emit(lvl, tg_strbuf_str(&l->sb));
	tg_strbuf_free(&l->sb);
}

/* the ids a line starts with; c == 0: none, m == 0: no message */
struct ids {
	unsigned long c, m;
	const char *qid;
};

static struct ids
ids_of(const struct tg_conn *conn, const struct tg_msg *msg)
{
	return (struct ids){ .c = conn != NULL ? conn->id : 0,
	    .m = conn != NULL && msg != NULL ? msg->id : 0,
	    .qid = msg != NULL ? msg->qid : NULL };
}

/* ids - connection, message and queue id */
static void
ids(struct line *l, struct ids id)
{
	if (id.c == 0)
		return;
	field_raw(l, "c", "%lu", id.c);
	if (id.m != 0) {
		field_raw(l, "m", "%lu", id.m);
		field(l, "qid", id.qid);
	}
}

/* vlog - a free-text line with optional ids */
static void
vlog(enum tg_loglevel lvl, struct ids id, const char *fmt, va_list ap)
{
	struct line l;
	struct tg_strbuf text = { 0 };

	line_start(&l, lvl);
	ids(&l, id);
	tg_strbuf_vprintf(&text, fmt, ap);
	if (l.json) {
		field(&l, "msg", tg_strbuf_str(&text));
	} else {
		if (id.c != 0)
			tg_strbuf_addch(&l.sb, ' ');
		tg_text_line(&l.sb, tg_strbuf_str(&text), 4000);
	}
	tg_strbuf_free(&text);
	line_end(&l, lvl);
}

void
tg_log(enum tg_loglevel lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, ids_of(NULL, NULL), fmt, ap);
	va_end(ap);
}

void
tg_log_conn(enum tg_loglevel lvl, const struct tg_conn *conn,
    const struct tg_msg *msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, ids_of(conn, msg), fmt, ap);
	va_end(ap);
}

void
tg_log_ids(enum tg_loglevel lvl, unsigned long conn_id, unsigned long msg_id, const char *qid,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, (struct ids){ .c = conn_id, .m = msg_id, .qid = qid }, fmt, ap);
	va_end(ap);
}

void
tg_log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(TG_LOG_FATAL, ids_of(NULL, NULL), fmt, ap);
	va_end(ap);
	exit(1);
}

/* envelope - client and envelope fields */
static void
envelope(struct line *l, const struct tg_msg *msg, const char *rcpt)
{
	const struct tg_conn *conn = msg->conn;
	struct tg_strbuf rcpts = { 0 };

	field(l, "ip", conn->addr);
	field(l, "host", conn->hostname);
	field(l, "helo", conn->helo);
	field(l, "auth", conn->auth_user);
	field(l, "tls", conn->tls_version);
	field(l, "daemon", conn->daemon_name);
	field(l, "from", msg->sender_raw);
	if (rcpt != NULL) {
		field(l, "rcpt", rcpt);
	} else {
		for (size_t i = 0; i < msg->nrcpts; i++) {
			if (i > 0)
				tg_strbuf_addch(&rcpts, ',');
			tg_strbuf_append(&rcpts, msg->rcpts[i]);
		}
		field(l, "rcpt", tg_strbuf_str(&rcpts));
		field_raw(l, "nrcpt", "%zu", msg->nrcpts);
		if (msg->nrcpts_rejected > 0)
			field_raw(l, "rejected", "%zu", msg->nrcpts_rejected);
		field_raw(l, "size", "%llu", (unsigned long long)msg->size);
	}
	tg_strbuf_free(&rcpts);
}

/* results - method=outcome for each method, written where the method
   first appears; several results (DKIM signatures) joined by ','. A
   summary leaves out the results of recipients already rejected. */
static void
results(struct line *l, const struct tg_msg *msg, bool summary)
{
	struct tg_strbuf sb = { 0 };

	for (size_t i = 0; i < msg->nresults; i++) {
		const struct tg_result *r = &msg->results[i];

		if ((summary && r->phase == TG_PH_RCPT) || tg_msg_result(msg, r->method) != r)
			continue;
		tg_strbuf_truncate(&sb, 0);
		for (size_t j = i; j < msg->nresults; j++) {
			const struct tg_result *o = &msg->results[j];

			if (strcmp(o->method, r->method) != 0 || (summary && o->phase == TG_PH_RCPT))
				continue;
			if (sb.len > 0)
				tg_strbuf_addch(&sb, ',');
			tg_strbuf_append(&sb, tg_outcome_name(o->outcome));
		}
		field(l, r->method, tg_strbuf_str(&sb));
	}
	tg_strbuf_free(&sb);
}

void
tg_log_verdict(const struct tg_msg *msg, const char *rcpt)
{
	const struct tg_verdict *v = &msg->verdict;
	struct tg_strbuf reasons = { 0 };
	struct line l;

	line_start(&l, TG_LOG_INFO);
	ids(&l, ids_of(msg->conn, msg));
	envelope(&l, msg, rcpt);
	results(&l, msg, rcpt == NULL);
	field_raw(&l, "score", "%.1f", v->score);
	field(&l, "action", tg_action_name(v->action));
	if (v->monitored)
		field(&l, "monitor", tg_action_name(v->would));
	if (v->action >= TG_TEMPFAIL || v->monitored) {
		field(&l, "code", tg_verdict_code(v));
		field(&l, "xcode", tg_verdict_xcode(v));
	}
	field(&l, "rule", v->rule);
	field(&l, "text", v->text);
	tg_verdict_reasons(v, &reasons);
	field(&l, "reasons", reasons.len ? tg_strbuf_str(&reasons) : NULL);
	field(&l, "ref", tg_msg_ref(msg));
	field_raw(&l, "ms", "%.1f", tg_msg_elapsed_ms(msg));
	tg_strbuf_free(&reasons);
	line_end(&l, TG_LOG_INFO);
}
