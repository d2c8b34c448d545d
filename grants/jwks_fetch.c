/*
 * jwks_fetch.c: the public keys of a client that publishes them at a
 * jwks_uri (private_key_jwt), fetched with libcurl and cached.
 *
 * A client chooses its jwks_uri, so a fetch must not become a way to make
 * the server call what only it can reach (server-side request forgery).
 * The rule (docs/service-auth.md, "Keys at a jwks_uri"): https only; the
 * host is resolved here, and every address that is loopback, link-local,
 * private, shared (CGNAT), multicast, reserved or unspecified is refused;
 * the connection goes to the address that was checked (CURLOPT_RESOLVE,
 * so a second DNS answer cannot swap it); redirects are not followed. The
 * setting jwks_uri_allow_private lifts the address rule and allows http,
 * for tests and closed networks. A fetch has a timeout and a size limit
 * (settings), and its document must pass the same check as a registered
 * JWKS (jwks_check).
 *
 * The cache holds JWKS_CACHE_SLOTS documents by URI, each used for
 * jwks_uri_cache_ttl seconds; an assertion naming a kid the document lacks
 * may fetch it again, at most every JWKS_REFETCH_SECS per URI, so that a
 * client's new key works at once and a flood of unknown kids costs one
 * fetch per interval. One fetch per URI runs at a time. The timeout does
 * not bound the name lookup (getaddrinfo, the system resolver's own
 * limits): a publisher with slow DNS holds one worker that long.
 */
#include <curl/curl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "grants_int.h"
#include "jws.h"
#include "log.h"
#include "netaddr.h"
#include "strutil.h"

#define JWKS_CACHE_SLOTS 64
#define JWKS_REFETCH_SECS 10

struct jwks_entry {
	char *uri, *doc;        /* doc NULL: the last fetch failed */
	int64_t fetched_at;     /* of doc */
	int64_t failed_at;      /* the last fetch that failed; 0: none */
	int64_t again_at;       /* the last fetch for a missing kid */
	bool fetching;          /* a fetch is under way: others do not wait */
	unsigned long used;     /* for eviction: the least recently used */
};

struct jwks_fetcher {
	pthread_mutex_t mu;
	struct jwks_entry e[JWKS_CACHE_SLOTS];
	unsigned long tick;
	bool allow_private;
	long timeout, max_bytes, ttl;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ready;

static void curl_init(void)
{
	curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

struct jwks_fetcher *jwks_fetcher_new(const struct grants_config *gc)
{
	struct jwks_fetcher *f = xcalloc(1, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->allow_private = gc->jwks_uri_allow_private;
	f->timeout = gc->jwks_uri_timeout > 0 ? gc->jwks_uri_timeout : 5;
	f->max_bytes = gc->jwks_uri_max_bytes > 0 ? gc->jwks_uri_max_bytes
	                                          : JWKS_MAX_LEN;
	f->ttl = gc->jwks_uri_cache_ttl;
	return f;
}

void jwks_fetcher_free(struct jwks_fetcher *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < JWKS_CACHE_SLOTS; i++) {
		free(f->e[i].uri);
		free(f->e[i].doc);
	}
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* ---- the address rule --------------------------------------------------- */

static bool v4_in(const unsigned char *a, unsigned b0, unsigned b1,
                  int prefix)
{
	unsigned long v = (unsigned long)a[0] << 24 | (unsigned long)a[1] << 16 |
	                  (unsigned long)a[2] << 8 | a[3];
	unsigned long net = (unsigned long)b0 << 24 | (unsigned long)b1 << 16;
	unsigned long mask = prefix == 0 ? 0 : ~0UL << (32 - prefix) &
	                                           0xffffffffUL;
	return (v & mask) == (net & mask);
}

/* Whether a is an address a client must not make us call. */
static bool addr_internal(const struct netaddr *n)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	                                         0xff, 0xff};
	const unsigned char *b = n->b;
	if (memcmp(b, mapped, 12) == 0) {
		const unsigned char *a = b + 12;
		return v4_in(a, 0, 0, 8) ||      /* "this network" */
		       v4_in(a, 10, 0, 8) ||     /* private (RFC 1918) */
		       v4_in(a, 100, 64, 10) ||  /* shared, CGNAT */
		       v4_in(a, 127, 0, 8) ||    /* loopback */
		       v4_in(a, 169, 254, 16) || /* link-local, metadata */
		       v4_in(a, 172, 16, 12) ||  /* private */
		       v4_in(a, 192, 0, 24) ||   /* protocol assignments */
		       v4_in(a, 192, 168, 16) || /* private */
		       v4_in(a, 198, 18, 15) ||  /* benchmarking */
		       v4_in(a, 224, 0, 3);      /* multicast, reserved */
	}
	static const unsigned char zero[15] = {0};
	if (memcmp(b, zero, 15) == 0) /* :: and ::1 */
		return true;
	return (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10 */
	       (b[0] & 0xfe) == 0xfc ||                   /* fc00::/7 */
	       b[0] == 0xff ||                            /* multicast */
	       (b[0] == 0x20 && b[1] == 0x02) ||          /* 6to4 */
	       (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff &&
	        b[3] == 0x9b);                            /* NAT64 */
}

/* The first address of host the rule allows, as text for CURLOPT_RESOLVE
 * ("[v6]" bracketed); false with *why when none is. */
static bool pick_address(const struct jwks_fetcher *f, const char *host,
                         char out[NETADDR_STRLEN + 2], const char **why)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
		*why = "the client's jwks_uri does not resolve";
		return false;
	}
	bool found = false;
	for (struct addrinfo *ai = res; ai != NULL && !found; ai = ai->ai_next) {
		struct netaddr n;
		if (!netaddr_from_sockaddr(ai->ai_addr, &n) ||
		    (!f->allow_private && addr_internal(&n)))
			continue;
		char text[NETADDR_STRLEN];
		netaddr_str(&n, text);
		snprintf(out, NETADDR_STRLEN + 2,
		         strchr(text, ':') ? "[%s]" : "%s", text);
		found = true;
	}
	freeaddrinfo(res);
	if (!found)
		*why = "the client's jwks_uri names only loopback, link-local "
		       "or private addresses (jwks_uri_allow_private is off)";
	return found;
}

