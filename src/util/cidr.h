/*
 * cidr - IPv4/IPv6 addresses and networks.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are stored as IPv4, so a
 * v4 network matches a client that Postfix reports in mapped form.
 */
#ifndef TG_CIDR_H
#define TG_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

struct tg_ip {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t a[16];			/* network order; v4 uses a[0..3] */
};

struct tg_cidr {
	struct tg_ip net;		/* host bits cleared */
	unsigned int prefix;
};

/* a growable list of networks; zero-initialise, free with tg_cidrlist_free */
struct tg_cidrlist {
	struct tg_cidr *v;
	size_t n, cap;
};

/* tg_ip_parse - parse a textual address ("[...]" allowed); 0 or -1 */
int tg_ip_parse(const char *s, struct tg_ip *ip_r);
/* tg_ip_from_sockaddr - 0, or -1 when sa is NULL or not IP */
int tg_ip_from_sockaddr(const struct sockaddr *sa, struct tg_ip *ip_r);
/* tg_ip_format - text form into buf (INET6_ADDRSTRLEN bytes) */
void tg_ip_format(const struct tg_ip *ip, char *buf, size_t len);

/* tg_cidr_parse - "addr" or "addr/prefix"; -1 with *error_r on error.
   Host bits set beyond the prefix are an error, as in Postfix
   ("192.0.2.1/24" is almost always a typo for "192.0.2.0/24"). */
int tg_cidr_parse(const char *s, struct tg_cidr *cidr_r, const char **error_r);
bool tg_cidr_contains(const struct tg_cidr *cidr, const struct tg_ip *ip);

void tg_cidrlist_add(struct tg_cidrlist *l, const struct tg_cidr *cidr);
bool tg_cidrlist_contains(const struct tg_cidrlist *l, const struct tg_ip *ip);
void tg_cidrlist_free(struct tg_cidrlist *l);

#endif
