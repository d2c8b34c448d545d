/*
 * test_token_mint.c: grants/ end to end without HTTP. A real SQLite store,
 * grants_new, clients added through store.h, then grants_token with typed
 * requests. Each access token is verified by code in this file, not by the
 * code that minted it (grants/signer.c): the JWS signature with OpenSSL's
 * EVP_DigestVerify against the public key derived here (ES256's R||S turned
 * back into DER here), the header and claims read through libjwt's getters.
 *
 * Why not jwt_decode: Debian 12's libjwt 1.10.2 refuses every "typ" but
 * "JWT" (jwt_verify_head returns EINVAL), and RFC 9068 requires "at+jwt";
 * signer.c avoids libjwt's encoder for the same reason. verify_token still
 * calls jwt_decode and, should a newer libjwt accept the token, checks
 * that it agrees.
 *
 * Argon2id verifications are counted by interposing argon2id_verify (the
 * library is shared), which shows the secret cache at work without timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <argon2.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "secret.h"
#include "unit_util.h"

#define ISSUER "https://issuer.example"
#define AUDIENCE "https://api.example"
#define TTL 900

/* ---- counting Argon2id verifications -------------------------------------- */

static int argon2_verifications;
/* Argon2id at a cost that keeps the suite fast (the cost is in each hash). */
static const struct argon2_cost cheap = {1, 64, 1};

int argon2id_verify(const char *encoded, const void *pwd, const size_t pwdlen)
{
	typedef int (*fn)(const char *, const void *, size_t);
	static fn real;
	if (real == NULL) {
		*(void **)&real = dlsym(RTLD_NEXT, "argon2id_verify");
		if (real == NULL)
			abort();
	}
	argon2_verifications++;
	return real(encoded, pwd, pwdlen);
}

/* ---- fixture ---------------------------------------------------------------- */

struct fx {
	char *dir;
	struct store *s;
	struct grants *g;
};

static struct fx fx;

static void add_client(const char *id, const char *secret_hash, bool is_public,
                       const char *grants, const char *scopes, int64_t ttl)
{
	struct store_client c = {
	    .client_id = (char *)id, .name = (char *)id,
	    .secret_hash = (char *)secret_hash, .is_public = is_public,
	    .grant_types = (char *)grants, .scopes = (char *)scopes,
	    .access_token_ttl = ttl, .created_at = clock_now(),
	    .updated_at = clock_now(),
	};
	assert_int_equal(store_client_add(fx.s, &c), STORE_OK);
}

/* The grants' settings as latchkeyd's defaults give them (the settings
 * table is the one place a default lives), with this file's issuer,
 * audience and lifetime. Release lc with config_free once grants_new has
 * copied what it keeps. */
static void mint_config(struct lk_config *lc, struct grants_config *gc,
                        const char *audience)
{
	config_defaults(lc);
	grants_config_from(gc, lc, ISSUER);
	gc->audience = audience;
	gc->access_token_ttl = TTL;
}

static int group_setup(void **state)
{
	(void)state;
	log_init("text", LOG_ERR);
	fx.dir = ut_tmpdir();
	fx.s = ut_store_open(fx.dir, "grants.db");
	struct lk_config lc;
	struct grants_config cfg;
	mint_config(&lc, &cfg, AUDIENCE);
	char err[256] = "";
	int rc = grants_new(fx.s, &cfg, &fx.g, err, sizeof(err));
	config_free(&lc);
	if (rc != 0)
		fail_msg("grants_new: %s", err);

	char *fast = secret_hash_fast("s");
	assert_non_null(fast);
	add_client("svc", fast, false, "client_credentials", "read write", 0);
	add_client("short", fast, false, "client_credentials", "read", 60);
	add_client("noscope", fast, false, "client_credentials", "", 0);
	add_client("codeonly", fast, false, "authorization_code refresh_token",
	           "read", 0);
	add_client("pub", NULL, true, "client_credentials", "read", 0);
	free(fast);
	char *slow = secret_hash_slow_at("correct horse", &cheap);
	assert_non_null(slow);
	add_client("slow", slow, false, "client_credentials", "read", 0);
	free(slow);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	grants_free(fx.g);
	store_close(fx.s);
	ut_rmtree(fx.dir);
	free(fx.dir);
	return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

/* The public half of a private PEM, as a SubjectPublicKeyInfo PEM. */
static char *public_pem(const char *private_pem)
{
	BIO *in = BIO_new_mem_buf(private_pem, -1);
	EVP_PKEY *pk = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
	BIO_free(in);
	assert_non_null(pk);
	BIO *out = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(out, pk), 1);
	char *data;
	long len = BIO_get_mem_data(out, &data);
	char *pem = strndup(data, (size_t)len);
	BIO_free(out);
	EVP_PKEY_free(pk);
	assert_non_null(pem);
	return pem;
}

