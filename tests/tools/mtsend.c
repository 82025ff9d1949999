/*
 * mtsend - send one message to a milter the way Postfix's milter8
 * client does, and print what the filter answered; for the functional
 * tests that need what miltertest(8) cannot send (a header line longer
 * than its ~1 KB buffer, raw NUL bytes, a body of any size streamed
 * without holding it in memory).
 *
 *   mtsend -s unix:PATH [-i IP] [-n HOST] [-H HELO] [-f SENDER] [-r RCPT]...
 *          [-q QID] [-a LOGIN] [-d DAEMON] [-b BYTES] [-B BYTES] [-p MS] [-t SECONDS]
 *          [FILE]
 *
 * FILE holds the message (LF or CRLF line ends, any bytes): header
 * fields up to the first empty line, continuation lines joined with LF
 * as Postfix does, then the body. -b appends BYTES of generated body
 * (lines of 76 'x' and CRLF), -B BYTES of one endless line without a
 * line end, both in 64 KB chunks. -p sleeps MS milliseconds after the
 * header fields (to hold a transaction open). -q sends the queue id
 * macro "i" with MAIL FROM, -a {auth_authen}, -d {daemon_name}.
 *
 * Prints one line per answer that is not "continue":
 *   STEP: reject|tempfail|accept|discard|skip|reply CODE TEXT
 *   eom: addheader|insheader N|chgheader N NAME: VALUE  (escaped)
 *   eom: quarantine REASON
 * then "result: WHAT" (the final answer: the end-of-message reply, or
 * the reply that ended the transaction early) and "ms: N". Bytes other
 * than printable ASCII are printed as \xNN. Exit 0 with a result, 1
 * when the filter broke the connection or did not answer within
 * SECONDS (default 30), 2 on bad usage.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

/* what Postfix 3.7 offers */
#define OFFER_ACTIONS 0x1ffUL
#define OFFER_PROTO (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT \
	| SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NR_HDR | SMFIP_NOUNKNOWN \
	| SMFIP_NODATA | SMFIP_SKIP | SMFIP_RCPT_REJ | SMFIP_NR_CONN | SMFIP_NR_HELO \
	| SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH \
	| SMFIP_NR_BODY | SMFIP_HDR_LEADSPC)
#define CHUNK 65535

static int fd = -1;
static int timeout_ms = 30000;
static unsigned long pflags;
static char *pkt;
static size_t plen, pcap;

static void __attribute__((noreturn))
broken(const char *what)
{
	printf("error: %s\n", what);
	exit(1);
}

