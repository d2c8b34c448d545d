/*
 * keys.h: signing keys as data: generation, PEM, and the public JWK.
 *
 * Lives in core because both the server (first start) and the admin CLI
 * (key rotate) create keys. Signing itself is the grants module's business.
 */
#ifndef LK_KEYS_H
#define LK_KEYS_H

/* The algorithms Latchkey signs tokens with (RFC 7518 names): access
 * tokens with signing_alg's, ID tokens with the client's choice. The
 * store keeps one current key of each (migration 0008). */
enum key_alg { KEY_ALG_ES256 = 0, KEY_ALG_RS256 };
#define KEY_ALG_COUNT 2 /* the values of enum key_alg are 0..COUNT-1 */

int key_alg_parse(const char *name, enum key_alg *out); /* 0, or -1 */
const char *key_alg_name(enum key_alg alg);

/* Public half of a key in JWK members (RFC 7517/7518), base64url values.
 * EC keys fill crv, x, y; RSA keys fill n, e. */
struct key_jwk {
	const char *kty; /* "EC" or "RSA"; static */
	const char *crv; /* "P-256" or NULL; static */
	char *x, *y, *n, *e;
	char *thumbprint; /* RFC 7638 SHA-256 thumbprint, used as the kid */
};
void key_jwk_clear(struct key_jwk *j);

/* Generates a private key; *pem_out is a PKCS#8 PEM the caller frees with
 * crypto_free_str. Returns 0, or -1 on failure. */
int key_generate(enum key_alg alg, char **pem_out);

/* Reads the public members of a PEM private key of the given algorithm.
 * Returns 0, or -1 when the PEM does not hold such a key. */
int key_public_jwk(const char *pem, enum key_alg alg, struct key_jwk *out);

/* Staged rotation (key_rotation_interval): how long a next key is
 * published before it may be promoted, for a JWKS cached max_age seconds:
 * every instance's JWKS shows it within KEY_RECHECK_SECS (keyring.c), a
 * verifier's cache fetched before that expires max_age later, and the
 * signers of every instance adopt the promoted key within
 * KEY_RECHECK_SECS more; five seconds of margin for clocks. */
#define KEY_PUBLISH_LEAD(max_age) ((max_age) + 2 * KEY_RECHECK_SECS + 5)

/* A new key of alg with its kid (the RFC 7638 thumbprint, as the JWKS
 * names it): *pem_out (crypto_free_str) and *kid_out (free). 0, or -1
 * with nothing to free. */
int key_make(enum key_alg alg, char **kid_out, char **pem_out);

/* A running server re-reads the current keys at most this often, so it
 * may still sign with a key this long after another process retired it. */
#define KEY_RECHECK_SECS 2
/* Seconds a retired key stays published after its retirement, whether or
 * not an access token it signed is live: the longest an ID token it signed
 * may live (id_token_ttl, ID tokens are not recorded), plus
 * KEY_RECHECK_SECS, plus a minute for relying parties' clock skew. The
 * server's JWKS and the CLI's `key list` both use it. */
#define KEY_GRACE_MARGIN 60
#define KEY_PUBLISH_GRACE(id_token_ttl) \
	((int64_t)(id_token_ttl) + KEY_RECHECK_SECS + KEY_GRACE_MARGIN)

#endif
