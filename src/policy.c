/*
 * policy - the admin's policy file (see policy.h and tollgate-policy(5)).
 *
 * The file is read in one piece and parsed by recursive descent into
 * rules whose conditions are small expression trees. Lists are named
 * once and shared by the rules that use them. Every error is reported
 * as FILE:LINE:COL and parsing goes on at the next statement, so an
 * admin sees all mistakes at once. Nothing here changes after parsing:
 * one policy is shared read-only by every connection thread.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checks/dmarc.h"
#include "config.h"
#include "policy.h"
#include "session.h"
#include "util/arena.h"
#include "util/cidr.h"
#include "util/strbuf.h"
#include "util/strlist.h"
#include "util/text.h"
#include "util/xmalloc.h"
#include "verdict.h"

#define MAX_POLICY_BYTES (4u << 20)	/* a policy is text an admin wrote */
#define MAX_DEPTH 64			/* nesting of parentheses and not */

/* ---------------------------------------------------------------- data */

struct plist {
	char *name;
	struct tg_strlist items;
	struct tg_cidrlist cidrs;
	const char *bad_cidr;		/* first item that is no CIDR; NULL = all are */
};

enum node_kind {
	N_AND, N_OR, N_NOT, N_ALWAYS,
	N_RESULT,		/* spf/dkim/dmarc is OUTCOME,... */
	N_DMARC_POLICY,		/* dmarc-policy is none|quarantine|reject */
	N_DMARC_FROM,		/* dmarc-from is missing,multiple,invalid */
	N_CLIENT,		/* client in LIST|CIDR */
	N_AUTHENTICATED, N_TLS, N_TRUSTED,
	N_FIELD,		/* helo/sender/recipient(-domain) is|in|~ */
	N_SIZE,
	N_HEADER,		/* header NAME ~ /re/ | exists */
};

enum field { F_HELO, F_SENDER, F_SENDER_DOMAIN, F_RCPT, F_RCPT_DOMAIN };
enum field_op { OP_IS, OP_IN, OP_MATCH, OP_EXISTS };
enum cmp { CMP_GT, CMP_GE, CMP_LT, CMP_LE };

struct node {
	enum node_kind kind;
	struct node *a, *b;		/* operands of and/or/not */
	const char *method;		/* N_RESULT */
	unsigned int outcomes;		/* bit per tg_outcome (N_RESULT) or
					   tg_dmarc_from (N_DMARC_FROM) */
	enum field field;
	enum field_op op;
	char *str;			/* is-value, header name, dmarc policy */
	const struct plist *list;	/* OP_IN, N_CLIENT */
	struct tg_cidr cidr;		/* N_CLIENT without a list */
	regex_t re;
	bool has_re;
	enum cmp cmp;
	uint64_t size;
};

struct rule {
	char *name;
	struct node *cond;
	enum tg_action action;
	bool is_score;			/* "score N": adds, does not stop */
	double score;
	char code[4], xcode[12];	/* "" = the policy's default reply */
	char *text;
	bool monitor;
};

struct reply {
	char code[4], xcode[12];
	char *text;
};

struct threshold {
	bool set;
	double value;
};

struct tg_policy {
	char *file;
	struct threshold thresholds[TG_REJECT + 1];	/* tag, quarantine, reject */
	struct reply reject_reply, tempfail_reply;
	struct plist **lists;
	size_t nlists;
	struct rule *rules;
	size_t nrules;
};

/* ---------------------------------------------------------------- lexer */

enum tok_kind {
	T_EOS,		/* end of statement (or file) */
	T_WORD, T_STRING, T_REGEX,
	T_ARROW, T_LPAREN, T_RPAREN, T_COMMA, T_TILDE, T_EQ,
	T_GT, T_GE, T_LT, T_LE,
	T_BAD,		/* a character that starts no token */
};

struct token {
	enum tok_kind kind;
	const char *start;		/* in the source */
	size_t len;
	char *text;			/* word, string or regex body (owned by parser) */
	bool icase;			/* regex flag i */
	unsigned int line, col;
};

struct parser {
	struct tg_policy *p;
	const char *file;
	const char *dir;		/* for file: lists, "" = cwd */
	const char *src, *pos;
	unsigned int line;
	const char *line_start;
	unsigned int end_line, end_col;	/* just after the last token */
	struct token peeked;
	bool have_peek;
	bool failed_stmt;		/* an error in the current statement */
	struct tg_strbuf *errors;
	unsigned int nerrors;
	int depth;
};

static bool
is_word_char(int c)
{
	return isalnum(c) || (c != '\0' && strchr("._-:/@%+!", c) != NULL);
}

/* line_is_blank - only whitespace or a comment until the newline */
static bool
line_is_blank(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	return *s == '\0' || *s == '\n' || *s == '#';
}

/* skip_space - spaces, comments and continuation newlines. Stops
   before a newline that ends the statement (next line starts in
   column 1 with something other than a comment). */
static void
skip_space(struct parser *ps)
{
	for (;;) {
		const char *s = ps->pos;

		if (*s == ' ' || *s == '\t' || *s == '\r') {
			ps->pos++;
		} else if (*s == '#') {
			while (*ps->pos != '\0' && *ps->pos != '\n')
				ps->pos++;
		} else if (*s == '\n') {
			const char *next = s + 1;

			if (!line_is_blank(next) && *next != ' ' && *next != '\t')
				return;
			ps->pos = next;
			ps->line++;
			ps->line_start = next;
		} else {
			return;
		}
	}
}

/* next_line - leave the current statement: to the start of the next */
static void
next_statement(struct parser *ps)
{
	ps->have_peek = false;
	for (;;) {
		skip_space(ps);
		if (*ps->pos == '\0')
			return;
		if (*ps->pos == '\n') {
			ps->pos++;
			ps->line++;
			ps->line_start = ps->pos;
			return;
		}
		ps->pos++;
	}
}

static void
tok_set(struct parser *ps, struct token *t, enum tok_kind kind, size_t len)
{
	t->kind = kind;
	t->start = ps->pos;
	t->len = len;
	t->text = NULL;
	t->icase = false;
	t->line = ps->line;
	t->col = (unsigned int)(ps->pos - ps->line_start) + 1;
	ps->pos += len;
	if (kind == T_EOS) {
		/* report a missing token just after the last one */
		t->line = ps->end_line;
		t->col = ps->end_col;
	} else {
		ps->end_line = t->line;
		ps->end_col = t->col + (unsigned int)len;
	}
}

static void lex_error(struct parser *ps, const struct token *t, const char *expected);

