/*
 * fuzz_addr - envelope address parsing (util/addr.c): tg_addr_parse()
 * on any text, then every domain tg_addr_each_domain() reports must be
 * a real string, and a parsed address must round-trip its invariants.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzlib.h"
#include "util/addr.h"
#include "util/arena.h"

static bool
each(const char *domain, void *ctx)
{
	size_t *n = ctx;

	if (domain == NULL)
		abort();
	*n += strlen(domain) + 1;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct tg_arena *a = tg_arena_new();
	char *s = fz_strndup(data, len);
	struct tg_addr addr;
	const char *err = NULL;
	size_t n = 0;

	if (tg_addr_parse(a, s, &addr, &err) == 0) {
		if (addr.local == NULL || addr.domain == NULL || (addr.nroute > 0 && addr.route == NULL))
			abort();
		if (addr.null && (addr.local[0] != '\0' || addr.domain[0] != '\0'))
			abort();
		(void)tg_addr_each_domain(a, &addr, each, &n);
		(void)tg_addr_has_hidden_route(&addr);
	} else if (err == NULL) {
		abort();	/* an error must say what is wrong */
	}
	tg_domain_normalize(s);
	free(s);
	tg_arena_free(&a);
	return 0;
}