/* The current key of signing_alg (ES256 unless a test says otherwise):
 * its kid, alg and public PEM (caller frees each). */
static void current_key_of(struct store *s, const char *which, char **kid,
                           char **alg, char **pub)
{
	struct store_key k = {0};
	assert_int_equal(store_key_current(s, which, &k), STORE_OK);
	*kid = strdup(k.kid);
	*alg = strdup(k.alg);
	*pub = public_pem(k.private_pem);
	store_key_clear(&k);
}

static void current_key(struct store *s, char **kid, char **alg, char **pub)
{
	current_key_of(s, "ES256", kid, alg, pub);
}

static int collect_kid(const struct store_key *k, void *arg)
{
	char *buf = arg;
	size_t len = strlen(buf);
	snprintf(buf + len, 512 - len, "%s ", k->kid);
	return 0;
}

static int count_cb(const struct store_token *t, void *arg)
{
	(void)t;
	(*(int *)arg)++;
	return 0;
}

static int token_count(struct store *s)
{
	int n = 0;
	struct store_token_filter f = {.client_id = NULL};
	assert_int_equal(store_token_list(s, &f, count_cb, &n), STORE_OK);
	return n;
}

static struct token_request basic(const char *id, const char *secret,
                                  const char *grant, const char *scope)
{
	return (struct token_request){
	    .creds = {.basic = true, .basic_id = id, .basic_secret = secret},
	    .grant_type = grant, .scope = scope,
	};
}

static struct token_request body(const char *id, const char *secret,
                                 const char *grant, const char *scope)
{
	return (struct token_request){
	    .creds = {.form_id = id, .form_secret = secret},
	    .grant_type = grant, .scope = scope,
	};
}

static const char *err_name(enum oauth_err e)
{
	const struct oauth_err_info *i = oauth_err_info(e);
	return i->code ? i->code : "ok";
}

/* Runs a request that must fail with want: no token is handed out or
 * recorded, and *client_id still names the claimed client. */
static void expect_fail(const struct token_request *rq, enum oauth_err want)
{
	int before = token_count(fx.s);
	struct token_response out;
	memset(&out, 0x5a, sizeof(out));
	char *cid = (char *)"unset";
	struct oauth_result r = grants_token(fx.g, rq, &out, &cid);
	if (r.err != want) {
		if (r.err == OAUTH_OK)
			token_response_clear(&out);
		free(cid);
		fail_msg("grants_token = %s, want %s", err_name(r.err),
		         err_name(want));
	}
	assert_null(out.access_token);
	assert_null(out.refresh_token);
	assert_null(out.scope);
	const char *claimed = rq->creds.basic ? rq->creds.basic_id
	                                      : rq->creds.form_id;
	if (claimed == NULL)
		assert_null(cid);
	else
		assert_string_equal(cid, claimed);
	free(cid);
	assert_int_equal(token_count(fx.s), before);
}

/* Runs a request that must succeed; returns the access token. */
static char *expect_ok(const struct token_request *rq, const char *want_scope,
                       int64_t want_ttl)
{
	struct token_response out;
	char *cid = NULL;
	struct oauth_result r = grants_token(fx.g, rq, &out, &cid);
	if (r.err != OAUTH_OK) {
		free(cid);
		fail_msg("grants_token = %s (%s), want OK", err_name(r.err),
		         r.description ? r.description : "");
	}
	assert_non_null(out.access_token);
	assert_string_equal(out.token_type, "Bearer");
	assert_int_equal(out.expires_in, want_ttl);
	assert_string_equal(out.scope, want_scope);
	assert_null(out.refresh_token); /* RFC 6749 section 4.4.3 */
	free(cid);
	char *tok = strdup(out.access_token);
	token_response_clear(&out);
	assert_null(out.access_token);
	return tok;
}

/* base64url (unpadded) to bytes with OpenSSL's decoder; NULL if bad. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *outlen)
{
	size_t padded = (len + 3) / 4 * 4;
	char *tmp = malloc(padded + 1);
	unsigned char *out = malloc(padded / 4 * 3 + 1);
	assert_non_null(tmp);
	assert_non_null(out);
	for (size_t i = 0; i < len; i++)
		tmp[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	memset(tmp + len, '=', padded - len);
	tmp[padded] = '\0';
	int n = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded);
	free(tmp);
	if (n < 0 || len % 4 == 1) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)n - (padded - len);
	return out;
}

/* The JSON text of a base64url token part, NUL-terminated. */
static char *json_part(const char *s, size_t len)
{
	size_t n = 0;
	unsigned char *d = b64url_decode(s, len, &n);
	assert_non_null(d);
	char *txt = strndup((const char *)d, n);
	free(d);
	assert_non_null(txt);
	return txt;
}

/* RFC 7515 section 5.2 with RFC 7518 sections 3.3 and 3.4: 1 if sig is a
 * valid alg signature over input under the public key pub. */
