/*
 * fuzz_client_assertion.c: the parsers a private_key_jwt client reaches
 * (issue 19): core/jws.c's JWKS check (what `client add --jwks`, the
 * fixtures and the admin API take) and grants/client_assertion.c's check
 * of an assertion sent to /token, /introspect and /revoke.
 *
 * LLVMFuzzerInitialize makes a migrated SQLite store in a private
 * temporary directory, struct grants, a P-256 key and a client "svc"
 * registered with its public half (kid "k").
 *
 * The first byte picks the shape of the rest:
 *   0x00  a JWKS document: jwks_check, then, when it is accepted, every
 *         key made into an OpenSSL key again (an accepted document whose
 *         key cannot be used aborts).
 *   0x01  HEADER \0 CLAIMS \0 SIGNATURE, base64url-encoded and joined by
 *         the target. The signature is the fuzzer's, so an assertion
 *         accepted is a forgery: that aborts.
 *   0x02  HEADER \0 CLAIMS, signed ES256 with the client's key, so the
 *         claims are read past a valid signature (accepted or not).
 *   other the whole input is the assertion, as sent; accepted aborts.
 * In HEADER and CLAIMS, "@aud@" is the token endpoint and "@exp@" a time
 * a minute ahead.
 */
#include <jansson.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "fuzz_util.h"
#include "grants_int.h"
#include "jws.h"
#include "store.h"

#define ISSUER "https://issuer.example"

static struct {
	char *dir;
	struct store *st;
	struct grants *g;
	EVP_PKEY *key;
	struct store_client cl;
} fx;

static char *b64url(const void *p, size_t n)
{
	char *s = b64_encode(p, n, true);
	fz_check(s != NULL);
	return s;
}

static char *bn_b64(const BIGNUM *bn)
{
	unsigned char b[32];
	fz_check(BN_bn2binpad(bn, b, 32) == 32);
	return b64url(b, 32);
}

/* The public JWKS of fx.key, kid "k". */
static char *public_jwks(void)
{
	BIGNUM *x = NULL, *y = NULL;
	fz_check(EVP_PKEY_get_bn_param(fx.key, "qx", &x) == 1 &&
	         EVP_PKEY_get_bn_param(fx.key, "qy", &y) == 1);
	char *xs = bn_b64(x), *ys = bn_b64(y), *doc = NULL;
	fz_check(asprintf(&doc, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
	                        "\"kid\":\"k\",\"x\":\"%s\",\"y\":\"%s\"}]}",
	                  xs, ys) > 0);
	BN_free(x);
	BN_free(y);
	free(xs);
	free(ys);
	return doc;
}

static void cleanup(void)
{
	grants_free(fx.g);
	store_close(fx.st);
	fz_rmtree(fx.dir);
	free(fx.dir);
	EVP_PKEY_free(fx.key);
	store_client_clear(&fx.cl);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	fx.dir = fz_tmpdir();
	char *path = fz_path(fx.dir, "assertion.db");
	char err[256] = "";
	int applied, schema;
	if (store_open(path, &fx.st, err, sizeof(err)) != STORE_OK ||
	    store_migrate(fx.st, &applied, &schema, err, sizeof(err)) !=
	        STORE_OK) {
		fprintf(stderr, "fuzz_client_assertion: store: %s\n", err);
		abort();
	}
	free(path);
	struct lk_config lc;
	struct grants_config cfg;
	config_defaults(&lc);
	grants_config_from(&cfg, &lc, ISSUER);
	fz_check(grants_new(fx.st, &cfg, &fx.g, err, sizeof(err)) == 0);
	config_free(&lc);
	fx.key = EVP_EC_gen("P-256");
	fz_check(fx.key != NULL);
	char *jwks = public_jwks();
	fz_check(jwks_check(jwks) == NULL);
	fx.cl = (struct store_client){
	    .client_id = strdup("svc"), .name = strdup("svc"),
	    .secret_hash = strdup(CLIENT_NO_SECRET),
	    .grant_types = strdup("client_credentials"), .scopes = strdup(""),
	    .redirect_uris = strdup(""), .jwks = jwks,
	    .auth_method = strdup("private_key_jwt"), .created_at = 1,
	    .updated_at = 1};
	fz_check(store_client_add(fx.st, &fx.cl) == STORE_OK);
	atexit(cleanup);
	return 0;
}

