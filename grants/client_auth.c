/*
 * client_auth.c: client authentication for every endpoint that needs it
 * (RFC 6749 sections 2.3.1 and 3.2.1), and the cache of verified slow
 * secrets.
 *
 * A caller-chosen secret is stored as Argon2id, which costs tens of
 * milliseconds. After one success the server remembers
 * HMAC(process key, client_id, stored hash, secret) in a fixed table, never
 * the secret, so the KDF runs once per secret per process. The stored hash
 * is part of the tag, so a rotated secret can never match an old entry.
 *
 * A client registered with keys (private_key_jwt) signs an assertion
 * instead (client_assertion.c) and has no secret; a client restricted to
 * one secret method (token_endpoint_auth_method) is refused the other.
 *
 * A secret may match either of two hashes: the current one, and, after a
 * rotation with a grace period (latchkey client rotate-secret --grace),
 * the previous one until the grace ends. A disabled client is refused
 * before any secret is checked.
 *
 * Argon2id runs are also capped at one per CPU at a time: each holds 19 MiB
 * and a worker thread, so a flood of wrong secrets must not take every
 * worker and gigabytes with it. A request that cannot get a slot within
 * SLOT_WAIT_MS gets 503 temporarily_unavailable.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "jws.h"
#include "log.h"
#include "metrics.h"
#include "secret.h"
#include "strutil.h"

#define CACHE_SLOTS 4096 /* 128 KiB; collisions only cost a re-verification */
#define SLOT_WAIT_MS 2000

struct secret_cache {
	pthread_mutex_t mu;
	sem_t kdf_slots;
	unsigned char key[32];
	unsigned char tags[CACHE_SLOTS][SHA256_LEN];
};

struct secret_cache *secret_cache_new(void)
{
	struct secret_cache *sc = xcalloc(1, sizeof(*sc));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_mutex_init(&sc->mu, NULL);
	sem_init(&sc->kdf_slots, 0, cpus > 0 ? (unsigned)cpus : 2u);
	if (crypto_random(sc->key, sizeof(sc->key)) != 0) {
		secret_cache_free(sc);
		return NULL;
	}
	return sc;
}

void secret_cache_free(struct secret_cache *sc)
{
	if (sc == NULL)
		return;
	pthread_mutex_destroy(&sc->mu);
	sem_destroy(&sc->kdf_slots);
	crypto_wipe(sc, sizeof(*sc));
	free(sc);
}

static void cache_tag(const struct secret_cache *sc, const char *id,
                      const char *hash, const char *secret,
                      unsigned char tag[SHA256_LEN])
{
	/* Lengths are prefixed so no two inputs share an encoding. */
	size_t li = strlen(id), lh = strlen(hash), ls = strlen(secret);
	size_t n = 3 * sizeof(size_t) + li + lh + ls;
	unsigned char *buf = malloc(n), *p = buf;
	if (buf == NULL)
		abort();
	memcpy(p, &li, sizeof(li)), p += sizeof(li);
	memcpy(p, id, li), p += li;
	memcpy(p, &lh, sizeof(lh)), p += sizeof(lh);
	memcpy(p, hash, lh), p += lh;
	memcpy(p, &ls, sizeof(ls)), p += sizeof(ls);
	memcpy(p, secret, ls);
	hmac_sha256(sc->key, sizeof(sc->key), buf, n, tag);
	crypto_wipe(buf, n);
	free(buf);
}

static size_t slot_of(const unsigned char tag[SHA256_LEN])
{
	return ((size_t)tag[0] << 8 | tag[1]) % CACHE_SLOTS;
}

static bool cache_has(struct secret_cache *sc, const unsigned char *tag)
{
	pthread_mutex_lock(&sc->mu);
	bool hit = crypto_eq(sc->tags[slot_of(tag)], tag, SHA256_LEN);
	pthread_mutex_unlock(&sc->mu);
	return hit;
}