static int jws_verify(const char *pub, const char *alg, const char *input,
                      size_t input_len, const char *sig_b64)
{
	size_t slen = 0;
	unsigned char *sig = b64url_decode(sig_b64, strlen(sig_b64), &slen);
	if (sig == NULL)
		return 0;
	BIO *bio = BIO_new_mem_buf(pub, -1);
	EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(pk);
	unsigned char *der = NULL;
	size_t derlen = slen;
	int ok = 0;
	if (strcmp(alg, "ES256") == 0) {
		/* JWS carries R||S (32 bytes each); OpenSSL wants DER. */
		if (slen != 64 || !EVP_PKEY_is_a(pk, "EC"))
			goto out;
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
		assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
		int n = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		assert_true(n > 0);
		derlen = (size_t)n;
	} else if (strcmp(alg, "RS256") != 0 || !EVP_PKEY_is_a(pk, "RSA") ||
	           slen != (size_t)EVP_PKEY_get_size(pk)) {
		goto out;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk), 1);
	ok = EVP_DigestVerify(ctx, der ? der : sig, derlen,
	                      (const unsigned char *)input, input_len) == 1;
	EVP_MD_CTX_free(ctx);
out:
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	free(sig);
	return ok;
}

/* 1 if tok's signature verifies under pub (header alg decides). */
static int token_verifies(const char *tok, const char *pub)
{
	const char *d1 = strchr(tok, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (d2 == NULL || strchr(d2 + 1, '.') != NULL)
		return 0;
	char *head = json_part(tok, (size_t)(d1 - tok));
	jwt_t *h = NULL;
	assert_int_equal(jwt_new(&h), 0);
	assert_int_equal(jwt_add_headers_json(h, head), 0);
	const char *alg = jwt_get_header(h, "alg");
	int ok = alg != NULL &&
	         jws_verify(pub, alg, tok, (size_t)(d2 - tok), d2 + 1);
	jwt_free(h);
	free(head);
	return ok;
}

/* Verifies tok against pub and checks the RFC 9068 header and claims and
 * the stored record. */
static void verify_token(const char *tok, const char *pub, const char *alg,
                         const char *kid, const char *client_id,
                         const char *scope, int64_t ttl, const char *aud)
{
	/* Compact serialization: three base64url parts. */
	const char *d1 = strchr(tok, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	assert_non_null(d2);
	assert_null(strchr(d2 + 1, '.'));
	for (const char *p = tok; *p; p++)
		assert_true(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
		                   "vwxyz0123456789-_.", *p) != NULL);
	if (!token_verifies(tok, pub))
		fail_msg("the %s signature does not verify", alg);

	char *head = json_part(tok, (size_t)(d1 - tok));
	char *claims = json_part(d1 + 1, (size_t)(d2 - d1 - 1));
	jwt_t *jwt = NULL;
	assert_int_equal(jwt_new(&jwt), 0);
	assert_int_equal(jwt_add_headers_json(jwt, head), 0);
	assert_int_equal(jwt_add_grants_json(jwt, claims), 0);
	free(head);
	free(claims);

	assert_string_equal(jwt_get_header(jwt, "typ"), "at+jwt");
	assert_string_equal(jwt_get_header(jwt, "alg"), alg);
	assert_string_equal(jwt_get_header(jwt, "kid"), kid);
	assert_string_equal(jwt_get_grant(jwt, "iss"), ISSUER);
	assert_string_equal(jwt_get_grant(jwt, "sub"), client_id);
	assert_string_equal(jwt_get_grant(jwt, "client_id"), client_id);
	if (aud != NULL)
		assert_string_equal(jwt_get_grant(jwt, "aud"), aud);
	else
		assert_null(jwt_get_grant(jwt, "aud"));
	if (scope[0] != '\0')
		assert_string_equal(jwt_get_grant(jwt, "scope"), scope);
	else
		assert_null(jwt_get_grant(jwt, "scope"));
	long iat = jwt_get_grant_int(jwt, "iat");
	long exp = jwt_get_grant_int(jwt, "exp");
	assert_int_equal(exp - iat, ttl);
	int64_t now = clock_now();
	/* Generous: under valgrind an RSA verification takes seconds. */
	assert_true(iat <= now && iat >= now - 120);
	const char *jti = jwt_get_grant(jwt, "jti");
	assert_non_null(jti);
	/* crypto_ordered_id: 12 hex digits of milliseconds, then 10 random
	 * bytes as base64url (14 characters). */
	assert_int_equal(strlen(jti), 26);
	assert_int_equal(strspn(jti, "0123456789abcdef") >= 12, 1);

	struct store_token t = {0};
	assert_int_equal(store_token_get(fx.s, jti, &t), STORE_OK);
	assert_string_equal(t.client_id, client_id);
	assert_string_equal(t.subject, client_id);
	assert_string_equal(t.scope, scope);
	assert_string_equal(t.kid, kid);
	assert_int_equal(t.issued_at, iat);
	assert_int_equal(t.expires_at, exp);
	assert_int_equal(t.revoked_at, 0);
	store_token_clear(&t);

	/* A libjwt that accepts "at+jwt" must agree on everything. */
	jwt_t *dec = NULL;
	if (jwt_decode(&dec, tok, (const unsigned char *)pub, (int)strlen(pub)) == 0) {
		assert_string_equal(jwt_get_header(dec, "kid"), kid);
		assert_string_equal(jwt_get_grant(dec, "jti"), jti);
		assert_int_equal(jwt_get_grant_int(dec, "exp"), exp);
	}
	jwt_free(dec);
	jwt_free(jwt);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_first_start_made_a_key(void **state)
{
	(void)state;
	/* A current key of each algorithm (migration 0008): ES256 for
	 * access tokens, RS256 for ID tokens by default. */
	for (int a = 0; a < KEY_ALG_COUNT; a++) {
		struct store_key k = {0};
		const char *name = key_alg_name((enum key_alg)a);
		assert_int_equal(store_key_current(fx.s, name, &k), STORE_OK);
		assert_string_equal(k.alg, name);
		struct key_jwk j;
		assert_int_equal(key_public_jwk(k.private_pem, (enum key_alg)a,
		                                &j), 0);
		/* kid is the RFC 7638 thumbprint */
		assert_string_equal(k.kid, j.thumbprint);
		key_jwk_clear(&j);
		store_key_clear(&k);
	}
	char kids[512] = "";
	assert_int_equal(store_key_list(fx.s, false, 0, 0, collect_kid, kids),
	                 STORE_OK);
	assert_int_equal(strlen(kids), 2 * 44);

	/* A second grants_new with the same alg keeps the key. */
	char *kid1, *alg1, *pub1;
	current_key(fx.s, &kid1, &alg1, &pub1);
	struct grants *g2 = NULL;
	struct lk_config lc;
	struct grants_config cfg;
	mint_config(&lc, &cfg, NULL);
	char err[256] = "";
	assert_int_equal(grants_new(fx.s, &cfg, &g2, err, sizeof(err)), 0);
	config_free(&lc);
	char *kid2, *alg2, *pub2;
	current_key(fx.s, &kid2, &alg2, &pub2);
	assert_string_equal(kid1, kid2);
	grants_free(g2);
	free(kid1), free(alg1), free(pub1), free(kid2), free(alg2), free(pub2);
}

static void test_client_credentials_basic(void **state)
{
	(void)state;
	char *kid, *alg, *pub;
	current_key(fx.s, &kid, &alg, &pub);
	int before = token_count(fx.s);
	struct token_request rq = basic("svc", "s", "client_credentials", NULL);
	char *tok = expect_ok(&rq, "read write", TTL);
	assert_int_equal(token_count(fx.s), before + 1);

	/* Compact JWS: three parts; ES256's signature is 64 bytes R||S. */
	const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	assert_non_null(d2);
	assert_null(strchr(d2 + 1, '.'));
	assert_int_equal(strlen(d2 + 1), 86);

	verify_token(tok, pub, "ES256", kid, "svc", "read write", TTL, AUDIENCE);

	/* The check can fail: a flipped signature bit or another key. */
	char *bad = strdup(tok);
	size_t n = strlen(bad);
	bad[n - 10] = bad[n - 10] == 'A' ? 'B' : 'A';
	assert_false(token_verifies(bad, pub));
	/* Or a changed claim (here: one bit of the payload). */
	strcpy(bad, tok);
	bad[d1 - tok + 5] ^= 1;
	assert_false(token_verifies(bad, pub));
	free(bad);
	char *other = NULL;
	assert_int_equal(key_generate(KEY_ALG_ES256, &other), 0);
	char *other_pub = public_pem(other);
	assert_false(token_verifies(tok, other_pub));
	free(other_pub);
	crypto_free_str(other);

	free(tok);
	free(kid), free(alg), free(pub);
}

static void test_client_credentials_variants(void **state)
{
	(void)state;
	char *kid, *alg, *pub;
	current_key(fx.s, &kid, &alg, &pub);

	/* Credentials in the body; a narrower scope, in request order. */
	struct token_request rq = body("svc", "s", "client_credentials",
	                               "write read write");
	char *tok = expect_ok(&rq, "write read", TTL);
	verify_token(tok, pub, "ES256", kid, "svc", "write read", TTL, AUDIENCE);
	free(tok);

	/* Basic with a matching client_id in the body is one method. */
	rq = basic("svc", "s", "client_credentials", "read");
	rq.creds.form_id = "svc";
	tok = expect_ok(&rq, "read", TTL);
	free(tok);

	/* The client's own lifetime wins over the server's. */
	rq = basic("short", "s", "client_credentials", NULL);
	tok = expect_ok(&rq, "read", 60);
	verify_token(tok, pub, "ES256", kid, "short", "read", 60, AUDIENCE);
	free(tok);

	/* No scopes registered, none requested: no scope claim. */
	rq = basic("noscope", "s", "client_credentials", NULL);
	tok = expect_ok(&rq, "", TTL);
	verify_token(tok, pub, "ES256", kid, "noscope", "", TTL, AUDIENCE);
	free(tok);

	/* Every token gets its own jti. */
	rq = basic("svc", "s", "client_credentials", NULL);
	char *a = expect_ok(&rq, "read write", TTL);
	char *b = expect_ok(&rq, "read write", TTL);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	free(kid), free(alg), free(pub);
}

static void test_errors(void **state)
{
	(void)state;
	struct token_request rq;

	rq = basic("svc", "s", NULL, NULL);
	expect_fail(&rq, OAUTH_INVALID_REQUEST);
	rq = basic("svc", "s", "", NULL);
	expect_fail(&rq, OAUTH_INVALID_REQUEST);

	rq = basic("svc", "wrong", "client_credentials", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);
	rq = body("svc", "wrong", "client_credentials", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);
	rq = basic("svc", "", "client_credentials", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);
	rq = body("svc", NULL, "client_credentials", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);
	rq = basic("ghost", "s", "client_credentials", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);
	rq = body("ghost", "s", "client_credentials", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);
	rq = body(NULL, NULL, "client_credentials", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);
	rq = body("", "s", "client_credentials", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);

	/* Two methods at once (RFC 6749 section 2.3). */
	rq = basic("svc", "s", "client_credentials", NULL);
	rq.creds.form_secret = "s";
	expect_fail(&rq, OAUTH_INVALID_REQUEST);
	rq = basic("svc", "s", "client_credentials", NULL);
	rq.creds.form_id = "short";
	expect_fail(&rq, OAUTH_INVALID_REQUEST);

	/* The grant is known but not registered for the client. */
	rq = basic("codeonly", "s", "client_credentials", NULL);
	expect_fail(&rq, OAUTH_UNAUTHORIZED_CLIENT);
	/* A public client may not use client_credentials... */
	rq = body("pub", NULL, "client_credentials", NULL);
	expect_fail(&rq, OAUTH_UNAUTHORIZED_CLIENT);
	/* ...and may not present a secret at all. */
	rq = body("pub", "x", "client_credentials", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);

	rq = basic("svc", "s", "foo", NULL);
	expect_fail(&rq, OAUTH_UNSUPPORTED_GRANT_TYPE);
	/* The grant exists now: without a code the request is incomplete. */
	rq = basic("codeonly", "s", "authorization_code", NULL);
	expect_fail(&rq, OAUTH_INVALID_REQUEST);
	/* Client authentication comes first: a bad secret with a bad grant
	 * is invalid_client. */
	rq = basic("svc", "wrong", "foo", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);

	rq = basic("svc", "s", "client_credentials", "admin");
	expect_fail(&rq, OAUTH_INVALID_SCOPE);
	rq = basic("svc", "s", "client_credentials", "read admin");
	expect_fail(&rq, OAUTH_INVALID_SCOPE);
	rq = basic("svc", "s", "client_credentials", "");
	expect_fail(&rq, OAUTH_INVALID_SCOPE);
	rq = basic("svc", "s", "client_credentials", "read  write");
	expect_fail(&rq, OAUTH_INVALID_SCOPE);
	rq = basic("noscope", "s", "client_credentials", "read");
	expect_fail(&rq, OAUTH_INVALID_SCOPE);
}

static void test_slow_secret_cached(void **state)
{
	(void)state;
	struct token_request rq = basic("slow", "correct horse",
	                                "client_credentials", NULL);
	argon2_verifications = 0;
	char *tok = expect_ok(&rq, "read", TTL);
	free(tok);
	assert_int_equal(argon2_verifications, 1);
	/* The second success comes from the cache: no KDF run. */
	tok = expect_ok(&rq, "read", TTL);
	free(tok);
	assert_int_equal(argon2_verifications, 1);
	rq = body("slow", "correct horse", "client_credentials", NULL);
	tok = expect_ok(&rq, "read", TTL);
	free(tok);
	assert_int_equal(argon2_verifications, 1);

	/* A wrong secret is never a cache hit, before or after. */
	rq = basic("slow", "correct horsE", "client_credentials", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);
	assert_int_equal(argon2_verifications, 2);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);
	assert_int_equal(argon2_verifications, 3);
	rq = basic("slow", "", "client_credentials", NULL);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);
	/* The right one still works from the cache. */
	rq = basic("slow", "correct horse", "client_credentials", NULL);
	argon2_verifications = 0;
	tok = expect_ok(&rq, "read", TTL);
	free(tok);
	assert_int_equal(argon2_verifications, 0);

	/* A changed secret hash (rotation) cannot match the old entry. */
	struct store_client c = {0};
	assert_int_equal(store_client_get(fx.s, "slow", &c), STORE_OK);
	char *h2 = secret_hash_slow_at("battery staple", &cheap);
	crypto_free_str(c.secret_hash);
	c.secret_hash = h2;
	c.updated_at = clock_now();
	assert_int_equal(store_client_update(fx.s, &c), STORE_OK);
	store_client_clear(&c);
	expect_fail(&rq, OAUTH_INVALID_CLIENT);
	assert_int_equal(argon2_verifications, 1);
	rq = basic("slow", "battery staple", "client_credentials", NULL);
	tok = expect_ok(&rq, "read", TTL);
	free(tok);
	assert_int_equal(argon2_verifications, 2);
}

