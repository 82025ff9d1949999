/*
 * psl - organisational domains from the Public Suffix List (RFC 7489
 * 3.2) and identifier alignment (RFC 7489 3.1), for the DMARC check.
 * No DNS: the list is a file, looked up through libopendmarc with
 * its mistakes corrected.
 */
#ifndef TG_CHECKS_PSL_H
#define TG_CHECKS_PSL_H

#include <stdbool.h>

struct tg_psl;

/* tg_psl_load - load the Public Suffix List (into libopendmarc, whose
   table is process-wide, and the rules it gets wrong into ours). NULL
   with *error_r (static buffer: config loads are serialised) when the
   file cannot be read. */
struct tg_psl *tg_psl_load(const char *path, const char **error_r);
void tg_psl_free(struct tg_psl **pslp);

/* tg_psl_org_domain - the organisational domain of a lowercase domain
   (RFC 7489 3.2): a pointer to a suffix of domain itself; the domain
   itself when it is a public suffix */
const char *tg_psl_org_domain(const struct tg_psl *psl, const char *domain);

/* tg_psl_aligned - identifier alignment (RFC 7489 3.1): strict, the
   same name; relaxed, the same organisational domain. Any case, one
   trailing dot ignored; false for NULL or empty names. */
bool tg_psl_aligned(const struct tg_psl *psl, const char *a, const char *b, bool strict);

#endif
