/*
 * store_int - what store.c and store_read.c share; not for use outside
 * them (store.h is the interface).
 */
#ifndef TG_STORE_INT_H
#define TG_STORE_INT_H

#include <sqlite3.h>
#include <time.h>

/* prepared statements kept for the life of the handle */
enum stmt_id {
	ST_VERDICT, ST_RCPT, ST_RESULT, ST_REASON, ST_RULE,
	ST_GET_RCPTS, ST_GET_RESULTS, ST_GET_REASONS, ST_GET_RULES,
	ST_NSTMTS
};

/* the columns tg_store_each() reads, in this order (see row()) */
#define STORE_COLUMNS "id, time, qid, ref, phase, client_ip, addr_known, trusted, " \
	"client_name, helo, auth_user, tls_version, daemon_name, sender, sender_domain, " \
	"nrcpts_rejected, subject, message_id, size, size_announced, headers, action, " \
	"monitored, would, code, xcode, text, rule, score, ms, state, state_time, state_by"

struct tg_store {
	sqlite3 *db;
	unsigned int timeout_ms;
	struct timespec deadline;	/* of the call in progress */
	int version;
	int last_rc;			/* SQLite's code of the last failure */
	sqlite3_stmt *stmts[ST_NSTMTS];
	char err[512];
};

/* tg_store_begin_call - a public call starts: its lock waits end at
   the deadline (now + the handle's timeout) */
void tg_store_begin_call(struct tg_store *s);
/* tg_store_arm - let SQLite wait for a lock only as long as the call
   has left */
void tg_store_arm(struct tg_store *s);
/* tg_store_fail - remember what went wrong (with SQLite's message when
   rc is not SQLITE_OK); returns -1 */
int tg_store_fail(struct tg_store *s, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* tg_store_prepare - a statement kept in the handle, reset and unbound;
   NULL on error */
sqlite3_stmt *tg_store_prepare(struct tg_store *s, enum stmt_id id);

#endif
