/*
 * postfix - running Postfix's queue tools and reading postqueue -j
 * (see postfix.h). The JSON reader knows just the fields of a queue
 * entry that tollgatectl shows; anything else is skipped.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/postfix.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define DEFAULT_CONFIG_DIR "/etc/postfix"

bool
tg_pf_valid_qid(const char *s)
{
	if (s[0] == '\0' || strlen(s) > 64 || strcmp(s, "ALL") == 0)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s))
			return false;
	return true;
}

/* ---------------------------------------------------------------- JSON */

/* the reader's position in one line */
struct jr {
	const char *p;
	int depth;
};

static void
ws(struct jr *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n')
		r->p++;
}

/* jstring - a JSON string into out (non-ASCII escapes become '?') */
static int
jstring(struct jr *r, struct tg_strbuf *out)
{
	if (*r->p != '"')
		return -1;
	for (r->p++; *r->p != '"'; r->p++) {
		char c = *r->p;

		if (c == '\0')
			return -1;
		if (c == '\\') {
			c = *++r->p;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				unsigned int u = 0;

				for (int i = 0; i < 4; i++) {
					if (!isxdigit((unsigned char)r->p[1]))
						return -1;
					r->p++;
					u = u * 16 + (unsigned int)(isdigit((unsigned char)*r->p)
					    ? *r->p - '0' : tolower((unsigned char)*r->p) - 'a' + 10);
				}
				c = u < 0x80 ? (char)u : '?';
				break;
			}
			case '\0':
				return -1;
			default:
				break;	/* \" \\ \/ */
			}
		}
		tg_strbuf_addch(out, c);
	}
	r->p++;
	return 0;
}

static int jvalue(struct jr *r, const char *key, bool in_rcpts, struct tg_pf_entry *e);

/* set_field - a string value the entry keeps */
static void
set_field(struct tg_pf_entry *e, const char *key, bool in_rcpts, const char *v)
{
	if (in_rcpts && strcmp(key, "address") == 0) {
		e->rcpts = xrealloc(e->rcpts, (e->nrcpts + 1) * sizeof(*e->rcpts));
		e->rcpts[e->nrcpts++] = xstrdup(v);
	} else if (!in_rcpts && strcmp(key, "queue_name") == 0 && e->queue == NULL) {
		e->queue = xstrdup(v);
	} else if (!in_rcpts && strcmp(key, "queue_id") == 0 && e->qid == NULL) {
		e->qid = xstrdup(v);
	} else if (!in_rcpts && strcmp(key, "sender") == 0 && e->sender == NULL) {
		e->sender = xstrdup(v);
	}
}

/* jobject - members of an object; in_rcpts: one of "recipients" */
static int
jobject(struct jr *r, bool in_rcpts, struct tg_pf_entry *e)
{
	struct tg_strbuf key = { 0 };
	int rc = -1;

	r->p++;
	ws(r);
	if (*r->p == '}') {
		r->p++;
		return 0;
	}
	for (;;) {
		tg_strbuf_truncate(&key, 0);
		ws(r);
		if (jstring(r, &key) < 0)
			break;
		ws(r);
		if (*r->p++ != ':')
			break;
		if (jvalue(r, tg_strbuf_str(&key), in_rcpts, e) < 0)
			break;
		ws(r);
		if (*r->p == ',') {
			r->p++;
			continue;
		}
		if (*r->p == '}') {
			r->p++;
			rc = 0;
		}
		break;
	}
	tg_strbuf_free(&key);
	return rc;
}

/* jvalue - any value; the ones the entry wants are kept */
static int
jvalue(struct jr *r, const char *key, bool in_rcpts, struct tg_pf_entry *e)
{
	ws(r);
	if (++r->depth > 16)
		return -1;
	if (*r->p == '{') {
		if (jobject(r, in_rcpts || strcmp(key, "recipients") == 0, e) < 0)
			return -1;
	} else if (*r->p == '[') {
		r->p++;
		ws(r);
		while (*r->p != ']') {
			if (jvalue(r, key, in_rcpts, e) < 0)
				return -1;
			ws(r);
			if (*r->p == ',')
				r->p++;
			else if (*r->p != ']')
				return -1;
		}
		r->p++;
	} else if (*r->p == '"') {
		struct tg_strbuf v = { 0 };

		if (jstring(r, &v) < 0) {
			tg_strbuf_free(&v);
			return -1;
		}
		set_field(e, key, in_rcpts, tg_strbuf_str(&v));
		tg_strbuf_free(&v);
	} else if (*r->p == '-' || isdigit((unsigned char)*r->p)) {
		char *end;
		double d = strtod(r->p, &end);

		if (!in_rcpts && strcmp(key, "arrival_time") == 0)
			e->arrival = (time_t)d;
		else if (!in_rcpts && strcmp(key, "message_size") == 0)
			e->size = (uint64_t)d;
		r->p = end;
	} else if (strncmp(r->p, "true", 4) == 0 || strncmp(r->p, "null", 4) == 0) {
		r->p += 4;
	} else if (strncmp(r->p, "false", 5) == 0) {
		r->p += 5;
	} else {
		return -1;
	}
	r->depth--;
	return 0;
}

