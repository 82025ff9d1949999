/*
 * quarantine - tollgatectl quarantine list/show/release/delete/purge:
 * what tollgate held, looked at from both sides. The store says why a
 * message was held and what became of it; Postfix's queue says whether
 * it is still there. Where they disagree the list says so (a held
 * message Postfix lost, a message Postfix holds that tollgate did not
 * record); nothing is reconciled silently.
 */
#include "autoconf.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "checks/check.h"
#include "ctl/ctl.h"
#include "ctl/fmt.h"
#include "ctl/postfix.h"
#include "ctl/quarantine.h"
#include "store.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

const char tg_qctl_help[] =
    "usage: tollgatectl quarantine list [--since AGE|DATE] [--sender S] [--recipient R]\n"
    "                                   [--reason TEXT] [--rule NAME] [--all]\n"
    "       tollgatectl quarantine show QUEUEID [--no-message]\n"
    "       tollgatectl quarantine release QUEUEID...\n"
    "       tollgatectl quarantine delete QUEUEID...\n"
    "       tollgatectl quarantine purge --older-than AGE [--forget] [--dry-run]\n\n"
    "Review the messages tollgate held in Postfix's hold queue.\n\n"
    "  list     held messages, newest first, with why they were held; also\n"
    "           messages Postfix holds that tollgate did not record (state\n"
    "           unrecorded) and held messages Postfix no longer has (missing).\n"
    "           --sender, --recipient, --reason match part of the text (any\n"
    "           case); --rule a rule name; --all includes released, deleted\n"
    "           and expired messages.\n"
    "  show     envelope, verdict, reasons, check results, and the message\n"
    "           itself from the hold queue (postcat); --no-message leaves it out.\n"
    "  release  deliver: postsuper -H, then postqueue -f; records who and when.\n"
    "  delete   remove from Postfix (postsuper -d); records who and when.\n"
    "  purge    delete held messages older than AGE (30d, 12h, 2w): they become\n"
    "           \"expired\"; --forget also drops every record older than AGE\n"
    "           that is not held; --dry-run only says what would go.\n\n"
    "  -c, --config FILE  tollgate.conf (StateDB, PostfixConfigDir)\n"
    "      --json         machine-readable output\n";

/* ---------------------------------------------------------------- setup */

int
tg_qctx_open(struct tg_qctx *q, struct tg_ctl *c, bool need_queue)
{
	memset(q, 0, sizeof(*q));
	q->c = c;
	if ((q->pfdir = tg_ctl_setting(c, "PostfixConfigDir")) == NULL
	    || (q->store = tg_ctl_open_store(c)) == NULL)
		goto fail;
	q->have_queue = tg_pf_list(q->pfdir, &q->queue, &q->queue_err) == 0;
	if (!q->have_queue && need_queue) {
		tg_ctl_error("cannot read Postfix's queue: %s", tg_strbuf_str(&q->queue_err));
		goto fail;
	}
	return 0;
fail:
	tg_qctx_close(q);
	return -1;
}

void
tg_qctx_close(struct tg_qctx *q)
{
	tg_store_close(&q->store);
	tg_pf_queue_free(&q->queue);
	tg_strbuf_free(&q->queue_err);
	free(q->pfdir);
}

char *
tg_qctx_who(void)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw;

	if (getuid() == 0 && sudo != NULL && sudo[0] != '\0')
		return xstrdup(sudo);
	pw = getpwuid(getuid());
	return pw != NULL ? xstrdup(pw->pw_name) : xasprintf("uid %ld", (long)getuid());
}

const char *
tg_qctx_state(const struct tg_qctx *q, const struct tg_store_rec *rec,
    const struct tg_pf_entry **e_r)
{
	const struct tg_pf_entry *e = q->have_queue && rec->qid ? tg_pf_find(&q->queue, rec->qid)
	    : NULL;

	*e_r = e;
	if (rec->state != TG_QS_HELD || !q->have_queue)
		return tg_qstate_name(rec->state);
	if (e == NULL)
		return "missing";
	return strcmp(e->queue, "hold") == 0 ? "held" : "not-held";
}