/* lex_string - "..." with \" and \\; no newline inside */
static void
lex_string(struct parser *ps, struct token *t)
{
	struct tg_strbuf sb = { 0 };
	const char *s = ps->pos + 1;

	tok_set(ps, t, T_STRING, 1);
	for (; *s != '"'; s++) {
		if (*s == '\0' || *s == '\n') {
			t->len = (size_t)(s - t->start);
			t->kind = T_BAD;
			ps->pos = s;
			lex_error(ps, t, "a closing '\"'");
			tg_strbuf_free(&sb);
			return;
		}
		if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
			s++;
		tg_strbuf_addch(&sb, *s);
	}
	ps->pos = s + 1;
	t->len = (size_t)(ps->pos - t->start);
	ps->end_col = t->col + (unsigned int)t->len;
	t->text = xstrdup(tg_strbuf_str(&sb));
	tg_strbuf_free(&sb);
}

/* lex - the next token of the statement */
static void
lex(struct parser *ps, struct token *t)
{
	const char *s;

	skip_space(ps);
	s = ps->pos;
	if (*s == '\0' || *s == '\n') {
		tok_set(ps, t, T_EOS, 0);
		return;
	}
	if (s[0] == '-' && s[1] == '>') {
		tok_set(ps, t, T_ARROW, 2);
	} else if (s[0] == '<' && s[1] == '>') {
		tok_set(ps, t, T_WORD, 2);	/* the null sender */
		t->text = xstrdup("<>");
	} else if (*s == '"') {
		lex_string(ps, t);
	} else if (is_word_char((unsigned char)*s)) {
		size_t n = 0;

		while (is_word_char((unsigned char)s[n]) && !(s[n] == '-' && s[n + 1] == '>'))
			n++;
		tok_set(ps, t, T_WORD, n);
		t->text = xstrndup(s, n);
	} else if (*s == '>' || *s == '<') {
		bool eq = s[1] == '=';

		tok_set(ps, t, *s == '>' ? (eq ? T_GE : T_GT) : (eq ? T_LE : T_LT),
		    eq ? 2 : 1);
	} else {
		static const char singles[] = "(),~=";
		static const enum tok_kind kinds[] = { T_LPAREN, T_RPAREN, T_COMMA,
			T_TILDE, T_EQ };
		const char *c = strchr(singles, *s);

		tok_set(ps, t, c ? kinds[c - singles] : T_BAD, 1);
	}
}

static void
tok_free(struct token *t)
{
	free(t->text);
	t->text = NULL;
}

static const struct token *
peek(struct parser *ps)
{
	if (!ps->have_peek) {
		lex(ps, &ps->peeked);
		ps->have_peek = true;
	}
	return &ps->peeked;
}

/* next - the next token; the caller frees it with tok_free */
static void
next(struct parser *ps, struct token *t)
{
	if (ps->have_peek) {
		*t = ps->peeked;
		ps->have_peek = false;
		return;
	}
	lex(ps, t);
}

/* lex_regex - "/body/flags" right after "~" (nothing peeked) */
static bool
lex_regex(struct parser *ps, struct token *t)
{
	struct tg_strbuf sb = { 0 };
	const char *s;

	skip_space(ps);
	if (*ps->pos != '/') {
		lex(ps, t);
		return false;
	}
	tok_set(ps, t, T_REGEX, 1);
	for (s = ps->pos; *s != '/'; s++) {
		if (*s == '\0' || *s == '\n') {
			t->kind = T_BAD;
			t->len = (size_t)(s - t->start);
			ps->pos = s;
			tg_strbuf_free(&sb);
			return false;
		}
		if (*s == '\\' && s[1] == '/')
			s++;
		else if (*s == '\\' && s[1] != '\0' && s[1] != '\n')
			tg_strbuf_addch(&sb, *s++);
		tg_strbuf_addch(&sb, *s);
	}
	for (s++; *s == 'i'; s++)
		t->icase = true;
	ps->pos = s;
	t->len = (size_t)(s - t->start);
	ps->end_col = t->col + (unsigned int)t->len;
	t->text = xstrdup(tg_strbuf_str(&sb));
	tg_strbuf_free(&sb);
	return true;
}

/* ---------------------------------------------------------------- errors */

/* add_line - one error line to errors: the file name (the admin's, any
   bytes) and all, printable, as config.c's report() writes them */
static void
add_line(struct tg_strbuf *errors, const char *line)
{
	for (const char *p = line; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c > 0x7e)
			tg_strbuf_printf(errors, "\\x%02x", c);
		else
			tg_strbuf_addch(errors, (char)c);
	}
	tg_strbuf_addch(errors, '\n');
}

/* file_error - an error about the whole file, a line of errors */
static void __attribute__((format(printf, 2, 3)))
file_error(struct tg_strbuf *errors, const char *fmt, ...)
{
	struct tg_strbuf line = { 0 };
	va_list ap;

	va_start(ap, fmt);
	tg_strbuf_vprintf(&line, fmt, ap);
	va_end(ap);
	add_line(errors, tg_strbuf_str(&line));
	tg_strbuf_free(&line);
}

static void __attribute__((format(printf, 3, 4)))
error_at(struct parser *ps, const struct token *t, const char *fmt, ...)
{
	struct tg_strbuf line = { 0 };
	va_list ap;

	tg_strbuf_printf(&line, "%s:%u:%u: ", ps->file, t->line, t->col);
	va_start(ap, fmt);
	tg_strbuf_vprintf(&line, fmt, ap);
	va_end(ap);
	add_line(ps->errors, tg_strbuf_str(&line));
	tg_strbuf_free(&line);
	ps->nerrors++;
	ps->failed_stmt = true;
}

/* lex_error - "expected X, got "Y"" for token t */
static void
lex_error(struct parser *ps, const struct token *t, const char *expected)
{
	struct tg_strbuf got = { 0 };

	if (ps->failed_stmt)
		return;			/* one error per statement */
	if (t->kind == T_EOS)
		tg_strbuf_append(&got, "end of line");
	else {
		char *raw = xstrndup(t->start, t->len);

		tg_strbuf_addch(&got, '"');
		tg_text_log(&got, raw, 40);
		tg_strbuf_addch(&got, '"');
		free(raw);
	}
	error_at(ps, t, "expected %s, got %s", expected, tg_strbuf_str(&got));
	tg_strbuf_free(&got);
}

/* expect_word - next token is the word w; error otherwise */
static bool
expect_word(struct parser *ps, const char *w, const char *expected)
{
	struct token t;
	bool ok;

	next(ps, &t);
	ok = t.kind == T_WORD && strcmp(t.text, w) == 0;
	if (!ok)
		lex_error(ps, &t, expected);
	tok_free(&t);
	return ok;
}

static bool
peek_word(struct parser *ps, const char *w)
{
	const struct token *t = peek(ps);

	return t->kind == T_WORD && strcmp(t->text, w) == 0;
}

/* ---------------------------------------------------------------- lists */

static struct plist *
find_list(const struct tg_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nlists; i++)
		if (strcmp(p->lists[i]->name, name) == 0)
			return p->lists[i];
	return NULL;
}