/* ---- one fetch ---------------------------------------------------------- */

struct body {
	char *buf;
	size_t len, max;
};

static size_t body_write(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;
	if (b->len + add > b->max)
		return 0; /* past the limit: curl fails the transfer */
	b->buf = realloc(b->buf, b->len + add + 1);
	if (b->buf == NULL)
		abort();
	memcpy(b->buf + b->len, p, add);
	b->len += add;
	b->buf[b->len] = '\0';
	return add;
}

/* The URL's scheme, host and port, checked against the rule. */
static bool url_parts(const struct jwks_fetcher *f, const char *uri,
                      char **host, long *port, const char **why)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL, *p = NULL;
	bool ok = false;
	*why = "the client's jwks_uri is not a URL";
	if (u == NULL || curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	*why = "the client's jwks_uri must be https (http only with "
	       "jwks_uri_allow_private)";
	if (strcasecmp(scheme, "https") != 0 &&
	    !(f->allow_private && strcasecmp(scheme, "http") == 0))
		goto out;
	/* An IPv6 literal comes bracketed; getaddrinfo wants it bare. */
	size_t hl = strlen(h);
	*host = h[0] == '[' && hl > 2 ? strndup(h + 1, hl - 2) : xstrdup(h);
	*port = strtol(p, NULL, 10);
	ok = *host != NULL;
out:
	curl_free(scheme);
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return ok;
}

/* GETs uri under the rule: the document's text (caller frees), or NULL
 * with *why. */