static void cache_put(struct secret_cache *sc, const unsigned char *tag)
{
	pthread_mutex_lock(&sc->mu);
	memcpy(sc->tags[slot_of(tag)], tag, SHA256_LEN);
	pthread_mutex_unlock(&sc->mu);
}

static bool sem_slot_take(struct secret_cache *sc)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SLOT_WAIT_MS / 1000;
	until.tv_nsec += (SLOT_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	int rc;
	while ((rc = sem_timedwait(&sc->kdf_slots, &until)) != 0 && errno == EINTR)
		;
	return rc == 0;
}

bool kdf_slot_take(struct grants *g)
{
	return sem_slot_take(g->secret_cache);
}

void kdf_slot_give(struct grants *g)
{
	sem_post(&g->secret_cache->kdf_slots);
}

/* The hashes a secret may match (h[0] the current one; h[1] the one
 * before a rotation, while its grace lasts); returns how many. */
static int secret_hashes(const struct store_client *cl, const char *h[2])
{
	int n = 0;
	if (cl->secret_hash != NULL)
		h[n++] = cl->secret_hash;
	if (cl->previous_secret_hash != NULL &&
	    clock_now() < cl->previous_secret_expires_at)
		h[n++] = cl->previous_secret_hash;
	return n;
}

bool client_hash_live(const struct store_client *cl, const char *hash)
{
	const char *h[2];
	int n = secret_hashes(cl, h);
	for (int i = 0; i < n; i++)
		if (strcmp(h[i], hash) == 0)
			return true;
	return false;
}

/* Whether secret is the client's generated one (a fast hash: 256 random
 * bits, checked in microseconds and in constant time). Only asked while
 * the client's throttle keys are clean (client_authenticate). Not for a
 * chosen secret (Argon2id), even one in the cache below: a chosen secret
 * may be guessable, and checking guesses before anything is reserved
 * would let a burst of them past the limit, each answered. */
static bool secret_generated_and_right(const struct store_client *cl,
                                       const char *secret)
{
	const char *h[2];
	int n = secret_hashes(cl, h);
	bool right = false;
	for (int i = 0; i < n; i++) /* both, always: no early exit to time */
		right |= !secret_hash_is_slow(h[i]) &&
		         secret_verify(h[i], secret) == SECRET_OK;
	return right;
}

static enum oauth_err hash_check(struct grants *g,
                                 const struct store_client *cl,
                                 const char *hash, const char *secret);

/* OAUTH_OK, OAUTH_INVALID_CLIENT, or OAUTH_TEMPORARILY_UNAVAILABLE when
 * every Argon2id slot stayed busy. */
static enum oauth_err secret_check(struct grants *g,
                                   const struct store_client *cl,
                                   const char *secret)
{
	const char *h[2];
	int n = secret_hashes(cl, h);
	enum oauth_err e = OAUTH_INVALID_CLIENT;
	for (int i = 0; i < n && e == OAUTH_INVALID_CLIENT; i++)
		e = hash_check(g, cl, h[i], secret);
	return e;
}

/* secret_check against one stored hash. */
static enum oauth_err hash_check(struct grants *g,
                                 const struct store_client *cl,
                                 const char *hash, const char *secret)
{
	if (!secret_hash_is_slow(hash))
		return secret_verify(hash, secret) == SECRET_OK
		           ? OAUTH_OK : OAUTH_INVALID_CLIENT;

	struct secret_cache *sc = g->secret_cache;
	unsigned char tag[SHA256_LEN];
	cache_tag(sc, cl->client_id, hash, secret, tag);
	if (cache_has(sc, tag))
		return OAUTH_OK;
	if (!sem_slot_take(sc)) {
		log_warnx("client %s: every password-hash slot is busy",
		          cl->client_id);
		return OAUTH_TEMPORARILY_UNAVAILABLE;
	}
	enum secret_result r = secret_verify(hash, secret);
	sem_post(&sc->kdf_slots);
	if (r == SECRET_BAD_HASH)
		log_errx("client %s: stored secret hash is unreadable",
		         cl->client_id);
	if (r != SECRET_OK)
		return OAUTH_INVALID_CLIENT;
	cache_put(sc, tag);
	return OAUTH_OK;
}

