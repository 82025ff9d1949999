/*
 * ctl - tollgatectl(8), the tool of the people who review the
 * quarantine and tune the policy. main.c parses the common options and
 * runs one command; each command file does one job:
 *
 *   quarantine.c  quarantine list/show/release/delete/purge
 *   policy.c      check, test, replay
 *   judge.c       a message (file or record) through checks and policy
 *   stats.c       stats
 *
 * Exit status: 0 done, 1 failed (an unknown id, an error), 2 usage.
 */
#ifndef TG_CTL_H
#define TG_CTL_H

#include <stdbool.h>
#include <stdio.h>

struct option;
struct tg_config;
struct tg_store;
struct tg_strbuf;

#define TG_CTL_OK 0
#define TG_CTL_FAILED 1
#define TG_CTL_USAGE 2

/* what every command gets */
struct tg_ctl {
	const char *config_path;	/* -c, default /etc/tollgate/tollgate.conf */
	bool json;			/* --json */
	unsigned int width;		/* columns of table output */
	const char *cmd;		/* the command running: "stats" */
};

/* the options every command takes, for getopt_long tables */
#define TG_CTL_COMMON_OPTS \
	{ "config", required_argument, NULL, 'c' }, \
	{ "json", no_argument, NULL, 'J' }, \
	{ "help", no_argument, NULL, 'h' }

/* tg_ctl_getopt - the next of the command's own options in opts (its
   getopt_long table), -1 after the last. -c and --json are taken here;
   -h prints help, an unknown option a usage error, and either ends the
   options with *stop_r set to what the command returns (TG_CTL_OK,
   TG_CTL_USAGE). *stop_r is -1 otherwise. */
int tg_ctl_getopt(struct tg_ctl *c, int argc, char **argv, const struct option *opts,
    const char *help, int *stop_r);

/* tg_ctl_error - "tollgatectl: ..." on stderr; returns TG_CTL_FAILED */
int tg_ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* tg_ctl_usage_error - a usage error with a pointer to --help; TG_CTL_USAGE */
int tg_ctl_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* tg_ctl_setting - one string setting of the configuration file
   (without loading the rest); NULL after printing why. Caller frees. */
char *tg_ctl_setting(const struct tg_ctl *c, const char *name);
/* tg_ctl_open_store - StateDB of the configuration; NULL after
   printing why */
struct tg_store *tg_ctl_open_store(const struct tg_ctl *c);
/* tg_ctl_load_config - the whole configuration, published so that
   tg_config_acquire() hands out references (tg_config_publish(NULL)
   to finish); policy non-NULL replaces its policy file. NULL after
   printing every error. */
struct tg_config *tg_ctl_load_config(const struct tg_ctl *c, const char *policy);

/* tg_ctl_print - write sb to stdout and empty it */
void tg_ctl_print(struct tg_strbuf *sb);

/* the commands: argv[0] is the command's name */
int tg_ctl_quarantine(struct tg_ctl *c, int argc, char **argv);
int tg_ctl_check(struct tg_ctl *c, int argc, char **argv);
int tg_ctl_test(struct tg_ctl *c, int argc, char **argv);
int tg_ctl_replay(struct tg_ctl *c, int argc, char **argv);
int tg_ctl_stats(struct tg_ctl *c, int argc, char **argv);

#endif