/* ---- ES256: one spelling per token (defect 8) ----------------------------- */

/* The P-256 order n, from OpenSSL (the test's own, not signer.c's). */
static BIGNUM *p256_order(void)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	assert_non_null(g);
	BIGNUM *n = BN_dup(EC_GROUP_get0_order(g));
	EC_GROUP_free(g);
	assert_non_null(n);
	return n;
}

/* tok with its ES256 s replaced by n - s: the same signature, spelled
 * the other way. The caller frees. */
static char *flip_s(const char *tok, const BIGNUM *n)
{
	const char *sig = strrchr(tok, '.') + 1;
	size_t len = 0;
	unsigned char *rs = b64url_decode(sig, strlen(sig), &len);
	assert_non_null(rs);
	assert_int_equal(len, 64);
	BIGNUM *v = BN_bin2bn(rs + 32, 32, NULL);
	assert_non_null(v);
	assert_int_equal(BN_sub(v, n, v), 1);
	assert_int_equal(BN_bn2binpad(v, rs + 32, 32), 32);
	BN_free(v);
	char *b = b64_encode(rs, 64, true);
	free(rs);
	char *out = NULL;
	assert_true(asprintf(&out, "%.*s%s", (int)(sig - tok), tok, b) > 0);
	free(b);
	return out;
}

