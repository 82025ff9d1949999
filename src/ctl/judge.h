/*
 * judge - tollgate's decision outside the daemon, for tollgatectl test
 * and replay: a stored record rebuilt into a connection and message and
 * decided again, or a saved message file run through the real checks
 * phase by phase as Postfix would feed it; and the report of a verdict
 * (text or JSON). Uses the published configuration (tg_config_acquire).
 */
#ifndef TG_CTL_JUDGE_H
#define TG_CTL_JUDGE_H

#include <stdbool.h>
#include <stddef.h>

struct tg_conn;
struct tg_json;
struct tg_msg;
struct tg_store_rec;
struct tg_strbuf;

/* the envelope a message file is tested with */
struct tg_judge_env {
	const char *client_ip;		/* NULL: unknown */
	const char *client_name, *helo, *sender, *auth, *tls, *daemon;
	const char **rcpts;		/* raw or bare addresses */
	size_t nrcpts;
};

/* what a judgement produced */
struct tg_judgement {
	struct tg_conn *conn;		/* owns msg; tg_conn_free() when done */
	struct tg_msg *msg;
	unsigned int phase;		/* where it was decided: TG_PH_MAIL, _RCPT, _EOM */
	const char **refused;		/* "rcpt: 554 5.7.1 text" per refused recipient */
	size_t nrefused;
};

/* tg_judge_record - rebuild rec (an end-of-message record) and decide
   again with the configuration's policy, Mode and ErrorActions. The
   recorded facts are used as they are, trusted included. */
void tg_judge_record(const struct tg_store_rec *rec, struct tg_judgement *j);

/* tg_judge_file - run the message in path with env through the checks
   (live DNS) and the policy. -1 after printing why (unreadable file,
   bad address). Missing sender and recipients come from the message's
   Return-Path/From and Delivered-To/X-Original-To/To/Cc headers. */
int tg_judge_file(const char *path, struct tg_judge_env *env, struct tg_judgement *j);

void tg_judge_free(struct tg_judgement *j);

/* tg_judge_label - "quarantine", or "accept (monitor: reject)" */
const char *tg_judge_label(const struct tg_msg *msg);

/* tg_judge_report - the verdict, the rules that fired and why, every
   check result, and the Authentication-Results value */
void tg_judge_report(const struct tg_judgement *j, bool json, struct tg_strbuf *out);

/* tg_judge_json_verdict - msg->verdict as a JSON object under key */
void tg_judge_json_verdict(struct tg_json *js, const char *key, const struct tg_msg *msg);

#endif
