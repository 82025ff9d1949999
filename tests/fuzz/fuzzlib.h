/*
 * fuzzlib - what the libFuzzer harnesses share: a scratch directory,
 * small file helpers, and a DNS table that answers tollgate's queries
 * through tg_dns_hook (src/dns.h) without any network.
 *
 * The table holds fixed records (fz_dns_add) and records an input adds
 * for one run (fz_dns_add with transient = true, dropped by
 * fz_dns_reset). A name with records of another type answers NODATA,
 * an unknown name NXDOMAIN; the pseudo-types FZ_TIMEOUT and
 * FZ_SERVFAIL make every query for the name time out or fail.
 */
#ifndef TG_FUZZLIB_H
#define TG_FUZZLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FZ_TIMEOUT	-1
#define FZ_SERVFAIL	-2

/* fz_tmpdir - a scratch directory in $TMPDIR (or /tmp), created on first
   use, removed at exit when libFuzzer exits through exit() (run.sh gives
   each run a TMPDIR of its own and removes it) */
const char *fz_tmpdir(void);
/* fz_write - write len bytes to DIR/name; returns the full path (static
   buffer per call site is the caller's business: malloc'd here) */
char *fz_write(const char *name, const void *data, size_t len);
/* fz_strndup - data as a NUL-terminated string (embedded NULs kept) */
char *fz_strndup(const uint8_t *data, size_t len);

/* fz_dns_add - a record: type 16 (TXT: text is the joined string), 1
   (A), 28 (AAAA), 15 (MX: "PREF HOST"), 12 (PTR), or FZ_TIMEOUT /
   FZ_SERVFAIL (text ignored). Returns -1 when text does not parse. */
int fz_dns_add(const char *name, int type, const char *text, bool transient);
/* fz_dns_reset - forget the transient records */
void fz_dns_reset(void);
/* fz_dns_install - point tg_dns_hook at the table */
void fz_dns_install(void);
/* fz_dns_queries - queries answered since the last reset */
unsigned int fz_dns_queries(void);

#endif