static char *fetch(const struct jwks_fetcher *f, const char *uri,
                   const char **why)
{
	char *host = NULL, addr[NETADDR_STRLEN + 2], resolve[1024];
	long port = 0, status = 0;
	struct body b = {.max = (size_t)f->max_bytes};
	struct curl_slist *pin = NULL;
	CURL *c = NULL;
	pthread_once(&curl_once, curl_init);
	if (!curl_ready) {
		*why = "the client's jwks_uri could not be fetched";
		return NULL;
	}
	if (!url_parts(f, uri, &host, &port, why) ||
	    !pick_address(f, host, addr, why))
		goto out;
	/* An address literal was checked as it is and needs no pin (curl
	 * takes no literal in CURLOPT_RESOLVE); a name is pinned to the
	 * address checked. */
	struct netaddr literal;
	bool is_literal = netaddr_parse(host, strlen(host), &literal);
	if (!is_literal) {
		snprintf(resolve, sizeof(resolve), "%s:%ld:%s", host, port,
		         addr);
		pin = curl_slist_append(NULL, resolve);
	}
	c = curl_easy_init();
	*why = "the client's jwks_uri could not be fetched";
	if (c == NULL || (!is_literal && pin == NULL))
		goto out;
	curl_easy_setopt(c, CURLOPT_URL, uri);
	if (pin != NULL)
		curl_easy_setopt(c, CURLOPT_RESOLVE, pin);
	/* No proxy from the environment (https_proxy, ALL_PROXY): a proxy
	 * would resolve the name itself, past the check and the pin. */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
	                 f->allow_private ? "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, f->timeout);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max_bytes);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "latchkey");
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED)
		*why = "the client's jwks_uri document is larger than "
		       "jwks_uri_max_bytes";
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		*why = "the client's jwks_uri did not answer within "
		       "jwks_uri_timeout";
	else if (rc != CURLE_OK)
		*why = "the client's jwks_uri could not be fetched";
	else if (status != 200)
		*why = "the client's jwks_uri did not answer 200";
	else if (b.buf == NULL || strlen(b.buf) != b.len)
		*why = "the client's jwks_uri did not answer a JWKS document";
	else if ((*why = jwks_check(b.buf)) == NULL) {
		char *doc = b.buf;
		b.buf = NULL;
		curl_easy_cleanup(c);
		curl_slist_free_all(pin);
		free(host);
		return doc;
	}
out:
	free(b.buf);
	curl_easy_cleanup(c);
	curl_slist_free_all(pin);
	free(host);
	return NULL;
}

/* ---- the cache ---------------------------------------------------------- */

static struct jwks_entry *slot_for(struct jwks_fetcher *f, const char *uri)
{
	struct jwks_entry *oldest = &f->e[0];
	for (size_t i = 0; i < JWKS_CACHE_SLOTS; i++) {
		if (f->e[i].uri != NULL && strcmp(f->e[i].uri, uri) == 0)
			return &f->e[i];
		if (f->e[i].used < oldest->used)
			oldest = &f->e[i];
	}
	free(oldest->uri);
	free(oldest->doc);
	memset(oldest, 0, sizeof(*oldest));
	oldest->uri = xstrdup(uri);
	return oldest;
}

char *jwks_fetch(struct jwks_fetcher *f, const char *uri, bool again,
                 const char **why)
{
	int64_t now = clock_now();
	pthread_mutex_lock(&f->mu);
	struct jwks_entry *e = slot_for(f, uri);
	e->used = ++f->tick;
	bool fresh = e->doc != NULL && now - e->fetched_at < f->ttl;
	/* Waits between fetches: one for a missing kid per interval, and
	 * none soon after a failure (the stale document serves meanwhile). */
	bool wait = e->fetching ||
	            (again ? now - e->again_at < JWKS_REFETCH_SECS
	                   : fresh || now - e->failed_at < JWKS_REFETCH_SECS);
	char *doc = NULL;
	if (wait) {
		doc = e->doc != NULL ? xstrdup(e->doc) : NULL;
		*why = "the client's jwks_uri is being fetched, or failed "
		       "moments ago (it is tried again after 10 seconds)";
	} else {
		/* One fetch per URI at a time: the others take the document
		 * there is (even stale) or fail at once, so a slow publisher
		 * holds one worker, not all of them. */
		e->fetching = true;
		if (again)
			e->again_at = now;
	}
	pthread_mutex_unlock(&f->mu);
	if (wait)
		return doc;

	doc = fetch(f, uri, why); /* outside the lock: it takes time */
	if (doc == NULL)
		log_warnx("jwks_uri %.200s: %s", uri, *why);
	pthread_mutex_lock(&f->mu);
	e = slot_for(f, uri);
	e->used = ++f->tick;
	e->fetching = false;
	if (doc != NULL) {
		free(e->doc);
		e->doc = xstrdup(doc);
		e->fetched_at = now;
	} else {
		e->failed_at = clock_now(); /* when it failed: it may be slow */
		doc = e->doc != NULL ? xstrdup(e->doc) : NULL; /* stale */
	}
	pthread_mutex_unlock(&f->mu);
	return doc;
}
