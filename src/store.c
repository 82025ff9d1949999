/*
 * store - the SQLite verdict store (see store.h): opening with WAL and
 * a bounded lock wait, the versioned schema and its migrations,
 * recording a verdict, and the reads and updates tollgatectl needs.
 * It does not decide when to record (recorder.c) nor talk to Postfix.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "session.h"
#include "store.h"
#include "store_int.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* migrations[v] takes the schema from version v to v + 1 */
static const char *const migrations[] = {
	/* 0 -> 1: the first schema */
	"CREATE TABLE verdicts ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"		/* unix seconds */
	"  qid TEXT,"				/* Postfix queue id */
	"  ref TEXT NOT NULL,"
	"  phase INTEGER NOT NULL,"		/* TG_PH_MAIL, _RCPT, _EOM */
	"  client_ip TEXT NOT NULL,"
	"  addr_known INTEGER NOT NULL,"
	"  trusted INTEGER NOT NULL,"
	"  client_name TEXT, helo TEXT, auth_user TEXT, tls_version TEXT,"
	"  daemon_name TEXT, sender TEXT, sender_domain TEXT,"
	"  nrcpts_rejected INTEGER NOT NULL,"
	"  subject TEXT, message_id TEXT,"
	"  size INTEGER NOT NULL, size_announced INTEGER NOT NULL,"
	"  headers BLOB,"			/* name NUL value NUL ... */
	"  action TEXT NOT NULL, monitored INTEGER NOT NULL, would TEXT,"
	"  code TEXT, xcode TEXT, text TEXT, rule TEXT,"
	"  score REAL NOT NULL, ms REAL NOT NULL,"
	"  state TEXT, state_time INTEGER, state_by TEXT);"
	"CREATE INDEX verdicts_time ON verdicts (time);"
	"CREATE INDEX verdicts_qid ON verdicts (qid);"
	"CREATE INDEX verdicts_state ON verdicts (state) WHERE state IS NOT NULL;"
	"CREATE TABLE recipients ("
	"  verdict INTEGER NOT NULL REFERENCES verdicts (id) ON DELETE CASCADE,"
	"  n INTEGER NOT NULL, addr TEXT NOT NULL);"
	"CREATE INDEX recipients_verdict ON recipients (verdict);"
	"CREATE TABLE results ("
	"  verdict INTEGER NOT NULL REFERENCES verdicts (id) ON DELETE CASCADE,"
	"  n INTEGER NOT NULL, method TEXT NOT NULL, outcome TEXT NOT NULL,"
	"  phase INTEGER NOT NULL, reason TEXT, policy TEXT, domain TEXT, props TEXT,"
	"  internal INTEGER NOT NULL);"
	"CREATE INDEX results_verdict ON results (verdict);"
	"CREATE TABLE reasons ("
	"  verdict INTEGER NOT NULL REFERENCES verdicts (id) ON DELETE CASCADE,"
	"  n INTEGER NOT NULL, reason TEXT NOT NULL);"
	"CREATE INDEX reasons_verdict ON reasons (verdict);"
	"CREATE TABLE rules ("
	"  verdict INTEGER NOT NULL REFERENCES verdicts (id) ON DELETE CASCADE,"
	"  n INTEGER NOT NULL, rule TEXT NOT NULL);"
	"CREATE INDEX rules_verdict ON rules (verdict);"
	"CREATE INDEX rules_rule ON rules (rule);",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == TG_STORE_SCHEMA,
    "one migration per schema version");

