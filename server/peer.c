/*
 * peer.c: who the client is, behind reverse proxies (trusted_proxies),
 * and the per-address connection limit that follows from it.
 *
 * Without trusted_proxies the client is the socket peer, and
 * libmicrohttpd's own per-address limit (max_connections_per_address)
 * applies, as it always did. With them:
 *
 *   - A request whose peer is trusted names its client in the
 *     forwarded_header: X-Forwarded-For, or Forwarded (RFC 7239 section
 *     5.2, the for= parameter). The hops are read right to left (each
 *     proxy appends the address it received from), trusted hops are
 *     skipped, and the first untrusted address is the client. A hop that
 *     is not an address (RFC 7239's "unknown", an obfuscated name, or
 *     garbage) ends the walk: the client is then the last trusted hop, the
 *     nearest proxy that can be held to account. Nothing is refused for a
 *     malformed header: whatever a client writes there, the proxy appends
 *     its real address to the right of it, and that is what is read.
 *   - Trusted peers are exempt from the per-address connection limit
 *     (every user's connections come from them), so MHD's limit is off
 *     and this file counts connections of untrusted peers itself, at
 *     accept, with the same limit. For forwarded requests the limit
 *     applies to the requests under way per client address instead
 *     (503 past it), since a proxy multiplexes connections.
 *
 * The client's address is what throttling, the access log and the
 * test double's /_control/ loopback check (testdouble/loopback.c) see, in
 * rq->remote_addr. Owns struct peers.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "netaddr.h"
#include "server_int.h"
#include "strutil.h"

#define MAX_HOPS 32
#define BUCKETS 1024

/* Counts per address, in a chained hash table; an entry goes at zero. */
struct count {
	struct count *next;
	struct netaddr a;
	long n;
};

struct counts {
	pthread_mutex_t mu;
	struct count *b[BUCKETS];
};

struct peers {
	struct netaddr_list *trusted; /* NULL: no proxies, MHD limits */
	bool use_forwarded;           /* Forwarded, else X-Forwarded-For */
	long limit;                   /* max_connections_per_address */
	struct counts conns;          /* untrusted peers' connections */
	struct counts reqs;           /* forwarded clients' requests */
};

static size_t bucket_of(const struct netaddr *a)
{
	size_t h = 0;
	for (size_t i = 0; i < sizeof(a->b); i++)
		h = h * 31 + a->b[i];
	return h % BUCKETS;
}

/* Adds d to a's count; returns the count as it was before. */
static long count_add(struct counts *c, const struct netaddr *a, long d)
{
	pthread_mutex_lock(&c->mu);
	struct count **pp = &c->b[bucket_of(a)];
	while (*pp != NULL && memcmp((*pp)->a.b, a->b, 16) != 0)
		pp = &(*pp)->next;
	if (*pp == NULL) {
		*pp = xcalloc(1, sizeof(**pp));
		(*pp)->a = *a;
	}
	long was = (*pp)->n;
	(*pp)->n += d;
	if ((*pp)->n <= 0) {
		struct count *dead = *pp;
		*pp = dead->next;
		free(dead);
	}
	pthread_mutex_unlock(&c->mu);
	return was;
}

static long count_get(struct counts *c, const struct netaddr *a)
{
	long n = 0;
	pthread_mutex_lock(&c->mu);
	for (struct count *e = c->b[bucket_of(a)]; e != NULL; e = e->next)
		if (memcmp(e->a.b, a->b, 16) == 0)
			n = e->n;
	pthread_mutex_unlock(&c->mu);
	return n;
}

static void counts_free(struct counts *c)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		while (c->b[i] != NULL) {
			struct count *e = c->b[i];
			c->b[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&c->mu);
}

int peers_init(struct srv *s, const struct lk_config *cfg, char *err,
               size_t errlen)
{
	struct peers *p = xcalloc(1, sizeof(*p));
	char why[200];
	if (netaddr_list_parse(cfg->trusted_proxies, &p->trusted, why,
	                       sizeof(why)) != 0) {
		snprintf(err, errlen, "setting 'trusted_proxies': %s", why);
		free(p);
		return -1;
	}
	if (netaddr_list_len(p->trusted) == 0) {
		netaddr_list_free(p->trusted);
		p->trusted = NULL;
	}
	p->use_forwarded = strcmp(cfg->forwarded_header, "forwarded") == 0;
	if (p->trusted != NULL)
		log_info("trusted_proxies: %zu address(es) or block(s); the "
		         "client address of their requests comes from %s",
		         netaddr_list_len(p->trusted),
		         p->use_forwarded ? "Forwarded" : "X-Forwarded-For");
	p->limit = cfg->max_connections_per_address;
	pthread_mutex_init(&p->conns.mu, NULL);
	pthread_mutex_init(&p->reqs.mu, NULL);
	s->peers = p;
	return 0;
}

