/*
 * signer.c: owns the current signing key of each algorithm (ES256 and
 * RS256, migration 0008) and signs JWTs as JWS compact serializations
 * (RFC 7515 section 7.1): access tokens (RFC 9068) with signing_alg's key
 * (signer_mint), anything else, such as ID tokens, with the key of the
 * algorithm asked for (signer_sign).
 *
 * Why not libjwt's encoder: Debian 12's libjwt 1.10.2 always rewrites the
 * "typ" header to "JWT", and RFC 9068 section 2.1 requires "at+jwt". So the
 * JSON is jansson's, base64url and the signature are OpenSSL's, and only
 * the "header.payload.signature" joining is ours. The parsed keys are
 * kept, so no PEM is parsed per token.
 *
 * The keys live in the database so `latchkey key rotate` can replace them
 * while the server runs: the signer re-reads each algorithm's current key
 * id at most every KEY_RECHECK_SECS and swaps keys under a write lock.
 * Access tokens record the kid that signed them, which is what keeps a
 * retired key published; ID tokens are not recorded, so a retired key is
 * also published for id_token_ttl after its retirement (keyring.c).
 */
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"


/* The current key of one algorithm. */
struct slot {
	char *kid;
	EVP_PKEY *pkey;
};

struct signer {
	struct store *store;
	enum key_alg at_alg;   /* signing_alg: access tokens' algorithm */
	pthread_rwlock_t lock; /* guards slot[] */
	struct slot slot[KEY_ALG_COUNT]; /* indexed by enum key_alg */
	_Atomic int64_t checked_at; /* monotonic seconds */
	atomic_uint generation;     /* bumped by each adopt */
};

