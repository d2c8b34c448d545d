/*
 * secret.c: PHC-format secret hashing (see secret.h). Argon2id is libargon2;
 * the fast scheme is HMAC-SHA256 keyed with a per-secret random salt.
 */
#include "secret.h"

#include <argon2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

#define FAST_PREFIX "$lk-hmac-sha256$"
#define SALT_LEN 16
#define ARGON2_HASH_LEN 32

static const struct argon2_cost cost = {2, 19456, 1};
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char *dummy_hash;

void secret_get_argon2_cost(struct argon2_cost *c) { *c = cost; }

char *secret_generate(void)
{
	return crypto_random_token(SECRET_GENERATED_BYTES);
}

char *secret_hash_fast(const char *secret)
{
	unsigned char salt[SALT_LEN], mac[SHA256_LEN];
	if (crypto_random(salt, sizeof(salt)) != 0)
		return NULL;
	hmac_sha256(salt, sizeof(salt), secret, strlen(secret), mac);
	char *s = b64_encode(salt, sizeof(salt), false);
	char *h = b64_encode(mac, sizeof(mac), false);
	char *out = NULL;
	if (s != NULL && h != NULL &&
	    asprintf(&out, FAST_PREFIX "%s$%s", s, h) < 0)
		out = NULL;
	free(s);
	free(h);
	return out;
}

char *secret_hash_slow(const char *secret)
{
	return secret_hash_slow_at(secret, &cost);
}

char *secret_hash_slow_at(const char *secret, const struct argon2_cost *c)
{
	unsigned char salt[SALT_LEN];
	if (crypto_random(salt, sizeof(salt)) != 0)
		return NULL;
	size_t len = argon2_encodedlen(c->t_cost, c->m_cost_kib, c->lanes,
	                               SALT_LEN, ARGON2_HASH_LEN, Argon2_id);
	char *out = malloc(len);
	if (out == NULL)
		return NULL;
	int rc = argon2id_hash_encoded(c->t_cost, c->m_cost_kib, c->lanes,
	                               secret, strlen(secret), salt, SALT_LEN,
	                               ARGON2_HASH_LEN, out, len);
	if (rc != ARGON2_OK) {
		free(out);
		return NULL;
	}
	return out;
}

static enum secret_result verify_fast(const char *phc, const char *secret)
{
	const char *p = phc + strlen(FAST_PREFIX);
	const char *dollar = strchr(p, '$');
	unsigned char *salt = NULL, *want = NULL, mac[SHA256_LEN];
	size_t slen, wlen;
	enum secret_result r = SECRET_BAD_HASH;

	if (dollar == NULL ||
	    b64_decode(p, (size_t)(dollar - p), false, &salt, &slen) != 0 ||
	    b64_decode(dollar + 1, strlen(dollar + 1), false, &want, &wlen) != 0 ||
	    wlen != SHA256_LEN || slen == 0)
		goto out;
	hmac_sha256(salt, slen, secret, strlen(secret), mac);
	r = crypto_eq(mac, want, SHA256_LEN) ? SECRET_OK : SECRET_MISMATCH;
out:
	free(salt);
	free(want);
	return r;
}

enum secret_result secret_verify(const char *phc, const char *secret)
{
	if (phc == NULL || secret == NULL)
		return SECRET_BAD_HASH;
	if (strncmp(phc, FAST_PREFIX, strlen(FAST_PREFIX)) == 0)
		return verify_fast(phc, secret);
	if (strncmp(phc, "$argon2id$", 10) == 0) {
		int rc = argon2id_verify(phc, secret, strlen(secret));
		if (rc == ARGON2_OK)
			return SECRET_OK;
		return rc == ARGON2_VERIFY_MISMATCH ? SECRET_MISMATCH : SECRET_BAD_HASH;
	}
	return SECRET_BAD_HASH;
}

bool secret_hash_is_slow(const char *phc)
{
	return phc != NULL && strncmp(phc, "$argon2id$", 10) == 0;
}

static void dummy_init(void)
{
	char *pw = secret_generate();
	dummy_hash = pw ? secret_hash_slow(pw) : NULL;
	crypto_free_str(pw);
}

void secret_burn_equal_time(const char *secret)
{
	pthread_once(&dummy_once, dummy_init);
	if (dummy_hash != NULL)
		(void)secret_verify(dummy_hash, secret);
}