void peers_free(struct srv *s)
{
	struct peers *p = s->peers;
	if (p == NULL)
		return;
	netaddr_list_free(p->trusted);
	counts_free(&p->conns);
	counts_free(&p->reqs);
	free(p);
	s->peers = NULL;
}

bool peers_any_trusted(const struct srv *s)
{
	return s->peers != NULL && s->peers->trusted != NULL;
}

static bool trusted(const struct peers *p, const struct sockaddr *sa,
                    struct netaddr *a)
{
	return netaddr_from_sockaddr(sa, a) && netaddr_list_match(p->trusted, a);
}

enum MHD_Result peers_accept(void *cls, const struct sockaddr *addr,
                             socklen_t addrlen)
{
	struct srv *s = cls;
	struct peers *p = s->peers;
	struct netaddr a;
	(void)addrlen;
	if (p == NULL || p->trusted == NULL || trusted(p, addr, &a))
		return MHD_YES;
	if (!netaddr_from_sockaddr(addr, &a))
		return MHD_YES;
	/* Read here, counted when MHD starts the connection: concurrent
	 * accepts on several workers may pass the limit by at most one
	 * each, never more. */
	return count_get(&p->conns, &a) < p->limit ? MHD_YES : MHD_NO;
}

void peers_on_connection(struct srv *s, struct MHD_Connection *c,
                         enum MHD_ConnectionNotificationCode code)
{
	struct peers *p = s->peers;
	if (p == NULL || p->trusted == NULL)
		return;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct netaddr a;
	if (ci == NULL || trusted(p, ci->client_addr, &a) ||
	    !netaddr_from_sockaddr(ci->client_addr, &a))
		return;
	count_add(&p->conns, &a,
	          code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

/* ---- the forwarded header ------------------------------------------------ */

struct hops {
	const char *want; /* header name */
	bool any;         /* Forwarded or X-Forwarded-For was present */
	char *joined;     /* every line of want, joined with commas */
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value)
{
	struct hops *h = cls;
	(void)kind;
	if (key == NULL || value == NULL)
		return MHD_YES;
	if (strcasecmp(key, "Forwarded") == 0 ||
	    strcasecmp(key, "X-Forwarded-For") == 0)
		h->any = true;
	if (strcasecmp(key, h->want) != 0)
		return MHD_YES;
	/* RFC 9110 section 5.3: several lines of a list header are one list,
	 * in order. */
	char *j = NULL;
	if (asprintf(&j, "%s%s%s", h->joined ? h->joined : "",
	             h->joined ? "," : "", value) < 0)
		abort();
	free(h->joined);
	h->joined = j;
	return MHD_YES;
}

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* An X-Forwarded-For hop or an RFC 7239 node (section 6): ADDR,
 * ADDR:PORT (IPv4), [ADDR] or [ADDR]:PORT (IPv6). */
static bool node_addr(const char *s, size_t n, struct netaddr *a)
{
	while (n > 0 && is_ows(*s))
		s++, n--;
	while (n > 0 && is_ows(s[n - 1]))
		n--;
	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (rb == NULL)
			return false;
		size_t rest = n - (size_t)(rb - s) - 1;
		if (rest != 0 && rb[1] != ':')
			return false;
		return netaddr_parse(s + 1, (size_t)(rb - s) - 1, a);
	}
	const char *colon = memchr(s, ':', n);
	if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)
	                         == NULL)
		n = (size_t)(colon - s); /* IPv4:PORT; bare IPv6 has several */
	return netaddr_parse(s, n, a);
}

/* The for= value of one Forwarded element (RFC 7239 section 4:
 * pairs separated by ';', a value a token or a quoted-string), unquoted
 * into buf. false when the element has none or is malformed. */
