/*
 * psl - organisational domains from the Public Suffix List (RFC 7489
 * 3.2) and identifier alignment (RFC 7489 3.1), for the DMARC check.
 * No DNS: the list is a file, read into a table of our own per
 * configuration snapshot and looked up with the list's algorithm.
 */
#ifndef TG_CHECKS_PSL_H
#define TG_CHECKS_PSL_H

#include <stdbool.h>

struct tg_psl;

/* tg_psl_load - read the Public Suffix List into a new table, apart
   from any other snapshot's and read-only from then on (lookups from
   any thread need no lock); tg_psl_free() frees it and sets the
   pointer NULL. NULL with *error_r (static buffer: config loads are
   serialised) when the file cannot be read or holds no rule. */
struct tg_psl *tg_psl_load(const char *path, const char **error_r);
void tg_psl_free(struct tg_psl **pslp);

/* tg_psl_org_domain - the organisational domain of a domain (RFC 7489
   3.2; A-labels or U-labels, any ASCII case, one trailing dot kept): a
   pointer to a suffix of domain itself; the domain itself when it is
   a public suffix or one label under one */
const char *tg_psl_org_domain(const struct tg_psl *psl, const char *domain);

/* tg_psl_aligned - identifier alignment (RFC 7489 3.1): strict, the
   same name; relaxed, the same organisational domain. Any case, one
   trailing dot ignored; false for NULL or empty names. */
bool tg_psl_aligned(const struct tg_psl *psl, const char *a, const char *b, bool strict);

#endif