/* ---------------------------------------------------------------- list */

/* one line of the list, kept to sort recorded and unrecorded together */
struct row {
	time_t t;
	char *text;			/* the two lines, or a JSON object */
};

struct listing {
	struct tg_qctx *q;
	struct row *rows;
	size_t n;
	const char *sender, *recipient;	/* for unrecorded entries */
	bool text_filters;		/* --reason/--rule: unrecorded cannot match */
	time_t since;
};

static const struct tg_fmt_col list_cols[] = {
	{ "QUEUE ID", 11, true }, { "HELD SINCE", 16, false }, { "STATE", 10, false },
	{ "SENDER", 20, false }, { "RECIPIENTS", 0, false },
};

static void
add_row(struct listing *l, time_t t, struct tg_strbuf *sb)
{
	l->rows = xrealloc(l->rows, (l->n + 1) * sizeof(*l->rows));
	l->rows[l->n].t = t;
	l->rows[l->n++].text = xstrdup(tg_strbuf_str(sb));
}

/* why - rule, text and the other reasons in one line */
static void
why(struct tg_strbuf *out, const struct tg_store_rec *rec)
{
	size_t n = 0;

	tg_strbuf_append(out, rec->rule ? rec->rule : "policy");
	if (rec->text != NULL)
		tg_strbuf_printf(out, ": %s", rec->text);
	for (size_t i = 0; i < rec->nreasons; i++) {
		const char *r = rec->reasons[i];

		/* "rule X" only repeats the rule */
		if (rec->rule != NULL && strncmp(r, "rule ", 5) == 0 && strcmp(r + 5, rec->rule) == 0)
			continue;
		tg_strbuf_printf(out, "%s%s", n++ ? "; " : " [", r);
	}
	if (n > 0)
		tg_strbuf_addch(out, ']');
}

/* text_row - the table line and the indented "why" line */
static void
text_row(struct tg_strbuf *out, unsigned int width, const char *qid, time_t t,
    const char *state, const char *sender, const char *const *rcpts, size_t nrcpts,
    const char *note)
{
	struct tg_strbuf when = { 0 }, from = { 0 }, to = { 0 };
	const char *cells[5];

	tg_fmt_time(&when, t);
	tg_fmt_addr(&from, sender);
	tg_fmt_addrs(&to, rcpts, nrcpts);
	cells[0] = qid;
	cells[1] = tg_strbuf_str(&when);
	cells[2] = state;
	cells[3] = tg_strbuf_str(&from);
	cells[4] = tg_strbuf_str(&to);
	tg_fmt_row(out, list_cols, 5, cells, width);
	tg_strbuf_append(out, "    ");
	tg_fmt_clip(out, note, width - 4);
	tg_strbuf_addch(out, '\n');
	tg_strbuf_free(&when);
	tg_strbuf_free(&from);
	tg_strbuf_free(&to);
}

/* json_fields - a record's fields as the JSON list and show print them */
static void
json_fields(struct tg_json *js, const struct tg_store_rec *rec, const char *state,
    const struct tg_pf_entry *e)
{
	tg_json_str(js, "queue_id", rec->qid);
	tg_json_time(js, "time", rec->time);
	tg_json_str(js, "state", state);
	tg_json_str(js, "postfix_queue", e ? e->queue : NULL);
	tg_json_bool(js, "recorded", true);
	tg_json_str(js, "client_ip", rec->client_ip);
	tg_json_str(js, "client_name", rec->client_name);
	tg_json_str(js, "helo", rec->helo);
	tg_json_str(js, "auth", rec->auth_user);
	tg_json_str(js, "sender", rec->sender);
	tg_json_strs(js, "recipients", rec->rcpts, rec->nrcpts);
	tg_json_str(js, "subject", rec->subject);
	tg_json_str(js, "message_id", rec->message_id);
	tg_json_int(js, "size", (long long)rec->size);
	tg_json_str(js, "action", tg_action_name(rec->action));
	tg_json_str(js, "rule", rec->rule);
	tg_json_str(js, "text", rec->text);
	tg_json_num(js, "score", rec->score);
	tg_json_strs(js, "reasons", rec->reasons, rec->nreasons);
	tg_json_strs(js, "rules", rec->rules, rec->nrules);
	tg_json_arr(js, "results");
	for (size_t i = 0; i < rec->nresults; i++) {
		tg_json_obj(js, NULL);
		tg_json_str(js, "method", rec->results[i].method);
		tg_json_str(js, "outcome", rec->results[i].outcome);
		tg_json_str(js, "domain", rec->results[i].domain);
		tg_json_str(js, "reason", rec->results[i].reason);
		tg_json_end(js);
	}
	tg_json_end(js);
	tg_json_time(js, "state_time", rec->state_time);
	tg_json_str(js, "state_by", rec->state_by);
}