/* The keys a secret check counts against (throttle.h), as login.c's for
 * passwords: the client id and the address. Past half a limit a key gets
 * one check per second (the rest are refused unchecked, so no worker
 * waits); at the limit every attempt is refused unchecked until the
 * window ends, the right secret too. A success forgets the client id's
 * failures, never the address's. */
static void secret_keys(const struct grants *g, const char *id,
                        const char *addr, struct throttle_key keys[2])
{
	int per_id = g->client_auth_max_failures;
	int per_addr = g->client_auth_max_failures_per_address;
	keys[0] = (struct throttle_key){"client", id, per_id - per_id / 2, per_id,
	                                true};
	keys[1] = (struct throttle_key){"caddr", addr && addr[0] ? addr : NULL,
	                                per_addr - per_addr / 2, per_addr, false};
}

/* Security lines name the address and request themselves (log.h). */
static struct oauth_result throttled(enum throttle_verdict v,
                                     const struct throttle_ticket *tk,
                                     const char *id)
{
	if (v == THROTTLE_UNAVAILABLE)
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	log_security("client authentication %s for a %s (client %.128s)",
	             v == THROTTLE_SLOWED ? "slowed down" : "throttled",
	             tk->stopped_by == 0 ? "client id" : "client address", id);
	return OAUTH_FAIL(OAUTH_INVALID_CLIENT, CLIENT_AUTH_THROTTLED);
}

/* RFC 6749 section 2.3.1: which client the request names, and its
 * secret (NULL: none sent). */
static struct oauth_result creds_pick(const struct client_creds *cr,
                                      const char **id, const char **secret)
{
	/* Section 2.3: "MUST NOT use more than one authentication method in
	 * each request." */
	if (cr->basic && cr->form_secret != NULL)
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST,
		                  "use either HTTP Basic or client_secret in the "
		                  "body, not both");
	if (cr->basic) {
		if (cr->form_id != NULL && strcmp(cr->form_id, cr->basic_id) != 0)
			return OAUTH_FAIL(OAUTH_INVALID_REQUEST,
			                  "client_id does not match the Authorization "
			                  "header");
		*id = cr->basic_id;
		*secret = cr->basic_secret;
	} else {
		*id = cr->form_id;
		*secret = cr->form_secret;
	}
	if (*id == NULL || (*id)[0] == '\0')
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT,
		                  "client authentication is required");
	return OAUTH_RESULT_OK;
}

/* Why a client registered for method m may not use the one presented
 * (a Basic header or not), or NULL. */
static const char *method_refused(const struct store_client *cl, bool basic)
{
	const char *m = cl->auth_method;
	if (m == NULL || cl->is_public)
		return NULL;
	if (strcmp(m, "private_key_jwt") == 0)
		return "this client authenticates with a signed assertion "
		       "(private_key_jwt), not a secret";
	if (strcmp(m, "client_secret_basic") == 0 && !basic)
		return "this client sends its secret with HTTP Basic "
		       "(client_secret_basic)";
	if (strcmp(m, "client_secret_post") == 0 && basic)
		return "this client sends its secret in the form body "
		       "(client_secret_post)";
	return NULL;
}

/* Whether the space-separated names hold name, in any ASCII case (DNS
 * names compare so: RFC 5280 section 7.2, RFC 4343). */
static bool dns_names_hold(const char *names, const char *name)
{
	size_t len, n = strlen(name);
	for (const char *w = words_next(names, &len); w != NULL;
	     w = words_next(w + len, &len))
		if (len == n && strncasecmp(w, name, n) == 0)
			return true;
	return false;
}

