/*
 * postfix - what tollgatectl asks of Postfix: the queue as postqueue -j
 * lists it, and running postsuper, postqueue and postcat (with -c
 * CONFIG_DIR unless it is the default /etc/postfix). Commands are run
 * directly (fork/exec, no shell); queue ids are checked first.
 */
#ifndef TG_CTL_POSTFIX_H
#define TG_CTL_POSTFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct tg_strbuf;

/* one queued message as postqueue -j reports it */
struct tg_pf_entry {
	char *qid, *queue, *sender;	/* queue: "hold", "deferred", ... */
	char **rcpts;
	size_t nrcpts;
	time_t arrival;
	uint64_t size;
};

struct tg_pf_queue {
	struct tg_pf_entry *v;
	size_t n;
};

/* tg_pf_valid_qid - letters and digits only, and not "ALL" (which
   postsuper takes as every message) */
bool tg_pf_valid_qid(const char *s);

/* tg_pf_parse_line - one line of postqueue -j into e (owned strings,
   freed by tg_pf_entry_free); -1 when it is no queue entry */
int tg_pf_parse_line(const char *line, struct tg_pf_entry *e);
void tg_pf_entry_free(struct tg_pf_entry *e);

/* tg_pf_list - the whole queue (postqueue -j). -1 with the reason in
   err (Postfix down, command missing) */
int tg_pf_list(const char *config_dir, struct tg_pf_queue *q, struct tg_strbuf *err);
/* tg_pf_find - the entry of qid, or NULL */
const struct tg_pf_entry *tg_pf_find(const struct tg_pf_queue *q, const char *qid);
void tg_pf_queue_free(struct tg_pf_queue *q);

/* tg_pf_run - run Postfix program prog (searched in PATH, then
   /usr/sbin) with "-c config_dir" first when config_dir is not the
   default, then args (NULL-terminated). out non-NULL: stdout and stderr
   collected there; NULL: they go to ours. Returns the exit status, or
   -1 when it could not run (reason in out, or on stderr). */
int tg_pf_run(const char *config_dir, const char *prog, const char *const *args,
    struct tg_strbuf *out);

#endif
