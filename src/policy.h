/*
 * policy - the admin's policy file: parse, validate, decide.
 *
 * See man/tollgate-policy.5 for the language. Decisions are a pure
 * function of the parsed policy and the facts in conn/msg, so they
 * can be tested without libmilter.
 */
#ifndef TG_POLICY_H
#define TG_POLICY_H

struct tg_conn;
struct tg_msg;
struct tg_policy;
struct tg_strbuf;
struct tg_verdict;

/* tg_policy_load - read and parse a file. On any error returns NULL
   and appends one line per error to errors, each
   "FILE:LINE:COL: expected X, got \"Y\"\n"; all errors are reported. */
struct tg_policy *tg_policy_load(const char *path, struct tg_strbuf *errors);
/* tg_policy_parse - the same for text in memory; name is used as FILE */
struct tg_policy *tg_policy_parse(const char *name, const char *text,
    struct tg_strbuf *errors);
void tg_policy_free(struct tg_policy **pp);

/* tg_policy_decide - evaluate the rules against msg (whose conn is
   msg->conn) and fill *v (action, reply, rule, score, reasons; strings
   in msg->arena). The caller zeroes *v first. */
void tg_policy_decide(const struct tg_policy *p, const struct tg_msg *msg,
    struct tg_verdict *v);

/* tg_policy_nrules - number of rules (for logs and -n) */
unsigned int tg_policy_nrules(const struct tg_policy *p);

#endif