static void
list_add(struct plist *l, const char *item)
{
	struct tg_cidr c;
	const char *err;
	char *copy = xstrdup(item);

	tg_strlist_add(&l->items, item);
	if (strchr(copy, '/') == NULL) {
		struct tg_ip ip;

		/* a bare address is a host route */
		if (tg_ip_parse(copy, &ip) == 0) {
			free(copy);
			copy = xasprintf("%s/%u", item, ip.family == AF_INET ? 32u : 128u);
		}
	}
	if (tg_cidr_parse(copy, &c, &err) == 0)
		tg_cidrlist_add(&l->cidrs, &c);
	else if (l->bad_cidr == NULL)
		l->bad_cidr = l->items.v[l->items.n - 1];
	free(copy);
}

/* list_file - "file:PATH" items, one or more per line, # comments */
static void
list_file(struct parser *ps, struct plist *l, const struct token *t, const char *path)
{
	char *full = NULL;
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;

	if (path[0] == '/' || ps->dir[0] == '\0')
		full = xstrdup(path);
	else
		full = xasprintf("%s/%s", ps->dir, path);
	fp = fopen(full, "r");
	if (fp == NULL) {
		error_at(ps, t, "cannot open list file %s: %s", full, strerror(errno));
		free(full);
		return;
	}
	while (getline(&line, &cap, fp) >= 0) {
		char *hash = strchr(line, '#'), *save = NULL;

		if (hash != NULL)
			*hash = '\0';
		for (char *it = strtok_r(line, ", \t\r\n", &save); it != NULL;
		    it = strtok_r(NULL, ", \t\r\n", &save))
			list_add(l, it);
	}
	free(line);
	fclose(fp);
	free(full);
}

static bool
valid_name(const char *s)
{
	if (!isalpha((unsigned char)*s))
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

/* list NAME = item, item | file:PATH */
static void
parse_list(struct parser *ps)
{
	struct tg_policy *p = ps->p;
	struct token name, t;
	struct plist *l;

	next(ps, &name);
	if (name.kind != T_WORD || !valid_name(name.text)) {
		lex_error(ps, &name, "a list name (letters, digits, '-', '_')");
		tok_free(&name);
		return;
	}
	if (find_list(p, name.text) != NULL) {
		error_at(ps, &name, "expected a new list name, got \"%s\" (defined before)",
		    name.text);
		tok_free(&name);
		return;
	}
	next(ps, &t);
	if (t.kind != T_EQ) {
		lex_error(ps, &t, "'='");
		tok_free(&t);
		tok_free(&name);
		return;
	}
	l = xcalloc(1, sizeof(*l));
	l->name = name.text;
	for (;;) {
		next(ps, &t);
		if (t.kind == T_WORD && strncmp(t.text, "file:", 5) == 0 && t.text[5] != '\0')
			list_file(ps, l, &t, t.text + 5);
		else if (t.kind == T_WORD || t.kind == T_STRING)
			list_add(l, t.text);
		else
			lex_error(ps, &t, "a list item");
		tok_free(&t);
		if (peek(ps)->kind != T_COMMA)
			break;
		next(ps, &t);
	}
	p->lists = xrealloc(p->lists, (p->nlists + 1) * sizeof(*p->lists));
	p->lists[p->nlists++] = l;
}

/* ---------------------------------------------------------------- conditions */

static struct node *parse_or(struct parser *ps);

static void
node_free(struct node *n)
{
	if (n == NULL)
		return;
	node_free(n->a);
	node_free(n->b);
	free(n->str);
	if (n->has_re)
		regfree(&n->re);
	free(n);
}

static struct node *
node_new(enum node_kind kind)
{
	struct node *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	return n;
}

#define SPF_OUTCOMES (1u << TG_PASS | 1u << TG_FAIL | 1u << TG_SOFTFAIL \
	| 1u << TG_NEUTRAL | 1u << TG_NONE | 1u << TG_TEMPERROR | 1u << TG_PERMERROR)

/* parse_word_set - "is WORD[,WORD...]": a node of kind whose outcomes
   has bit parse(WORD) set for each, which allowed must have */
static struct node *
parse_word_set(struct parser *ps, enum node_kind kind, const char *method,
    int (*parse)(const char *), unsigned int allowed, const char *expected)
{
	struct node *n;

	if (!expect_word(ps, "is", "\"is\""))
		return NULL;
	n = node_new(kind);
	n->method = method;
	for (;;) {
		struct token t;
		int o;

		next(ps, &t);
		o = t.kind == T_WORD ? parse(t.text) : -1;
		if (o < 0 || !(allowed & 1u << o)) {
			lex_error(ps, &t, expected);
			tok_free(&t);
			node_free(n);
			return NULL;
		}
		n->outcomes |= 1u << o;
		tok_free(&t);
		if (peek(ps)->kind != T_COMMA)
			return n;
		next(ps, &t);
	}
}

/* parse_outcomes - RESULT[,RESULT...] valid for method */
static struct node *
parse_outcomes(struct parser *ps, const char *method)
{
	static const char *const valid[] = {
		/* bit sets of enum tg_outcome per method */
		"spf", "dkim", "dmarc", "spf-helo",
	};
	static const unsigned int allowed[] = {
		SPF_OUTCOMES,
		1u << TG_PASS | 1u << TG_FAIL | 1u << TG_NEUTRAL | 1u << TG_POLICY
		    | 1u << TG_NONE | 1u << TG_TEMPERROR | 1u << TG_PERMERROR,
		1u << TG_PASS | 1u << TG_FAIL | 1u << TG_NONE | 1u << TG_TEMPERROR
		    | 1u << TG_PERMERROR,
		SPF_OUTCOMES,
	};
	static const char *const expected[] = {
		"an SPF result (pass, fail, softfail, neutral, none, temperror, permerror)",
		"a DKIM result (pass, fail, neutral, policy, none, temperror, permerror)",
		"a DMARC result (pass, fail, none, temperror, permerror)",
		"an SPF result (pass, fail, softfail, neutral, none, temperror, permerror)",
	};
	size_t m = 0;

	while (strcmp(valid[m], method) != 0)
		m++;
	return parse_word_set(ps, N_RESULT, valid[m], tg_outcome_parse, allowed[m],
	    expected[m]);
}

