/*
 * tuning - the policy tuner's commands: check (validate the
 * configuration or a policy), test (one message through the checks and
 * a policy) and replay (recorded mail re-judged with a policy: what
 * would change). None of them touches mail.
 */
#include "autoconf.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl/ctl.h"
#include "ctl/fmt.h"
#include "ctl/judge.h"
#include "policy.h"
#include "session.h"
#include "store.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* ---------------------------------------------------------------- check */

static const char check_help[] =
    "usage: tollgatectl check [POLICY...]\n\n"
    "Validate before deploying. Without POLICY: the configuration (-c) and\n"
    "every file it names, its policy included. With POLICY: those policy\n"
    "files alone, e.g. a candidate not yet installed. Every error is\n"
    "reported as FILE:LINE:COL: message; the exit status is 1 if any.\n\n"
    "  -c, --config FILE  tollgate.conf\n"
    "      --json         {\"ok\":..,\"files\":[{\"file\",\"ok\",\"rules\",\"errors\":[..]}]}\n";

/* json_errors - "FILE:LINE[:COL]: message" lines as objects */
static void
json_errors(struct tg_json *js, const char *errors)
{
	tg_json_arr(js, "errors");
	while (*errors != '\0') {
		size_t n = strcspn(errors, "\n");
		char *line = xstrndup(errors, n), *p = line, *file = line;
		long ln = 0, col = 0;

		/* the file name ends at the first ":DIGITS:" */
		while ((p = strchr(p, ':')) != NULL && !isdigit((unsigned char)p[1]))
			p++;
		if (p != NULL) {
			*p++ = '\0';
			ln = strtol(p, &p, 10);
			if (*p == ':' && isdigit((unsigned char)p[1]))
				col = strtol(p + 1, &p, 10);
			p += *p == ':';
			p += *p == ' ';
		}
		tg_json_obj(js, NULL);
		tg_json_str(js, "file", p ? file : NULL);
		tg_json_int(js, "line", ln);
		tg_json_int(js, "column", col);
		tg_json_str(js, "message", p ? p : line);
		tg_json_end(js);
		free(line);
		errors += n + (errors[n] == '\n');
	}
	tg_json_end(js);
}

/* check_one - one file (policy, or the configuration when policy is
   false); true when it is valid */
static bool
check_one(const char *path, bool policy, bool json, struct tg_json *js, struct tg_strbuf *out)
{
	struct tg_strbuf errors = { 0 };
	struct tg_config *cfg = NULL;
	struct tg_policy *p = NULL;
	unsigned int nrules = 0;
	bool ok;

	if (policy) {
		p = tg_policy_load(path, &errors);
		nrules = tg_policy_nrules(p);
		ok = p != NULL;
	} else {
		cfg = tg_config_load(path, &errors);
		nrules = cfg ? tg_policy_nrules(cfg->policy) : 0;
		ok = cfg != NULL;
	}
	if (json) {
		tg_json_obj(js, NULL);
		tg_json_str(js, "file", path);
		tg_json_bool(js, "ok", ok);
		tg_json_int(js, "rules", nrules);
		if (cfg != NULL)
			tg_json_str(js, "policy", cfg->policy_file);
		json_errors(js, tg_strbuf_str(&errors));
		tg_json_end(js);
	} else if (ok && cfg != NULL) {
		tg_strbuf_printf(out, "%s: OK (policy %s, %u rules)\n", path,
		    cfg->policy_file ? cfg->policy_file : "none", nrules);
	} else if (ok) {
		tg_strbuf_printf(out, "%s: OK (%u rules)\n", path, nrules);
	} else {
		tg_strbuf_append(out, tg_strbuf_str(&errors));
		tg_strbuf_printf(out, "%s: not valid\n", path);
	}
	tg_policy_free(&p);
	tg_config_release(&cfg);
	tg_strbuf_free(&errors);
	return ok;
}

