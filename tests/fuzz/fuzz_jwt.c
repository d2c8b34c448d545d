/*
 * fuzz_jwt.c: grants/verify.c's token_verify, which reads every JWT sent
 * to /introspect, /revoke and /resource, and grants_check_bearer, which
 * looks the verified token up (introspection's access-token path).
 *
 * LLVMFuzzerInitialize builds, once, what the server has at start: a
 * migrated SQLite store in a private temporary directory, a retired RS256
 * key and a current ES256 key, struct grants, a client, and one access
 * token issued to it (so a verified jti can name a live record).
 *
 * Three shapes of input, chosen by the first byte:
 *   0x00  HEADER \0 CLAIMS \0 SIGNATURE: the target base64url-encodes the
 *         three parts and joins them with dots. Reaches the header checks
 *         (typ, alg, kid) without the fuzzer learning base64. The
 *         signature bytes are the fuzzer's, so a token accepted here is a
 *         forgery: that aborts.
 *   0x01  HEADER \0 CLAIMS: the target signs the two parts with our own
 *         key (RS256 when the header names the RS256 key, else ES256), so
 *         the claims are read past a valid signature.
 *   other the whole input is the token, as a client sends it. A token
 *         accepted here is a forgery too (the keys are made at start, so no
 *         input can carry a valid signature): that aborts.
 * In HEADER and CLAIMS, "@kid@", "@rkid@" and "@jti@" are replaced with
 * the ES256 kid, the RS256 kid and the live token's jti.
 */
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fuzz_util.h"
#include "grants_int.h"
#include "secret.h"
#include "store.h"

#define ISSUER "https://issuer.example"
#define TTL 31536000 /* the live token outlives any fuzzing run */

struct fz_key {
	char *kid, *alg;
	EVP_PKEY *pk;
};

static struct {
	char *dir;
	struct store *st;
	struct grants *g;
	struct fz_key es, rs;
	char *jti;
} fx;

/* ---- set-up ------------------------------------------------------------- */

static void new_grants(enum key_alg alg)
{
	/* latchkeyd's defaults (the settings table's), with this file's
	 * issuer, audience, lifetime and algorithm. */
	struct lk_config lc;
	struct grants_config cfg;
	config_defaults(&lc);
	grants_config_from(&cfg, &lc, ISSUER);
	cfg.audience = "https://api.example";
	cfg.access_token_ttl = TTL;
	cfg.alg = alg;
	char err[256] = "";
	int rc = grants_new(fx.st, &cfg, &fx.g, err, sizeof(err));
	config_free(&lc);
	if (rc != 0) {
		fprintf(stderr, "fuzz_jwt: grants_new: %s\n", err);
		abort();
	}
}

static int keep_key(const struct store_key *k, void *arg)
{
	(void)arg;
	struct fz_key *dst = strcmp(k->alg, "ES256") == 0 ? &fx.es : &fx.rs;
	BIO *bio = BIO_new_mem_buf(k->private_pem, -1);
	fz_check(bio != NULL);
	dst->pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	fz_check(dst->pk != NULL);
	dst->kid = strdup(k->kid);
	dst->alg = strdup(k->alg);
	return 0;
}

static void mint_live_token(void)
{
	char *hash = secret_hash_fast("fuzz-secret");
	fz_check(hash != NULL);
	struct store_client c = {
	    .client_id = (char *)"svc", .name = (char *)"svc",
	    .secret_hash = hash, .grant_types = (char *)"client_credentials",
	    .scopes = (char *)"read", .created_at = 1, .updated_at = 1,
	};
	fz_check(store_client_add(fx.st, &c) == STORE_OK);
	free(hash);
	struct token_request rq = {
	    .creds = {.basic = true, .basic_id = "svc",
	              .basic_secret = "fuzz-secret"},
	    .grant_type = "client_credentials", .scope = "read",
	};
	struct token_response out;
	char *cid = NULL;
	struct oauth_result r = grants_token(fx.g, &rq, &out, &cid);
	fz_check(r.err == OAUTH_OK);
	free(cid);
	/* The harness is only as good as its keys: our own token verifies. */
	struct at_claims_read claims;
	fz_check(token_verify(fx.g, out.access_token, &claims) == 0);
	fx.jti = strdup(claims.jti);
	at_claims_read_clear(&claims);
	token_response_clear(&out);
}

