/*
 * qchange - tollgatectl quarantine release, delete and purge: the
 * commands that change something, in Postfix (postsuper) and in the
 * store (who did it, when). Each message is checked on both sides
 * first; a message Postfix no longer holds is never "released".
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/fmt.h"
#include "ctl/postfix.h"
#include "ctl/quarantine.h"
#include "store.h"
#include "util/arena.h"
#include "util/strbuf.h"

enum change { RELEASE, DELETE };

/* postsuper - -H or -d one held message; true when Postfix says it did */
static bool
postsuper(const struct tg_qctx *q, enum change what, const char *qid, struct tg_strbuf *err)
{
	const char *args[] = { what == RELEASE ? "-H" : "-d", qid, "hold", NULL };
	const char *expect = what == RELEASE ? "Released from hold: 1 message"
	    : "Deleted: 1 message";
	struct tg_strbuf out = { 0 };
	int rc = tg_pf_run(q->pfdir, "postsuper", args, &out);
	bool ok = rc == 0 && strstr(tg_strbuf_str(&out), expect) != NULL;

	if (!ok) {
		const char *text = tg_strbuf_str(&out);

		tg_strbuf_printf(err, "postsuper %s %s failed: %.*s", args[0], qid,
		    (int)strcspn(text, "\n"), text[0] ? text : "no output");
	}
	tg_strbuf_free(&out);
	return ok;
}

/* change_one - release or delete one message; 0 or -1 (reported) */
static int
change_one(struct tg_qctx *q, enum change what, const char *qid, const char *by,
    struct tg_strbuf *out)
{
	const char *verb = what == RELEASE ? "released" : "deleted";
	struct tg_arena *a = tg_arena_new();
	const struct tg_pf_entry *e;
	struct tg_store_rec rec;
	struct tg_strbuf err = { 0 }, who_when = { 0 };
	int found, rc = -1;

	if (!tg_pf_valid_qid(qid)) {
		tg_ctl_error("\"%s\" is not a Postfix queue id", qid);
		goto out;
	}
	found = tg_store_find(q->store, qid, a, &rec);
	e = tg_pf_find(&q->queue, qid);
	if (found < 0) {
		tg_ctl_error("%s", tg_store_error(q->store));
	} else if (found == 0 && e == NULL) {
		tg_ctl_error("%s: unknown queue id: tollgate recorded no verdict for it and "
		    "Postfix does not have it", qid);
	} else if (found && rec.state == TG_QS_NONE && e == NULL) {
		tg_ctl_error("%s: tollgate did not hold this message (verdict %s) and Postfix "
		    "does not have it", qid, tg_action_name(rec.action));
	} else if (found && rec.state != TG_QS_HELD && rec.state != TG_QS_NONE) {
		tg_fmt_time(&who_when, rec.state_time);
		tg_ctl_error("%s: already %s by %s at %s", qid, tg_qstate_name(rec.state),
		    rec.state_by ? rec.state_by : "?", tg_strbuf_str(&who_when));
	} else if (e == NULL && what == DELETE) {
		/* the record says held, Postfix lost it: deleting settles it */
		if (tg_store_set_state(q->store, rec.id, TG_QS_DELETED, by, time(NULL)) < 0)
			tg_ctl_error("%s: %s", qid, tg_store_error(q->store));
		else {
			tg_strbuf_printf(out, "%s: Postfix no longer had it; recorded as deleted\n",
			    qid);
			rc = 0;
		}
	} else if (e == NULL || strcmp(e->queue, "hold") != 0) {
		tg_ctl_error("%s: Postfix does not hold this message %s%s%s; nothing %s", qid,
		    e ? "(it is in the " : "(it is gone)", e ? e->queue : "", e ? " queue)" : "",
		    verb);
	} else if (!postsuper(q, what, qid, &err)) {
		tg_ctl_error("%s", tg_strbuf_str(&err));
	} else {
		rc = 0;
		tg_strbuf_printf(out, "%s %s (from %s to %s", verb, qid,
		    e->sender[0] ? e->sender : "<>", e->nrcpts ? e->rcpts[0] : "-");
		tg_strbuf_printf(out, e->nrcpts > 1 ? " +%zu)" : ")", e->nrcpts - 1);
		if (!found || rec.state == TG_QS_NONE)
			tg_strbuf_append(out, "; tollgate had not held it");
		else if (tg_store_set_state(q->store, rec.id, what == RELEASE ? TG_QS_RELEASED
		    : TG_QS_DELETED, by, time(NULL)) < 0)
			tg_strbuf_printf(out, "; but recording it failed: %s",
			    tg_store_error(q->store));
		tg_strbuf_addch(out, '\n');
	}
out:
	tg_strbuf_free(&err);
	tg_strbuf_free(&who_when);
	tg_arena_free(&a);
	return rc;
}

