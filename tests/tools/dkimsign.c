/*
 * dkimsign - sign a message with libopendkim, for the functional tests.
 *
 *   dkimsign -d DOMAIN -s SELECTOR -k KEYFILE [-a ALG] [-c HDR/BODY] [-l]
 *            [-t UNIXTIME] [-x SECONDS] < message > signed-message
 *
 * ALG is rsa-sha256 (default), ed25519-sha256 or rsa-sha1; -c takes
 * simple or relaxed for the header and the body (default
 * relaxed/relaxed); -l adds l= (the whole body); -t fixes the signing
 * time t=, -x adds x= that many seconds after it. KEYFILE is a PEM
 * private key (RSA or ed25519, as openssl writes them). Any key size
 * is accepted, so that tests can make signatures with keys too small.
 * Every header field is signed except those RFC 6376 5.4 says not to
 * and other DKIM-Signature fields (as common signers do).
 *
 * The message is read whole (LF or CRLF line ends) and written back in
 * CRLF form with the new DKIM-Signature field on top. Exit 0, 1 on a
 * signing error, 2 on bad usage, 77 when libopendkim lacks ALG.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <dkim.h>

static void
usage(void)
{
	fputs("usage: dkimsign -d DOMAIN -s SELECTOR -k KEYFILE [-a rsa-sha256|"
	    "ed25519-sha256|rsa-sha1]\n"
	    "                [-c simple|relaxed/simple|relaxed] [-l] [-t TIME] [-x SECONDS]"
	    " < msg\n", stderr);
	exit(2);
}

/* slurp - all of fp; LF line ends become CRLF */
static unsigned char *
slurp(FILE *fp, size_t *len_r)
{
	size_t len = 0, cap = 4096;
	unsigned char *buf = malloc(cap);
	int c, prev = 0;

	if (buf == NULL)
		return NULL;
	while ((c = getc(fp)) != EOF) {
		if (len + 2 >= cap) {
			unsigned char *nb = realloc(buf, cap *= 2);

			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		if (c == '\n' && prev != '\r')
			buf[len++] = '\r';
		buf[len++] = (unsigned char)c;
		prev = c;
	}
	*len_r = len;
	return buf;
}

static dkim_canon_t
canon(const char *s)
{
	if (strcmp(s, "simple") == 0)
		return DKIM_CANON_SIMPLE;
	if (strcmp(s, "relaxed") == 0)
		return DKIM_CANON_RELAXED;
	usage();
	return DKIM_CANON_UNKNOWN;
}

int
main(int argc, char **argv)
{
	const char *domain = NULL, *selector = NULL, *keyfile = NULL;
	const char *alg = "rsa-sha256", *c = "relaxed/relaxed";
	bool withlen = false;
	uint64_t fixed = 0, ttl = 0;
	dkim_canon_t hc, bc;
	dkim_alg_t sa;
	unsigned char *key, *msg, *hdr;
	size_t keylen, msglen, hdrlen;
	unsigned int bits = 0, flags = 0;
	const char *skip[] = { "DKIM-Signature", "Authentication-Results", "Return-Path",
		"Received", "Comments", "Keywords", NULL };
	char *slash, ccopy[64];
	DKIM_LIB *lib;
	DKIM *dkim;
	DKIM_STAT stat;
	FILE *fp;
	int ch;

	while ((ch = getopt(argc, argv, "a:c:d:k:ls:t:x:")) != -1) {
		switch (ch) {
		case 'a': alg = optarg; break;
		case 'c': c = optarg; break;
		case 'd': domain = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'l': withlen = true; break;
		case 's': selector = optarg; break;
		case 't': fixed = strtoull(optarg, NULL, 10); break;
		case 'x': ttl = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (domain == NULL || selector == NULL || keyfile == NULL || optind != argc)
		usage();
	snprintf(ccopy, sizeof(ccopy), "%s", c);
	slash = strchr(ccopy, '/');
	if (slash != NULL)
		*slash++ = '\0';
	hc = canon(ccopy);
	bc = canon(slash != NULL ? slash : "simple");
	if (strcmp(alg, "rsa-sha256") == 0)
		sa = DKIM_SIGN_RSASHA256;
	else if (strcmp(alg, "rsa-sha1") == 0)
		sa = DKIM_SIGN_RSASHA1;
	else if (strcmp(alg, "ed25519-sha256") == 0)
		sa = DKIM_SIGN_ED25519SHA256;
	else
		usage();

	if ((fp = fopen(keyfile, "r")) == NULL) {
		perror(keyfile);
		return 1;
	}
	key = slurp(fp, &keylen);
	fclose(fp);
	msg = slurp(stdin, &msglen);
	if (key == NULL || msg == NULL) {
		fputs("dkimsign: out of memory\n", stderr);
		return 1;
	}
	key[keylen] = '\0';

	lib = dkim_init(NULL, NULL);
	if (lib == NULL) {
		fputs("dkimsign: dkim_init failed\n", stderr);
		return 1;
	}
	if (sa == DKIM_SIGN_ED25519SHA256 && !dkim_libfeature(lib, DKIM_FEATURE_ED25519)) {
		fputs("dkimsign: libopendkim has no ed25519\n", stderr);
		return 77;
	}
	(void)dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &bits, sizeof(bits));
	if (withlen)
		flags |= DKIM_LIBFLAGS_SIGNLEN;
	(void)dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags));
	(void)dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SKIPHDRS, skip, sizeof(char **));
	if (fixed != 0)
		(void)dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &fixed, sizeof(fixed));
	if (ttl != 0)
		(void)dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNATURETTL, &ttl, sizeof(ttl));

	dkim = dkim_sign(lib, (const unsigned char *)"dkimsign", NULL, key,
	    (const unsigned char *)selector, (const unsigned char *)domain, hc, bc, sa,
	    -1, &stat);
	if (dkim == NULL) {
		fprintf(stderr, "dkimsign: dkim_sign: %s\n", dkim_getresultstr(stat));
		return 1;
	}
	stat = dkim_chunk(dkim, msg, msglen);
	if (stat == DKIM_STAT_OK)
		stat = dkim_chunk(dkim, NULL, 0);
	if (stat == DKIM_STAT_OK)
		stat = dkim_eom(dkim, NULL);
	if (stat == DKIM_STAT_OK)
		stat = dkim_getsighdr_d(dkim, strlen(DKIM_SIGNHEADER) + 2, &hdr, &hdrlen);
	if (stat != DKIM_STAT_OK) {
		fprintf(stderr, "dkimsign: %s: %s\n", dkim_getresultstr(stat),
		    dkim_geterror(dkim) ? dkim_geterror(dkim) : "");
		return 1;
	}
	printf("%s: ", DKIM_SIGNHEADER);
	fwrite(hdr, 1, hdrlen, stdout);
	fputs("\r\n", stdout);
	fwrite(msg, 1, msglen, stdout);
	dkim_free(dkim);
	dkim_close(lib);
	free(key);
	free(msg);
	return fflush(stdout) == 0 ? 0 : 1;
}
