/*
 * session - connection and message lifetime, and the per-phase walk of
 * the check table followed by the built-in gates and, at end of
 * message, the policy. It records and decides; milter.c applies.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checks/check.h"
#include "config.h"
#include "dns.h"
#include "policy.h"
#include "session.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

const struct tg_check *const tg_checks[] = {
	&tg_check_relay,
	&tg_check_size,
	&tg_check_spf,
	&tg_check_dkim,
	&tg_check_dmarc,	/* after SPF and DKIM: it reads their results */
	NULL,
};

static const char *const outcome_names[] = {
	[TG_NONE] = "none",
	[TG_PASS] = "pass",
	[TG_FAIL] = "fail",
	[TG_SOFTFAIL] = "softfail",
	[TG_NEUTRAL] = "neutral",
	[TG_POLICY] = "policy",
	[TG_TEMPERROR] = "temperror",
	[TG_PERMERROR] = "permerror",
};

/* the built-in gates: a failed result of these methods is a verdict */
static const struct gate {
	const char *method;
	const char *code, *xcode, *text;
	bool monitorable;		/* Mode monitor may suspend it */
} gates[] = {
	{ "relay", "554", "5.7.1", "Relay access denied", false },
	{ "auth-required", "530", "5.7.0", "Authentication required", true },
	{ "sender-login", "553", "5.7.1",
	  "Sender address not owned by the authenticated user", true },
	{ "size-limit", "552", "5.3.4", "Message size exceeds fixed limit", true },
};

const char *
tg_outcome_name(enum tg_outcome o)
{
	return outcome_names[o];
}

int
tg_outcome_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(outcome_names) / sizeof(outcome_names[0]); i++)
		if (strcmp(s, outcome_names[i]) == 0)
			return (int)i;
	return -1;
}

struct tg_conn *
tg_conn_new(struct tg_config *cfg, unsigned long id)
{
	struct tg_conn *conn = xcalloc(1, sizeof(*conn));

	conn->cfg = cfg;
	conn->id = id;
	snprintf(conn->addr, sizeof(conn->addr), "unknown");
	return conn;
}

void
tg_conn_set_ip(struct tg_conn *conn, const struct tg_ip *ip)
{
	if (ip == NULL) {
		conn->addr_known = false;
		conn->trusted = false;
		snprintf(conn->addr, sizeof(conn->addr), "unknown");
		return;
	}
	conn->ip = *ip;
	conn->addr_known = true;
	tg_ip_format(ip, conn->addr, sizeof(conn->addr));
	conn->trusted = tg_cidrlist_contains(&conn->cfg->trusted_networks, ip);
}

void
tg_conn_free(struct tg_conn **cp)
{
	struct tg_conn *conn = *cp;

	if (conn == NULL)
		return;
	tg_msg_free(conn);
	tg_config_release(&conn->cfg);
	free(conn->hostname);
	free(conn->helo);
	free(conn->daemon_name);
	free(conn->auth_user);
	free(conn->tls_version);
	free(conn);
	*cp = NULL;
}

struct tg_msg *
tg_msg_new(struct tg_conn *conn)
{
	struct tg_arena *a;
	struct tg_msg *msg;

	tg_msg_free(conn);
	a = tg_arena_new();
	msg = tg_arena_alloc(a, sizeof(*msg));
	msg->arena = a;
	msg->conn = conn;
	msg->id = ++conn->nmsgs;
	clock_gettime(CLOCK_MONOTONIC, &msg->start);
	msg->dns_left_ms = conn->cfg != NULL ? conn->cfg->check_timeout_ms : 0;
	conn->msg = msg;
	return msg;
}

void
tg_msg_free(struct tg_conn *conn)
{
	struct tg_msg *msg = conn->msg;
	struct tg_arena *a;

	if (msg == NULL)
		return;
	for (size_t i = 0; tg_checks[i] != NULL; i++)
		if (tg_checks[i]->msg_end != NULL)
			tg_checks[i]->msg_end(conn->cfg->check_global[i], msg);
	a = msg->arena;
	conn->msg = NULL;
	tg_arena_free(&a);	/* msg itself lives in the arena */
}

int
tg_msg_set_sender(struct tg_msg *msg, const char *sender, char *const *params,
    const char **error_r)
{
	msg->sender_raw = tg_arena_strdup(msg->arena, sender ? sender : "");
	msg->sender_ok = tg_addr_parse(msg->arena, msg->sender_raw, &msg->sender, error_r) == 0;
	for (size_t i = 0; params != NULL && params[i] != NULL; i++) {
		if (strncasecmp(params[i], "SIZE=", 5) == 0) {
			char *end;
			unsigned long long n = strtoull(params[i] + 5, &end, 10);

			if (*end == '\0')
				msg->size_announced = n;
		}
	}
	return msg->sender_ok ? 0 : -1;
}

