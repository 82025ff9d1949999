/*
 * check - the interface every check implements.
 *
 * A check records facts about a message with tg_result_add() (see
 * session.h); it never talks to the MTA and never picks an action.
 * Built-in gates (size, relay, submission) and the policy turn those
 * facts into a verdict. The table of checks lives in session.c; its
 * order is data (DMARC needs SPF and DKIM).
 */
#ifndef TG_CHECK_H
#define TG_CHECK_H

#include <stdbool.h>
#include <stddef.h>

struct tg_config;
struct tg_msg;

enum tg_phase {
	TG_PH_CONNECT = 1 << 0,
	TG_PH_HELO = 1 << 1,
	TG_PH_MAIL = 1 << 2,
	TG_PH_RCPT = 1 << 3,
	TG_PH_HEADER = 1 << 4,
	TG_PH_EOH = 1 << 5,
	TG_PH_BODY = 1 << 6,
	TG_PH_EOM = 1 << 7,
};

/* what a phase carries; fields not belonging to the phase are NULL/0 */
struct tg_phase_arg {
	const char *rcpt;		/* RCPT: the raw recipient path */
	const char *hname, *hvalue;	/* HEADER */
	bool leadspc;			/* HEADER: hvalue keeps the white space after ':' */
	const unsigned char *body;	/* BODY: one chunk */
	size_t bodylen;
};

struct tg_check {
	const char *name;		/* config key and log label */
	unsigned int phases;		/* TG_PH_* the check wants */
	/* setup - per config snapshot; 0, or -1 with *error_r */
	int (*setup)(const struct tg_config *cfg, void **global_r, const char **error_r);
	void (*teardown)(void *global);
	void (*on_phase)(void *global, struct tg_msg *msg, enum tg_phase phase,
	    const struct tg_phase_arg *arg);
	void (*msg_end)(void *global, struct tg_msg *msg);	/* may be NULL */
};

#define TG_MAX_CHECKS 8

/* the table, NULL-terminated, in evaluation order */
extern const struct tg_check *const tg_checks[];

extern const struct tg_check tg_check_size;
extern const struct tg_check tg_check_relay;
extern const struct tg_check tg_check_spf;
extern const struct tg_check tg_check_dkim;
extern const struct tg_check tg_check_dmarc;

#endif
