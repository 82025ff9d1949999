/*
 * arena - bump allocator (see arena.h). Chunks double up to 64 KiB;
 * larger requests get a chunk of their own.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "xmalloc.h"

struct chunk {
	struct chunk *next;
	size_t size, used;
	max_align_t data[];
};

struct tg_arena {
	struct chunk *head;
	size_t total;
};

#define ALIGN(n) (((n) + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1))

struct tg_arena *
tg_arena_new(void)
{
	return xcalloc(1, sizeof(struct tg_arena));
}

void
tg_arena_free(struct tg_arena **ap)
{
	struct chunk *c, *next;

	if (*ap == NULL)
		return;
	for (c = (*ap)->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(*ap);
	*ap = NULL;
}

void *
tg_arena_alloc(struct tg_arena *a, size_t size)
{
	struct chunk *c = a->head;
	size_t need = ALIGN(size ? size : 1);
	void *p;

	if (c == NULL || c->size - c->used < need) {
		size_t csize = c ? c->size * 2 : 1024;

		if (csize > 65536)
			csize = 65536;
		if (csize < need)
			csize = need;
		c = xmalloc(sizeof(*c) + csize);
		c->size = csize;
		c->used = 0;
		c->next = a->head;
		a->head = c;
		a->total += csize;
	}
	p = (char *)c->data + c->used;
	c->used += need;
	memset(p, 0, size);
	return p;
}

char *
tg_arena_strndup(struct tg_arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = tg_arena_alloc(a, len + 1);

	memcpy(p, s, len);
	return p;
}

char *
tg_arena_strdup(struct tg_arena *a, const char *s)
{
	return tg_arena_strndup(a, s, strlen(s));
}

char *
tg_arena_printf(struct tg_arena *a, const char *fmt, ...)
{
	char buf[256];		/* most results fit: format once */
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0) {
		n = 0;
		buf[0] = '\0';
	}
	p = tg_arena_alloc(a, (size_t)n + 1);
	if ((size_t)n < sizeof(buf)) {
		memcpy(p, buf, (size_t)n + 1);
		return p;
	}
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

size_t
tg_arena_size(const struct tg_arena *a)
{
	return a->total;
}
