/* keys.c: key generation and JWK export with OpenSSL 3 (see keys.h). */
#include "keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

int key_alg_parse(const char *name, enum key_alg *out)
{
	if (strcmp(name, "ES256") == 0)
		*out = KEY_ALG_ES256;
	else if (strcmp(name, "RS256") == 0)
		*out = KEY_ALG_RS256;
	else
		return -1;
	return 0;
}

const char *key_alg_name(enum key_alg alg)
{
	return alg == KEY_ALG_RS256 ? "RS256" : "ES256";
}

void key_jwk_clear(struct key_jwk *j)
{
	free(j->x);
	free(j->y);
	free(j->n);
	free(j->e);
	free(j->thumbprint);
	memset(j, 0, sizeof(*j));
}

int key_make(enum key_alg alg, char **kid_out, char **pem_out)
{
	struct key_jwk jwk = {0};
	char *pem = NULL;
	if (key_generate(alg, &pem) != 0 ||
	    key_public_jwk(pem, alg, &jwk) != 0) {
		crypto_free_str(pem);
		key_jwk_clear(&jwk);
		return -1;
	}
	*kid_out = jwk.thumbprint;
	jwk.thumbprint = NULL;
	*pem_out = pem;
	key_jwk_clear(&jwk);
	return 0;
}

int key_generate(enum key_alg alg, char **pem_out)
{
	EVP_PKEY *pk = alg == KEY_ALG_RS256
	    ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
	    : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = -1;

	*pem_out = NULL;
	if (pk == NULL || bio == NULL ||
	    !PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL))
		goto out;
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	*pem_out = malloc((size_t)len + 1);
	if (*pem_out == NULL)
		goto out;
	memcpy(*pem_out, data, (size_t)len);
	(*pem_out)[len] = '\0';
	rc = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return rc;
}

static char *bn_b64(EVP_PKEY *pk, const char *param, int pad_to)
{
	BIGNUM *bn = NULL;
	if (!EVP_PKEY_get_bn_param(pk, param, &bn))
		return NULL;
	int len = pad_to > 0 ? pad_to : BN_num_bytes(bn);
	unsigned char *buf = malloc((size_t)len);
	char *s = NULL;
	if (buf != NULL && BN_bn2binpad(bn, buf, len) == len)
		s = b64_encode(buf, (size_t)len, true);
	free(buf);
	BN_free(bn);
	return s;
}

/* RFC 7638 section 3: hash of the required members, lexicographic order,
 * no whitespace. The members are base64url text, so no escaping arises. */
static char *thumbprint(const struct key_jwk *j)
{
	char *canon = NULL;
	int n = j->crv
	    ? asprintf(&canon, "{\"crv\":\"%s\",\"kty\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}",
	               j->crv, j->kty, j->x, j->y)
	    : asprintf(&canon, "{\"e\":\"%s\",\"kty\":\"%s\",\"n\":\"%s\"}",
	               j->e, j->kty, j->n);
	if (n < 0)
		return NULL;
	unsigned char d[SHA256_LEN];
	sha256(canon, (size_t)n, d);
	free(canon);
	return b64_encode(d, sizeof(d), true);
}

int key_public_jwk(const char *pem, enum key_alg alg, struct key_jwk *out)
{
	memset(out, 0, sizeof(*out));
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	int rc = -1;

	if (pk == NULL)
		goto out;
	if (alg == KEY_ALG_ES256) {
		/* RFC 7518 section 3.4: ES256 is P-256 and nothing else. */
		char group[64];
		if (!EVP_PKEY_is_a(pk, "EC") ||
		    !EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
		                                    group, sizeof(group), NULL) ||
		    strcmp(group, "prime256v1") != 0)
			goto out;
		out->kty = "EC";
		out->crv = "P-256";
		out->x = bn_b64(pk, OSSL_PKEY_PARAM_EC_PUB_X, 32);
		out->y = bn_b64(pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
		if (out->x == NULL || out->y == NULL)
			goto out;
	} else {
		/* RFC 7518 section 3.3: 2048 bits or larger. */
		if (!EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_get_bits(pk) < 2048)
			goto out;
		out->kty = "RSA";
		out->n = bn_b64(pk, OSSL_PKEY_PARAM_RSA_N, 0);
		out->e = bn_b64(pk, OSSL_PKEY_PARAM_RSA_E, 0);
		if (out->n == NULL || out->e == NULL)
			goto out;
	}
	out->thumbprint = thumbprint(out);
	rc = out->thumbprint ? 0 : -1;
out:
	if (rc != 0)
		key_jwk_clear(out);
	EVP_PKEY_free(pk);
	BIO_free(bio);
	return rc;
}