/* list_record - one stored quarantine record */
static int
list_record(const struct tg_store_rec *rec, void *arg)
{
	struct listing *l = arg;
	const struct tg_pf_entry *e;
	const char *state = tg_qctx_state(l->q, rec, &e);
	struct tg_strbuf sb = { 0 }, note = { 0 };

	if (l->q->c->json) {
		struct tg_json js = { .out = &sb };

		tg_json_obj(&js, NULL);
		json_fields(&js, rec, state, e);
		tg_json_end(&js);
	} else {
		/* what the state needs said first, then why it was held */
		if (strcmp(state, "missing") == 0)
			tg_strbuf_append(&note, "Postfix no longer has it! ");
		else if (strcmp(state, "not-held") == 0)
			tg_strbuf_printf(&note, "released outside tollgatectl? Postfix has it in "
			    "its %s queue! ", e->queue);
		else if (rec->state != TG_QS_HELD && rec->state_by != NULL)
			tg_strbuf_printf(&note, "%s by %s: ", tg_qstate_name(rec->state),
			    rec->state_by);
		why(&note, rec);
		text_row(&sb, l->q->c->width, rec->qid ? rec->qid : rec->ref, rec->time, state,
		    rec->sender, rec->rcpts, rec->nrcpts, tg_strbuf_str(&note));
	}
	add_row(l, rec->time, &sb);
	tg_strbuf_free(&sb);
	tg_strbuf_free(&note);
	return 0;
}

/* contains - needle in any of v (any case) */
static bool
contains(const char *const *v, size_t n, const char *needle)
{
	for (size_t i = 0; i < n; i++)
		if (strcasestr(v[i], needle) != NULL)
			return true;
	return false;
}

/* list_unrecorded - what Postfix holds that the store does not know */
static void
list_unrecorded(struct listing *l)
{
	struct tg_arena *a = tg_arena_new();

	for (size_t i = 0; i < l->q->queue.n && !l->text_filters; i++) {
		const struct tg_pf_entry *e = &l->q->queue.v[i];
		struct tg_store_rec rec;
		struct tg_strbuf sb = { 0 };

		if (strcmp(e->queue, "hold") != 0 || (tg_store_find(l->q->store, e->qid, a, &rec) != 0
		    && rec.state != TG_QS_NONE)
		    || e->arrival < l->since
		    || (l->sender && strcasestr(e->sender, l->sender) == NULL)
		    || (l->recipient && !contains((const char *const *)e->rcpts, e->nrcpts,
		    l->recipient)))
			continue;
		if (l->q->c->json) {
			struct tg_json js = { .out = &sb };

			tg_json_obj(&js, NULL);
			tg_json_str(&js, "queue_id", e->qid);
			tg_json_time(&js, "time", e->arrival);
			tg_json_str(&js, "state", "unrecorded");
			tg_json_str(&js, "postfix_queue", e->queue);
			tg_json_bool(&js, "recorded", false);
			tg_json_str(&js, "sender", e->sender);
			tg_json_strs(&js, "recipients", (const char *const *)e->rcpts, e->nrcpts);
			tg_json_int(&js, "size", (long long)e->size);
			tg_json_end(&js);
		} else {
			text_row(&sb, l->q->c->width, e->qid, e->arrival, "unrecorded",
			    e->sender[0] ? e->sender : "<>", (const char *const *)e->rcpts, e->nrcpts,
			    "held by Postfix, not by tollgate (no record of why)");
		}
		add_row(l, e->arrival, &sb);
		tg_strbuf_free(&sb);
	}
	tg_arena_free(&a);
}

