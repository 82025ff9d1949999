/*
 * loadgen - a load client that speaks the milter protocol (version 6)
 * straight to a filter's socket, as Postfix's milter8 client does, and
 * measures it: messages per second, per-message latency (p50, p90,
 * p99, max), and, for the filter processes named with -p, CPU seconds
 * per 1000 messages, peak RSS and open file descriptors from /proc.
 *
 *   loadgen -s SOCKET -d CORPUS -n MESSAGES [-c CONCURRENCY] [-k PER_CONN]
 *           [-w WARMUP] [-p PID[,PID...]] [-l LABEL] [-j JSONFILE] [-DFLqS]
 *           [-t SECONDS] [-T SECONDS]
 *
 * SOCKET is unix:/path or inet:PORT@ADDR. CORPUS is a directory with a
 * file "manifest", one message per line:
 *     FILE SENDER RCPT CLIENT-IP HELO
 * (FILE relative to CORPUS, an RFC 5322 message with LF or CRLF line
 * ends). Message i of the run is manifest line i mod lines, so every
 * run sends the same mix. CONCURRENCY connections (default 1) run at
 * once, each carrying PER_CONN messages (default 1: one message per
 * SMTP session, as smtp-source and most inbound mail do) before it
 * quits and a new one starts. WARMUP messages (default 2 per
 * connection) go first and are not measured. -D sets TCP_NODELAY on
 * inet: connections (Postfix does not). -q: no human summary. -T: how
 * long a reply may take (default 20 s). -t: start no message after
 * that many seconds; the figures are those of the messages sent. After 20 failed messages the
 * run stops; the rest count as errors and the JSON says "aborted".
 * Writes go out as Postfix's do (macros with their event, one write
 * per event, macros of declined events too); -F writes every packet
 * at once instead.
 *
 * -S: speak SMTP instead, to an MTA at SOCKET (inet:PORT@ADDR): EHLO,
 * then per message MAIL FROM with SIZE=, RCPT TO, DATA (the file with
 * CRLF line ends, dot-stuffed), QUIT after PER_CONN messages; a reply
 * 5xx counts as reject, 4xx as tempfail. Used for the end-to-end runs
 * through Postfix, with the same corpus and mix as the milter runs.
 *
 * What the client does per message, like Postfix: macros, MAIL with
 * SIZE=, one RCPT, DATA, each header (leading space kept when the
 * filter asked for SMFIP_HDR_LEADSPC, folded lines joined by LF), end
 * of headers, the body in chunks of at most 65535 bytes with CRLF line
 * ends, end of message; it skips the steps the filter declined and
 * waits for no reply where the filter negotiated SMFIP_NR_*. A
 * message's latency runs from the first byte of its transaction (the
 * connection for the first message of a connection) to the final reply
 * to end of message (or the reject that ended it earlier).
 *
 * Prints one JSON object (to JSONFILE, or stdout) and a human line on
 * stderr; with -L the object also has every message's latency, sorted
 * ("lat_all_ms"), so that short runs can be pooled.
 * Exit 0, 1 when a message got a protocol error, 2 on usage.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#define MAX_PIDS 8
#define CHUNK MILTER_CHUNK_SIZE

/* what Postfix 3.7 offers: every action, every protocol step */
#define OFFER_ACTIONS 0x1ffUL
#define OFFER_PROTO (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT \
	| SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NR_HDR | SMFIP_NOUNKNOWN \
	| SMFIP_NODATA | SMFIP_SKIP | SMFIP_RCPT_REJ | SMFIP_NR_CONN | SMFIP_NR_HELO \
	| SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH \
	| SMFIP_NR_BODY | SMFIP_HDR_LEADSPC)

struct header {
	char *name;
	char *value;			/* after the colon, leading white space kept */
	size_t nlead;			/* leading blanks in value */
};

struct message {
	char *sender, *rcpt, *ip, *helo;
	struct header *hdrs;
	size_t nhdrs;
	unsigned char *body;		/* CRLF line ends */
	size_t bodylen;
	size_t size;			/* for SIZE= */
	char *smtp;			/* SMTP mode: CRLF, dot-stuffed, ending ".\r\n" */
	size_t smtplen;
};

enum outcome { O_CONTINUE, O_ACCEPT, O_REJECT, O_TEMPFAIL, O_DISCARD, O_ERROR, O_N };
static const char *const outcome_names[] = { "continue", "accept", "reject", "tempfail",
	"discard", "error" };

