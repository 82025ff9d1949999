/*
 * dns - the shared libunbound resolver (see dns.h).
 *
 * Locking: d->lock guards the pending queries' state. libunbound calls
 * our callback from ub_process() without its own locks held, so the
 * callback may take d->lock; a waiter that gives up holds d->lock while
 * it cancels, and a query whose answer is already on its way is marked
 * abandoned so the callback frees it instead.
 *
 * The answer cache: libunbound caches too, but every query, answered
 * from its cache or not, crosses to its worker thread and back through
 * pipes and our dispatcher: some 25 system calls (fcntl, pipe reads and
 * writes, futex, epoll) and four thread switches, half of what tollgate
 * spent per message (tests/bench, strace -c). A mail server asks for
 * the same SPF, DKIM key and DMARC records over and over, so answers
 * (records, NXDOMAIN, NODATA; never failures or timeouts) are kept for
 * their TTL, at most CACHE_MAX_TTL, in a table of fixed size under
 * d->cache_lock: a new answer takes an empty or expired way of its
 * bucket, else the one expiring first. Callers get copies.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <unbound.h>

#include "dns.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define CACHE_BUCKETS 256
#define CACHE_WAYS 4
#define CACHE_MAX_TTL 3600

struct cache_entry {
	char *name;			/* as asked; compared without case */
	int type;
	time_t expires;			/* CLOCK_MONOTONIC seconds */
	struct ub_result *res;		/* NULL: empty */
};

struct tg_dns {
	struct ub_ctx *ctx;
	pthread_mutex_t lock;
	pthread_mutex_t cache_lock;
	struct cache_entry *cache;	/* CACHE_BUCKETS * CACHE_WAYS */
	pthread_condattr_t condattr;	/* deadlines are CLOCK_MONOTONIC */
	pthread_t thread;
	int wake[2];			/* closing wake[1] stops the dispatcher */
	bool running;
};

struct ub_result *(*tg_dns_hook)(const char *name, int type);

struct pending {
	struct tg_dns *d;
	pthread_cond_t cond;
	bool done, abandoned;
	int err;
	struct ub_result *res;
};

size_t
tg_dns_labels(const char *name)
{
	size_t len = strlen(name), label = 0, labels = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			if (label == 0 || label > 63)
				return 0;
			labels++;
			label = 0;
		} else {
			label++;
		}
	}
	return labels;
}

void
tg_deadline(struct timespec *ts, unsigned int ms)
{
	tg_deadline_on(CLOCK_MONOTONIC, ts, ms);
}

void
tg_deadline_on(clockid_t clock, struct timespec *ts, unsigned int ms)
{
	clock_gettime(clock, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* dispatcher - read answers as they come and run the callbacks */
static void *
dispatcher(void *arg)
{
	struct tg_dns *d = arg;
	struct pollfd pfd[2] = {
		{ .fd = ub_fd(d->ctx), .events = POLLIN },
		{ .fd = d->wake[0], .events = POLLIN },
	};

	for (;;) {
		int n = poll(pfd, 2, -1);

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && pfd[1].revents != 0)
			break;
		if (n > 0 && pfd[0].revents != 0 && ub_process(d->ctx) != 0)
			break;
	}
	return NULL;
}

static void
pending_free(struct pending *p)
{
	if (p->res != NULL)
		ub_resolve_free(p->res);
	pthread_cond_destroy(&p->cond);
	free(p);
}

static void
callback(void *mydata, int err, struct ub_result *res)
{
	struct pending *p = mydata;
	struct tg_dns *d = p->d;

	pthread_mutex_lock(&d->lock);
	p->err = err;
	p->res = res;
	if (p->abandoned) {
		pthread_mutex_unlock(&d->lock);
		pending_free(p);
		return;
	}
	p->done = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&d->lock);
}

/* set - one libunbound option; false with a message on error */
static bool
set(struct tg_dns *d, const char *opt, const char *val, char *errbuf, size_t errlen)
{
	int rc = ub_ctx_set_option(d->ctx, opt, val);

	if (rc != 0)
		snprintf(errbuf, errlen, "resolver option %s %s: %s", opt, val, ub_strerror(rc));
	return rc == 0;
}

