/*
 * log - levels, destination (syslog or stderr), and the one summary
 * line per message (text or JSON) built from the message's facts.
 * Every line carries the connection id, then message and queue id.
 */
#ifndef TG_LOG_H
#define TG_LOG_H

#include <stdbool.h>

#include "config.h"

struct tg_conn;
struct tg_msg;

enum tg_loglevel { TG_LOG_DEBUG, TG_LOG_INFO, TG_LOG_WARN, TG_LOG_ERR, TG_LOG_FATAL };

/* tg_log_open - stderr when to_stderr, else syslog with facility */
void tg_log_open(bool to_stderr, bool use_syslog, int facility, enum tg_logformat fmt);
void tg_log_set_format(enum tg_logformat fmt);
void tg_log(enum tg_loglevel lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* tg_log_conn - a line prefixed "c=ID" (and "m=N qid=Q" if msg) */
void tg_log_conn(enum tg_loglevel lvl, const struct tg_conn *conn,
    const struct tg_msg *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* tg_log_ids - the same with the ids of a message that is gone */
void tg_log_ids(enum tg_loglevel lvl, unsigned long conn_id, unsigned long msg_id,
    const char *qid, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* tg_log_verdict - the summary line for msg->verdict; rcpt non-NULL
   for a line about one rejected recipient */
void tg_log_verdict(const struct tg_msg *msg, const char *rcpt);
/* tg_log_fatal - log and exit(1) */
void tg_log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
