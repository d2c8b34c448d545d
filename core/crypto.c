/* crypto.c: OpenSSL-backed primitives (see crypto.h). */
#include "crypto.h"
#include "validate.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

int crypto_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

char *crypto_random_token(size_t nbytes)
{
	unsigned char buf[128];
	if (nbytes > sizeof(buf) || crypto_random(buf, nbytes) != 0)
		return NULL;
	char *s = b64_encode(buf, nbytes, true);
	crypto_wipe(buf, sizeof(buf));
	return s;
}

char *crypto_random_id(size_t nbytes)
{
	for (;;) {
		char *id = crypto_random_token(nbytes);
		/* Not "u_" either: that prefix is the users' (their sub),
		 * and a client id must never equal a user's sub. */
		if (id == NULL ||
		    (id[0] != '-' && !valid_client_id_reserved(id)))
			return id;
		free(id);
	}
}

/* The random part of ordered ids, drawn from OpenSSL a pool at a time
 * per thread: each RAND_bytes call checks for a fork with a getpid system
 * call, once per token otherwise. These ids name tokens and families and
 * are no secrets (a jti is in its signed token), so holding a few of them
 * ahead in memory costs nothing; secrets never come from here. Latchkey
 * does not fork (hooks are posix_spawn'ed and exec at once), so no two
 * processes share a pool. */
#define ID_POOL 640

static __thread unsigned char id_pool[ID_POOL];
static __thread size_t id_left;

static int id_random(unsigned char *out, size_t n)
{
	if (n > ID_POOL)
		return crypto_random(out, n);
	if (id_left < n) {
		if (crypto_random(id_pool, ID_POOL) != 0)
			return -1;
		id_left = ID_POOL;
	}
	memcpy(out, id_pool + ID_POOL - id_left, n);
	id_left -= n;
	return 0;
}

char *crypto_ordered_id(size_t nbytes)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long long ms = (unsigned long long)ts.tv_sec * 1000u +
	                        (unsigned long long)ts.tv_nsec / 1000000u;
	unsigned char r[64];
	if (nbytes > sizeof(r) || id_random(r, nbytes) != 0)
		return NULL;
	char *tail = b64_encode(r, nbytes, true), *id = NULL;
	if (tail != NULL &&
	    asprintf(&id, "%012llx%s", ms & 0xffffffffffffULL, tail) < 0)
		abort();
	free(tail);
	return id;
}

char *crypto_random_user_id(void)
{
	char *token = crypto_random_token(12), *id = NULL;
	if (token != NULL &&
	    asprintf(&id, "%s%s", VALID_USER_ID_PREFIX, token) < 0)
		abort();
	free(token);
	return id;
}

char *b64_encode(const void *data, size_t len, bool url)
{
	size_t cap = 4 * ((len + 2) / 3) + 1;
	char *out = malloc(cap);
	if (out == NULL)
		return NULL;
	int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	if (url) {
		for (int i = 0; i < n; i++) {
			if (out[i] == '+')
				out[i] = '-';
			else if (out[i] == '/')
				out[i] = '_';
		}
	}
	return out;
}

int b64_decode(const char *s, size_t slen, bool url, unsigned char **out,
               size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	/* Strip padding, then translate and re-pad for EVP_DecodeBlock, which
	 * wants standard, padded input. */
	size_t pad_in = 0;
	while (slen > 0 && s[slen - 1] == '=') {
		slen--;
		pad_in++;
	}
	if (pad_in > 2 || slen % 4 == 1)
		return -1;
	size_t padded = (slen + 3) / 4 * 4;
	if (pad_in > 0 && slen + pad_in != padded)
		return -1;
	char *tmp = malloc(padded + 1);
	unsigned char *buf = malloc(padded / 4 * 3 + 1);
	if (tmp == NULL || buf == NULL)
		goto fail;
	for (size_t i = 0; i < slen; i++) {
		char c = s[i];
		/* Only the alphabet: OpenSSL would skip whitespace and read an
		 * inner '=' as zero bits, and neither is valid input here. */
		bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		             (c >= '0' && c <= '9');
		bool extra = url ? (c == '-' || c == '_') : (c == '+' || c == '/');
		if (!alnum && !extra)
			goto fail;
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		tmp[i] = c;
	}
	for (size_t i = slen; i < padded; i++)
		tmp[i] = '=';
	tmp[padded] = '\0';
	int n = padded ? EVP_DecodeBlock(buf, (unsigned char *)tmp, (int)padded) : 0;
	if (n < 0)
		goto fail;
	/* EVP_DecodeBlock counts padding bytes as zero output; drop them. */
	n -= (int)(padded - slen);
	free(tmp);
	*out = buf;
	*outlen = (size_t)n;
	return 0;
fail:
	free(tmp);
	free(buf);
	return -1;
}

void sha256(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
	unsigned int n = SHA256_LEN;
	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void sha256_hex(const char *s, char out[2 * SHA256_LEN + 1])
{
	unsigned char d[SHA256_LEN];
	sha256(s, strlen(s), d);
	for (int i = 0; i < SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

void hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                 unsigned char out[SHA256_LEN])
{
	unsigned int n = SHA256_LEN;
	HMAC(EVP_sha256(), key, (int)klen, data, len, out, &n);
}

bool crypto_eq(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

bool crypto_streq(const char *a, const char *b)
{
	unsigned char da[SHA256_LEN], db[SHA256_LEN];
	sha256(a, strlen(a), da);
	sha256(b, strlen(b), db);
	return crypto_eq(da, db, SHA256_LEN);
}

void crypto_wipe(void *p, size_t n)
{
	if (p != NULL)
		OPENSSL_cleanse(p, n);
}

void crypto_free_str(char *s)
{
	if (s == NULL)
		return;
	crypto_wipe(s, strlen(s));
	free(s);
}

void crypto_thread_end(void)
{
	OPENSSL_thread_stop();
}

void crypto_buf_append(char **buf, size_t *len, size_t *cap, size_t first,
                       size_t max, const char *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? 2 * *cap : first;
		while (c < *len + n + 1)
			c *= 2;
		if (c > max + 1)
			c = max + 1;
		char *b = malloc(c);
		if (b == NULL)
			abort();
		if (*buf != NULL) {
			memcpy(b, *buf, *len);
			crypto_wipe(*buf, *len);
			free(*buf);
		}
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}