/* ECDSA signatures are malleable: (r, s) and (r, n - s) both verify.
 * Every signature minted has s <= n/2, over many signings (OpenSSL
 * returns either half at random, so the odds of 400 low ones by chance
 * are 2^-400); the other spelling verifies mathematically but
 * token_verify refuses it. */
/* A client removed (by the CLI, perhaps on another instance) between its
 * authentication and the issue: the token cannot be recorded (its record
 * refers to the client's row), so nothing is handed out, and the answer is
 * the unknown client's 401 invalid_client, not a 500. */
static void test_client_removed_during_issue(void **state)
{
	(void)state;
	add_client("gone", NULL, true, "client_credentials", "read", 0);
	struct store_client cl = {0};
	assert_int_equal(store_client_get(fx.s, "gone", &cl), STORE_OK);
	assert_int_equal(store_client_remove(fx.s, "gone"), STORE_OK);
	int before = token_count(fx.s);
	struct issue_opts o = {.subject = "gone", .scope = "read"};
	struct token_response out = {0};
	struct oauth_result r = token_issue(fx.g, &cl, &o, &out);
	assert_int_equal(r.err, OAUTH_INVALID_CLIENT);
	assert_int_equal(oauth_err_info(r.err)->http_status, 401);
	assert_null(out.access_token);
	assert_int_equal(token_count(fx.s), before);
	token_response_clear(&out);
	store_client_clear(&cl);
}

