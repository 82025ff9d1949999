/*
 * verdict - actions, reply codes and the text we write about a verdict
 * (see verdict.h). It does not decide anything.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/arena.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "util/xmalloc.h"
#include "verdict.h"

static const struct {
	const char *name, *code, *xcode, *text;
} actions[] = {
	[TG_ACCEPT] = { "accept", "250", "2.0.0", "OK" },
	[TG_TAG] = { "tag", "250", "2.0.0", "OK" },
	[TG_QUARANTINE] = { "quarantine", "250", "2.0.0", "OK" },
	[TG_TEMPFAIL] = { "tempfail", "451", "4.7.1", "Message deferred, try again later" },
	[TG_REJECT] = { "reject", "550", "5.7.1", "Message rejected by policy" },
};

const char *
tg_action_name(enum tg_action a)
{
	return actions[a].name;
}

int
tg_action_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(s, actions[i].name) == 0)
			return (int)i;
	return -1;
}

void
tg_verdict_set(struct tg_verdict *v, enum tg_action action, const char *code,
    const char *xcode, const char *text, const char *rule)
{
	v->action = action;
	snprintf(v->code, sizeof(v->code), "%s", code ? code : "");
	snprintf(v->xcode, sizeof(v->xcode), "%s", xcode ? xcode : "");
	v->text = text;
	v->rule = rule;
}

void
tg_verdict_reason(struct tg_arena *a, struct tg_verdict *v, const char *fmt, ...)
{
	struct tg_strbuf sb = { 0 };
	va_list ap;

	va_start(ap, fmt);
	tg_strbuf_vprintf(&sb, fmt, ap);
	va_end(ap);
	if (v->nreasons == v->capreasons) {
		const char **nv;

		v->capreasons = v->capreasons ? v->capreasons * 2 : 8;
		nv = tg_arena_alloc(a, v->capreasons * sizeof(*nv));
		if (v->nreasons > 0)
			memcpy(nv, v->reasons, v->nreasons * sizeof(*nv));
		v->reasons = nv;
	}
	v->reasons[v->nreasons++] = tg_arena_strdup(a, tg_strbuf_str(&sb));
	tg_strbuf_free(&sb);
}

void
tg_verdict_reasons(const struct tg_verdict *v, struct tg_strbuf *out)
{
	for (size_t i = 0; i < v->nreasons; i++) {
		if (i > 0)
			tg_strbuf_append(out, "; ");
		tg_strbuf_append(out, v->reasons[i]);
	}
}

const char *
tg_verdict_code(const struct tg_verdict *v)
{
	return v->code[0] ? v->code : actions[v->action].code;
}

const char *
tg_verdict_xcode(const struct tg_verdict *v)
{
	return v->xcode[0] ? v->xcode : actions[v->action].xcode;
}

void
tg_verdict_reply_text(const struct tg_verdict *v, const char *ref,
    struct tg_strbuf *out)
{
	const char *text = v->text ? v->text : actions[v->action].text;

	tg_text_reply(out, text, 400);
	tg_strbuf_append(out, " (ref: ");
	tg_text_reply(out, ref, 64);
	tg_strbuf_append(out, ")");
}

void
tg_verdict_header(const struct tg_verdict *v, struct tg_strbuf *out)
{
	struct tg_strbuf reasons = { 0 };

	tg_strbuf_printf(out, "%s", actions[v->monitored ? v->would : v->action].name);
	if (v->monitored)
		tg_strbuf_append(out, " (monitor)");
	tg_strbuf_printf(out, " score=%.1f", v->score);
	if (v->rule != NULL) {
		tg_strbuf_append(out, " rule=");
		tg_text_header(out, v->rule, 64);
	}
	tg_verdict_reasons(v, &reasons);
	if (reasons.len > 0) {
		tg_strbuf_append(out, "; ");
		tg_text_header(out, tg_strbuf_str(&reasons), 900);
	}
	tg_strbuf_free(&reasons);
}

int
tg_reply_validate(const char *code, const char *xcode, char cls,
    const char **error_r)
{
	int dots = 0;
	size_t i;

	if (strlen(code) != 3 || code[0] != cls || !isdigit((unsigned char)code[1])
	    || !isdigit((unsigned char)code[2])) {
		*error_r = cls == '5' ? "expected a 5xx reply code" : "expected a 4xx reply code";
		return -1;
	}
	if (xcode == NULL || xcode[0] == '\0')
		return 0;
	if (xcode[0] != cls || xcode[1] != '.') {
		*error_r = cls == '5' ? "expected an enhanced status code 5.X.Y"
		    : "expected an enhanced status code 4.X.Y";
		return -1;
	}
	for (i = 1; xcode[i] != '\0'; i++) {
		if (xcode[i] == '.') {
			if (!isdigit((unsigned char)xcode[i - 1]) || ++dots > 2)
				break;
		} else if (!isdigit((unsigned char)xcode[i]) || i > 10) {
			break;
		}
	}
	if (xcode[i] != '\0' || dots != 2 || !isdigit((unsigned char)xcode[i - 1])) {
		*error_r = "expected an enhanced status code like 5.7.1";
		return -1;
	}
	return 0;
}