/* SQL of the statements kept in the handle */
static const char *const stmt_sql[ST_NSTMTS] = {
	[ST_VERDICT] = "INSERT INTO verdicts (time, qid, ref, phase, client_ip, addr_known, "
	    "trusted, client_name, helo, auth_user, tls_version, daemon_name, sender, "
	    "sender_domain, nrcpts_rejected, subject, message_id, size, size_announced, "
	    "headers, action, monitored, would, code, xcode, text, rule, score, ms, state) "
	    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_RCPT] = "INSERT INTO recipients (verdict, n, addr) VALUES (?,?,?)",
	[ST_RESULT] = "INSERT INTO results (verdict, n, method, outcome, phase, reason, "
	    "policy, domain, props, internal) VALUES (?,?,?,?,?,?,?,?,?,?)",
	[ST_REASON] = "INSERT INTO reasons (verdict, n, reason) VALUES (?,?,?)",
	[ST_RULE] = "INSERT INTO rules (verdict, n, rule) VALUES (?,?,?)",
	[ST_GET_RCPTS] = "SELECT addr FROM recipients WHERE verdict = ? ORDER BY n",
	[ST_GET_RESULTS] = "SELECT method, outcome, phase, reason, policy, domain, props, "
	    "internal FROM results WHERE verdict = ? ORDER BY n",
	[ST_GET_REASONS] = "SELECT reason FROM reasons WHERE verdict = ? ORDER BY n",
	[ST_GET_RULES] = "SELECT rule FROM rules WHERE verdict = ? ORDER BY n",
};

static const char *const qstate_names[] = {
	[TG_QS_NONE] = "none", [TG_QS_HELD] = "held", [TG_QS_RELEASED] = "released",
	[TG_QS_DELETED] = "deleted", [TG_QS_EXPIRED] = "expired",
};

const char *
tg_qstate_name(enum tg_qstate q)
{
	return qstate_names[q];
}

int
tg_qstate_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(qstate_names) / sizeof(qstate_names[0]); i++)
		if (strcmp(s, qstate_names[i]) == 0)
			return (int)i;
	return -1;
}

/* ---------------------------------------------------------------- helpers */

void
tg_store_begin_call(struct tg_store *s)
{
	clock_gettime(CLOCK_MONOTONIC, &s->deadline);
	s->deadline.tv_sec += s->timeout_ms / 1000;
	s->deadline.tv_nsec += (long)(s->timeout_ms % 1000) * 1000000L;
	if (s->deadline.tv_nsec >= 1000000000L) {
		s->deadline.tv_sec++;
		s->deadline.tv_nsec -= 1000000000L;
	}
}

void
tg_store_arm(struct tg_store *s)
{
	struct timespec now;
	long left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (s->deadline.tv_sec - now.tv_sec) * 1000L
	    + (s->deadline.tv_nsec - now.tv_nsec) / 1000000L;
	sqlite3_busy_timeout(s->db, left > 0 ? (int)left : 0);
}

int
tg_store_fail(struct tg_store *s, int rc, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	n = strlen(s->err);
	if (rc != SQLITE_OK && n < sizeof(s->err))
		snprintf(s->err + n, sizeof(s->err) - n, ": %s",
		    s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	s->last_rc = rc;
	return -1;
}

/* exec - run SQL without results within the call's deadline */
static int
exec(struct tg_store *s, const char *sql, const char *what)
{
	int rc;

	tg_store_arm(s);
	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : tg_store_fail(s, rc, "%s", what);
}

sqlite3_stmt *
tg_store_prepare(struct tg_store *s, enum stmt_id id)
{
	int rc;

	if (s->stmts[id] != NULL) {
		sqlite3_reset(s->stmts[id]);
		sqlite3_clear_bindings(s->stmts[id]);
		return s->stmts[id];
	}
	tg_store_arm(s);
	rc = sqlite3_prepare_v2(s->db, stmt_sql[id], -1, &s->stmts[id], NULL);
	if (rc != SQLITE_OK) {
		tg_store_fail(s, rc, "cannot prepare a statement");
		return NULL;
	}
	return s->stmts[id];
}

/* step_done - run a statement that returns no rows */
static int
step_done(struct tg_store *s, sqlite3_stmt *st, const char *what)
{
	int rc;

	tg_store_arm(s);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : tg_store_fail(s, rc, "%s", what);
}

static void
bind_str(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* ---------------------------------------------------------------- open */

/* read_version - the schema version; 0 for an empty file */
static int
read_version(struct tg_store *s, int *version_r)
{
	sqlite3_stmt *st = NULL;
	int rc;

	tg_store_arm(s);
	rc = sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version", -1, &st, NULL);
	if (rc == SQLITE_ERROR) {
		/* no version table: an empty file, or somebody else's */
		rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &st,
		    NULL);
		if (rc != SQLITE_OK)
			return tg_store_fail(s, rc, "cannot read the schema");
		tg_store_arm(s);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 0) {
			sqlite3_finalize(st);
			*version_r = 0;
			return 0;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW)
			return tg_store_fail(s, rc, "cannot read the schema");
		return tg_store_fail(s, SQLITE_OK, "not a tollgate state database "
		    "(it has tables but no schema_version)");
	}
	if (rc != SQLITE_OK)
		return tg_store_fail(s, rc, "cannot read the schema version");
	tg_store_arm(s);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return tg_store_fail(s, rc == SQLITE_DONE ? SQLITE_OK : rc,
		    "cannot read the schema version");
	}
	*version_r = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* migrate_step - one migration in a transaction of its own, after
   checking (under the write lock) that another process did not do it */
