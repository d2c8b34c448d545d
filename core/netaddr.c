/*
 * netaddr.c: IP address literals and CIDR lists (see netaddr.h). Owns
 * only the arithmetic: which addresses are trusted, and what a forwarded
 * header says, is server/peer.c's business.
 */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

static const unsigned char v4_prefix[12] = {0, 0, 0, 0, 0, 0,
                                            0, 0, 0, 0, 0xff, 0xff};

static bool is_v4(const struct netaddr *a)
{
	return memcmp(a->b, v4_prefix, 12) == 0;
}

bool netaddr_parse(const char *s, size_t n, struct netaddr *out)
{
	char buf[NETADDR_STRLEN];
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	struct in_addr v4;
	if (strchr(buf, ':') == NULL) {
		/* inet_pton takes exactly four dotted decimals, no octal or
		 * short forms (unlike inet_aton). */
		if (inet_pton(AF_INET, buf, &v4) != 1)
			return false;
		memcpy(out->b, v4_prefix, 12);
		memcpy(out->b + 12, &v4, 4);
		return true;
	}
	return inet_pton(AF_INET6, buf, out->b) == 1;
}

bool netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *out)
{
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(out->b, v4_prefix, 12);
		memcpy(out->b + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(out->b, &in6->sin6_addr, 16);
		return true;
	}
	return false;
}

void netaddr_str(const struct netaddr *a, char buf[NETADDR_STRLEN])
{
	if (is_v4(a))
		inet_ntop(AF_INET, a->b + 12, buf, NETADDR_STRLEN);
	else
		inet_ntop(AF_INET6, a->b, buf, NETADDR_STRLEN);
}

/* ---- lists ---------------------------------------------------------------- */

struct block {
	struct netaddr net;
	unsigned prefix; /* bits of net that must match, 0 to 128 */
};

struct netaddr_list {
	size_t n;
	struct block *v;
};

static bool prefix_match(const struct netaddr *a, const struct netaddr *net,
                         unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	if (memcmp(a->b, net->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a->b[full] & mask) == (net->b[full] & mask);
}

/* One "ADDR" or "ADDR/PREFIX" of n bytes. */
static int parse_block(const char *s, size_t n, struct block *out, char *err,
                       size_t errlen)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	if (!netaddr_parse(s, alen, &out->net)) {
		snprintf(err, errlen, "'%.*s' is not an IPv4 or IPv6 address or "
		         "CIDR block", (int)(n > 64 ? 64 : n), s);
		return -1;
	}
	unsigned max = is_v4(&out->net) ? 32 : 128;
	unsigned bits = max;
	if (slash != NULL) {
		const char *p = slash + 1, *end = s + n;
		bits = 0;
		if (p == end || end - p > 3)
			bits = 999;
		for (; p < end && bits <= max; p++)
			bits = *p >= '0' && *p <= '9' ? bits * 10 + (unsigned)(*p - '0')
			                              : 999;
		if (bits > max) {
			snprintf(err, errlen, "'%.*s': the prefix length must be 0 "
			         "to %u", (int)(n > 64 ? 64 : n), s, max);
			return -1;
		}
	}
	out->prefix = max == 32 ? 96 + bits : bits;
	/* Host bits set (10.0.0.1/8) is most likely a typo for one host. */
	struct netaddr masked = {{0}};
	for (unsigned i = 0; i < out->prefix; i++)
		masked.b[i / 8] |= out->net.b[i / 8] & (0x80 >> (i % 8));
	if (memcmp(masked.b, out->net.b, 16) != 0) {
		snprintf(err, errlen, "'%.*s' has bits set past its prefix "
		         "length", (int)(n > 64 ? 64 : n), s);
		return -1;
	}
	return 0;
}

int netaddr_list_parse(const char *spec, struct netaddr_list **out,
                       char *err, size_t errlen)
{
	struct netaddr_list *l = xcalloc(1, sizeof(*l));
	const char *p = spec;
	*out = NULL;
	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		size_t n = strcspn(p, ", \t");
		struct block b;
		if (parse_block(p, n, &b, err, errlen) != 0) {
			netaddr_list_free(l);
			return -1;
		}
		struct block *v = realloc(l->v, (l->n + 1) * sizeof(*v));
		if (v == NULL)
			abort();
		l->v = v;
		l->v[l->n++] = b;
		p += n;
	}
	*out = l;
	return 0;
}

size_t netaddr_list_len(const struct netaddr_list *l)
{
	return l ? l->n : 0;
}

bool netaddr_list_match(const struct netaddr_list *l, const struct netaddr *a)
{
	for (size_t i = 0; l != NULL && i < l->n; i++)
		if (prefix_match(a, &l->v[i].net, l->v[i].prefix))
			return true;
	return false;
}

void netaddr_list_free(struct netaddr_list *l)
{
	if (l == NULL)
		return;
	free(l->v);
	free(l);
}
