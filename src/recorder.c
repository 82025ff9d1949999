/*
 * recorder - writes verdicts into the store for the daemon (see
 * recorder.h). All milter threads share one SQLite handle under a
 * mutex; a thread waits for that mutex and then for SQLite's locks only
 * until its StoreTimeout deadline, then gives up and logs. A store that
 * cannot be opened, or turns out corrupt, is retried at most every
 * RETRY_SECONDS, so a broken file costs a log line per message and no
 * time.
 */
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checks/check.h"
#include "config.h"
#include "log.h"
#include "recorder.h"
#include "session.h"
#include "store.h"
#include "util/xmalloc.h"

#define RETRY_SECONDS 30

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tg_store *store;		/* under lock */
static char *store_path;		/* the path store was opened from */
static time_t retry_at;			/* no open attempt before this */
static char open_error[300];		/* why the last open failed */

/* wanted - does RecordVerdicts ask for this verdict? */
static bool
wanted(const struct tg_config *cfg, const struct tg_msg *msg)
{
	switch (cfg->record_verdicts) {
	case TG_RECORD_ALL:
		return true;
	case TG_RECORD_QUARANTINE:
		return msg->verdict.action == TG_QUARANTINE;
	case TG_RECORD_NONE:
		break;
	}
	return false;
}

/* ms_left - milliseconds until deadline (CLOCK_REALTIME), 0 if past */
static unsigned int
ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_REALTIME, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000L
	    + (deadline->tv_nsec - now.tv_nsec) / 1000000L;
	return ms > 0 ? (unsigned int)ms : 0;
}

/* close_store - drop the handle; under lock */
static void
close_store(void)
{
	tg_store_close(&store);
	free(store_path);
	store_path = NULL;
}

/* ensure_open - the handle for path, opening it when needed and allowed;
   under lock. false with open_error set when there is none. */
static bool
ensure_open(const char *path, unsigned int timeout_ms)
{
	time_t now = time(NULL);

	if (store != NULL && strcmp(store_path, path) == 0)
		return true;
	close_store();
	if (now < retry_at)
		return false;
	store = tg_store_open(path, TG_STORE_CREATE, timeout_ms, open_error,
	    sizeof(open_error));
	if (store == NULL) {
		retry_at = now + RETRY_SECONDS;
		tg_log(TG_LOG_ERR, "StateDB %s; verdicts are not recorded (next try in %ds)",
		    open_error, RETRY_SECONDS);
		return false;
	}
	store_path = xstrdup(path);
	retry_at = 0;
	return true;
}

void
tg_recorder_record(const struct tg_msg *msg, unsigned int phase, const char *rcpt)
{
	const struct tg_config *cfg = msg->conn->cfg;
	struct timespec deadline;
	unsigned int left;

	if (!wanted(cfg, msg))
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += cfg->store_timeout_ms / 1000;
	deadline.tv_nsec += (long)(cfg->store_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_timedlock(&lock, &deadline) != 0) {
		tg_log_conn(TG_LOG_WARN, msg->conn, msg, "StateDB busy for %ums: "
		    "verdict not recorded", cfg->store_timeout_ms);
		return;
	}
	left = ms_left(&deadline);
	if (!ensure_open(cfg->state_db, left)) {
		tg_log_conn(TG_LOG_WARN, msg->conn, msg, "StateDB unavailable: verdict "
		    "not recorded (%s)", open_error);
	} else {
		tg_store_set_timeout(store, ms_left(&deadline));
		if (tg_store_record(store, msg, phase, rcpt, time(NULL)) < 0) {
			tg_log_conn(TG_LOG_WARN, msg->conn, msg, "StateDB %s: %s; verdict not "
			    "recorded", cfg->state_db, tg_store_error(store));
			if (tg_store_broken(store)) {
				close_store();
				retry_at = time(NULL) + RETRY_SECONDS;
				snprintf(open_error, sizeof(open_error), "%s was unusable",
				    cfg->state_db);
			}
		}
	}
	pthread_mutex_unlock(&lock);
}

/* give - chown path to uid/gid if root owns it now */
static void
give(const char *path, unsigned int uid, unsigned int gid)
{
	struct stat st;

	if (lstat(path, &st) == 0 && st.st_uid == 0 && uid != 0
	    && chown(path, (uid_t)uid, (gid_t)gid) != 0)
		tg_log(TG_LOG_WARN, "StateDB: chown %s: %s", path, strerror(errno));
}

void
tg_recorder_prepare(const struct tg_config *cfg, unsigned int uid, unsigned int gid)
{
	char *dir, *slash;
	struct stat st;

	if (cfg->record_verdicts == TG_RECORD_NONE)
		return;
	dir = xstrdup(cfg->state_db);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (stat(dir, &st) != 0 && errno == ENOENT) {
			if (mkdir(dir, 0750) != 0)
				tg_log(TG_LOG_WARN, "StateDB: cannot create %s: %s", dir,
				    strerror(errno));
			else if (uid != (unsigned int)-1)
				give(dir, uid, gid);
		}
	}
	free(dir);
	if (uid == (unsigned int)-1)
		return;
	{
		const char *suffixes[] = { "", "-wal", "-shm" };

		for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
			char *p = xasprintf("%s%s", cfg->state_db, suffixes[i]);

			give(p, uid, gid);
			free(p);
		}
	}
}

void
tg_recorder_start(void)
{
	struct tg_config *cfg = tg_config_acquire();

	if (cfg == NULL || cfg->record_verdicts == TG_RECORD_NONE) {
		tg_config_release(&cfg);
		return;
	}
	pthread_mutex_lock(&lock);
	/* start-up may wait a little longer than a message would */
	if (ensure_open(cfg->state_db, 1000))
		tg_log(TG_LOG_INFO, "StateDB %s (schema %d): recording %s verdicts",
		    cfg->state_db, tg_store_version(store),
		    cfg->record_verdicts == TG_RECORD_ALL ? "all" : "quarantine");
	pthread_mutex_unlock(&lock);
	tg_config_release(&cfg);
}

void
tg_recorder_stop(void)
{
	pthread_mutex_lock(&lock);
	close_store();
	pthread_mutex_unlock(&lock);
}