static int
migrate_step(struct tg_store *s, bool *done_r)
{
	int v;
	char *sql, what[80];

	*done_r = false;
	if (exec(s, "BEGIN IMMEDIATE", "cannot lock the database to upgrade it") < 0)
		return -1;
	if (read_version(s, &v) < 0)
		goto fail;
	if (v >= TG_STORE_SCHEMA) {
		*done_r = true;
		s->version = v;
		return exec(s, "COMMIT", "cannot commit");
	}
	if (v == 0 && exec(s, "CREATE TABLE IF NOT EXISTS schema_version "
	    "(version INTEGER NOT NULL); DELETE FROM schema_version; "
	    "INSERT INTO schema_version VALUES (0)", "cannot create schema_version") < 0)
		goto fail;
	snprintf(what, sizeof(what), "migration of the schema from version %d to %d failed",
	    v, v + 1);
	if (exec(s, migrations[v], what) < 0)
		goto fail;
	sql = sqlite3_mprintf("UPDATE schema_version SET version = %d", v + 1);
	if (exec(s, sql, "cannot update schema_version") < 0) {
		sqlite3_free(sql);
		goto fail;
	}
	sqlite3_free(sql);
	s->version = v + 1;
	return exec(s, "COMMIT", "cannot commit the schema upgrade");
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* upgrade - bring the schema to TG_STORE_SCHEMA, refuse a newer one */
static int
upgrade(struct tg_store *s)
{
	bool done = false;

	if (read_version(s, &s->version) < 0)
		return -1;
	if (s->version > TG_STORE_SCHEMA)
		return tg_store_fail(s, SQLITE_OK, "schema version %d is newer than this tollgate's "
		    "(%d): upgrade tollgate", s->version, TG_STORE_SCHEMA);
	while (s->version < TG_STORE_SCHEMA && !done)
		if (migrate_step(s, &done) < 0)
			return -1;
	return 0;
}

/* give_to_owner - running as root on another user's database: hand the
   -wal and -shm files SQLite may just have created to that user */
static void
give_to_owner(const char *path)
{
	static const char *const suffixes[] = { "-wal", "-shm" };
	struct stat st, fs;

	if (geteuid() != 0 || stat(path, &st) != 0 || st.st_uid == 0)
		return;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char *p = xasprintf("%s%s", path, suffixes[i]);

		if (lstat(p, &fs) == 0 && S_ISREG(fs.st_mode)
		    && (fs.st_uid != st.st_uid || fs.st_gid != st.st_gid))
			(void)!chown(p, st.st_uid, st.st_gid);
		free(p);
	}
}

