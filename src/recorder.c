/*
 * recorder - writes verdicts into the store for the daemon (see
 * recorder.h).
 *
 * A milter thread only copies its verdict's record and queues it: the
 * disk, SQLite's locks and checkpoints never hold up a verdict. One
 * writer thread takes what is queued, up to BATCH records a
 * transaction, so under load a commit serves many messages. A record
 * the store cannot take (locked by another process, full) is tried
 * again until it has waited MAX_AGE_SECONDS; one that cannot be kept
 * (queue full, store unusable, too old) is logged with its message's
 * ids. A store that cannot be opened, or turns out corrupt, is retried
 * at most every RETRY_SECONDS. After tg_recorder_stop(), a late record
 * is written at once, waiting at most StoreTimeout.
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
#include "dns.h"
#include "log.h"
#include "recorder.h"
#include "session.h"
#include "store.h"
#include "util/arena.h"
#include "util/xmalloc.h"

#define RETRY_SECONDS 30	/* between attempts to open a store that failed */
#define QUEUE_MAX 1000		/* records waiting; more are logged and dropped */
#define BATCH 200		/* records per transaction at most */
#define MAX_AGE_SECONDS 30	/* how long a record may wait for a locked store */
#define STOP_GRACE_MS 2000	/* at stop: how long a locked store is waited for */
#define PAUSE_MS 100		/* between attempts on a locked store */

/* one verdict waiting to be written */
struct job {
	struct job *next;
	struct tg_arena *arena;		/* everything below lives here */
	struct tg_store_rec rec;
	const char *path;		/* StateDB when the verdict was taken */
	unsigned int timeout_ms;	/* StoreTimeout then */
	unsigned long conn_id, msg_id;
	struct timespec taken;		/* CLOCK_MONOTONIC */
};

/* the store: the writer's, or a late record's after stop */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tg_store *store;		/* under lock */
static char *store_path;		/* the path store was opened from */
static time_t retry_at;			/* no open attempt before this ... */
static char retry_path[4096];		/* ... of this path (another is tried) */
static char open_error[300];		/* why the last open failed */

/* the queue and the writer */
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond;		/* work queued, stop asked, or idle */
static pthread_once_t qonce = PTHREAD_ONCE_INIT;
static struct job *qhead, **qtail = &qhead;
static size_t qlen;
static bool writer_running;		/* a writer thread exists */
static bool writer_busy;		/* it holds records it took */
static bool stopped;			/* tg_recorder_stop() called: the writer drains
					   and ends, later records are written at once */
static struct timespec stop_at;
static pthread_t writer;

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

static long
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000L + (now.tv_nsec - t->tv_nsec) / 1000000L;
}

/* close_store - drop the handle; under lock */
static void
close_store(void)
{
	tg_store_close(&store);
	free(store_path);
	store_path = NULL;
}

/* not_before - no new attempt to open path before t; under lock */
static void
not_before(const char *path, time_t t)
{
	retry_at = t;
	snprintf(retry_path, sizeof(retry_path), "%s", path);
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
	if (now < retry_at && strcmp(retry_path, path) == 0)
		return false;
	store = tg_store_open(path, TG_STORE_CREATE, timeout_ms, open_error,
	    sizeof(open_error));
	if (store == NULL) {
		not_before(path, now + RETRY_SECONDS);
		tg_log(TG_LOG_ERR, "StateDB %s; verdicts are not recorded (next try in %ds)",
		    open_error, RETRY_SECONDS);
		return false;
	}
	store_path = xstrdup(path);
	retry_at = 0;
	return true;
}

/* lost - log that the job's verdict is not recorded, and why */
static void
lost(const struct job *j, const char *why)
{
	tg_log_ids(TG_LOG_WARN, j->conn_id, j->msg_id, j->rec.qid, "%s; verdict not recorded",
	    why);
}

static void
job_free(struct job *j)
{
	struct tg_arena *a = j->arena;

	tg_arena_free(&a);
}

