/*
 * netaddr.h: IP addresses and CIDR lists (the trusted_proxies setting).
 *
 * Every address is held as 16 bytes, IPv4 as an IPv4-mapped IPv6 address
 * (RFC 4291 section 2.5.5.2), so that "127.0.0.1" and "::ffff:127.0.0.1"
 * (what an IPv6 socket reports for an IPv4 client) are one address.
 */
#ifndef LK_NETADDR_H
#define LK_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct netaddr {
	unsigned char b[16];
};

/* Longest netaddr_str output, with its NUL (INET6_ADDRSTRLEN). */
#define NETADDR_STRLEN 46

/* A bare address literal of n bytes: dotted IPv4 or IPv6 text (no
 * brackets, port or zone). false for anything else. */
bool netaddr_parse(const char *s, size_t n, struct netaddr *out);
/* An AF_INET or AF_INET6 socket address; false for other families. */
bool netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *out);
/* Canonical text: dotted IPv4 for IPv4 (mapped or not), else RFC 5952. */
void netaddr_str(const struct netaddr *a, char buf[NETADDR_STRLEN]);

/* A list of addresses and CIDR blocks. */
struct netaddr_list;
/* Parses "ADDR[/PREFIX]" entries separated by commas and/or spaces. An
 * empty spec gives an empty list. Returns 0 and *out (free with
 * netaddr_list_free), or -1 with a message in err naming the entry. */
int netaddr_list_parse(const char *spec, struct netaddr_list **out,
                       char *err, size_t errlen);
size_t netaddr_list_len(const struct netaddr_list *l);
bool netaddr_list_match(const struct netaddr_list *l, const struct netaddr *a);
void netaddr_list_free(struct netaddr_list *l);

#endif