void
tg_msg_add_rcpt(struct tg_msg *msg, const char *rcpt)
{
	if (msg->nrcpts == msg->caprcpts) {
		const char **nv;

		msg->caprcpts = msg->caprcpts ? msg->caprcpts * 2 : 8;
		nv = tg_arena_alloc(msg->arena, msg->caprcpts * sizeof(*nv));
		if (msg->nrcpts > 0)
			memcpy(nv, msg->rcpts, msg->nrcpts * sizeof(*nv));
		msg->rcpts = nv;
	}
	msg->rcpts[msg->nrcpts++] = tg_arena_strdup(msg->arena, rcpt);
}

struct tg_result *
tg_result_add(struct tg_msg *msg, const char *method, enum tg_outcome outcome,
    enum tg_phase phase, const char *fmt, ...)
{
	struct tg_result *r;
	va_list ap;

	if (msg->nresults == msg->capresults) {
		struct tg_result *nv;

		msg->capresults = msg->capresults ? msg->capresults * 2 : 8;
		nv = tg_arena_alloc(msg->arena, msg->capresults * sizeof(*nv));
		if (msg->nresults > 0)
			memcpy(nv, msg->results, msg->nresults * sizeof(*nv));
		msg->results = nv;
	}
	r = &msg->results[msg->nresults++];
	r->method = method;
	r->outcome = outcome;
	r->phase = phase;
	r->reason = NULL;
	r->policy = r->domain = r->props = NULL;
	r->internal = false;
	if (fmt != NULL) {
		struct tg_strbuf sb = { 0 };

		va_start(ap, fmt);
		tg_strbuf_vprintf(&sb, fmt, ap);
		va_end(ap);
		r->reason = tg_arena_strdup(msg->arena, tg_strbuf_str(&sb));
		tg_strbuf_free(&sb);
	}
	return r;
}

bool
tg_msg_inbound(const struct tg_msg *msg)
{
	const struct tg_conn *conn = msg->conn;

	return conn->cfg->check_trusted || (!conn->trusted && conn->auth_user == NULL);
}

void
tg_msg_lookup(struct tg_msg *msg, const char *name, int type, struct tg_dns_answer *ans)
{
	const struct tg_config *cfg = msg->conn->cfg;
	unsigned int wait = cfg->dns_timeout_ms;
	struct timespec start, deadline, end;
	long spent;

	if (msg->dns_left_ms == 0) {
		memset(ans, 0, sizeof(*ans));
		ans->status = TG_DNS_TIMEOUT;
		return;
	}
	if (wait > msg->dns_left_ms)
		wait = msg->dns_left_ms;
	clock_gettime(CLOCK_MONOTONIC, &start);
	tg_deadline(&deadline, wait);
	tg_dns_query(cfg->dns, name, type, &deadline, ans);
	clock_gettime(CLOCK_MONOTONIC, &end);
	spent = (end.tv_sec - start.tv_sec) * 1000L + (end.tv_nsec - start.tv_nsec) / 1000000L;
	msg->dns_left_ms = spent >= (long)msg->dns_left_ms ? 0
	    : msg->dns_left_ms - (unsigned int)spent;
}

const struct tg_result *
tg_msg_result(const struct tg_msg *msg, const char *method)
{
	for (size_t i = 0; i < msg->nresults; i++)
		if (strcmp(msg->results[i].method, method) == 0)
			return &msg->results[i];
	return NULL;
}

const char *
tg_msg_header(const struct tg_msg *msg, const char *name)
{
	for (size_t i = 0; i < msg->nheaders; i++)
		if (strcasecmp(msg->headers[i].name, name) == 0)
			return msg->headers[i].value;
	return NULL;
}

const char *
tg_msg_ref(const struct tg_msg *msg)
{
	if (msg->qid != NULL)
		return msg->qid;
	return tg_arena_printf(msg->arena, "c%lu.%lu", msg->conn->id, msg->id);
}

double
tg_msg_elapsed_ms(const struct tg_msg *msg)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - msg->start.tv_sec) * 1e3
	    + (double)(now.tv_nsec - msg->start.tv_nsec) / 1e6;
}

/* add_header - keep a copy of a header (value without the white space
   after the colon) and count its bytes */
static void
add_header(struct tg_msg *msg, const char *name, const char *raw, bool leadspc)
{
	const char *value = raw;

	if (leadspc)
		while (*value == ' ' || *value == '\t')
			value++;
	if (msg->nheaders == msg->capheaders) {
		struct tg_header *nv;

		msg->capheaders = msg->capheaders ? msg->capheaders * 2 : 32;
		nv = tg_arena_alloc(msg->arena, msg->capheaders * sizeof(*nv));
		if (msg->nheaders > 0)
			memcpy(nv, msg->headers, msg->nheaders * sizeof(*nv));
		msg->headers = nv;
	}
	msg->headers[msg->nheaders].name = tg_arena_strdup(msg->arena, name);
	msg->headers[msg->nheaders].value = tg_arena_strdup(msg->arena, value);
	msg->nheaders++;
	msg->size += strlen(name) + (leadspc ? 1 : 2) + strlen(raw) + 2;
}

