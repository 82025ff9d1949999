/*
 * config - the settings table drives parsing, defaults, validation
 * and printing of tollgate.conf (see config.h). Also loads the files a
 * setting names (lists, the sender-login map, the policy) so that a
 * snapshot is complete or not published at all.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "dns.h"
#include "policy.h"
#include "session.h"
#include "util/addr.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "util/xmalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

/* where an error is reported: file and line */
struct where {
	const char *file;
	unsigned int line;
	struct tg_strbuf *errors;
	unsigned int nerrors;
};

typedef int parse_fn(struct tg_config *cfg, void *field, const char *value,
    struct where *w);

struct setting {
	const char *name;
	parse_fn *parse;
	const char *def;		/* parsed like a file value; NULL = unset */
	size_t off;
	const char *doc;
};

static parse_fn parse_str, parse_path, parse_mode, parse_size, parse_bool,
    parse_domains, parse_cidrs, parse_words, parse_facility, parse_onerror,
    parse_runmode, parse_logformat, parse_socket, parse_uint, parse_ms, parse_count,
    parse_error_actions, parse_record;

#define OFF(f) offsetof(struct tg_config, f)

static const struct setting settings[] = {
	{ "Socket", parse_socket, "unix:/run/tollgate/tollgate.sock", OFF(socket),
	  "milter socket: unix:/path, inet:PORT@HOST or inet6:PORT@HOST" },
	{ "SocketMode", parse_mode, "0660", OFF(socket_mode),
	  "permissions of a unix socket (octal)" },
	{ "UserID", parse_str, NULL, OFF(user),
	  "user[:group] to run as after the socket is bound" },
	{ "PidFile", parse_path, NULL, OFF(pidfile), "file to write the process id to" },
	{ "PolicyFile", parse_path, SYSCONFDIR "/tollgate/policy.conf", OFF(policy_file),
	  "the policy file (see tollgate-policy(5))" },
	{ "AuthservID", parse_str, "", OFF(authserv_id),
	  "authserv-id in Authentication-Results; default: the host name" },
	{ "LocalDomains", parse_domains, NULL, OFF(local_domains),
	  "domains we accept mail for (list, or file:/path); .example = subdomains" },
	{ "TrustedNetworks", parse_cidrs, "127.0.0.0/8, ::1/128", OFF(trusted_networks),
	  "clients that may relay (CIDR list, or file:/path)" },
	{ "MaxMessageSize", parse_size, "0", OFF(max_message_size),
	  "largest message in bytes (K, M, G suffixes); 0 = no limit" },
	{ "SubmissionDaemons", parse_words, NULL, OFF(submission_daemons),
	  "{daemon_name} values of submission services (AUTH required)" },
	{ "SenderLoginMap", parse_path, NULL, OFF(sender_login_map),
	  "file: sender address or @domain, then the logins that may use it" },
	{ "OnInternalError", parse_onerror, "tempfail", OFF(on_internal_error),
	  "verdict when tollgate itself fails: tempfail or accept" },
	{ "Mode", parse_runmode, "enforce", OFF(mode),
	  "enforce, or monitor: log and tag, never reject, hold or tempfail" },
	{ "LogFormat", parse_logformat, "text", OFF(log_format), "text or json" },
	{ "Syslog", parse_bool, "yes", OFF(syslog), "log to syslog (yes/no)" },
	{ "SyslogFacility", parse_facility, "mail", OFF(syslog_facility),
	  "syslog facility: mail, daemon, user, local0..local7" },
	{ "TagHeaders", parse_bool, "yes", OFF(tag_headers),
	  "add X-Spam-Flag and X-Tollgate-Verdict to tagged and held mail" },
	{ "TagSubjectPrefix", parse_str, "", OFF(tag_subject_prefix),
	  "text put before the Subject of tagged mail, e.g. \"[SPAM] \"" },
	{ "MilterTimeout", parse_uint, "300", OFF(milter_timeout),
	  "seconds to wait for the MTA before giving up on a connection" },
	{ "Nameservers", parse_str, NULL, OFF(nameservers),
	  "DNS servers ADDR[@PORT], ...; default: those of /etc/resolv.conf" },
	{ "DNSTimeout", parse_ms, "5s", OFF(dns_timeout_ms),
	  "longest wait for one DNS answer (s or ms suffix)" },
	{ "CheckTimeout", parse_ms, "20s", OFF(check_timeout_ms),
	  "longest total DNS wait per message; keep below Postfix's milter timeouts" },
	{ "DNSSECTrustAnchor", parse_path, NULL, OFF(trust_anchor),
	  "root trust anchor file: validate DNSSEC and record it" },
	{ "PublicSuffixList", parse_path, "/usr/share/publicsuffix/public_suffix_list.dat",
	  OFF(public_suffix_list), "Public Suffix List for DMARC organisational domains" },
	{ "DKIMMinKeyBits", parse_count, "1024", OFF(dkim_min_key_bits),
	  "smallest RSA key a DKIM signature may use to pass" },
	{ "DKIMMaxSignatures", parse_count, "10", OFF(dkim_max_signatures),
	  "DKIM signatures verified per message; the rest are not verified" },
	{ "CheckTrustedClients", parse_bool, "no", OFF(check_trusted),
	  "run SPF, DKIM and DMARC for TrustedNetworks and SMTP AUTH clients too" },
	{ "SPFCheckHelo", parse_bool, "yes", OFF(spf_helo),
	  "also check the HELO name's SPF record (the policy's spf-helo)" },
	{ "ReceivedSPF", parse_bool, "no", OFF(received_spf),
	  "add a Received-SPF header as well as Authentication-Results" },
	{ "ErrorActions", parse_error_actions, "", OFF(error_actions),
	  "CHECK:temperror|permerror=accept|tag|tempfail, ...: what a check error does" },
	{ "StateDB", parse_path, "/var/lib/tollgate/state.db", OFF(state_db),
	  "SQLite verdict store shared with tollgatectl(8)" },
	{ "RecordVerdicts", parse_record, "quarantine", OFF(record_verdicts),
	  "verdicts written to StateDB: quarantine, all, or none" },
	{ "StoreTimeout", parse_ms, "100ms", OFF(store_timeout_ms),
	  "longest a StateDB write may delay a verdict (at most 1s)" },
	{ "PostfixConfigDir", parse_path, "/etc/postfix", OFF(postfix_config_dir),
	  "Postfix configuration directory tollgatectl passes to postsuper/postcat -c" },
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static pthread_mutex_t swap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tg_config *current;

/* report - one error line "FILE:LINE: text" */
static void __attribute__((format(printf, 2, 3)))
report(struct where *w, const char *fmt, ...)
{
	struct tg_strbuf line = { 0 };
	va_list ap;

	if (w->line > 0)
		tg_strbuf_printf(&line, "%s:%u: ", w->file, w->line);
	else
		tg_strbuf_printf(&line, "%s: ", w->file);
	va_start(ap, fmt);
	tg_strbuf_vprintf(&line, fmt, ap);
	va_end(ap);
	/* file names come from the config too: one printable line, always */
	for (const char *p = tg_strbuf_str(&line); *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c > 0x7e)
			tg_strbuf_printf(w->errors, "\\x%02x", c);
		else
			tg_strbuf_addch(w->errors, (char)c);
	}
	tg_strbuf_addch(w->errors, '\n');
	tg_strbuf_free(&line);
	w->nerrors++;
}

