/*
 * recorder - the daemon's side of the verdict store: which verdicts
 * RecordVerdicts wants, the one store handle the milter threads share,
 * and the bound (StoreTimeout) on what recording may add to a verdict.
 * A store that is locked, full or broken costs a log line, never the
 * verdict: the message goes on as decided.
 */
#ifndef TG_RECORDER_H
#define TG_RECORDER_H

struct tg_config;
struct tg_msg;

/* tg_recorder_prepare - at start-up, still root: create StateDB's
   directory when only it is missing (mode 0750), and give it and a
   root-owned database to uid/gid ((unsigned)-1: no change of user).
   Problems are logged, never fatal. */
void tg_recorder_prepare(const struct tg_config *cfg, unsigned int uid, unsigned int gid);

/* tg_recorder_start - after privileges are dropped: open StateDB now
   so that a problem shows in the log at start-up, not at the first
   held message */
void tg_recorder_start(void);

/* tg_recorder_record - record msg->verdict if RecordVerdicts asks for
   it; phase is TG_PH_MAIL, TG_PH_RCPT (rcpt: the recipient refused) or
   TG_PH_EOM. Returns within StoreTimeout (plus SQLite's sleep step). */
void tg_recorder_record(const struct tg_msg *msg, unsigned int phase, const char *rcpt);

/* tg_recorder_stop - close the store (at exit) */
void tg_recorder_stop(void);

#endif