/* journal_wal - switch to WAL (kept in the file) and set the pragmas */
static int
journal_wal(struct tg_store *s)
{
	sqlite3_stmt *st = NULL;
	int rc;

	tg_store_arm(s);
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
			rc = SQLITE_CANTOPEN;	/* the file system cannot do WAL */
		else if (rc == SQLITE_ROW)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return tg_store_fail(s, rc, "cannot switch to WAL mode");
	/* NORMAL: in WAL mode a commit is atomic, only the last ones can
	   be lost in a power cut, and no commit waits for an fsync. A
	   page cache of 512 KiB, not SQLite's 2 MiB: records are appended,
	   reads go by index, and the daemon's memory is bounded */
	return exec(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
	    "PRAGMA cache_size = -512", "cannot set pragmas");
}

struct tg_store *
tg_store_open(const char *path, unsigned int flags, unsigned int timeout_ms,
    char *err, size_t errlen)
{
	struct tg_store *s = xcalloc(1, sizeof(*s));
	int oflags = SQLITE_OPEN_READWRITE, rc;
	struct stat st;

	s->timeout_ms = timeout_ms;
	tg_store_begin_call(s);
	if (flags & TG_STORE_CREATE) {
		int fd;

		/* the records hold headers and addresses: not for everyone to
		   read, whatever the umask (SQLite gives -wal and -shm the
		   mode of the database) */
		oflags |= SQLITE_OPEN_CREATE;
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) >= 0)
			close(fd);
	} else if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(s);
		return NULL;
	}
	rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
	if (rc != SQLITE_OK)
		tg_store_fail(s, rc, "cannot open");
	else
		sqlite3_extended_result_codes(s->db, 1);
	if (rc != SQLITE_OK || journal_wal(s) < 0 || upgrade(s) < 0) {
		snprintf(err, errlen, "%s: %s", path, s->err);
		tg_store_close(&s);
		return NULL;
	}
	give_to_owner(path);
	return s;
}

void
tg_store_close(struct tg_store **sp)
{
	struct tg_store *s = *sp;

	if (s == NULL)
		return;
	for (size_t i = 0; i < ST_NSTMTS; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close(s->db);
	free(s);
	*sp = NULL;
}

void
tg_store_set_timeout(struct tg_store *s, unsigned int timeout_ms)
{
	s->timeout_ms = timeout_ms;
}

const char *
tg_store_error(const struct tg_store *s)
{
	return s->err;
}

bool
tg_store_broken(const struct tg_store *s)
{
	switch (s->last_rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_READONLY:
		return true;
	default:
		return false;
	}
}

bool
tg_store_retry(const struct tg_store *s)
{
	switch (s->last_rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_FULL:
		return true;
	default:
		return false;
	}
}

int
tg_store_version(const struct tg_store *s)
{
	return s->version;
}

/* ---------------------------------------------------------------- record */

/* fired_rule - the rule a reason names: "rule X", "X(+3.0)" or
   "monitor: rule X would ..."; NULL for other reasons */
static const char *
fired_rule(struct tg_arena *a, const char *reason)
{
	const char *p = reason, *end;

	if (strncmp(p, "monitor: ", 9) == 0)
		p += 9;
	if (strncmp(p, "rule ", 5) == 0) {
		p += 5;
		end = p + strcspn(p, " ");
		return end > p ? tg_arena_strndup(a, p, (size_t)(end - p)) : NULL;
	}
	end = p + strcspn(p, " (");
	if (end > p && end[0] == '(' && (end[1] == '+' || end[1] == '-')
	    && p[strlen(p) - 1] == ')')
		return tg_arena_strndup(a, p, (size_t)(end - p));
	return NULL;
}

/* insert_list - rows (verdict, n, text) of one child table */
static int
insert_list(struct tg_store *s, enum stmt_id id, int64_t verdict, const char *const *v,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = tg_store_prepare(s, id);

		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, verdict);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
		bind_str(st, 3, v[i]);
		if (step_done(s, st, "cannot record") < 0)
			return -1;
	}
	return 0;
}