/* got - sanitised copy of a value for an error message */
static const char *
got(struct tg_strbuf *sb, const char *value)
{
	tg_strbuf_truncate(sb, 0);
	tg_text_log(sb, value, 60);
	return tg_strbuf_str(sb);
}

/* bad_value - report "WHAT, got "VALUE"" (what: "expected a number");
   returns -1 */
static int
bad_value(struct where *w, const char *what, const char *value)
{
	struct tg_strbuf sb = { 0 };

	report(w, "%s, got \"%s\"", what, got(&sb, value));
	tg_strbuf_free(&sb);
	return -1;
}

static int
parse_str(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	free(*(char **)field);
	*(char **)field = xstrdup(value);
	return 0;
}

static int
parse_path(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	char *dir, *slash;

	free(*(char **)field);
	if (value[0] == '/' || cfg->path == NULL || strrchr(cfg->path, '/') == NULL) {
		*(char **)field = xstrdup(value);
		return 0;
	}
	dir = xstrdup(cfg->path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	*(char **)field = xasprintf("%s/%s", dir, value);
	free(dir);
	return 0;
}

/* whole_number - decimal digits only, within [min, max] */
static bool
whole_number(const char *value, unsigned long min, unsigned long max, unsigned int *n_r)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(value, &end, 10);
	if (!isdigit((unsigned char)value[0]) || *end != '\0' || errno != 0 || n < min
	    || n > max)
		return false;
	*n_r = (unsigned int)n;
	return true;
}