/* show - s[0..n) with non-printable bytes as \xNN */
static void
show(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

/* ------------------------------------------------------------ packets */

static void
begin(char cmd)
{
	plen = 0;
	if (pcap < 5) {
		pcap = 4096;
		pkt = realloc(pkt, pcap);
	}
	plen = 4;
	pkt[plen++] = cmd;
}

static void
put(const void *p, size_t n)
{
	while (plen + n > pcap)
		pkt = realloc(pkt, pcap *= 2);
	memcpy(pkt + plen, p, n);
	plen += n;
}

static void
put_str(const char *s)
{
	put(s, strlen(s) + 1);
}

static void
put32(uint32_t v)
{
	v = htonl(v);
	put(&v, 4);
}

static void
send_pkt(void)
{
	uint32_t len = htonl((uint32_t)(plen - 4));
	size_t off = 0;

	memcpy(pkt, &len, 4);
	while (off < plen) {
		ssize_t w = write(fd, pkt + off, plen - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			broken("write: the filter closed the connection");
		off += (size_t)w;
	}
}

static void
read_all(void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;
		int rc = poll(&pfd, 1, timeout_ms);

		if (rc == 0)
			broken("timeout waiting for the filter");
		if (rc < 0 && errno == EINTR)
			continue;
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			broken("read: the filter closed the connection");
		p += r;
		n -= (size_t)r;
	}
}

/* reply - one packet from the filter: its command, data in *data_r */
static char
reply(char **data_r, size_t *len_r)
{
	static char *buf;
	uint32_t len;
	char cmd;

	read_all(&len, 4);
	len = ntohl(len);
	if (len == 0 || len > 16 * 1024 * 1024)
		broken("bad packet length from the filter");
	read_all(&cmd, 1);
	free(buf);
	buf = malloc(len);
	read_all(buf, len - 1);
	buf[len - 1] = '\0';
	*data_r = buf;
	*len_r = len - 1;
	return cmd;
}

static void
macro(char stage, const char *name, const char *value)
{
	if (value == NULL)
		return;
	begin(SMFIC_MACRO);
	put(&stage, 1);
	put_str(name);
	put_str(value);
	send_pkt();
}

/* outcome - print a final-ish answer; true when it ends the transaction */
static bool
outcome(const char *step, char cmd, const char *data, size_t len)
{
	switch (cmd) {
	case SMFIR_CONTINUE:
		return false;
	case SMFIR_SKIP:
		printf("%s: skip\n", step);
		return false;
	case SMFIR_ACCEPT:
		printf("%s: accept\n", step);
		printf("result: accept\n");
		return true;
	case SMFIR_REJECT:
		printf("%s: reject\n", step);
		printf("result: reject\n");
		return true;
	case SMFIR_TEMPFAIL:
		printf("%s: tempfail\n", step);
		printf("result: tempfail\n");
		return true;
	case SMFIR_DISCARD:
		printf("%s: discard\n", step);
		printf("result: discard\n");
		return true;
	case SMFIR_REPLYCODE:
		printf("%s: reply ", step);
		show(data, len > 0 ? len - 1 : 0);
		printf("\nresult: reply ");
		show(data, len > 0 ? len - 1 : 0);
		putchar('\n');
		return true;
	default:
		printf("%s: unexpected answer '%c'\n", step, cmd);
		printf("result: protocol-error\n");
		return true;
	}
}

/* step - send the packet; wait for the answer unless nr_flag was
   negotiated. true when the transaction ended here. */
static bool
step(const char *name, unsigned long nr_flag)
{
	char *data;
	size_t len;
	char cmd;

	send_pkt();
	if (nr_flag != 0 && (pflags & nr_flag))
		return false;
	do
		cmd = reply(&data, &len);
	while (cmd == SMFIR_PROGRESS);
	return outcome(name, cmd, data, len);
}

/* ------------------------------------------------------------ the message */

struct header {
	char *name, *value;
	size_t namelen, valuelen;
};

static char *
slurp(const char *path, size_t *len_r)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 1 << 16, len = 0, n;
	char *buf = malloc(cap + 1);

	if (fp == NULL) {
		perror(path);
		exit(2);
	}
	while ((n = fread(buf + len, 1, cap - len, fp)) > 0)
		if ((len += n) == cap)
			buf = realloc(buf, (cap *= 2) + 1);
	if (fp != stdin)
		fclose(fp);
	*len_r = len;
	return buf;
}

/* parse - header fields of raw[0..len); *body_r where the body starts */
static struct header *
parse(char *raw, size_t len, size_t *n_r, const char **body_r)
{
	char *p = raw, *end = raw + len;
	size_t cap = 16, n = 0;
	struct header *h = malloc(cap * sizeof(*h));

	while (p < end) {
		char *eol = memchr(p, '\n', (size_t)(end - p)), *le, *colon;
		size_t vcap, vlen = 0;

		if (eol == NULL)
			eol = end;
		le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
		if (le == p) {
			p = eol < end ? eol + 1 : end;
			break;
		}
		colon = memchr(p, ':', (size_t)(le - p));
		if (colon == NULL)
			break;			/* not a header field: the body */
		if (n == cap)
			h = realloc(h, (cap *= 2) * sizeof(*h));
		h[n].name = p;
		h[n].namelen = (size_t)(colon - p);
		vcap = (size_t)(le - colon) + 64;
		h[n].value = malloc(vcap);
		for (char *s = colon + 1;;) {
			size_t k = (size_t)(le - s);

			while (vlen + k + 2 > vcap)
				h[n].value = realloc(h[n].value, vcap *= 2);
			memcpy(h[n].value + vlen, s, k);
			vlen += k;
			p = eol < end ? eol + 1 : end;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
			h[n].value[vlen++] = '\n';
			eol = memchr(p, '\n', (size_t)(end - p));
			if (eol == NULL)
				eol = end;
			le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
			s = p;
		}
		h[n].value[vlen] = '\0';
		h[n].valuelen = vlen;
		n++;
	}
	*n_r = n;
	*body_r = p;
	return h;
}

/* body_chunk - send n bytes as one body chunk; true when the filter
   ended the transaction (skip ends the body only: *skip_r) */