/* dmarc_from_parse - the word for an enum tg_dmarc_from; -1 for none */
static int
dmarc_from_parse(const char *s)
{
	static const char *const words[] = {
		[TG_DMARC_FROM_MISSING] = "missing", [TG_DMARC_FROM_MULTIPLE] = "multiple",
		[TG_DMARC_FROM_INVALID] = "invalid",
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (words[i] != NULL && strcmp(words[i], s) == 0)
			return (int)i;
	return -1;
}

/* parse_list_ref - a list name defined above */
static const struct plist *
parse_list_ref(struct parser *ps, const struct token *t)
{
	const struct plist *l = t->kind == T_WORD ? find_list(ps->p, t->text) : NULL;

	if (l == NULL)
		lex_error(ps, t, "the name of a list defined above");
	return l;
}

static struct node *
parse_client(struct parser *ps)
{
	struct token t;
	struct node *n = NULL;
	const char *err;

	if (!expect_word(ps, "in", "\"in\""))
		return NULL;
	next(ps, &t);
	if (t.kind == T_WORD && find_list(ps->p, t.text) != NULL) {
		const struct plist *l = find_list(ps->p, t.text);

		if (l->bad_cidr != NULL) {
			error_at(ps, &t, "expected a list of addresses or CIDRs, got \"%s\" in list %s",
			    l->bad_cidr, l->name);
		} else {
			n = node_new(N_CLIENT);
			n->list = l;
		}
	} else if (t.kind == T_WORD && strpbrk(t.text, ".:") != NULL) {
		char *c = NULL;
		struct tg_ip ip;

		if (strchr(t.text, '/') == NULL && tg_ip_parse(t.text, &ip) == 0)
			c = xasprintf("%s/%u", t.text, ip.family == AF_INET ? 32u : 128u);
		else
			c = xstrdup(t.text);
		n = node_new(N_CLIENT);
		if (tg_cidr_parse(c, &n->cidr, &err) != 0) {
			error_at(ps, &t, "expected an address or CIDR, got \"%s\" (%s)",
			    t.text, err);
			node_free(n);
			n = NULL;
		}
		free(c);
	} else {
		lex_error(ps, &t, "a list name defined above, an address or a CIDR");
	}
	tok_free(&t);
	return n;
}

/* the most parts a regular expression may have once its repetitions are
   copied out: glibc's regcomp() copies a sub-expression for each count
   of {m,n} (and once for +), so /a+++++++++++++++++++++++++/ or
   /((a{99}){99}){99}/ would take gigabytes, on a reload of the running
   daemon too */
#define RE_MAX_PARTS 20000

/* re_mul - a * b, saturating at RE_MAX_PARTS + 1 */
static size_t
re_mul(size_t a, size_t b)
{
	return a != 0 && b > (RE_MAX_PARTS + 1) / a ? RE_MAX_PARTS + 1 : a * b;
}

/* re_add - a + b, saturating at RE_MAX_PARTS + 1 */
static size_t
re_add(size_t a, size_t b)
{
	return a + b > RE_MAX_PARTS + 1 ? RE_MAX_PARTS + 1 : a + b;
}

/* re_copies - how many copies of the previous part the repetition at
   *pp makes (1 for * and ?), and where it ends; 0 when *pp is none */
static size_t
re_copies(const char **pp)
{
	const char *p = *pp;
	unsigned long m, n;
	char *end;

	if (*p == '*' || *p == '?' || *p == '+') {
		*pp = p + 1;
		return *p == '+' ? 2 : 1;
	}
	if (*p != '{' || p[1] < '0' || p[1] > '9')
		return 0;
	m = n = strtoul(p + 1, &end, 10);
	if (*end == ',')
		n = end[1] >= '0' && end[1] <= '9' ? strtoul(end + 1, &end, 10) : (end++, m + 1);
	if (*end != '}')
		return 0;		/* regcomp() says what is wrong */
	*pp = end + 1;
	n = n > m ? n : m;
	return n == 0 ? 1 : n > RE_MAX_PARTS ? RE_MAX_PARTS + 1 : (size_t)n;
}

/* re_parts - the parts regcomp() would build for ERE p, at most
   RE_MAX_PARTS + 1 (a measure, not its exact count); *stacked_r when
   two repetition operators follow each other ("a+?", "a{2}*"): POSIX
   leaves that undefined, and glibc's regcomp() then takes seconds to
   minutes on a dozen of them; *backref_r for a back-reference \1..\9,
   which glibc allows in an ERE and matches in exponential time */
static size_t
re_parts(const char *p, bool *stacked_r, bool *backref_r)
{
	size_t stack[64], depth = 0, cur = 0, last = 0, k;
	bool after_rep = false;

	*stacked_r = *backref_r = false;
	while (*p != '\0') {
		if ((k = re_copies(&p)) != 0) {
			if (after_rep)
				*stacked_r = true;
			after_rep = true;
			cur = re_add(cur, re_mul(last, k - 1));
			last = re_mul(last, k);
			continue;
		}
		after_rep = false;
		if (*p == '(' && depth < sizeof(stack) / sizeof(stack[0])) {
			stack[depth++] = cur;
			cur = last = 0;
			p++;
			continue;
		}
		if (*p == ')' && depth > 0) {
			last = cur > 0 ? cur : 1;
			cur = re_add(stack[--depth], last);
			p++;
			continue;
		}
		if (*p == '[') {	/* a bracket expression is one part */
			p += p[1] == '^' ? 2 : 1;
			if (*p == ']')
				p++;
			while (*p != '\0' && *p != ']')
				p += *p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')
				    && strchr(p + 2, ']') != NULL ? strchr(p + 2, ']') + 1 - p : 1;
			if (*p == ']')
				p++;
		} else {
			if (*p == '\\' && p[1] >= '1' && p[1] <= '9')
				*backref_r = true;
			p += *p == '\\' && p[1] != '\0' ? 2 : 1;
		}
		last = 1;
		cur = re_add(cur, 1);
	}
	while (depth > 0)		/* unbalanced: regcomp() says so */
		cur = re_add(stack[--depth], cur);
	return cur;
}

static bool
compile_regex(struct parser *ps, struct node *n, const struct token *t)
{
	struct tg_strbuf re = { 0 };
	bool stacked, backref;
	int rc;

	tg_text_log(&re, t->text, 80);
	if (re_parts(t->text, &stacked, &backref) > RE_MAX_PARTS) {
		error_at(ps, t, "expected a regular expression of at most %d parts once its "
		    "repetitions are expanded, got /%s/", RE_MAX_PARTS, tg_strbuf_str(&re));
		tg_strbuf_free(&re);
		return false;
	}
	if (stacked || backref) {
		error_at(ps, t, stacked ? "expected one repetition operator at a time (group the "
		    "expression to repeat it again), got /%s/" : "expected a regular expression "
		    "without back-references (\\1 to \\9), got /%s/", tg_strbuf_str(&re));
		tg_strbuf_free(&re);
		return false;
	}
	rc = regcomp(&n->re, t->text, REG_EXTENDED | REG_NOSUB | (t->icase ? REG_ICASE : 0));
	if (rc != 0) {
		char msg[128];

		regerror(rc, &n->re, msg, sizeof(msg));
		error_at(ps, t, "expected a valid regular expression, got /%s/ (%s)",
		    tg_strbuf_str(&re), msg);
		tg_strbuf_free(&re);
		return false;
	}
	tg_strbuf_free(&re);
	n->has_re = true;
	return true;
}

/* parse_field - FIELD is VALUE | in LIST | ~ /re/ */
static struct node *
parse_field(struct parser *ps, enum field f)
{
	struct token op, t;
	struct node *n = node_new(N_FIELD);
	bool is_domain = f == F_SENDER_DOMAIN || f == F_RCPT_DOMAIN || f == F_HELO;

	n->field = f;
	next(ps, &op);
	if (op.kind == T_TILDE) {
		n->op = OP_MATCH;
		if (!lex_regex(ps, &t)) {
			lex_error(ps, &t, "a regular expression /.../");
		} else if (compile_regex(ps, n, &t)) {
			tok_free(&t);
			tok_free(&op);
			return n;
		}
		tok_free(&t);
	} else if (op.kind == T_WORD && strcmp(op.text, "is") == 0) {
		n->op = OP_IS;
		next(ps, &t);
		if (t.kind == T_WORD || t.kind == T_STRING) {
			n->str = t.text;
			/* "<>" and "" both mean the null sender */
			if (strcmp(n->str, "<>") == 0)
				n->str[0] = '\0';
			if (is_domain && n->str[0] != '\0'
			    && n->str[strlen(n->str) - 1] == '.')
				n->str[strlen(n->str) - 1] = '\0';
			tok_free(&op);
			return n;
		}
		lex_error(ps, &t, is_domain ? "a domain name" : "an address");
		tok_free(&t);
	} else if (op.kind == T_WORD && strcmp(op.text, "in") == 0) {
		n->op = OP_IN;
		next(ps, &t);
		n->list = parse_list_ref(ps, &t);
		tok_free(&t);
		if (n->list != NULL) {
			tok_free(&op);
			return n;
		}
	} else {
		lex_error(ps, &op, "\"is\", \"in\" or \"~\"");
	}
	tok_free(&op);
	node_free(n);
	return NULL;
}

static struct node *
parse_size_cond(struct parser *ps)
{
	struct token op, t;
	struct node *n = NULL;

	next(ps, &op);
	if (op.kind < T_GT || op.kind > T_LE) {
		lex_error(ps, &op, "'>', '>=', '<' or '<='");
		tok_free(&op);
		return NULL;
	}
	next(ps, &t);
	n = node_new(N_SIZE);
	n->cmp = op.kind == T_GT ? CMP_GT : op.kind == T_GE ? CMP_GE
	    : op.kind == T_LT ? CMP_LT : CMP_LE;
	if (t.kind != T_WORD || tg_parse_size(t.text, &n->size) != 0) {
		lex_error(ps, &t, "a size in bytes (K, M, G suffixes allowed)");
		node_free(n);
		n = NULL;
	}
	tok_free(&t);
	tok_free(&op);
	return n;
}

static struct node *
parse_header(struct parser *ps)
{
	struct token name, op, t;
	struct node *n = NULL;

	next(ps, &name);
	if ((name.kind != T_WORD && name.kind != T_STRING) || name.text[0] == '\0'
	    || strpbrk(name.text, ": \t") != NULL) {
		lex_error(ps, &name, "a header name");
		tok_free(&name);
		return NULL;
	}
	n = node_new(N_HEADER);
	n->str = name.text;
	next(ps, &op);
	if (op.kind == T_WORD && strcmp(op.text, "exists") == 0) {
		n->op = OP_EXISTS;
	} else if (op.kind == T_TILDE) {
		n->op = OP_MATCH;
		if (!lex_regex(ps, &t)) {
			lex_error(ps, &t, "a regular expression /.../");
			node_free(n);
			n = NULL;
		} else if (!compile_regex(ps, n, &t)) {
			node_free(n);
			n = NULL;
		}
		tok_free(&t);
	} else {
		lex_error(ps, &op, "\"~\" or \"exists\"");
		node_free(n);
		n = NULL;
	}
	tok_free(&op);
	return n;
}

static const struct {
	const char *word;
	enum field field;
} fields[] = {
	{ "helo", F_HELO }, { "sender", F_SENDER }, { "sender-domain", F_SENDER_DOMAIN },
	{ "recipient", F_RCPT }, { "recipient-domain", F_RCPT_DOMAIN },
};

static const struct {
	const char *word;
	enum node_kind kind;
} flags[] = {
	{ "always", N_ALWAYS }, { "authenticated", N_AUTHENTICATED },
	{ "tls", N_TLS }, { "trusted", N_TRUSTED },
};

#define COND_EXPECTED "a condition (spf, spf-helo, dkim, dmarc, dmarc-policy, dmarc-from, " \
	"client, authenticated, tls, trusted, helo, sender, sender-domain, recipient, " \
	"recipient-domain, size, header, always, not, '(')"

static struct node *
parse_atom(struct parser *ps)
{
	struct token t;
	struct node *n = NULL;

	next(ps, &t);
	if (t.kind == T_LPAREN) {
		tok_free(&t);
		n = parse_or(ps);
		if (n == NULL)
			return NULL;
		next(ps, &t);
		if (t.kind != T_RPAREN) {
			lex_error(ps, &t, "')'");
			node_free(n);
			n = NULL;
		}
		tok_free(&t);
		return n;
	}
	if (t.kind != T_WORD) {
		lex_error(ps, &t, COND_EXPECTED);
		tok_free(&t);
		return NULL;
	}
	if (strcmp(t.text, "spf") == 0 || strcmp(t.text, "dkim") == 0
	    || strcmp(t.text, "dmarc") == 0 || strcmp(t.text, "spf-helo") == 0) {
		n = parse_outcomes(ps, t.text);
	} else if (strcmp(t.text, "dmarc-policy") == 0) {
		struct token v;

		if (expect_word(ps, "is", "\"is\"")) {
			next(ps, &v);
			if (v.kind == T_WORD && (strcmp(v.text, "none") == 0
			    || strcmp(v.text, "quarantine") == 0
			    || strcmp(v.text, "reject") == 0)) {
				n = node_new(N_DMARC_POLICY);
				n->str = v.text;
				v.text = NULL;
			} else {
				lex_error(ps, &v, "a DMARC policy (none, quarantine, reject)");
			}
			tok_free(&v);
		}
	} else if (strcmp(t.text, "dmarc-from") == 0) {
		n = parse_word_set(ps, N_DMARC_FROM, NULL, dmarc_from_parse,
		    1u << TG_DMARC_FROM_MISSING | 1u << TG_DMARC_FROM_MULTIPLE
		    | 1u << TG_DMARC_FROM_INVALID,
		    "a From problem (missing, multiple, invalid)");
	} else if (strcmp(t.text, "client") == 0) {
		n = parse_client(ps);
	} else if (strcmp(t.text, "size") == 0) {
		n = parse_size_cond(ps);
	} else if (strcmp(t.text, "header") == 0) {
		n = parse_header(ps);
	} else {
		size_t i;

		for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
			if (strcmp(t.text, flags[i].word) == 0) {
				n = node_new(flags[i].kind);
				break;
			}
		for (i = 0; n == NULL && i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strcmp(t.text, fields[i].word) == 0) {
				n = parse_field(ps, fields[i].field);
				break;
			}
		if (n == NULL && i == sizeof(fields) / sizeof(fields[0]))
			lex_error(ps, &t, COND_EXPECTED);
	}
	tok_free(&t);
	return n;
}

static struct node *
parse_not(struct parser *ps)
{
	struct node *n, *a;

	if (!peek_word(ps, "not"))
		return parse_atom(ps);
	if (++ps->depth > MAX_DEPTH) {
		error_at(ps, peek(ps), "expected at most %d nested conditions", MAX_DEPTH);
		return NULL;
	}
	{
		struct token t;

		next(ps, &t);
		tok_free(&t);
	}
	a = parse_not(ps);
	ps->depth--;
	if (a == NULL)
		return NULL;
	n = node_new(N_NOT);
	n->a = a;
	return n;
}

/* parse_binary - left-associative chain of "word"-joined operands */
static struct node *
parse_binary(struct parser *ps, const char *word, enum node_kind kind,
    struct node *(*operand)(struct parser *))
{
	struct node *n = operand(ps);

	while (n != NULL && peek_word(ps, word)) {
		struct token t;
		struct node *b, *j;

		next(ps, &t);
		tok_free(&t);
		b = operand(ps);
		if (b == NULL) {
			node_free(n);
			return NULL;
		}
		j = node_new(kind);
		j->a = n;
		j->b = b;
		n = j;
	}
	return n;
}

static struct node *
parse_and(struct parser *ps)
{
	return parse_binary(ps, "and", N_AND, parse_not);
}

static struct node *
parse_or(struct parser *ps)
{
	struct node *n;

	if (++ps->depth > MAX_DEPTH) {
		error_at(ps, peek(ps), "expected at most %d nested conditions", MAX_DEPTH);
		return NULL;
	}
	n = parse_binary(ps, "or", N_OR, parse_and);
	ps->depth--;
	return n;
}

/* ---------------------------------------------------------------- statements */

/* parse_number - a finite decimal number */
static bool
parse_number(const char *s, double *d_r)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(d) || fabs(d) > 1e6)
		return false;
	*d_r = d;
	return true;
}

