/*
 * fuzz_dpop.c: the DPoP proof parser (issue 19, RFC 9449): grants/dpop.c's
 * check of the proof a client sends at /token and with a bound token at a
 * resource, and core/jws.c's JWK thumbprint of the key it carries.
 *
 * LLVMFuzzerInitialize makes a migrated SQLite store in a private
 * temporary directory, struct grants and a P-256 key.
 *
 * The first byte picks the shape of the rest:
 *   0x00  a JWK: when jwk_public_key takes it, jwk_thumbprint must give
 *         43 base64url characters.
 *   0x01  HEADER \0 CLAIMS \0 SIGNATURE, base64url-encoded and joined by
 *         the target. The signature is the fuzzer's, so a proof accepted
 *         is a forgery: that aborts.
 *   0x02  HEADER \0 CLAIMS, signed ES256 with the key, so the claims are
 *         read past a valid signature. Accepted, the thumbprint must be
 *         the key's, and the same proof again must be refused (its jti).
 *   0x03  as 0x02, checked as a resource would only.
 *   other the whole input is the proof, as sent; accepted aborts.
 * In HEADER and CLAIMS, "@jwk@" is the key's public JWK, "@htu@" the
 * token endpoint, "@iat@" now, "@ath@" the hash of the token "t" and
 * "@non@" a nonce of the server's (grants_dpop_nonce).
 *   0x04  as 0x02, with dpop_nonce on, at the token endpoint the way
 *         grants_token does it: checked, then spent (dpop_spend) twice;
 *         the second answer must be the first's.
 * A resource checks it for the token "t" bound to the key.
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
#include "fuzz_jose.h"
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
	char *jwk, *jkt, *ath;
} fx;



static void cleanup(void)
{
	grants_free(fx.g);
	store_close(fx.st);
	fz_rmtree(fx.dir);
	free(fx.dir);
	EVP_PKEY_free(fx.key);
	free(fx.jwk);
	free(fx.jkt);
	free(fx.ath);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	fx.dir = fz_tmpdir();
	char *path = fz_path(fx.dir, "dpop.db");
	char err[256] = "";
	int applied, schema;
	if (store_open(path, &fx.st, err, sizeof(err)) != STORE_OK ||
	    store_migrate(fx.st, &applied, &schema, err, sizeof(err)) !=
	        STORE_OK) {
		fprintf(stderr, "fuzz_dpop: store: %s\n", err);
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
	char *xs = fz_coord(fx.key, "qx"), *ys = fz_coord(fx.key, "qy");
	fz_check(asprintf(&fx.jwk, "{\"kty\":\"EC\",\"crv\":\"P-256\","
	                           "\"x\":\"%s\",\"y\":\"%s\"}", xs, ys) > 0);
	free(xs);
	free(ys);
	json_t *j = json_loads(fx.jwk, 0, NULL);
	fx.jkt = jwk_thumbprint(j);
	json_decref(j);
	fz_check(fx.jkt != NULL);
	unsigned char d[SHA256_LEN];
	sha256("t", 1, d);
	fx.ath = fz_b64url(d, sizeof(d));
	atexit(cleanup);
	return 0;
}

/* s[0..len) with the @...@ names replaced; a new C string. */
static char *substitute(const char *s, size_t len)
{
	char iat[24];
	snprintf(iat, sizeof(iat), "%lld", (long long)clock_now());
	fx.g->dpop_nonce = true;
	char *nonce = grants_dpop_nonce(fx.g);
	fx.g->dpop_nonce = false;
	fz_check(nonce != NULL);
	const char *names[] = {"@jwk@", "@htu@", "@iat@", "@ath@", "@non@"};
	const char *vals[] = {fx.jwk, ISSUER "/token", iat, fx.ath, nonce};
	char *out = fz_xmalloc(len * (strlen(nonce) + 200) / 5 + 1), *o = out;
	for (size_t i = 0; i < len;) {
		size_t k = 0;
		while (k < 5 && !(len - i >= 5 && memcmp(s + i, names[k], 5) == 0))
			k++;
		if (k < 5) {
			o += sprintf(o, "%s", vals[k]);
			i += 5;
		} else {
			*o++ = s[i++];
		}
	}
	*o = '\0';
	free(nonce);
	return out;
}