static int
newest_first(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->t < y->t ? 1 : x->t > y->t ? -1 : 0;
}

static int
cmd_list(struct tg_ctl *c, int argc, char **argv)
{
	enum { O_SINCE = 256, O_SENDER, O_RCPT, O_REASON, O_RULE, O_ALL, O_LIMIT };
	static const struct option opts[] = {
		TG_CTL_COMMON_OPTS,
		{ "since", required_argument, NULL, O_SINCE },
		{ "sender", required_argument, NULL, O_SENDER },
		{ "recipient", required_argument, NULL, O_RCPT },
		{ "reason", required_argument, NULL, O_REASON },
		{ "rule", required_argument, NULL, O_RULE },
		{ "all", no_argument, NULL, O_ALL },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ NULL, 0, NULL, 0 },
	};
	struct tg_store_filter f = { .quarantined = true, .held = true, .eom = true };
	struct listing l = { 0 };
	struct tg_qctx q;
	struct tg_strbuf out = { 0 };
	int opt, stop, rc = TG_CTL_OK;

	while ((opt = tg_ctl_getopt(c, argc, argv, opts, tg_qctl_help, &stop)) != -1) {
		switch (opt) {
		case O_SINCE:
			if ((f.since = tg_fmt_parse_since(optarg, time(NULL))) < 0)
				return tg_ctl_usage_error("quarantine", "--since %s: expected an age "
				    "like 7d or a date like 2024-05-21", optarg);
			break;
		case O_SENDER: f.sender = optarg; break;
		case O_RCPT: f.recipient = optarg; break;
		case O_REASON: f.reason = optarg; break;
		case O_RULE: f.rule = optarg; break;
		case O_ALL: f.held = false; break;
		case O_LIMIT: f.limit = (unsigned int)strtoul(optarg, NULL, 10); break;
		}
	}
	if (stop >= 0)
		return stop;
	if (optind != argc)
		return tg_ctl_usage_error("quarantine", "list takes no argument \"%s\"",
		    argv[optind]);
	if (tg_qctx_open(&q, c, false) < 0)
		return TG_CTL_FAILED;
	if (!q.have_queue)
		fprintf(stderr, "tollgatectl: warning: cannot read Postfix's queue (%s): "
		    "states are tollgate's records only\n", tg_strbuf_str(&q.queue_err));
	l = (struct listing){ .q = &q, .sender = f.sender, .recipient = f.recipient,
		.text_filters = f.reason || f.rule, .since = f.since };
	if (tg_store_each(q.store, &f, list_record, &l) < 0)
		rc = tg_ctl_error("%s", tg_store_error(q.store));
	if (q.have_queue && rc == TG_CTL_OK)
		list_unrecorded(&l);
	qsort(l.rows, l.n, sizeof(*l.rows), newest_first);
	if (c->json)
		tg_strbuf_addch(&out, '[');
	else if (l.n > 0)
		tg_fmt_row(&out, list_cols, 5, NULL, c->width);
	for (size_t i = 0; i < l.n; i++) {
		tg_strbuf_printf(&out, "%s%s", c->json && i ? "," : "", l.rows[i].text);
		free(l.rows[i].text);
	}
	if (c->json)
		tg_strbuf_append(&out, "]\n");
	else if (l.n == 0 && rc == TG_CTL_OK)
		tg_strbuf_printf(&out, "no %smessages%s\n", f.held ? "held " : "quarantined ",
		    f.since || f.sender || f.recipient || f.reason || f.rule ? " match" : "");
	else
		tg_strbuf_printf(&out, "%zu message%s\n", l.n, l.n == 1 ? "" : "s");
	tg_ctl_print(&out);
	tg_strbuf_free(&out);
	free(l.rows);
	tg_qctx_close(&q);
	return rc;
}

