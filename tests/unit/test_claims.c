/*
 * test_claims.c: the release rule (grants/claims.c, claims_release: which
 * of a user's claims a client sees in an ID token, at userinfo and in an
 * access token) and the claim spec (storage/claim_spec.c: what a claim
 * may be, and how KEY=VALUE reads). docs/openid-connect.md, "Claims".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "grants_int.h"
#include "store.h"

static const char ada[] =
    "{\"name\":\"Ada\",\"email\":\"ada@example.com\","
    "\"email_verified\":true,\"address\":{\"country\":\"UK\"},"
    "\"phone_number\":\"+44\",\"roles\":[\"admin\"],\"tenant\":\"t1\","
    "\"sub\":\"forged\",\"iss\":\"forged\"}";

/* The released claims' names, sorted and space-separated, for compact
 * assertions; frees r. */
static char *names(json_t *r)
{
	static char buf[512];
	const char *keys[32];
	size_t n = 0;
	const char *k;
	json_t *v;
	assert_non_null(r);
	json_object_foreach(r, k, v) keys[n++] = k;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(keys[j], keys[i]) < 0) {
				const char *t = keys[i];
				keys[i] = keys[j];
				keys[j] = t;
			}
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strcat(buf, i ? " " : "");
		strcat(buf, keys[i]);
	}
	json_decref(r);
	return buf;
}

static json_t *release(const char *release_claims, const char *scope,
                       enum claims_dest d)
{
	struct store_client cl = {.client_id = "app",
	                          .release_claims = (char *)release_claims};
	struct store_user u = {.username = "ada", .claims = (char *)ada};
	return claims_release(&cl, &u, scope, d);
}

static void test_standard_scopes(void **state)
{
	(void)state;
	assert_string_equal(names(release("", "openid", CLAIMS_USERINFO)), "");
	assert_string_equal(names(release("", "openid profile",
	                                  CLAIMS_USERINFO)),
	                    "name preferred_username");
	assert_string_equal(names(release(NULL, "openid email",
	                                  CLAIMS_ID_TOKEN)),
	                    "email email_verified");
	assert_string_equal(names(release("", "openid address",
	                                  CLAIMS_USERINFO)), "address");
	assert_string_equal(names(release("", "openid phone",
	                                  CLAIMS_USERINFO)), "phone_number");
	/* Scope words match whole: "emails" is not "email". */
	assert_string_equal(names(release("", "openid emails",
	                                  CLAIMS_USERINFO)), "");
}

static void test_standard_claims_stay_out_of_access_tokens(void **state)
{
	(void)state;
	assert_string_equal(names(release("", "openid profile email",
	                                  CLAIMS_ACCESS_TOKEN)), "");
	/* ...unless the client names them. */
	assert_string_equal(names(release("email", "openid",
	                                  CLAIMS_ACCESS_TOKEN)), "email");
}

static void test_custom_claims_need_release_claims(void **state)
{
	(void)state;
	assert_string_equal(names(release("", "openid profile email address "
	                                  "phone roles tenant",
	                                  CLAIMS_USERINFO)),
	                    "address email email_verified name phone_number "
	                    "preferred_username");
	assert_string_equal(names(release("roles tenant", "openid",
	                                  CLAIMS_ID_TOKEN)), "roles tenant");
	assert_string_equal(names(release("roles", "openid",
	                                  CLAIMS_ACCESS_TOKEN)), "roles");
	/* A name the user has not: nothing. */
	assert_string_equal(names(release("groups", "openid",
	                                  CLAIMS_USERINFO)), "");
}

static void test_registered_claims_never_released(void **state)
{
	(void)state;
	/* Stored before the rule, or written around it: still not given. */
	assert_string_equal(names(release("sub iss roles", "openid",
	                                  CLAIMS_ACCESS_TOKEN)), "roles");
}

static void test_preferred_username(void **state)
{
	(void)state;
	struct store_client cl = {.client_id = "app", .release_claims = ""};
	struct store_user u = {.username = "bob", .claims = NULL};
	json_t *r = claims_release(&cl, &u, "openid profile", CLAIMS_USERINFO);
	assert_string_equal(json_string_value(json_object_get(
	                        r, "preferred_username")), "bob");
	json_decref(r);
	u.claims = "{\"preferred_username\":\"bobby\"}";
	r = claims_release(&cl, &u, "openid profile", CLAIMS_USERINFO);
	assert_string_equal(json_string_value(json_object_get(
	                        r, "preferred_username")), "bobby");
	json_decref(r);
	u.claims = "[1]"; /* not an object: NULL, the caller's 500 */
	assert_null(claims_release(&cl, &u, "openid", CLAIMS_USERINFO));
}

static void test_claim_parse(void **state)
{
	(void)state;
	char *name;
	json_t *v;
	assert_null(claim_parse("email_verified=true", &name, &v));
	assert_string_equal(name, "email_verified");
	assert_true(json_is_true(v));
	free(name);
	json_decref(v);
	assert_null(claim_parse("groups=[\"ops\"]", &name, &v));
	assert_true(json_is_array(v));
	free(name);
	json_decref(v);
	assert_null(claim_parse("email=a@b.example", &name, &v));
	assert_string_equal(json_string_value(v), "a@b.example");
	free(name);
	json_decref(v);
	assert_null(claim_parse("zip=01234", &name, &v)); /* not JSON */
	assert_string_equal(json_string_value(v), "01234");
	free(name);
	json_decref(v);
	assert_null(claim_parse("a=b=c", &name, &v)); /* first '=' splits */
	assert_string_equal(name, "a");
	assert_string_equal(json_string_value(v), "b=c");
	free(name);
	json_decref(v);
	assert_non_null(claim_parse("novalue", &name, &v));
	assert_null(name);
	assert_non_null(claim_parse("sub=x", &name, &v));
	assert_string_equal(name, "sub");
	assert_null(v);
	free(name);
	const char *why = claim_parse("phone_number=5551234", &name, &v);
	assert_non_null(why);
	assert_non_null(strstr(why, "quote it"));
	free(name);
}

static void test_claims_check(void **state)
{
	(void)state;
	const char *bad;
	json_t *o = json_pack("{s:b, s:{s:s}, s:I}", "email_verified", 1,
	                      "address", "country", "UK", "updated_at",
	                      (json_int_t)1);
	assert_null(claims_check(o, &bad));
	json_object_set_new(o, "nonce", json_string("x"));
	assert_non_null(claims_check(o, &bad));
	assert_string_equal(bad, "nonce");
	json_object_del(o, "nonce");
	json_object_set_new(o, "big", json_string(""));
	char *big = calloc(1, CLAIMS_TEXT_MAX + 1);
	memset(big, 'x', CLAIMS_TEXT_MAX);
	json_object_set_new(o, "big", json_string(big));
	free(big);
	assert_non_null(claims_check(o, &bad));
	assert_null(bad);
	json_decref(o);
	json_t *a = json_array();
	assert_non_null(claims_check(a, &bad));
	json_decref(a);
	o = claims_load(NULL);
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
	assert_null(claims_load("[]"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_standard_scopes),
		cmocka_unit_test(test_standard_claims_stay_out_of_access_tokens),
		cmocka_unit_test(test_custom_claims_need_release_claims),
		cmocka_unit_test(test_registered_claims_never_released),
		cmocka_unit_test(test_preferred_username),
		cmocka_unit_test(test_claim_parse),
		cmocka_unit_test(test_claims_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
