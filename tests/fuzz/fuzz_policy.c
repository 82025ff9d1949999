/*
 * fuzz_policy - the policy language (policy.c): tg_policy_parse() on
 * any text; a policy that parses is then run by tg_policy_decide() on
 * two fixed messages, and its verdict must be a real action with a
 * valid reply; errors must be printable lines. "file:" list items are
 * confined to the scratch directory (any '/' after "file:" becomes '_').
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzzlib.h"
#include "policy.h"
#include "session.h"
#include "util/arena.h"
#include "util/strbuf.h"
#include "verdict.h"

static struct tg_config *cfg;
static char *policy_name;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char list[] = "192.0.2.0/24, 2001:db8::/32\n10.0.0.1 # x\n";
	static const char domains[] = "example.org, .example.net\n@remote.example\n";
	struct tg_strbuf err = { 0 };
	char conf[512];
	char *path;

	free(fz_write("nets", list, sizeof(list) - 1));
	free(fz_write("domains", domains, sizeof(domains) - 1));
	free(fz_write("empty.policy", "", 0));
	snprintf(conf, sizeof(conf), "PolicyFile empty.policy\nLocalDomains example.org\n"
	    "TrustedNetworks 192.0.2.0/24\nSyslog no\nNameservers 127.0.0.1@9\n"
	    "PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat\n");
	path = fz_write("tollgate.conf", conf, strlen(conf));
	cfg = tg_config_load(path, &err);
	if (cfg == NULL) {
		fprintf(stderr, "fuzz_policy: %s", tg_strbuf_str(&err));
		abort();
	}
	tg_strbuf_free(&err);
	free(path);
	policy_name = malloc(strlen(fz_tmpdir()) + 16);
	sprintf(policy_name, "%s/policy.conf", fz_tmpdir());
	return 0;
}

/* confine_files - no list file outside the scratch directory */
static void
confine_files(char *s)
{
	for (char *p = strstr(s, "file:"); p != NULL; p = strstr(p, "file:"))
		for (p += 5; *p != '\0' && *p != ',' && *p != '\n' && *p != ' '; p++)
			if (*p == '/')
				*p = '_';
}

static void
check_verdict(const struct tg_verdict *v, const char *ref)
{
	struct tg_strbuf sb = { 0 };
	const char *code = tg_verdict_code(v), *xcode = tg_verdict_xcode(v);

	if (v->action > TG_REJECT)
		abort();
	if (v->action == TG_REJECT || v->action == TG_TEMPFAIL) {
		const char *err;

		if (tg_reply_validate(code, xcode, v->action == TG_REJECT ? '5' : '4', &err) != 0)
			abort();
		tg_verdict_reply_text(v, ref, &sb);
		for (const char *p = tg_strbuf_str(&sb); *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();	/* CR, LF, 8-bit in an SMTP reply */
	}
	tg_strbuf_truncate(&sb, 0);
	tg_verdict_header(v, &sb);
	tg_strbuf_truncate(&sb, 0);
	tg_verdict_reasons(v, &sb);
	tg_strbuf_free(&sb);
}

/* decide - the policy on one message from ip with these facts */
static void
decide(const struct tg_policy *p, const char *ip, bool auth, enum tg_outcome spf,
    enum tg_outcome dkim, enum tg_outcome dmarc, const char *subject)
{
	struct tg_conn *conn = tg_conn_new(cfg, 1);
	struct tg_ip addr;
	struct tg_msg *msg;
	const char *err;
	struct tg_result *r;
	static const char *rcpts[] = { "<bob@example.org>", "<x@example.net>" };
	struct tg_header hdrs[3] = {
		{ "From", "Alice <alice@remote.example>" },
		{ "Subject", subject },
		{ "X-Score-A", "1" },
	};

	cfg->refs++;		/* the connection's reference */
	if (tg_ip_parse(ip, &addr) == 0)
		tg_conn_set_ip(conn, &addr);
	conn->helo = strdup("client.remote.example");
	conn->auth_user = auth ? strdup("alice") : NULL;
	msg = tg_msg_new(conn);
	msg->sender_raw = "<alice@remote.example>";
	msg->sender_ok = tg_addr_parse(msg->arena, msg->sender_raw, &msg->sender, &err) == 0;
	msg->rcpts = rcpts;
	msg->nrcpts = 2;
	msg->headers = hdrs;
	msg->nheaders = 3;
	msg->size = 12345;
	r = tg_result_add(msg, "spf", spf, TG_PH_MAIL, "spf reason");
	r->domain = "remote.example";
	r = tg_result_add(msg, "dkim", dkim, TG_PH_EOM, "d=remote.example");
	r->domain = "remote.example";
	r = tg_result_add(msg, "dmarc", dmarc, TG_PH_EOM, "dmarc reason");
	r->policy = "reject";
	tg_policy_decide(p, msg, &msg->verdict);
	check_verdict(&msg->verdict, tg_msg_ref(msg));
	tg_conn_free(&conn);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *s = fz_strndup(data, len);
	struct tg_strbuf err = { 0 };
	struct tg_policy *p;

	confine_files(s);
	p = tg_policy_parse(policy_name, s, &err);
	if (p == NULL && err.len == 0)
		abort();	/* refused without saying why */
	if (p != NULL) {
		(void)tg_policy_nrules(p);
		decide(p, "198.51.100.7", false, TG_FAIL, TG_PASS, TG_FAIL, "cheap viagra");
		decide(p, "2001:db8::1", true, TG_TEMPERROR, TG_NONE, TG_PERMERROR, "hello");
		tg_policy_free(&p);
	}
	/* errors echo what they quote escaped: one printable line each */
	for (size_t i = 0; i < err.len; i++)
		if ((err.s[i] < 0x20 && err.s[i] != '\n') || (unsigned char)err.s[i] > 0x7e) {
			dprintf(2, "byte 0x%02x at %zu of the errors:\n%s", (unsigned char)err.s[i],
			    i, err.s);
			abort();
		}
	tg_strbuf_free(&err);
	free(s);
	return 0;
}