static bool
body_chunk(const char *p, size_t n, bool *skip_r)
{
	char *data;
	size_t len;
	char cmd;

	begin(SMFIC_BODY);
	put(p, n);
	send_pkt();
	if (pflags & SMFIP_NR_BODY)
		return false;
	do
		cmd = reply(&data, &len);
	while (cmd == SMFIR_PROGRESS);
	if (cmd == SMFIR_SKIP) {
		printf("body: skip\n");
		*skip_r = true;
		return false;
	}
	return outcome("body", cmd, data, len);
}

/* body - the file's body (LF made CRLF), then the generated bytes */
static bool
body(const char *p, const char *end, unsigned long long lines, unsigned long long line)
{
	static char chunk[CHUNK];
	size_t o = 0;
	bool skip = false;

	for (; p < end && !skip; p++) {
		if (*p == '\n' && (o == 0 || chunk[o - 1] != '\r'))
			chunk[o++] = '\r';
		chunk[o++] = *p;
		if (o >= CHUNK - 2) {
			if (body_chunk(chunk, o, &skip))
				return true;
			o = 0;
		}
	}
	while (lines > 0 && !skip) {
		size_t n = lines < 78 ? (size_t)lines : 78;

		if (o + n > CHUNK) {
			if (body_chunk(chunk, o, &skip))
				return true;
			o = 0;
		}
		memset(chunk + o, 'x', n);
		if (n == 78) {
			chunk[o + 76] = '\r';
			chunk[o + 77] = '\n';
		}
		o += n;
		lines -= n;
	}
	while (line > 0 && !skip) {
		size_t n = line < CHUNK - o ? (size_t)line : CHUNK - o;

		memset(chunk + o, 'y', n);
		o += n;
		line -= n;
		if (o == CHUNK) {
			if (body_chunk(chunk, o, &skip))
				return true;
			o = 0;
		}
	}
	if (o > 0 && !skip && body_chunk(chunk, o, &skip))
		return true;
	return false;
}

/* eom - end of message: modifications, then the final answer */
static void
eom(void)
{
	char *data;
	size_t len;

	begin(SMFIC_BODYEOB);
	send_pkt();
	for (;;) {
		char cmd = reply(&data, &len);
		size_t nl;

		switch (cmd) {
		case SMFIR_PROGRESS:
			continue;
		case SMFIR_ADDHEADER:
			nl = strlen(data);
			printf("eom: addheader ");
			show(data, nl);
			printf(": ");
			show(data + nl + 1, len - nl - 2);
			putchar('\n');
			continue;
		case SMFIR_INSHEADER:
		case SMFIR_CHGHEADER: {
			uint32_t idx;

			memcpy(&idx, data, 4);
			nl = strlen(data + 4);
			printf("eom: %s %u ", cmd == SMFIR_INSHEADER ? "insheader" : "chgheader",
			    ntohl(idx));
			show(data + 4, nl);
			printf(": ");
			show(data + 4 + nl + 1, len - 4 - nl - 2);
			putchar('\n');
			continue;
		}
		case SMFIR_QUARANTINE:
			printf("eom: quarantine ");
			show(data, len > 0 ? len - 1 : 0);
			putchar('\n');
			continue;
		case SMFIR_CONTINUE:
			printf("result: continue\n");
			return;
		default:
			(void)outcome("eom", cmd, data, len);
			return;
		}
	}
}

