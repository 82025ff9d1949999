/*
 * test_store - the verdict store: schema creation and migration (empty
 * file, version 0, newer or foreign files, a failed step rolled back),
 * a record read back field by field, the filters, state changes,
 * forgetting, counts, and the time bound when another process holds
 * the database locked (the store and the daemon's recorder).
 */
#include "autoconf.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "recorder.h"
#include "session.h"
#include "store.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "runner.h"

static char dir[] = "/tmp/tg-store-XXXXXX";
static int seq;

/* db_path - a fresh database path for one test */
static char *
db_path(void)
{
	/* Check forks for each test: the pid keeps the names apart */
	return xasprintf("%s/t%ld-%d.db", dir, (long)getpid(), ++seq);
}

/* raw_exec - SQL on a plain SQLite connection (a "v0" file, locks) */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", sql,
	    sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* raw_int - the first column of a query */
static int
raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* hold_lock - another process's write lock on the database, as
   tollgatectl or sqlite3(1) take it; let_go releases it */
static sqlite3 *
hold_lock(const char *path)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void
let_go(sqlite3 *db)
{
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
}

/* recorder_done - after a recorder test: its message, the recorder, the
   configuration */
static void
recorder_done(struct tg_conn **conn, char *extra, char *path)
{
	tg_conn_free(conn);
	tg_recorder_stop();
	tg_config_publish(NULL);
	free(extra);
	free(path);
}

/* load_cfg - a configuration with extra settings */
static struct tg_config *
load_cfg(const char *extra)
{
	return tg_test_config(dir, "PolicyFile /dev/null\nLocalDomains example.org\n%s", extra);
}

/* sample - a quarantined message with every kind of fact filled in */
static struct tg_conn *
sample(struct tg_config *cfg, const char *sender, const char *subject)
{
	struct tg_conn *conn = tg_conn_new(cfg, 3);
	struct tg_msg *msg;
	struct tg_ip ip;
	struct tg_result *r;
	const char *err;
	static const char *rcpts[] = { "<bob@example.org>", "<carol@example.org>" };
	static struct tg_header headers[] = {
		{ "From", "A <a@remote.example>" }, { "Subject", NULL },
		{ "Message-ID", "<1@remote.example>" }, { "X-Folded", "one\n\ttwo" },
	};

	ck_assert_int_eq(tg_ip_parse("198.51.100.7", &ip), 0);
	tg_conn_set_ip(conn, &ip);
	conn->hostname = xstrdup("mx.remote.example");
	conn->helo = xstrdup("mx.remote.example");
	conn->tls_version = xstrdup("TLSv1.3");
	msg = tg_msg_new(conn);
	msg->qid = "4AbC12";
	msg->sender_raw = sender;
	msg->sender_ok = tg_addr_parse(msg->arena, sender, &msg->sender, &err) == 0;
	msg->rcpts = rcpts;
	msg->nrcpts = 2;
	msg->nrcpts_rejected = 1;
	headers[1].value = subject;
	msg->headers = headers;
	msg->nheaders = 4;
	msg->size = 4182;
	msg->size_announced = 5000;
	r = tg_result_add(msg, "spf", TG_FAIL, TG_PH_MAIL, "%s", "198.51.100.7 not allowed");
	r->domain = "remote.example";
	r->props = "smtp.mailfrom=a@remote.example";
	r = tg_result_add(msg, "dmarc", TG_FAIL, TG_PH_EOM, "no aligned pass");
	r->policy = "quarantine";
	r->domain = "remote.example";
	tg_verdict_set(&msg->verdict, TG_QUARANTINE, NULL, NULL, "held for review",
	    "dmarc-quarantine");
	msg->verdict.score = 3;
	tg_verdict_reason(msg->arena, &msg->verdict, "spf-fail(+3.0)");
	tg_verdict_reason(msg->arena, &msg->verdict, "monitor: rule new-rule would reject");
	tg_verdict_reason(msg->arena, &msg->verdict, "rule dmarc-quarantine");
	return conn;
}

/* ---------------------------------------------------------------- schema */