static bool forwarded_for(const char *s, size_t n, char *buf, size_t len)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (is_ows(s[i]) || s[i] == ';'))
			i++;
		size_t name = i;
		while (i < n && s[i] != '=' && s[i] != ';')
			i++;
		if (i >= n || s[i] != '=')
			return false;
		bool is_for = i - name == 3 && strncasecmp(s + name, "for", 3) == 0;
		size_t o = 0;
		i++;
		if (i < n && s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				if (o + 1 >= len)
					return false;
				buf[o++] = s[i];
			}
			if (i >= n)
				return false; /* unterminated */
			i++;
		} else {
			for (; i < n && s[i] != ';' && !is_ows(s[i]); i++) {
				if (o + 1 >= len)
					return false;
				buf[o++] = s[i];
			}
		}
		buf[o] = '\0';
		if (is_for)
			return true;
	}
	return false;
}

/* Whether the '"' at s[i], inside a quoted string, is a quoted-pair
 * (RFC 9110 section 5.6.4): an odd run of backslashes before it. */
static bool escaped(const char *s, size_t i)
{
	size_t k = 0;
	while (k < i && s[i - k - 1] == '\\')
		k++;
	return k % 2 == 1;
}

/* Splits a list at its commas, nearest (rightmost) hop first: out gets up
 * to max [start, end) pairs, the rest (the farthest) is dropped. Returns
 * how many. Read from the right because only the right part is known to
 * be well formed: each trusted proxy appended its hop there, and the left
 * part is whatever the client wrote. Read from the left, a '"' the client
 * left open would swallow the proxies' hops into one quoted string. With
 * quotes (Forwarded), a comma in a quoted-string does not split;
 * X-Forwarded-For has no quoted strings. */
static size_t split_list(const char *s, bool quotes, size_t starts[],
                         size_t ends[], size_t max)
{
	size_t n = 0, end = strlen(s);
	bool quoted = false;
	for (size_t i = end; i-- > 0 && n < max;) {
		if (quotes && s[i] == '"') {
			if (!quoted)
				quoted = true; /* the closing quote, seen first */
			else if (!escaped(s, i))
				quoted = false;
		} else if (s[i] == ',' && !quoted) {
			starts[n] = i + 1;
			ends[n++] = end;
			end = i;
		}
	}
	if (n < max) {
		starts[n] = 0;
		ends[n++] = end;
	}
	return n;
}

/* Walks the hops right to left from the trusted peer. */
static struct netaddr client_of(const struct peers *p, const char *list,
                                struct netaddr peer)
{
	size_t starts[MAX_HOPS], ends[MAX_HOPS];
	size_t n = split_list(list, p->use_forwarded, starts, ends, MAX_HOPS);
	struct netaddr client = peer;
	for (size_t k = 0; k < n; k++) {
		const char *h = list + starts[k];
		size_t hl = ends[k] - starts[k];
		char node[128];
		struct netaddr a;
		bool ok = p->use_forwarded
		              ? forwarded_for(h, hl, node, sizeof(node)) &&
		                    node_addr(node, strlen(node), &a)
		              : node_addr(h, hl, &a);
		if (!ok)
			break; /* the last trusted hop is all we know */
		client = a;
		if (!netaddr_list_match(p->trusted, &a))
			break;
	}
	return client;
}

bool peers_resolve(struct srv_req *rq)
{
	struct peers *p = rq->srv->peers;
	if (p == NULL || p->trusted == NULL)
		return true;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct netaddr peer;
	if (ci == NULL || !trusted(p, ci->client_addr, &peer))
		return true; /* the socket peer it is; its headers mean nothing */
	struct hops h = {.want = p->use_forwarded ? "Forwarded"
	                                          : "X-Forwarded-For"};
	MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, collect, &h);
	/* /_control/ must never take a forwarded request for a local one. */
	rq->forwarded = h.any;
	if (h.joined == NULL)
		return true; /* the proxy's own request (a health check) */
	struct netaddr client = client_of(p, h.joined, peer);
	free(h.joined);
	netaddr_str(&client, rq->remote_addr);
	rq->client_addr = client;
	rq->addr_counted = true;
	if (count_add(&p->reqs, &client, 1) < p->limit)
		return true;
	log_warnx("more than %ld requests at once from %s (through a trusted "
	          "proxy): refused", p->limit, rq->remote_addr);
	return false;
}

void peers_request_done(struct srv_req *rq)
{
	if (rq->addr_counted)
		count_add(&rq->srv->peers->reqs, &rq->client_addr, -1);
	rq->addr_counted = false;
}