/* parse_reply - [CODE XCODE] ["text"] after reject/tempfail */
static bool
parse_reply(struct parser *ps, char cls, char *code, char *xcode, char **text,
    bool need_code)
{
	const struct token *pk = peek(ps);
	struct token t, x;
	const char *err;

	if (pk->kind == T_WORD && isdigit((unsigned char)pk->text[0])) {
		next(ps, &t);
		next(ps, &x);
		if (x.kind != T_WORD) {
			lex_error(ps, &x, "an enhanced status code like 5.7.1");
		} else if (tg_reply_validate(t.text, x.text, cls, &err) != 0) {
			error_at(ps, &t, "%s, got \"%s %s\"", err, t.text, x.text);
		} else {
			snprintf(code, 4, "%s", t.text);
			snprintf(xcode, 12, "%s", x.text);
		}
		tok_free(&t);
		tok_free(&x);
		if (ps->failed_stmt)
			return false;
	} else if (need_code) {
		lex_error(ps, pk, cls == '5' ? "a reply code like 550" : "a reply code like 451");
		return false;
	}
	if (peek(ps)->kind == T_STRING) {
		next(ps, &t);
		free(*text);
		*text = t.text;
	} else if (need_code) {
		lex_error(ps, peek(ps), "a reply text in double quotes");
		return false;
	}
	return true;
}

