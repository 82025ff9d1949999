/*
 * tollgatectl - main: the options every command shares, the command
 * table, help, and the ways a command gets at the configuration and
 * the store. No command logic lives here.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "config.h"
#include "ctl/ctl.h"
#include "policy.h"
#include "store.h"
#include "util/strbuf.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/tollgate/tollgate.conf"

static const struct command {
	const char *name;
	int (*run)(struct tg_ctl *c, int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "quarantine", tg_ctl_quarantine,
	  "list, show, release or delete held messages; purge old ones" },
	{ "check", tg_ctl_check, "validate the configuration or a policy file" },
	{ "test", tg_ctl_test, "run a saved message through the checks and a policy" },
	{ "replay", tg_ctl_replay, "re-judge recorded mail with a policy: what would change" },
	{ "stats", tg_ctl_stats, "verdict counts, top reasons, rules, clients, domains" },
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: tollgatectl [-c CONFIG] [--json] COMMAND [ARGS...]\n\n"
	    "Review what tollgate held and try policy changes before going live.\n\n"
	    "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(fp, "\noptions (also after the command):\n"
	    "  -c, --config FILE  tollgate.conf to read (default %s)\n"
	    "      --json         machine-readable output\n"
	    "  -h, --help         help; \"tollgatectl COMMAND --help\" for a command's\n"
	    "  -V, --version      the version\n\n"
	    "examples:\n"
	    "  tollgatectl quarantine list\n"
	    "  tollgatectl quarantine release 4XyZ1AbC2\n"
	    "  tollgatectl test saved.eml --client-ip 198.51.100.7 --policy new.conf\n"
	    "  tollgatectl replay --since 7d --policy new.conf\n\n"
	    "See tollgatectl(8).\n", DEFAULT_CONFIG);
}

int
tg_ctl_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("tollgatectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return TG_CTL_FAILED;
}

int
tg_ctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tollgatectl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see \"tollgatectl %s --help\")\n", cmd);
	return TG_CTL_USAGE;
}

/* common_opt - handle 'c' and 'J'; false for other options */
static bool
common_opt(struct tg_ctl *c, int opt, const char *arg)
{
	if (opt == 'c')
		c->config_path = arg;
	else if (opt == 'J')
		c->json = true;
	else
		return false;
	return true;
}

int
tg_ctl_getopt(struct tg_ctl *c, int argc, char **argv, const struct option *opts,
    const char *help, int *stop_r)
{
	int opt;

	*stop_r = -1;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (common_opt(c, opt, optarg))
			continue;
		if (opt == 'h') {
			fputs(help, stdout);
			*stop_r = TG_CTL_OK;
		} else if (opt == '?') {
			*stop_r = tg_ctl_usage_error(c->cmd, "unknown option");
		} else {
			return opt;
		}
		break;
	}
	return -1;
}

/* print_errors - every line of errors, prefixed */
static void
print_errors(const struct tg_strbuf *errors)
{
	const char *p = tg_strbuf_str(errors);

	while (*p != '\0') {
		size_t n = strcspn(p, "\n");

		fprintf(stderr, "tollgatectl: %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

char *
tg_ctl_setting(const struct tg_ctl *c, const char *name)
{
	struct tg_strbuf errors = { 0 };
	char *v = tg_config_setting(c->config_path, name, &errors);

	if (v == NULL) {
		print_errors(&errors);
		if (errors.len == 0)
			tg_ctl_error("%s: %s is not set", c->config_path, name);
	}
	tg_strbuf_free(&errors);
	return v;
}

struct tg_store *
tg_ctl_open_store(const struct tg_ctl *c)
{
	char *path = tg_ctl_setting(c, "StateDB"), err[600];
	struct tg_store *s;

	if (path == NULL)
		return NULL;
	/* interactive: a few seconds of patience with the daemon's writes */
	s = tg_store_open(path, 0, 5000, err, sizeof(err));
	if (s == NULL) {
		tg_ctl_error("cannot open the verdict store %s", err);
		if (errno == ENOENT || strstr(err, "No such file") != NULL)
			fprintf(stderr, "tollgatectl: tollgate creates it when it records its "
			    "first verdict; is StateDB in %s the daemon's?\n", c->config_path);
	}
	free(path);
	return s;
}

struct tg_config *
tg_ctl_load_config(const struct tg_ctl *c, const char *policy)
{
	struct tg_strbuf errors = { 0 };
	struct tg_config *cfg = tg_config_load(c->config_path, &errors);

	if (cfg == NULL) {
		print_errors(&errors);
		tg_ctl_error("%s: the configuration has errors (see above)", c->config_path);
		tg_strbuf_free(&errors);
		return NULL;
	}
	if (policy != NULL) {
		struct tg_policy *p = tg_policy_load(policy, &errors);

		if (p == NULL) {
			print_errors(&errors);
			tg_ctl_error("%s: the policy has errors (see above)", policy);
			tg_strbuf_free(&errors);
			tg_config_release(&cfg);
			return NULL;
		}
		tg_policy_free(&cfg->policy);
		cfg->policy = p;
		free(cfg->policy_file);
		cfg->policy_file = strdup(policy);
	}
	tg_strbuf_free(&errors);
	tg_config_publish(cfg);
	return cfg;
}

void
tg_ctl_print(struct tg_strbuf *sb)
{
	fwrite(tg_strbuf_str(sb), 1, sb->len, stdout);
	tg_strbuf_truncate(sb, 0);
}

/* terminal_width - of stdout when it is a terminal, else 80 */
static unsigned int
terminal_width(void)
{
	struct winsize ws;

	if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 60)
		return ws.ws_col;
	return 80;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		TG_CTL_COMMON_OPTS,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct tg_ctl c = { DEFAULT_CONFIG, false, terminal_width(), NULL };
	int opt, rc;

	/* "+": stop at the command; its options are its own */
	while ((opt = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		if (common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case 'h':
			usage(stdout);
			return TG_CTL_OK;
		case 'V':
			printf("tollgatectl %s\n", PACKAGE_VERSION);
			return TG_CTL_OK;
		default:
			usage(stderr);
			return TG_CTL_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return TG_CTL_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 == argc) {
			usage(stdout);
			return TG_CTL_OK;
		}
		/* "help CMD" is "CMD --help" */
		argv[optind] = argv[optind + 1];
		argv[optind + 1] = (char *)"--help";
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0
		    && !(i == 0 && strcmp(argv[optind], "q") == 0))
			continue;
		rc = optind;
		optind = 0;	/* getopt_long starts afresh for the command */
		c.cmd = commands[i].name;
		return commands[i].run(&c, argc - rc, argv + rc);
	}
	fprintf(stderr, "tollgatectl: unknown command \"%s\"\n\n", argv[optind]);
	usage(stderr);
	return TG_CTL_USAGE;
}
