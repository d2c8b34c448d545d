/*
 * test_secret.c: core/secret.c: generated secrets, the fast salted
 * HMAC-SHA256 PHC scheme, Argon2id, verification of both and refusal of
 * anything else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_util.h"

#include "crypto.h"
#include "secret.h"

#define FAST_PREFIX "$lk-hmac-sha256$"

/* Every test but the one about the default cost hashes at a cheap one. */
static const struct argon2_cost cheap = {1, 64, 1};
static struct argon2_cost initial; /* as the library starts, read in main */

static char *hash_cheap(const char *pw)
{
	return secret_hash_slow_at(pw, &cheap);
}

static void test_generate(void **state)
{
	(void)state;
	char *a = secret_generate(), *b = secret_generate();
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(strlen(a), 43); /* 32 bytes, unpadded base64url */
	assert_true(ut_is_b64url(a));
	assert_true(ut_is_b64url(b));
	assert_string_not_equal(a, b);
	unsigned char *raw = NULL;
	size_t n = 0;
	assert_int_equal(b64_decode(a, strlen(a), true, &raw, &n), 0);
	assert_int_equal(n, SECRET_GENERATED_BYTES);
	free(raw);
	crypto_free_str(a);
	crypto_free_str(b);
}

static void test_fast_format(void **state)
{
	(void)state;
	char *h = secret_hash_fast("s3cret");
	assert_non_null(h);
	assert_memory_equal(h, FAST_PREFIX, strlen(FAST_PREFIX));
	/* $lk-hmac-sha256$<salt>$<digest>: 16-byte salt and 32-byte digest
	 * in unpadded standard base64 (22 and 43 characters). */
	const char *salt = h + strlen(FAST_PREFIX);
	const char *dollar = strchr(salt, '$');
	assert_non_null(dollar);
	assert_int_equal(dollar - salt, 22);
	assert_int_equal(strlen(dollar + 1), 43);
	assert_null(strchr(dollar + 1, '$'));
	assert_null(strchr(h, '='));
	assert_false(secret_hash_is_slow(h));
	free(h);
}

static void test_fast_verify(void **state)
{
	(void)state;
	char *h = secret_hash_fast("s3cret");
	assert_non_null(h);
	assert_int_equal(secret_verify(h, "s3cret"), SECRET_OK);
	assert_int_equal(secret_verify(h, "s3creT"), SECRET_MISMATCH);
	assert_int_equal(secret_verify(h, "s3cret "), SECRET_MISMATCH);
	assert_int_equal(secret_verify(h, ""), SECRET_MISMATCH);
	assert_int_equal(secret_verify(h, NULL), SECRET_BAD_HASH);
	free(h);
	/* The empty secret hashes and verifies like any other. */
	h = secret_hash_fast("");
	assert_non_null(h);
	assert_int_equal(secret_verify(h, ""), SECRET_OK);
	assert_int_equal(secret_verify(h, "x"), SECRET_MISMATCH);
	free(h);
}

static void test_fast_salted(void **state)
{
	(void)state;
	char *a = secret_hash_fast("same"), *b = secret_hash_fast("same");
	assert_non_null(a);
	assert_non_null(b);
	assert_string_not_equal(a, b);
	assert_int_equal(secret_verify(a, "same"), SECRET_OK);
	assert_int_equal(secret_verify(b, "same"), SECRET_OK);
	free(a);
	free(b);
}

static void test_fast_tampered(void **state)
{
	(void)state;
	char *h = secret_hash_fast("s3cret");
	assert_non_null(h);
	size_t len = strlen(h);
	char *t = strdup(h);
	assert_non_null(t);

	/* A changed digest character (not the last, whose low bits are
	 * spare): the hash still parses, so MISMATCH. */
	t[len - 5] = t[len - 5] == 'A' ? 'B' : 'A';
	assert_int_equal(secret_verify(t, "s3cret"), SECRET_MISMATCH);
	strcpy(t, h);
	/* A changed salt character. */
	size_t sp = strlen(FAST_PREFIX) + 3;
	t[sp] = t[sp] == 'A' ? 'B' : 'A';
	assert_int_equal(secret_verify(t, "s3cret"), SECRET_MISMATCH);
	strcpy(t, h);
	/* Truncated digest: not 32 bytes. */
	t[len - 4] = '\0';
	assert_int_equal(secret_verify(t, "s3cret"), SECRET_BAD_HASH);
	strcpy(t, h);
	/* No digest at all. */
	*strrchr(t, '$') = '\0';
	assert_int_equal(secret_verify(t, "s3cret"), SECRET_BAD_HASH);
	/* Only the prefix, an empty salt, a non-base64 digest. */
	assert_int_equal(secret_verify(FAST_PREFIX, "s3cret"), SECRET_BAD_HASH);
	char *x = NULL;
	assert_true(asprintf(&x, FAST_PREFIX "$%s", strrchr(h, '$') + 1) > 0);
	assert_int_equal(secret_verify(x, "s3cret"), SECRET_BAD_HASH);
	free(x);
	strcpy(t, h);
	t[len - 1] = '!';
	assert_int_equal(secret_verify(t, "s3cret"), SECRET_BAD_HASH);
	free(t);
	free(h);
}

