/*
 * dkim_keys - decoded DKIM public keys, kept for reuse (see dkim_keys.h
 * for why this file defines libcrypto's d2i_PUBKEY_bio).
 *
 * The table: SLOTS entries, direct-mapped by a hash of the DER bytes,
 * each holding a copy of the bytes and one reference to the EVP_PKEY.
 * A hit hands out another reference (EVP_PKEY_up_ref), so the caller's
 * EVP_PKEY_free works as ever and a key replaced in the table stays
 * valid for whoever still holds it. OpenSSL allows one EVP_PKEY to be
 * used by many threads at once for verification; the legacy RSA copy
 * libopendkim asks for (EVP_PKEY_get1_RSA) is cached inside the
 * EVP_PKEY under its own lock, so it is made once per key as well.
 *
 * Only memory BIOs (what libopendkim passes) with no object to reuse
 * (a == NULL) are looked up; the BIO is read past the key as the real
 * function would. Everything else, and every miss, is libcrypto's own
 * d2i_PUBKEY_bio, found behind us with dlvsym(RTLD_NEXT).
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "checks/dkim_keys.h"
#include "util/xmalloc.h"

#define SLOTS 64		/* keys held at most (~3 KB each for RSA-2048) */
#define MAX_DER 2048		/* larger keys (RSA > 16384 bits) are not kept */

struct slot {
	uint64_t hash;
	size_t len;
	unsigned char *der;
	EVP_PKEY *key;
};

typedef EVP_PKEY *d2i_fn(BIO *, EVP_PKEY **);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot table[SLOTS];
static unsigned long hits, misses;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static d2i_fn *real_d2i;

/* fallback - what libcrypto's d2i_PUBKEY_bio does, should it not be
   found behind us (a static libcrypto, say) */
static EVP_PKEY *
fallback(BIO *bp, EVP_PKEY **a)
{
	return ASN1_d2i_bio_of(EVP_PKEY, EVP_PKEY_new, d2i_PUBKEY, bp, a);
}

static void
find_real(void)
{
	void *f = dlvsym(RTLD_NEXT, "d2i_PUBKEY_bio", "OPENSSL_3.0.0");

	if (f == NULL)
		f = dlsym(RTLD_NEXT, "d2i_PUBKEY_bio");
	/* a data pointer to a function pointer: what dlsym(3) prescribes */
	if (f != NULL)
		memcpy(&real_d2i, &f, sizeof(real_d2i));
	else
		real_d2i = fallback;
}

/* decode - libcrypto's answer */
static EVP_PKEY *
decode(BIO *bp, EVP_PKEY **a)
{
	pthread_once(&real_once, find_real);
	return real_d2i(bp, a);
}

/* fnv1a - 64-bit FNV-1a */
static uint64_t
fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n-- > 0) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct slot *
slot_of(uint64_t hash)
{
	return &table[hash % SLOTS];
}

static void
slot_clear(struct slot *s)
{
	EVP_PKEY_free(s->key);
	free(s->der);
	memset(s, 0, sizeof(*s));
}

/* lookup - a new reference to the key of these bytes, or NULL */
static EVP_PKEY *
lookup(const unsigned char *der, size_t len, uint64_t hash)
{
	struct slot *s = slot_of(hash);
	EVP_PKEY *key = NULL;

	pthread_mutex_lock(&lock);
	if (s->key != NULL && s->hash == hash && s->len == len && memcmp(s->der, der, len) == 0
	    && EVP_PKEY_up_ref(s->key) == 1)
		key = s->key;
	if (key != NULL)
		hits++;
	else
		misses++;
	pthread_mutex_unlock(&lock);
	return key;
}

/* keep - remember key (a reference of our own) for these bytes */
static void
keep(const unsigned char *der, size_t len, uint64_t hash, EVP_PKEY *key)
{
	unsigned char *copy;
	struct slot *s = slot_of(hash);

	if (EVP_PKEY_up_ref(key) != 1)
		return;
	copy = xmalloc(len);
	memcpy(copy, der, len);
	pthread_mutex_lock(&lock);
	slot_clear(s);
	s->hash = hash;
	s->len = len;
	s->der = copy;
	s->key = key;
	pthread_mutex_unlock(&lock);
}

/* skip - read n bytes off the BIO, as decoding them would have */
static void
skip(BIO *bp, size_t n)
{
	unsigned char buf[256];

	while (n > 0) {
		int got = BIO_read(bp, buf, (int)(n < sizeof(buf) ? n : sizeof(buf)));

		if (got <= 0)
			break;
		n -= (size_t)got;
	}
}

EVP_PKEY *
d2i_PUBKEY_bio(BIO *bp, EVP_PKEY **a)
{
	unsigned char der[MAX_DER];
	char *data = NULL;
	long len = 0;
	uint64_t hash;
	EVP_PKEY *key;

	if (bp != NULL && a == NULL && BIO_method_type(bp) == BIO_TYPE_MEM)
		len = BIO_get_mem_data(bp, &data);
	if (len <= 0 || len > MAX_DER || data == NULL)
		return decode(bp, a);
	/* a copy: reading a writable memory BIO may move its data */
	memcpy(der, data, (size_t)len);
	hash = fnv1a(der, (size_t)len);
	key = lookup(der, (size_t)len, hash);
	if (key != NULL) {
		skip(bp, (size_t)len);
		return key;
	}
	key = decode(bp, NULL);
	if (key != NULL)
		keep(der, (size_t)len, hash, key);
	return key;
}

void
tg_dkim_keys_init(void)
{
	/* the first request wins: libopendkim's later OpenSSL_add_all_*
	   and ERR_load_crypto_strings become no-ops */
	(void)OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS
	    | OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS, NULL);
}

void
tg_dkim_keys_stats(struct tg_dkim_keys_stats *st)
{
	pthread_mutex_lock(&lock);
	st->hits = hits;
	st->misses = misses;
	st->entries = 0;
	for (size_t i = 0; i < SLOTS; i++)
		st->entries += table[i].key != NULL;
	pthread_mutex_unlock(&lock);
}

void
tg_dkim_keys_clear(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < SLOTS; i++)
		slot_clear(&table[i]);
	hits = misses = 0;
	pthread_mutex_unlock(&lock);
}
