/*
 * store_read - the queries of the verdict store (see store.h): records
 * with their recipients, results, reasons and rules, filtered for
 * tollgatectl; and the counts of tollgatectl stats.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "checks/check.h"
#include "store.h"
#include "store_int.h"
#include "util/arena.h"
#include "util/strbuf.h"

/* ---------------------------------------------------------------- read */

/* col_str - a text column copied into a; NULL for NULL */
static const char *
col_str(struct tg_arena *a, sqlite3_stmt *st, int i)
{
	const unsigned char *v = sqlite3_column_text(st, i);

	return v != NULL ? tg_arena_strdup(a, (const char *)v) : NULL;
}

/* strings_of - the text column of a child query, as an array */
static int
strings_of(struct tg_store *s, enum stmt_id id, int64_t verdict, struct tg_arena *a,
    const char ***v_r, size_t *n_r)
{
	sqlite3_stmt *st = tg_store_prepare(s, id);
	size_t n = 0, cap = 4;
	const char **v = tg_arena_alloc(a, cap * sizeof(*v));
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, verdict);
	while (tg_store_arm(s), (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			const char **nv = tg_arena_alloc(a, cap * 2 * sizeof(*nv));

			memcpy(nv, v, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		v[n++] = col_str(a, st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return tg_store_fail(s, rc, "cannot read");
	*v_r = v;
	*n_r = n;
	return 0;
}

/* results_of - the results rows of a verdict */
static int
results_of(struct tg_store *s, struct tg_store_rec *rec, struct tg_arena *a)
{
	sqlite3_stmt *st = tg_store_prepare(s, ST_GET_RESULTS);
	size_t cap = 8;
	struct tg_store_result *v = tg_arena_alloc(a, cap * sizeof(*v));
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, rec->id);
	rec->nresults = 0;
	while (tg_store_arm(s), (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct tg_store_result *r;

		if (rec->nresults == cap) {
			struct tg_store_result *nv = tg_arena_alloc(a, cap * 2 * sizeof(*nv));

			memcpy(nv, v, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		r = &v[rec->nresults++];
		r->method = col_str(a, st, 0);
		r->outcome = col_str(a, st, 1);
		r->phase = (unsigned int)sqlite3_column_int(st, 2);
		r->reason = col_str(a, st, 3);
		r->policy = col_str(a, st, 4);
		r->domain = col_str(a, st, 5);
		r->props = col_str(a, st, 6);
		r->internal = sqlite3_column_int(st, 7) != 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return tg_store_fail(s, rc, "cannot read results");
	rec->results = v;
	return 0;
}

/* headers_of - split the headers blob */
static void
headers_of(sqlite3_stmt *st, int col, struct tg_store_rec *rec, struct tg_arena *a)
{
	const char *p = sqlite3_column_blob(st, col), *end;
	size_t n = 0, len = (size_t)sqlite3_column_bytes(st, col);
	struct tg_store_header *h;

	rec->headers = NULL;
	rec->nheaders = 0;
	if (p == NULL)
		return;
	for (size_t i = 0; i < len; i++)
		n += p[i] == '\0';
	h = tg_arena_alloc(a, (n / 2 + 1) * sizeof(*h));
	end = p + len;
	while (p < end && memchr(p, '\0', (size_t)(end - p)) != NULL) {
		const char *value = p + strlen(p) + 1;

		if (value >= end || memchr(value, '\0', (size_t)(end - value)) == NULL)
			break;
		h[rec->nheaders].name = tg_arena_strdup(a, p);
		h[rec->nheaders].value = tg_arena_strdup(a, value);
		rec->nheaders++;
		p = value + strlen(value) + 1;
	}
	rec->headers = h;
}

/* row - a verdicts row (STORE_COLUMNS order) and its children into rec */
static int
row(struct tg_store *s, sqlite3_stmt *st, struct tg_arena *a, struct tg_store_rec *rec)
{
	const char *state, *act;
	int c = 0;

	memset(rec, 0, sizeof(*rec));
	rec->id = sqlite3_column_int64(st, c++);
	rec->time = (time_t)sqlite3_column_int64(st, c++);
	rec->qid = col_str(a, st, c++);
	rec->ref = col_str(a, st, c++);
	rec->phase = (unsigned int)sqlite3_column_int(st, c++);
	rec->client_ip = col_str(a, st, c++);
	rec->addr_known = sqlite3_column_int(st, c++) != 0;
	rec->trusted = sqlite3_column_int(st, c++) != 0;
	rec->client_name = col_str(a, st, c++);
	rec->helo = col_str(a, st, c++);
	rec->auth_user = col_str(a, st, c++);
	rec->tls_version = col_str(a, st, c++);
	rec->daemon_name = col_str(a, st, c++);
	rec->sender = col_str(a, st, c++);
	rec->sender_domain = col_str(a, st, c++);
	rec->nrcpts_rejected = (unsigned int)sqlite3_column_int(st, c++);
	rec->subject = col_str(a, st, c++);
	rec->message_id = col_str(a, st, c++);
	rec->size = (uint64_t)sqlite3_column_int64(st, c++);
	rec->size_announced = (uint64_t)sqlite3_column_int64(st, c++);
	headers_of(st, c++, rec, a);
	act = (const char *)sqlite3_column_text(st, c++);
	rec->action = act && tg_action_parse(act) >= 0 ? (enum tg_action)tg_action_parse(act)
	    : TG_ACCEPT;
	rec->monitored = sqlite3_column_int(st, c++) != 0;
	act = (const char *)sqlite3_column_text(st, c++);
	rec->would = act && tg_action_parse(act) >= 0 ? (enum tg_action)tg_action_parse(act)
	    : rec->action;
	rec->code = col_str(a, st, c++);
	rec->xcode = col_str(a, st, c++);
	rec->text = col_str(a, st, c++);
	rec->rule = col_str(a, st, c++);
	rec->score = sqlite3_column_double(st, c++);
	rec->ms = sqlite3_column_double(st, c++);
	state = (const char *)sqlite3_column_text(st, c++);
	rec->state = state && tg_qstate_parse(state) > 0 ? (enum tg_qstate)tg_qstate_parse(state)
	    : TG_QS_NONE;
	rec->state_time = (time_t)sqlite3_column_int64(st, c++);
	rec->state_by = col_str(a, st, c++);
	if (strings_of(s, ST_GET_RCPTS, rec->id, a, &rec->rcpts, &rec->nrcpts) < 0
	    || results_of(s, rec, a) < 0
	    || strings_of(s, ST_GET_REASONS, rec->id, a, &rec->reasons, &rec->nreasons) < 0
	    || strings_of(s, ST_GET_RULES, rec->id, a, &rec->rules, &rec->nrules) < 0)
		return -1;
	return 0;
}

/* where - the WHERE clause of a filter (binds follow in bind_filter) */
static void
where(const struct tg_store_filter *f, struct tg_strbuf *sql)
{
	tg_strbuf_append(sql, " WHERE 1");
	if (f->since)
		tg_strbuf_append(sql, " AND v.time >= :since");
	if (f->until)
		tg_strbuf_append(sql, " AND v.time < :until");
	if (f->id)
		tg_strbuf_append(sql, " AND v.id = :id");
	if (f->qid)
		tg_strbuf_append(sql, " AND v.qid = :qid");
	if (f->sender)
		tg_strbuf_append(sql, " AND instr(lower(v.sender), lower(:sender)) > 0");
	if (f->recipient)
		tg_strbuf_append(sql, " AND EXISTS (SELECT 1 FROM recipients x WHERE "
		    "x.verdict = v.id AND instr(lower(x.addr), lower(:rcpt)) > 0)");
	if (f->reason)
		tg_strbuf_append(sql, " AND EXISTS (SELECT 1 FROM reasons x WHERE "
		    "x.verdict = v.id AND instr(lower(x.reason), lower(:reason)) > 0)");
	if (f->rule)
		tg_strbuf_append(sql, " AND EXISTS (SELECT 1 FROM rules x WHERE "
		    "x.verdict = v.id AND x.rule = :rule)");
	if (f->quarantined)
		tg_strbuf_append(sql, " AND v.state IS NOT NULL");
	if (f->held)
		tg_strbuf_append(sql, " AND v.state = 'held'");
	if (f->eom)
		tg_strbuf_printf(sql, " AND v.phase = %d", TG_PH_EOM);
}

static void
bind_named(sqlite3_stmt *st, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i > 0)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void
bind_filter(sqlite3_stmt *st, const struct tg_store_filter *f)
{
	int i;

	if ((i = sqlite3_bind_parameter_index(st, ":since")) > 0)
		sqlite3_bind_int64(st, i, (sqlite3_int64)f->since);
	if ((i = sqlite3_bind_parameter_index(st, ":until")) > 0)
		sqlite3_bind_int64(st, i, (sqlite3_int64)f->until);
	if ((i = sqlite3_bind_parameter_index(st, ":id")) > 0)
		sqlite3_bind_int64(st, i, f->id);
	bind_named(st, ":qid", f->qid);
	bind_named(st, ":sender", f->sender);
	bind_named(st, ":rcpt", f->recipient);
	bind_named(st, ":reason", f->reason);
	bind_named(st, ":rule", f->rule);
}

/* each - tg_store_each(); keep non-NULL: records live in it */
static long
each(struct tg_store *s, const struct tg_store_filter *f, tg_store_each_fn *fn, void *arg,
    struct tg_arena *keep)
{
	static const struct tg_store_filter none;
	struct tg_strbuf sql = { 0 };
	sqlite3_stmt *st = NULL;
	long n = 0;
	int rc;

	if (f == NULL)
		f = &none;
	tg_store_begin_call(s);
	tg_strbuf_append(&sql, "SELECT " STORE_COLUMNS " FROM verdicts v");
	where(f, &sql);
	tg_strbuf_append(&sql, f->oldest_first ? " ORDER BY v.time, v.id"
	    : " ORDER BY v.time DESC, v.id DESC");
	if (f->limit > 0)
		tg_strbuf_printf(&sql, " LIMIT %u", f->limit);
	tg_store_arm(s);
	rc = sqlite3_prepare_v2(s->db, sql.s, -1, &st, NULL);
	tg_strbuf_free(&sql);
	if (rc != SQLITE_OK)
		return tg_store_fail(s, rc, "cannot query");
	bind_filter(st, f);
	while (tg_store_arm(s), (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct tg_arena *a = keep ? keep : tg_arena_new();
		struct tg_store_rec rec;
		int stop;

		if (row(s, st, a, &rec) < 0) {
			if (keep == NULL)
				tg_arena_free(&a);
			sqlite3_finalize(st);
			return -1;
		}
		n++;
		stop = fn(&rec, arg);
		if (keep == NULL)
			tg_arena_free(&a);
		if (stop)
			break;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return tg_store_fail(s, rc, "cannot query");
	return n;
}

long
tg_store_each(struct tg_store *s, const struct tg_store_filter *f, tg_store_each_fn *fn,
    void *arg)
{
	return each(s, f, fn, arg, NULL);
}

static int
copy_rec(const struct tg_store_rec *rec, void *arg)
{
	*(struct tg_store_rec *)arg = *rec;
	return 1;
}

int
tg_store_find(struct tg_store *s, const char *qid, struct tg_arena *a,
    struct tg_store_rec *rec_r)
{
	struct tg_store_filter f = { .qid = qid, .eom = true, .limit = 1 };
	long n = each(s, &f, copy_rec, rec_r, a);

	return n < 0 ? -1 : n > 0;
}

/* ---------------------------------------------------------------- stats */

/* top - "key, count" rows of sql (binds: ?1 since, ?2 limit if used) */
static int
top(struct tg_store *s, const char *sql, time_t since, unsigned int limit,
    struct tg_arena *a, struct tg_store_count **v_r, size_t *n_r)
{
	sqlite3_stmt *st = NULL;
	struct tg_store_count *v = tg_arena_alloc(a, (limit + 1) * sizeof(*v));
	size_t n = 0;
	int rc;

	tg_store_arm(s);
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return tg_store_fail(s, rc, "cannot count");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	sqlite3_bind_int(st, 2, (int)limit);
	while (tg_store_arm(s), (rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
		v[n].key = col_str(a, st, 0);
		if (v[n].key == NULL)
			v[n].key = "";
		v[n++].n = (unsigned long)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return tg_store_fail(s, rc, "cannot count");
	*v_r = v;
	*n_r = n;
	return 0;
}

/* timing - average and longest verdict time at end of message */
static int
timing(struct tg_store *s, time_t since, struct tg_store_stats *st)
{
	sqlite3_stmt *q = NULL;
	char sql[160];
	int rc;

	snprintf(sql, sizeof(sql), "SELECT avg(ms), max(ms) FROM verdicts WHERE "
	    "time >= ?1 AND phase = %d", TG_PH_EOM);
	tg_store_arm(s);
	rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
	if (rc != SQLITE_OK)
		return tg_store_fail(s, rc, "cannot count");
	sqlite3_bind_int64(q, 1, (sqlite3_int64)since);
	tg_store_arm(s);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		st->ms_avg = sqlite3_column_double(q, 0);
		st->ms_max = sqlite3_column_double(q, 1);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : tg_store_fail(s, rc, "cannot count");
}

int
tg_store_stats(struct tg_store *s, time_t since, unsigned int limit, struct tg_arena *a,
    struct tg_store_stats *st)
{
	struct tg_store_count *c;
	size_t n;

	memset(st, 0, sizeof(*st));
	tg_store_begin_call(s);
	if (top(s, "SELECT action, count(*) FROM verdicts WHERE time >= ?1 "
	    "GROUP BY action", since, 16, a, &c, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int act = tg_action_parse(c[i].key);

		if (act >= 0)
			st->actions[act] = c[i].n;
		st->total += c[i].n;
	}
	if (top(s, "SELECT state, count(*) FROM verdicts WHERE time >= ?1 AND "
	    "state IS NOT NULL GROUP BY state", since, 16, a, &c, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (tg_qstate_parse(c[i].key) > 0)
			st->states[tg_qstate_parse(c[i].key)] = c[i].n;
	if (top(s, "SELECT 'monitored', count(*) FROM verdicts WHERE time >= ?1 "
	    "AND monitored", since, 1, a, &c, &n) < 0)
		return -1;
	st->monitored = n ? c[0].n : 0;
	if (timing(s, since, st) < 0)
		return -1;
	if (top(s, "SELECT x.reason, count(*) AS n FROM reasons x JOIN verdicts v ON "
	    "v.id = x.verdict WHERE v.time >= ?1 GROUP BY x.reason ORDER BY n DESC, x.reason "
	    "LIMIT ?2", since, limit, a, &st->reasons, &st->nreasons) < 0
	    || top(s, "SELECT x.rule, count(*) AS n FROM rules x JOIN verdicts v ON "
	    "v.id = x.verdict WHERE v.time >= ?1 GROUP BY x.rule ORDER BY n DESC, x.rule "
	    "LIMIT ?2", since, limit, a, &st->rules, &st->nrules) < 0
	    || top(s, "SELECT client_ip, count(*) AS n FROM verdicts WHERE time >= ?1 AND "
	    "(action = 'reject' OR would = 'reject') GROUP BY client_ip "
	    "ORDER BY n DESC, client_ip LIMIT ?2", since, limit, a, &st->clients,
	    &st->nclients) < 0
	    || top(s, "SELECT sender_domain, count(*) AS n FROM verdicts WHERE time >= ?1 "
	    "AND (action = 'reject' OR would = 'reject') AND sender_domain IS NOT NULL "
	    "GROUP BY sender_domain ORDER BY n DESC, sender_domain LIMIT ?2", since, limit,
	    a, &st->domains, &st->ndomains) < 0)
		return -1;
	return 0;
}