/* s[0..len) with @aud@ and @exp@ replaced; a new C string. */
static char *substitute(const char *s, size_t len)
{
	char exp[24], aud[] = ISSUER "/token";
	snprintf(exp, sizeof(exp), "%lld", (long long)clock_now() + 60);
	char *out = fz_xmalloc(len * 8 + 1), *o = out;
	for (size_t i = 0; i < len;) {
		if (len - i >= 5 && memcmp(s + i, "@aud@", 5) == 0) {
			o += sprintf(o, "%s", aud);
			i += 5;
		} else if (len - i >= 5 && memcmp(s + i, "@exp@", 5) == 0) {
			o += sprintf(o, "%s", exp);
			i += 5;
		} else {
			*o++ = s[i++];
		}
	}
	*o = '\0';
	return out;
}

static const char *next_part(const uint8_t **data, size_t *size, size_t *len)
{
	const char *p = (const char *)*data;
	const uint8_t *nul = memchr(*data, '\0', *size);
	*len = nul ? (size_t)(nul - *data) : *size;
	*data += *len + (nul ? 1 : 0);
	*size -= *len + (nul ? 1 : 0);
	return p;
}

/* ES256 over input with the client's key, as R||S, base64url. */
static char *sign(const char *input)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 0;
	fz_check(ctx != NULL &&
	         EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, fx.key) == 1 &&
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
	return b64url(rs, sizeof(rs));
}

/* HEADER and CLAIMS from the input, base64url-encoded and joined. */
static char *signing_input(const uint8_t **data, size_t *size)
{
	size_t hl, cl;
	const char *h = next_part(data, size, &hl);
	const char *c = next_part(data, size, &cl);
	char *hs = substitute(h, hl), *cs = substitute(c, cl);
	char *hb = b64url(hs, strlen(hs)), *cb = b64url(cs, strlen(cs));
	char *out = NULL;
	fz_check(asprintf(&out, "%s.%s", hb, cb) > 0);
	free(hs);
	free(cs);
	free(hb);
	free(cb);
	return out;
}

static void check_jwks(const uint8_t *data, size_t size)
{
	char *text = fz_cstr(data, size);
	if (jwks_check(text) == NULL) {
		json_t *doc = json_loads(text, 0, NULL);
		json_t *keys = json_object_get(doc, "keys");
		fz_check(json_array_size(keys) >= 1 &&
		         json_array_size(keys) <= JWKS_MAX_KEYS);
		for (size_t i = 0; i < json_array_size(keys); i++) {
			const char *why;
			EVP_PKEY *pk = jwk_public_key(json_array_get(keys, i),
			                              &why);
			fz_check(pk != NULL);
			EVP_PKEY_free(pk);
		}
		json_decref(doc);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	char *assertion = NULL;
	bool forged = true;
	data++;
	size--;
	if (mode == 0x00) {
		check_jwks(data, size);
		return 0;
	}
	if (mode == 0x01 || mode == 0x02) {
		char *in = signing_input(&data, &size);
		char *sig = mode == 0x02 ? sign(in) : b64url(data, size);
		fz_check(asprintf(&assertion, "%s.%s", in, sig) > 0);
		free(in);
		free(sig);
		forged = mode == 0x01;
	} else {
		assertion = fz_cstr(data - 1, size + 1);
	}
	free(client_assertion_subject(assertion));
	struct oauth_result r = client_assertion_check(fx.g, &fx.cl, assertion);
	if (forged)
		fz_check(r.err != OAUTH_OK);
	free(assertion);
	return 0;
}