/* valid_server - "ADDR" or "ADDR@PORT" with a numeric address */
static bool
valid_server(const char *ns)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char buf[sizeof(struct in6_addr)];
	const char *at = strchr(ns, '@');
	size_t len = at ? (size_t)(at - ns) : strlen(ns);

	if (len == 0 || len >= sizeof(addr))
		return false;
	memcpy(addr, ns, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
		return false;
	if (at != NULL) {
		char *end;
		unsigned long port = strtoul(at + 1, &end, 10);

		if (at[1] < '0' || at[1] > '9' || *end != '\0' || port == 0 || port > 65535)
			return false;
	}
	return true;
}

/* add_nameservers - "ADDR[@PORT], ..." as forwarders */
static bool
add_nameservers(struct tg_dns *d, const char *list, char *errbuf, size_t errlen)
{
	char *copy = xstrdup(list), *save = NULL;
	bool ok = true;
	int n = 0;

	for (char *ns = strtok_r(copy, ", \t", &save); ns != NULL && ok;
	    ns = strtok_r(NULL, ", \t", &save)) {
		int rc = valid_server(ns) ? ub_ctx_set_fwd(d->ctx, ns) : UB_SYNTAX;

		if (rc != 0) {
			snprintf(errbuf, errlen, "expected a nameserver ADDR[@PORT], got \"%.60s\" (%s)",
			    ns, ub_strerror(rc));
			ok = false;
		}
		n++;
	}
	if (ok && n == 0) {
		snprintf(errbuf, errlen, "expected at least one nameserver");
		ok = false;
	}
	free(copy);
	return ok;
}

