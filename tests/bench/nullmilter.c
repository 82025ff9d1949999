/*
 * nullmilter - a do-nothing libmilter filter for the benchmark: the
 * physical limit of any filter built on libmilter that reads every
 * phase. It asks for every protocol step, looks at every argument it
 * is given (so the data really crosses into the filter) and always
 * answers "continue".
 *
 *   nullmilter -p SOCKET [-N] [-P PIDFILE]
 *
 * SOCKET is a libmilter connection spec (unix:/path, inet:PORT@ADDR).
 * -N negotiates the no-reply flags (SMFIP_NR_*) for every step whose
 * answer can only be "continue" (connect, HELO, MAIL, RCPT, DATA,
 * header, end of headers, body, unknown): the MTA then waits for an
 * answer at end of message only. The socket is created mode 0666 so
 * that an MTA running as another user can connect. SIGTERM stops it
 * (libmilter's own signal thread).
 *
 * Not part of "make check": built by "make bench" only.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#define NR_ALL (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT \
	| SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY)

static bool noreply;		/* -N */

/* per connection: a byte count, so the callbacks touch their data */
struct nconn {
	unsigned long long bytes;
	unsigned long nreply;	/* SMFIP_NR_* agreed for this connection */
};

/* conn - the private data, created on first use */
static struct nconn *
conn(SMFICTX *ctx)
{
	struct nconn *c = smfi_getpriv(ctx);

	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return NULL;
		smfi_setpriv(ctx, c);
	}
	return c;
}

/* cont - "continue", or no reply when it was negotiated for the step */
static sfsistat
cont(SMFICTX *ctx, unsigned long flag)
{
	struct nconn *c = conn(ctx);

	return c != NULL && (c->nreply & flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* count - touch a string argument */
static void
count(SMFICTX *ctx, const char *s)
{
	struct nconn *c = conn(ctx);

	if (c != NULL && s != NULL)
		c->bytes += strlen(s);
}

static sfsistat
n_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
    unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
    unsigned long *pf3)
{
	struct nconn *c = conn(ctx);

	*pf0 = 0;		/* no modifications */
	*pf1 = noreply ? (f1 & NR_ALL) : 0;
	*pf2 = *pf3 = 0;
	if (c != NULL)
		c->nreply = *pf1;
	return SMFIS_CONTINUE;
}

static sfsistat
n_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	count(ctx, host);
	count(ctx, smfi_getsymval(ctx, "j"));
	return cont(ctx, SMFIP_NR_CONN);
}

static sfsistat
n_helo(SMFICTX *ctx, char *helo)
{
	count(ctx, helo);
	return cont(ctx, SMFIP_NR_HELO);
}

static sfsistat
n_envfrom(SMFICTX *ctx, char **argv)
{
	for (int i = 0; argv[i] != NULL; i++)
		count(ctx, argv[i]);
	return cont(ctx, SMFIP_NR_MAIL);
}

static sfsistat
n_envrcpt(SMFICTX *ctx, char **argv)
{
	for (int i = 0; argv[i] != NULL; i++)
		count(ctx, argv[i]);
	return cont(ctx, SMFIP_NR_RCPT);
}

static sfsistat
n_data(SMFICTX *ctx)
{
	return cont(ctx, SMFIP_NR_DATA);
}

static sfsistat
n_unknown(SMFICTX *ctx, const char *cmd)
{
	count(ctx, cmd);
	return cont(ctx, SMFIP_NR_UNKN);
}

static sfsistat
n_header(SMFICTX *ctx, char *name, char *value)
{
	count(ctx, name);
	count(ctx, value);
	return cont(ctx, SMFIP_NR_HDR);
}

static sfsistat
n_eoh(SMFICTX *ctx)
{
	return cont(ctx, SMFIP_NR_EOH);
}

static sfsistat
n_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct nconn *c = conn(ctx);

	if (c != NULL && len > 0)
		c->bytes += len + chunk[len - 1];
	return cont(ctx, SMFIP_NR_BODY);
}

static sfsistat
n_eom(SMFICTX *ctx)
{
	count(ctx, smfi_getsymval(ctx, "i"));
	return SMFIS_CONTINUE;
}

static sfsistat
n_abort(SMFICTX *ctx)
{
	return SMFIS_CONTINUE;
}

static sfsistat
n_close(SMFICTX *ctx)
{
	free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = "nullmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_connect = n_connect,
	.xxfi_helo = n_helo,
	.xxfi_envfrom = n_envfrom,
	.xxfi_envrcpt = n_envrcpt,
	.xxfi_header = n_header,
	.xxfi_eoh = n_eoh,
	.xxfi_body = n_body,
	.xxfi_eom = n_eom,
	.xxfi_abort = n_abort,
	.xxfi_close = n_close,
	.xxfi_unknown = n_unknown,
	.xxfi_data = n_data,
	.xxfi_negotiate = n_negotiate,
};

static void
usage(void)
{
	fputs("usage: nullmilter -p SOCKET [-N] [-P PIDFILE]\n", stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *sock = NULL, *pidfile = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "Np:P:")) != -1) {
		switch (ch) {
		case 'N': noreply = true; break;
		case 'p': sock = optarg; break;
		case 'P': pidfile = optarg; break;
		default: usage();
		}
	}
	if (sock == NULL || optind != argc)
		usage();
	if (smfi_setconn((char *)sock) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS) {
		fprintf(stderr, "nullmilter: cannot register on %s\n", sock);
		return 1;
	}
	smfi_settimeout(30);
	umask(0);
	if (smfi_opensocket(true) != MI_SUCCESS) {
		fprintf(stderr, "nullmilter: cannot open %s\n", sock);
		return 1;
	}
	if (pidfile != NULL) {
		FILE *fp = fopen(pidfile, "w");

		if (fp != NULL) {
			fprintf(fp, "%ld\n", (long)getpid());
			fclose(fp);
		}
	}
	fprintf(stderr, "nullmilter: listening on %s%s\n", sock, noreply ? " (no-reply flags)" : "");
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
