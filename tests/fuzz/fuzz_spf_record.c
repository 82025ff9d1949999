/*
 * fuzz_spf_record - SPF record text (checks/spf.c): the RFC 7208
 * grammar check and rewrite for libspf2, for both address families,
 * then the macro expander on the same text as a macro-string and an
 * explain-string. A record that passes must come back starting
 * "v=spf1" and be accepted again when parsed a second time.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "checks/spf.h"
#include "fuzzlib.h"
#include "util/arena.h"
#include "util/cidr.h"
#include "util/strbuf.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct tg_arena *a = tg_arena_new();
	char *s = fz_strndup(data, len);
	struct tg_ip ip4, ip6;
	struct tg_spf_macro_ctx ctx = {
		.sender = "strong-bad@email.example.com", .local = "strong-bad",
		.sender_domain = "email.example.com", .domain = "email.example.com",
		.helo = "mx.example.org", .receiver = "mx.example.org", .now = 1700000000,
	};
	struct tg_strbuf out = { 0 };

	(void)tg_ip_parse("192.0.2.3", &ip4);
	(void)tg_ip_parse("2001:db8::cb01", &ip6);
	(void)tg_spf_is_record(s);
	for (int f = 0; f < 2; f++) {
		struct tg_spf_record rec, again;
		const char *err = NULL;

		if (tg_spf_record_parse(a, s, f ? AF_INET6 : AF_INET, &rec, &err) == 0) {
			if (rec.text == NULL || strncmp(rec.text, "v=spf1", 6) != 0)
				abort();
			if (tg_spf_record_parse(a, rec.text, f ? AF_INET6 : AF_INET, &again, &err) != 0)
				abort();
		} else if (err == NULL) {
			abort();
		}
	}
	(void)tg_spf_domain_spec_ok(s);
	(void)tg_spf_helo_is_domain(s);
	for (int exp = 0; exp < 2; exp++) {
		ctx.ip = exp ? &ip6 : &ip4;
		tg_strbuf_truncate(&out, 0);
		(void)tg_spf_expand(s, exp, &ctx, &out);
	}
	tg_strbuf_free(&out);
	free(s);
	tg_arena_free(&a);
	return 0;
}