/* count_bytes - size accounting that the size gate reads */
static void
count_bytes(struct tg_msg *msg, enum tg_phase phase, const struct tg_phase_arg *arg)
{
	uint64_t max = msg->conn->cfg->max_message_size;

	if (phase == TG_PH_HEADER)
		add_header(msg, arg->hname, arg->hvalue, arg->leadspc);
	else if (phase == TG_PH_EOH)
		msg->size += 2;
	else if (phase == TG_PH_BODY)
		msg->size += arg->bodylen;
	if (max > 0 && msg->size > max)
		msg->oversize = true;
}

/* gate_decide - a failed gate result recorded since index first */
static bool
gate_decide(struct tg_msg *msg, size_t first)
{
	for (size_t i = first; i < msg->nresults; i++) {
		const struct tg_result *r = &msg->results[i];

		if (r->outcome != TG_FAIL)
			continue;
		for (size_t g = 0; g < sizeof(gates) / sizeof(gates[0]); g++) {
			if (strcmp(gates[g].method, r->method) != 0)
				continue;
			tg_verdict_set(&msg->verdict, TG_REJECT, gates[g].code,
			    gates[g].xcode, gates[g].text, gates[g].method);
			if (r->reason != NULL)
				tg_verdict_reason(msg->arena, &msg->verdict, "%s: %s",
				    r->method, r->reason);
			return true;
		}
	}
	return false;
}

/* gate_monitorable - may Mode monitor suspend the deciding gate? */
static bool
gate_monitorable(const char *rule)
{
	for (size_t g = 0; g < sizeof(gates) / sizeof(gates[0]); g++)
		if (rule != NULL && strcmp(gates[g].method, rule) == 0)
			return gates[g].monitorable;
	return true;
}

/* apply_errors - a check that could not reach a result: ErrorActions
   (DNS and record errors) or OnInternalError (our own faults) may make
   the verdict stronger, never weaker */
static void
apply_errors(struct tg_msg *msg)
{
	const struct tg_config *cfg = msg->conn->cfg;
	struct tg_verdict *v = &msg->verdict;

	for (size_t i = 0; i < msg->nresults; i++) {
		const struct tg_result *r = &msg->results[i];
		enum tg_action a;
		const char *rule;

		if (r->outcome != TG_TEMPERROR && r->outcome != TG_PERMERROR)
			continue;
		if (r->internal) {
			a = cfg->on_internal_error;
			rule = tg_arena_printf(msg->arena, "internal-error:%s", r->method);
		} else {
			a = tg_config_error_action(cfg, r->method, (int)r->outcome);
			rule = tg_arena_printf(msg->arena, "%s:%s", r->method,
			    tg_outcome_name(r->outcome));
		}
		if (a <= v->action)
			continue;
		if (a == TG_TEMPFAIL)
			tg_verdict_set(v, a, "451", r->internal ? "4.3.0" : "4.4.3",
			    tg_arena_printf(msg->arena, "Temporary failure checking %s, "
			    "try again later", r->method), rule);
		else
			tg_verdict_set(v, a, NULL, NULL, NULL, rule);
		tg_verdict_reason(msg->arena, v, "%s%s%s", rule, r->reason ? ": " : "",
		    r->reason ? r->reason : "");
	}
}

/* apply_mode - in monitor mode, record what would happen and accept */
static void
apply_mode(struct tg_msg *msg)
{
	struct tg_verdict *v = &msg->verdict;

	if (msg->conn->cfg->mode != TG_MODE_MONITOR || v->action < TG_QUARANTINE
	    || !gate_monitorable(v->rule))
		return;
	v->monitored = true;
	v->would = v->action;
	v->action = TG_ACCEPT;
}

bool
tg_session_phase(struct tg_msg *msg, enum tg_phase phase,
    const struct tg_phase_arg *arg)
{
	static const struct tg_phase_arg none;
	const struct tg_config *cfg = msg->conn->cfg;
	size_t first = msg->nresults;

	if (arg == NULL)
		arg = &none;
	count_bytes(msg, phase, arg);
	/* refused at end of message anyway: the rest of the body is only
	   counted (the MTA may send it all: SMFIP_NR_BODY) */
	if (phase == TG_PH_BODY && msg->oversize)
		return false;
	for (size_t i = 0; tg_checks[i] != NULL; i++)
		if (tg_checks[i]->phases & phase)
			tg_checks[i]->on_phase(cfg->check_global[i], msg, phase, arg);
	if (phase == TG_PH_EOM) {
		tg_session_decide(msg, first);
		return true;
	}
	if (phase == TG_PH_RCPT || phase == TG_PH_MAIL) {
		memset(&msg->verdict, 0, sizeof(msg->verdict));
		if (gate_decide(msg, first)) {
			apply_mode(msg);
			return true;
		}
	}
	return false;
}

void
tg_session_decide(struct tg_msg *msg, size_t first)
{
	const struct tg_config *cfg = msg->conn->cfg;

	memset(&msg->verdict, 0, sizeof(msg->verdict));
	if (!gate_decide(msg, first)) {
		if (cfg->policy != NULL)
			tg_policy_decide(cfg->policy, msg, &msg->verdict);
		apply_errors(msg);
	}
	apply_mode(msg);
}