static struct message *corpus;
static size_t ncorpus;
static const char *sockspec;
static bool nodelay;
static bool unbuffered;			/* -F: one write() per packet */
static bool smtp_mode;			/* -S: SMTP to an MTA instead of milter */

/* the run in progress */
static atomic_ulong next_msg;
static unsigned long run_total;
static double *latency;			/* ms, per message of the run */
static atomic_ulong outcomes[O_N];
static atomic_ulong hdr_changes, quarantines;
static unsigned long per_conn = 1;
static long io_timeout = 20;		/* -T: seconds a reply may take */
static atomic_bool giving_up;		/* too many errors: stop the run */
static double max_secs;			/* -t: no new message after this long */
static double run_deadline;		/* now_ms() value, 0: none */
#define MAX_ERRORS 20

/* ------------------------------------------------------------ helpers */

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* slurp - a whole file */
static char *
slurp(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	size_t cap = 1 << 16, len = 0, n;
	char *buf;

	if (fp == NULL)
		die("%s: %s", path, strerror(errno));
	buf = xmalloc(cap + 1);
	while ((n = fread(buf + len, 1, cap - len, fp)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (buf == NULL)
				die("out of memory");
		}
	}
	fclose(fp);
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

/* smtp_data - the DATA stream: CRLF line ends, dot-stuffed, the final dot */
static void
smtp_data(struct message *m, const char *raw, size_t len)
{
	size_t o = 0;
	bool bol = true;

	m->smtp = xmalloc(len * 2 + 8);
	for (size_t i = 0; i < len; i++) {
		if (bol && raw[i] == '.')
			m->smtp[o++] = '.';
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			m->smtp[o++] = '\r';
		m->smtp[o++] = raw[i];
		bol = raw[i] == '\n';
	}
	if (!bol) {
		m->smtp[o++] = '\r';
		m->smtp[o++] = '\n';
	}
	memcpy(m->smtp + o, ".\r\n", 3);
	m->smtplen = o + 3;
}

/* parse_message - headers (unfolded to LF-separated lines) and a CRLF body */
static void
parse_message(struct message *m, const char *path)
{
	size_t len, cap = 16, bi = 0;
	char *raw = slurp(path, &len), *p = raw, *end = raw + len;

	m->hdrs = xmalloc(cap * sizeof(*m->hdrs));
	m->nhdrs = 0;
	/* header section: lines until an empty one */
	while (p < end) {
		char *eol = memchr(p, '\n', (size_t)(end - p)), *line_end, *colon;
		size_t vcap, vlen = 0;
		struct header *h;

		if (eol == NULL)
			eol = end;
		line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
		if (line_end == p) {		/* the empty line */
			p = eol < end ? eol + 1 : end;
			break;
		}
		colon = memchr(p, ':', (size_t)(line_end - p));
		if (colon == NULL)
			die("%s: header line without a colon", path);
		if (m->nhdrs == cap)
			m->hdrs = realloc(m->hdrs, (cap *= 2) * sizeof(*m->hdrs));
		h = &m->hdrs[m->nhdrs++];
		h->name = strndup(p, (size_t)(colon - p));
		vcap = 256;
		h->value = xmalloc(vcap);
		for (char *s = colon + 1;;) {
			size_t n = (size_t)(line_end - s);

			while (vlen + n + 2 > vcap)
				h->value = realloc(h->value, vcap *= 2);
			memcpy(h->value + vlen, s, n);
			vlen += n;
			p = eol < end ? eol + 1 : end;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
			/* a continuation line: Postfix hands it over after a LF */
			h->value[vlen++] = '\n';
			eol = memchr(p, '\n', (size_t)(end - p));
			if (eol == NULL)
				eol = end;
			line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
			s = p;
		}
		h->value[vlen] = '\0';
		h->nlead = strspn(h->value, " \t");
	}
	/* body: CRLF line ends */
	m->body = xmalloc((size_t)(end - p) * 2 + 2);
	for (; p < end; p++) {
		if (*p == '\n' && (bi == 0 || m->body[bi - 1] != '\r'))
			m->body[bi++] = '\r';
		m->body[bi++] = (unsigned char)*p;
	}
	m->bodylen = bi;
	m->size = len;
	smtp_data(m, raw, len);
	free(raw);
}

static void
load_corpus(const char *dir)
{
	char path[4096], line[2048];
	size_t cap = 16;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/manifest", dir);
	if ((fp = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	corpus = xmalloc(cap * sizeof(*corpus));
	while (fgets(line, sizeof(line), fp) != NULL) {
		char file[1024], from[512], to[512], ip[64], helo[256];
		struct message *m;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%1023s %511s %511s %63s %255s", file, from, to, ip, helo) != 5)
			die("%s: bad line: %s", path, line);
		if (ncorpus == cap)
			corpus = realloc(corpus, (cap *= 2) * sizeof(*corpus));
		m = &corpus[ncorpus++];
		m->sender = strdup(strcmp(from, "<>") == 0 ? "" : from);
		m->rcpt = strdup(to);
		m->ip = strdup(ip);
		m->helo = strdup(helo);
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		parse_message(m, path);
	}
	fclose(fp);
	if (ncorpus == 0)
		die("%s/manifest: no messages", dir);
}

/* ------------------------------------------------------------ protocol */

struct conn {
	int fd;
	unsigned long pflags;		/* what the filter agreed to */
	unsigned char *buf;		/* outgoing packets */
	size_t cap, len;
	size_t pkt;			/* where the packet being built starts */
	unsigned char *rbuf;		/* incoming packet */
	size_t rcap;
	size_t rpos, rend;		/* SMTP mode: buffered reply bytes */
};

static void
put(struct conn *c, const void *p, size_t n)
{
	if (c->len + n > c->cap) {
		while (c->len + n > c->cap)
			c->cap *= 2;
		c->buf = realloc(c->buf, c->cap);
		if (c->buf == NULL)
			die("out of memory");
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

static void
put_str(struct conn *c, const char *s)
{
	put(c, s, strlen(s) + 1);
}

static void
put_u32(struct conn *c, uint32_t v)
{
	uint32_t n = htonl(v);

	put(c, &n, 4);
}

/* Writes go out as Postfix's milter client sends them: the macros of
   an event and the event itself in one write, each event flushed
   whether or not a reply is expected, and the macros of an event the
   filter declined (SMFIP_NO*) still sent, alone (Postfix milter8.c).
   That decides when Nagle's algorithm and delayed ACKs stall an inet
   socket: two writes without a reply in between. -F: one write() per
   packet instead. */
#define OUTBUF 4096

/* begin - start a packet of command cmd after what is buffered */
static void
begin(struct conn *c, char cmd)
{
	c->pkt = c->len;
	put_u32(c, 0);
	put(c, &cmd, 1);
}

/* flush - write out what is buffered */
static int
flush(struct conn *c)
{
	size_t off = 0;

	while (off < c->len) {
		ssize_t w = write(c->fd, c->buf + off, c->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	c->len = 0;
	return 0;
}

/* send_pkt - finish the packet's length; flush when the buffer is full
   (or always, with -F) */
static int
send_pkt(struct conn *c)
{
	uint32_t n = htonl((uint32_t)(c->len - c->pkt - 4));

	memcpy(c->buf + c->pkt, &n, 4);
	return c->len >= OUTBUF || unbuffered ? flush(c) : 0;
}

static int
read_full(int fd, void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r = read(fd, (char *)p + off, n - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

/* read_pkt - one reply packet: *cmd, data in c->rbuf, *len_r */
static int
read_pkt(struct conn *c, char *cmd, size_t *len_r)
{
	uint32_t n;

	if (read_full(c->fd, &n, 4) < 0)
		return -1;
	n = ntohl(n);
	if (n == 0 || n > 16 * 1024 * 1024)
		return -1;
	if (n > c->rcap) {
		c->rbuf = realloc(c->rbuf, n);
		if (c->rbuf == NULL)
			die("out of memory");
		c->rcap = n;
	}
	if (read_full(c->fd, c->rbuf, n) < 0)
		return -1;
	*cmd = (char)c->rbuf[0];
	*len_r = n - 1;
	return 0;
}

/* final - the reply that answers a step: skip progress and (at end of
   message) the modification requests */
static int
final(struct conn *c, enum outcome *o)
{
	for (;;) {
		char cmd;
		size_t len;

		if (read_pkt(c, &cmd, &len) < 0)
			return -1;
		switch (cmd) {
		case SMFIR_CONTINUE:
			*o = O_CONTINUE;
			return 0;
		case SMFIR_ACCEPT:
			*o = O_ACCEPT;
			return 0;
		case SMFIR_REJECT:
			*o = O_REJECT;
			return 0;
		case SMFIR_TEMPFAIL:
			*o = O_TEMPFAIL;
			return 0;
		case SMFIR_DISCARD:
			*o = O_DISCARD;
			return 0;
		case SMFIR_REPLYCODE:
			*o = len > 0 && c->rbuf[1] == '4' ? O_TEMPFAIL : O_REJECT;
			return 0;
		case SMFIR_SKIP:
			*o = O_CONTINUE;
			return 1;		/* "skip the rest of the body" */
		case SMFIR_PROGRESS:
			continue;
		case SMFIR_QUARANTINE:
			atomic_fetch_add(&quarantines, 1);
			continue;
		case SMFIR_ADDHEADER:
		case SMFIR_INSHEADER:
		case SMFIR_CHGHEADER:
			atomic_fetch_add(&hdr_changes, 1);
			continue;
		case SMFIR_ADDRCPT:
		case SMFIR_DELRCPT:
		case SMFIR_ADDRCPT_PAR:
		case SMFIR_CHGFROM:
		case SMFIR_REPLBODY:
		case SMFIR_SETSYMLIST:
			continue;
		default:
			return -1;
		}
	}
}

/* step - send the packet; wait for the answer unless nr_flag was agreed */
static int
step(struct conn *c, unsigned long nr_flag, enum outcome *o)
{
	*o = O_CONTINUE;
	if (send_pkt(c) < 0 || flush(c) < 0)
		return -1;
	if (nr_flag != 0 && (c->pflags & nr_flag))
		return 0;
	return final(c, o);
}

/* macros - a 'D' packet for stage with NULL-terminated name, value pairs */
static int
macros(struct conn *c, char stage, ...)
{
	va_list ap;
	const char *s;

	begin(c, SMFIC_MACRO);
	put(c, &stage, 1);
	va_start(ap, stage);
	while ((s = va_arg(ap, const char *)) != NULL)
		put_str(c, s);
	va_end(ap);
	return send_pkt(c);
}

/* skipped - the macros of an event the filter declined, sent anyway */
static int
skipped(struct conn *c)
{
	return flush(c);
}

static int
conn_open(struct conn *c)
{
	int fd;

	if (strncmp(sockspec, "unix:", 5) == 0 || strncmp(sockspec, "local:", 6) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", strchr(sockspec, ':') + 1);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			goto fail;
	} else if (strncmp(sockspec, "inet:", 5) == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		const char *at = strchr(sockspec, '@');
		int one = 1;

		sin.sin_port = htons((uint16_t)atoi(sockspec + 5));
		if (inet_pton(AF_INET, at ? at + 1 : "127.0.0.1", &sin.sin_addr) != 1)
			die("bad inet address in %s", sockspec);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			goto fail;
		if (nodelay)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else {
		die("socket must be unix:PATH or inet:PORT@ADDR, not %s", sockspec);
	}
	{
		struct timeval tv = { .tv_sec = io_timeout };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	c->fd = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* negotiate - OPTNEG: offer everything, keep what the filter agreed to */
static int
negotiate(struct conn *c)
{
	char cmd;
	size_t len;
	uint32_t v[3];

	begin(c, SMFIC_OPTNEG);
	put_u32(c, SMFI_PROT_VERSION);
	put_u32(c, OFFER_ACTIONS);
	put_u32(c, OFFER_PROTO);
	if (send_pkt(c) < 0 || flush(c) < 0 || read_pkt(c, &cmd, &len) < 0
	    || cmd != SMFIC_OPTNEG || len < 12)
		return -1;
	memcpy(v, c->rbuf + 1, 12);
	c->pflags = ntohl(v[2]);
	return 0;
}

/* connect_helo - the connection's first steps */
static int
connect_helo(struct conn *c, const struct message *m)
{
	enum outcome o;
	uint16_t port = htons(40000);
	char client[96];

	snprintf(client, sizeof(client), "client.example [%s]", m->ip);
	if (macros(c, SMFIC_CONNECT, "j", "mx.example.org", "{daemon_name}", "smtpd",
	    "v", "Postfix 3.7", "_", client, (char *)NULL) < 0)
		return -1;
	if ((c->pflags & SMFIP_NOCONNECT) && skipped(c) < 0)
		return -1;
	if (!(c->pflags & SMFIP_NOCONNECT)) {
		begin(c, SMFIC_CONNECT);
		put_str(c, "client.example");
		put(c, "4", 1);
		put(c, &port, 2);
		put_str(c, m->ip);
		if (step(c, SMFIP_NR_CONN, &o) < 0 || o != O_CONTINUE)
			return -1;
	}
	if (!(c->pflags & SMFIP_NOHELO)) {
		begin(c, SMFIC_HELO);
		put_str(c, m->helo);
		if (step(c, SMFIP_NR_HELO, &o) < 0 || o != O_CONTINUE)
			return -1;
	}
	return 0;
}

/* transaction - one message; its outcome, or -1 on a protocol error */
static int
transaction(struct conn *c, const struct message *m, unsigned long seq, enum outcome *o)
{
	char qid[32], addr[600], size[32];
	int rc;

	snprintf(qid, sizeof(qid), "LG%lX", seq);
	if (macros(c, SMFIC_MAIL, "{mail_addr}", m->sender, (char *)NULL) < 0
	    || ((c->pflags & SMFIP_NOMAIL) && skipped(c) < 0))
		return -1;
	if (!(c->pflags & SMFIP_NOMAIL)) {
		snprintf(addr, sizeof(addr), "<%s>", m->sender);
		snprintf(size, sizeof(size), "SIZE=%zu", m->size);
		begin(c, SMFIC_MAIL);
		put_str(c, addr);
		put_str(c, size);
		if (step(c, SMFIP_NR_MAIL, o) < 0)
			return -1;
		if (*o != O_CONTINUE)
			return 0;
	}
	if (macros(c, SMFIC_RCPT, "{rcpt_addr}", m->rcpt, (char *)NULL) < 0
	    || ((c->pflags & SMFIP_NORCPT) && skipped(c) < 0))
		return -1;
	if (!(c->pflags & SMFIP_NORCPT)) {
		snprintf(addr, sizeof(addr), "<%s>", m->rcpt);
		begin(c, SMFIC_RCPT);
		put_str(c, addr);
		if (step(c, SMFIP_NR_RCPT, o) < 0)
			return -1;
		if (*o != O_CONTINUE)
			goto abort;
	}
	if (macros(c, SMFIC_DATA, "i", qid, (char *)NULL) < 0
	    || ((c->pflags & SMFIP_NODATA) && skipped(c) < 0))
		return -1;
	if (!(c->pflags & SMFIP_NODATA)) {
		begin(c, SMFIC_DATA);
		if (step(c, SMFIP_NR_DATA, o) < 0)
			return -1;
		if (*o != O_CONTINUE)
			goto abort;
	}
	if (!(c->pflags & SMFIP_NOHDRS)) {
		bool lead = (c->pflags & SMFIP_HDR_LEADSPC) != 0;

		for (size_t i = 0; i < m->nhdrs; i++) {
			const struct header *h = &m->hdrs[i];

			begin(c, SMFIC_HEADER);
			put_str(c, h->name);
			put_str(c, lead ? h->value : h->value + h->nlead);
			if (step(c, SMFIP_NR_HDR, o) < 0)
				return -1;
			if (*o != O_CONTINUE)
				goto abort;
		}
	}
	if (!(c->pflags & SMFIP_NOEOH)) {
		begin(c, SMFIC_EOH);
		if (step(c, SMFIP_NR_EOH, o) < 0)
			return -1;
		if (*o != O_CONTINUE)
			goto abort;
	}
	if (!(c->pflags & SMFIP_NOBODY)) {
		for (size_t off = 0; off < m->bodylen; off += CHUNK) {
			size_t n = m->bodylen - off > CHUNK ? CHUNK : m->bodylen - off;

			begin(c, SMFIC_BODY);
			put(c, m->body + off, n);
			if ((rc = step(c, SMFIP_NR_BODY, o)) < 0)
				return -1;
			if (rc == 1)		/* skip */
				break;
			if (*o != O_CONTINUE)
				goto abort;
		}
	}
	if (macros(c, SMFIC_BODYEOB, "i", qid, (char *)NULL) < 0)
		return -1;
	begin(c, SMFIC_BODYEOB);
	if (step(c, 0, o) < 0)
		return -1;
	return 0;
abort:
	/* the MTA gives up on the transaction */
	begin(c, SMFIC_ABORT);
	return send_pkt(c) < 0 ? -1 : flush(c);
}

/* ------------------------------------------------------------ SMTP mode */

/* smtp_write - all of p */
static int
smtp_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* smtp_reply - read a whole (multi-line) reply; its code, -1 on error */
static int
smtp_reply(struct conn *c)
{
	char line[1024];
	size_t ll = 0;

	for (;;) {
		unsigned char ch;

		if (c->rpos == c->rend) {
			ssize_t r = read(c->fd, c->rbuf, c->rcap);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			c->rpos = 0;
			c->rend = (size_t)r;
		}
		ch = c->rbuf[c->rpos++];
		if (ll < sizeof(line) - 1)
			line[ll++] = (char)ch;
		if (ch != '\n')
			continue;
		line[ll] = '\0';
		if (ll < 4 || line[3] != '-')
			return atoi(line);
		ll = 0;
	}
}

/* smtp_cmd - a command line, then its reply code */
static int
smtp_cmd(struct conn *c, const char *fmt, ...)
{
	char buf[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 2)
		return -1;
	memcpy(buf + n, "\r\n", 2);
	if (smtp_write(c, buf, (size_t)n + 2) < 0)
		return -1;
	return smtp_reply(c);
}

static enum outcome
smtp_outcome(int code)
{
	return code >= 500 ? O_REJECT : code >= 400 ? O_TEMPFAIL : O_ERROR;
}

/* smtp_transaction - MAIL, RCPT, DATA; outcome, -1 on a broken session */
static int
smtp_transaction(struct conn *c, const struct message *m, enum outcome *o)
{
	int code;

	code = smtp_cmd(c, "MAIL FROM:<%s> SIZE=%zu", m->sender, m->size);
	if (code < 0)
		return -1;
	if (code != 250) {
		*o = smtp_outcome(code);
		return 0;
	}
	code = smtp_cmd(c, "RCPT TO:<%s>", m->rcpt);
	if (code < 0)
		return -1;
	if (code != 250) {
		*o = smtp_outcome(code);
		return smtp_cmd(c, "RSET") == 250 ? 0 : -1;
	}
	code = smtp_cmd(c, "DATA");
	if (code != 354)
		return -1;
	if (smtp_write(c, m->smtp, m->smtplen) < 0 || (code = smtp_reply(c)) < 0)
		return -1;
	*o = code == 250 ? O_CONTINUE : smtp_outcome(code);
	return 0;
}

/* smtp_open - banner and EHLO */
static int
smtp_open(struct conn *c, const struct message *m)
{
	c->rpos = c->rend = 0;
	if (smtp_reply(c) != 220 || smtp_cmd(c, "EHLO %s", m->helo) != 250)
		return -1;
	return 0;
}

/* worker - connections until the run's messages are all taken */
static void *
worker(void *arg)
{
	struct conn c = { .fd = -1, .cap = 1 << 17, .rcap = 1 << 12 };

	(void)arg;
	c.buf = xmalloc(c.cap);
	c.rbuf = xmalloc(c.rcap);
	for (;;) {
		unsigned long first, last;
		double t0 = now_ms();
		bool broken = false;

		if (run_deadline > 0 && now_ms() > run_deadline)
			break;
		first = atomic_fetch_add(&next_msg, per_conn);
		if (first >= run_total || atomic_load(&giving_up))
			break;
		last = first + per_conn < run_total ? first + per_conn : run_total;
		if (conn_open(&c) < 0)
			broken = true;
		else if (smtp_mode)
			broken = smtp_open(&c, &corpus[first % ncorpus]) < 0;
		else
			broken = negotiate(&c) < 0 || connect_helo(&c, &corpus[first % ncorpus]) < 0;
		for (unsigned long i = first; i < last; i++) {
			enum outcome o = O_ERROR;

			if (i > first)
				t0 = now_ms();
			if (broken || (smtp_mode ? smtp_transaction(&c, &corpus[i % ncorpus], &o)
			    : transaction(&c, &corpus[i % ncorpus], i, &o)) < 0) {
				broken = true;
				o = O_ERROR;
			}
			latency[i] = now_ms() - t0;
			if (atomic_fetch_add(&outcomes[o], 1) >= MAX_ERRORS && o == O_ERROR)
				atomic_store(&giving_up, true);
		}
		if (c.fd >= 0) {
			if (!broken && smtp_mode) {
				(void)smtp_cmd(&c, "QUIT");
			} else if (!broken) {
				begin(&c, SMFIC_QUIT);
				(void)send_pkt(&c);
				(void)flush(&c);
			}
			c.len = 0;
			close(c.fd);
			c.fd = -1;
		}
	}
	free(c.buf);
	free(c.rbuf);
	return NULL;
}

/* run - total messages over conc connections; wall seconds */
static double
run(unsigned long total, unsigned long conc)
{
	pthread_t *t = xmalloc(conc * sizeof(*t));
	double t0;

	run_total = total;
	atomic_store(&next_msg, 0);
	atomic_store(&giving_up, false);
	memset(latency, 0, total * sizeof(*latency));
	for (int i = 0; i < O_N; i++)
		atomic_store(&outcomes[i], 0);
	atomic_store(&hdr_changes, 0);
	atomic_store(&quarantines, 0);
	t0 = now_ms();
	run_deadline = max_secs > 0 ? t0 + max_secs * 1e3 : 0;
	for (unsigned long i = 0; i < conc; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			die("pthread_create failed");
	for (unsigned long i = 0; i < conc; i++)
		pthread_join(t[i], NULL);
	free(t);
	return (now_ms() - t0) / 1e3;
}

/* ------------------------------------------------------------ /proc */

struct procinfo {
	double cpu_s;			/* user + system, all threads */
	long hwm_kb, rss_kb;		/* VmHWM, VmRSS */
	long threads, fds;
};

static void
proc_read(pid_t pid, struct procinfo *pi)
{
	char path[64], buf[4096], *p;
	FILE *fp;
	unsigned long ut = 0, st = 0;
	long hz = sysconf(_SC_CLK_TCK);

	memset(pi, 0, sizeof(*pi));
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) != NULL) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, fp);

		buf[n] = '\0';
		fclose(fp);
		/* fields after the ")" of comm: state is field 3; utime 14, stime 15 */
		if ((p = strrchr(buf, ')')) != NULL
		    && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		    &ut, &st) == 2)
			pi->cpu_s = (double)(ut + st) / (double)hz;
	}
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) != NULL) {
		while (fgets(buf, sizeof(buf), fp) != NULL) {
			sscanf(buf, "VmHWM: %ld", &pi->hwm_kb);
			sscanf(buf, "VmRSS: %ld", &pi->rss_kb);
			sscanf(buf, "Threads: %ld", &pi->threads);
		}
		fclose(fp);
	}
	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	{
		FILE *ls;
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "ls %s 2>/dev/null | wc -l", path);
		if ((ls = popen(cmd, "r")) != NULL) {
			if (fscanf(ls, "%ld", &pi->fds) != 1)
				pi->fds = -1;
			pclose(ls);
		}
	}
}

/* peak_reset - VmHWM starts again from the current RSS */
static void
peak_reset(pid_t pid)
{
	char path[64];
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/clear_refs", (long)pid);
	if ((fp = fopen(path, "w")) != NULL) {
		fputs("5", fp);
		fclose(fp);
	}
}

/* system_cpu - busy CPU seconds of the whole machine */
static double
system_cpu(void)
{
	unsigned long long v[8] = { 0 };
	FILE *fp = fopen("/proc/stat", "r");

	if (fp == NULL)
		return 0;
	if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	    &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		v[0] = v[1] = v[2] = v[5] = v[6] = v[7] = 0;
	fclose(fp);
	/* user nice system (idle iowait) irq softirq steal */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
	    + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *sorted, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return n == 0 ? 0 : sorted[i < n ? i : n - 1];
}

static void
usage(void)
{
	fputs("usage: loadgen -s SOCKET -d CORPUS -n MESSAGES [-c CONCURRENCY] [-k PER_CONN]\n"
	    "               [-w WARMUP] [-p PID[,PID...]] [-l LABEL] [-j JSONFILE] [-DFLqS]\n"
	    "               [-t SECONDS] [-T SECONDS]\n",
	    stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *label = "run", *jsonfile = NULL;
	unsigned long total = 0, conc = 1, warmup = (unsigned long)-1;
	pid_t pids[MAX_PIDS];
	size_t npids = 0;
	struct procinfo before[MAX_PIDS], after[MAX_PIDS];
	double secs, sys0, sys1, self0, self1, cpu = 0;
	long hwm = 0, rss0 = 0, rss = 0, fds0 = 0, fds1 = 0, threads = 0;
	bool quiet = false, all_latencies = false;
	FILE *out = stdout;
	int ch;

	while ((ch = getopt(argc, argv, "c:d:DFj:k:Ll:n:p:qSs:t:T:w:")) != -1) {
		switch (ch) {
		case 'c': conc = strtoul(optarg, NULL, 10); break;
		case 'd': dir = optarg; break;
		case 'D': nodelay = true; break;
		case 'F': unbuffered = true; break;
		case 'j': jsonfile = optarg; break;
		case 'k': per_conn = strtoul(optarg, NULL, 10); break;
		case 'L': all_latencies = true; break;
		case 'l': label = optarg; break;
		case 'n': total = strtoul(optarg, NULL, 10); break;
		case 'p':
			for (char *s = optarg, *e; *s && npids < MAX_PIDS; s = *e ? e + 1 : e) {
				pids[npids++] = (pid_t)strtol(s, &e, 10);
				if (*e != ',' && *e != '\0')
					usage();
			}
			break;
		case 'q': quiet = true; break;
		case 'S': smtp_mode = true; break;
		case 't': max_secs = strtod(optarg, NULL); break;
		case 'T': io_timeout = strtol(optarg, NULL, 10); break;
		case 's': sockspec = optarg; break;
		case 'w': warmup = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (sockspec == NULL || dir == NULL || total == 0 || conc == 0 || per_conn == 0
	    || optind != argc)
		usage();
	load_corpus(dir);
	if (warmup == (unsigned long)-1)
		warmup = 2 * conc;
	latency = xmalloc((total > warmup ? total : warmup) * sizeof(*latency));
	if (warmup > 0)
		run(warmup, conc);

	for (size_t i = 0; i < npids; i++) {
		peak_reset(pids[i]);
		proc_read(pids[i], &before[i]);
	}
	sys0 = system_cpu();
	self0 = self_cpu();
	secs = run(total, conc);
	sys1 = system_cpu();
	self1 = self_cpu();
	for (size_t i = 0; i < npids; i++) {
		proc_read(pids[i], &after[i]);
		cpu += after[i].cpu_s - before[i].cpu_s;
		hwm += after[i].hwm_kb;
		rss0 += before[i].rss_kb;
		rss += after[i].rss_kb;
		fds0 += before[i].fds;
		fds1 += after[i].fds;
		threads += after[i].threads;
	}
	{
		unsigned long sent = 0;

		for (int i = 0; i < O_N; i++)
			sent += atomic_load(&outcomes[i]);
		if (atomic_load(&giving_up))	/* what was not sent counts as an error */
			atomic_fetch_add(&outcomes[O_ERROR], total - sent);
		else if (sent > 0)		/* -t stopped it early */
			total = sent;
	}
	qsort(latency, total, sizeof(*latency), cmp_double);

	if (jsonfile != NULL && (out = fopen(jsonfile, "a")) == NULL)
		die("%s: %s", jsonfile, strerror(errno));
	fprintf(out, "{\"label\":\"%s\",\"mode\":\"%s\",\"socket\":\"%s\",\"concurrency\":%lu,\"per_conn\":%lu,"
	    "\"messages\":%lu,\"seconds\":%.3f,\"msgs_per_s\":%.1f,"
	    "\"lat_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"outcomes\":{",
	    label, smtp_mode ? "smtp" : "milter", strncmp(sockspec, "inet", 4) == 0 ? "inet" : "unix",
	    conc, per_conn, total,
	    secs, (double)total / secs, pct(latency, total, 50), pct(latency, total, 90),
	    pct(latency, total, 99), latency[total - 1]);
	for (int i = 0; i < O_N; i++)
		fprintf(out, "%s\"%s\":%lu", i ? "," : "", outcome_names[i],
		    atomic_load(&outcomes[i]));
	fprintf(out, "},\"header_changes\":%lu,\"quarantines\":%lu,"
	    "\"loadgen_cpu_s\":%.2f,\"system_cpu_s_per_1000\":%.3f",
	    atomic_load(&hdr_changes), atomic_load(&quarantines), self1 - self0,
	    (sys1 - sys0) * 1000.0 / (double)total);
	if (npids > 0)
		fprintf(out, ",\"filter\":{\"cpu_s\":%.2f,\"cpu_s_per_1000\":%.3f,"
		    "\"peak_rss_kb\":%ld,\"rss_kb_before\":%ld,\"rss_kb\":%ld,\"threads\":%ld,"
		    "\"fds_before\":%ld,\"fds_after\":%ld}", cpu, cpu * 1000.0 / (double)total, hwm,
		    rss0, rss, threads, fds0, fds1);
	if (all_latencies)
		for (unsigned long i = 0; i < total; i++)
			fprintf(out, "%s%.3f", i ? "," : ",\"lat_all_ms\":[", latency[i]);
	if (all_latencies && total > 0)
		fputc(']', out);
	fprintf(out, ",\"aborted\":%s}\n", atomic_load(&giving_up) ? "true" : "false");
	if (out != stdout)
		fclose(out);
	if (!quiet)
		fprintf(stderr, "%-12s %s c=%-3lu %6lu msgs %7.1f msg/s  p50 %.2f ms  p99 %.2f ms"
		    "  cpu/1000 %.3f s  peak %ld kB  errors %lu\n", label,
		    strncmp(sockspec, "inet", 4) == 0 ? "inet" : "unix", conc, total,
		    (double)total / secs, pct(latency, total, 50), pct(latency, total, 99),
		    npids ? cpu * 1000.0 / (double)total : 0.0, hwm,
		    atomic_load(&outcomes[O_ERROR]));
	return atomic_load(&outcomes[O_ERROR]) > 0 ? 1 : 0;
}
