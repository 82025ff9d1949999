/*
 * from - the RFC 5322 From field, parsed strictly, and the DNS host
 * name test its domains must pass.
 *
 * What it does: splits a From field value into its mailboxes (comments,
 * quoted strings and obsolete dotted phrases allowed; encoded words
 * never decoded, so a display name cannot smuggle in an address),
 * refuses anything ambiguous, and finds the one From domain of a
 * message's header fields.
 *
 * What it does not do: decide what a message without a usable From
 * means (the DMARC check records permerror), look anything up in DNS,
 * or know about organisational domains (checks/psl.c).
 */
#include "autoconf.h"

#include <string.h>
#include <strings.h>

#include "arena.h"
#include "from.h"
#include "strbuf.h"

struct fparse {
	const char *p;
	const char *error;		/* static text once something failed */
};

/* is_alnum - ASCII letter or digit, whatever the locale */
static bool
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* is_atext - RFC 5322 atext, plus UTF-8 bytes (RFC 6532) */
static bool
is_atext(unsigned char c)
{
	return is_alnum(c) || c >= 0x80
	    || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* skip_cfws - folding white space and (nested) comments */
static bool
skip_cfws(struct fparse *s)
{
	for (;;) {
		int depth = 0;

		while (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')
			s->p++;
		if (*s->p != '(')
			return true;
		do {
			if (*s->p == '\0') {
				s->error = "unterminated comment in From";
				return false;
			}
			if (*s->p == '\\' && s->p[1] != '\0')
				s->p++;
			else if (*s->p == '(')
				depth++;
			else if (*s->p == ')')
				depth--;
			s->p++;
		} while (depth > 0);
	}
}

/* word - an atom or a quoted string, appended to out as written;
   false when there is none (s->error set if one is unterminated) */
static bool
word(struct fparse *s, struct tg_strbuf *out)
{
	const char *start = s->p;

	if (*s->p == '"') {
		for (s->p++; *s->p != '"'; s->p++) {
			if (*s->p == '\0') {
				s->error = "unterminated quoted string in From";
				return false;
			}
			if (*s->p == '\\' && s->p[1] != '\0')
				s->p++;
		}
		s->p++;
	} else {
		while (is_atext((unsigned char)*s->p))
			s->p++;
		if (s->p == start)
			return false;
	}
	tg_strbuf_appendn(out, start, (size_t)(s->p - start));
	return true;
}

/* words - a phrase or local part: words and dots with CFWS between;
   *dotted_r says whether it has the shape word *("." word) */
static bool
words(struct fparse *s, struct tg_strbuf *out, size_t *nwords_r, bool *dotted_r)
{
	bool want_word = true;

	*nwords_r = 0;
	*dotted_r = true;
	for (;;) {
		if (!skip_cfws(s))
			return false;
		if (*s->p == '.') {
			if (want_word)
				*dotted_r = false;
			want_word = true;
			tg_strbuf_addch(out, '.');
			s->p++;
		} else if (word(s, out)) {
			if (!want_word)
				*dotted_r = false;
			want_word = false;
			(*nwords_r)++;
		} else if (s->error != NULL) {
			return false;
		} else {
			break;
		}
	}
	if (want_word)
		*dotted_r = false;
	return true;
}

/* domain - the domain of an addr-spec, after its '@': lowercase, and a
   DNS host name */
static bool
domain(struct fparse *s, struct tg_arena *a, const char **domain_r)
{
	struct tg_strbuf d = { 0 };
	bool want_atom = true, ok = false;

	if (!skip_cfws(s))
		return false;
	if (*s->p == '[') {
		s->error = "address literal in From";
		return false;
	}
	for (;;) {
		if (!skip_cfws(s))
			goto out;
		if (*s->p == '.' && !want_atom) {
			tg_strbuf_addch(&d, '.');
			s->p++;
			want_atom = true;
		} else if (is_atext((unsigned char)*s->p) && want_atom) {
			while (is_atext((unsigned char)*s->p))
				tg_strbuf_addch(&d, *s->p++);
			want_atom = false;
		} else {
			break;
		}
	}
	if (want_atom) {
		s->error = d.len == 0 ? "From address without a domain"
		    : "From domain is not a valid DNS name";
		goto out;
	}
	for (size_t i = 0; i < d.len; i++)
		if (d.s[i] >= 'A' && d.s[i] <= 'Z')
			d.s[i] = (char)(d.s[i] - 'A' + 'a');
	if (!tg_domain_is_hostname(d.s)) {
		s->error = "From domain is not a valid DNS name";
		goto out;
	}
	*domain_r = tg_arena_strdup(a, d.s);
	ok = true;
out:
	tg_strbuf_free(&d);
	return ok;
}

/* angle_addr - "<" addr-spec ">", the '<' at s->p */
static bool
angle_addr(struct fparse *s, struct tg_arena *a, struct tg_strbuf *local,
    const char **domain_r)
{
	size_t n;
	bool dotted;

	s->p++;
	if (!skip_cfws(s))
		return false;
	if (*s->p == '>') {
		s->error = "empty address <> in From";
		return false;
	}
	if (*s->p == '@') {
		s->error = "source route in From";
		return false;
	}
	if (!words(s, local, &n, &dotted))
		return false;
	if (*s->p != '@' || !dotted) {
		s->error = *s->p == '@' ? "invalid local part in From" : "From address without @";
		return false;
	}
	s->p++;
	if (!domain(s, a, domain_r) || !skip_cfws(s))
		return false;
	if (*s->p != '>') {
		s->error = "unterminated <address> in From";
		return false;
	}
	s->p++;
	return true;
}

/* mailbox - name-addr or addr-spec */
static bool
mailbox(struct fparse *s, struct tg_arena *a, struct tg_from_mailbox *mb)
{
	struct tg_strbuf text = { 0 }, local = { 0 };
	bool ok = false, dotted;
	size_t n;

	if (!words(s, &text, &n, &dotted))
		goto out;
	switch (*s->p) {
	case '<':
		ok = angle_addr(s, a, &local, &mb->domain);
		mb->local = tg_arena_strdup(a, tg_strbuf_str(&local));
		break;
	case '@':
		if (n == 0 || !dotted) {
			s->error = n == 0 ? "From address without a local part"
			    : "invalid local part in From";
			break;
		}
		s->p++;
		ok = domain(s, a, &mb->domain);
		mb->local = tg_arena_strdup(a, tg_strbuf_str(&text));
		break;
	case ':':
	case ';':
		s->error = "group syntax in From";
		break;
	case ',':
	case '\0':
		s->error = text.len == 0 ? "empty element in From address list"
		    : "From address without @";
		break;
	default:
		s->error = "unexpected character in From";
		break;
	}
out:
	tg_strbuf_free(&text);
	tg_strbuf_free(&local);
	return ok;
}

int
tg_from_parse(struct tg_arena *a, const char *value,
    struct tg_from_mailbox **list_r, size_t *n_r, const char **error_r)
{
	struct fparse s = { value, NULL };
	struct tg_from_mailbox *v = NULL;
	size_t n = 0, cap = 0;

	*list_r = NULL;
	*n_r = 0;
	if (!skip_cfws(&s))
		goto fail;
	if (*s.p == '\0') {
		s.error = "empty From header";
		goto fail;
	}
	for (;;) {
		if (n == cap) {
			struct tg_from_mailbox *nv;

			cap = cap ? cap * 2 : 2;
			nv = tg_arena_alloc(a, cap * sizeof(*nv));
			if (n > 0)
				memcpy(nv, v, n * sizeof(*nv));
			v = nv;
		}
		if (!mailbox(&s, a, &v[n]) || !skip_cfws(&s))
			goto fail;
		n++;
		if (*s.p == '\0')
			break;
		if (*s.p == ':' || *s.p == ';') {
			s.error = "group syntax in From";
			goto fail;
		}
		if (*s.p != ',') {
			s.error = "unexpected character after From address";
			goto fail;
		}
		s.p++;
		if (!skip_cfws(&s))
			goto fail;
		if (*s.p == ',' || *s.p == '\0') {
			s.error = "empty element in From address list";
			goto fail;
		}
	}
	*list_r = v;
	*n_r = n;
	return 0;
fail:
	*error_r = s.error != NULL ? s.error : "unparseable From";
	return -1;
}

/* is_from - a header called From (obsolete syntax allows WSP before ':') */
static bool
is_from(const char *name)
{
	size_t n = strlen(name);

	while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		n--;
	return n == 4 && strncasecmp(name, "From", 4) == 0;
}

const char *
tg_from_domain(struct tg_arena *a, const char *const *names, const char *const *values,
    size_t nh, const char **error_r)
{
	struct tg_from_mailbox *list;
	const char *value = NULL;
	size_t nfrom = 0, n;

	for (size_t i = 0; i < nh; i++)
		if (is_from(names[i])) {
			value = values[i];
			nfrom++;
		}
	if (nfrom == 0) {
		*error_r = "no From header";
		return NULL;
	}
	if (nfrom > 1) {
		*error_r = tg_arena_printf(a, "multiple From headers: %zu", nfrom);
		return NULL;
	}
	if (tg_from_parse(a, value, &list, &n, error_r) < 0)
		return NULL;
	if (n > 1) {
		*error_r = tg_arena_printf(a, "multiple From addresses: %zu", n);
		return NULL;
	}
	return list[0].domain;
}

bool
tg_domain_is_hostname(const char *d)
{
	size_t label = 0;
	bool numeric = true;

	if (d == NULL || d[0] == '\0' || strlen(d) > 253)
		return false;
	for (const char *p = d;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (*p == '\0')
				return !numeric;
			label = 0;
			numeric = true;
			continue;
		}
		if (*p == '-' ? label == 0 : !is_alnum((unsigned char)*p))
			return false;
		if (*p < '0' || *p > '9')
			numeric = false;
		label++;
	}
}