static int64_t mono_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* Creates a key of alg and stores it as alg's current key if none is
 * current yet (the store's compare-and-set). Returns it in *k; 1 when
 * another process added one first (several instances starting at once on
 * one database): nothing was written and the caller adopts that
 * process's key instead. */
static int create_key(struct store *s, enum key_alg alg, struct store_key *k,
                      char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	if (key_make(alg, &k->kid, &k->private_pem) != 0) {
		snprintf(err, errlen, "cannot generate a %s signing key",
		         key_alg_name(alg));
		return -1;
	}
	k->alg = xstrdup(key_alg_name(alg));
	k->created_at = clock_now();
	enum store_rc rc = store_key_replace_current(s, NULL, k);
	if (rc == STORE_CONFLICT) {
		store_key_clear(k);
		return 1;
	}
	if (rc != STORE_OK) {
		snprintf(err, errlen, "storing the %s signing key: %s",
		         key_alg_name(alg), store_rc_str(rc));
		store_key_clear(k);
		return -1;
	}
	log_info("new %s signing key %s is current", k->alg, k->kid);
	return 0;
}

/* Makes k the key of its algorithm's slot. Takes ownership of k's
 * strings. */
static int adopt(struct signer *sg, struct store_key *k)
{
	enum key_alg alg;
	struct key_jwk jwk;
	if (key_alg_parse(k->alg, &alg) != 0 ||
	    key_public_jwk(k->private_pem, alg, &jwk) != 0) {
		log_errx("signing key %s (%s) is unusable", k->kid, k->alg);
		store_key_clear(k);
		return -1;
	}
	key_jwk_clear(&jwk);
	BIO *bio = BIO_new_mem_buf(k->private_pem, -1);
	EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (pk == NULL) {
		store_key_clear(k);
		return -1;
	}
	pthread_rwlock_wrlock(&sg->lock);
	struct slot *sl = &sg->slot[alg];
	free(sl->kid);
	EVP_PKEY_free(sl->pkey);
	sl->kid = k->kid;
	sl->pkey = pk;
	atomic_fetch_add(&sg->generation, 1);
	pthread_rwlock_unlock(&sg->lock);
	k->kid = NULL;
	store_key_clear(k);
	return 0;
}

/* Reads alg's current key, creating it when there is none (a new
 * database, or one made before migration 0008 that has only the other
 * algorithm's key), and adopts it. 0, or -1 with err set. */
static int load_alg(struct signer *sg, enum key_alg alg, char *err,
                    size_t errlen)
{
	struct store_key k = {0};
	const char *name = key_alg_name(alg);
	enum store_rc rc = store_key_current(sg->store, name, &k);
	if (rc == STORE_NOT_FOUND) {
		int c = create_key(sg->store, alg, &k, err, errlen);
		if (c < 0)
			return -1;
		/* Another instance made the key first: use the one it made. */
		rc = c == 0 ? STORE_OK : store_key_current(sg->store, name, &k);
		if (c > 0 && rc == STORE_OK)
			log_info("%s signing key %s was made by another "
			         "instance", name, k.kid);
	}
	if (rc != STORE_OK) {
		snprintf(err, errlen, "reading the %s signing key: %s", name,
		         store_rc_str(rc));
		return -1;
	}
	if (adopt(sg, &k) != 0) {
		snprintf(err, errlen, "the current %s signing key is unusable",
		         name);
		return -1;
	}
	return 0;
}

int signer_new(struct store *s, enum key_alg alg, struct signer **out,
               char *err, size_t errlen)
{
	struct signer *sg = xcalloc(1, sizeof(*sg));

	*out = NULL;
	sg->store = s;
	sg->at_alg = alg;
	pthread_rwlock_init(&sg->lock, NULL);
	/* Every algorithm has a current key, whatever signing_alg says:
	 * changing signing_alg only changes which one access tokens use,
	 * and rotates nothing. */
	for (int a = 0; a < KEY_ALG_COUNT; a++)
		if (load_alg(sg, (enum key_alg)a, err, errlen) != 0) {
			signer_free(sg);
			return -1;
		}
	atomic_store(&sg->checked_at, mono_secs());
	*out = sg;
	return 0;
}

unsigned signer_generation(struct signer *sg)
{
	return atomic_load(&sg->generation);
}

void signer_free(struct signer *sg)
{
	if (sg == NULL)
		return;
	for (int a = 0; a < KEY_ALG_COUNT; a++) {
		free(sg->slot[a].kid);
		EVP_PKEY_free(sg->slot[a].pkey);
	}
	pthread_rwlock_destroy(&sg->lock);
	free(sg);
}

/* Picks up keys rotated by the CLI, each algorithm's on its own (`key
 * rotate --alg` rotates one). One thread wins the recheck. */
static void maybe_reload(struct signer *sg)
{
	int64_t now = mono_secs(), seen = atomic_load(&sg->checked_at);
	if (now - seen < KEY_RECHECK_SECS ||
	    !atomic_compare_exchange_strong(&sg->checked_at, &seen, now))
		return;
	for (int a = 0; a < KEY_ALG_COUNT; a++) {
		struct store_key k = {0};
		if (store_key_current(sg->store, key_alg_name((enum key_alg)a),
		                      &k) != STORE_OK)
			continue;
		pthread_rwlock_rdlock(&sg->lock);
		bool same = strcmp(k.kid, sg->slot[a].kid) == 0;
		pthread_rwlock_unlock(&sg->lock);
		if (same) {
			store_key_clear(&k);
			continue;
		}
		char *kid = xstrdup(k.kid);
		if (adopt(sg, &k) == 0)
			log_info("signing %s with rotated key %s",
			         key_alg_name((enum key_alg)a), kid);
		free(kid);
	}
}

/* base64url of a JSON object's compact, key-sorted text. */
static char *b64_json(json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (text == NULL)
		return NULL;
	char *b = b64_encode(text, strlen(text), true);
	free(text);
	return b;
}

/* ---- ES256 low-S (one spelling per signature) ---------------------------- */

/* The P-256 group order n and floor(n / 2), big-endian, read once from
 * OpenSSL rather than typed in. */
static unsigned char p256_n[32], p256_half_n[32];
static bool p256_ready;
static pthread_once_t p256_once = PTHREAD_ONCE_INIT;

static void p256_init(void)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	BIGNUM *half = g ? BN_dup(EC_GROUP_get0_order(g)) : NULL;
	p256_ready = half != NULL &&
	             BN_bn2binpad(EC_GROUP_get0_order(g), p256_n, 32) == 32 &&
	             BN_rshift1(half, half) == 1 &&
	             BN_bn2binpad(half, p256_half_n, 32) == 32;
	BN_free(half);
	EC_GROUP_free(g);
}

/* ECDSA is malleable: if (r, s) is a signature, so is (r, n - s), a
 * second text for the same token. Only s <= n/2 counts (as Bitcoin's
 * BIP 62 "low S"), so one token has one spelling (RFC 7515 section 2
 * allows one encoding; docs/security.md promises one). */
