/*
 * fuzz_from - the RFC 5322 From parser (util/from.c). The input is one
 * or more From field values separated by a NUL byte: each is parsed
 * alone, then all together as a message's From headers.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzlib.h"
#include "util/arena.h"
#include "util/from.h"

#define MAXH 8

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct tg_arena *a = tg_arena_new();
	const char *names[MAXH], *values[MAXH];
	size_t nh = 0;
	char *s = fz_strndup(data, len), *p = s;
	const char *err, *dom;

	while (nh < MAXH && p <= s + len) {
		struct tg_from_mailbox *list = NULL;
		size_t n = 0;

		names[nh] = nh % 2 ? "from" : "From";
		values[nh++] = p;
		err = NULL;
		if (tg_from_parse(a, p, &list, &n, &err) == 0) {
			if (n == 0 || list == NULL)
				abort();
			for (size_t i = 0; i < n; i++)
				if (list[i].local == NULL || list[i].domain == NULL
				    || !tg_domain_is_hostname(list[i].domain))
					abort();
		} else if (err == NULL) {
			abort();
		}
		p += strlen(p) + 1;
	}
	err = NULL;
	dom = tg_from_domain(a, names, values, nh, &err);
	if ((dom == NULL) == (err == NULL) && dom == NULL)
		abort();
	free(s);
	tg_arena_free(&a);
	return 0;
}