static void test_es256_signatures_are_low_s(void **state)
{
	(void)state;
	char *kid, *alg, *pub;
	current_key(fx.s, &kid, &alg, &pub);
	assert_string_equal(alg, "ES256");
	BIGNUM *n = p256_order(), *half = BN_dup(n);
	assert_non_null(half);
	assert_int_equal(BN_rshift1(half, half), 1);
	struct at_claims c = {.iss = ISSUER, .sub = "svc", .aud = AUDIENCE,
	                      .client_id = "svc", .scope = "read", .jti = "j",
	                      .iat = 1, .exp = 2};
	for (int i = 0; i < 400; i++) {
		char *tok = NULL, *k = NULL;
		assert_int_equal(signer_mint(fx.g->signer, &c, &tok, &k), 0);
		const char *sig = strrchr(tok, '.') + 1;
		size_t len = 0;
		unsigned char *rs = b64url_decode(sig, strlen(sig), &len);
		assert_int_equal(len, 64);
		BIGNUM *sv = BN_bin2bn(rs + 32, 32, NULL);
		if (BN_cmp(sv, half) > 0)
			fail_msg("signature %d has a high s", i);
		BN_free(sv);
		free(rs);
		struct at_claims_read cr;
		assert_int_equal(token_verify(fx.g, tok, &cr), 0);
		at_claims_read_clear(&cr);
		if (i < 8) { /* the other spelling: valid math, refused */
			char *high = flip_s(tok, n);
			assert_true(token_verifies(high, pub));
			assert_int_equal(token_verify(fx.g, high, &cr), -1);
			free(high);
		}
		free(tok);
		free(k);
	}
	BN_free(n);
	BN_free(half);
	free(kid), free(alg), free(pub);
}