/* job_new - the record of msg's verdict, to be written later */
static struct job *
job_new(const struct tg_msg *msg, unsigned int phase, const char *rcpt)
{
	const struct tg_config *cfg = msg->conn->cfg;
	struct tg_arena *a = tg_arena_new();
	struct job *j = tg_arena_alloc(a, sizeof(*j));

	j->arena = a;
	tg_store_rec_of(&j->rec, msg, phase, rcpt, time(NULL), a);
	j->path = tg_arena_strdup(a, cfg->state_db);
	j->timeout_ms = cfg->store_timeout_ms;
	j->conn_id = msg->conn->id;
	j->msg_id = msg->id;
	clock_gettime(CLOCK_MONOTONIC, &j->taken);
	return j;
}

enum wrote { WROTE, LATER, FAILED, NO_STORE };

/* write_jobs - n jobs of one StateDB in one transaction; under lock.
   LATER: the store may take them later (locked, full); FAILED: these
   records cannot be written; NO_STORE: none can. why says why. */
static enum wrote
write_jobs(struct job **jobs, size_t n, char *why, size_t whylen)
{
	const struct tg_store_rec *recs[BATCH];

	if (!ensure_open(jobs[0]->path, jobs[0]->timeout_ms)) {
		snprintf(why, whylen, "StateDB unavailable (%s)", open_error);
		return NO_STORE;
	}
	for (size_t i = 0; i < n; i++)
		recs[i] = &jobs[i]->rec;
	tg_store_set_timeout(store, jobs[0]->timeout_ms);
	if (tg_store_add(store, recs, n, NULL) == 0)
		return WROTE;
	snprintf(why, whylen, "StateDB %s: %s", jobs[0]->path, tg_store_error(store));
	if (tg_store_broken(store)) {
		close_store();
		not_before(jobs[0]->path, time(NULL) + RETRY_SECONDS);
		snprintf(open_error, sizeof(open_error), "%s was unusable", jobs[0]->path);
		return NO_STORE;
	}
	return tg_store_retry(store) ? LATER : FAILED;
}

/* write_batch - write n jobs; those to try again later stay in jobs
   (their number is returned, why says why), the rest are written or
   logged as lost, and freed. Under lock. */
static size_t
write_batch(struct job **jobs, size_t n, char *why, size_t whylen)
{
	size_t keep = 0;

	switch (write_jobs(jobs, n, why, whylen)) {
	case WROTE:
		break;
	case LATER:
		return n;
	case NO_STORE:
		for (size_t i = 0; i < n; i++)
			lost(jobs[i], why);
		break;
	case FAILED:		/* one at a time: a record that fails, fails alone */
		for (size_t i = 0; i < n; i++) {
			enum wrote w = n == 1 ? FAILED : write_jobs(&jobs[i], 1, why, whylen);

			if (w == LATER) {
				jobs[keep++] = jobs[i];
				continue;
			}
			if (w != WROTE)
				lost(jobs[i], why);
			job_free(jobs[i]);
		}
		return keep;
	}
	for (size_t i = 0; i < n; i++)
		job_free(jobs[i]);
	return 0;
}

/* give_up_waiting - a store that stays locked: stop trying? (under qlock) */
static bool
give_up_waiting(const struct job *oldest)
{
	return ms_since(&oldest->taken) >= MAX_AGE_SECONDS * 1000L
	    || (stopped && ms_since(&stop_at) >= STOP_GRACE_MS);
}

/* take_batch - detach up to BATCH jobs of the first job's StateDB from
   the queue; under qlock */
static size_t
take_batch(struct job **jobs)
{
	size_t n = 0;

	while (qhead != NULL && n < BATCH && (n == 0 || strcmp(qhead->path, jobs[0]->path) == 0)) {
		jobs[n++] = qhead;
		qhead = qhead->next;
		qlen--;
	}
	if (qhead == NULL)
		qtail = &qhead;
	return n;
}

/* put_back - return jobs to the head of the queue; under qlock */
static void
put_back(struct job **jobs, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		jobs[i]->next = qhead;
		if (qhead == NULL)
			qtail = &jobs[i]->next;
		qhead = jobs[i];
		qlen++;
	}
}

/* wait_ms - sleep on qcond for at most ms; under qlock */
static void
wait_ms(unsigned int ms)
{
	struct timespec ts;

	tg_deadline(&ts, ms);
	(void)pthread_cond_timedwait(&qcond, &qlock, &ts);
}

