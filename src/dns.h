/*
 * dns - the one resolver every check shares (libunbound).
 *
 * A single libunbound context with its own cache serves all threads.
 * Queries are sent asynchronously; one dispatcher thread reads the
 * answers and wakes the thread that asked, so many connections wait on
 * DNS at once without serialising behind a lock. Every query has a
 * deadline (the message's), after which it is cancelled and reported
 * as TG_DNS_TIMEOUT. Definite answers are also kept in a small cache of
 * our own for their TTL (at most an hour), answered without a round
 * trip through libunbound's threads.
 */
#ifndef TG_DNS_H
#define TG_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct tg_dns;
struct tg_strbuf;
struct ub_result;

enum tg_dns_status {
	TG_DNS_OK,		/* records in the answer */
	TG_DNS_NXDOMAIN,	/* the name does not exist */
	TG_DNS_NODATA,		/* the name exists, no records of the type */
	TG_DNS_SERVFAIL,	/* SERVFAIL, REFUSED, a bogus DNSSEC answer ... */
	TG_DNS_TIMEOUT,		/* no answer before the deadline */
	TG_DNS_ERROR,		/* our side failed (memory, bad name) */
};

struct tg_dns_answer {
	enum tg_dns_status status;
	size_t n;			/* records of the asked type */
	char **rdata;			/* n wire-format rdata; borrowed from res */
	int *len;
	bool secure;			/* DNSSEC-validated */
	struct ub_result *res;		/* owned; freed by tg_dns_answer_free */
};

struct tg_dns_opts {
	const char *nameservers;	/* "ADDR[@PORT], ..." or NULL: resolv.conf */
	const char *resolv_conf;	/* NULL = /etc/resolv.conf */
	const char *trust_anchor;	/* DNSSEC root key file, or NULL */
};

/* tg_dns_new - a resolver; NULL with *error_r (static or malloc'd into
   errbuf) on bad options */
struct tg_dns *tg_dns_new(const struct tg_dns_opts *opts, char *errbuf, size_t errlen);
void tg_dns_free(struct tg_dns **dp);

/* tg_dns_query - ask for type records of name, waiting at most until
   deadline (CLOCK_MONOTONIC). Always fills *ans; free it afterwards. */
void tg_dns_query(struct tg_dns *d, const char *name, int type,
    const struct timespec *deadline, struct tg_dns_answer *ans);
void tg_dns_answer_free(struct tg_dns_answer *ans);

/* tg_dns_txt - record i of a TXT answer with its character-strings
   joined, appended to out; -1 if the record is malformed */
int tg_dns_txt(const struct tg_dns_answer *ans, size_t i, struct tg_strbuf *out);

const char *tg_dns_status_name(enum tg_dns_status s);

/* tg_dns_hook - for tests only (the fuzzers in tests/fuzz): when set,
   tg_dns_query() returns what it answers instead of asking libunbound.
   It returns a result allocated the way libunbound allocates one
   (malloc'd qname, NULL-terminated data[] with len[], answer_packet;
   tg_dns_answer_free() hands it to ub_resolve_free()), or NULL for a
   query that times out. Set it before the first query; the daemon
   never does. */
extern struct ub_result *(*tg_dns_hook)(const char *name, int type);

/* tg_dns_labels - the number of labels of name when DNS can carry it
   (labels of 1..63 bytes, at most 253 in all, one trailing dot
   allowed); 0 when it cannot */
size_t tg_dns_labels(const char *name);

/* tg_deadline - now (CLOCK_MONOTONIC) plus ms; tg_deadline_on - on
   another clock (CLOCK_REALTIME for pthread_mutex_timedlock) */
void tg_deadline(struct timespec *ts, unsigned int ms);
void tg_deadline_on(clockid_t clock, struct timespec *ts, unsigned int ms);

#endif