struct tg_dns *
tg_dns_new(const struct tg_dns_opts *opts, char *errbuf, size_t errlen)
{
	struct tg_dns *d = xcalloc(1, sizeof(*d));
	int rc;

	d->wake[0] = d->wake[1] = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->cache_lock, NULL);
	d->cache = xcalloc(CACHE_BUCKETS * CACHE_WAYS, sizeof(*d->cache));
	pthread_condattr_init(&d->condattr);
	pthread_condattr_setclock(&d->condattr, CLOCK_MONOTONIC);
	d->ctx = ub_ctx_create();
	if (d->ctx == NULL) {
		snprintf(errbuf, errlen, "cannot create the resolver");
		goto fail;
	}
	/* a forwarder on loopback (a local cache, a test server) is normal
	   for a mail server; validation only when a trust anchor is given */
	if (!set(d, "do-not-query-localhost:", "no", errbuf, errlen)
	    || !set(d, "module-config:", opts->trust_anchor ? "validator iterator" : "iterator",
	    errbuf, errlen))
		goto fail;
	if (opts->trust_anchor != NULL && (rc = ub_ctx_add_ta_file(d->ctx, opts->trust_anchor)) != 0) {
		snprintf(errbuf, errlen, "DNSSEC trust anchor %s: %s", opts->trust_anchor,
		    ub_strerror(rc));
		goto fail;
	}
	if (opts->nameservers != NULL) {
		if (!add_nameservers(d, opts->nameservers, errbuf, errlen))
			goto fail;
	} else if ((rc = ub_ctx_resolvconf(d->ctx, opts->resolv_conf)) != 0) {
		snprintf(errbuf, errlen, "cannot read %s: %s",
		    opts->resolv_conf ? opts->resolv_conf : "/etc/resolv.conf", ub_strerror(rc));
		goto fail;
	}
	if ((rc = ub_ctx_async(d->ctx, 1)) != 0) {
		snprintf(errbuf, errlen, "resolver threads: %s", ub_strerror(rc));
		goto fail;
	}
	if (pipe(d->wake) != 0) {
		snprintf(errbuf, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	/* the dispatcher starts with the first query: after daemon() */
	return d;
fail:
	tg_dns_free(&d);
	return NULL;
}

void
tg_dns_free(struct tg_dns **dp)
{
	struct tg_dns *d = *dp;

	if (d == NULL)
		return;
	if (d->running) {
		close(d->wake[1]);
		d->wake[1] = -1;
		pthread_join(d->thread, NULL);
	}
	if (d->wake[0] >= 0)
		close(d->wake[0]);
	if (d->wake[1] >= 0)
		close(d->wake[1]);
	if (d->ctx != NULL)
		ub_ctx_delete(d->ctx);
	for (size_t i = 0; i < CACHE_BUCKETS * CACHE_WAYS; i++) {
		free(d->cache[i].name);
		ub_resolve_free(d->cache[i].res);
	}
	free(d->cache);
	pthread_mutex_destroy(&d->cache_lock);
	pthread_mutex_destroy(&d->lock);
	pthread_condattr_destroy(&d->condattr);
	free(d);
	*dp = NULL;
}

static void
classify(struct tg_dns_answer *ans, int err, struct ub_result *res)
{
	ans->res = res;
	if (err != 0 || res == NULL) {
		ans->status = TG_DNS_ERROR;
		return;
	}
	ans->secure = res->secure != 0;
	if (res->bogus)
		ans->status = TG_DNS_SERVFAIL;
	else if (res->rcode == 3 || res->nxdomain)	/* NXDOMAIN */
		ans->status = TG_DNS_NXDOMAIN;
	else if (res->rcode != 0)
		ans->status = TG_DNS_SERVFAIL;
	else if (!res->havedata)
		ans->status = TG_DNS_NODATA;
	else {
		ans->status = TG_DNS_OK;
		ans->rdata = res->data;
		ans->len = res->len;
		while (res->data[ans->n] != NULL)
			ans->n++;
	}
}

/* result_dup - a deep copy of r allocated as libunbound allocates, so
   that ub_resolve_free() frees it */
static struct ub_result *
result_dup(const struct ub_result *r)
{
	struct ub_result *c = xmalloc(sizeof(*c));
	size_t n = 0;

	*c = *r;
	c->qname = r->qname != NULL ? xstrdup(r->qname) : NULL;
	c->canonname = r->canonname == NULL ? NULL
	    : r->canonname == r->qname ? c->qname : xstrdup(r->canonname);
	while (r->data != NULL && r->data[n] != NULL)
		n++;
	c->data = xcalloc(n + 1, sizeof(*c->data));
	c->len = xcalloc(n + 1, sizeof(*c->len));
	for (size_t i = 0; i < n; i++) {
		c->data[i] = xmalloc(r->len[i] > 0 ? (size_t)r->len[i] : 1);
		memcpy(c->data[i], r->data[i], (size_t)r->len[i]);
		c->len[i] = r->len[i];
	}
	c->answer_packet = NULL;
	if (r->answer_packet != NULL && r->answer_len > 0) {
		c->answer_packet = xmalloc((size_t)r->answer_len);
		memcpy(c->answer_packet, r->answer_packet, (size_t)r->answer_len);
	}
	c->why_bogus = r->why_bogus != NULL ? xstrdup(r->why_bogus) : NULL;
	return c;
}

static time_t
mono_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* bucket - the first way of name/type's bucket (FNV-1a, any case) */
static struct cache_entry *
bucket(struct tg_dns *d, const char *name, int type)
{
	uint32_t h = 2166136261u ^ (uint32_t)type;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint32_t)(unsigned char)tolower((unsigned char)*p)) * 16777619u;
	return &d->cache[(h % CACHE_BUCKETS) * CACHE_WAYS];
}

/* cache_get - a copy of a live cached answer, or NULL */
static struct ub_result *
cache_get(struct tg_dns *d, const char *name, int type)
{
	struct cache_entry *b = bucket(d, name, type);
	struct ub_result *res = NULL;
	time_t now = mono_sec();

	pthread_mutex_lock(&d->cache_lock);
	for (int w = 0; w < CACHE_WAYS; w++)
		if (b[w].res != NULL && b[w].type == type && b[w].expires > now
		    && strcasecmp(b[w].name, name) == 0) {
			res = result_dup(b[w].res);
			break;
		}
	pthread_mutex_unlock(&d->cache_lock);
	return res;
}