/* RFC 8705 section 2: whether the TLS client certificate tc is cl's.
 * tls_client_auth: it chains to tls_client_ca and names what cl
 * registered (2.1.2); self_signed_tls_client_auth: it is one of the
 * certificates of cl's keys (x5c, 2.2), fetched from its jwks_uri when
 * it publishes them there (no cache: a cached record may not fetch). */
static bool cert_is_clients(struct grants *g, const struct store_client *cl,
                            const struct tls_client_cert *tc, bool fetch)
{
	if (strcmp(cl->auth_method, "tls_client_auth") == 0)
		return tc->chain_ok &&
		       ((cl->tls_subject_dn != NULL && tc->subject_dn != NULL &&
		         strcmp(cl->tls_subject_dn, tc->subject_dn) == 0) ||
		        (cl->tls_san_dns != NULL &&
		         dns_names_hold(tc->san_dns, cl->tls_san_dns)) ||
		        (cl->tls_san_uri != NULL &&
		         words_contains(tc->san_uri, cl->tls_san_uri,
		                        strlen(cl->tls_san_uri))));
	if (cl->jwks != NULL)
		return jwks_has_cert(cl->jwks, tc->x5t);
	if (!fetch || cl->jwks_uri == NULL)
		return false;
	const char *why = NULL;
	char *doc = jwks_fetch(g->jwks_fetcher, cl->jwks_uri, false, &why);
	bool ok = doc != NULL && jwks_has_cert(doc, tc->x5t);
	free(doc);
	if (!ok) { /* a new certificate: its keys, fetched again */
		doc = jwks_fetch(g->jwks_fetcher, cl->jwks_uri, true, &why);
		ok = doc != NULL && jwks_has_cert(doc, tc->x5t);
		free(doc);
	}
	return ok;
}

/* A client of a TLS client certificate (RFC 8705): no secret, and the
 * certificate of the connection. Nothing to count: a certificate is
 * proved in the handshake, not guessed. */
static struct oauth_result authenticate_cert(struct grants *g, const char *id,
                                             const char *secret, bool basic,
                                             const struct tls_client_cert *tc,
                                             struct store_client *out)
{
	struct oauth_result r = OAUTH_RESULT_OK;
	if (basic || secret != NULL)
		r = OAUTH_FAIL(OAUTH_INVALID_CLIENT, "this client authenticates "
		               "with a TLS client certificate, not a secret");
	else if (tc == NULL)
		r = OAUTH_FAIL(OAUTH_INVALID_CLIENT, "this client authenticates "
		               "with a TLS client certificate, and the connection "
		               "presented none");
	else if (!cert_is_clients(g, out, tc, true))
		r = OAUTH_FAIL(OAUTH_INVALID_CLIENT, "the TLS client certificate "
		               "is not this client's");
	if (r.err != OAUTH_OK) {
		metrics_inc(MET_CLIENT_AUTH_FAILURES);
		/* The subject helps an operator see why (a DN spelled
		 * another way); a certificate's names are no secret. */
		log_security("client authentication failed: %s for client "
		             "%.128s (%s)%s%.256s",
		             tc == NULL ? "no TLS client certificate"
		                        : "another TLS client certificate",
		             id, out->auth_method,
		             tc != NULL && tc->subject_dn != NULL ? ": subject "
		                                                  : "",
		             tc != NULL && tc->subject_dn != NULL ? tc->subject_dn
		                                                  : "");
		store_client_clear(out);
	}
	return r;
}

/* The rest of client_authenticate, once the client's record was read
 * (rc, and out when STORE_OK). */
