/*
 * config - tollgate.conf: the settings table, parsing, validation and
 * the refcounted snapshot that connections hold.
 *
 * A snapshot is immutable once published. Reload parses into a fresh
 * snapshot (policy and list files included) and swaps it in only if
 * everything is valid; connections keep the snapshot they started with.
 */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "checks/check.h"
#include "util/cidr.h"
#include "util/strlist.h"
#include "verdict.h"

struct tg_policy;
struct tg_strbuf;

enum tg_mode { TG_MODE_ENFORCE, TG_MODE_MONITOR };
enum tg_logformat { TG_LOGFMT_TEXT, TG_LOGFMT_JSON };
/* RecordVerdicts: which verdicts go into the StateDB */
enum tg_record { TG_RECORD_NONE, TG_RECORD_QUARANTINE, TG_RECORD_ALL };

/* one sender-login map entry: sender address or "@domain" -> logins */
struct tg_login_entry {
	char *key;
	struct tg_strlist logins;
};

/* ErrorActions: what a check's error result does to the message */
struct tg_error_action {
	char method[8];			/* "spf", "dkim", "dmarc" */
	int outcome;			/* TG_TEMPERROR or TG_PERMERROR */
	enum tg_action action;		/* accept (record), tag or tempfail */
};

struct tg_error_actions {
	struct tg_error_action *v;
	size_t n;
};

struct tg_dns;

struct tg_config {
	char *path;
	char *socket;
	unsigned int socket_mode;
	char *user;			/* UserID, NULL = stay as started */
	char *pidfile;
	char *policy_file;
	char *authserv_id;
	struct tg_strlist local_domains;
	struct tg_cidrlist trusted_networks;
	uint64_t max_message_size;	/* 0 = no limit */
	struct tg_strlist submission_daemons;
	char *sender_login_map;
	struct tg_login_entry *logins;
	size_t nlogins;
	enum tg_action on_internal_error;	/* TG_TEMPFAIL or TG_ACCEPT */
	enum tg_mode mode;
	enum tg_logformat log_format;
	bool syslog;
	int syslog_facility;
	char *tag_subject_prefix;	/* "" = leave the subject alone */
	bool tag_headers;		/* X-Spam-Flag on tag/quarantine */
	unsigned int milter_timeout;	/* seconds, smfi_settimeout */
	char *nameservers;		/* NULL = resolv.conf */
	unsigned int dns_timeout_ms;	/* one query */
	unsigned int check_timeout_ms;	/* all of a message's lookups */
	char *trust_anchor;		/* DNSSEC, NULL = no validation */
	char *public_suffix_list;
	unsigned int dkim_min_key_bits;
	unsigned int dkim_max_signatures;
	bool check_trusted;		/* run SPF/DKIM/DMARC for trusted and AUTH clients */
	bool received_spf;		/* add a Received-SPF header */
	bool spf_helo;			/* also check the HELO identity (spf-helo) */
	struct tg_error_actions error_actions;
	char *state_db;			/* StateDB: the verdict store (SQLite) */
	enum tg_record record_verdicts;
	unsigned int store_timeout_ms;	/* longest a store write may take */
	char *postfix_config_dir;	/* for tollgatectl's postsuper/postcat */
	struct tg_dns *dns;		/* the resolver of this snapshot */
	struct tg_policy *policy;
	void *check_global[TG_MAX_CHECKS];
	int refs;			/* under the swap lock */
};

/* tg_config_load - parse path (and the files it names) into a new
   snapshot with one reference. On any error returns NULL and appends
   "FILE:LINE: message\n" lines to errors (all errors, not the first). */
struct tg_config *tg_config_load(const char *path, struct tg_strbuf *errors);
/* tg_config_setting - the value of one string or path setting (from
   the file, else its default; a relative path made absolute) without
   loading or validating anything else, so that a tool that needs only a
   path works while the policy is broken. NULL for a setting without a
   value or on error (then "FILE: message" lines in errors). Caller frees. */
char *tg_config_setting(const char *path, const char *name, struct tg_strbuf *errors);
/* tg_config_print - every setting with its effective value */
void tg_config_print(const struct tg_config *cfg, FILE *fp);

/* The published snapshot. tg_config_acquire() returns it with a new
   reference; tg_config_release() drops one (and frees at zero).
   tg_config_publish() takes over the caller's reference. */
void tg_config_publish(struct tg_config *cfg);
struct tg_config *tg_config_acquire(void);
void tg_config_release(struct tg_config **cfgp);

/* tg_config_sender_owned - login may send as sender (map lookup of the
   address, then "@domain"); true when no map is configured */
bool tg_config_sender_owned(const struct tg_config *cfg, const char *sender,
    const char *domain, const char *login);

/* tg_config_error_action - the ErrorActions entry for method/outcome:
   TG_ACCEPT when none is set */
enum tg_action tg_config_error_action(const struct tg_config *cfg, const char *method,
    int outcome);

/* tg_parse_size - "10M" etc. into bytes; -1 on error */
int tg_parse_size(const char *s, uint64_t *bytes_r);

#endif