/* cache_put - keep a copy of a definite answer for its TTL */
static void
cache_put(struct tg_dns *d, const char *name, int type, int err, const struct ub_result *res)
{
	struct cache_entry *b, *e = NULL;
	time_t now = mono_sec();

	if (err != 0 || res == NULL || res->bogus || (res->rcode != 0 && res->rcode != 3)
	    || res->ttl <= 0)
		return;
	b = bucket(d, name, type);
	pthread_mutex_lock(&d->cache_lock);
	for (int w = 0; w < CACHE_WAYS && e == NULL; w++)
		if (b[w].res == NULL || b[w].expires <= now
		    || (b[w].type == type && strcasecmp(b[w].name, name) == 0))
			e = &b[w];
	if (e == NULL) {
		e = &b[0];
		for (int w = 1; w < CACHE_WAYS; w++)
			if (b[w].expires < e->expires)
				e = &b[w];
	}
	free(e->name);
	ub_resolve_free(e->res);
	e->name = xstrdup(name);
	e->type = type;
	e->expires = now + (res->ttl < CACHE_MAX_TTL ? res->ttl : CACHE_MAX_TTL);
	e->res = result_dup(res);
	pthread_mutex_unlock(&d->cache_lock);
}

void
tg_dns_query(struct tg_dns *d, const char *name, int type,
    const struct timespec *deadline, struct tg_dns_answer *ans)
{
	struct pending *p;
	int id = 0, rc;

	memset(ans, 0, sizeof(*ans));
	if (tg_dns_hook != NULL) {	/* a test answers from its table */
		struct ub_result *res = tg_dns_hook(name, type);

		if (res == NULL)
			ans->status = TG_DNS_TIMEOUT;
		else
			classify(ans, 0, res);
		return;
	}
	if ((ans->res = cache_get(d, name, type)) != NULL) {
		classify(ans, 0, ans->res);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->d = d;
	pthread_cond_init(&p->cond, &d->condattr);
	pthread_mutex_lock(&d->lock);
	if (!d->running && pthread_create(&d->thread, NULL, dispatcher, d) == 0)
		d->running = true;
	rc = !d->running ? -1 : ub_resolve_async(d->ctx, name, type, 1 /* IN */, p, callback, &id);
	if (rc != 0) {
		pthread_mutex_unlock(&d->lock);
		pending_free(p);
		ans->status = TG_DNS_ERROR;
		return;
	}
	while (!p->done) {
		if (pthread_cond_timedwait(&p->cond, &d->lock, deadline) == ETIMEDOUT
		    && !p->done) {
			if (ub_cancel(d->ctx, id) == 0) {
				pthread_mutex_unlock(&d->lock);
				pending_free(p);
			} else {
				/* the answer is on its way: the callback frees it */
				p->abandoned = true;
				pthread_mutex_unlock(&d->lock);
			}
			ans->status = TG_DNS_TIMEOUT;
			return;
		}
	}
	pthread_mutex_unlock(&d->lock);
	cache_put(d, name, type, p->err, p->res);
	classify(ans, p->err, p->res);
	p->res = NULL;			/* now the answer's */
	pending_free(p);
}

void
tg_dns_answer_free(struct tg_dns_answer *ans)
{
	if (ans->res != NULL)
		ub_resolve_free(ans->res);
	memset(ans, 0, sizeof(*ans));
}

int
tg_dns_txt(const struct tg_dns_answer *ans, size_t i, struct tg_strbuf *out)
{
	const unsigned char *p, *end;

	if (i >= ans->n)
		return -1;
	p = (const unsigned char *)ans->rdata[i];
	end = p + ans->len[i];
	while (p < end) {
		size_t n = *p++;

		if (n > (size_t)(end - p))
			return -1;
		tg_strbuf_appendn(out, (const char *)p, n);
		p += n;
	}
	return 0;
}

const char *
tg_dns_status_name(enum tg_dns_status s)
{
	static const char *const names[] = {
		[TG_DNS_OK] = "ok", [TG_DNS_NXDOMAIN] = "nxdomain", [TG_DNS_NODATA] = "nodata",
		[TG_DNS_SERVFAIL] = "servfail", [TG_DNS_TIMEOUT] = "timeout",
		[TG_DNS_ERROR] = "error",
	};

	return names[s];
}
