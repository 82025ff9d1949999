/*
 * recorder - the daemon's side of the verdict store: which verdicts
 * RecordVerdicts wants, and one writer thread that writes them, so that
 * the disk never holds up a verdict. A store that is locked or full is
 * waited for (up to 30 s per record); one that stays so, or is broken,
 * costs a log line per record, never the verdict: the message goes on
 * as decided.
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
   TG_PH_EOM. Copies the record and queues it for the writer (at most
   1000 wait; more are logged and not recorded). After
   tg_recorder_stop() it writes at once, waiting at most StoreTimeout. */
void tg_recorder_record(const struct tg_msg *msg, unsigned int phase, const char *rcpt);

/* tg_recorder_flush - wait until every record queued so far is written
   or given up */
void tg_recorder_flush(void);

/* tg_recorder_stop - write what is queued (waiting at most 2 s more for
   a locked store), stop the writer, close the store (at exit) */
void tg_recorder_stop(void);

#endif