/* signing_alg=RS256 signs access tokens with the RS256 key that the first
 * start made; changing signing_alg rotates nothing (both algorithms
 * always have a current key) and the ES256 key stays current. */
static void test_rs256_signing_alg(void **state)
{
	(void)state;
	char *dir = ut_tmpdir();
	struct store *s = ut_store_open(dir, "rot.db");
	struct grants *g = NULL;
	char err[256] = "";
	struct lk_config lc;
	struct grants_config cfg;
	mint_config(&lc, &cfg, "");
	assert_int_equal(grants_new(s, &cfg, &g, err, sizeof(err)), 0);
	char *kid1, *alg1, *pub1, *rkid, *ralg, *rpub;
	current_key(s, &kid1, &alg1, &pub1);
	current_key_of(s, "RS256", &rkid, &ralg, &rpub);
	assert_string_equal(alg1, "ES256");

	/* Point the fixture's helpers at this store for the checks. */
	struct fx saved = fx;
	fx.s = s;
	fx.g = g;
	char *fast = secret_hash_fast("s");
	add_client("svc", fast, false, "client_credentials", "read", 0);
	free(fast);
	struct token_request rq = basic("svc", "s", "client_credentials", NULL);
	char *old_tok = expect_ok(&rq, "read", TTL);
	/* Without the audience setting, aud is the issuer (RFC 9068
	 * section 2.2 makes it required; issue 12). */
	verify_token(old_tok, pub1, "ES256", kid1, "svc", "read", TTL, ISSUER);
	grants_free(g);

	cfg.alg = KEY_ALG_RS256;
	assert_int_equal(grants_new(s, &cfg, &g, err, sizeof(err)), 0);
	config_free(&lc);
	fx.g = g;
	char *kid2, *alg2, *pub2;
	current_key_of(s, "RS256", &kid2, &alg2, &pub2);
	assert_string_equal(kid2, rkid); /* no new key */
	char *kid3, *alg3, *pub3;
	current_key(s, &kid3, &alg3, &pub3);
	assert_string_equal(kid3, kid1); /* the ES256 key is still current */

	char *new_tok = expect_ok(&rq, "read", TTL);
	verify_token(new_tok, pub2, "RS256", kid2, "svc", "read", TTL, ISSUER);
	verify_token(old_tok, pub1, "ES256", kid1, "svc", "read", TTL, ISSUER);
	assert_false(token_verifies(new_tok, pub1));
	assert_false(token_verifies(old_tok, pub2));
	/* Both keys are published, now and later: both are current. */
	char kids[512] = "";
	assert_int_equal(store_key_list(s, true, clock_now(), 0, collect_kid,
	                                kids), STORE_OK);
	assert_non_null(strstr(kids, kid1));
	assert_non_null(strstr(kids, kid2));
	assert_int_equal(strlen(kids), strlen(kid1) + strlen(kid2) + 2);
	kids[0] = '\0';
	assert_int_equal(store_key_list(s, true, clock_now() + TTL + 1, 0,
	                                collect_kid, kids), STORE_OK);
	assert_int_equal(strlen(kids), strlen(kid1) + strlen(kid2) + 2);
	kids[0] = '\0';
	assert_int_equal(store_key_list(s, false, 0, 0, collect_kid, kids),
	                 STORE_OK);
	assert_int_equal(strlen(kids), strlen(kid1) + strlen(kid2) + 2);

	fx = saved;
	grants_free(g);
	store_close(s);
	free(old_tok), free(new_tok);
	free(kid1), free(alg1), free(pub1), free(kid2), free(alg2), free(pub2);
	free(kid3), free(alg3), free(pub3), free(rkid), free(ralg), free(rpub);
	ut_rmtree(dir);
	free(dir);
}

/* The public PEM of a public key. */
static char *pubkey_pem(EVP_PKEY *pk)
{
	BIO *out = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(out, pk), 1);
	char *data;
	long len = BIO_get_mem_data(out, &data);
	char *pem = strndup(data, (size_t)len);
	BIO_free(out);
	return pem;
}

/* signer_sign (ID tokens' signer): a JWS with the current key of the
 * algorithm asked for, header {"alg","kid","typ"}, verifiable with the
 * keyring's key of that kid, which is refused under the other alg. */
