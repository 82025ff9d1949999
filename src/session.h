/*
 * session - per-connection and per-message state, and the walk of the
 * check table at each SMTP phase.
 *
 * Ownership: a tg_conn owns its config reference and its current
 * tg_msg; a tg_msg owns an arena holding every string and array it
 * refers to, released by tg_msg_free(). Nothing here talks to the MTA.
 */
#ifndef TG_SESSION_H
#define TG_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "checks/check.h"
#include "util/addr.h"
#include "util/cidr.h"
#include "verdict.h"

struct tg_config;
struct tg_arena;

/* RFC 8601 result values (method-specific subsets are used) */
enum tg_outcome {
	TG_NONE = 0,
	TG_PASS,
	TG_FAIL,
	TG_SOFTFAIL,
	TG_NEUTRAL,
	TG_POLICY,
	TG_TEMPERROR,
	TG_PERMERROR,
};

struct tg_result {
	const char *method;		/* "spf", "dkim", "relay", ... */
	enum tg_outcome outcome;
	enum tg_phase phase;		/* when it was recorded */
	const char *reason;		/* human text; may be NULL */
	const char *policy;		/* DMARC: p= asked by the sender; NULL */
	const char *domain;		/* SPF: identity domain; DKIM: d=; DMARC: From */
	const char *props;		/* RFC 8601 properties "smtp.mailfrom=..."; NULL */
	bool internal;			/* an error of ours: OnInternalError applies */
};

struct tg_header {
	const char *name, *value;
};

struct tg_conn {
	struct tg_config *cfg;		/* snapshot: ref at connect, unref at close */
	unsigned long id;
	unsigned long nmsgs;
	struct tg_ip ip;
	bool addr_known;		/* false: unknown, never "local" */
	bool trusted;			/* ip in TrustedNetworks */
	char addr[48];			/* text form, or "unknown" */
	char *hostname;			/* as the MTA reported it */
	char *helo;
	char *daemon_name;		/* {daemon_name}, NULL if not sent */
	char *auth_user;		/* {auth_authen}, NULL if none */
	char *tls_version;		/* {tls_version}, NULL if none */
	struct tg_msg *msg;		/* NULL between messages */
};

struct tg_msg {
	struct tg_conn *conn;		/* borrowed */
	struct tg_arena *arena;
	unsigned long id;		/* per connection, from 1 */
	struct timespec start;
	const char *qid;		/* {i}, NULL until known */
	const char *sender_raw;
	struct tg_addr sender;
	bool sender_ok;			/* sender parsed */
	uint64_t size_announced;	/* ESMTP SIZE=, 0 if absent */
	const char **rcpts;		/* accepted recipients */
	size_t nrcpts, caprcpts;
	size_t nrcpts_rejected;
	struct tg_header *headers;
	size_t nheaders, capheaders;
	uint64_t size;			/* header + body bytes seen */
	bool oversize;			/* size passed MaxMessageSize */
	unsigned int dns_left_ms;	/* DNS wait this message may still spend */
	struct tg_result *results;
	size_t nresults, capresults;
	void *state[TG_MAX_CHECKS];	/* one slot per check */
	struct tg_verdict verdict;	/* filled by tg_session_decide() */
};

struct tg_conn *tg_conn_new(struct tg_config *cfg, unsigned long id);
/* tg_conn_free - frees any message, drops the config ref, sets *cp NULL */
void tg_conn_free(struct tg_conn **cp);
/* tg_conn_set_addr - client address from text or NULL (unknown) */
void tg_conn_set_ip(struct tg_conn *conn, const struct tg_ip *ip);

/* tg_msg_new - starts a message on conn (freeing a stale one) */
struct tg_msg *tg_msg_new(struct tg_conn *conn);
/* tg_msg_free - runs every check's msg_end, frees the arena */
void tg_msg_free(struct tg_conn *conn);
/* tg_msg_set_sender - MAIL FROM: a copy of sender as the MTA sent it
   ("<a@b.example>"; NULL: empty), parsed into msg->sender, and of the
   ESMTP params (up to NULL; params may be NULL) the one used, SIZE=.
   -1 when the sender does not parse (sender_ok false), the reason in
   *error_r (static text); logging it is the caller's. */
int tg_msg_set_sender(struct tg_msg *msg, const char *sender, char *const *params,
    const char **error_r);
/* tg_msg_add_rcpt - an accepted recipient (RCPT TO), copied */
void tg_msg_add_rcpt(struct tg_msg *msg, const char *rcpt);

/* tg_result_add - record a result; the pointer is valid until the next
   call (to fill domain, props, policy) */
struct tg_result *tg_result_add(struct tg_msg *msg, const char *method,
    enum tg_outcome outcome, enum tg_phase phase, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* tg_msg_result - the first result of method, or NULL */
const struct tg_result *tg_msg_result(const struct tg_msg *msg, const char *method);
const char *tg_outcome_name(enum tg_outcome o);
/* tg_outcome_parse - -1 for an unknown name */
int tg_outcome_parse(const char *s);
/* tg_msg_header - the first header called name (any case), or NULL */
const char *tg_msg_header(const struct tg_msg *msg, const char *name);
/* tg_msg_inbound - the sender-authentication checks apply: the client
   is neither trusted nor authenticated, or CheckTrustedClients is on */
bool tg_msg_inbound(const struct tg_msg *msg);
/* tg_msg_lookup - a DNS query through the snapshot's resolver, within
   both DNSTimeout and what is left of the message's CheckTimeout */
struct tg_dns_answer;
void tg_msg_lookup(struct tg_msg *msg, const char *name, int type,
    struct tg_dns_answer *ans);
/* tg_msg_ref - the reference put in replies and logs: qid or "cN.M" */
const char *tg_msg_ref(const struct tg_msg *msg);
/* tg_msg_elapsed_ms - time since the message started */
double tg_msg_elapsed_ms(const struct tg_msg *msg);

/* tg_session_phase - run the checks for phase; then apply the built-in
   gates for it. Returns true when a gate decided (msg->verdict set);
   at TG_PH_EOM it always decides (gates, then policy, then mode). */
bool tg_session_phase(struct tg_msg *msg, enum tg_phase phase,
    const struct tg_phase_arg *arg);

/* tg_session_decide - the end-of-message decision on the results
   already recorded (no check runs): a failed gate among results[first..],
   else the policy, then ErrorActions and OnInternalError; then Mode.
   tg_session_phase() uses it at TG_PH_EOM; tollgatectl uses it to
   re-judge recorded results with another policy. */
void tg_session_decide(struct tg_msg *msg, size_t first);

#endif