/* copy - a copy in a (NULL stays NULL) */
static const char *
copy(struct tg_arena *a, const char *s)
{
	return s != NULL ? tg_arena_strdup(a, s) : NULL;
}

/* copy_list - copies of n strings in a */
static const char **
copy_list(struct tg_arena *a, const char *const *v, size_t n)
{
	const char **out = tg_arena_alloc(a, (n + 1) * sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = copy(a, v[i]);
	return out;
}

/* rules_of - the rules that fired: the deciding one, then the rest */
static size_t
rules_of(struct tg_arena *a, const struct tg_verdict *v, const char ***rules_r)
{
	const char **rules = tg_arena_alloc(a, (v->nreasons + 1) * sizeof(*rules));
	size_t n = 0;

	if (v->rule != NULL)
		rules[n++] = tg_arena_strdup(a, v->rule);
	for (size_t i = 0; i < v->nreasons; i++) {
		const char *r = fired_rule(a, v->reasons[i]);
		bool dup = false;

		for (size_t j = 0; j < n && r != NULL; j++)
			dup = dup || strcmp(rules[j], r) == 0;
		if (r != NULL && !dup)
			rules[n++] = r;
	}
	*rules_r = rules;
	return n;
}

void
tg_store_rec_of(struct tg_store_rec *rec, const struct tg_msg *msg, unsigned int phase,
    const char *rcpt, time_t when, struct tg_arena *a)
{
	const struct tg_conn *conn = msg->conn;
	const struct tg_verdict *v = &msg->verdict;
	bool sent_code = v->action >= TG_TEMPFAIL || v->monitored;
	struct tg_store_header *h = tg_arena_alloc(a, (msg->nheaders + 1) * sizeof(*h));
	struct tg_store_result *r = tg_arena_alloc(a, (msg->nresults + 1) * sizeof(*r));

	memset(rec, 0, sizeof(*rec));
	rec->time = when;
	rec->qid = copy(a, msg->qid);
	rec->ref = copy(a, tg_msg_ref(msg));
	rec->phase = phase;
	rec->client_ip = copy(a, conn->addr);
	rec->addr_known = conn->addr_known;
	rec->trusted = conn->trusted;
	rec->client_name = copy(a, conn->hostname);
	rec->helo = copy(a, conn->helo);
	rec->auth_user = copy(a, conn->auth_user);
	rec->tls_version = copy(a, conn->tls_version);
	rec->daemon_name = copy(a, conn->daemon_name);
	rec->sender = copy(a, msg->sender_raw);
	rec->sender_domain = msg->sender_ok && !msg->sender.null && msg->sender.domain[0]
	    ? copy(a, msg->sender.domain) : NULL;
	rec->nrcpts = rcpt != NULL ? 1 : msg->nrcpts;
	rec->rcpts = copy_list(a, rcpt != NULL ? &rcpt : (const char *const *)msg->rcpts,
	    rec->nrcpts);
	rec->nrcpts_rejected = (unsigned int)msg->nrcpts_rejected;
	rec->subject = copy(a, tg_msg_header(msg, "Subject"));
	rec->message_id = copy(a, tg_msg_header(msg, "Message-ID"));
	rec->size = msg->size;
	rec->size_announced = msg->size_announced;
	for (size_t i = 0; i < msg->nheaders; i++) {
		h[i].name = copy(a, msg->headers[i].name);
		h[i].value = copy(a, msg->headers[i].value);
	}
	rec->headers = h;
	rec->nheaders = msg->nheaders;
	for (size_t i = 0; i < msg->nresults; i++) {
		const struct tg_result *mr = &msg->results[i];

		r[i] = (struct tg_store_result){ .method = copy(a, mr->method),
		    .outcome = tg_outcome_name(mr->outcome), .phase = (unsigned int)mr->phase,
		    .reason = copy(a, mr->reason), .policy = copy(a, mr->policy),
		    .domain = copy(a, mr->domain), .props = copy(a, mr->props),
		    .internal = mr->internal };
	}
	rec->results = r;
	rec->nresults = msg->nresults;
	rec->action = v->action;
	rec->monitored = v->monitored;
	rec->would = v->would;
	rec->code = sent_code ? copy(a, tg_verdict_code(v)) : "";
	rec->xcode = sent_code ? copy(a, tg_verdict_xcode(v)) : "";
	rec->text = copy(a, v->text);
	rec->rule = copy(a, v->rule);
	rec->score = v->score;
	rec->ms = tg_msg_elapsed_ms(msg);
	rec->reasons = copy_list(a, (const char *const *)v->reasons, v->nreasons);
	rec->nreasons = v->nreasons;
	rec->nrules = rules_of(a, v, &rec->rules);
	rec->state = v->action == TG_QUARANTINE ? TG_QS_HELD : TG_QS_NONE;
}

/* insert_results - one row per check result */
static int
insert_results(struct tg_store *s, int64_t verdict, const struct tg_store_rec *rec)
{
	for (size_t i = 0; i < rec->nresults; i++) {
		const struct tg_store_result *r = &rec->results[i];
		sqlite3_stmt *st = tg_store_prepare(s, ST_RESULT);

		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, verdict);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
		bind_str(st, 3, r->method);
		bind_str(st, 4, r->outcome);
		sqlite3_bind_int(st, 5, (int)r->phase);
		bind_str(st, 6, r->reason);
		bind_str(st, 7, r->policy);
		bind_str(st, 8, r->domain);
		bind_str(st, 9, r->props);
		sqlite3_bind_int(st, 10, r->internal);
		if (step_done(s, st, "cannot record a result") < 0)
			return -1;
	}
	return 0;
}