static void test_signer_sign_each_alg(void **state)
{
	(void)state;
	for (int a = 0; a < KEY_ALG_COUNT; a++) {
		enum key_alg alg = (enum key_alg)a;
		const char *name = key_alg_name(alg);
		char *ckid, *calg, *cpub;
		current_key_of(fx.s, name, &ckid, &calg, &cpub);
		json_t *claims = json_pack("{s:s, s:s, s:I}", "sub", "u-1",
		                           "nonce", "n-0S6", "iat", (json_int_t)7);
		char *tok = NULL, *kid = NULL;
		assert_int_equal(signer_sign(fx.g->signer, alg, "JWT", claims,
		                             &tok, &kid), 0);
		assert_string_equal(kid, ckid);

		const char *d1 = strchr(tok, '.');
		const char *d2 = strchr(d1 + 1, '.');
		assert_non_null(d2);
		char *head = json_part(tok, (size_t)(d1 - tok));
		json_t *h = json_loads(head, 0, NULL);
		assert_non_null(h);
		assert_int_equal(json_object_size(h), 3);
		assert_string_equal(json_string_value(json_object_get(h, "alg")),
		                    name);
		assert_string_equal(json_string_value(json_object_get(h, "kid")),
		                    kid);
		assert_string_equal(json_string_value(json_object_get(h, "typ")),
		                    "JWT");
		json_decref(h);
		free(head);
		char *body = json_part(d1 + 1, (size_t)(d2 - d1 - 1));
		json_t *b = json_loads(body, 0, NULL);
		assert_string_equal(json_string_value(json_object_get(b, "nonce")),
		                    "n-0S6");
		json_decref(b);
		free(body);

		EVP_PKEY *pk = keyring_public_key(fx.g->keyring, kid, name);
		assert_non_null(pk);
		char *pem = pubkey_pem(pk);
		EVP_PKEY_free(pk);
		assert_true(token_verifies(tok, pem));
		assert_true(token_verifies(tok, cpub));
		/* No alg confusion: the kid under the other alg finds nothing. */
		assert_null(keyring_public_key(fx.g->keyring, kid,
		                               key_alg_name((enum key_alg)!a)));
		/* An access token it is not: token_verify wants at+jwt. */
		struct at_claims_read r;
		assert_int_equal(token_verify(fx.g, tok, &r), -1);
		/* An altered payload fails. */
		char *bad = strdup(tok);
		bad[(d1 - tok) + 2] = bad[(d1 - tok) + 2] == 'A' ? 'B' : 'A';
		assert_false(token_verifies(bad, pem));
		free(bad);
		free(pem);
		free(tok), free(kid), free(ckid), free(calg), free(cpub);
	}
	/* An algorithm that is not one: refused, the claims still freed. */
	char *tok = NULL, *kid = NULL;
	assert_int_equal(signer_sign(fx.g->signer, (enum key_alg)KEY_ALG_COUNT,
	                             "JWT", json_object(), &tok, &kid), -1);
	assert_null(tok);
	assert_null(kid);
}

/* `latchkey key rotate` writes a new current key while the server runs;
 * the signer picks it up within KEY_RECHECK_SECS (2 s, monotonic). */
static void test_picks_up_rotated_key(void **state)
{
	(void)state;
	char *kid1, *alg1, *pub1;
	current_key(fx.s, &kid1, &alg1, &pub1);
	char *pem = NULL;
	struct key_jwk j;
	assert_int_equal(key_generate(KEY_ALG_ES256, &pem), 0);
	assert_int_equal(key_public_jwk(pem, KEY_ALG_ES256, &j), 0);
	struct store_key k = {
	    .kid = j.thumbprint, .alg = (char *)"ES256", .private_pem = pem,
	    .created_at = clock_now(),
	};
	assert_int_equal(store_key_add_current(fx.s, &k), STORE_OK);
	char *kid2, *alg2, *pub2;
	current_key(fx.s, &kid2, &alg2, &pub2);
	assert_string_equal(kid2, j.thumbprint);
	assert_string_not_equal(kid1, kid2);
	key_jwk_clear(&j);
	crypto_free_str(pem);

	struct timespec ts = {2, 100000000};
	nanosleep(&ts, NULL);
	struct token_request rq = basic("svc", "s", "client_credentials", NULL);
	char *tok = expect_ok(&rq, "read write", TTL);
	verify_token(tok, pub2, "ES256", kid2, "svc", "read write", TTL, AUDIENCE);
	assert_false(token_verifies(tok, pub1));
	free(tok);
	free(kid1), free(alg1), free(pub1), free(kid2), free(alg2), free(pub2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_start_made_a_key),
	    cmocka_unit_test(test_client_credentials_basic),
	    cmocka_unit_test(test_client_credentials_variants),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_slow_secret_cached),
	    cmocka_unit_test(test_client_removed_during_issue),
	    cmocka_unit_test(test_es256_signatures_are_low_s),
	    cmocka_unit_test(test_rs256_signing_alg),
	    cmocka_unit_test(test_signer_sign_each_alg),
	    cmocka_unit_test(test_picks_up_rotated_key),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