static struct oauth_result authenticate_read(struct grants *g, const char *id,
                                             const char *secret, bool basic,
                                             const char *remote_addr,
                                             const struct tls_client_cert *tc,
                                             enum store_rc rc,
                                             struct store_client *out)
{
	if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		return oauth_from_store(rc, "looking up client", OAUTH_RESULT_OK);
	if (rc == STORE_OK && out->disabled_at != 0) {
		/* Before any secret check: nothing to verify or count. The
		 * description says why, so the service's owner need not
		 * guess at its credentials; client ids are not secrets
		 * (RFC 6749 section 2.2). */
		log_security("client authentication refused: client %.128s is "
		             "disabled", id);
		store_client_clear(out);
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT, CLIENT_DISABLED);
	}
	if (rc == STORE_OK && out->is_public) {
		/* token_endpoint_auth_method "none": a public client cannot
		 * keep a secret, so presenting one is a misconfiguration. */
		if (secret != NULL && secret[0] != '\0') {
			store_client_clear(out);
			return OAUTH_FAIL(OAUTH_INVALID_CLIENT,
			                  "public clients authenticate with client_id "
			                  "only");
		}
		return OAUTH_RESULT_OK;
	}
	if (rc == STORE_OK && client_spec_uses_cert(out))
		return authenticate_cert(g, id, secret, basic, tc, out);
	const char *wrong_method = rc == STORE_OK ? method_refused(out, basic)
	                                          : NULL;
	if (wrong_method != NULL) { /* no secret is checked: none counted */
		log_security("client authentication refused: client %.128s "
		             "used another method than its own", id);
		store_client_clear(out);
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT, wrong_method);
	}
	if (secret == NULL) { /* nothing was guessed: nothing to count */
		store_client_clear(out);
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT, NULL);
	}
	struct throttle_key keys[2];
	struct throttle_ticket tk;
	secret_keys(g, id, remote_addr, keys);
	/* While no key has a failure or an attempt under way (one read), a
	 * client's right generated secret goes ahead with nothing reserved,
	 * so one busy client's concurrent requests write nothing to a shared
	 * throttle (docs/scale-out.md, "What a request costs"). The keys are
	 * read first, for every attempt: a key with failures takes the
	 * counted path below whatever the secret, so at the limit the right
	 * secret is refused like a wrong one, in the same way. */
	if (rc == STORE_OK && throttle_clean(g->client_throttle, keys, 2) &&
	    secret_generated_and_right(out, secret))
		return OAUTH_RESULT_OK;
	enum throttle_verdict v =
	    throttle_reserve(g->client_throttle, keys, 2, &tk);
	if (v != THROTTLE_GO) {
		store_client_clear(out);
		return throttled(v, &tk, id);
	}
	/* An unknown client gets the same answer as a wrong secret, and
	 * counts as a failure. Timing can still tell that a client with an
	 * Argon2id secret exists: client ids are identifiers, not secrets
	 * (RFC 6749 section 2.2). */
	enum oauth_err e = rc == STORE_NOT_FOUND ? OAUTH_INVALID_CLIENT
	                                         : secret_check(g, out, secret);
	if (e == OAUTH_INVALID_CLIENT) {
		throttle_commit(g->client_throttle, &tk);
		metrics_inc(MET_CLIENT_AUTH_FAILURES);
		log_security("client authentication failed: %s client %.128s",
		             rc == STORE_NOT_FOUND ? "unknown" : "wrong secret for",
		             id);
	}
	else
		throttle_release(g->client_throttle, &tk, e == OAUTH_OK);
	if (e != OAUTH_OK) {
		store_client_clear(out);
		return OAUTH_FAIL(e, NULL);
	}
	return OAUTH_RESULT_OK;
}

/* RFC 7521 section 4.2: a client assertion, with its type, instead of
 * any secret; client_id is optional (the assertion's sub names it). */
