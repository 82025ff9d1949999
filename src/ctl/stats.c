/*
 * stats - tollgatectl stats: what the verdict store says about recent
 * mail: verdicts by action, quarantine outcomes, verdict time, the top
 * reasons, the rules by hits, and who gets rejected most.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/fmt.h"
#include "store.h"
#include "util/arena.h"
#include "util/strbuf.h"

static const char stats_help[] =
    "usage: tollgatectl stats [--since AGE|DATE] [--top N]\n\n"
    "Count the recorded verdicts: by action, what became of held mail, how\n"
    "long verdicts took, the most frequent reasons, the rules by hits, and\n"
    "the clients and sender domains rejected most. It counts what the store\n"
    "holds: RecordVerdicts all records every message, the default only\n"
    "quarantined ones.\n\n"
    "  --since AGE|DATE   from AGE ago (24h, 7d) or a date (default: 7d)\n"
    "  --top N            how many of each top list (default 10)\n"
    "  -c, --config FILE  tollgate.conf\n"
    "      --json         machine-readable output\n";

/* list - one top list, text or JSON */
static void
list(struct tg_strbuf *out, struct tg_json *js, const char *title, const char *key,
    const struct tg_store_count *v, size_t n, unsigned int width)
{
	if (js != NULL) {
		tg_json_arr(js, key);
		for (size_t i = 0; i < n; i++) {
			tg_json_obj(js, NULL);
			tg_json_str(js, "key", v[i].key);
			tg_json_int(js, "count", (long long)v[i].n);
			tg_json_end(js);
		}
		tg_json_end(js);
		return;
	}
	tg_strbuf_printf(out, "\n%s:%s\n", title, n ? "" : " none");
	for (size_t i = 0; i < n; i++) {
		tg_strbuf_printf(out, "  %7lu  ", v[i].n);
		tg_fmt_clip(out, v[i].key, width > 12 ? width - 12 : 20);
		tg_strbuf_addch(out, '\n');
	}
}

static void
report_text(const struct tg_store_stats *st, time_t since, unsigned int width,
    struct tg_strbuf *out)
{
	struct tg_strbuf when = { 0 };

	tg_fmt_time(&when, since);
	tg_strbuf_printf(out, "%lu verdicts since %s\n", st->total, tg_strbuf_str(&when));
	for (int a = TG_ACCEPT; a <= TG_REJECT; a++) {
		unsigned long n = st->actions[a];

		tg_strbuf_printf(out, "  %-10s %7lu  %5.1f%%", tg_action_name((enum tg_action)a), n,
		    st->total ? 100.0 * (double)n / (double)st->total : 0.0);
		if (a == TG_QUARANTINE && n > 0)
			tg_strbuf_printf(out, "  (held %lu, released %lu, deleted %lu, "
			    "expired %lu)", st->states[TG_QS_HELD], st->states[TG_QS_RELEASED],
			    st->states[TG_QS_DELETED], st->states[TG_QS_EXPIRED]);
		tg_strbuf_addch(out, '\n');
	}
	if (st->monitored > 0)
		tg_strbuf_printf(out, "  %lu of them in monitor mode (not applied)\n",
		    st->monitored);
	tg_strbuf_printf(out, "verdict time: %.1f ms on average, %.1f ms at most\n",
	    st->ms_avg, st->ms_max);
	list(out, NULL, "top reasons", NULL, st->reasons, st->nreasons, width);
	list(out, NULL, "rules by hits", NULL, st->rules, st->nrules, width);
	list(out, NULL, "top rejected clients", NULL, st->clients, st->nclients, width);
	list(out, NULL, "top rejected sender domains", NULL, st->domains, st->ndomains, width);
	tg_strbuf_free(&when);
}

static void
report_json(const struct tg_store_stats *st, time_t since, struct tg_strbuf *out)
{
	struct tg_json js = { .out = out };

	tg_json_obj(&js, NULL);
	tg_json_time(&js, "since", since);
	tg_json_int(&js, "total", (long long)st->total);
	tg_json_obj(&js, "actions");
	for (int a = TG_ACCEPT; a <= TG_REJECT; a++)
		tg_json_int(&js, tg_action_name((enum tg_action)a), (long long)st->actions[a]);
	tg_json_end(&js);
	tg_json_int(&js, "monitored", (long long)st->monitored);
	tg_json_obj(&js, "quarantine");
	for (int q = TG_QS_HELD; q <= TG_QS_EXPIRED; q++)
		tg_json_int(&js, tg_qstate_name((enum tg_qstate)q), (long long)st->states[q]);
	tg_json_end(&js);
	tg_json_num(&js, "ms_avg", st->ms_avg);
	tg_json_num(&js, "ms_max", st->ms_max);
	list(NULL, &js, NULL, "reasons", st->reasons, st->nreasons, 0);
	list(NULL, &js, NULL, "rules", st->rules, st->nrules, 0);
	list(NULL, &js, NULL, "rejected_clients", st->clients, st->nclients, 0);
	list(NULL, &js, NULL, "rejected_sender_domains", st->domains, st->ndomains, 0);
	tg_json_end(&js);
	tg_strbuf_addch(out, '\n');
}

int
tg_ctl_stats(struct tg_ctl *c, int argc, char **argv)
{
	enum { O_SINCE = 256, O_TOP };
	static const struct option opts[] = {
		TG_CTL_COMMON_OPTS,
		{ "since", required_argument, NULL, O_SINCE },
		{ "top", required_argument, NULL, O_TOP },
		{ NULL, 0, NULL, 0 },
	};
	time_t now = time(NULL), since = now - 7 * 86400;
	unsigned int top = 10;
	struct tg_store_stats st;
	struct tg_strbuf out = { 0 };
	struct tg_store *s;
	struct tg_arena *a;
	int opt, stop, rc = TG_CTL_OK;

	while ((opt = tg_ctl_getopt(c, argc, argv, opts, stats_help, &stop)) != -1) {
		switch (opt) {
		case O_SINCE:
			since = tg_fmt_parse_since(optarg, now);
			if (since < 0)
				return tg_ctl_usage_error("stats", "--since %s: expected an age like "
				    "7d or a date like 2024-05-21", optarg);
			break;
		case O_TOP:
			top = (unsigned int)strtoul(optarg, NULL, 10);
			if (top == 0 || top > 1000)
				return tg_ctl_usage_error("stats", "--top %s: expected 1 to 1000",
				    optarg);
			break;
		}
	}
	if (stop >= 0)
		return stop;
	if (optind != argc)
		return tg_ctl_usage_error("stats", "unexpected argument \"%s\"", argv[optind]);
	if ((s = tg_ctl_open_store(c)) == NULL)
		return TG_CTL_FAILED;
	a = tg_arena_new();
	if (tg_store_stats(s, since, top, a, &st) < 0) {
		rc = tg_ctl_error("%s", tg_store_error(s));
	} else {
		if (c->json)
			report_json(&st, since, &out);
		else
			report_text(&st, since, c->width, &out);
		tg_ctl_print(&out);
	}
	tg_strbuf_free(&out);
	tg_arena_free(&a);
	tg_store_close(&s);
	return rc;
}