static int
parse_uint(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	if (whole_number(value, 1, 86400, field))
		return 0;
	return bad_value(w, "expected a number of seconds (1-86400)", value);
}

/* parse_count - a whole number 1..100000 */
static int
parse_count(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	if (whole_number(value, 1, 100000, field))
		return 0;
	return bad_value(w, "expected a number from 1 to 100000", value);
}

/* parse_ms - a duration "5", "5s" or "500ms" into milliseconds */
static int
parse_ms(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(value, &end, 10);
	if (isdigit((unsigned char)value[0]) && errno == 0) {
		if (*end == '\0' || strcmp(end, "s") == 0)
			n = n <= 3600 ? n * 1000 : ULONG_MAX;
		else if (strcmp(end, "ms") != 0)
			n = ULONG_MAX;
		if (n > 0 && n <= 3600000) {
			*(unsigned int *)field = (unsigned int)n;
			return 0;
		}
	}
	return bad_value(w, "expected a duration like 5s or 500ms (1ms to 3600s)", value);
}

static int
parse_mode(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	char *end;
	unsigned long m = strtoul(value, &end, 8);

	if (value[0] < '0' || value[0] > '7' || *end != '\0' || m > 0777)
		return bad_value(w, "expected an octal mode like 0660", value);
	*(unsigned int *)field = (unsigned int)m;
	return 0;
}

int
tg_parse_size(const char *s, uint64_t *bytes_r)
{
	char *end;
	unsigned long long n;
	uint64_t mult = 1;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		mult = 1024ULL;
		end++;
		break;
	case 'M':
		mult = 1024ULL * 1024;
		end++;
		break;
	case 'G':
		mult = 1024ULL * 1024 * 1024;
		end++;
		break;
	default:
		return -1;
	}
	if (*end != '\0' || n > UINT64_MAX / mult)
		return -1;
	*bytes_r = (uint64_t)n * mult;
	return 0;
}

static int
parse_size(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	if (tg_parse_size(value, field) < 0)
		return bad_value(w, "expected a size in bytes with optional K, M or G", value);
	return 0;
}

static int
parse_bool(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0
	    || strcmp(value, "1") == 0) {
		*(bool *)field = true;
	} else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0
	    || strcmp(value, "0") == 0) {
		*(bool *)field = false;
	} else {
		return bad_value(w, "expected yes or no", value);
	}
	return 0;
}

/* a word a setting may be, and the int (or enum) value it stands for */
struct word {
	const char *name;
	int value;
};

/* the words of a setting */
struct words {
	const char *expected;		/* the error: "expected text or json" */
	struct word v[12];		/* up to the first name NULL */
};

_Static_assert(sizeof(enum tg_action) == sizeof(int) && sizeof(enum tg_mode) == sizeof(int)
    && sizeof(enum tg_logformat) == sizeof(int) && sizeof(enum tg_record) == sizeof(int),
    "a word setting is stored as an int");

static const struct words onerror_words = { "expected tempfail or accept",
	{ { "tempfail", TG_TEMPFAIL }, { "accept", TG_ACCEPT } } };
static const struct words mode_words = { "expected enforce or monitor",
	{ { "enforce", TG_MODE_ENFORCE }, { "monitor", TG_MODE_MONITOR } } };
static const struct words logformat_words = { "expected text or json",
	{ { "text", TG_LOGFMT_TEXT }, { "json", TG_LOGFMT_JSON } } };
