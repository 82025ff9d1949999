/*
 * cidr - IPv4/IPv6 address and network parsing and matching.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "xmalloc.h"

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* set_v6 - store a v6 address, folding v4-mapped to v4 */
static void
set_v6(struct tg_ip *ip, const uint8_t a[16])
{
	memset(ip, 0, sizeof(*ip));
	if (memcmp(a, v4mapped, 12) == 0) {
		ip->family = AF_INET;
		memcpy(ip->a, a + 12, 4);
	} else {
		ip->family = AF_INET6;
		memcpy(ip->a, a, 16);
	}
}

int
tg_ip_parse(const char *s, struct tg_ip *ip_r)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t len = strlen(s);
	uint8_t a[16];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strncasecmp(buf, "ipv6:", 5) == 0)
		memmove(buf, buf + 5, len - 4);
	memset(ip_r, 0, sizeof(*ip_r));
	if (inet_pton(AF_INET, buf, a) == 1) {
		ip_r->family = AF_INET;
		memcpy(ip_r->a, a, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, a) == 1) {
		set_v6(ip_r, a);
		return 0;
	}
	return -1;
}

int
tg_ip_from_sockaddr(const struct sockaddr *sa, struct tg_ip *ip_r)
{
	memset(ip_r, 0, sizeof(*ip_r));
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;

		ip_r->family = AF_INET;
		memcpy(ip_r->a, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;

		set_v6(ip_r, sin6->sin6_addr.s6_addr);
		return 0;
	}
	return -1;
}

void
tg_ip_format(const struct tg_ip *ip, char *buf, size_t len)
{
	if (inet_ntop(ip->family, ip->a, buf, (socklen_t)len) == NULL && len > 0)
		buf[0] = '\0';
}

int
tg_cidr_parse(const char *s, struct tg_cidr *cidr_r, const char **error_r)
{
	char buf[INET6_ADDRSTRLEN + 16];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned int max, i;
	char *end;
	unsigned long prefix;

	if (alen == 0 || alen >= sizeof(buf)) {
		*error_r = "expected an IPv4 or IPv6 address";
		return -1;
	}
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (tg_ip_parse(buf, &cidr_r->net) < 0) {
		*error_r = "expected an IPv4 or IPv6 address";
		return -1;
	}
	max = cidr_r->net.family == AF_INET ? 32 : 128;
	/* a v4-mapped network written in v6 form: shift the prefix */
	if (cidr_r->net.family == AF_INET && strchr(buf, ':') != NULL)
		max = 128;
	if (slash == NULL) {
		prefix = max;
	} else {
		if (slash[1] < '0' || slash[1] > '9') {
			*error_r = "expected a prefix length after '/'";
			return -1;
		}
		prefix = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || prefix > max) {
			*error_r = max == 32 ? "expected a prefix length 0-32"
			    : "expected a prefix length 0-128";
			return -1;
		}
	}
	if (max == 128 && cidr_r->net.family == AF_INET) {
		if (prefix < 96) {
			*error_r = "IPv4-mapped network prefix must be at least 96";
			return -1;
		}
		prefix -= 96;
	}
	cidr_r->prefix = (unsigned int)prefix;
	for (i = 0; i < 16; i++) {
		unsigned int bit = i * 8;
		uint8_t mask = bit >= prefix ? 0 : prefix - bit >= 8 ? 0xff
		    : (uint8_t)(0xff << (8 - (prefix - bit)));

		if ((cidr_r->net.a[i] & (uint8_t)~mask) != 0) {
			*error_r = "address has bits set beyond the prefix length";
			return -1;
		}
	}
	return 0;
}

bool
tg_cidr_contains(const struct tg_cidr *cidr, const struct tg_ip *ip)
{
	unsigned int full = cidr->prefix / 8, rest = cidr->prefix % 8;

	if (cidr->net.family != ip->family)
		return false;
	if (memcmp(cidr->net.a, ip->a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((cidr->net.a[full] ^ ip->a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

void
tg_cidrlist_add(struct tg_cidrlist *l, const struct tg_cidr *cidr)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = *cidr;
}

bool
tg_cidrlist_contains(const struct tg_cidrlist *l, const struct tg_ip *ip)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (tg_cidr_contains(&l->v[i], ip))
			return true;
	return false;
}

void
tg_cidrlist_free(struct tg_cidrlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