static void cleanup(void)
{
	grants_free(fx.g);
	store_close(fx.st);
	fz_rmtree(fx.dir);
	free(fx.dir);
	free(fx.jti);
	struct fz_key *keys[] = {&fx.es, &fx.rs};
	for (size_t i = 0; i < 2; i++) {
		EVP_PKEY_free(keys[i]->pk);
		free(keys[i]->kid);
		free(keys[i]->alg);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	fx.dir = fz_tmpdir();
	char *path = fz_path(fx.dir, "jwt.db");
	char err[256] = "";
	int applied, schema;
	if (store_open(path, &fx.st, err, sizeof(err)) != STORE_OK ||
	    store_migrate(fx.st, &applied, &schema, err, sizeof(err)) !=
	        STORE_OK) {
		fprintf(stderr, "fuzz_jwt: store: %s\n", err);
		abort();
	}
	free(path);
	/* A current key of each algorithm (migration 0008): grants with
	 * signing_alg RS256 make both, and the ES256 grants that follow sign
	 * with the ES256 one while the RS256 one stays among our keys. */
	new_grants(KEY_ALG_RS256);
	grants_free(fx.g);
	new_grants(KEY_ALG_ES256);
	fz_check(store_key_list(fx.st, false, 0, 0, keep_key, NULL) ==
	         STORE_OK);
	fz_check(fx.es.pk != NULL && fx.rs.pk != NULL);
	mint_live_token();
	atexit(cleanup);
	return 0;
}

/* ---- building tokens ---------------------------------------------------- */

/* s[0..len) with each placeholder replaced; a new C string. */
static char *substitute(const char *s, size_t len)
{
	const struct {
		const char *from, *to;
	} subs[] = {{"@kid@", fx.es.kid}, {"@rkid@", fx.rs.kid}, {"@jti@", fx.jti}};
	/* Each replacement eats at least 5 bytes and writes at most maxtl. */
	size_t maxtl = 0;
	for (size_t k = 0; k < sizeof(subs) / sizeof(subs[0]); k++)
		if (strlen(subs[k].to) > maxtl)
			maxtl = strlen(subs[k].to);
	char *out = fz_xmalloc(len + (len / 5) * maxtl + 1), *o = out;
	for (size_t i = 0; i < len;) {
		bool done = false;
		for (size_t k = 0; k < sizeof(subs) / sizeof(subs[0]) && !done;
		     k++) {
			size_t fl = strlen(subs[k].from), tl = strlen(subs[k].to);
			if (len - i >= fl && memcmp(s + i, subs[k].from, fl) == 0) {
				memcpy(o, subs[k].to, tl);
				o += tl;
				i += fl;
				done = true;
			}
		}
		if (!done)
			*o++ = s[i++];
	}
	*o = '\0';
	return out;
}

static char *b64url(const void *p, size_t n)
{
	char *s = b64_encode(p, n, true);
	fz_check(s != NULL);
	return s;
}

/* ES256 and RS256 over input with key k, as JOSE wants them: ECDSA as
 * R||S (RFC 7518 section 3.4), RSA as is. Returns base64url. */
static char *sign(const struct fz_key *k, const char *input)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 0;
	fz_check(ctx != NULL);
	fz_check(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pk) == 1);
	fz_check(EVP_DigestSign(ctx, NULL, &siglen,
	                        (const unsigned char *)input,
	                        strlen(input)) == 1);
	unsigned char *sig = fz_xmalloc(siglen);
	fz_check(EVP_DigestSign(ctx, sig, &siglen,
	                        (const unsigned char *)input,
	                        strlen(input)) == 1);
	EVP_MD_CTX_free(ctx);
	char *out;
	if (k == &fx.es) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
		unsigned char rs[64];
		fz_check(es != NULL);
		/* Low S, as latchkeyd signs: verification refuses a high S
		 * (one token, one spelling), and the claims past a valid
		 * signature are what mode 0x01 is for. */
		BIGNUM *n = NULL, *s = BN_dup(ECDSA_SIG_get0_s(es));
		BIGNUM *half = BN_new();
		fz_check(s != NULL && half != NULL &&
		         BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFF"
		                       "BCE6FAADA7179E84F3B9CAC2FC632551") > 0 &&
		         BN_rshift1(half, n) == 1);
		if (BN_cmp(s, half) > 0)
			fz_check(BN_sub(s, n, s) == 1);
		fz_check(BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32) == 32);
		fz_check(BN_bn2binpad(s, rs + 32, 32) == 32);
		BN_free(n);
		BN_free(s);
		BN_free(half);
		ECDSA_SIG_free(es);
		out = b64url(rs, sizeof(rs));
	} else {
		out = b64url(sig, siglen);
	}
	free(sig);
	return out;
}

