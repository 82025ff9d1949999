/*
 * milter - the libmilter glue: callbacks unpack what the MTA sends,
 * hand it to the session, and apply the verdict the session reached.
 * The only file that includes <libmilter/mfapi.h>.
 */
#ifndef TG_MILTER_H
#define TG_MILTER_H

struct tg_config;

/* tg_milter_open - register and bind the socket (mode, owner applied);
   call before dropping privileges. 0, or -1 with the error logged. */
int tg_milter_open(const struct tg_config *cfg, unsigned int uid, unsigned int gid);
/* tg_milter_run - serve until tg_milter_stop(); 0, or -1 on failure */
int tg_milter_run(void);
void tg_milter_stop(void);

#endif
