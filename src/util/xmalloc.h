/*
 * xmalloc - allocation that never returns NULL.
 *
 * On exhaustion the process logs and exits; the MTA then applies its
 * milter_default_action (we ship tempfail), so no mail is lost.
 */
#ifndef TG_XMALLOC_H
#define TG_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf - printf into a new string the caller frees */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