/* set NAME VALUE */
static void
parse_set(struct parser *ps)
{
	static const char *const names[] = {
		[TG_TAG] = "tag-threshold", [TG_QUARANTINE] = "quarantine-threshold",
		[TG_REJECT] = "reject-threshold",
	};
	struct tg_policy *p = ps->p;
	struct token name, v;

	next(ps, &name);
	if (name.kind == T_WORD && strcmp(name.text, "reject-reply") == 0) {
		parse_reply(ps, '5', p->reject_reply.code, p->reject_reply.xcode,
		    &p->reject_reply.text, true);
		tok_free(&name);
		return;
	}
	if (name.kind == T_WORD && strcmp(name.text, "tempfail-reply") == 0) {
		parse_reply(ps, '4', p->tempfail_reply.code, p->tempfail_reply.xcode,
		    &p->tempfail_reply.text, true);
		tok_free(&name);
		return;
	}
	for (int a = TG_TAG; a <= TG_REJECT; a++) {
		if (names[a] == NULL || name.kind != T_WORD || strcmp(name.text, names[a]) != 0)
			continue;
		next(ps, &v);
		if (v.kind != T_WORD || !parse_number(v.text, &p->thresholds[a].value))
			lex_error(ps, &v, "a number");
		else
			p->thresholds[a].set = true;
		tok_free(&v);
		tok_free(&name);
		return;
	}
	lex_error(ps, &name, "tag-threshold, quarantine-threshold, reject-threshold, "
	    "reject-reply or tempfail-reply");
	tok_free(&name);
}

/* parse_action - after "->" */
static bool
parse_action(struct parser *ps, struct rule *r)
{
	struct token t;
	int a;

	next(ps, &t);
	a = t.kind == T_WORD ? tg_action_parse(t.text) : -1;
	if (t.kind == T_WORD && strcmp(t.text, "score") == 0) {
		struct token v;

		next(ps, &v);
		if (v.kind != T_WORD || !parse_number(v.text, &r->score))
			lex_error(ps, &v, "a number");
		r->is_score = true;
		tok_free(&v);
	} else if (a < 0) {
		lex_error(ps, &t, "an action (accept, tag, quarantine, reject, tempfail, score)");
	} else {
		r->action = (enum tg_action)a;
		if (a == TG_REJECT || a == TG_TEMPFAIL)
			parse_reply(ps, a == TG_REJECT ? '5' : '4', r->code, r->xcode,
			    &r->text, false);
		else if (a == TG_QUARANTINE && peek(ps)->kind == T_STRING) {
			struct token s;

			next(ps, &s);
			r->text = s.text;
		}
	}
	tok_free(&t);
	if (!ps->failed_stmt && peek_word(ps, "monitor")) {
		next(ps, &t);
		tok_free(&t);
		r->monitor = true;
	}
	return !ps->failed_stmt;
}

static void
rule_free(struct rule *r)
{
	free(r->name);
	node_free(r->cond);
	free(r->text);
}

/* rule NAME: CONDITION -> ACTION [monitor] */
static void
parse_rule(struct parser *ps)
{
	struct tg_policy *p = ps->p;
	struct token name, t;
	struct rule r = { 0 };
	size_t len;

	next(ps, &name);
	len = name.kind == T_WORD ? strlen(name.text) : 0;
	if (len > 1 && name.text[len - 1] == ':') {
		name.text[len - 1] = '\0';
		name.len--;
	} else if (len > 0 && name.text[len - 1] != ':') {
		next(ps, &t);
		if (t.kind != T_WORD || strcmp(t.text, ":") != 0)
			lex_error(ps, &t, "':' after the rule name");
		tok_free(&t);
	}
	if (!ps->failed_stmt && (name.kind != T_WORD || !valid_name(name.text)))
		lex_error(ps, &name, "a rule name (letters, digits, '-', '_')");
	if (ps->failed_stmt) {
		tok_free(&name);
		return;
	}
	for (size_t i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].name, name.text) == 0) {
			error_at(ps, &name, "expected a new rule name, got \"%s\" (used before)",
			    name.text);
			tok_free(&name);
			return;
		}
	r.name = name.text;
	r.cond = parse_or(ps);
	if (r.cond != NULL) {
		next(ps, &t);
		if (t.kind != T_ARROW)
			lex_error(ps, &t, "\"and\", \"or\" or \"->\"");
		tok_free(&t);
	}
	if (!ps->failed_stmt && parse_action(ps, &r)) {
		p->rules = xrealloc(p->rules, (p->nrules + 1) * sizeof(*p->rules));
		p->rules[p->nrules++] = r;
		return;
	}
	rule_free(&r);
}