static void
usage(void)
{
	fputs("usage: mtsend -s unix:PATH [-i IP] [-n HOST] [-H HELO] [-f SENDER] [-r RCPT]...\n"
	    "              [-q QID] [-a LOGIN] [-d DAEMON] [-b BYTES] [-B BYTES] [-p MS]\n"
	    "              [-t SECONDS] [FILE]\n", stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *sock = NULL, *ip = "198.51.100.7", *host = "client.remote.example";
	const char *helo = "client.remote.example", *from = "<a@remote.example>";
	const char *qid = NULL, *auth = NULL, *daemon = "smtpd", *file = NULL;
	const char *rcpts[64], *bodyp = "";
	size_t nrcpts = 0, rawlen = 0, nh = 0;
	unsigned long long gen = 0, line = 0;
	unsigned long pause_ms = 0;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timespec t0, t1;
	struct header *h = NULL;
	char *raw = NULL, *data;
	size_t len;
	int ch;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* lines out even if we die */
	while ((ch = getopt(argc, argv, "a:b:B:d:f:H:i:n:p:q:r:s:t:")) != -1) {
		switch (ch) {
		case 'a': auth = optarg; break;
		case 'b': gen = strtoull(optarg, NULL, 10); break;
		case 'B': line = strtoull(optarg, NULL, 10); break;
		case 'd': daemon = optarg; break;
		case 'f': from = optarg; break;
		case 'H': helo = optarg; break;
		case 'i': ip = optarg; break;
		case 'n': host = optarg; break;
		case 'p': pause_ms = strtoul(optarg, NULL, 10); break;
		case 'q': qid = optarg; break;
		case 'r':
			if (nrcpts < sizeof(rcpts) / sizeof(rcpts[0]))
				rcpts[nrcpts++] = optarg;
			break;
		case 's': sock = optarg; break;
		case 't': timeout_ms = atoi(optarg) * 1000; break;
		default: usage();
		}
	}
	if (sock == NULL || strncmp(sock, "unix:", 5) != 0 || optind + 1 < argc)
		usage();
	if (optind < argc)
		file = argv[optind];
	if (nrcpts == 0)
		rcpts[nrcpts++] = "<bob@example.org>";
	if (file != NULL) {
		raw = slurp(file, &rawlen);
		h = parse(raw, rawlen, &nh, &bodyp);
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock + 5);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0
	    || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		printf("error: connect %s: %s\n", sock, strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	begin(SMFIC_OPTNEG);
	put32(6);
	put32(OFFER_ACTIONS);
	put32(OFFER_PROTO);
	send_pkt();
	if (reply(&data, &len) != SMFIC_OPTNEG || len < 12)
		broken("no option negotiation");
	memcpy(&pflags, data + 8, 4);
	pflags = ntohl((uint32_t)pflags);

	macro(SMFIC_CONNECT, "j", "mx.example.org");
	macro(SMFIC_CONNECT, "{daemon_name}", daemon);
	begin(SMFIC_CONNECT);
	put_str(host);
	if (strcmp(ip, "unknown") == 0) {
		put("U", 1);
	} else {
		uint16_t port = htons(25);

		put(strchr(ip, ':') ? "6" : "4", 1);
		put(&port, 2);
		put_str(ip);
	}
	if (step("connect", SMFIP_NR_CONN))
		goto done;
	begin(SMFIC_HELO);
	put_str(helo);
	if (step("helo", SMFIP_NR_HELO))
		goto done;
	if (qid != NULL || auth != NULL) {
		begin(SMFIC_MACRO);
		put("M", 1);
		if (qid != NULL) {
			put_str("i");
			put_str(qid);
		}
		if (auth != NULL) {
			put_str("{auth_authen}");
			put_str(auth);
			put_str("{auth_type}");
			put_str("PLAIN");
		}
		send_pkt();
	}
	begin(SMFIC_MAIL);
	put_str(from);
	if (step("mail", SMFIP_NR_MAIL))
		goto done;
	for (size_t i = 0; i < nrcpts; i++) {
		char name[300];

		begin(SMFIC_RCPT);
		put_str(rcpts[i]);
		snprintf(name, sizeof(name), "rcpt %s", rcpts[i]);
		if (step(name, SMFIP_NR_RCPT))
			goto done;
	}
	if (!(pflags & SMFIP_NODATA)) {
		begin(SMFIC_DATA);
		if (step("data", SMFIP_NR_DATA))
			goto done;
	}
	for (size_t i = 0; i < nh; i++) {
		const char *v = h[i].value;
		size_t vl = h[i].valuelen;

		if (!(pflags & SMFIP_HDR_LEADSPC))
			while (vl > 0 && (*v == ' ' || *v == '\t'))
				v++, vl--;
		begin(SMFIC_HEADER);
		put(h[i].name, h[i].namelen);
		put("", 1);
		put(v, vl);
		put("", 1);
		if (step("header", SMFIP_NR_HDR))
			goto done;
	}
	if (pause_ms > 0)
		usleep((useconds_t)pause_ms * 1000);
	begin(SMFIC_EOH);
	if (step("eoh", SMFIP_NR_EOH))
		goto done;
	if (body(bodyp, raw != NULL ? raw + rawlen : bodyp, gen, line))
		goto done;
	eom();
done:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("ms: %.0f\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3
	    + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	begin(SMFIC_QUIT);		/* best effort: the filter may be gone */
	memcpy(pkt, "\0\0\0\1", 4);
	(void)!write(fd, pkt, plen);
	close(fd);
	for (size_t i = 0; i < nh; i++)
		free(h[i].value);
	free(h);
	free(raw);
	free(pkt);
	return 0;
}