int
tg_ctl_check(struct tg_ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { TG_CTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
	struct tg_strbuf out = { 0 };
	struct tg_json js = { .out = &out };
	bool ok = true;
	int stop;

	tg_ctl_getopt(c, argc, argv, opts, check_help, &stop);	/* none of its own */
	if (stop >= 0)
		return stop;
	if (c->json) {
		tg_json_obj(&js, NULL);
		tg_json_arr(&js, "files");
	}
	if (optind == argc)
		ok = check_one(c->config_path, false, c->json, &js, &out);
	for (int i = optind; i < argc; i++)
		ok = check_one(argv[i], true, c->json, &js, &out) && ok;
	if (c->json) {
		tg_json_end(&js);
		tg_json_bool(&js, "ok", ok);
		tg_json_end(&js);
		tg_strbuf_addch(&out, '\n');
	}
	tg_ctl_print(&out);
	tg_strbuf_free(&out);
	return ok ? TG_CTL_OK : TG_CTL_FAILED;
}

/* ---------------------------------------------------------------- test */

static const char test_help[] =
    "usage: tollgatectl test MESSAGE --client-ip IP [options]\n"
    "       tollgatectl test --id QUEUEID [--policy FILE]\n\n"
    "Run a saved message (RFC 5322 file, e.g. from postcat or a mail client)\n"
    "through the real checks - live DNS through the configured resolver -\n"
    "and a policy, as if CLIENT had sent it; print the verdict, the reply,\n"
    "every rule that matched, every check result and the\n"
    "Authentication-Results header tollgate would add. With --id, judge the\n"
    "results recorded for a message instead (no DNS). Nothing is sent.\n\n"
    "  --client-ip IP       the client's address (needed for a file)\n"
    "  --client-name NAME   its name as Postfix saw it\n"
    "  --helo NAME          the HELO/EHLO name\n"
    "  --from ADDR          envelope sender (default: Return-Path, else From)\n"
    "  --rcpt ADDR          a recipient; repeat for more (default: Delivered-To,\n"
    "                       X-Original-To, else To and Cc)\n"
    "  --auth USER          as if the client had authenticated as USER\n"
    "  --tls                as if the session were encrypted\n"
    "  --daemon NAME        the Postfix service ({daemon_name}, e.g. submission)\n"
    "  --policy FILE        the policy to try (default: the configured one)\n"
    "  --id QUEUEID         use what was recorded for this message\n"
    "  -c, --config FILE    tollgate.conf\n"
    "      --json           machine-readable output\n";

/* test_recorded - test --id: the record judged again */
static int
test_recorded(struct tg_ctl *c, const char *qid, struct tg_strbuf *out)
{
	struct tg_store *s = tg_ctl_open_store(c);
	struct tg_arena *a;
	struct tg_store_rec rec;
	struct tg_judgement j;
	int found;

	if (s == NULL)
		return TG_CTL_FAILED;
	a = tg_arena_new();
	found = tg_store_find(s, qid, a, &rec);
	if (found <= 0) {
		if (found < 0)
			tg_ctl_error("%s", tg_store_error(s));
		else
			tg_ctl_error("%s: no verdict recorded for this queue id (RecordVerdicts "
			    "all records every message)", qid);
		tg_arena_free(&a);
		tg_store_close(&s);
		return TG_CTL_FAILED;
	}
	tg_judge_record(&rec, &j);
	tg_judge_report(&j, c->json, out);
	if (!c->json)
		tg_strbuf_printf(out, "recorded: %s rule=%s score=%.1f at %s\n",
		    tg_action_name(rec.action), rec.rule ? rec.rule : "-", rec.score,
		    rec.qid);
	tg_judge_free(&j);
	tg_arena_free(&a);
	tg_store_close(&s);
	return TG_CTL_OK;
}

int
tg_ctl_test(struct tg_ctl *c, int argc, char **argv)
{
	enum { O_IP = 256, O_NAME, O_HELO, O_FROM, O_RCPT, O_AUTH, O_TLS, O_DAEMON, O_POLICY,
		O_ID };
	static const struct option opts[] = {
		TG_CTL_COMMON_OPTS,
		{ "client-ip", required_argument, NULL, O_IP },
		{ "client-name", required_argument, NULL, O_NAME },
		{ "helo", required_argument, NULL, O_HELO },
		{ "from", required_argument, NULL, O_FROM },
		{ "rcpt", required_argument, NULL, O_RCPT },
		{ "auth", required_argument, NULL, O_AUTH },
		{ "tls", no_argument, NULL, O_TLS },
		{ "daemon", required_argument, NULL, O_DAEMON },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "id", required_argument, NULL, O_ID },
		{ NULL, 0, NULL, 0 },
	};
	struct tg_judge_env env = { 0 };
	const char **rcpts = NULL, *policy = NULL, *id = NULL;
	struct tg_strbuf out = { 0 };
	struct tg_judgement j;
	int opt, stop, rc = TG_CTL_OK;

	while ((opt = tg_ctl_getopt(c, argc, argv, opts, test_help, &stop)) != -1) {
		switch (opt) {
		case O_IP: env.client_ip = optarg; break;
		case O_NAME: env.client_name = optarg; break;
		case O_HELO: env.helo = optarg; break;
		case O_FROM: env.sender = optarg; break;
		case O_AUTH: env.auth = optarg; break;
		case O_TLS: env.tls = "TLSv1.3"; break;
		case O_DAEMON: env.daemon = optarg; break;
		case O_POLICY: policy = optarg; break;
		case O_ID: id = optarg; break;
		case O_RCPT:
			rcpts = xrealloc(rcpts, (env.nrcpts + 1) * sizeof(*rcpts));
			rcpts[env.nrcpts++] = optarg;
			env.rcpts = rcpts;
			break;
		}
	}
	if (stop >= 0) {
		free(rcpts);
		return stop;
	}
	if ((id == NULL) == (optind + 1 != argc)) {
		free(rcpts);
		return tg_ctl_usage_error("test", id ? "--id takes no message file"
		    : "give one message file (or --id QUEUEID)");
	}
	if (id == NULL && env.client_ip == NULL) {
		free(rcpts);
		return tg_ctl_usage_error("test", "--client-ip is needed: the address the "
		    "message came from decides SPF and the relay rules");
	}
	if (tg_ctl_load_config(c, policy) == NULL) {
		free(rcpts);
		return TG_CTL_FAILED;
	}
	if (id != NULL) {
		rc = test_recorded(c, id, &out);
	} else if (tg_judge_file(argv[optind], &env, &j) < 0) {
		rc = TG_CTL_FAILED;
	} else {
		tg_judge_report(&j, c->json, &out);
		tg_judge_free(&j);
	}
	tg_ctl_print(&out);
	tg_strbuf_free(&out);
	tg_config_publish(NULL);
	free(rcpts);
	return rc;
}