static void test_unknown_scheme(void **state)
{
	(void)state;
	assert_int_equal(secret_verify("", "x"), SECRET_BAD_HASH);
	assert_int_equal(secret_verify("plaintext", "plaintext"), SECRET_BAD_HASH);
	assert_int_equal(secret_verify("$2b$10$abcdefghijklmnopqrstuv", "x"),
	                 SECRET_BAD_HASH);
	assert_int_equal(secret_verify("$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$"
	                               "aGFzaGhhc2hoYXNoaGFzaA", "x"),
	                 SECRET_BAD_HASH);
	assert_int_equal(secret_verify("$lk-hmac-sha512$AAAA$BBBB", "x"),
	                 SECRET_BAD_HASH);
	assert_int_equal(secret_verify(NULL, "x"), SECRET_BAD_HASH);
	assert_false(secret_hash_is_slow(NULL));
	assert_false(secret_hash_is_slow("$argon2i$v=19$"));
	assert_false(secret_hash_is_slow("plaintext"));
}

/* The default cost is the OWASP row; this is the one test that pays it. */
static void test_slow_default_cost(void **state)
{
	(void)state;
	assert_int_equal(initial.t_cost, 2);
	assert_int_equal(initial.m_cost_kib, 19456);
	assert_int_equal(initial.lanes, 1);
	char *h = secret_hash_slow("pw");
	assert_non_null(h);
	const char *want = "$argon2id$v=19$m=19456,t=2,p=1$";
	assert_memory_equal(h, want, strlen(want));
	assert_true(secret_hash_is_slow(h));
	assert_int_equal(secret_verify(h, "pw"), SECRET_OK);
	free(h);
}

static void test_slow_verify(void **state)
{
	(void)state;
	char *h = hash_cheap("correct horse");
	assert_non_null(h);
	const char *want = "$argon2id$v=19$m=64,t=1,p=1$";
	assert_memory_equal(h, want, strlen(want));
	assert_true(secret_hash_is_slow(h));
	assert_int_equal(secret_verify(h, "correct horse"), SECRET_OK);
	assert_int_equal(secret_verify(h, "correct horsE"), SECRET_MISMATCH);
	assert_int_equal(secret_verify(h, ""), SECRET_MISMATCH);
	/* Salted: a second hash differs and verifies too. */
	char *h2 = hash_cheap("correct horse");
	assert_non_null(h2);
	assert_string_not_equal(h, h2);
	assert_int_equal(secret_verify(h2, "correct horse"), SECRET_OK);
	/* A hash made at another cost still verifies (the cost is in it). */
	char *h3 = secret_hash_slow_at("correct horse",
	                               &(struct argon2_cost){2, 128, 1});
	assert_non_null(h3);
	assert_memory_equal(h3, "$argon2id$v=19$m=128,t=2,p=1$", 29);
	assert_int_equal(secret_verify(h3, "correct horse"), SECRET_OK);
	free(h);
	free(h2);
	free(h3);
}

static void test_slow_tampered(void **state)
{
	(void)state;
	char *h = hash_cheap("pw");
	assert_non_null(h);
	char *t = strdup(h);
	assert_non_null(t);
	size_t len = strlen(t);
	t[len - 3] = t[len - 3] == 'A' ? 'B' : 'A';
	enum secret_result r = secret_verify(t, "pw");
	assert_true(r == SECRET_MISMATCH || r == SECRET_BAD_HASH);
	/* 21 characters cannot be base64 of whole bytes (43 - 22). */
	strcpy(t, h);
	t[len - 22] = '\0';
	assert_int_equal(secret_verify(t, "pw"), SECRET_BAD_HASH);
	assert_int_equal(secret_verify("$argon2id$garbage", "pw"), SECRET_BAD_HASH);
	free(t);
	free(h);
}

static void test_burn_equal_time(void **state)
{
	(void)state;
	secret_burn_equal_time("whatever");
	secret_burn_equal_time("");
	secret_burn_equal_time("whatever"); /* the dummy hash is made once */
}

int main(void)
{
	secret_get_argon2_cost(&initial);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_fast_format),
	    cmocka_unit_test(test_fast_verify),
	    cmocka_unit_test(test_fast_salted),
	    cmocka_unit_test(test_fast_tampered),
	    cmocka_unit_test(test_unknown_scheme),
	    cmocka_unit_test(test_slow_default_cost),
	    cmocka_unit_test(test_slow_verify),
	    cmocka_unit_test(test_slow_tampered),
	    cmocka_unit_test(test_burn_equal_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
