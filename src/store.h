/*
 * store - the verdict store (StateDB): an SQLite file the daemon writes
 * a record per verdict into, and that tollgatectl(8) reads and updates
 * (what became of a held message, who released it, when).
 *
 * WAL mode, so tollgatectl reading never blocks the daemon writing.
 * Every call is bounded by the handle's timeout: a locked database
 * makes the call fail (SQLITE_BUSY) instead of waiting longer, and a
 * failed call changes nothing. The schema carries a version number;
 * opening migrates an older file, in one transaction per step, and
 * refuses a newer one.
 *
 * A handle is used by one thread at a time (recorder.c serialises the
 * daemon's threads). Strings in a record read back live in the arena
 * the caller passes, or for tg_store_each() until the callback returns.
 */
#ifndef TG_STORE_H
#define TG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "verdict.h"

struct tg_arena;
struct tg_msg;
struct tg_store;

#define TG_STORE_SCHEMA 1		/* the version this code writes */

/* what became of a quarantined message; TG_QS_NONE: not quarantined */
enum tg_qstate {
	TG_QS_NONE = 0,
	TG_QS_HELD,			/* in Postfix's hold queue */
	TG_QS_RELEASED,			/* released to its recipients */
	TG_QS_DELETED,			/* deleted by a reviewer */
	TG_QS_EXPIRED,			/* deleted by purge, or gone from Postfix */
};

/* one check result as recorded */
struct tg_store_result {
	const char *method, *outcome;	/* "spf", "fail" */
	unsigned int phase;		/* TG_PH_* it was recorded at */
	const char *reason, *policy, *domain, *props;	/* NULL when absent */
	bool internal;
};

struct tg_store_header {
	const char *name, *value;
};

/* one verdict as recorded */
struct tg_store_rec {
	int64_t id;			/* the store's own, > 0 */
	time_t time;
	const char *qid;		/* Postfix queue id; NULL before it is known */
	const char *ref;		/* the reference given in replies and logs */
	unsigned int phase;		/* TG_PH_MAIL, TG_PH_RCPT or TG_PH_EOM */
	const char *client_ip;		/* "unknown" when addr_known is false */
	bool addr_known, trusted;
	const char *client_name, *helo, *auth_user, *tls_version, *daemon_name;
	const char *sender;		/* as the client gave it, "<a@b>" */
	const char *sender_domain;	/* lowercase; NULL for <> or unparsable */
	const char **rcpts;		/* as given; RCPT verdicts: the one refused */
	size_t nrcpts;
	unsigned int nrcpts_rejected;
	const char *subject, *message_id;	/* NULL when absent */
	uint64_t size, size_announced;
	const struct tg_store_header *headers;
	size_t nheaders;
	const struct tg_store_result *results;
	size_t nresults;
	enum tg_action action;		/* what was applied */
	bool monitored;			/* Mode monitor or a monitor rule */
	enum tg_action would;		/* monitored: the action not applied */
	const char *code, *xcode;	/* as sent; "" for accept/tag/quarantine */
	const char *text, *rule;	/* NULL when absent */
	double score, ms;
	const char **reasons;
	size_t nreasons;
	const char **rules;		/* every rule that fired, deciding one first */
	size_t nrules;
	enum tg_qstate state;
	time_t state_time;		/* 0 while held */
	const char *state_by;		/* who changed the state; NULL */
};

/* which records tg_store_each() visits; zero = all, newest first */
struct tg_store_filter {
	time_t since, until;		/* time >= since, time < until; 0 = open */
	int64_t id;			/* one record; 0 = any */
	const char *qid;		/* exact */
	const char *sender, *recipient;	/* substring of the address, any case */
	const char *reason;		/* substring of one reason, any case */
	const char *rule;		/* a rule that fired, exact */
	bool quarantined;		/* only records with a quarantine state */
	bool held;			/* only records held now */
	bool eom;			/* only end-of-message verdicts */
	bool oldest_first;
	unsigned int limit;		/* 0 = no limit */
};