static void
parse_statement(struct parser *ps)
{
	struct token t;

	ps->failed_stmt = false;
	ps->depth = 0;
	next(ps, &t);
	if (t.kind == T_EOS) {
		/* blank */
	} else if (t.kind == T_WORD && strcmp(t.text, "set") == 0) {
		parse_set(ps);
	} else if (t.kind == T_WORD && strcmp(t.text, "list") == 0) {
		parse_list(ps);
	} else if (t.kind == T_WORD && strcmp(t.text, "rule") == 0) {
		parse_rule(ps);
	} else {
		lex_error(ps, &t, "\"set\", \"list\" or \"rule\"");
	}
	if (t.kind != T_EOS && !ps->failed_stmt) {
		struct token e;

		next(ps, &e);
		if (e.kind != T_EOS)
			lex_error(ps, &e, "end of line");
		tok_free(&e);
	}
	tok_free(&t);
	if (ps->have_peek)
		tok_free(&ps->peeked);
	next_statement(ps);
}

/* ---------------------------------------------------------------- load */

static void
reply_init(struct reply *r, const char *code, const char *xcode, const char *text)
{
	snprintf(r->code, sizeof(r->code), "%s", code);
	snprintf(r->xcode, sizeof(r->xcode), "%s", xcode);
	r->text = xstrdup(text);
}

struct tg_policy *
tg_policy_parse(const char *name, const char *text, struct tg_strbuf *errors)
{
	struct tg_policy *p = xcalloc(1, sizeof(*p));
	struct parser ps = { 0 };
	char *dir = xstrdup(name), *slash = strrchr(dir, '/');

	if (slash == NULL)
		dir[0] = '\0';
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	p->file = xstrdup(name);
	reply_init(&p->reject_reply, "550", "5.7.1", "Message rejected by policy");
	reply_init(&p->tempfail_reply, "451", "4.7.1",
	    "Message deferred by policy, try again later");
	ps.p = p;
	ps.file = name;
	ps.dir = dir;
	ps.src = ps.pos = ps.line_start = text;
	ps.line = ps.end_line = ps.end_col = 1;
	ps.errors = errors;
	/* a NUL inside the file ends parsing early: refuse it outright */
	while (*ps.pos != '\0')
		parse_statement(&ps);
	free(dir);
	if (ps.nerrors > 0) {
		tg_policy_free(&p);
		return NULL;
	}
	return p;
}

