/*
 * fuzz_jose.h: what the targets that read signed JWTs from others share
 * (fuzz_client_assertion, fuzz_dpop): base64url, an ES256 signature made
 * here as R||S, the public coordinates of a P-256 key, and the input cut
 * into NUL-separated parts. Static inline, as fuzz_util.h.
 */
#ifndef LK_FUZZ_JOSE_H
#define LK_FUZZ_JOSE_H

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto.h"
#include "fuzz_util.h"

static inline char *fz_b64url(const void *p, size_t n)
{
	char *s = b64_encode(p, n, true);
	fz_check(s != NULL);
	return s;
}

/* One 32-byte coordinate of key (param "qx" or "qy"), base64url. */
static inline char *fz_coord(EVP_PKEY *key, const char *param)
{
	BIGNUM *bn = NULL;
	unsigned char b[32];
	fz_check(EVP_PKEY_get_bn_param(key, param, &bn) == 1 &&
	         BN_bn2binpad(bn, b, 32) == 32);
	BN_free(bn);
	return fz_b64url(b, 32);
}

/* The next part of the input, up to a NUL or its end (len bytes, not
 * terminated); the input moves past it and its NUL. */
static inline const char *fz_next_part(const uint8_t **data, size_t *size,
                                       size_t *len)
{
	const char *p = (const char *)*data;
	const uint8_t *nul = memchr(*data, '\0', *size);
	*len = nul ? (size_t)(nul - *data) : *size;
	*data += *len + (nul ? 1 : 0);
	*size -= *len + (nul ? 1 : 0);
	return p;
}

/* ES256 over input with key, as JWS wants it: R||S, base64url. */
static inline char *fz_es256(EVP_PKEY *key, const char *input)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 0;
	fz_check(ctx != NULL &&
	         EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	         EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)input,
	                        strlen(input)) == 1);
	unsigned char *der = fz_xmalloc(siglen), rs[64];
	fz_check(EVP_DigestSign(ctx, der, &siglen, (const unsigned char *)input,
	                        strlen(input)) == 1);
	EVP_MD_CTX_free(ctx);
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
	fz_check(es != NULL &&
	         BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32) == 32 &&
	         BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32) == 32);
	ECDSA_SIG_free(es);
	free(der);
	return fz_b64url(rs, sizeof(rs));
}

/* HEADER \0 CLAIMS from the input, each through subst (a new string),
 * base64url-encoded and joined with a dot: a JWS signing input. */
static inline char *fz_signing_input(const uint8_t **data, size_t *size,
                                     char *(*subst)(const char *s,
                                                    size_t len))
{
	size_t hl, cl;
	const char *h = fz_next_part(data, size, &hl);
	const char *c = fz_next_part(data, size, &cl);
	char *hs = subst(h, hl), *cs = subst(c, cl);
	char *hb = fz_b64url(hs, strlen(hs)), *cb = fz_b64url(cs, strlen(cs));
	char *out = NULL;
	fz_check(asprintf(&out, "%s.%s", hb, cb) > 0);
	free(hs);
	free(cs);
	free(hb);
	free(cb);
	return out;
}

#endif
