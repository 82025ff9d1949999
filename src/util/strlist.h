/*
 * strlist - a growable vector of owned strings, with the two lookups
 * tollgate needs: exact (case-insensitive) and domain match.
 */
#ifndef TG_STRLIST_H
#define TG_STRLIST_H

#include <stdbool.h>
#include <stddef.h>

struct tg_strlist {
	char **v;
	size_t n, cap;
};

void tg_strlist_add(struct tg_strlist *l, const char *s);	/* copies s */
bool tg_strlist_has(const struct tg_strlist *l, const char *s);	/* ignoring case */
/* tg_strlist_match_domain - domain equals an entry, or an entry ".example"
   is a parent of it ("a.b.example" matches ".example", "example" does not) */
bool tg_strlist_match_domain(const struct tg_strlist *l, const char *domain);
/* tg_strlist_join - entries joined by sep into a new string */
char *tg_strlist_join(const struct tg_strlist *l, const char *sep);
void tg_strlist_free(struct tg_strlist *l);

#endif
