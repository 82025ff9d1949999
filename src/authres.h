/*
 * authres - the RFC 8601 Authentication-Results header: writing ours,
 * and recognising headers that claim to be ours (forged, or left by a
 * previous hop) so they can be removed before ours is added.
 */
#ifndef TG_AUTHRES_H
#define TG_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

struct tg_msg;
struct tg_strbuf;

/* tg_authres_value - our header's value: "authserv-id;\n\tspf=pass ...;
   \n\tdkim=..." with every spf, dkim and dmarc result (and auth for
   SMTP AUTH), or "authserv-id; none" when no method ran */
void tg_authres_value(const struct tg_msg *msg, const char *authserv_id,
    struct tg_strbuf *out);

/* tg_authres_received_spf - an RFC 7208 Received-SPF value for the SPF
   result; false (nothing written) when SPF did not run */
bool tg_authres_received_spf(const struct tg_msg *msg, const char *receiver,
    struct tg_strbuf *out);

/* tg_authres_is_ours - value starts with authserv_id (any case, after
   comments and white space, optionally followed by a version) */
bool tg_authres_is_ours(const char *value, const char *authserv_id);

/* tg_authres_forged - 1-based indexes, among the message's headers of
   that name, of the Authentication-Results headers claiming our
   authserv-id; returns how many (at most max stored, highest first so
   they can be deleted in that order) */
size_t tg_authres_forged(const struct tg_msg *msg, const char *authserv_id,
    int *idx, size_t max);

#endif