START_TEST(new_file_gets_schema)
{
	char *path = db_path(), err[256];
	struct stat st;
	struct tg_store *s = tg_store_open(path, TG_STORE_CREATE, 1000, err, sizeof(err));

	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(tg_store_version(s), TG_STORE_SCHEMA);
	tg_store_close(&s);
	ck_assert_ptr_null(s);
	/* headers and addresses: not readable by everyone, whatever the umask */
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(raw_int(path, "SELECT version FROM schema_version"), TG_STORE_SCHEMA);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM schema_version"), 1);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE "
	    "name IN ('verdicts', 'recipients', 'results', 'reasons', 'rules')"), 5);
	/* WAL is a property of the file: it stays */
	ck_assert_int_eq(raw_int(path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
	free(path);
}
END_TEST

START_TEST(missing_file_without_create)
{
	char *path = db_path(), err[256];

	ck_assert_ptr_null(tg_store_open(path, 0, 1000, err, sizeof(err)));
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
	ck_assert_int_ne(access(path, F_OK), 0);
	free(path);
}
END_TEST

/* the files a store may meet when opened: how they end up */
static const struct migrate_case {
	const char *name;
	const char *setup;		/* SQL run first; NULL: an empty file */
	bool ok;
	const char *error;		/* part of the message when !ok */
	int version_after;		/* schema_version afterwards, -1 = no table */
} migrate_cases[] = {
	{ "empty file (v0)", NULL, true, NULL, TG_STORE_SCHEMA },
	{ "version table at 0", "CREATE TABLE schema_version (version INTEGER NOT NULL);"
	  "INSERT INTO schema_version VALUES (0)", true, NULL, TG_STORE_SCHEMA },
	{ "current version", "CREATE TABLE schema_version (version INTEGER NOT NULL);"
	  "INSERT INTO schema_version VALUES (1)", true, NULL, TG_STORE_SCHEMA },
	{ "newer version refused", "CREATE TABLE schema_version (version INTEGER NOT NULL);"
	  "INSERT INTO schema_version VALUES (99)", false, "newer than this tollgate's", 99 },
	{ "foreign database refused", "CREATE TABLE t (x)", false,
	  "not a tollgate state database", -1 },
	{ "failed step rolled back", "CREATE TABLE schema_version (version INTEGER NOT NULL);"
	  "INSERT INTO schema_version VALUES (0); CREATE TABLE verdicts (x)", false,
	  "migration of the schema from version 0 to 1 failed: table verdicts already exists",
	  0 },
};

START_TEST(migrations)
{
	const struct migrate_case *c = &migrate_cases[_i];
	char *path = db_path(), err[256];
	struct tg_store *s;

	if (c->setup != NULL)
		raw_exec(path, c->setup);
	else
		fclose(fopen(path, "w"));
	s = tg_store_open(path, 0, 1000, err, sizeof(err));
	ck_assert_msg((s != NULL) == c->ok, "%s: %s", c->name, s ? "opened" : err);
	if (!c->ok)
		ck_assert_msg(strstr(err, c->error) != NULL, "%s: got \"%s\"", c->name, err);
	tg_store_close(&s);
	if (c->version_after >= 0)
		ck_assert_int_eq(raw_int(path, "SELECT version FROM schema_version"),
		    c->version_after);
	if (c->version_after == 0)	/* nothing of the failed step is left */
		ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE "
		    "name = 'recipients'"), 0);
	free(path);
}
END_TEST