struct tg_policy *
tg_policy_load(const char *path, struct tg_strbuf *errors)
{
	FILE *fp = fopen(path, "r");
	struct tg_strbuf sb = { 0 };
	char buf[8192];
	size_t n;
	struct tg_policy *p = NULL;

	if (fp == NULL) {
		file_error(errors, "%s: cannot open policy file: %s", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
		if (memchr(buf, '\0', n) != NULL) {
			file_error(errors, "%s: expected a text file, got a NUL byte", path);
			goto out;
		}
		if (sb.len + n > MAX_POLICY_BYTES) {
			file_error(errors, "%s: expected at most %u bytes, got more",
			    path, MAX_POLICY_BYTES);
			goto out;
		}
		tg_strbuf_appendn(&sb, buf, n);
	}
	if (ferror(fp)) {
		file_error(errors, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	p = tg_policy_parse(path, sb.s ? sb.s : "", errors);
out:
	fclose(fp);
	tg_strbuf_free(&sb);
	return p;
}

void
tg_policy_free(struct tg_policy **pp)
{
	struct tg_policy *p = *pp;

	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nrules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	for (size_t i = 0; i < p->nlists; i++) {
		free(p->lists[i]->name);
		tg_strlist_free(&p->lists[i]->items);
		tg_cidrlist_free(&p->lists[i]->cidrs);
		free(p->lists[i]);
	}
	free(p->lists);
	free(p->reject_reply.text);
	free(p->tempfail_reply.text);
	free(p->file);
	free(p);
	*pp = NULL;
}

unsigned int
tg_policy_nrules(const struct tg_policy *p)
{
	return p ? (unsigned int)p->nrules : 0;
}

/* ---------------------------------------------------------------- evaluation */

/* addr_in_list - "user@dom" exact, "@dom" any address there, else a
   domain pattern (".dom" = subdomains) */
static bool
addr_in_list(const struct plist *l, const char *local, const char *domain)
{
	for (size_t i = 0; i < l->items.n; i++) {
		const char *it = l->items.v[i];
		const char *at = strrchr(it, '@');

		if (at == NULL)
			continue;
		if (at == it) {
			if (strcasecmp(it + 1, domain) == 0)
				return true;
		} else if ((size_t)(at - it) == strlen(local)
		    && strncmp(it, local, (size_t)(at - it)) == 0
		    && strcasecmp(at + 1, domain) == 0) {
			return true;
		}
	}
	return domain[0] != '\0' && tg_strlist_match_domain(&l->items, domain);
}

/* one address as a condition sees it */
struct subject {
	const char *text;		/* "local@domain", "" for <> */
	const char *local, *domain;
};

/* glibc's regexec() is quadratic or worse on some expressions (an admin's
   /([a-z]+ )+spam/ takes half an hour on a 1 MB header of letters): a
   regular expression sees at most the first RE_MAX_VALUE bytes of a
   value, and a header rule at most RE_MAX_FIELDS fields of its name,
   so a hostile message cannot hold a thread for long */
#define RE_MAX_VALUE 8192
#define RE_MAX_FIELDS 50

/* value_matches - n's expression matches (the start of) value */
static bool
value_matches(const struct node *n, const char *value)
{
	regmatch_t m = { 0, 0 };
	size_t len = strnlen(value, RE_MAX_VALUE + 1);

	if (len <= RE_MAX_VALUE)
		return regexec(&n->re, value, 0, NULL, 0) == 0;
	m.rm_eo = RE_MAX_VALUE;
	return regexec(&n->re, value, 1, &m, REG_STARTEND) == 0;
}

/* field_match - an address or domain condition on one subject */
static bool
field_match(const struct node *n, const struct subject *s)
{
	bool domain_field = n->field == F_SENDER_DOMAIN || n->field == F_RCPT_DOMAIN
	    || n->field == F_HELO;
	const char *val = domain_field ? s->domain : s->text;

	switch (n->op) {
	case OP_IS:
		if (domain_field)
			return strcasecmp(val, n->str) == 0;
		/* local part exact, domain any case */
		{
			const char *at = strrchr(n->str, '@');

			if (at == NULL)
				return strcmp(val, n->str) == 0;
			return strlen(s->local) == (size_t)(at - n->str)
			    && strncmp(s->local, n->str, (size_t)(at - n->str)) == 0
			    && strcasecmp(s->domain, at + 1) == 0;
		}
	case OP_IN:
		if (domain_field)
			return val[0] != '\0' && tg_strlist_match_domain(&n->list->items, val);
		return addr_in_list(n->list, s->local, s->domain);
	case OP_MATCH:
		return value_matches(n, val);
	case OP_EXISTS:
		break;
	}
	return false;
}

static void
subject_of(struct tg_arena *a, const struct tg_addr *addr, struct subject *s)
{
	s->local = addr->local;
	s->domain = addr->domain;
	if (addr->null)
		s->text = "";
	else if (addr->domain[0] == '\0')
		s->text = addr->local;
	else
		s->text = tg_arena_printf(a, "%s@%s", addr->local, addr->domain);
}

static bool
eval_field(const struct node *n, const struct tg_msg *msg)
{
	struct subject s = { "", "", "" };

	switch (n->field) {
	case F_HELO:
		s.text = s.domain = msg->conn->helo ? msg->conn->helo : "";
		return field_match(n, &s);
	case F_SENDER:
	case F_SENDER_DOMAIN:
		if (msg->sender_ok)
			subject_of(msg->arena, &msg->sender, &s);
		else if (msg->sender_raw != NULL)
			s.text = msg->sender_raw;
		return field_match(n, &s);
	case F_RCPT:
	case F_RCPT_DOMAIN:
		for (size_t i = 0; i < msg->nrcpts; i++) {
			struct tg_addr addr;
			const char *err;

			if (tg_addr_parse(msg->arena, msg->rcpts[i], &addr, &err) == 0)
				subject_of(msg->arena, &addr, &s);
			else
				s = (struct subject){ msg->rcpts[i], "", "" };
			if (field_match(n, &s))
				return true;
		}
		return false;
	}
	return false;
}

static bool
eval(const struct node *n, const struct tg_msg *msg)
{
	const struct tg_conn *conn = msg->conn;

	switch (n->kind) {
	case N_AND:
		return eval(n->a, msg) && eval(n->b, msg);
	case N_OR:
		return eval(n->a, msg) || eval(n->b, msg);
	case N_NOT:
		return !eval(n->a, msg);
	case N_ALWAYS:
		return true;
	case N_RESULT: {
		bool any = false;

		for (size_t i = 0; i < msg->nresults; i++) {
			if (strcmp(msg->results[i].method, n->method) != 0)
				continue;
			any = true;
			if (n->outcomes & 1u << msg->results[i].outcome)
				return true;
		}
		return !any && (n->outcomes & 1u << TG_NONE);
	}
	case N_DMARC_POLICY: {
		const struct tg_result *r = tg_msg_result(msg, "dmarc");

		return r != NULL && r->policy != NULL && strcasecmp(r->policy, n->str) == 0;
	}
	case N_DMARC_FROM:
		return n->outcomes & 1u << tg_dmarc_from_problem(tg_msg_result(msg, "dmarc"));
	case N_CLIENT:
		if (!conn->addr_known)
			return false;
		return n->list ? tg_cidrlist_contains(&n->list->cidrs, &conn->ip)
		    : tg_cidr_contains(&n->cidr, &conn->ip);
	case N_AUTHENTICATED:
		return conn->auth_user != NULL;
	case N_TLS:
		return conn->tls_version != NULL;
	case N_TRUSTED:
		return conn->trusted;
	case N_FIELD:
		return eval_field(n, msg);
	case N_SIZE:
		switch (n->cmp) {
		case CMP_GT: return msg->size > n->size;
		case CMP_GE: return msg->size >= n->size;
		case CMP_LT: return msg->size < n->size;
		case CMP_LE: return msg->size <= n->size;
		}
		return false;
	case N_HEADER: {
		size_t seen = 0;

		for (size_t i = 0; i < msg->nheaders && seen < RE_MAX_FIELDS; i++) {
			if (strcasecmp(msg->headers[i].name, n->str) != 0)
				continue;
			if (n->op == OP_EXISTS || value_matches(n, msg->headers[i].value))
				return true;
			seen++;
		}
		return false;
	}
	}
	return false;
}

/* decide_rule - a matching stopping rule sets the verdict */
static void
decide_rule(const struct tg_policy *p, const struct rule *r, struct tg_verdict *v)
{
	const struct reply *def = r->action == TG_REJECT ? &p->reject_reply
	    : r->action == TG_TEMPFAIL ? &p->tempfail_reply : NULL;

	if (def == NULL)
		tg_verdict_set(v, r->action, NULL, NULL, r->text, r->name);
	else
		tg_verdict_set(v, r->action, r->code[0] ? r->code : def->code,
		    r->code[0] ? r->xcode : def->xcode, r->text ? r->text : def->text,
		    r->name);
}

void
tg_policy_decide(const struct tg_policy *p, const struct tg_msg *msg,
    struct tg_verdict *v)
{
	static const char *const tnames[] = {
		[TG_TAG] = "tag-threshold", [TG_QUARANTINE] = "quarantine-threshold",
		[TG_REJECT] = "reject-threshold",
	};
	static const enum tg_action order[] = { TG_REJECT, TG_QUARANTINE, TG_TAG };

	for (size_t i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];

		if (!eval(r->cond, msg))
			continue;
		if (r->monitor) {
			if (r->is_score)
				tg_verdict_reason(msg->arena, v, "monitor: rule %s would score %+.1f",
				    r->name, r->score);
			else
				tg_verdict_reason(msg->arena, v, "monitor: rule %s would %s",
				    r->name, tg_action_name(r->action));
			continue;
		}
		if (r->is_score) {
			v->score += r->score;
			tg_verdict_reason(msg->arena, v, "%s(%+.1f)", r->name, r->score);
			continue;
		}
		decide_rule(p, r, v);
		tg_verdict_reason(msg->arena, v, "rule %s", r->name);
		return;
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		enum tg_action a = order[i];
		const struct threshold *t = &p->thresholds[a];
		const struct reply *def = a == TG_REJECT ? &p->reject_reply : NULL;

		if (!t->set || v->score < t->value)
			continue;
		tg_verdict_set(v, a, def ? def->code : NULL, def ? def->xcode : NULL,
		    def ? def->text : NULL, tnames[a]);
		tg_verdict_reason(msg->arena, v, "score %.1f >= %s %.1f", v->score,
		    tnames[a], t->value);
		return;
	}
	tg_verdict_set(v, TG_ACCEPT, NULL, NULL, NULL, NULL);
}
