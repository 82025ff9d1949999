/*
 * arena - a bump allocator for data that lives exactly as long as one
 * message (or one parsed file). Everything is released by one
 * tg_arena_free(). Allocation never fails (xmalloc).
 */
#ifndef TG_ARENA_H
#define TG_ARENA_H

#include <stddef.h>

struct tg_arena;

struct tg_arena *tg_arena_new(void);
/* tg_arena_free - release the arena and all it handed out; sets *ap NULL */
void tg_arena_free(struct tg_arena **ap);
void *tg_arena_alloc(struct tg_arena *a, size_t size);	/* zeroed */
char *tg_arena_strdup(struct tg_arena *a, const char *s);
char *tg_arena_strndup(struct tg_arena *a, const char *s, size_t n);
char *tg_arena_printf(struct tg_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* tg_arena_size - bytes currently held (for accounting) */
size_t tg_arena_size(const struct tg_arena *a);

#endif
