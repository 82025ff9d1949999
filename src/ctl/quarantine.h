/*
 * quarantine - what the quarantine commands share (quarantine.c: list,
 * show and the dispatch; qchange.c: release, delete, purge): the view
 * of both the store and Postfix's queue.
 */
#ifndef TG_CTL_QUARANTINE_H
#define TG_CTL_QUARANTINE_H

#include <stdbool.h>

#include "ctl/postfix.h"
#include "util/strbuf.h"

struct tg_ctl;
struct tg_store;
struct tg_store_rec;

/* a quarantine command's view of both sides */
struct tg_qctx {
	struct tg_ctl *c;
	struct tg_store *store;
	char *pfdir;			/* PostfixConfigDir */
	struct tg_pf_queue queue;
	bool have_queue;		/* postqueue -j worked */
	struct tg_strbuf queue_err;
};

extern const char tg_qctl_help[];

/* tg_qctx_open - the store and (need_queue: must work) Postfix's queue;
   -1 after printing why, with nothing left open. tg_qctx_close() after 0. */
int tg_qctx_open(struct tg_qctx *q, struct tg_ctl *c, bool need_queue);
void tg_qctx_close(struct tg_qctx *q);
/* tg_qctx_who - the person running us (behind sudo: who ran sudo) */
char *tg_qctx_who(void);
/* tg_qctx_state - a record's state as the list shows it: the store's,
   or for a held record "held", "not-held" (Postfix has it in another
   queue) or "missing"; *e_r is Postfix's entry or NULL */
const char *tg_qctx_state(const struct tg_qctx *q, const struct tg_store_rec *rec,
    const struct tg_pf_entry **e_r);

/* the commands that change something (qchange.c) */
int tg_qctl_change(struct tg_ctl *c, bool release, int argc, char **argv);
int tg_qctl_purge(struct tg_ctl *c, int argc, char **argv);

#endif