int
tg_qctl_change(struct tg_ctl *c, bool release, int argc, char **argv)
{
	static const struct option opts[] = { TG_CTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
	enum change what = release ? RELEASE : DELETE;
	struct tg_strbuf out = { 0 };
	char *by;
	struct tg_qctx q;
	int stop, failed = 0, done = 0;

	tg_ctl_getopt(c, argc, argv, opts, tg_qctl_help, &stop);	/* none of its own */
	if (stop >= 0)
		return stop;
	if (optind == argc)
		return tg_ctl_usage_error("quarantine", "%s needs one or more queue ids",
		    what == RELEASE ? "release" : "delete");
	if (tg_qctx_open(&q, c, true) < 0)
		return TG_CTL_FAILED;
	by = tg_qctx_who();
	for (int i = optind; i < argc; i++) {
		if (change_one(&q, what, argv[i], by, &out) < 0)
			failed++;
		else
			done++;
		tg_ctl_print(&out);
	}
	if (what == RELEASE && done > 0) {
		static const char *const flush[] = { "-f", NULL };
		struct tg_strbuf err = { 0 };

		/* released mail waits in the deferred queue: deliver it now */
		if (tg_pf_run(q.pfdir, "postqueue", flush, &err) != 0)
			fprintf(stderr, "tollgatectl: warning: postqueue -f failed (%.*s): Postfix "
			    "delivers released mail at its next queue run\n",
			    (int)strcspn(tg_strbuf_str(&err), "\n"), tg_strbuf_str(&err));
		tg_strbuf_free(&err);
	}
	free(by);
	tg_strbuf_free(&out);
	tg_qctx_close(&q);
	return failed ? TG_CTL_FAILED : TG_CTL_OK;
}

/* ---------------------------------------------------------------- purge */

struct purge {
	struct tg_qctx *q;
	bool dry_run;
	const char *by;
	unsigned long expired, failed;
	struct tg_strbuf out;
};

static int
purge_one(const struct tg_store_rec *rec, void *arg)
{
	struct purge *p = arg;
	const struct tg_pf_entry *e = rec->qid ? tg_pf_find(&p->q->queue, rec->qid) : NULL;
	bool held = e != NULL && strcmp(e->queue, "hold") == 0;
	struct tg_strbuf err = { 0 };

	if (p->dry_run) {
		tg_strbuf_printf(&p->out, "would expire %s%s\n", rec->qid ? rec->qid : rec->ref,
		    held ? "" : " (Postfix no longer holds it)");
		p->expired++;
		return 0;
	}
	if (held && !postsuper(p->q, DELETE, rec->qid, &err)) {
		tg_ctl_error("%s", tg_strbuf_str(&err));
		p->failed++;
	} else if (tg_store_set_state(p->q->store, rec->id, TG_QS_EXPIRED, p->by,
	    time(NULL)) < 0) {
		tg_ctl_error("%s", tg_store_error(p->q->store));
		p->failed++;
	} else {
		tg_strbuf_printf(&p->out, "expired %s%s\n", rec->qid ? rec->qid : rec->ref,
		    held ? "" : " (Postfix no longer held it)");
		p->expired++;
	}
	tg_strbuf_free(&err);
	return 0;
}

int
tg_qctl_purge(struct tg_ctl *c, int argc, char **argv)
{
	enum { O_OLDER = 256, O_FORGET, O_DRY };
	static const struct option opts[] = {
		TG_CTL_COMMON_OPTS,
		{ "older-than", required_argument, NULL, O_OLDER },
		{ "forget", no_argument, NULL, O_FORGET },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ NULL, 0, NULL, 0 },
	};
	struct tg_store_filter f = { .quarantined = true, .held = true, .eom = true,
		.oldest_first = true };
	struct purge p = { 0 };
	bool forget = false;
	long age = -1;
	const char *age_text = "";
	unsigned long forgotten = 0;
	struct tg_qctx q;
	char *by;
	int opt, stop, rc = TG_CTL_OK;

	while ((opt = tg_ctl_getopt(c, argc, argv, opts, tg_qctl_help, &stop)) != -1) {
		switch (opt) {
		case O_OLDER:
			age_text = optarg;
			if ((age = tg_fmt_parse_age(optarg)) < 0)
				return tg_ctl_usage_error("quarantine", "--older-than %s: expected an "
				    "age like 30d, 12h or 2w", optarg);
			break;
		case O_FORGET: forget = true; break;
		case O_DRY: p.dry_run = true; break;
		}
	}
	if (stop >= 0)
		return stop;
	if (age < 0 || optind != argc)
		return tg_ctl_usage_error("quarantine", "purge needs --older-than AGE and "
		    "nothing else");
	if (tg_qctx_open(&q, c, true) < 0)
		return TG_CTL_FAILED;
	by = tg_qctx_who();
	p.q = &q;
	p.by = by;
	f.until = time(NULL) - age;
	if (tg_store_each(q.store, &f, purge_one, &p) < 0)
		rc = tg_ctl_error("%s", tg_store_error(q.store));
	if (rc == TG_CTL_OK && forget && !p.dry_run
	    && tg_store_forget(q.store, f.until, &forgotten) < 0)
		rc = tg_ctl_error("%s", tg_store_error(q.store));
	tg_strbuf_printf(&p.out, "%s %lu held message%s older than %s", p.dry_run
	    ? "would expire" : "expired", p.expired, p.expired == 1 ? "" : "s", age_text);
	if (forget && !p.dry_run)
		tg_strbuf_printf(&p.out, "; forgot %lu older records", forgotten);
	tg_strbuf_addch(&p.out, '\n');
	if (c->json) {
		struct tg_json js = { .out = &p.out };

		tg_strbuf_truncate(&p.out, 0);
		tg_json_obj(&js, NULL);
		tg_json_int(&js, "expired", (long long)p.expired);
		tg_json_int(&js, "failed", (long long)p.failed);
		tg_json_int(&js, "forgotten", (long long)forgotten);
		tg_json_bool(&js, "dry_run", p.dry_run);
		tg_json_end(&js);
		tg_strbuf_addch(&p.out, '\n');
	}
	tg_ctl_print(&p.out);
	tg_strbuf_free(&p.out);
	free(by);
	tg_qctx_close(&q);
	return rc != TG_CTL_OK || p.failed ? TG_CTL_FAILED : TG_CTL_OK;
}
