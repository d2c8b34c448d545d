/*
 * test_id_token.c: grants/id_token.c without HTTP. at_hash against the
 * example of OpenID Connect Core appendix A; the claims an ID token
 * carries (and those it must not); the algorithm a client gets; and a
 * minted token read back through id_token_hint_read, the way /authorize
 * reads one sent back to it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "clock.h"
#include "grants_int.h"
#include "log.h"
#include "unit_util.h"

#define ISSUER "https://issuer.example"

static struct {
	char *dir;
	struct store *s;
	struct grants *g;
} fx;

static int group_setup(void **state)
{
	(void)state;
	log_init("text", LOG_ERR);
	fx.dir = ut_tmpdir();
	fx.s = ut_store_open(fx.dir, "grants.db");
	struct lk_config lc;
	struct grants_config cfg;
	config_defaults(&lc);
	grants_config_from(&cfg, &lc, ISSUER);
	cfg.id_token_ttl = 300;
	char err[256] = "";
	int rc = grants_new(fx.s, &cfg, &fx.g, err, sizeof(err));
	config_free(&lc);
	if (rc != 0)
		fail_msg("grants_new: %s", err);
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

/* Core appendix A.3: this access token's at_hash. */
static void test_at_hash_core_example(void **state)
{
	(void)state;
	char *h = id_token_at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y");
	assert_string_equal(h, "77QmUPtjPfzWtF2AnpK9RQ");
	free(h);
}

static void test_scope_has_openid(void **state)
{
	(void)state;
	assert_true(scope_has_openid("openid"));
	assert_true(scope_has_openid("read  openid profile"));
	assert_false(scope_has_openid("openidx read"));
	assert_false(scope_has_openid("xopenid"));
	assert_false(scope_has_openid(""));
	assert_false(scope_has_openid(NULL));
}

static void test_alg(void **state)
{
	(void)state;
	struct store_client cl = {.client_id = "web"};
	assert_int_equal(id_token_alg(&cl), KEY_ALG_RS256);
	cl.id_token_alg = "";
	assert_int_equal(id_token_alg(&cl), KEY_ALG_RS256);
	cl.id_token_alg = "ES256";
	assert_int_equal(id_token_alg(&cl), KEY_ALG_ES256);
	cl.id_token_alg = "RS256";
	assert_int_equal(id_token_alg(&cl), KEY_ALG_RS256);
}

static void test_claims(void **state)
{
	(void)state;
	struct store_client cl = {.client_id = "web", .release_claims = ""};
	/* The user's stored claims try to set registered ones: never. */
	struct store_user u = {
	    .user_id = "u_abc", .username = "dave",
	    .claims = "{\"email\":\"d@example.com\",\"nonce\":\"evil\","
	              "\"sub\":\"evil\",\"roles\":[\"admin\"]}",
	};
	struct id_token_in in = {
	    .user = &u, .scope = "openid email", .nonce = "n 1",
	    .auth_time = 1000, .sid = "sid1", .amr = "pwd otp",
	};
	json_t *c = id_token_claims(fx.g, &cl, &in, "AT", 5000);
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "iss")),
	                    ISSUER);
	assert_string_equal(json_string_value(json_object_get(c, "sub")),
	                    "u_abc");
	assert_string_equal(json_string_value(json_object_get(c, "aud")),
	                    "web");
	assert_int_equal(json_integer_value(json_object_get(c, "iat")), 5000);
	assert_int_equal(json_integer_value(json_object_get(c, "exp")), 5300);
	assert_int_equal(json_integer_value(json_object_get(c, "auth_time")),
	                 1000);
	assert_string_equal(json_string_value(json_object_get(c, "nonce")),
	                    "n 1");
	assert_string_equal(json_string_value(json_object_get(c, "sid")),
	                    "sid1");
	json_t *amr = json_object_get(c, "amr");
	assert_true(json_is_array(amr));
	assert_int_equal(json_array_size(amr), 2);
	assert_string_equal(json_string_value(json_array_get(amr, 1)), "otp");
	char *h = id_token_at_hash("AT");
	assert_string_equal(json_string_value(json_object_get(c, "at_hash")), h);
	free(h);
	assert_string_equal(json_string_value(json_object_get(c, "email")),
	                    "d@example.com");
	assert_null(json_object_get(c, "roles")); /* not released */
	assert_null(json_object_get(c, "azp"));
	json_decref(c);

	/* Nothing known: none of the optional members. */
	struct id_token_in bare = {.user = &u, .scope = "openid"};
	c = id_token_claims(fx.g, &cl, &bare, NULL, 5000);
	const char *absent[] = {"auth_time", "nonce", "sid", "amr", "at_hash",
	                        "email"};
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		if (json_object_get(c, absent[i]) != NULL)
			fail_msg("%s should be absent", absent[i]);
	json_decref(c);
}

/* Minted with the server's current algorithm (ES256 on this test's
 * server), then read back as a hint. */
static void test_mint_reads_back_as_a_hint(void **state)
{
	(void)state;
	struct store_client cl = {.client_id = "web", .id_token_alg = "ES256"};
	struct store_user u = {.user_id = "u_abc", .username = "dave"};
	struct id_token_in in = {
	    .user = &u, .scope = "openid", .auth_time = 1000, .sid = "s1",
	};
	char *tok = NULL;
	assert_int_equal(id_token_mint(fx.g, &cl, &in, "AT", clock_now(), &tok),
	                 0);
	struct id_token_hint h;
	assert_int_equal(id_token_hint_read(fx.g, tok, &h), 0);
	assert_string_equal(h.sub, "u_abc");
	assert_string_equal(h.client_id, "web");
	assert_string_equal(h.sid, "s1");
	assert_int_equal(h.auth_time, 1000);
	id_token_hint_clear(&h);
	/* Altered: no longer a hint. */
	tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(id_token_hint_read(fx.g, tok, &h), -1);
	free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_at_hash_core_example),
	    cmocka_unit_test(test_scope_has_openid),
	    cmocka_unit_test(test_alg),
	    cmocka_unit_test(test_claims),
	    cmocka_unit_test(test_mint_reads_back_as_a_hint),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
