/*
 * fuzz_client_assertion.c: the parsers a private_key_jwt client reaches
 * (issue 19): core/jws.c's JWKS check (what `client add --jwks`, the
 * fixtures and the admin API take) and grants/client_assertion.c's check
 * of an assertion sent to /token, /introspect and /revoke; and the same
 * assertion as the JWT bearer grant's (grant_jwt_bearer.c), whose issuer
 * "svc" is trusted with the same key, for the client "svc" (so its sub
 * must be another name to be taken).
 *
 * LLVMFuzzerInitialize makes a migrated SQLite store in a private
 * temporary directory, struct grants, a P-256 key, a client "svc"
 * registered with its public half (kid "k"), and an issuer "svc" trusted
 * with it.
 *
 * The first byte picks the shape of the rest:
 *   0x00  a JWKS document: jwks_check, then, when it is accepted, every
 *         key made into an OpenSSL key again (an accepted document whose
 *         key cannot be used aborts); and jwks_has_cert's x5c reading
 *         (RFC 8705), whose answer for NULL must hold for one of its
 *         thumbprints too.
 *   0x01  HEADER \0 CLAIMS \0 SIGNATURE, base64url-encoded and joined by
 *         the target. The signature is the fuzzer's, so an assertion
 *         accepted (by either check) is a forgery: that aborts.
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
#include "fuzz_jose.h"
#include "fuzz_util.h"
#include "grants_int.h"
#include "jws.h"
#include "store.h"
#include "validate.h"

#define ISSUER "https://issuer.example"

static struct {
	char *dir;
	struct store *st;
	struct grants *g;
	EVP_PKEY *key;
	struct store_client cl;
} fx;



/* The public JWKS of fx.key, kid "k". */
static char *public_jwks(void)
{
	char *xs = fz_coord(fx.key, "qx"), *ys = fz_coord(fx.key, "qy");
	char *doc = NULL;
	fz_check(asprintf(&doc, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
	                        "\"kid\":\"k\",\"x\":\"%s\",\"y\":\"%s\"}]}",
	                  xs, ys) > 0);
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
	struct store_issuer is = {.issuer = (char *)"svc",
	                          .client_id = (char *)"svc", .jwks = jwks,
	                          .created_at = 1};
	fz_check(store_issuer_add(fx.st, &is) == STORE_OK);
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




static void check_jwks(const uint8_t *data, size_t size)
{
	char *text = fz_cstr(data, size);
	/* Any text: a bad x5c is no certificate, never a crash. A thumbprint
	 * nobody has matches nothing. */
	bool any = jwks_has_cert(text, NULL);
	fz_check(!jwks_has_cert(text, "no-such-thumbprint") || any);
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
		char *in = fz_signing_input(&data, &size, substitute);
		char *sig = mode == 0x02 ? fz_es256(fx.key, in) : fz_b64url(data, size);
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
	struct token_request tr = {.grant_type = VALID_GRANT_JWT_BEARER,
	                           .assertion = assertion};
	struct token_response out;
	memset(&out, 0, sizeof(out));
	r = grant_jwt_bearer(fx.g, &tr, &fx.cl, &out);
	if (forged)
		fz_check(r.err != OAUTH_OK);
	if (r.err == OAUTH_OK)
		fz_check(out.access_token != NULL && out.refresh_token == NULL);
	token_response_clear(&out);
	free(assertion);
	return 0;
}
