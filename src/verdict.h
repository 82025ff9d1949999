/*
 * verdict - what tollgate answers for a message or a recipient, and
 * how that answer is written: SMTP reply text, the X-Tollgate-Verdict
 * header. Pure data and formatting; applying it is milter.c's job.
 */
#ifndef TG_VERDICT_H
#define TG_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

struct tg_arena;
struct tg_strbuf;

/* ordered by severity: a stronger action overrides a weaker one */
enum tg_action {
	TG_ACCEPT = 0,
	TG_TAG,
	TG_QUARANTINE,
	TG_TEMPFAIL,
	TG_REJECT,
};

struct tg_verdict {
	enum tg_action action;
	char code[4];			/* "550"; "" = the default for action */
	char xcode[12];			/* "5.7.1"; "" = the default */
	const char *text;		/* reply text without reference; may be NULL */
	const char *rule;		/* deciding rule or gate name; may be NULL */
	double score;
	const char **reasons;		/* arena-allocated */
	size_t nreasons, capreasons;
	bool monitored;			/* action not applied: monitor mode */
	enum tg_action would;		/* the action monitor mode suppressed */
};

const char *tg_action_name(enum tg_action a);
/* tg_action_parse - -1 for an unknown name */
int tg_action_parse(const char *s);

/* tg_verdict_set - action with reply (code/xcode/text may be NULL for defaults) */
void tg_verdict_set(struct tg_verdict *v, enum tg_action action,
    const char *code, const char *xcode, const char *text, const char *rule);
void tg_verdict_reason(struct tg_arena *a, struct tg_verdict *v,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* tg_verdict_reasons - reasons joined with "; " (into out) */
void tg_verdict_reasons(const struct tg_verdict *v, struct tg_strbuf *out);

/* tg_verdict_code/xcode - the reply code to send, defaults filled in */
const char *tg_verdict_code(const struct tg_verdict *v);
const char *tg_verdict_xcode(const struct tg_verdict *v);
/* tg_verdict_reply_text - escaped reply text ending "(ref: REF)" */
void tg_verdict_reply_text(const struct tg_verdict *v, const char *ref,
    struct tg_strbuf *out);
/* tg_verdict_header - X-Tollgate-Verdict value: "tag score=5.0 rule=x; reasons" */
void tg_verdict_header(const struct tg_verdict *v, struct tg_strbuf *out);

/* tg_reply_code_valid - "4xx"/"5xx" with matching "4.x.y"/"5.x.y";
   the code must agree with the class expected (4 or 5). error_r set on -1 */
int tg_reply_validate(const char *code, const char *xcode, char cls,
    const char **error_r);

#endif