/* insert_verdict - the verdicts row; its id or -1 */
static int64_t
insert_verdict(struct tg_store *s, const struct tg_store_rec *rec, struct tg_strbuf *headers)
{
	sqlite3_stmt *st = tg_store_prepare(s, ST_VERDICT);
	int i = 1;

	if (st == NULL)
		return -1;
	tg_strbuf_truncate(headers, 0);
	for (size_t h = 0; h < rec->nheaders; h++) {
		tg_strbuf_appendn(headers, rec->headers[h].name, strlen(rec->headers[h].name) + 1);
		tg_strbuf_appendn(headers, rec->headers[h].value,
		    strlen(rec->headers[h].value) + 1);
	}
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rec->time);
	bind_str(st, i++, rec->qid);
	bind_str(st, i++, rec->ref);
	sqlite3_bind_int(st, i++, (int)rec->phase);
	bind_str(st, i++, rec->client_ip);
	sqlite3_bind_int(st, i++, rec->addr_known);
	sqlite3_bind_int(st, i++, rec->trusted);
	bind_str(st, i++, rec->client_name);
	bind_str(st, i++, rec->helo);
	bind_str(st, i++, rec->auth_user);
	bind_str(st, i++, rec->tls_version);
	bind_str(st, i++, rec->daemon_name);
	bind_str(st, i++, rec->sender);
	bind_str(st, i++, rec->sender_domain);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rec->nrcpts_rejected);
	bind_str(st, i++, rec->subject);
	bind_str(st, i++, rec->message_id);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rec->size);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rec->size_announced);
	if (headers->len > 0)
		sqlite3_bind_blob(st, i++, headers->s, (int)headers->len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i++);
	bind_str(st, i++, tg_action_name(rec->action));
	sqlite3_bind_int(st, i++, rec->monitored);
	bind_str(st, i++, rec->monitored ? tg_action_name(rec->would) : NULL);
	bind_str(st, i++, rec->code);
	bind_str(st, i++, rec->xcode);
	bind_str(st, i++, rec->text);
	bind_str(st, i++, rec->rule);
	sqlite3_bind_double(st, i++, rec->score);
	sqlite3_bind_double(st, i++, rec->ms);
	bind_str(st, i++, rec->state != TG_QS_NONE ? qstate_names[rec->state] : NULL);
	if (step_done(s, st, "cannot record the verdict") < 0)
		return -1;
	return sqlite3_last_insert_rowid(s->db);
}