START_TEST(garbage_file_refused)
{
	char *path = db_path(), err[256];
	FILE *fp = fopen(path, "w");
	double t0;

	for (int i = 0; i < 512; i++)
		fputs("this is not a database ", fp);
	fclose(fp);
	t0 = now_ms();
	ck_assert_ptr_null(tg_store_open(path, TG_STORE_CREATE, 100, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not a database") != NULL, "%s", err);
	ck_assert_msg(now_ms() - t0 < 100, "refusing took %.0f ms", now_ms() - t0);
	free(path);
}
END_TEST

/* ---------------------------------------------------------------- records */

START_TEST(record_round_trip)
{
	struct tg_config *cfg = load_cfg("");
	struct tg_conn *conn = sample(cfg, "<a@Remote.Example>", "win a prize");
	char *path = db_path(), err[256];
	struct tg_store *s = tg_store_open(path, TG_STORE_CREATE, 1000, err, sizeof(err));
	struct tg_arena *a = tg_arena_new();
	struct tg_store_rec r;
	int64_t id;

	ck_assert_msg(s != NULL, "%s", err);
	id = tg_store_record(s, conn->msg, TG_PH_EOM, NULL, 1700000000);
	ck_assert_msg(id > 0, "%s", tg_store_error(s));
	ck_assert_int_eq(tg_store_find(s, "4AbC12", a, &r), 1);
	ck_assert_int_eq(r.id, id);
	ck_assert_int_eq(r.time, 1700000000);
	ck_assert_str_eq(r.qid, "4AbC12");
	ck_assert_str_eq(r.ref, "4AbC12");
	ck_assert_uint_eq(r.phase, TG_PH_EOM);
	ck_assert_str_eq(r.client_ip, "198.51.100.7");
	ck_assert(r.addr_known && !r.trusted);
	ck_assert_str_eq(r.client_name, "mx.remote.example");
	ck_assert_str_eq(r.helo, "mx.remote.example");
	ck_assert_ptr_null(r.auth_user);
	ck_assert_str_eq(r.tls_version, "TLSv1.3");
	ck_assert_str_eq(r.sender, "<a@Remote.Example>");
	ck_assert_str_eq(r.sender_domain, "remote.example");
	ck_assert_uint_eq(r.nrcpts, 2);
	ck_assert_str_eq(r.rcpts[1], "<carol@example.org>");
	ck_assert_uint_eq(r.nrcpts_rejected, 1);
	ck_assert_str_eq(r.subject, "win a prize");
	ck_assert_str_eq(r.message_id, "<1@remote.example>");
	ck_assert_uint_eq(r.size, 4182);
	ck_assert_uint_eq(r.size_announced, 5000);
	ck_assert_uint_eq(r.nheaders, 4);
	ck_assert_str_eq(r.headers[3].name, "X-Folded");
	ck_assert_str_eq(r.headers[3].value, "one\n\ttwo");
	ck_assert_uint_eq(r.nresults, 2);
	ck_assert_str_eq(r.results[0].method, "spf");
	ck_assert_str_eq(r.results[0].outcome, "fail");
	ck_assert_uint_eq(r.results[0].phase, TG_PH_MAIL);
	ck_assert_str_eq(r.results[0].props, "smtp.mailfrom=a@remote.example");
	ck_assert_ptr_null(r.results[0].policy);
	ck_assert_str_eq(r.results[1].policy, "quarantine");
	ck_assert_int_eq(r.action, TG_QUARANTINE);
	ck_assert(!r.monitored);
	ck_assert_str_eq(r.code, "");
	ck_assert_str_eq(r.text, "held for review");
	ck_assert_str_eq(r.rule, "dmarc-quarantine");
	ck_assert(r.score == 3.0);
	ck_assert_uint_eq(r.nreasons, 3);
	ck_assert_str_eq(r.reasons[0], "spf-fail(+3.0)");
	/* the deciding rule first, then the others that fired */
	ck_assert_uint_eq(r.nrules, 3);
	ck_assert_str_eq(r.rules[0], "dmarc-quarantine");
	ck_assert_str_eq(r.rules[1], "spf-fail");
	ck_assert_str_eq(r.rules[2], "new-rule");
	ck_assert_int_eq(r.state, TG_QS_HELD);
	ck_assert_ptr_null(r.state_by);
	ck_assert_int_eq(tg_store_find(s, "nosuch", a, &r), 0);
	tg_arena_free(&a);
	tg_store_close(&s);
	tg_conn_free(&conn);
	free(path);
}
END_TEST

static int
collect(const struct tg_store_rec *rec, void *arg)
{
	struct tg_strbuf *sb = arg;

	tg_strbuf_printf(sb, "%s%s", sb->len ? "," : "", rec->subject ? rec->subject : "-");
	return 0;
}

/* filtered - subjects of the records f selects, newest first */
static char *
filtered(struct tg_store *s, const struct tg_store_filter *f)
{
	struct tg_strbuf sb = { 0 };
	char *v;

	ck_assert_int_ge(tg_store_each(s, f, collect, &sb), 0);
	v = xstrdup(tg_strbuf_str(&sb));
	tg_strbuf_free(&sb);
	return v;
}

START_TEST(filters_states_and_forgetting)
{
	struct tg_config *cfg = load_cfg("");
	char *path = db_path(), err[256], *got;
	struct tg_store *s = tg_store_open(path, TG_STORE_CREATE, 1000, err, sizeof(err));
	static const struct {
		const char *sender, *subject;
		enum tg_action action;
		time_t t;
	} msgs[] = {
		{ "<a@remote.example>", "old", TG_QUARANTINE, 1000 },
		{ "<b@other.example>", "tagged", TG_TAG, 2000 },
		{ "<c@remote.example>", "held", TG_QUARANTINE, 3000 },
		{ "<>", "bounce", TG_REJECT, 4000 },
	};
	struct tg_store_filter f = { 0 };
	struct tg_store_stats st;
	struct tg_arena *a = tg_arena_new();
	struct tg_store_rec r;
	unsigned long n;

	ck_assert_msg(s != NULL, "%s", err);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct tg_conn *conn = sample(cfg, msgs[i].sender, msgs[i].subject);

		cfg->refs++;	/* each conn drops one */
		conn->msg->verdict.action = msgs[i].action;
		if (msgs[i].action == TG_REJECT)
			tg_verdict_set(&conn->msg->verdict, TG_REJECT, "550", "5.7.1", "no", "r");
		conn->msg->qid = tg_arena_printf(conn->msg->arena, "Q%zu", i);
		ck_assert_int_gt(tg_store_record(s, conn->msg, TG_PH_EOM, NULL, msgs[i].t), 0);
		tg_conn_free(&conn);
	}
	got = filtered(s, &f);
	ck_assert_str_eq(got, "bounce,held,tagged,old");
	free(got);
	f = (struct tg_store_filter){ .held = true };
	got = filtered(s, &f);
	ck_assert_str_eq(got, "held,old");
	free(got);
	f = (struct tg_store_filter){ .sender = "REMOTE.example", .oldest_first = true };
	got = filtered(s, &f);
	ck_assert_str_eq(got, "old,held");
	free(got);
	f = (struct tg_store_filter){ .since = 2000, .until = 4000 };
	got = filtered(s, &f);
	ck_assert_str_eq(got, "held,tagged");
	free(got);
	f = (struct tg_store_filter){ .recipient = "carol@", .reason = "SPF-FAIL", .limit = 1 };
	got = filtered(s, &f);
	ck_assert_str_eq(got, "bounce");
	free(got);
	f = (struct tg_store_filter){ .rule = "r" };
	got = filtered(s, &f);
	ck_assert_str_eq(got, "bounce");
	free(got);
	f = (struct tg_store_filter){ .rule = "spf" };	/* exact names only */
	got = filtered(s, &f);
	ck_assert_str_eq(got, "");
	free(got);

	/* release the held one: who and when */
	ck_assert_int_eq(tg_store_find(s, "Q2", a, &r), 1);
	ck_assert_int_eq(tg_store_set_state(s, r.id, TG_QS_RELEASED, "alice", 5000), 0);
	ck_assert_int_eq(tg_store_find(s, "Q2", a, &r), 1);
	ck_assert_int_eq(r.state, TG_QS_RELEASED);
	ck_assert_str_eq(r.state_by, "alice");
	ck_assert_int_eq(r.state_time, 5000);
	/* a tagged message has no quarantine state to change */
	ck_assert_int_eq(tg_store_find(s, "Q1", a, &r), 1);
	ck_assert_int_eq(tg_store_set_state(s, r.id, TG_QS_DELETED, "alice", 5000), -1);
	ck_assert_msg(strstr(tg_store_error(s), "no quarantine record") != NULL, "%s",
	    tg_store_error(s));

	ck_assert_int_eq(tg_store_stats(s, 0, 5, a, &st), 0);
	ck_assert_uint_eq(st.total, 4);
	ck_assert_uint_eq(st.actions[TG_QUARANTINE], 2);
	ck_assert_uint_eq(st.actions[TG_REJECT], 1);
	ck_assert_uint_eq(st.states[TG_QS_HELD], 1);
	ck_assert_uint_eq(st.states[TG_QS_RELEASED], 1);
	ck_assert_uint_eq(st.nclients, 1);
	ck_assert_str_eq(st.clients[0].key, "198.51.100.7");
	ck_assert_uint_eq(st.ndomains, 0);	/* the reject was a bounce */
	ck_assert_uint_eq(st.nrules, 4);
	ck_assert_str_eq(st.rules[0].key, "dmarc-quarantine");
	ck_assert_uint_eq(st.rules[0].n, 4);
	ck_assert_str_eq(st.rules[3].key, "r");
	ck_assert_uint_eq(st.rules[3].n, 1);

	/* forgetting keeps what is still held */
	ck_assert_int_eq(tg_store_forget(s, 3500, &n), 0);
	ck_assert_uint_eq(n, 2);	/* tagged (2000) and released (3000) */
	f = (struct tg_store_filter){ 0 };
	got = filtered(s, &f);
	ck_assert_str_eq(got, "bounce,old");
	free(got);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM results"), 4);
	tg_arena_free(&a);
	tg_store_close(&s);
	tg_config_release(&cfg);
	free(path);
}
END_TEST

/* ---------------------------------------------------------------- locks */

START_TEST(locked_database_bounded)
{
	struct tg_config *cfg = load_cfg("");
	struct tg_conn *conn = sample(cfg, "<a@remote.example>", "s");
	char *path = db_path(), err[256];
	struct tg_store *s = tg_store_open(path, TG_STORE_CREATE, 100, err, sizeof(err));
	sqlite3 *other;
	double t0, took;
	char *got;

	ck_assert_msg(s != NULL, "%s", err);
	other = hold_lock(path);
	t0 = now_ms();
	ck_assert_int_eq(tg_store_record(s, conn->msg, TG_PH_EOM, NULL, 1), -1);
	took = now_ms() - t0;
	ck_assert_msg(took >= 80 && took < 300, "locked write gave up after %.1f ms", took);
	ck_assert_msg(strstr(tg_store_error(s), "locked") != NULL, "%s", tg_store_error(s));
	ck_assert(!tg_store_broken(s));
	/* reading is not blocked by the writer (WAL) */
	got = filtered(s, NULL);
	free(got);
	sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(other);
	ck_assert_int_gt(tg_store_record(s, conn->msg, TG_PH_EOM, NULL, 1), 0);
	tg_store_close(&s);
	tg_conn_free(&conn);
	free(path);
}
END_TEST

/* the daemon's recorder: a verdict is never held up by the store; one
   another process keeps locked for a while gets the record once the
   lock is gone, and a broken one costs nothing */
START_TEST(recorder_bounded)
{
	char *path = db_path(), *extra;
	struct tg_config *cfg;
	struct tg_conn *conn;
	sqlite3 *other;
	double t0, took;

	extra = xasprintf("StateDB %s\nStoreTimeout 50ms\nRecordVerdicts quarantine\n", path);
	cfg = load_cfg(extra);
	tg_config_publish(cfg);
	tg_recorder_start();
	conn = sample(tg_config_acquire(), "<a@remote.example>", "s");
	tg_recorder_record(conn->msg, TG_PH_EOM, NULL);
	tg_recorder_flush();
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM verdicts"), 1);

	/* locked for 400 ms, eight times StoreTimeout */
	other = hold_lock(path);
	t0 = now_ms();
	tg_recorder_record(conn->msg, TG_PH_EOM, NULL);
	took = now_ms() - t0;
	ck_assert_msg(took < 20, "a locked store held the verdict for %.1f ms", took);
	usleep(400 * 1000);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM verdicts"), 1);
	let_go(other);
	tg_recorder_flush();
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM verdicts"), 2);
	ck_assert_int_eq(conn->msg->verdict.action, TG_QUARANTINE);

	/* RecordVerdicts quarantine: an accepted message is not recorded */
	conn->msg->verdict.action = TG_ACCEPT;
	tg_recorder_record(conn->msg, TG_PH_EOM, NULL);
	tg_recorder_flush();
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM verdicts"), 2);

	/* after stop (at exit, a connection still finishing): written at once */
	tg_recorder_stop();
	conn->msg->verdict.action = TG_QUARANTINE;
	tg_recorder_record(conn->msg, TG_PH_EOM, NULL);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM verdicts"), 3);
	tg_conn_free(&conn);
	tg_recorder_stop();
	tg_config_publish(NULL);
	free(extra);

	/* a directory where the file should be: open fails fast, then not retried */
	extra = xasprintf("StateDB %s\nStoreTimeout 50ms\n", dir);
	cfg = load_cfg(extra);
	tg_config_publish(cfg);
	conn = sample(tg_config_acquire(), "<a@remote.example>", "s");
	t0 = now_ms();
	tg_recorder_record(conn->msg, TG_PH_EOM, NULL);
	tg_recorder_record(conn->msg, TG_PH_EOM, NULL);
	took = now_ms() - t0;
	ck_assert_msg(took < 100, "an unusable store took %.1f ms", took);
	ck_assert_int_eq(conn->msg->verdict.action, TG_QUARANTINE);
	recorder_done(&conn, extra, path);
}
END_TEST

/* what recorder_threads' threads share */
struct rec_thread {
	struct tg_conn *conn;
	int n;
	double worst_ms;
};

static void *
record_many(void *arg)
{
	struct rec_thread *t = arg;

	for (int i = 0; i < t->n; i++) {
		double t0 = now_ms(), took;

		tg_recorder_record(t->conn->msg, TG_PH_EOM, NULL);
		took = now_ms() - t0;
		if (took > t->worst_ms)
			t->worst_ms = took;
	}
	return NULL;
}

/* many connections recording at once (RecordVerdicts all): every record
   is written, none waits for another */
START_TEST(recorder_threads)
{
	enum { THREADS = 8, EACH = 100 };
	char *path = db_path(), *extra;
	struct rec_thread t[THREADS];
	pthread_t tid[THREADS];
	double worst = 0;

	extra = xasprintf("StateDB %s\nRecordVerdicts all\n", path);
	tg_config_publish(load_cfg(extra));
	tg_recorder_start();
	for (int i = 0; i < THREADS; i++)	/* sample() writes a static array */
		t[i] = (struct rec_thread){ .conn = sample(tg_config_acquire(),
		    "<a@remote.example>", "s"), .n = EACH };
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&tid[i], NULL, record_many, &t[i]), 0);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		if (t[i].worst_ms > worst)
			worst = t[i].worst_ms;
		tg_conn_free(&t[i].conn);
	}
	tg_recorder_stop();	/* writes what is still queued */
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM verdicts"), THREADS * EACH);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM results"), THREADS * EACH * 2);
	printf("# recorder: %d threads x %d records, slowest call %.2f ms\n", THREADS, EACH,
	    worst);
	tg_config_publish(NULL);
	free(extra);
	free(path);
}
END_TEST

