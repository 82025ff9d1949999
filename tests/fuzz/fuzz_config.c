/*
 * fuzz_config - tollgate.conf (config.c) through tg_config_load() on a
 * file holding the input, with the policy and list files it may name.
 * Every file read stays in the scratch directory: a line naming a
 * file (file:, PolicyFile, SenderLoginMap, DNSSECTrustAnchor,
 * PublicSuffixList) is dropped if it holds a '/' (relative paths are
 * taken relative to the config file), and PolicyFile and
 * PublicSuffixList get safe values unless the input sets them. Errors
 * must be printable lines, file names quoted in them included. A config that loads is printed (to /dev/null) and freed;
 * one that does not must have said why.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include "config.h"
#include "fuzzlib.h"
#include "util/strbuf.h"

static FILE *devnull;

/* names_file - a line that could make the loader read a file outside
   the scratch directory */
static bool
names_file(const char *l)
{
	static const char *const keys[] = { "file:", "policyfile", "senderloginmap",
		"dnssectrustanchor", "publicsuffixlist" };

	if (strchr(l, '/') == NULL)
		return false;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcasestr(l, keys[i]) != NULL)
			return true;
	return false;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char policy[] = "set tag-threshold 5\nlist l = file:domains\n"
	    "rule a: helo in l -> reject\nrule b: spf is fail -> score 6\n";
	static const char domains[] = "example.org, .example.net\n";
	static const char logins[] = "alice@example.org alice\n@sales.example.org bob, carol\n";
	static const char psl[] = "// tiny list\ncom\nnet\norg\n*.ck\n!www.ck\nco.uk\n";

	free(fz_write("policy", policy, sizeof(policy) - 1));
	free(fz_write("domains", domains, sizeof(domains) - 1));
	free(fz_write("logins", logins, sizeof(logins) - 1));
	free(fz_write("nets", "192.0.2.0/24\n::1\n", 17));
	free(fz_write("psl", psl, sizeof(psl) - 1));
	devnull = fopen("/dev/null", "w");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct tg_strbuf text = { 0 }, err = { 0 };
	struct tg_config *cfg;
	char *s = fz_strndup(data, len), *save = NULL, *path;

	if (strlen(s) != len) {		/* getline() reads past a NUL: keep it */
		free(s);
		return 0;
	}
	if (strcasestr(s, "PolicyFile") == NULL)
		tg_strbuf_append(&text, "PolicyFile policy\n");
	if (strcasestr(s, "PublicSuffixList") == NULL)
		tg_strbuf_append(&text, "PublicSuffixList psl\n");
	if (strcasestr(s, "Nameservers") == NULL)
		tg_strbuf_append(&text, "Nameservers 127.0.0.1@9\n");
	for (char *l = strtok_r(s, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		if (names_file(l))
			continue;
		tg_strbuf_append(&text, l);
		tg_strbuf_addch(&text, '\n');
	}
	path = fz_write("tollgate.conf", text.s ? text.s : "", text.len);
	cfg = tg_config_load(path, &err);
	if (cfg != NULL) {
		tg_config_print(cfg, devnull);
		tg_config_release(&cfg);
	} else if (err.len == 0) {
		abort();	/* refused without saying why */
	}
	/* errors echo what they quote escaped: one printable line each */
	for (size_t i = 0; i < err.len; i++)
		if ((err.s[i] < 0x20 && err.s[i] != '\n') || (unsigned char)err.s[i] > 0x7e) {
			dprintf(2, "byte 0x%02x at %zu of the errors:\n%s", (unsigned char)err.s[i],
			    i, err.s);
			abort();
		}
	tg_strbuf_free(&err);
	tg_strbuf_free(&text);
	free(path);
	free(s);
	return 0;
}