/* ---------------------------------------------------------------- replay */

static const char replay_help[] =
    "usage: tollgatectl replay [--since AGE|DATE] [--policy FILE] [options]\n\n"
    "Judge the recorded mail again with a policy (default: the configured\n"
    "one) and show which verdicts would change: the counts before and after,\n"
    "and each message whose verdict differs. The results recorded at the\n"
    "time are used (no DNS); no mail is touched. Only what the store holds\n"
    "can be replayed: set RecordVerdicts all to record every message.\n\n"
    "  --since AGE|DATE   from AGE ago (7d, 12h, 2w) or a date (2024-05-21)\n"
    "                     (default: 7d)\n"
    "  --until DATE       up to this date\n"
    "  --policy FILE      the candidate policy\n"
    "  --all              list every message, not only the changed ones\n"
    "  --limit N          replay at most the N newest messages\n"
    "  -c, --config FILE  tollgate.conf\n"
    "      --json         machine-readable output\n";

/* the replay's tallies */
struct replay {
	struct tg_ctl *c;
	bool all;
	unsigned long total, changed;
	unsigned long before[TG_REJECT + 1], after[TG_REJECT + 1];
	struct tg_strbuf lines;		/* the per-message table or JSON */
	struct tg_json js;
};

static const struct tg_fmt_col replay_cols[] = {
	{ "QUEUE ID", 11, true }, { "RECEIVED", 16, false }, { "BEFORE", 10, false },
	{ "AFTER", 10, false }, { "SENDER", 0, false },
};

