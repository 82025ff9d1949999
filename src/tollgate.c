/*
 * tollgate - main: options, configuration, daemon start-up (socket,
 * pid file, privileges) and the signal loop (SIGHUP reloads,
 * SIGTERM/SIGINT stop). The milter itself runs in its own thread so
 * this thread can take the signals.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "milter.h"
#include "policy.h"
#include "util/strbuf.h"

#define DEFAULT_CONFIG SYSCONFDIR "/tollgate/tollgate.conf"

static volatile sig_atomic_t got_hup, got_stop;
static int wake_pipe[2] = { -1, -1 };

/* usage - print help and exit with status */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tollgate [-fnV] [-c config]\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -f       stay in the foreground and log to stderr\n"
	    "  -n       check the configuration and policy, print the settings, exit\n"
	    "  -V       print the version and exit\n"
	    "  -h       this help\n", DEFAULT_CONFIG);
	exit(status);
}

/* on_signal - note the signal and wake the loop through the pipe */
static void
on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
	(void)!write(wake_pipe[1], "", 1);
	errno = saved;
}

/* load - a configuration, or NULL with every error printed/logged */
static struct tg_config *
load(const char *path, bool to_log)
{
	struct tg_strbuf errors = { 0 };
	struct tg_config *cfg = tg_config_load(path, &errors);

	if (cfg == NULL) {
		char *line, *save = NULL;

		for (line = strtok_r(errors.s, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			if (to_log)
				tg_log(TG_LOG_ERR, "%s", line);
			else
				fprintf(stderr, "tollgate: %s\n", line);
		}
	}
	tg_strbuf_free(&errors);
	return cfg;
}

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* warn_restart_only - settings a reload cannot apply to a running process */
static void
warn_restart_only(const struct tg_config *old, const struct tg_config *new)
{
	const struct {
		const char *name;
		bool changed;
	} s[] = {
		{ "Socket", !same_str(old->socket, new->socket) },
		{ "SocketMode", old->socket_mode != new->socket_mode },
		{ "UserID", !same_str(old->user, new->user) },
		{ "PidFile", !same_str(old->pidfile, new->pidfile) },
		{ "Syslog", old->syslog != new->syslog },
		{ "SyslogFacility", old->syslog_facility != new->syslog_facility },
		{ "MilterTimeout", old->milter_timeout != new->milter_timeout },
	};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (s[i].changed)
			tg_log(TG_LOG_WARN, "%s changed: it takes effect at restart only",
			    s[i].name);
}

/* reload - SIGHUP: a complete new snapshot, or keep the old one */
static void
reload(const char *path)
{
	struct tg_config *cfg = load(path, true), *old;

	if (cfg == NULL) {
		tg_log(TG_LOG_ERR, "reload of %s failed; still running the previous "
		    "configuration and policy", path);
		return;
	}
	old = tg_config_acquire();
	if (old != NULL)
		warn_restart_only(old, cfg);
	tg_config_release(&old);
	tg_log_set_format(cfg->log_format);
	tg_log(TG_LOG_INFO, "reloaded %s: policy %s, %u rules", path,
	    cfg->policy_file ? cfg->policy_file : "(none)",
	    cfg->policy ? tg_policy_nrules(cfg->policy) : 0);
	tg_config_publish(cfg);
}

/* lookup_user - "user[:group]" into ids; -1 if unknown */
static int
lookup_user(const char *spec, uid_t *uid_r, gid_t *gid_r, char **name_r)
{
	char *name = strdup(spec), *colon;
	struct passwd *pw;

	if (name == NULL)
		return -1;
	colon = strchr(name, ':');
	if (colon != NULL)
		*colon++ = '\0';
	pw = getpwnam(name);
	if (pw == NULL) {
		free(name);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	if (colon != NULL) {
		struct group *gr = getgrnam(colon);

		if (gr == NULL) {
			free(name);
			return -1;
		}
		*gid_r = gr->gr_gid;
	}
	*name_r = name;
	return 0;
}

/* drop_privileges - become UserID for good */
static void
drop_privileges(const char *name, uid_t uid, gid_t gid)
{
	if (initgroups(name, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
		tg_log_fatal("cannot switch to user %s: %s", name, strerror(errno));
	if (uid != 0 && setuid(0) == 0)
		tg_log_fatal("privileges could be regained after switching to %s", name);
}

/* write_pidfile - our pid, before privileges are dropped. The file
   stays open: at exit, unprivileged, it may not be removable (a
   directory only root writes to), and is emptied instead. */
static int
write_pidfile(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || dprintf(fd, "%ld\n", (long)getpid()) < 0)
		tg_log_fatal("cannot write pid file %s: %s", path, strerror(errno));
	return fd;
}

/* remove_pidfile - at exit: remove it, or else leave it empty, so that
   it names no process */
static void
remove_pidfile(const char *path, int fd)
{
	if (unlink(path) != 0 && errno != ENOENT) {
		int err = errno;

		if (ftruncate(fd, 0) == 0)
			tg_log(TG_LOG_INFO, "pid file %s emptied (cannot remove it: %s)", path,
			    strerror(err));
		else
			tg_log(TG_LOG_WARN, "pid file %s left behind: %s", path, strerror(err));
	}
	close(fd);
}

static void *
milter_thread(void *arg)
{
	int *rc = arg;

	*rc = tg_milter_run();
	got_stop = 1;
	(void)!write(wake_pipe[1], "", 1);	/* wake the signal loop */
	return NULL;
}

/* serve - run the milter thread; take signals here until stopped.
   libmilter's own signal thread would stop on SIGHUP; this thread keeps
   the signals unblocked so the kernel hands them to it first. */
static int
serve(const char *path)
{
	struct sigaction sa;
	sigset_t block;
	pthread_t tid;
	int rc = 0;
	char buf[16];

	if (pipe(wake_pipe) != 0)
		tg_log_fatal("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	if (pthread_create(&tid, NULL, milter_thread, &rc) != 0)
		tg_log_fatal("cannot start the milter thread");
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	while (!got_stop) {
		if (read(wake_pipe[0], buf, sizeof(buf)) < 0 && errno != EINTR)
			break;
		while (got_hup && !got_stop) {
			got_hup = 0;
			reload(path);
		}
	}
	tg_log(TG_LOG_INFO, "stopping");
	tg_milter_stop();
	pthread_join(tid, NULL);
	return rc;
}

#if defined(__SANITIZE_ADDRESS__)
#define TG_OWN_MALLOC 1		/* AddressSanitizer's allocator, not glibc's */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TG_OWN_MALLOC 1
#endif
#endif

/* tune_malloc - run again with glibc's per-thread malloc caches off.
   libmilter gives every connection a thread, and each thread's cache
   keeps freed blocks to itself: at 100 connections about 1-1.7 MB of
   peak RSS, for no CPU saved (tests/bench). glibc reads this only from
   the environment at start, hence the exec; an admin's own setting of
   it, valgrind (it would not follow the exec) and sanitizer builds are
   left alone, and a failed exec just goes on as it is. */
static void
tune_malloc(char **argv)
{
#ifndef TG_OWN_MALLOC
	static const char tcache[] = "glibc.malloc.tcache_count=0";
	const char *old = getenv("GLIBC_TUNABLES"), *pre = getenv("LD_PRELOAD");
	struct tg_strbuf v = { 0 };

	if ((old != NULL && strstr(old, "glibc.malloc.tcache_count") != NULL)
	    || (pre != NULL && strstr(pre, "vgpreload") != NULL))
		return;
	if (old != NULL && old[0] != '\0')
		tg_strbuf_printf(&v, "%s:%s", old, tcache);
	else
		tg_strbuf_append(&v, tcache);
	if (setenv("GLIBC_TUNABLES", v.s, 1) == 0)
		execv("/proc/self/exe", argv);
	tg_strbuf_free(&v);
#else
	(void)argv;
#endif
}

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	bool foreground = false, check_only = false;
	struct tg_config *cfg;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	char *user = NULL, *pidfile, *abspath = NULL;
	int pidfd = -1;
	int c, rc;

	while ((c = getopt(argc, argv, "c:fnVh")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'n':
			check_only = true;
			break;
		case 'V':
			printf("tollgate %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (!check_only)
		tune_malloc(argv);
	/* daemon() moves to /: reloads must find the same file */
	if (path[0] != '/' && (abspath = realpath(path, NULL)) != NULL)
		path = abspath;
	cfg = load(path, false);
	if (cfg == NULL) {
		free(abspath);
		return 78;	/* EX_CONFIG */
	}
	if (check_only) {
		tg_config_print(cfg, stdout);
		printf("%s: configuration and policy OK\n", path);
		tg_config_release(&cfg);
		free(abspath);
		return 0;
	}
	tg_log_open(foreground, cfg->syslog, cfg->syslog_facility, cfg->log_format);
	if (cfg->user != NULL && lookup_user(cfg->user, &uid, &gid, &user) < 0)
		tg_log_fatal("UserID %s: no such user or group", cfg->user);
	if (cfg->user == NULL && geteuid() == 0)
		tg_log(TG_LOG_WARN, "running as root: set UserID to drop privileges");
	if (tg_milter_open(cfg, (unsigned int)uid, (unsigned int)gid) < 0)
		return 71;	/* EX_OSERR */
	if (!foreground && daemon(0, 0) != 0)
		tg_log_fatal("cannot become a daemon: %s", strerror(errno));
	if (cfg->pidfile != NULL)
		pidfd = write_pidfile(cfg->pidfile);
	if (user != NULL)
		drop_privileges(user, uid, gid);
	tg_log(TG_LOG_INFO, "starting tollgate %s on %s, policy %s (%u rules), mode %s",
	    PACKAGE_VERSION, cfg->socket, cfg->policy_file ? cfg->policy_file : "(none)",
	    cfg->policy ? tg_policy_nrules(cfg->policy) : 0,
	    cfg->mode == TG_MODE_MONITOR ? "monitor" : "enforce");
	pidfile = cfg->pidfile != NULL ? strdup(cfg->pidfile) : NULL;
	tg_config_publish(cfg);
	rc = serve(path);
	if (pidfile != NULL)
		remove_pidfile(pidfile, pidfd);
	free(pidfile);
	free(user);
	free(abspath);
	tg_config_publish(NULL);
	tg_log(TG_LOG_INFO, "stopped");
	return rc == 0 ? 0 : 1;
}
