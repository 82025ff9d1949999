/*
 * authres - Authentication-Results (see authres.h, RFC 8601).
 */
#include "autoconf.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "session.h"
#include "util/strbuf.h"
#include "util/text.h"

/* the methods we report, in the order RFC 8601 examples use */
static const char *const methods[] = { "auth", "spf", "dkim", "dmarc" };

/* comment - " (text)" with what a comment may not hold made safe */
static void
comment(struct tg_strbuf *out, const char *text)
{
	struct tg_strbuf clean = { 0 };

	tg_text_header(&clean, text, 200);
	tg_strbuf_append(out, " (");
	for (const char *p = tg_strbuf_str(&clean); *p; p++) {
		if (*p == '(' || *p == ')' || *p == '\\')
			tg_strbuf_addch(out, '\\');
		tg_strbuf_addch(out, *p);
	}
	tg_strbuf_addch(out, ')');
	tg_strbuf_free(&clean);
}

void
tg_authres_value(const struct tg_msg *msg, const char *authserv_id, struct tg_strbuf *out)
{
	size_t n = 0;

	tg_strbuf_append(out, authserv_id);
	tg_strbuf_addch(out, ';');
	if (msg->conn->auth_user != NULL) {
		tg_strbuf_append(out, "\n\tauth=pass smtp.auth=");
		tg_text_header(out, msg->conn->auth_user, 100);
		n++;
	}
	for (size_t m = 1; m < sizeof(methods) / sizeof(methods[0]); m++)
		for (size_t i = 0; i < msg->nresults; i++) {
			const struct tg_result *r = &msg->results[i];

			if (strcmp(r->method, methods[m]) != 0)
				continue;
			if (n++ > 0)
				tg_strbuf_addch(out, ';');
			tg_strbuf_printf(out, "\n\t%s=%s", r->method, tg_outcome_name(r->outcome));
			if (r->reason != NULL)
				comment(out, r->reason);
			if (r->props != NULL) {
				tg_strbuf_addch(out, ' ');
				tg_text_header(out, r->props, 400);
			}
		}
	if (n == 0)
		tg_strbuf_append(out, " none");
}

bool
tg_authres_received_spf(const struct tg_msg *msg, const char *receiver,
    struct tg_strbuf *out)
{
	const struct tg_result *r = tg_msg_result(msg, "spf");
	const struct tg_conn *conn = msg->conn;

	if (r == NULL)
		return false;
	tg_strbuf_append(out, tg_outcome_name(r->outcome));
	if (r->reason != NULL)
		comment(out, r->reason);
	tg_strbuf_printf(out, "\n\tclient-ip=%s;", conn->addr);
	if (msg->sender_ok) {
		tg_strbuf_append(out, " envelope-from=\"");
		if (!msg->sender.null) {
			tg_text_header(out, msg->sender.local, 64);
			tg_strbuf_addch(out, '@');
			tg_text_header(out, msg->sender.domain, 255);
		}
		tg_strbuf_append(out, "\";");
	}
	if (conn->helo != NULL) {
		tg_strbuf_append(out, " helo=");
		tg_text_header(out, conn->helo, 255);
		tg_strbuf_addch(out, ';');
	}
	tg_strbuf_printf(out, "\n\treceiver=%s; identity=%s", receiver,
	    msg->sender_ok && !msg->sender.null ? "mailfrom" : "helo");
	return true;
}

/* skip_cfws - white space and (nested) comments */
static const char *
skip_cfws(const char *p)
{
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '(')
			return p;
		for (int depth = 0; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

/* quoted_is - p (at a '"') starts a quoted-string whose content is id,
   any case; *end_r goes past the closing quote. RFC 8601 takes the
   authserv-id as a "value", token or quoted-string: "mx.example.org"
   is the same id as mx.example.org to whoever reads the header. */
static bool
quoted_is(const char *p, const char *id, const char **end_r)
{
	size_t i = 0;

	for (p++; *p != '\0' && *p != '"'; p++, i++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (id[i] == '\0' || tolower((unsigned char)*p) != tolower((unsigned char)id[i]))
			return false;
	}
	if (*p != '"' || id[i] != '\0')
		return false;
	*end_r = p + 1;
	return true;
}

bool
tg_authres_is_ours(const char *value, const char *authserv_id)
{
	size_t len = strlen(authserv_id);
	const char *p = skip_cfws(value);

	if (*p == '"') {
		if (!quoted_is(p, authserv_id, &p))
			return false;
	} else if (strncasecmp(p, authserv_id, len) == 0) {
		p += len;
	} else {
		return false;
	}
	/* the id ends at CFWS, ';' or the end; "mx.example.org.evil" is not ours */
	return *p == '\0' || *p == ';' || *p == '(' || isspace((unsigned char)*p);
}

size_t
tg_authres_forged(const struct tg_msg *msg, const char *authserv_id, int *idx, size_t max)
{
	size_t found = 0;
	int nth = 0;

	for (size_t i = 0; i < msg->nheaders; i++) {
		if (strcasecmp(msg->headers[i].name, "Authentication-Results") != 0)
			continue;
		nth++;
		if (!tg_authres_is_ours(msg->headers[i].value, authserv_id))
			continue;
		if (found < max)
			idx[found] = nth;
		found++;
	}
	/* highest first, so deleting one does not move the others */
	for (size_t a = 0, b = (found < max ? found : max); b > 1 && a < --b; a++) {
		int t = idx[a];

		idx[a] = idx[b];
		idx[b] = t;
	}
	return found < max ? found : max;
}