static void check_jwk(const uint8_t *data, size_t size)
{
	char *text = fz_cstr(data, size);
	json_t *jwk = json_loads(text, 0, NULL);
	const char *why;
	EVP_PKEY *pk = jwk_public_key(jwk, &why);
	if (pk != NULL) {
		char *t = jwk_thumbprint(jwk);
		fz_check(t != NULL && strlen(t) == 43);
		free(t);
		EVP_PKEY_free(pk);
	}
	json_decref(jwk);
	free(text);
}

/* The proof at the token endpoint; accepted, its key must be ours. */
static bool at_token_endpoint(const char *proof)
{
	struct dpop_check c = {.proof = proof, .htm = "POST",
	                       .htu = ISSUER "/token"};
	char *jkt = NULL;
	struct oauth_result r = dpop_proof_check(fx.g, &c,
	                                         OAUTH_INVALID_DPOP_PROOF, &jkt,
	                                         NULL);
	fz_check((r.err == OAUTH_OK) == (jkt != NULL));
	if (jkt != NULL)
		fz_check(strcmp(jkt, fx.jkt) == 0);
	free(jkt);
	return r.err == OAUTH_OK;
}

/* As a resource: the token "t" bound to the key, the proof as sent. */
static bool at_resource(const char *proof)
{
	struct presented_token p = {.token = "t", .dpop = true, .proof = proof,
	                            .htm = "POST", .htu = ISSUER "/token"};
	return dpop_binding_check(fx.g, &p, fx.jkt).err == OAUTH_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	char *proof = NULL;
	bool forged = true;
	data++;
	size--;
	if (mode == 0x00) {
		check_jwk(data, size);
		return 0;
	}
	if (mode == 0x04) {
		char *in = fz_signing_input(&data, &size, substitute);
		char *sig = fz_es256(fx.key, in);
		fz_check(asprintf(&proof, "%s.%s", in, sig) > 0);
		free(in);
		free(sig);
		struct dpop_check c = {.proof = proof, .htm = "POST",
		                       .htu = ISSUER "/token"};
		struct dpop_spend sp;
		char *jkt = NULL;
		fx.g->dpop_nonce = true;
		struct oauth_result r = dpop_proof_check(
		    fx.g, &c, OAUTH_INVALID_DPOP_PROOF, &jkt, &sp);
		fx.g->dpop_nonce = false;
		if (r.err == OAUTH_OK) {
			fz_check(jkt != NULL && strcmp(jkt, fx.jkt) == 0);
			struct oauth_result first = dpop_spend(fx.g, &sp);
			fz_check(dpop_spend(fx.g, &sp).err == first.err);
		}
		free(jkt);
		free(proof);
		return 0;
	}
	if (mode == 0x03) {
		char *in = fz_signing_input(&data, &size, substitute);
		char *sig = fz_es256(fx.key, in);
		fz_check(asprintf(&proof, "%s.%s", in, sig) > 0);
		free(in);
		free(sig);
		if (at_resource(proof))
			fz_check(!at_resource(proof));
		free(proof);
		return 0;
	}
	if (mode == 0x01 || mode == 0x02) {
		char *in = fz_signing_input(&data, &size, substitute);
		char *sig = mode == 0x02 ? fz_es256(fx.key, in) : fz_b64url(data, size);
		fz_check(asprintf(&proof, "%s.%s", in, sig) > 0);
		free(in);
		free(sig);
		forged = mode == 0x01;
	} else {
		proof = fz_cstr(data - 1, size + 1);
	}
	bool ok = at_token_endpoint(proof);
	if (forged)
		fz_check(!ok);
	if (ok) /* its jti is spent: never twice */
		fz_check(!at_token_endpoint(proof));
	bool res = at_resource(proof);
	if (forged || ok)
		fz_check(!res);
	free(proof);
	return 0;
}