static struct oauth_result authenticate_assertion(struct grants *g,
                                                  const struct client_creds *cr,
                                                  struct store_client *out)
{
	if (cr->assertion == NULL || cr->assertion_type == NULL ||
	    cr->basic || cr->form_secret != NULL)
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "client_assertion and "
		                  "client_assertion_type go together, without "
		                  "a secret or an Authorization header");
	if (strcmp(cr->assertion_type, CLIENT_ASSERTION_TYPE) != 0)
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT, "client_assertion_type "
		                  "must be " CLIENT_ASSERTION_TYPE);
	char *sub = cr->form_id ? NULL : client_assertion_subject(cr->assertion);
	const char *id = cr->form_id ? cr->form_id : sub;
	if (id == NULL || id[0] == '\0') {
		free(sub);
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT, "client_assertion is not "
		                  "a signed JWT naming the client");
	}
	enum store_rc rc = store_client_get(g->store, id, out);
	struct oauth_result r = OAUTH_RESULT_OK;
	if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		r = oauth_from_store(rc, "looking up client", OAUTH_RESULT_OK);
	else if (rc == STORE_NOT_FOUND || !client_spec_uses_keys(out)) {
		log_security("client assertion refused: client %.128s is %s", id,
		             rc == STORE_NOT_FOUND ? "unknown"
		                                   : "not registered with keys");
		r = OAUTH_FAIL(OAUTH_INVALID_CLIENT, NULL);
	} else if (out->disabled_at != 0) {
		log_security("client authentication refused: client %.128s is "
		             "disabled", id);
		r = OAUTH_FAIL(OAUTH_INVALID_CLIENT, CLIENT_DISABLED);
	} else
		r = client_assertion_check(g, out, cr->assertion);
	free(sub);
	if (r.err != OAUTH_OK)
		store_client_clear(out);
	return r;
}

struct oauth_result client_authenticate(struct grants *g,
                                        const struct client_creds *cr,
                                        struct store_client *out)
{
	const char *id, *secret;
	memset(out, 0, sizeof(*out));
	if (cr->assertion != NULL || cr->assertion_type != NULL)
		return authenticate_assertion(g, cr, out);
	struct oauth_result r = creds_pick(cr, &id, &secret);
	if (r.err != OAUTH_OK)
		return r;
	enum store_rc rc = store_client_get(g->store, id, out);
	return authenticate_read(g, id, secret, cr->basic, cr->remote_addr,
	                         cr->tls_cert, rc, out);
}

/* Whether a cached record lets these credentials in with nothing to
 * count: a public client without a secret, or a generated secret that is
 * right while the throttle keys are clean (authenticate_read's fast
 * path). Anything else is decided on a fresh read. */
static bool cached_good(struct grants *g, const char *id, const char *secret,
                        bool basic, const char *remote_addr,
                        const struct tls_client_cert *tc,
                        const struct store_client *cl)
{
	if (cl->disabled_at != 0 || method_refused(cl, basic) != NULL)
		return false; /* refused on a fresh read, which logs it */
	if (client_spec_uses_cert(cl))
		return !basic && secret == NULL && tc != NULL &&
		       cert_is_clients(g, cl, tc, false);
	if (cl->is_public)
		return secret == NULL || secret[0] == '\0';
	if (secret == NULL)
		return false;
	struct throttle_key keys[2];
	secret_keys(g, id, remote_addr, keys);
	return throttle_clean(g->client_throttle, keys, 2) &&
	       secret_generated_and_right(cl, secret);
}

struct oauth_result client_authenticate_cached(struct grants *g,
                                               const struct client_creds *cr,
                                               struct store_client *out,
                                               bool *cached)
{
	const char *id, *secret;
	memset(out, 0, sizeof(*out));
	*cached = false;
	/* An assertion is used once: never checked twice for one request. */
	if (cr->assertion != NULL || cr->assertion_type != NULL)
		return authenticate_assertion(g, cr, out);
	struct oauth_result r = creds_pick(cr, &id, &secret);
	if (r.err != OAUTH_OK)
		return r;
	enum store_rc rc = client_cache_get(g, id, out, cached);
	if (*cached) {
		if (cached_good(g, id, secret, cr->basic, cr->remote_addr,
		                cr->tls_cert, out))
			return OAUTH_RESULT_OK;
		store_client_clear(out);
		client_cache_forget(g, id);
		*cached = false;
		rc = store_client_get(g->store, id, out);
	}
	return authenticate_read(g, id, secret, cr->basic, cr->remote_addr,
	                         cr->tls_cert, rc, out);
}