/* recorded_label - the recorded verdict as tg_judge_label() words it */
static const char *
recorded_label(struct tg_arena *a, const struct tg_store_rec *rec)
{
	if (!rec->monitored)
		return tg_action_name(rec->action);
	return tg_arena_printf(a, "%s (monitor: %s)", tg_action_name(rec->action),
	    tg_action_name(rec->would));
}

static void
replay_json_entry(struct replay *r, const struct tg_store_rec *rec, const struct tg_msg *msg,
    bool changed)
{
	struct tg_json *js = &r->js;

	tg_json_obj(js, NULL);
	tg_json_str(js, "queue_id", rec->qid);
	tg_json_time(js, "time", rec->time);
	tg_json_str(js, "sender", rec->sender);
	tg_json_bool(js, "changed", changed);
	tg_json_obj(js, "before");
	tg_json_str(js, "action", tg_action_name(rec->action));
	tg_json_str(js, "would", rec->monitored ? tg_action_name(rec->would) : NULL);
	tg_json_str(js, "rule", rec->rule);
	tg_json_num(js, "score", rec->score);
	tg_json_end(js);
	tg_judge_json_verdict(js, "after", msg);
	tg_json_end(js);
}

static void
replay_text_entry(struct replay *r, const struct tg_store_rec *rec, const struct tg_msg *msg,
    const char *before, const char *after)
{
	struct tg_strbuf when = { 0 }, from = { 0 };
	const char *cells[5];

	tg_fmt_time(&when, rec->time);
	tg_fmt_addr(&from, rec->sender);
	cells[0] = rec->qid ? rec->qid : rec->ref;
	cells[1] = tg_strbuf_str(&when);
	cells[2] = before;
	cells[3] = after;
	cells[4] = tg_strbuf_str(&from);
	tg_fmt_row(&r->lines, replay_cols, 5, cells, r->c->width);
	tg_strbuf_append(&r->lines, "  now: ");
	tg_fmt_clip(&r->lines, msg->verdict.rule ? msg->verdict.rule : "no rule",
	    r->c->width / 2);
	tg_strbuf_append(&r->lines, "; was: ");
	tg_fmt_clip(&r->lines, rec->rule ? rec->rule : "no rule", r->c->width / 2);
	tg_strbuf_addch(&r->lines, '\n');
	tg_strbuf_free(&when);
	tg_strbuf_free(&from);
}

/* replay_one - judge one record again */
static int
replay_one(const struct tg_store_rec *rec, void *arg)
{
	struct replay *r = arg;
	struct tg_judgement j;
	const char *before, *after;
	bool changed;

	tg_judge_record(rec, &j);
	before = recorded_label(j.msg->arena, rec);
	after = tg_judge_label(j.msg);
	changed = strcmp(before, after) != 0;
	r->total++;
	r->changed += changed;
	r->before[rec->action]++;
	r->after[j.msg->verdict.action]++;
	if (changed || r->all) {
		if (r->c->json)
			replay_json_entry(r, rec, j.msg, changed);
		else
			replay_text_entry(r, rec, j.msg, before, after);
	}
	tg_judge_free(&j);
	return 0;
}