int
tg_pf_parse_line(const char *line, struct tg_pf_entry *e)
{
	struct jr r = { line, 0 };

	memset(e, 0, sizeof(*e));
	ws(&r);
	if (*r.p != '{' || jobject(&r, false, e) < 0 || e->qid == NULL || e->queue == NULL) {
		tg_pf_entry_free(e);
		return -1;
	}
	if (e->sender == NULL)
		e->sender = xstrdup("");
	return 0;
}

void
tg_pf_entry_free(struct tg_pf_entry *e)
{
	free(e->qid);
	free(e->queue);
	free(e->sender);
	for (size_t i = 0; i < e->nrcpts; i++)
		free(e->rcpts[i]);
	free(e->rcpts);
	memset(e, 0, sizeof(*e));
}

/* ---------------------------------------------------------------- commands */

/* find_prog - prog in PATH, else in /usr/sbin (where Debian puts it,
   and which sudo's PATH may lack) */
static char *
find_prog(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy = xstrdup(path ? path : ""), *save = NULL, *found = NULL;

	for (char *d = strtok_r(copy, ":", &save); d != NULL && found == NULL;
	    d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/%s", d, prog);

		if (access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	if (found == NULL) {
		found = xasprintf("/usr/sbin/%s", prog);
		if (access(found, X_OK) != 0) {
			free(found);
			found = NULL;
		}
	}
	return found;
}

int
tg_pf_run(const char *config_dir, const char *prog, const char *const *args,
    struct tg_strbuf *out)
{
	const char *argv[32];
	char *path = find_prog(prog);
	int n = 0, fds[2] = { -1, -1 }, status;
	pid_t pid;

	if (path == NULL) {
		if (out != NULL)
			tg_strbuf_printf(out, "%s: command not found (is Postfix installed?)", prog);
		else
			fprintf(stderr, "tollgatectl: %s: command not found (is Postfix "
			    "installed?)\n", prog);
		return -1;
	}
	argv[n++] = prog;
	if (config_dir != NULL && strcmp(config_dir, DEFAULT_CONFIG_DIR) != 0) {
		argv[n++] = "-c";
		argv[n++] = config_dir;
	}
	for (size_t i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	if (out != NULL && pipe(fds) != 0) {
		tg_strbuf_printf(out, "pipe: %s", strerror(errno));
		free(path);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		if (out != NULL) {
			dup2(fds[1], 1);
			dup2(fds[1], 2);
			close(fds[0]);
			close(fds[1]);
		}
		execv(path, (char *const *)argv);
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		_exit(127);
	}
	free(path);
	if (out != NULL) {
		char buf[4096];
		ssize_t r;

		close(fds[1]);
		while ((r = read(fds[0], buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
			if (r > 0)
				tg_strbuf_appendn(out, buf, (size_t)r);
		close(fds[0]);
	}
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
tg_pf_list(const char *config_dir, struct tg_pf_queue *q, struct tg_strbuf *err)
{
	static const char *const args[] = { "-j", NULL };
	struct tg_strbuf out = { 0 };
	char *save = NULL;
	int rc;

	memset(q, 0, sizeof(*q));
	rc = tg_pf_run(config_dir, "postqueue", args, &out);
	if (rc != 0) {
		/* postqueue says why (e.g. "mail system is down") */
		const char *text = tg_strbuf_str(&out);
		size_t len = strcspn(text, "\n");

		tg_strbuf_printf(err, "postqueue -j failed: %.*s", (int)(len > 200 ? 200 : len),
		    len ? text : "no output");
		tg_strbuf_free(&out);
		return -1;
	}
	for (char *line = out.s ? strtok_r(out.s, "\n", &save) : NULL; line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		struct tg_pf_entry e;

		if (tg_pf_parse_line(line, &e) < 0)
			continue;
		q->v = xrealloc(q->v, (q->n + 1) * sizeof(*q->v));
		q->v[q->n++] = e;
	}
	tg_strbuf_free(&out);
	return 0;
}

const struct tg_pf_entry *
tg_pf_find(const struct tg_pf_queue *q, const char *qid)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->v[i].qid, qid) == 0)
			return &q->v[i];
	return NULL;
}

void
tg_pf_queue_free(struct tg_pf_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		tg_pf_entry_free(&q->v[i]);
	free(q->v);
	memset(q, 0, sizeof(*q));
}