static const struct words facility_words = {
	"expected mail, daemon, user or local0..local7",
	{ { "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	  { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	  { "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	  { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 } } };
static const struct words record_words = { "expected quarantine, all or none",
	{ { "none", TG_RECORD_NONE }, { "quarantine", TG_RECORD_QUARANTINE },
	  { "all", TG_RECORD_ALL } } };

/* one_of - value (any case) as the one of words it is, into an int field */
static int
one_of(const struct words *words, void *field, const char *value, struct where *w)
{
	for (const struct word *p = words->v; p->name != NULL; p++)
		if (strcasecmp(value, p->name) == 0) {
			*(int *)field = p->value;
			return 0;
		}
	return bad_value(w, words->expected, value);
}

/* word_name - the word for value, for printing */
static const char *
word_name(const struct words *words, int value)
{
	for (const struct word *p = words->v; p->name != NULL; p++)
		if (p->value == value)
			return p->name;
	return "?";
}

static int
parse_onerror(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	return one_of(&onerror_words, field, value, w);
}

static int
parse_runmode(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	return one_of(&mode_words, field, value, w);
}

static int
parse_logformat(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	return one_of(&logformat_words, field, value, w);
}

static int
parse_facility(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	return one_of(&facility_words, field, value, w);
}

static int
parse_record(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	return one_of(&record_words, field, value, w);
}

static int
parse_socket(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	const char *at;

	if (strncmp(value, "unix:", 5) == 0 || strncmp(value, "local:", 6) == 0) {
		const char *path = strchr(value, ':') + 1;

		if (path[0] != '/')
			return bad_value(w, "expected an absolute path after unix:", value);
	} else if (strncmp(value, "inet:", 5) == 0 || strncmp(value, "inet6:", 6) == 0) {
		const char *port = strchr(value, ':') + 1;
		char *end;
		unsigned long n = strtoul(port, &end, 10);

		at = end;
		if (!isdigit((unsigned char)port[0]) || n == 0 || n > 65535
		    || (*at != '\0' && (*at != '@' || at[1] == '\0')))
			return bad_value(w, "expected inet:PORT@HOST (port 1-65535)", value);
	} else {
		return bad_value(w, "expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST",
		    value);
	}
	return parse_str(cfg, field, value, w);
}

/* each_item - call fn for every comma/space separated item of value, or
   of the file named by "file:/path" (with that file's line numbers) */
static int
each_item(struct tg_config *cfg, const char *value, struct where *w,
    int (*fn)(void *field, const char *item, struct where *w), void *field)
{
	int rc = 0;

	if (strncmp(value, "file:", 5) == 0) {
		char *path = NULL;
		struct where fw = { NULL, 0, w->errors, 0 };
		FILE *fp;
		char *line = NULL;
		size_t cap = 0;

		parse_path(cfg, &path, value + 5, w);
		fp = fopen(path, "r");
		if (fp == NULL) {
			report(w, "cannot open %s: %s", path, strerror(errno));
			free(path);
			return -1;
		}
		fw.file = path;
		while (getline(&line, &cap, fp) >= 0) {
			char *hash = strchr(line, '#'), *save = NULL;

			fw.line++;
			if (hash != NULL)
				*hash = '\0';
			for (char *tok = strtok_r(line, ", \t\r\n", &save); tok != NULL;
			    tok = strtok_r(NULL, ", \t\r\n", &save))
				if (fn(field, tok, &fw) < 0)
					rc = -1;
		}
		if (ferror(fp)) {
			report(w, "cannot read %s: %s", path, strerror(errno));
			rc = -1;
		}
		w->nerrors += fw.nerrors;
		free(line);
		fclose(fp);
		free(path);
		return rc;
	}
	{
		char *copy = xstrdup(value), *save = NULL;

		for (char *tok = strtok_r(copy, ", \t", &save); tok != NULL;
		    tok = strtok_r(NULL, ", \t", &save))
			if (fn(field, tok, w) < 0)
				rc = -1;
		free(copy);
	}
	return rc;
}

/* add_domain - one LocalDomains entry */
static int
add_domain(void *field, const char *item, struct where *w)
{
	char *d;

	for (const char *p = item; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			return bad_value(w, "expected a domain name", item);
	d = xstrdup(item);
	tg_domain_normalize(d);		/* "Example.ORG." is example.org */
	tg_strlist_add(field, d);
	free(d);
	return 0;
}

/* add_cidr - one TrustedNetworks entry */
static int
add_cidr(void *field, const char *item, struct where *w)
{
	struct tg_cidr c;
	const char *err;

	if (tg_cidr_parse(item, &c, &err) < 0)
		return bad_value(w, err, item);
	tg_cidrlist_add(field, &c);
	return 0;
}

/* add_word - one SubmissionDaemons entry */
static int
add_word(void *field, const char *item, struct where *w)
{
	tg_strlist_add(field, item);
	return 0;
}

/* add_error_action - one ErrorActions entry "spf:temperror=tempfail" */
static int
add_error_action(void *field, const char *item, struct where *w)
{
	static const char *const methods[] = { "spf", "dkim", "dmarc" };
	struct tg_error_actions *l = field;
	struct tg_error_action ea = { .outcome = -1 };
	const char *colon = strchr(item, ':'), *eq = strchr(item, '=');
	int action = -1;

	if (colon != NULL && eq != NULL && colon < eq) {
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
			if (strlen(methods[i]) == (size_t)(colon - item)
			    && strncmp(item, methods[i], (size_t)(colon - item)) == 0)
				snprintf(ea.method, sizeof(ea.method), "%s", methods[i]);
		if (strncmp(colon + 1, "temperror=", 10) == 0 && colon + 10 == eq)
			ea.outcome = TG_TEMPERROR;
		else if (strncmp(colon + 1, "permerror=", 10) == 0 && colon + 10 == eq)
			ea.outcome = TG_PERMERROR;
		action = tg_action_parse(eq + 1);
	}
	if (ea.method[0] == '\0' || ea.outcome < 0
	    || (action != TG_ACCEPT && action != TG_TAG && action != TG_TEMPFAIL))
		return bad_value(w, "expected CHECK:ERROR=ACTION with CHECK spf, dkim or dmarc, "
		    "ERROR temperror or permerror, ACTION accept, tag or tempfail", item);
	ea.action = (enum tg_action)action;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = ea;
	return 0;
}

static int
parse_error_actions(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	struct tg_error_actions *l = field;

	free(l->v);
	l->v = NULL;
	l->n = 0;
	return each_item(cfg, value, w, add_error_action, field);
}

enum tg_action
tg_config_error_action(const struct tg_config *cfg, const char *method, int outcome)
{
	/* the last entry for a pair wins, as a later line would */
	for (size_t i = cfg->error_actions.n; i-- > 0;)
		if (cfg->error_actions.v[i].outcome == outcome
		    && strcmp(cfg->error_actions.v[i].method, method) == 0)
			return cfg->error_actions.v[i].action;
	return TG_ACCEPT;
}

static int
parse_domains(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	tg_strlist_free(field);
	return each_item(cfg, value, w, add_domain, field);
}

static int
parse_cidrs(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	tg_cidrlist_free(field);
	return each_item(cfg, value, w, add_cidr, field);
}

static int
parse_words(struct tg_config *cfg, void *field, const char *value, struct where *w)
{
	tg_strlist_free(field);
	return each_item(cfg, value, w, add_word, field);
}

/* unquote - strip one pair of double quotes, in place */
static char *
unquote(char *v)
{
	size_t len = strlen(v);

	if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
		v[len - 1] = '\0';
		return v + 1;
	}
	return v;
}

/* find_setting - table entry by name (any case), or NULL */
static const struct setting *
find_setting(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcasecmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

/* split_line - "Key value # comment" into key and value, in place;
   false for a blank or comment line */
static bool
split_line(char *line, char **key_r, char **value_r)
{
	char *key = line, *value, *end;

	while (isspace((unsigned char)*key))
		key++;
	if (*key == '\0' || *key == '#')
		return false;
	for (value = key; *value && !isspace((unsigned char)*value); value++)
		;
	if (*value != '\0')
		*value++ = '\0';
	while (isspace((unsigned char)*value))
		value++;
	/* a '#' starts a comment unless inside quotes */
	for (end = value; *end; end++) {
		if (*end == '"') {
			char *q = strchr(end + 1, '"');

			if (q != NULL)
				end = q;
		} else if (*end == '#') {
			*end = '\0';
			break;
		}
	}
	end = value + strlen(value);
	while (end > value && isspace((unsigned char)end[-1]))
		*--end = '\0';
	*key_r = key;
	*value_r = value;
	return true;
}

/* parse_line - "Key value" into cfg; seen[] catches duplicates */
static void
parse_line(struct tg_config *cfg, char *line, struct where *w, bool seen[])
{
	char *key, *value;
	const struct setting *s;
	struct tg_strbuf sb = { 0 };

	if (!split_line(line, &key, &value))
		return;
	s = find_setting(key);
	if (s == NULL) {
		report(w, "unknown setting \"%s\"", got(&sb, key));
	} else if (*value == '\0') {
		report(w, "expected a value after %s", s->name);
	} else if (seen[s - settings]) {
		report(w, "%s is set twice", s->name);
	} else {
		seen[s - settings] = true;
		s->parse(cfg, (char *)cfg + s->off, unquote(value), w);
	}
	tg_strbuf_free(&sb);
}

/* load_logins - the SenderLoginMap file */
static void
load_logins(struct tg_config *cfg, struct where *pw)
{
	struct where w = { cfg->sender_login_map, 0, pw->errors, 0 };
	FILE *fp = fopen(cfg->sender_login_map, "r");
	char *line = NULL;
	size_t cap = 0;

	if (fp == NULL) {
		report(pw, "SenderLoginMap: cannot open %s: %s", cfg->sender_login_map,
		    strerror(errno));
		return;
	}
	while (getline(&line, &cap, fp) >= 0) {
		char *hash = strchr(line, '#'), *save = NULL, *key, *tok;
		struct tg_login_entry *e;

		w.line++;
		if (hash != NULL)
			*hash = '\0';
		key = strtok_r(line, ", \t\r\n", &save);
		if (key == NULL)
			continue;
		tok = strtok_r(NULL, ", \t\r\n", &save);
		if (tok == NULL || strchr(key, '@') == NULL) {
			bad_value(&w, "expected \"address-or-@domain login[, login...]\"", key);
			continue;
		}
		cfg->logins = xrealloc(cfg->logins, (cfg->nlogins + 1) * sizeof(*cfg->logins));
		e = &cfg->logins[cfg->nlogins++];
		memset(e, 0, sizeof(*e));
		e->key = xstrdup(key);
		for (; tok != NULL; tok = strtok_r(NULL, ", \t\r\n", &save))
			tg_strlist_add(&e->logins, tok);
	}
	if (ferror(fp))
		report(pw, "SenderLoginMap: cannot read %s: %s", cfg->sender_login_map,
		    strerror(errno));
	pw->nerrors += w.nerrors;
	free(line);
	fclose(fp);
}

bool
tg_config_sender_owned(const struct tg_config *cfg, const char *sender,
    const char *domain, const char *login)
{
	char *at_domain;
	bool owned = false;

	if (cfg->sender_login_map == NULL)
		return true;
	/* as Postfix: the address entry when there is one, else @domain */
	at_domain = xasprintf("@%s", domain);
	for (int pass = 0; pass < 2; pass++) {
		const char *key = pass == 0 ? sender : at_domain;

		for (size_t i = 0; i < cfg->nlogins; i++)
			if (strcasecmp(cfg->logins[i].key, key) == 0) {
				owned = tg_strlist_has(&cfg->logins[i].logins, login);
				free(at_domain);
				return owned;
			}
	}
	free(at_domain);
	return false;
}

/* config_free - release a snapshot and all it owns */
static void
config_free(struct tg_config *cfg)
{
	for (size_t i = 0; tg_checks[i] != NULL; i++)
		if (cfg->check_global[i] != NULL && tg_checks[i]->teardown != NULL)
			tg_checks[i]->teardown(cfg->check_global[i]);
	free(cfg->path);
	free(cfg->socket);
	free(cfg->user);
	free(cfg->pidfile);
	free(cfg->policy_file);
	free(cfg->authserv_id);
	tg_strlist_free(&cfg->local_domains);
	tg_cidrlist_free(&cfg->trusted_networks);
	tg_strlist_free(&cfg->submission_daemons);
	free(cfg->sender_login_map);
	for (size_t i = 0; i < cfg->nlogins; i++) {
		free(cfg->logins[i].key);
		tg_strlist_free(&cfg->logins[i].logins);
	}
	free(cfg->logins);
	free(cfg->tag_subject_prefix);
	free(cfg->nameservers);
	free(cfg->trust_anchor);
	free(cfg->public_suffix_list);
	free(cfg->error_actions.v);
	free(cfg->state_db);
	free(cfg->postfix_config_dir);
	tg_dns_free(&cfg->dns);
	tg_policy_free(&cfg->policy);
	free(cfg);
}

/* validate - cross-field checks and the files the settings name */
static void
validate(struct tg_config *cfg, struct where *w)
{
	w->line = 0;
	if (cfg->authserv_id[0] == '\0') {
		char host[256];

		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		free(cfg->authserv_id);
		cfg->authserv_id = xstrdup(host);
	}
	for (const char *p = cfg->authserv_id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_') {
			bad_value(w, "AuthservID must be a host name", cfg->authserv_id);
			break;
		}
	if (cfg->local_domains.n == 0)
		report(w, "LocalDomains is not set: list the domains this server "
		    "receives mail for, or every recipient is treated as relaying");
	if (cfg->sender_login_map != NULL)
		load_logins(cfg, w);
	if (cfg->policy_file != NULL) {
		cfg->policy = tg_policy_load(cfg->policy_file, w->errors);
		if (cfg->policy == NULL)
			w->nerrors++;
	}
	if (cfg->store_timeout_ms > 1000)
		report(w, "StoreTimeout (%ums) must not be longer than 1s: a verdict "
		    "never waits for the StateDB longer than that", cfg->store_timeout_ms);
	if (cfg->dns_timeout_ms > cfg->check_timeout_ms)
		report(w, "DNSTimeout (%ums) must not be longer than CheckTimeout (%ums)",
		    cfg->dns_timeout_ms, cfg->check_timeout_ms);
	if (w->nerrors == 0) {
		struct tg_dns_opts o = { .nameservers = cfg->nameservers,
			.trust_anchor = cfg->trust_anchor };
		char err[256];

		cfg->dns = tg_dns_new(&o, err, sizeof(err));
		if (cfg->dns == NULL)
			report(w, "%s", err);
	}
	for (size_t i = 0; tg_checks[i] != NULL && w->nerrors == 0; i++) {
		const char *err = NULL;

		if (tg_checks[i]->setup != NULL
		    && tg_checks[i]->setup(cfg, &cfg->check_global[i], &err) < 0)
			report(w, "%s: %s", tg_checks[i]->name, err ? err : "setup failed");
	}
}

struct tg_config *
tg_config_load(const char *path, struct tg_strbuf *errors)
{
	struct tg_config *cfg = xcalloc(1, sizeof(*cfg));
	struct where w = { "(defaults)", 0, errors, 0 };
	bool seen[NSETTINGS] = { false };
	char *line = NULL;
	size_t cap = 0;
	FILE *fp;

	cfg->path = xstrdup(path);
	cfg->refs = 1;
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].def != NULL)
			settings[i].parse(cfg, (char *)cfg + settings[i].off, settings[i].def, &w);
	w.file = path;
	fp = fopen(path, "r");
	if (fp == NULL) {
		report(&w, "cannot open: %s", strerror(errno));
		config_free(cfg);
		return NULL;
	}
	while (getline(&line, &cap, fp) >= 0) {
		w.line++;
		line[strcspn(line, "\r\n")] = '\0';
		parse_line(cfg, line, &w, seen);
	}
	free(line);
	fclose(fp);
	validate(cfg, &w);
	if (w.nerrors > 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

char *
tg_config_setting(const char *path, const char *name, struct tg_strbuf *errors)
{
	const struct setting *s = find_setting(name);
	struct where w = { path, 0, errors, 0 };
	struct tg_config tmp = { .path = (char *)path };
	char *line = NULL, *key, *value, *result = NULL;
	const char *found = NULL;
	size_t cap = 0;
	FILE *fp;

	if (s == NULL || (s->parse != parse_str && s->parse != parse_path)) {
		report(&w, "%s is not a string setting", name);
		return NULL;
	}
	fp = fopen(path, "r");
	if (fp == NULL) {
		report(&w, "cannot open: %s", strerror(errno));
		return NULL;
	}
	while (found == NULL && getline(&line, &cap, fp) >= 0) {
		w.line++;
		line[strcspn(line, "\r\n")] = '\0';
		if (split_line(line, &key, &value) && strcasecmp(key, s->name) == 0
		    && *value != '\0')
			found = unquote(value);
	}
	fclose(fp);
	if (found == NULL)
		found = s->def;
	if (found != NULL)
		s->parse(&tmp, &result, found, &w);
	free(line);
	return result;
}

void
tg_config_print(const struct tg_config *cfg, FILE *fp)
{
	char *s;

	fprintf(fp, "Socket %s\nSocketMode %04o\n", cfg->socket, cfg->socket_mode);
	fprintf(fp, "UserID %s\nPidFile %s\n", cfg->user ? cfg->user : "(none)",
	    cfg->pidfile ? cfg->pidfile : "(none)");
	fprintf(fp, "PolicyFile %s (%u rules)\n", cfg->policy_file,
	    cfg->policy ? tg_policy_nrules(cfg->policy) : 0);
	fprintf(fp, "AuthservID %s\n", cfg->authserv_id);
	s = tg_strlist_join(&cfg->local_domains, ", ");
	fprintf(fp, "LocalDomains %s\n", s);
	free(s);
	fprintf(fp, "TrustedNetworks");
	for (size_t i = 0; i < cfg->trusted_networks.n; i++) {
		char buf[64];

		tg_ip_format(&cfg->trusted_networks.v[i].net, buf, sizeof(buf));
		fprintf(fp, "%s %s/%u", i ? "," : "", buf, cfg->trusted_networks.v[i].prefix);
	}
	fprintf(fp, "\nMaxMessageSize %llu\n", (unsigned long long)cfg->max_message_size);
	s = tg_strlist_join(&cfg->submission_daemons, ", ");
	fprintf(fp, "SubmissionDaemons %s\n", s);
	free(s);
	fprintf(fp, "SenderLoginMap %s (%zu entries)\n",
	    cfg->sender_login_map ? cfg->sender_login_map : "(none)", cfg->nlogins);
	fprintf(fp, "OnInternalError %s\nMode %s\nLogFormat %s\nSyslog %s\n",
	    tg_action_name(cfg->on_internal_error), word_name(&mode_words, cfg->mode),
	    word_name(&logformat_words, cfg->log_format), cfg->syslog ? "yes" : "no");
	fprintf(fp, "SyslogFacility %s\n", word_name(&facility_words, cfg->syslog_facility));
	fprintf(fp, "TagHeaders %s\nTagSubjectPrefix \"%s\"\nMilterTimeout %u\n",
	    cfg->tag_headers ? "yes" : "no", cfg->tag_subject_prefix, cfg->milter_timeout);
	fprintf(fp, "Nameservers %s\nDNSTimeout %ums\nCheckTimeout %ums\n",
	    cfg->nameservers ? cfg->nameservers : "(from resolv.conf)", cfg->dns_timeout_ms,
	    cfg->check_timeout_ms);
	fprintf(fp, "DNSSECTrustAnchor %s\nPublicSuffixList %s\n",
	    cfg->trust_anchor ? cfg->trust_anchor : "(none)", cfg->public_suffix_list);
	fprintf(fp, "DKIMMinKeyBits %u\nDKIMMaxSignatures %u\nCheckTrustedClients %s\n"
	    "SPFCheckHelo %s\nReceivedSPF %s\nErrorActions", cfg->dkim_min_key_bits,
	    cfg->dkim_max_signatures, cfg->check_trusted ? "yes" : "no",
	    cfg->spf_helo ? "yes" : "no", cfg->received_spf ? "yes" : "no");
	for (size_t i = 0; i < cfg->error_actions.n; i++) {
		const struct tg_error_action *e = &cfg->error_actions.v[i];

		fprintf(fp, "%s %s:%s=%s", i ? "," : "", e->method, tg_outcome_name(e->outcome),
		    tg_action_name(e->action));
	}
	fprintf(fp, "%s\n", cfg->error_actions.n ? "" : " (none: errors are recorded only)");
	fprintf(fp, "StateDB %s\nRecordVerdicts %s\nStoreTimeout %ums\nPostfixConfigDir %s\n",
	    cfg->state_db, word_name(&record_words, cfg->record_verdicts),
	    cfg->store_timeout_ms, cfg->postfix_config_dir);
}

void
tg_config_publish(struct tg_config *cfg)
{
	struct tg_config *old;

	pthread_mutex_lock(&swap_lock);
	old = current;
	current = cfg;
	pthread_mutex_unlock(&swap_lock);
	tg_config_release(&old);
}

struct tg_config *
tg_config_acquire(void)
{
	struct tg_config *cfg;

	pthread_mutex_lock(&swap_lock);
	cfg = current;
	if (cfg != NULL)
		cfg->refs++;
	pthread_mutex_unlock(&swap_lock);
	return cfg;
}

void
tg_config_release(struct tg_config **cfgp)
{
	struct tg_config *cfg = *cfgp;
	bool last;

	if (cfg == NULL)
		return;
	*cfgp = NULL;
	pthread_mutex_lock(&swap_lock);
	last = --cfg->refs == 0;
	pthread_mutex_unlock(&swap_lock);
	if (last)
		config_free(cfg);
}