/* ---------------------------------------------------------------- show */

/* line - "Label:      value" */
static void
line(struct tg_strbuf *out, const char *label, const char *value)
{
	tg_strbuf_printf(out, "%-12s ", label);
	tg_fmt_clip(out, value ? value : "-", 0);
	tg_strbuf_addch(out, '\n');
}

static void
show_text(struct tg_strbuf *out, const struct tg_store_rec *rec, const char *state,
    const struct tg_pf_entry *e)
{
	struct tg_strbuf sb = { 0 };

	tg_strbuf_printf(&sb, "%s (%s", rec->qid, state);
	if (e != NULL)
		tg_strbuf_printf(&sb, "; Postfix: %s queue", e->queue);
	tg_strbuf_addch(&sb, ')');
	line(out, "Queue ID:", tg_strbuf_str(&sb));
	tg_strbuf_truncate(&sb, 0);
	tg_fmt_time(&sb, rec->time);
	line(out, "Received:", tg_strbuf_str(&sb));
	tg_strbuf_truncate(&sb, 0);
	tg_strbuf_printf(&sb, "%s (%s)%s", rec->client_ip,
	    rec->client_name ? rec->client_name : "no name", rec->trusted ? " trusted" : "");
	line(out, "Client:", tg_strbuf_str(&sb));
	line(out, "HELO:", rec->helo);
	if (rec->auth_user != NULL)
		line(out, "Auth:", rec->auth_user);
	line(out, "TLS:", rec->tls_version ? rec->tls_version : "no");
	line(out, "Sender:", rec->sender);
	for (size_t i = 0; i < rec->nrcpts; i++)
		line(out, i ? "" : "Recipients:", rec->rcpts[i]);
	line(out, "Subject:", rec->subject);
	line(out, "Message-ID:", rec->message_id);
	tg_strbuf_truncate(&sb, 0);
	tg_strbuf_printf(&sb, "%llu bytes", (unsigned long long)rec->size);
	line(out, "Size:", tg_strbuf_str(&sb));
	tg_strbuf_truncate(&sb, 0);
	tg_strbuf_printf(&sb, "%s (rule %s, score %.1f)", tg_action_name(rec->action),
	    rec->rule ? rec->rule : "-", rec->score);
	line(out, "Verdict:", tg_strbuf_str(&sb));
	if (rec->text != NULL)
		line(out, "Text:", rec->text);
	for (size_t i = 0; i < rec->nreasons; i++)
		line(out, i ? "" : "Reasons:", rec->reasons[i]);
	for (size_t i = 0; i < rec->nresults; i++) {
		const struct tg_store_result *r = &rec->results[i];

		tg_strbuf_truncate(&sb, 0);
		tg_strbuf_printf(&sb, "%s=%s", r->method, r->outcome);
		if (r->domain)
			tg_strbuf_printf(&sb, " %s", r->domain);
		if (r->policy)
			tg_strbuf_printf(&sb, " p=%s", r->policy);
		if (r->reason && r->reason[0])
			tg_strbuf_printf(&sb, " (%s)", r->reason);
		line(out, i ? "" : "Results:", tg_strbuf_str(&sb));
	}
	tg_strbuf_truncate(&sb, 0);
	tg_strbuf_append(&sb, tg_qstate_name(rec->state));
	if (rec->state_by != NULL) {
		tg_strbuf_printf(&sb, " by %s at ", rec->state_by);
		tg_fmt_time(&sb, rec->state_time);
	}
	line(out, "State:", tg_strbuf_str(&sb));
	tg_strbuf_free(&sb);
}

/* show_message - the message from Postfix's queue, to stdout */
static void
show_message(const struct tg_qctx *q, const char *qid, struct tg_strbuf *captured)
{
	static const char *args[] = { "-bh", "-q", NULL, NULL };

	args[2] = qid;
	if (captured == NULL) {
		printf("\n---- message %s (postcat -bh -q %s) ----\n", qid, qid);
		fflush(stdout);
	}
	if (tg_pf_run(q->pfdir, "postcat", args, captured) != 0 && captured == NULL)
		tg_ctl_error("postcat could not show %s", qid);
}