/* tg_store_open - open (TG_STORE_CREATE: create if missing) and bring
   the schema up to date. Each later call may wait at most timeout_ms
   for a lock. NULL with a message in err on failure. When run as root
   on another user's file, the files SQLite adds beside it (-wal, -shm)
   are given to that user, so the daemon can still write. */
#define TG_STORE_CREATE 1u
struct tg_store *tg_store_open(const char *path, unsigned int flags,
    unsigned int timeout_ms, char *err, size_t errlen);
void tg_store_close(struct tg_store **sp);
/* tg_store_set_timeout - the lock wait allowed to each later call */
void tg_store_set_timeout(struct tg_store *s, unsigned int timeout_ms);
/* tg_store_error - what the last failed call ran into */
const char *tg_store_error(const struct tg_store *s);
/* tg_store_broken - the last failure means the file is unusable
   (corrupt, unreadable, gone), not merely busy or full */
bool tg_store_broken(const struct tg_store *s);
/* tg_store_retry - the last failure may pass later: the file is locked
   by another writer, or the disk is full */
bool tg_store_retry(const struct tg_store *s);
/* tg_store_version - schema version of an open store */
int tg_store_version(const struct tg_store *s);

/* tg_store_rec_of - the record of msg->verdict with the message's
   envelope, headers and results, every string copied into a (it
   outlives msg); rcpt non-NULL: a verdict about that recipient alone
   (phase TG_PH_RCPT). A quarantine starts as TG_QS_HELD; id is 0. */
void tg_store_rec_of(struct tg_store_rec *rec, const struct tg_msg *msg,
    unsigned int phase, const char *rcpt, time_t when, struct tg_arena *a);

/* tg_store_add - n records in one transaction; their ids into ids
   (may be NULL). 0, or -1 with nothing recorded. */
int tg_store_add(struct tg_store *s, const struct tg_store_rec *const *recs, size_t n,
    int64_t *ids);

/* tg_store_record - tg_store_rec_of() and tg_store_add() of one:
   the new record's id, or -1 (nothing recorded) */
int64_t tg_store_record(struct tg_store *s, const struct tg_msg *msg,
    unsigned int phase, const char *rcpt, time_t when);

/* tg_store_each - call fn for each matching record (valid during the
   call) until fn returns non-zero. The number visited, or -1. */
typedef int tg_store_each_fn(const struct tg_store_rec *rec, void *arg);
long tg_store_each(struct tg_store *s, const struct tg_store_filter *f,
    tg_store_each_fn *fn, void *arg);
/* tg_store_find - the newest end-of-message record of qid, copied into
   arena a: 1 found, 0 not found, -1 error */
int tg_store_find(struct tg_store *s, const char *qid, struct tg_arena *a,
    struct tg_store_rec *rec_r);

/* tg_store_set_state - what became of record id; by is who did it.
   0, or -1 (also when the record has no quarantine state) */
int tg_store_set_state(struct tg_store *s, int64_t id, enum tg_qstate state,
    const char *by, time_t when);
/* tg_store_forget - delete records older than before, except messages
   still held; *n_r is how many went. 0 or -1 */
int tg_store_forget(struct tg_store *s, time_t before, unsigned long *n_r);

/* counts for tollgatectl stats */
struct tg_store_count {
	const char *key;
	unsigned long n;
};
struct tg_store_stats {
	unsigned long total;		/* records */
	unsigned long actions[TG_REJECT + 1];
	unsigned long monitored;
	unsigned long states[TG_QS_EXPIRED + 1];
	double ms_avg, ms_max;		/* verdict time, end-of-message records */
	/* the top entries, most first; strings in the arena */
	struct tg_store_count *reasons, *rules, *clients, *domains;
	size_t nreasons, nrules, nclients, ndomains;
};
/* tg_store_stats - counts over records since (0 = all): top n reasons,
   rules, and clients and sender domains of rejected mail. 0 or -1 */
int tg_store_stats(struct tg_store *s, time_t since, unsigned int top,
    struct tg_arena *a, struct tg_store_stats *st);

const char *tg_qstate_name(enum tg_qstate q);
/* tg_qstate_parse - -1 for an unknown name */
int tg_qstate_parse(const char *s);

#endif