/* writer_main - write what is queued until stopped and drained */
static void *
writer_main(void *arg)
{
	struct job *jobs[BATCH];
	char why[400];

	(void)arg;
	pthread_mutex_lock(&qlock);
	for (;;) {
		size_t n, keep;

		while (qhead == NULL && !stopped)
			pthread_cond_wait(&qcond, &qlock);
		if (qhead == NULL)
			break;
		n = take_batch(jobs);
		writer_busy = true;
		pthread_mutex_unlock(&qlock);
		pthread_mutex_lock(&lock);
		keep = write_batch(jobs, n, why, sizeof(why));
		pthread_mutex_unlock(&lock);
		pthread_mutex_lock(&qlock);
		writer_busy = false;
		if (keep > 0 && give_up_waiting(jobs[0])) {
			for (size_t i = 0; i < keep; i++) {
				lost(jobs[i], why);
				job_free(jobs[i]);
			}
			keep = 0;
		}
		put_back(jobs, keep);
		pthread_cond_broadcast(&qcond);		/* for tg_recorder_flush */
		if (keep > 0)
			wait_ms(PAUSE_MS);
	}
	pthread_cond_broadcast(&qcond);
	pthread_mutex_unlock(&qlock);
	return NULL;
}

static void
queue_init(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&qcond, &ca);
	pthread_condattr_destroy(&ca);
}

/* record_now - a late record (after stop): written at once, waiting at
   most StoreTimeout for the store */
static void
record_now(struct job *j)
{
	struct timespec deadline;
	char why[400];

	tg_deadline_on(CLOCK_REALTIME, &deadline, j->timeout_ms);
	if (pthread_mutex_timedlock(&lock, &deadline) != 0) {
		lost(j, "StateDB busy");
		job_free(j);
		return;
	}
	if (write_batch(&j, 1, why, sizeof(why)) > 0) {
		lost(j, why);
		job_free(j);
	}
	pthread_mutex_unlock(&lock);
}

void
tg_recorder_record(const struct tg_msg *msg, unsigned int phase, const char *rcpt)
{
	struct job *j;
	bool now;

	if (!wanted(msg->conn->cfg, msg))
		return;
	j = job_new(msg, phase, rcpt);
	pthread_once(&qonce, queue_init);
	pthread_mutex_lock(&qlock);
	if (!writer_running && !stopped && pthread_create(&writer, NULL, writer_main, NULL) == 0)
		writer_running = true;
	if (writer_running && !stopped && qlen < QUEUE_MAX) {
		*qtail = j;
		qtail = &j->next;
		qlen++;
		pthread_cond_broadcast(&qcond);	/* flushers wait on it too */
		pthread_mutex_unlock(&qlock);
		return;
	}
	now = !writer_running || stopped;
	pthread_mutex_unlock(&qlock);
	if (now) {
		record_now(j);
		return;
	}
	lost(j, "StateDB: too many verdicts waiting to be written");
	job_free(j);
}

void
tg_recorder_flush(void)
{
	pthread_once(&qonce, queue_init);
	pthread_mutex_lock(&qlock);
	while (writer_running && (qhead != NULL || writer_busy))
		pthread_cond_wait(&qcond, &qlock);
	pthread_mutex_unlock(&qlock);
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

	pthread_once(&qonce, queue_init);
	pthread_mutex_lock(&qlock);
	stopped = false;		/* records go to the writer again */
	pthread_mutex_unlock(&qlock);
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
	bool join;

	pthread_once(&qonce, queue_init);
	pthread_mutex_lock(&qlock);
	join = writer_running && !stopped;
	stopped = true;
	clock_gettime(CLOCK_MONOTONIC, &stop_at);
	pthread_cond_broadcast(&qcond);
	pthread_mutex_unlock(&qlock);
	if (join) {
		pthread_join(writer, NULL);	/* it drains the queue first */
		pthread_mutex_lock(&qlock);
		writer_running = false;
		pthread_mutex_unlock(&qlock);
	}
	pthread_mutex_lock(&lock);
	close_store();
	pthread_mutex_unlock(&lock);
}
