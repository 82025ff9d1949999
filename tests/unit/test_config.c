/*
 * test_config - tollgate.conf: every setting, the defaults, the exact
 * "FILE:LINE: expected X, got \"Y\"" errors (all of them, not the
 * first), file: lists, the sender-login map, the refcounted snapshot
 * and tg_parse_size(). Policy parse errors belong to test_policy; here
 * the PolicyFile is always an empty file.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "session.h"
#include "util/cidr.h"
#include "util/strbuf.h"
#include "util/strlist.h"
#include "util/xmalloc.h"

#include "runner.h"

/* a private directory holding tollgate.conf, policy.conf and list files */
static char dir[4096];

/* path_of - dir/name in a static buffer (one at a time) */
static const char *
path_of(const char *name)
{
	static char buf[4200];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

/* write_file - dir/name with the given contents */
static void
write_file(const char *name, const char *text)
{
	FILE *fp = fopen(path_of(name), "w");

	ck_assert_msg(fp != NULL, "%s: %s", path_of(name), strerror(errno));
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
}

/* conf_path - the config file's path, kept for error texts */
static char conf[4200];

/* load - write text as tollgate.conf (plus an empty policy) and load it;
   errors (if any) go to *err, which the caller frees */
static struct tg_config *
load(const char *text, struct tg_strbuf *err)
{
	write_file("policy.conf", "");
	write_file("tollgate.conf", text);
	return tg_config_load(conf, err);
}

/* load_ok - load text, which must be valid */
static struct tg_config *
load_ok(const char *text)
{
	struct tg_strbuf err = { 0 };
	struct tg_config *cfg = load(text, &err);

	ck_assert_msg(cfg != NULL, "unexpected errors:\n%s", tg_strbuf_str(&err));
	ck_assert_str_eq(tg_strbuf_str(&err), "");
	tg_strbuf_free(&err);
	return cfg;
}

/* expand - replace every "@F" with the config path and "@D" with dir */
static char *
expand(const char *tmpl)
{
	struct tg_strbuf sb = { 0 };

	for (const char *p = tmpl; *p; p++) {
		if (p[0] == '@' && p[1] == 'F') {
			tg_strbuf_append(&sb, conf);
			p++;
		} else if (p[0] == '@' && p[1] == 'D') {
			tg_strbuf_append(&sb, dir);
			p++;
		} else {
			tg_strbuf_addch(&sb, *p);
		}
	}
	return sb.s ? sb.s : xstrdup("");
}

/* load_fails - text must be refused with exactly the expected errors
   (a template for expand()) */
static void
load_fails(const char *text, const char *expected_tmpl)
{
	struct tg_strbuf err = { 0 };
	struct tg_config *cfg = load(text, &err);
	char *expected = expand(expected_tmpl);

	ck_assert_msg(cfg == NULL, "accepted:\n%s", text);
	ck_assert_str_eq(tg_strbuf_str(&err), expected);
	free(expected);
	tg_strbuf_free(&err);
}

#define BASE "PolicyFile policy.conf\nLocalDomains example.org\n"

/* owned - shorthand for tg_config_sender_owned with the domain split off */
static bool
owned(const struct tg_config *cfg, const char *sender, const char *login)
{
	const char *at = strrchr(sender, '@');

	return tg_config_sender_owned(cfg, sender, at ? at + 1 : "", login);
}

/* ip_in - text address in a cidr list */
static bool
ip_in(const struct tg_cidrlist *l, const char *s)
{
	struct tg_ip ip;

	ck_assert_msg(tg_ip_parse(s, &ip) == 0, "%s", s);
	return tg_cidrlist_contains(l, &ip);
}

/* ---- valid files ----------------------------------------------------- */

START_TEST(every_setting)
{
	struct tg_config *cfg;
	char *policy, *map;

	write_file("logins", "alice@example.org alice\n");
	cfg = load_ok(
	    "# tollgate.conf for the tests\n"
	    "\n"
	    "PolicyFile policy.conf\n"
	    "Socket inet:8891@127.0.0.1\n"
	    "SocketMode 0600\n"
	    "UserID tollgate:mail\n"
	    "PidFile /run/tollgate/tollgate.pid\n"
	    "AuthservID mx1.example.org\n"
	    "LocalDomains Example.ORG, .sub.example.org\t.Other.Example # ours\n"
	    "TrustedNetworks 192.0.2.0/24 2001:db8::/32,::ffff:198.51.100.0/120\n"
	    "MaxMessageSize 10M\n"
	    "SubmissionDaemons submission, smtps\n"
	    "SenderLoginMap logins\n"
	    "OnInternalError accept\n"
	    "Mode monitor\n"
	    "LogFormat json\n"
	    "Syslog no\n"
	    "SyslogFacility local3\n"
	    "TagHeaders false\n"
	    "TagSubjectPrefix \"[SPAM #1] \"\n"
	    "MilterTimeout 60\n");
	policy = xasprintf("%s/policy.conf", dir);
	map = xasprintf("%s/logins", dir);
	ck_assert_str_eq(cfg->path, conf);
	ck_assert_str_eq(cfg->socket, "inet:8891@127.0.0.1");
	ck_assert_uint_eq(cfg->socket_mode, 0600);
	ck_assert_str_eq(cfg->user, "tollgate:mail");
	ck_assert_str_eq(cfg->pidfile, "/run/tollgate/tollgate.pid");
	ck_assert_str_eq(cfg->policy_file, policy);	/* relative to the config */
	ck_assert_ptr_nonnull(cfg->policy);
	ck_assert_str_eq(cfg->authserv_id, "mx1.example.org");
	ck_assert_uint_eq(cfg->local_domains.n, 3);
	ck_assert_str_eq(cfg->local_domains.v[0], "example.org");	/* lowercased */
	ck_assert_str_eq(cfg->local_domains.v[1], ".sub.example.org");
	ck_assert_str_eq(cfg->local_domains.v[2], ".other.example");
	ck_assert_uint_eq(cfg->trusted_networks.n, 3);
	ck_assert_uint_eq(cfg->trusted_networks.v[0].prefix, 24);
	ck_assert_uint_eq(cfg->trusted_networks.v[1].prefix, 32);
	ck_assert_uint_eq(cfg->trusted_networks.v[2].prefix, 24);
	ck_assert(ip_in(&cfg->trusted_networks, "192.0.2.200"));
	ck_assert(ip_in(&cfg->trusted_networks, "2001:db8::7"));
	ck_assert(ip_in(&cfg->trusted_networks, "198.51.100.7"));
	ck_assert(!ip_in(&cfg->trusted_networks, "127.0.0.1"));	/* default replaced */
	ck_assert(!ip_in(&cfg->trusted_networks, "::1"));
	ck_assert_uint_eq(cfg->max_message_size, 10 * 1024 * 1024);
	ck_assert_uint_eq(cfg->submission_daemons.n, 2);
	ck_assert_str_eq(cfg->submission_daemons.v[0], "submission");
	ck_assert_str_eq(cfg->submission_daemons.v[1], "smtps");
	ck_assert_str_eq(cfg->sender_login_map, map);
	ck_assert_uint_eq(cfg->nlogins, 1);
	ck_assert_int_eq(cfg->on_internal_error, TG_ACCEPT);
	ck_assert_int_eq(cfg->mode, TG_MODE_MONITOR);
	ck_assert_int_eq(cfg->log_format, TG_LOGFMT_JSON);
	ck_assert(!cfg->syslog);
	ck_assert_int_eq(cfg->syslog_facility, LOG_LOCAL3);
	ck_assert(!cfg->tag_headers);
	ck_assert_str_eq(cfg->tag_subject_prefix, "[SPAM #1] ");
	ck_assert_uint_eq(cfg->milter_timeout, 60);
	ck_assert_int_eq(cfg->refs, 1);
	free(policy);
	free(map);
	tg_config_release(&cfg);
	ck_assert_ptr_null(cfg);
}
END_TEST

START_TEST(defaults)
{
	struct tg_config *cfg = load_ok(BASE);
	char host[256];

	ck_assert_str_eq(cfg->socket, "unix:/run/tollgate/tollgate.sock");
	ck_assert_uint_eq(cfg->socket_mode, 0660);
	ck_assert_ptr_null(cfg->user);
	ck_assert_ptr_null(cfg->pidfile);
	/* AuthservID defaults to the host name */
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	ck_assert_str_eq(cfg->authserv_id, host);
	ck_assert_uint_eq(cfg->local_domains.n, 1);
	ck_assert_str_eq(cfg->local_domains.v[0], "example.org");
	ck_assert_uint_eq(cfg->trusted_networks.n, 2);
	ck_assert(ip_in(&cfg->trusted_networks, "127.0.0.1"));
	ck_assert(ip_in(&cfg->trusted_networks, "127.255.255.254"));
	ck_assert(ip_in(&cfg->trusted_networks, "::1"));
	ck_assert(ip_in(&cfg->trusted_networks, "::ffff:127.0.0.1"));
	ck_assert(!ip_in(&cfg->trusted_networks, "192.0.2.1"));
	ck_assert(!ip_in(&cfg->trusted_networks, "::2"));
	ck_assert_uint_eq(cfg->max_message_size, 0);
	ck_assert_uint_eq(cfg->submission_daemons.n, 0);
	ck_assert_ptr_null(cfg->sender_login_map);
	ck_assert_uint_eq(cfg->nlogins, 0);
	ck_assert_int_eq(cfg->on_internal_error, TG_TEMPFAIL);
	ck_assert_int_eq(cfg->mode, TG_MODE_ENFORCE);
	ck_assert_int_eq(cfg->log_format, TG_LOGFMT_TEXT);
	ck_assert(cfg->syslog);
	ck_assert_int_eq(cfg->syslog_facility, LOG_MAIL);
	ck_assert(cfg->tag_headers);
	ck_assert_str_eq(cfg->tag_subject_prefix, "");
	ck_assert_uint_eq(cfg->milter_timeout, 300);
	/* no map: every login owns every sender */
	ck_assert(owned(cfg, "anyone@example.org", "mallory"));
	tg_config_release(&cfg);
}
END_TEST

START_TEST(syntax_details)
{
	/* keys in any case, blank lines, indentation, CRLF, comments,
	   quotes, other spellings of the enumerations */
	struct tg_config *cfg = load_ok(
	    "  policyfile policy.conf\r\n"
	    "\r\n"
	    "\t# an indented comment\r\n"
	    "LOCALDOMAINS example.org\r\n"
	    "socket \"unix:/var/spool/postfix/tollgate/sock\"  \r\n"
	    "socketmode 0\r\n"
	    "mode MONITOR   # trailing comment\r\n"
	    "syslog TRUE\r\n"
	    "tagheaders 0\r\n"
	    "onInternalError TEMPFAIL\r\n"
	    "SyslogFacility Daemon\r\n"
	    "MaxMessageSize 512k\r\n"
	    "MilterTimeout 1\r\n"
	    "TagSubjectPrefix \"\"\r\n"
	    "PidFile run/tollgate.pid\r\n"
	    "UserID \"a#b\"\r\n");
	char *pid = xasprintf("%s/run/tollgate.pid", dir);

	ck_assert_str_eq(cfg->socket, "unix:/var/spool/postfix/tollgate/sock");
	ck_assert_uint_eq(cfg->socket_mode, 0);
	ck_assert_int_eq(cfg->mode, TG_MODE_MONITOR);
	ck_assert(cfg->syslog);
	ck_assert(!cfg->tag_headers);
	ck_assert_int_eq(cfg->on_internal_error, TG_TEMPFAIL);
	ck_assert_int_eq(cfg->syslog_facility, LOG_DAEMON);
	ck_assert_uint_eq(cfg->max_message_size, 512 * 1024);
	ck_assert_uint_eq(cfg->milter_timeout, 1);
	ck_assert_str_eq(cfg->tag_subject_prefix, "");
	ck_assert_str_eq(cfg->pidfile, pid);
	ck_assert_str_eq(cfg->user, "a#b");	/* '#' inside quotes is kept */
	free(pid);
	tg_config_release(&cfg);
}
END_TEST

static const char *const good_sockets[] = {
	"unix:/run/t.sock", "local:/run/t.sock", "inet:8891", "inet:8891@localhost",
	"inet:1@127.0.0.1", "inet:65535@0.0.0.0", "inet6:8891@[::1]", "inet6:8891",
};

START_TEST(socket_forms)
{
	char *text = xasprintf(BASE "Socket %s\n", good_sockets[_i]);
	struct tg_config *cfg = load_ok(text);

	ck_assert_str_eq(cfg->socket, good_sockets[_i]);
	tg_config_release(&cfg);
	free(text);
}
END_TEST

/* ---- errors ---------------------------------------------------------- */

static const struct bad_case {
	const char *text;	/* the whole file */
	const char *errors;	/* @F = the config path, @D = its directory */
} bad_cases[] = {
	{ BASE "Bogus yes\n", "@F:3: unknown setting \"Bogus\"\n" },
	{ BASE "Socket=unix:/x\n", "@F:3: unknown setting \"Socket=unix:/x\"\n" },
	{ BASE "Mode\n", "@F:3: expected a value after Mode\n" },
	{ BASE "mode   # nothing\n", "@F:3: expected a value after Mode\n" },
	{ BASE "Mode enforce\nmode monitor\n", "@F:4: Mode is set twice\n" },
	/* Socket */
	{ BASE "Socket tcp:8891\n",
	  "@F:3: expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST, got \"tcp:8891\"\n" },
	{ BASE "Socket /run/t.sock\n",
	  "@F:3: expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST, got \"/run/t.sock\"\n" },
	{ BASE "Socket unix:run/t.sock\n",
	  "@F:3: expected an absolute path after unix:, got \"unix:run/t.sock\"\n" },
	{ BASE "Socket local:\n",
	  "@F:3: expected an absolute path after unix:, got \"local:\"\n" },
	{ BASE "Socket inet:0@localhost\n",
	  "@F:3: expected inet:PORT@HOST (port 1-65535), got \"inet:0@localhost\"\n" },
	{ BASE "Socket inet:65536\n",
	  "@F:3: expected inet:PORT@HOST (port 1-65535), got \"inet:65536\"\n" },
	{ BASE "Socket inet:8891@\n",
	  "@F:3: expected inet:PORT@HOST (port 1-65535), got \"inet:8891@\"\n" },
	{ BASE "Socket inet:8891localhost\n",
	  "@F:3: expected inet:PORT@HOST (port 1-65535), got \"inet:8891localhost\"\n" },
	{ BASE "Socket inet6:@::1\n",
	  "@F:3: expected inet:PORT@HOST (port 1-65535), got \"inet6:@::1\"\n" },
	{ BASE "Socket inet:-1@localhost\n",
	  "@F:3: expected inet:PORT@HOST (port 1-65535), got \"inet:-1@localhost\"\n" },
	/* SocketMode */
	{ BASE "SocketMode 0999\n", "@F:3: expected an octal mode like 0660, got \"0999\"\n" },
	{ BASE "SocketMode 1777\n", "@F:3: expected an octal mode like 0660, got \"1777\"\n" },
	{ BASE "SocketMode rw-rw----\n",
	  "@F:3: expected an octal mode like 0660, got \"rw-rw----\"\n" },
	{ BASE "SocketMode -660\n", "@F:3: expected an octal mode like 0660, got \"-660\"\n" },
	/* MaxMessageSize */
	{ BASE "MaxMessageSize 10MB\n",
	  "@F:3: expected a size in bytes with optional K, M or G, got \"10MB\"\n" },
	{ BASE "MaxMessageSize 1T\n",
	  "@F:3: expected a size in bytes with optional K, M or G, got \"1T\"\n" },
	{ BASE "MaxMessageSize -1\n",
	  "@F:3: expected a size in bytes with optional K, M or G, got \"-1\"\n" },
	{ BASE "MaxMessageSize 1.5M\n",
	  "@F:3: expected a size in bytes with optional K, M or G, got \"1.5M\"\n" },
	{ BASE "MaxMessageSize 99999999999999999999\n",
	  "@F:3: expected a size in bytes with optional K, M or G, got \"99999999999999999999\"\n" },
	/* TrustedNetworks */
	{ BASE "TrustedNetworks 192.0.2.1/24\n",
	  "@F:3: address has bits set beyond the prefix length, got \"192.0.2.1/24\"\n" },
	{ BASE "TrustedNetworks 10.0.0.0/8, 192.0.2.0/33\n",
	  "@F:3: expected a prefix length 0-32, got \"192.0.2.0/33\"\n" },
	{ BASE "TrustedNetworks 2001:db8::/129\n",
	  "@F:3: expected a prefix length 0-128, got \"2001:db8::/129\"\n" },
	{ BASE "TrustedNetworks localhost\n",
	  "@F:3: expected an IPv4 or IPv6 address, got \"localhost\"\n" },
	{ BASE "TrustedNetworks 192.0.2.0/\n",
	  "@F:3: expected a prefix length after '/', got \"192.0.2.0/\"\n" },
	{ BASE "TrustedNetworks ::ffff:192.0.2.0/64\n",
	  "@F:3: IPv4-mapped network prefix must be at least 96, got \"::ffff:192.0.2.0/64\"\n" },
	/* booleans and enumerations */
	{ BASE "Syslog maybe\n", "@F:3: expected yes or no, got \"maybe\"\n" },
	{ BASE "TagHeaders on\n", "@F:3: expected yes or no, got \"on\"\n" },
	{ BASE "Mode relaxed\n", "@F:3: expected enforce or monitor, got \"relaxed\"\n" },
	{ BASE "LogFormat xml\n", "@F:3: expected text or json, got \"xml\"\n" },
	{ BASE "OnInternalError reject\n",
	  "@F:3: expected tempfail or accept, got \"reject\"\n" },
	{ BASE "SyslogFacility local8\n",
	  "@F:3: expected mail, daemon, user or local0..local7, got \"local8\"\n" },
	{ BASE "MilterTimeout 86401\n",
	  "@F:3: expected a number of seconds (1-86400), got \"86401\"\n" },
	{ BASE "MilterTimeout -5\n",
	  "@F:3: expected a number of seconds (1-86400), got \"-5\"\n" },
	{ BASE "MilterTimeout 5m\n",
	  "@F:3: expected a number of seconds (1-86400), got \"5m\"\n" },
	{ BASE "MilterTimeout 0\n",
	  "@F:3: expected a number of seconds (1-86400), got \"0\"\n" },
	/* a file name from the config is echoed escaped (found by fuzz_config) */
	{ BASE "TrustedNetworks file:ne\001ts\n",
	  "@F:3: cannot open @D/ne\\x01ts: No such file or directory\n" },
	/* DNS and check settings */
	{ BASE "DNSTimeout 5 s\n",
	  "@F:3: expected a duration like 5s or 500ms (1ms to 3600s), got \"5 s\"\n" },
	{ BASE "DNSTimeout 0ms\n",
	  "@F:3: expected a duration like 5s or 500ms (1ms to 3600s), got \"0ms\"\n" },
	{ BASE "CheckTimeout 2h\n",
	  "@F:3: expected a duration like 5s or 500ms (1ms to 3600s), got \"2h\"\n" },
	{ BASE "DNSTimeout 10s\nCheckTimeout 5s\n",
	  "@F: DNSTimeout (10000ms) must not be longer than CheckTimeout (5000ms)\n" },
	{ BASE "Nameservers 127.0.0.1@53x\n",
	  "@F: expected a nameserver ADDR[@PORT], got \"127.0.0.1@53x\" (syntax error)\n" },
	{ BASE "DKIMMinKeyBits 0\n",
	  "@F:3: expected a number from 1 to 100000, got \"0\"\n" },
	{ BASE "ErrorActions spf:temperror=reject\n",
	  "@F:3: expected CHECK:ERROR=ACTION with CHECK spf, dkim or dmarc, ERROR temperror "
	  "or permerror, ACTION accept, tag or tempfail, got \"spf:temperror=reject\"\n" },
	{ BASE "ErrorActions dns:temperror=tempfail\n",
	  "@F:3: expected CHECK:ERROR=ACTION with CHECK spf, dkim or dmarc, ERROR temperror "
	  "or permerror, ACTION accept, tag or tempfail, got \"dns:temperror=tempfail\"\n" },
	{ BASE "ErrorActions spf:fail=tempfail\n",
	  "@F:3: expected CHECK:ERROR=ACTION with CHECK spf, dkim or dmarc, ERROR temperror "
	  "or permerror, ACTION accept, tag or tempfail, got \"spf:fail=tempfail\"\n" },
	/* the verdict store */
	{ BASE "RecordVerdicts some\n", "@F:3: expected quarantine, all or none, got \"some\"\n" },
	{ BASE "StoreTimeout 2s\n", "@F: StoreTimeout (2000ms) must not be longer than 1s: "
	  "a verdict never waits for the StateDB longer than that\n" },
	/* LocalDomains */
	{ "PolicyFile policy.conf\nLocalDomains example.org, exa$mple.org\n",
	  "@F:2: expected a domain name, got \"exa$mple.org\"\n" },
	{ "PolicyFile policy.conf\n",
	  "@F: LocalDomains is not set: list the domains this server receives mail for, "
	  "or every recipient is treated as relaying\n" },
	{ "PolicyFile policy.conf\nLocalDomains \"\"\n",
	  "@F: LocalDomains is not set: list the domains this server receives mail for, "
	  "or every recipient is treated as relaying\n" },
	/* AuthservID (checked after parsing: no line number) */
	{ BASE "AuthservID \"mx example\"\n",
	  "@F: AuthservID must be a host name, got \"mx example\"\n" },
	/* values in errors are sanitised and cut */
	{ BASE "Mode \"\x01\"bad\\\n",
	  "@F:3: expected enforce or monitor, got \"\\x22\\x01\\x22bad\\x5c\"\n" },
	{ BASE "Mode 0123456789012345678901234567890123456789012345678901234567890123456789\n",
	  "@F:3: expected enforce or monitor, got "
	  "\"012345678901234567890123456789012345678901234567890123456789...\"\n" },
	{ BASE "Bogus\x7f x\n", "@F:3: unknown setting \"Bogus\\x7f\"\n" },
	/* files a setting names */
	{ "PolicyFile policy.conf\nLocalDomains file:nosuch\n",
	  "@F:2: cannot open @D/nosuch: No such file or directory\n"
	  "@F: LocalDomains is not set: list the domains this server receives mail for, "
	  "or every recipient is treated as relaying\n" },
	{ BASE "TrustedNetworks file:/nonexistent/tollgate-nets\n",
	  "@F:3: cannot open /nonexistent/tollgate-nets: No such file or directory\n" },
	{ BASE "SenderLoginMap nosuch.map\n",
	  "@F: SenderLoginMap: cannot open @D/nosuch.map: No such file or directory\n" },
};

START_TEST(bad_input)
{
	load_fails(bad_cases[_i].text, bad_cases[_i].errors);
}
END_TEST

START_TEST(all_errors_reported)
{
	load_fails(
	    "PolicyFile policy.conf\n"
	    "Socket tcp:1\n"
	    "SocketMode 888\n"
	    "# fine\n"
	    "MaxMessageSize 10X\n"
	    "TrustedNetworks 192.0.2.1/24, bad, 10.0.0.0/8\n"
	    "Nonsense 1\n"
	    "Syslog perhaps\n"
	    "Syslog no\n",
	    "@F:2: expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST, got \"tcp:1\"\n"
	    "@F:3: expected an octal mode like 0660, got \"888\"\n"
	    "@F:5: expected a size in bytes with optional K, M or G, got \"10X\"\n"
	    "@F:6: address has bits set beyond the prefix length, got \"192.0.2.1/24\"\n"
	    "@F:6: expected an IPv4 or IPv6 address, got \"bad\"\n"
	    "@F:7: unknown setting \"Nonsense\"\n"
	    "@F:8: expected yes or no, got \"perhaps\"\n"
	    "@F:9: Syslog is set twice\n"
	    "@F: LocalDomains is not set: list the domains this server receives mail for, "
	    "or every recipient is treated as relaying\n");
}
END_TEST

START_TEST(missing_config_file)
{
	struct tg_strbuf err = { 0 };
	struct tg_config *cfg = tg_config_load("/nonexistent/tollgate.conf", &err);

	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(tg_strbuf_str(&err),
	    "/nonexistent/tollgate.conf: cannot open: No such file or directory\n");
	tg_strbuf_free(&err);
}
END_TEST

START_TEST(errors_are_appended)
{
	struct tg_strbuf err = { 0 };
	char *expected;

	tg_strbuf_append(&err, "earlier\n");
	ck_assert_ptr_null(load(BASE "Mode x\n", &err));
	expected = expand("earlier\n@F:3: expected enforce or monitor, got \"x\"\n");
	ck_assert_str_eq(tg_strbuf_str(&err), expected);
	free(expected);
	tg_strbuf_free(&err);
}
END_TEST

/* ---- file: lists ----------------------------------------------------- */

START_TEST(list_files)
{
	struct tg_config *cfg;
	char *text;

	write_file("domains", "# our domains\nexample.org, Example.NET\n\n"
	    "  .sub.example.org   # all below sub\r\n");
	write_file("nets", "192.0.2.0/24\n2001:db8::/32 # v6\n\n10.1.0.0/16,10.2.0.0/16\n");
	write_file("daemons", "submission smtps\n");
	text = xasprintf("PolicyFile policy.conf\nLocalDomains file:domains\n"
	    "TrustedNetworks file:%s/nets\nSubmissionDaemons file:daemons\n", dir);
	cfg = load_ok(text);
	ck_assert_uint_eq(cfg->local_domains.n, 3);
	ck_assert_str_eq(cfg->local_domains.v[0], "example.org");
	ck_assert_str_eq(cfg->local_domains.v[1], "example.net");
	ck_assert_str_eq(cfg->local_domains.v[2], ".sub.example.org");
	ck_assert(tg_strlist_match_domain(&cfg->local_domains, "a.sub.example.org"));
	ck_assert(!tg_strlist_match_domain(&cfg->local_domains, "sub.example.org"));
	ck_assert_uint_eq(cfg->trusted_networks.n, 4);
	ck_assert(ip_in(&cfg->trusted_networks, "10.2.3.4"));
	ck_assert(ip_in(&cfg->trusted_networks, "2001:db8::1"));
	ck_assert(!ip_in(&cfg->trusted_networks, "10.3.0.1"));
	ck_assert_uint_eq(cfg->submission_daemons.n, 2);
	ck_assert(tg_strlist_has(&cfg->submission_daemons, "smtps"));
	tg_config_release(&cfg);
	free(text);
}
END_TEST

START_TEST(list_file_errors)
{
	/* errors inside a list file carry that file's name and line */
	write_file("domains", "good.example\n\nbad$domain.example, also good.example\n");
	write_file("nets", "192.0.2.0/24\n2001:db8::/32 # v6\n198.51.100.1/24\n");
	load_fails("PolicyFile policy.conf\nLocalDomains file:domains\n"
	    "TrustedNetworks file:nets\n",
	    "@D/domains:3: expected a domain name, got \"bad$domain.example\"\n"
	    "@D/nets:3: address has bits set beyond the prefix length, got \"198.51.100.1/24\"\n");
}
END_TEST

/* ---- sender-login map ------------------------------------------------ */

START_TEST(sender_login_map)
{
	struct tg_config *cfg;

	write_file("logins",
	    "# sender            logins\n"
	    "alice@example.org   alice\n"
	    "\n"
	    "@team.example.org   bob, carol  # the team\n"
	    "Dave@Example.ORG\tdave,dave2\r\n"
	    "postmaster@example.net alice\n");
	cfg = load_ok(BASE "SenderLoginMap logins\n");
	ck_assert_uint_eq(cfg->nlogins, 4);
	ck_assert_str_eq(cfg->logins[0].key, "alice@example.org");
	ck_assert_uint_eq(cfg->logins[0].logins.n, 1);
	ck_assert_str_eq(cfg->logins[0].logins.v[0], "alice");
	ck_assert_str_eq(cfg->logins[1].key, "@team.example.org");
	ck_assert_uint_eq(cfg->logins[1].logins.n, 2);
	ck_assert_str_eq(cfg->logins[1].logins.v[0], "bob");
	ck_assert_str_eq(cfg->logins[1].logins.v[1], "carol");
	ck_assert_str_eq(cfg->logins[2].key, "Dave@Example.ORG");
	ck_assert_uint_eq(cfg->logins[2].logins.n, 2);
	ck_assert_str_eq(cfg->logins[2].logins.v[1], "dave2");

	ck_assert(owned(cfg, "alice@example.org", "alice"));
	ck_assert(owned(cfg, "ALICE@Example.Org", "Alice"));	/* any case */
	ck_assert(!owned(cfg, "alice@example.org", "bob"));
	ck_assert(!owned(cfg, "alice@example.org", ""));
	ck_assert(owned(cfg, "x@team.example.org", "bob"));
	ck_assert(owned(cfg, "y@TEAM.example.org", "carol"));
	ck_assert(!owned(cfg, "x@team.example.org", "alice"));
	ck_assert(!owned(cfg, "x@sub.team.example.org", "bob"));	/* exact domain */
	ck_assert(owned(cfg, "dave@example.org", "dave"));
	ck_assert(owned(cfg, "dave@example.org", "DAVE2"));
	ck_assert(!owned(cfg, "dave@example.org", "alice"));
	ck_assert(owned(cfg, "postmaster@example.net", "alice"));
	ck_assert(!owned(cfg, "other@example.net", "alice"));
	ck_assert(!owned(cfg, "nobody@unlisted.example", "alice"));
	tg_config_release(&cfg);
}
END_TEST

START_TEST(sender_login_map_errors)
{
	write_file("logins",
	    "alice@example.org alice\n"
	    "no-at-sign bob\n"
	    "lonely@example.org\n"
	    "lonely@example.org   # comment only\n"
	    "@example.net carol\n");
	load_fails(BASE "SenderLoginMap logins\n",
	    "@D/logins:2: expected \"address-or-@domain login[, login...]\", got \"no-at-sign\"\n"
	    "@D/logins:3: expected \"address-or-@domain login[, login...]\", got \"lonely@example.org\"\n"
	    "@D/logins:4: expected \"address-or-@domain login[, login...]\", got \"lonely@example.org\"\n");
}
END_TEST

START_TEST(dns_settings)
{
	struct tg_config *cfg = load_ok(BASE "Nameservers 127.0.0.1@5353, ::1\n"
	    "DNSTimeout 500ms\nCheckTimeout 3\nErrorActions spf:temperror=tempfail, "
	    "dmarc:permerror=tag, spf:temperror=accept\nCheckTrustedClients yes\n");

	ck_assert_str_eq(cfg->nameservers, "127.0.0.1@5353, ::1");
	ck_assert_uint_eq(cfg->dns_timeout_ms, 500);
	ck_assert_uint_eq(cfg->check_timeout_ms, 3000);
	ck_assert(cfg->check_trusted);
	ck_assert_ptr_nonnull(cfg->dns);
	/* the last entry for a pair wins */
	ck_assert_int_eq(tg_config_error_action(cfg, "spf", TG_TEMPERROR), TG_ACCEPT);
	ck_assert_int_eq(tg_config_error_action(cfg, "dmarc", TG_PERMERROR), TG_TAG);
	ck_assert_int_eq(tg_config_error_action(cfg, "dmarc", TG_TEMPERROR), TG_ACCEPT);
	tg_config_release(&cfg);
}
END_TEST

/* an address entry wins over its domain's entry, as in Postfix's
   smtpd_sender_login_maps; a comma after the key is a separator */
START_TEST(sender_login_address_before_domain)
{
	struct tg_config *cfg;

	write_file("logins", "alice@example.org, alice\n@example.org bob\n");
	cfg = load_ok(BASE "SenderLoginMap logins\n");
	ck_assert_str_eq(cfg->logins[0].key, "alice@example.org");
	ck_assert(owned(cfg, "alice@example.org", "alice"));
	ck_assert(!owned(cfg, "alice@example.org", "bob"));
	ck_assert(owned(cfg, "carol@example.org", "bob"));
	ck_assert(!owned(cfg, "carol@example.org", "alice"));
	tg_config_release(&cfg);
}
END_TEST

/* a list or map file that cannot be read is an error, not an empty list */
START_TEST(unreadable_list_file)
{
	load_fails(BASE "SubmissionDaemons file:/tmp\n",
	    "@F:3: cannot read /tmp: Is a directory\n");
	load_fails(BASE "SenderLoginMap /tmp\n",
	    "@F: SenderLoginMap: cannot read /tmp: Is a directory\n");
}
END_TEST

/* LocalDomains are normalised like the addresses they are matched with */
START_TEST(local_domain_trailing_dot)
{
	struct tg_config *cfg = load_ok("LocalDomains Example.ORG., .Sub.Example.org.\nPolicyFile /dev/null\n");

	ck_assert_str_eq(cfg->local_domains.v[0], "example.org");
	ck_assert_str_eq(cfg->local_domains.v[1], ".sub.example.org");
	tg_config_release(&cfg);
}
END_TEST

START_TEST(empty_sender_login_map)
{
	/* a map with no entries: nobody owns anything */
	struct tg_config *cfg;

	write_file("logins", "# nothing yet\n");
	cfg = load_ok(BASE "SenderLoginMap logins\n");
	ck_assert_uint_eq(cfg->nlogins, 0);
	ck_assert(!owned(cfg, "alice@example.org", "alice"));
	tg_config_release(&cfg);
}
END_TEST

/* ---- snapshot -------------------------------------------------------- */

START_TEST(publish_acquire_release)
{
	struct tg_config *a = load_ok(BASE), *b = load_ok(BASE "Mode monitor\n");
	struct tg_config *held, *again;

	ck_assert_ptr_null(tg_config_acquire());
	tg_config_publish(a);			/* takes over our reference */
	held = tg_config_acquire();
	ck_assert_ptr_eq(held, a);
	ck_assert_int_eq(a->refs, 2);
	tg_config_publish(b);			/* a lives on while held */
	ck_assert_int_eq(held->refs, 1);
	ck_assert_int_eq(held->mode, TG_MODE_ENFORCE);
	again = tg_config_acquire();
	ck_assert_ptr_eq(again, b);
	ck_assert_int_eq(again->mode, TG_MODE_MONITOR);
	tg_config_release(&held);		/* frees a */
	ck_assert_ptr_null(held);
	tg_config_release(&again);
	ck_assert_ptr_null(again);
	ck_assert_int_eq(b->refs, 1);
	tg_config_release(&again);		/* NULL is fine */
	tg_config_publish(NULL);		/* frees b */
	ck_assert_ptr_null(tg_config_acquire());
}
END_TEST

START_TEST(print_settings)
{
	struct tg_config *cfg;
	char *out = NULL, *want;
	size_t len = 0;
	FILE *fp;

	write_file("logins", "a@example.org a\n@example.org b\n");
	cfg = load_ok(BASE "AuthservID mx.example.org\nTrustedNetworks 192.0.2.0/24, "
	    "2001:db8::/32\nMaxMessageSize 2K\nSubmissionDaemons sub1 sub2\n"
	    "SenderLoginMap logins\nTagSubjectPrefix \"[S] \"\n");
	fp = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(fp);
	tg_config_print(cfg, fp);
	fclose(fp);
	want = expand(
	    "Socket unix:/run/tollgate/tollgate.sock\n"
	    "SocketMode 0660\n"
	    "UserID (none)\n"
	    "PidFile (none)\n"
	    "PolicyFile @D/policy.conf (0 rules)\n"
	    "AuthservID mx.example.org\n"
	    "LocalDomains example.org\n"
	    "TrustedNetworks 192.0.2.0/24, 2001:db8::/32\n"
	    "MaxMessageSize 2048\n"
	    "SubmissionDaemons sub1, sub2\n"
	    "SenderLoginMap @D/logins (2 entries)\n"
	    "OnInternalError tempfail\n"
	    "Mode enforce\n"
	    "LogFormat text\n"
	    "Syslog yes\n"
	    "SyslogFacility mail\n"
	    "TagHeaders yes\n"
	    "TagSubjectPrefix \"[S] \"\n"
	    "MilterTimeout 300\n"
	    "Nameservers (from resolv.conf)\n"
	    "DNSTimeout 5000ms\n"
	    "CheckTimeout 20000ms\n"
	    "DNSSECTrustAnchor (none)\n"
	    "PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat\n"
	    "DKIMMinKeyBits 1024\n"
	    "DKIMMaxSignatures 10\n"
	    "CheckTrustedClients no\n"
	    "SPFCheckHelo yes\n"
	    "ReceivedSPF no\n"
	    "ErrorActions (none: errors are recorded only)\n"
	    "StateDB /var/lib/tollgate/state.db\n"
	    "RecordVerdicts quarantine\n"
	    "StoreTimeout 100ms\n"
	    "PostfixConfigDir /etc/postfix\n");
	ck_assert_str_eq(out, want);
	free(want);
	free(out);
	tg_config_release(&cfg);
}
END_TEST

/* ---- tg_parse_size ---------------------------------------------------- */

static const struct size_case {
	const char *in;
	int rc;
	uint64_t bytes;
} size_cases[] = {
	{ "0", 0, 0 },
	{ "1", 0, 1 },
	{ "1024", 0, 1024 },
	{ "007", 0, 7 },
	{ "1K", 0, 1024 },
	{ "1k", 0, 1024 },
	{ "10M", 0, 10485760 },
	{ "10m", 0, 10485760 },
	{ "2G", 0, 2147483648ULL },
	{ "0G", 0, 0 },
	{ "18446744073709551615", 0, UINT64_MAX },
	{ "17179869183G", 0, 17179869183ULL << 30 },
	{ "18014398509481983K", 0, 18014398509481983ULL << 10 },
	{ "", -1, 0 },
	{ "K", -1, 0 },
	{ "-1", -1, 0 },
	{ "+1", -1, 0 },
	{ " 1", -1, 0 },
	{ "1 ", -1, 0 },
	{ "1 K", -1, 0 },
	{ "1KB", -1, 0 },
	{ "1T", -1, 0 },
	{ "1.5M", -1, 0 },
	{ "0x10", -1, 0 },
	{ "18446744073709551616", -1, 0 },
	{ "17179869184G", -1, 0 },
	{ "18014398509481984K", -1, 0 },
};

START_TEST(parse_size)
{
	const struct size_case *c = &size_cases[_i];
	uint64_t bytes = 12345;
	int rc = tg_parse_size(c->in, &bytes);

	ck_assert_msg(rc == c->rc, "\"%s\": rc %d", c->in, rc);
	if (c->rc == 0)
		ck_assert_msg(bytes == c->bytes, "\"%s\": %llu", c->in,
		    (unsigned long long)bytes);
	else
		ck_assert_msg(bytes == 12345, "\"%s\": output written on error", c->in);
}
END_TEST

/* one setting read without the rest: what tollgatectl needs to find
   the store while the policy is broken */
START_TEST(one_setting)
{
	struct tg_strbuf err = { 0 };
	struct tg_config *cfg;
	char *v;

	write_file("tollgate.conf", "PolicyFile missing.conf  # broken\n"
	    "statedb   \"state/verdicts.db\"  # relative: to the config's directory\n"
	    "PostfixConfigDir /etc/postfix-out\n");
	v = tg_config_setting(conf, "StateDB", &err);
	ck_assert_str_eq(v, path_of("state/verdicts.db"));
	free(v);
	v = tg_config_setting(conf, "PostfixConfigDir", &err);
	ck_assert_str_eq(v, "/etc/postfix-out");
	free(v);
	v = tg_config_setting(conf, "AuthservID", &err);	/* the default */
	ck_assert_str_eq(v, "");
	free(v);
	ck_assert_ptr_null(tg_config_setting(conf, "UserID", &err));	/* no default */
	ck_assert_str_eq(tg_strbuf_str(&err), "");
	ck_assert_ptr_null(tg_config_setting(conf, "MaxMessageSize", &err));
	ck_assert_ptr_nonnull(strstr(tg_strbuf_str(&err), "MaxMessageSize is not a string "
	    "setting"));
	tg_strbuf_truncate(&err, 0);
	ck_assert_ptr_null(tg_config_setting(path_of("nosuch.conf"), "StateDB", &err));
	ck_assert_ptr_nonnull(strstr(tg_strbuf_str(&err), "cannot open"));
	/* the whole file is refused, the setting was still found */
	tg_strbuf_truncate(&err, 0);
	cfg = tg_config_load(conf, &err);
	ck_assert_ptr_null(cfg);
	tg_strbuf_free(&err);
	/* the defaults and the values of the store's settings */
	cfg = load_ok(BASE "RecordVerdicts ALL\nStoreTimeout 250ms\n");
	ck_assert_int_eq(cfg->record_verdicts, TG_RECORD_ALL);
	ck_assert_uint_eq(cfg->store_timeout_ms, 250);
	ck_assert_str_eq(cfg->state_db, "/var/lib/tollgate/state.db");
	tg_config_release(&cfg);
	cfg = load_ok(BASE "RecordVerdicts none\n");
	ck_assert_int_eq(cfg->record_verdicts, TG_RECORD_NONE);
	tg_config_release(&cfg);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("config");
	TCase *tc;
	const char *tmp = getenv("TMPDIR");
	int rc;

	snprintf(dir, sizeof(dir), "%s/tg-config-XXXXXX",
	    tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	snprintf(conf, sizeof(conf), "%s/tollgate.conf", dir);

	tc = tg_test_tcase(s, "load");
	tcase_add_test(tc, every_setting);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, syntax_details);
	TG_LOOP_TEST(tc, socket_forms, good_sockets);
	tcase_add_test(tc, list_files);
	tcase_add_test(tc, print_settings);
	tcase_add_test(tc, one_setting);
	tcase_add_test(tc, publish_acquire_release);

	tc = tg_test_tcase(s, "errors");
	TG_LOOP_TEST(tc, bad_input, bad_cases);
	tcase_add_test(tc, all_errors_reported);
	tcase_add_test(tc, missing_config_file);
	tcase_add_test(tc, errors_are_appended);
	tcase_add_test(tc, list_file_errors);

	tc = tg_test_tcase(s, "logins");
	tcase_add_test(tc, sender_login_map);
	tcase_add_test(tc, sender_login_map_errors);
	tcase_add_test(tc, sender_login_address_before_domain);
	tcase_add_test(tc, unreadable_list_file);
	tcase_add_test(tc, local_domain_trailing_dot);
	tcase_add_test(tc, dns_settings);
	tcase_add_test(tc, empty_sender_login_map);

	tc = tg_test_tcase(s, "size");
	TG_LOOP_TEST(tc, parse_size, size_cases);

	rc = tg_test_run(s);
	tg_test_rmtree(dir);
	return rc;
}
