/*
 * fuzz_authres - recognising Authentication-Results headers that claim
 * our authserv-id (authres.c): the test that decides which headers are
 * removed as forged. Input: "authserv-id NUL header-value"; without a
 * NUL the id is mx.example.org. For an id that is a host name, the id
 * itself, quoted or not, must always be recognised.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "fuzzlib.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *s = fz_strndup(data, len), *q;
	const char *id = "mx.example.org", *value = s;
	size_t idlen = strlen(s);

	if (idlen < len) {
		id = s;
		value = s + idlen + 1;
	}
	(void)tg_authres_is_ours(value, id);
	if (id[0] != '\0' && strspn(id, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == strlen(id)) {
		if (!tg_authres_is_ours(id, id))
			abort();
		q = malloc(strlen(id) + 32);
		sprintf(q, "(x) \"%s\" 1; spf=pass", id);
		if (!tg_authres_is_ours(q, id))
			abort();
		free(q);
	}
	free(s);
	return 0;
}