/* a store locked for long: the queue keeps what it can (1000 records
   and a batch in hand), the rest are dropped, and the verdicts go on */
START_TEST(recorder_queue_full)
{
	char *path = db_path(), *extra;
	struct tg_conn *conn;
	sqlite3 *other;
	double t0;
	int n;

	extra = xasprintf("StateDB %s\nRecordVerdicts all\nStoreTimeout 20ms\n", path);
	tg_config_publish(load_cfg(extra));
	tg_recorder_start();
	conn = sample(tg_config_acquire(), "<a@remote.example>", "s");
	other = hold_lock(path);
	t0 = now_ms();
	for (int i = 0; i < 1500; i++)
		tg_recorder_record(conn->msg, TG_PH_EOM, NULL);
	ck_assert_msg(now_ms() - t0 < 1000, "1500 verdicts took %.1f ms", now_ms() - t0);
	let_go(other);
	tg_recorder_flush();
	n = raw_int(path, "SELECT count(*) FROM verdicts");
	ck_assert_msg(n >= 1000 && n <= 1200, "%d of 1500 recorded", n);
	recorder_done(&conn, extra, path);
}
END_TEST

/* the cost of a record: a figure for the log, and a loose ceiling */
START_TEST(record_speed)
{
	struct tg_config *cfg = load_cfg("");
	struct tg_conn *conn = sample(cfg, "<a@remote.example>", "s");
	char *path = db_path(), err[256];
	struct tg_store *s = tg_store_open(path, TG_STORE_CREATE, 1000, err, sizeof(err));
	double t0, per;
	const int n = 500;

	ck_assert_msg(s != NULL, "%s", err);
	t0 = now_ms();
	for (int i = 0; i < n; i++)
		ck_assert_int_gt(tg_store_record(s, conn->msg, TG_PH_EOM, NULL, i), 0);
	per = (now_ms() - t0) / n;
	printf("# store: %d records, %.3f ms each\n", n, per);
	ck_assert_msg(per < 20.0, "%.3f ms per record", per);
	tg_store_close(&s);
	tg_conn_free(&conn);
	free(path);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tg_test_tcase(s, "store");
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	umask(022);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, new_file_gets_schema);
	tcase_add_test(tc, missing_file_without_create);
	TG_LOOP_TEST(tc, migrations, migrate_cases);
	tcase_add_test(tc, garbage_file_refused);
	tcase_add_test(tc, record_round_trip);
	tcase_add_test(tc, filters_states_and_forgetting);
	tcase_add_test(tc, locked_database_bounded);
	tcase_add_test(tc, recorder_bounded);
	tcase_add_test(tc, recorder_threads);
	tcase_add_test(tc, recorder_queue_full);
	tcase_add_test(tc, record_speed);
	rc = tg_test_run(s);
	tg_test_rmtree(dir);
	return rc;
}
