/*
 * dkim_keys - decoded DKIM public keys, kept for reuse.
 *
 * libopendkim decodes the key of every RSA signature it verifies with
 * libcrypto's d2i_PUBKEY_bio(). OpenSSL 3.0 does that through its
 * decoder framework, which walks every provider's decoders and key
 * managers on each call: about a seventh of tollgate's CPU per message
 * (tests/bench, perf). Senders sign with the same few keys all day, so
 * dkim_keys.c defines d2i_PUBKEY_bio itself: the executable comes first
 * in the dynamic linker's search order, so libopendkim's calls land
 * there. A key is found again by its DER bytes (the same bytes are the
 * same key: nothing to expire); other callers and other BIO types get
 * exactly what libcrypto's function gives.
 */
#ifndef TG_CHECKS_DKIM_KEYS_H
#define TG_CHECKS_DKIM_KEYS_H

#include <stddef.h>

/* tg_dkim_keys_init - before libopendkim's first dkim_init(): asks
   libcrypto not to load what libopendkim would have it load and DKIM
   never uses (error strings, every cipher and digest by name: ~0.7 MB
   of memory per process). Verification fetches its algorithms anyway. */
void tg_dkim_keys_init(void);

struct tg_dkim_keys_stats {
	unsigned long hits;		/* decodes answered from the table */
	unsigned long misses;		/* decodes done by libcrypto */
	size_t entries;			/* keys held now */
};

/* tg_dkim_keys_stats - counters since start (or the last clear) */
void tg_dkim_keys_stats(struct tg_dkim_keys_stats *st);

/* tg_dkim_keys_clear - drop every key held (a new config snapshot, or
   exit); keys in use by a verification stay valid until it ends */
void tg_dkim_keys_clear(void);

#endif
