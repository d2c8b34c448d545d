/*
 * keyring.c: every signing key's public half, parsed once and kept, for
 * the two readers that need all keys rather than the current one:
 * verification (introspection, revocation, /resource) and the JWKS.
 *
 * Why: both used to read every key from the store and parse its PEM on
 * each request, which made /jwks.json and /introspect ten times slower
 * than the token endpoint. A snapshot is now rebuilt at most every
 * RECHECK_MS, at once when the signer adopts a new key (so the JWKS
 * always has the key new tokens carry), and sooner when a token names a
 * kid the snapshot lacks (a key rotated by `latchkey key rotate` in
 * another process); those early rebuilds are rate-limited so that made-up
 * kids cannot turn every request into a store read. A snapshot is
 * immutable and reference-counted, and the store is read outside the
 * lock that hands snapshots out: a routine rebuild holds up no reader,
 * and only one that must see the new set (a miss, a new signing key)
 * waits for it.
 *
 * Published (the JWKS): each algorithm's current key; a retired key while
 * an access token it signed is unexpired (tokens record their kid); and a
 * retired key for `grace` (id_token_ttl) after its retirement, because
 * ID tokens are not recorded and one signed just before a rotation lives
 * that long. Verification finds any key by kid, alg-checked.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"

#define RECHECK_MS 2000
#define MISS_RECHECK_MS 250

struct ring_key {
	char *kid;
	char *alg;
	EVP_PKEY *pub;
	bool published;
	bool current;
	size_t seq; /* the store's order: retired keys newest first */
	struct key_jwk jwk;
};

struct keyset {
	atomic_int refs;
	struct ring_key *v;
	size_t n;
};

struct keyring {
	struct store *store;
	int64_t grace;        /* seconds a retired key stays published */
	struct signer *signer;
	unsigned generation;  /* the signer's, when cur was loaded */
	pthread_mutex_t mu;   /* guards cur, loaded_ms, generation */
	pthread_mutex_t load_mu; /* one rebuild at a time */
	struct keyset *cur;   /* NULL until the first successful load */
	int64_t loaded_ms;    /* monotonic, of cur */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void keyset_put(struct keyset *ks)
{
	if (ks == NULL || atomic_fetch_sub(&ks->refs, 1) != 1)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		free(ks->v[i].kid);
		free(ks->v[i].alg);
		EVP_PKEY_free(ks->v[i].pub);
		key_jwk_clear(&ks->v[i].jwk);
	}
	free(ks->v);
	free(ks);
}

struct load {
	struct keyset *ks;
	size_t cap;
	int64_t now;
};

/* The public key of a private PEM, as its own EVP_PKEY: the private half
 * is not kept in this long-lived structure. */
static EVP_PKEY *public_half(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *priv = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
	                     : NULL;
	BIO_free(bio);
	if (priv == NULL)
		return NULL;
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(priv, &der);
	EVP_PKEY_free(priv);
	if (len <= 0)
		return NULL;
	const unsigned char *p = der;
	EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	return pub;
}

static int add_key(const struct store_key *k, void *arg)
{
	struct load *l = arg;
	struct keyset *ks = l->ks;
	enum key_alg alg;
	struct ring_key rk = {0};

	if (key_alg_parse(k->alg, &alg) != 0 ||
	    key_public_jwk(k->private_pem, alg, &rk.jwk) != 0 ||
	    (rk.pub = public_half(k->private_pem)) == NULL) {
		log_errx("signing key %s (%s) is unusable; skipped", k->kid,
		         k->alg);
		key_jwk_clear(&rk.jwk);
		return 0; /* the others still verify and publish */
	}
	rk.kid = xstrdup(k->kid);
	rk.alg = xstrdup(k->alg);
	rk.current = k->retired_at == 0;
	rk.seq = ks->n;
	if (ks->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4;
		struct ring_key *grown = realloc(ks->v, cap * sizeof(*grown));
		if (grown == NULL)
			abort(); /* as xcalloc does */
		ks->v = grown;
		l->cap = cap;
	}
	ks->v[ks->n++] = rk;
	return 0;
}

static const struct ring_key *find(const struct keyset *ks, const char *kid);

/* The store decides what is published: a retired key stays in the JWKS
 * while tokens it signed may still be alive. */
static int mark_published(const struct store_key *k, void *arg)
{
	struct load *l = arg;
	struct ring_key *rk = (struct ring_key *)find(l->ks, k->kid);
	if (rk != NULL)
		rk->published = true;
	return 0;
}

/* The JWKS order, one that does not depend on which key of a start was
 * made first: the current keys by algorithm (ES256, RS256), then the
 * retired ones as the store lists them (newest first). */