static int
cmd_show(struct tg_ctl *c, int argc, char **argv)
{
	enum { O_NOMSG = 256 };
	static const struct option opts[] = {
		TG_CTL_COMMON_OPTS,
		{ "no-message", no_argument, NULL, O_NOMSG },
		{ NULL, 0, NULL, 0 },
	};
	struct tg_strbuf out = { 0 };
	struct tg_store_rec rec;
	const struct tg_pf_entry *e;
	struct tg_arena *a;
	bool message = true;
	const char *qid, *state;
	struct tg_qctx q;
	int found, stop, rc = TG_CTL_OK;

	while (tg_ctl_getopt(c, argc, argv, opts, tg_qctl_help, &stop) == O_NOMSG)
		message = false;
	if (stop >= 0)
		return stop;
	if (optind + 1 != argc)
		return tg_ctl_usage_error("quarantine", "show takes one queue id");
	qid = argv[optind];
	if (!tg_pf_valid_qid(qid))
		return tg_ctl_error("\"%s\" is not a Postfix queue id", qid);
	if (tg_qctx_open(&q, c, false) < 0)
		return TG_CTL_FAILED;
	a = tg_arena_new();
	found = tg_store_find(q.store, qid, a, &rec);
	e = q.have_queue ? tg_pf_find(&q.queue, qid) : NULL;
	if (found < 0) {
		rc = tg_ctl_error("%s", tg_store_error(q.store));
	} else if (found == 0 && e == NULL) {
		rc = tg_ctl_error("%s: unknown queue id: tollgate recorded no verdict for it "
		    "and Postfix does not have it", qid);
	} else if (c->json) {
		struct tg_json js = { .out = &out };
		struct tg_strbuf msgtext = { 0 };

		if (message && e != NULL)
			show_message(&q, qid, &msgtext);
		tg_json_obj(&js, NULL);
		if (found) {
			json_fields(&js, &rec, tg_qctx_state(&q, &rec, &e), e);
		} else {
			tg_json_str(&js, "queue_id", qid);
			tg_json_str(&js, "state", "unrecorded");
			tg_json_str(&js, "postfix_queue", e->queue);
			tg_json_bool(&js, "recorded", false);
		}
		tg_json_str(&js, "message", msgtext.len ? tg_strbuf_str(&msgtext) : NULL);
		tg_json_end(&js);
		tg_strbuf_addch(&out, '\n');
		tg_strbuf_free(&msgtext);
	} else {
		if (found) {
			state = tg_qctx_state(&q, &rec, &e);
			show_text(&out, &rec, state, e);
		} else {
			tg_strbuf_printf(&out, "%s: in Postfix's %s queue; tollgate recorded no "
			    "verdict for it\n", qid, e->queue);
		}
		if (e == NULL)
			tg_strbuf_append(&out, "\n(Postfix no longer has this message)\n");
		tg_ctl_print(&out);
		if (message && e != NULL)
			show_message(&q, qid, NULL);
	}
	if (c->json)
		tg_ctl_print(&out);
	tg_strbuf_free(&out);
	tg_arena_free(&a);
	tg_qctx_close(&q);
	return rc;
}

/* ---------------------------------------------------------------- dispatch */

int
tg_ctl_quarantine(struct tg_ctl *c, int argc, char **argv)
{
	const char *sub;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(tg_qctl_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? TG_CTL_USAGE : TG_CTL_OK;
	}
	sub = argv[1];
	argc--;
	argv++;
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
		return cmd_list(c, argc, argv);
	if (strcmp(sub, "show") == 0)
		return cmd_show(c, argc, argv);
	if (strcmp(sub, "release") == 0)
		return tg_qctl_change(c, true, argc, argv);
	if (strcmp(sub, "delete") == 0)
		return tg_qctl_change(c, false, argc, argv);
	if (strcmp(sub, "purge") == 0)
		return tg_qctl_purge(c, argc, argv);
	return tg_ctl_usage_error("quarantine", "unknown subcommand \"%s\"", sub);
}
