/*
 * dns - the shared libunbound resolver (see dns.h).
 *
 * Locking: d->lock guards the pending queries' state. libunbound calls
 * our callback from ub_process() without its own locks held, so the
 * callback may take d->lock; a waiter that gives up holds d->lock while
 * it cancels, and a query whose answer is already on its way is marked
 * abandoned so the callback frees it instead.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <unbound.h>

#include "dns.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

struct tg_dns {
	struct ub_ctx *ctx;
	pthread_mutex_t lock;
	pthread_condattr_t condattr;	/* deadlines are CLOCK_MONOTONIC */
	pthread_t thread;
	int wake[2];			/* closing wake[1] stops the dispatcher */
	bool running;
};

struct pending {
	struct tg_dns *d;
	pthread_cond_t cond;
	bool done, abandoned;
	int err;
	struct ub_result *res;
};

void
tg_deadline(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
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

void
tg_dns_query(struct tg_dns *d, const char *name, int type,
    const struct timespec *deadline, struct tg_dns_answer *ans)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	int id = 0, rc;

	memset(ans, 0, sizeof(*ans));
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