/* insert_rec - one record's rows, inside a transaction; its id or -1 */
static int64_t
insert_rec(struct tg_store *s, const struct tg_store_rec *rec, struct tg_strbuf *headers)
{
	int64_t id = insert_verdict(s, rec, headers);

	if (id < 0
	    || insert_list(s, ST_RCPT, id, rec->rcpts, rec->nrcpts) < 0
	    || insert_results(s, id, rec) < 0
	    || insert_list(s, ST_REASON, id, rec->reasons, rec->nreasons) < 0
	    || insert_list(s, ST_RULE, id, rec->rules, rec->nrules) < 0)
		return -1;
	return id;
}

int
tg_store_add(struct tg_store *s, const struct tg_store_rec *const *recs, size_t n,
    int64_t *ids)
{
	struct tg_strbuf headers = { 0 };
	int rc = 0;

	tg_store_begin_call(s);
	if (exec(s, "BEGIN IMMEDIATE", "cannot lock the database") < 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int64_t id = insert_rec(s, recs[i], &headers);

		if (id < 0)
			rc = -1;
		else if (ids != NULL)
			ids[i] = id;
	}
	if (rc < 0 || exec(s, "COMMIT", "cannot commit") < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		rc = -1;
	}
	tg_strbuf_free(&headers);
	return rc;
}

int64_t
tg_store_record(struct tg_store *s, const struct tg_msg *msg, unsigned int phase,
    const char *rcpt, time_t when)
{
	struct tg_arena *a = tg_arena_new();
	struct tg_store_rec rec;
	const struct tg_store_rec *one = &rec;
	int64_t id = -1;

	tg_store_rec_of(&rec, msg, phase, rcpt, when, a);
	if (tg_store_add(s, &one, 1, &id) < 0)
		id = -1;
	tg_arena_free(&a);
	return id;
}

/* ---------------------------------------------------------------- update */

/* run_update - one statement with up to four binds (those sql does not
   use are ignored); the rows changed, or -1 */
static long
run_update(struct tg_store *s, const char *sql, const char *what,
    sqlite3_int64 a1, sqlite3_int64 a2, const char *t3, const char *t4)
{
	sqlite3_stmt *st = NULL;
	int rc;

	tg_store_begin_call(s);
	tg_store_arm(s);
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return tg_store_fail(s, rc, "%s", what);
	sqlite3_bind_int64(st, 1, a1);
	sqlite3_bind_int64(st, 2, a2);
	bind_str(st, 3, t3);
	bind_str(st, 4, t4);
	tg_store_arm(s);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return tg_store_fail(s, rc, "%s", what);
	return sqlite3_changes(s->db);
}

int
tg_store_set_state(struct tg_store *s, int64_t id, enum tg_qstate state, const char *by,
    time_t when)
{
	long n = run_update(s, "UPDATE verdicts SET state_time = ?2, state = ?3, "
	    "state_by = ?4 WHERE id = ?1 AND state IS NOT NULL", "cannot update the state",
	    id, (sqlite3_int64)when, qstate_names[state], by);

	if (n == 0)
		return tg_store_fail(s, SQLITE_OK, "record %lld is no quarantine record",
		    (long long)id);
	return n < 0 ? -1 : 0;
}

int
tg_store_forget(struct tg_store *s, time_t before, unsigned long *n_r)
{
	long n = run_update(s, "DELETE FROM verdicts WHERE time < ?1 AND "
	    "(state IS NULL OR state <> 'held')", "cannot delete old records",
	    (sqlite3_int64)before, 0, NULL, NULL);

	if (n < 0)
		return -1;
	*n_r = (unsigned long)n;
	return 0;
}

