/*
 * jws.h: signed JSON from others and from ourselves: JWS compact
 * serialization (RFC 7515) read and verified, and public keys given as JWK
 * (RFC 7517/7518) or a JWKS document. Used for Latchkey's own tokens
 * (grants/verify.c, with our keys) and for what clients sign with theirs
 * (private_key_jwt assertions, RFC 7523).
 *
 * In core because the admin CLI and the fixtures check a client's JWKS
 * when it is registered, and the grants verify with it.
 */
#ifndef LK_JWS_H
#define LK_JWS_H

#include <stdbool.h>
#include <stddef.h>

struct json_t;
struct evp_pkey_st;

/* The algorithms accepted on what others sign, as metadata lists them.
 * Never "none", never HMAC: a client's key is public here. */
#define JWS_FOREIGN_ALGS "RS256", "PS256", "ES256"
bool jws_foreign_alg(const char *alg);

/* Bounds on a client's JWKS: keys, and bytes of the document. */
#define JWKS_MAX_KEYS 16
#define JWKS_MAX_LEN 65536

/* A JWS compact serialization, split and decoded. header and payload are
 * JSON objects the struct owns; the signature stays in the caller's
 * text (sig_b64 points into it). */
struct jws {
	struct json_t *header;
	struct json_t *payload;
	size_t signed_len;   /* bytes of "header.payload" at the text's start */
	const char *sig_b64; /* the third part */
};
/* 0, or -1 when text is longer than max_len, is not three base64url parts,
 * or a part is not a JSON object (duplicate names refused). */
int jws_parse(const char *text, size_t max_len, struct jws *out);
void jws_clear(struct jws *j);

/* Whether sig_b64 is a canonical base64url signature by pk over the first
 * inlen bytes of input, with alg (one of JWS_FOREIGN_ALGS or our own
 * RS256/ES256). For ES256, s_ok (if not NULL) must accept s, so that our
 * own tokens have one spelling; others' signatures are taken as signed. */
bool jws_signature_ok(struct evp_pkey_st *pk, const char *alg,
                      const char *input, size_t inlen, const char *sig_b64,
                      bool (*s_ok)(const unsigned char s[32]));

/* The public key of one JWK: RSA of 2048 to 4096 bits, or EC P-256.
 * NULL with *why a static sentence when it is none of those, holds a
 * private member, or is not meant for signatures ("use" other than
 * "sig"). The caller frees with EVP_PKEY_free. */
struct evp_pkey_st *jwk_public_key(const struct json_t *jwk,
                                   const char **why);

/* Whether a signature made with alg may be checked with jwk: the key's
 * type fits the algorithm, and its "alg", when given, is alg. */
bool jwk_fits_alg(const struct json_t *jwk, const char *alg);

/* The JWK thumbprint of a key jwk_public_key accepted (RFC 7638, with
 * SHA-256), base64url without padding: DPoP's jkt (RFC 9449). A new
 * string (caller frees); NULL when jwk lacks a required member. */
char *jwk_thumbprint(const struct json_t *jwk);

/* NULL when text is a JWKS document a client may register (an object
 * whose "keys" hold 1 to JWKS_MAX_KEYS usable public keys, kids unique
 * where given); else why not, a static sentence. */
const char *jwks_check(const char *text);
/* RFC 8705 section 2.2: whether a key of the JWKS document text carries
 * the certificate whose SHA-256 thumbprint (base64url, x5t#S256) is x5t,
 * as the first of its x5c; with x5t NULL, whether any key carries one. */
bool jwks_has_cert(const char *text, const char *x5t);

#endif