bool es256_s_is_low(const unsigned char s[32])
{
	pthread_once(&p256_once, p256_init);
	return p256_ready && memcmp(s, p256_half_n, 32) <= 0;
}

/* Replaces a high s (32 bytes, big-endian) by n - s. 0, or -1. */
static int es256_make_low_s(unsigned char s[32])
{
	if (es256_s_is_low(s))
		return 0;
	if (!p256_ready)
		return -1;
	BIGNUM *n = BN_bin2bn(p256_n, 32, NULL), *v = BN_bin2bn(s, 32, NULL);
	int rc = n != NULL && v != NULL && BN_sub(v, n, v) == 1 &&
	                 BN_bn2binpad(v, s, 32) == 32
	             ? 0
	             : -1;
	BN_free(n);
	BN_free(v);
	return rc;
}

/* Signs input; ES256 signatures become the fixed 64-byte R||S of RFC 7518
 * section 3.4 instead of OpenSSL's DER, with a low s (OpenSSL returns
 * either half). Returns base64url, or NULL. */
static char *sign_b64(EVP_PKEY *pk, enum key_alg alg, const char *input)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	size_t len = 0;
	char *out = NULL;

	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestSign(ctx, NULL, &len, (const unsigned char *)input,
	                   strlen(input)) != 1 ||
	    (der = malloc(len)) == NULL ||
	    EVP_DigestSign(ctx, der, &len, (const unsigned char *)input,
	                   strlen(input)) != 1)
		goto out;
	if (alg == KEY_ALG_RS256) {
		out = b64_encode(der, len, true);
		goto out;
	}
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	unsigned char rs[64];
	if (sig != NULL &&
	    BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) == 32 &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) == 32 &&
	    es256_make_low_s(rs + 32) == 0)
		out = b64_encode(rs, sizeof(rs), true);
	ECDSA_SIG_free(sig);
out:
	free(der);
	EVP_MD_CTX_free(ctx);
	return out;
}

int signer_sign(struct signer *sg, enum key_alg alg, const char *typ,
                json_t *claims, char **token, char **kid)
{
	*token = *kid = NULL;
	if ((int)alg < 0 || alg >= KEY_ALG_COUNT) {
		json_decref(claims);
		return -1;
	}
	maybe_reload(sg);

	/* Take a reference, so signing runs outside the lock. */
	pthread_rwlock_rdlock(&sg->lock);
	EVP_PKEY *pk = sg->slot[alg].pkey;
	EVP_PKEY_up_ref(pk);
	char *k = xstrdup(sg->slot[alg].kid);
	pthread_rwlock_unlock(&sg->lock);

	char *h = b64_json(json_pack("{s:s, s:s, s:s}", "alg", key_alg_name(alg),
	                             "kid", k, "typ", typ));
	char *p = b64_json(claims); /* steals claims */
	char *input = NULL, *sig = NULL;
	if (h != NULL && p != NULL && asprintf(&input, "%s.%s", h, p) >= 0)
		sig = sign_b64(pk, alg, input);
	if (sig != NULL && asprintf(token, "%s.%s", input, sig) < 0)
		*token = NULL;
	EVP_PKEY_free(pk);
	free(h);
	free(p);
	free(input);
	free(sig);
	if (*token == NULL) {
		free(k);
		log_errx("signing a token (typ %s) failed", typ);
		return -1;
	}
	*kid = k;
	return 0;
}

int signer_mint(struct signer *sg, const struct at_claims *c, char **token,
                char **kid)
{
	json_t *claims = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}",
	    "iss", c->iss, "sub", c->sub, "exp", (json_int_t)c->exp,
	    "iat", (json_int_t)c->iat, "jti", c->jti, "client_id", c->client_id);
	if (claims != NULL && c->aud != NULL)
		json_object_set_new(claims, "aud", aud_to_json(c->aud));
	if (claims != NULL && c->scope != NULL && c->scope[0] != '\0')
		json_object_set_new(claims, "scope", json_string(c->scope));
	/* Last, and only where the token has no such claim yet. */
	if (claims != NULL && c->extra != NULL)
		json_object_update_missing(claims, (json_t *)c->extra);
	if (claims == NULL) {
		*token = *kid = NULL;
		log_errx("signing an access token failed");
		return -1;
	}
	return signer_sign(sg, sg->at_alg, "at+jwt", claims, token, kid);
}