/* The next NUL-separated part of *data; *data and *size move past it. */
static const char *next_part(const uint8_t **data, size_t *size, size_t *len)
{
	const char *p = (const char *)*data;
	const uint8_t *nul = memchr(*data, '\0', *size);
	*len = nul ? (size_t)(nul - *data) : *size;
	*data += nul ? *len + 1 : *len;
	*size -= nul ? *len + 1 : *len;
	return p;
}

/* Modes 0x00 and 0x01 (see the top of the file). */
static char *assemble(const uint8_t *data, size_t size, bool sign_it)
{
	size_t hl, cl;
	const char *h = next_part(&data, &size, &hl);
	const char *c = next_part(&data, &size, &cl);
	char *hdr = substitute(h, hl), *claims = substitute(c, cl);
	char *eh = b64url(hdr, strlen(hdr)), *ec = b64url(claims, strlen(claims));
	size_t n = strlen(eh) + strlen(ec) + 2;
	char *input = fz_xmalloc(n);
	snprintf(input, n, "%s.%s", eh, ec);
	char *es = sign_it ? sign(strstr(hdr, fx.rs.kid) ? &fx.rs : &fx.es, input)
	                   : b64url(data, size);
	size_t tn = n + strlen(es) + 1;
	char *token = fz_xmalloc(tn);
	snprintf(token, tn, "%s.%s", input, es);
	free(es);
	free(input);
	free(eh);
	free(ec);
	free(hdr);
	free(claims);
	return token;
}

/* ---- the target --------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool forged = true; /* no valid signature can be in the input */
	char *token;
	if (size > 0 && data[0] == 0x00) {
		token = assemble(data + 1, size - 1, false);
	} else if (size > 0 && data[0] == 0x01) {
		token = assemble(data + 1, size - 1, true);
		forged = false;
	} else {
		token = fz_cstr(data, size);
	}

	struct at_claims_read claims;
	memset(&claims, 0x5a, sizeof(claims));
	int rc = token_verify(fx.g, token, &claims);
	if (rc == 0) {
		fz_check(!forged);
		fz_check(claims.jti != NULL);
	} else {
		fz_check(rc == -1);
		fz_check(claims.jti == NULL && claims.iss == NULL &&
		         claims.aud == NULL);
	}
	at_claims_read_clear(&claims);

	struct introspection in;
	grants_check_bearer(fx.g, token, &in);
	/* Only a verified token can be active. */
	fz_check(!in.active || rc == 0);
	introspection_clear(&in);
	free(token);
	return 0;
}