static int ring_order(const void *a, const void *b)
{
	const struct ring_key *x = a, *y = b;
	if (x->current != y->current)
		return x->current ? -1 : 1;
	if (x->current) {
		int c = strcmp(x->alg, y->alg);
		if (c != 0)
			return c;
	}
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A new snapshot from the store, or NULL when the store fails. */
static struct keyset *load(struct store *s, int64_t grace)
{
	struct load l = {.ks = xcalloc(1, sizeof(*l.ks)), .now = clock_now()};
	atomic_init(&l.ks->refs, 1);
	if (store_key_list(s, false, 0, 0, add_key, &l) != STORE_OK ||
	    store_key_list(s, true, l.now, grace, mark_published, &l) !=
	        STORE_OK) {
		keyset_put(l.ks);
		return NULL;
	}
	if (l.ks->n > 1)
		qsort(l.ks->v, l.ks->n, sizeof(*l.ks->v), ring_order);
	return l.ks;
}

struct keyring *keyring_new(struct store *s, struct signer *sg,
                            int64_t grace)
{
	struct keyring *kr = xcalloc(1, sizeof(*kr));
	kr->store = s;
	kr->grace = grace;
	kr->signer = sg;
	pthread_mutex_init(&kr->mu, NULL);
	pthread_mutex_init(&kr->load_mu, NULL);
	return kr;
}

void keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	keyset_put(kr->cur);
	pthread_mutex_destroy(&kr->mu);
	pthread_mutex_destroy(&kr->load_mu);
	free(kr);
}

/* Whether cur is due for a rebuild; with kr->mu held. */
static bool stale(const struct keyring *kr, int64_t max_age_ms)
{
	return kr->cur == NULL || mono_ms() - kr->loaded_ms >= max_age_ms ||
	       signer_generation(kr->signer) != kr->generation;
}

/* The current snapshot with a reference the caller puts back, rebuilt
 * first when older than max_age_ms. The store is read without kr->mu, so
 * readers keep being served the old set meanwhile; a reader that must
 * have the new one (wait: a miss, or no set yet) queues on load_mu. NULL
 * only when there has never been a usable snapshot and the store fails. */
static struct keyset *get(struct keyring *kr, int64_t max_age_ms, bool wait)
{
	pthread_mutex_lock(&kr->mu);
	bool due = stale(kr, max_age_ms);
	/* A new signing key must be in the set before anyone reads it. */
	wait = wait || kr->cur == NULL ||
	       signer_generation(kr->signer) != kr->generation;
	pthread_mutex_unlock(&kr->mu);
	if (due && (wait ? pthread_mutex_lock(&kr->load_mu)
	                 : pthread_mutex_trylock(&kr->load_mu)) == 0) {
		pthread_mutex_lock(&kr->mu);
		due = stale(kr, max_age_ms); /* another thread may have just */
		if (due) {
			/* Read before the load: a key adopted meanwhile makes
			 * the next reader load again. */
			kr->generation = signer_generation(kr->signer);
			kr->loaded_ms = mono_ms();
		}
		pthread_mutex_unlock(&kr->mu);
		struct keyset *fresh = due ? load(kr->store, kr->grace) : NULL;
		pthread_mutex_lock(&kr->mu);
		if (fresh != NULL) { /* on a failure, serve the last good set */
			keyset_put(kr->cur);
			kr->cur = fresh;
		}
		pthread_mutex_unlock(&kr->mu);
		pthread_mutex_unlock(&kr->load_mu);
	}
	pthread_mutex_lock(&kr->mu);
	struct keyset *ks = kr->cur;
	if (ks != NULL)
		atomic_fetch_add(&ks->refs, 1);
	pthread_mutex_unlock(&kr->mu);
	return ks;
}

static const struct ring_key *find(const struct keyset *ks, const char *kid)
{
	for (size_t i = 0; ks != NULL && i < ks->n; i++)
		if (strcmp(ks->v[i].kid, kid) == 0)
			return &ks->v[i];
	return NULL;
}

EVP_PKEY *keyring_public_key(struct keyring *kr, const char *kid,
                             const char *alg)
{
	struct keyset *ks = get(kr, RECHECK_MS, false);
	const struct ring_key *k = find(ks, kid);
	if (k == NULL) {
		keyset_put(ks);
		ks = get(kr, MISS_RECHECK_MS, true);
		k = find(ks, kid);
	}
	EVP_PKEY *pk = NULL;
	/* The key's own algorithm must be the one the token claims: no
	 * "alg" confusion. */
	if (k != NULL && strcmp(k->alg, alg) == 0 && EVP_PKEY_up_ref(k->pub) == 1)
		pk = k->pub;
	keyset_put(ks);
	return pk;
}

int keyring_each_published(struct keyring *kr, grants_jwk_cb cb, void *arg)
{
	struct keyset *ks = get(kr, RECHECK_MS, false);
	int rc = ks == NULL ? -1 : 0;
	for (size_t i = 0; ks != NULL && i < ks->n && rc == 0; i++)
		if (ks->v[i].published)
			rc = cb(ks->v[i].kid, ks->v[i].alg, &ks->v[i].jwk, arg);
	keyset_put(ks);
	return rc;
}