static void
replay_summary(struct replay *r, const char *policy, time_t since, struct tg_strbuf *out)
{
	struct tg_strbuf when = { 0 };

	tg_fmt_time(&when, since);
	tg_strbuf_printf(out, "replayed %lu recorded verdicts since %s with policy %s\n\n",
	    r->total, tg_strbuf_str(&when), policy);
	tg_strbuf_append(out, "VERDICT      BEFORE   AFTER\n");
	for (int a = TG_ACCEPT; a <= TG_REJECT; a++)
		tg_strbuf_printf(out, "%-10s %8lu %7lu\n", tg_action_name((enum tg_action)a),
		    r->before[a], r->after[a]);
	tg_strbuf_printf(out, "\n%lu verdict%s would change%s\n", r->changed,
	    r->changed == 1 ? "" : "s", r->lines.len ? ":" : ".");
	if (r->lines.len > 0) {
		tg_fmt_row(out, replay_cols, 5, NULL, r->c->width);
		tg_strbuf_append(out, tg_strbuf_str(&r->lines));
	}
	tg_strbuf_free(&when);
}

int
tg_ctl_replay(struct tg_ctl *c, int argc, char **argv)
{
	enum { O_SINCE = 256, O_UNTIL, O_POLICY, O_ALL, O_LIMIT };
	static const struct option opts[] = {
		TG_CTL_COMMON_OPTS,
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "all", no_argument, NULL, O_ALL },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ NULL, 0, NULL, 0 },
	};
	struct replay r = { .c = c };
	struct tg_store_filter f = { .eom = true, .oldest_first = true };
	struct tg_strbuf out = { 0 };
	const char *policy = NULL;
	struct tg_config *cfg;
	struct tg_store *s;
	time_t now = time(NULL);
	long n;
	int opt, stop;

	f.since = now - 7 * 86400;
	while ((opt = tg_ctl_getopt(c, argc, argv, opts, replay_help, &stop)) != -1) {
		switch (opt) {
		case O_SINCE:
		case O_UNTIL: {
			time_t t = tg_fmt_parse_since(optarg, now);

			if (t < 0)
				return tg_ctl_usage_error("replay", "%s %s: expected an age like 7d "
				    "or a date like 2024-05-21", opt == O_SINCE ? "--since" : "--until",
				    optarg);
			*(opt == O_SINCE ? &f.since : &f.until) = t;
			break;
		}
		case O_POLICY: policy = optarg; break;
		case O_ALL: r.all = true; break;
		case O_LIMIT: f.limit = (unsigned int)strtoul(optarg, NULL, 10); break;
		}
	}
	if (stop >= 0)
		return stop;
	if (optind != argc)
		return tg_ctl_usage_error("replay", "unexpected argument \"%s\"", argv[optind]);
	if ((cfg = tg_ctl_load_config(c, policy)) == NULL)
		return TG_CTL_FAILED;
	if ((s = tg_ctl_open_store(c)) == NULL) {
		tg_config_publish(NULL);
		return TG_CTL_FAILED;
	}
	r.js.out = &r.lines;
	if (c->json)
		tg_json_arr(&r.js, NULL);
	n = tg_store_each(s, &f, replay_one, &r);
	if (n < 0) {
		tg_ctl_error("%s", tg_store_error(s));
	} else if (c->json) {
		struct tg_json js = { .out = &out };

		tg_json_end(&r.js);
		tg_json_obj(&js, NULL);
		tg_json_str(&js, "policy", cfg->policy_file);
		tg_json_time(&js, "since", f.since);
		tg_json_int(&js, "total", (long long)r.total);
		tg_json_int(&js, "changed", (long long)r.changed);
		for (int pass = 0; pass < 2; pass++) {
			tg_json_obj(&js, pass ? "after" : "before");
			for (int a = TG_ACCEPT; a <= TG_REJECT; a++)
				tg_json_int(&js, tg_action_name((enum tg_action)a),
				    (long long)(pass ? r.after[a] : r.before[a]));
			tg_json_end(&js);
		}
		tg_strbuf_printf(&out, ",\"messages\":%s}\n", tg_strbuf_str(&r.lines));
	} else {
		replay_summary(&r, cfg->policy_file ? cfg->policy_file : "(none)", f.since, &out);
	}
	tg_ctl_print(&out);
	tg_strbuf_free(&out);
	tg_strbuf_free(&r.lines);
	tg_store_close(&s);
	tg_config_publish(NULL);
	return n < 0 ? TG_CTL_FAILED : TG_CTL_OK;
}
