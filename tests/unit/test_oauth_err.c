/*
 * test_oauth_err.c: grants/oauth_err.c, the one error table. Every code
 * has a row with a status; the challenges are the ones the RFCs name
 * (RFC 6749 section 5.2: Basic for invalid_client; RFC 6750 section 3.1:
 * Bearer at a protected resource, with no error code when no token came).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "oauth_err.h"

static void test_every_code_has_a_row(void **state)
{
	(void)state;
	for (int e = OAUTH_OK + 1; e < OAUTH__COUNT; e++) {
		const struct oauth_err_info *i = oauth_err_info((enum oauth_err)e);
		assert_true(i->http_status >= 400 && i->http_status <= 599);
		assert_true(i->code != NULL || e == OAUTH_BEARER_MISSING);
	}
	/* Past the end reads as server_error, never out of the table. */
	assert_string_equal(oauth_err_info(OAUTH__COUNT)->code, "server_error");
	assert_int_equal(oauth_err_info((enum oauth_err)-1)->http_status, 500);
}

static void assert_row(enum oauth_err e, const char *code, int status,
                       enum oauth_challenge ch)
{
	const struct oauth_err_info *i = oauth_err_info(e);
	if (code == NULL)
		assert_null(i->code);
	else
		assert_string_equal(i->code, code);
	assert_int_equal(i->http_status, status);
	assert_int_equal(i->challenge, ch);
}

static void test_challenges(void **state)
{
	(void)state;
	assert_row(OAUTH_INVALID_CLIENT, "invalid_client", 401,
	           OAUTH_CHALLENGE_BASIC);
	assert_row(OAUTH_INVALID_REQUEST, "invalid_request", 400,
	           OAUTH_CHALLENGE_NONE);
	assert_row(OAUTH_BEARER_MISSING, NULL, 401, OAUTH_CHALLENGE_BEARER);
	assert_row(OAUTH_BEARER_INVALID_REQUEST, "invalid_request", 400,
	           OAUTH_CHALLENGE_BEARER);
	assert_row(OAUTH_INVALID_TOKEN, "invalid_token", 401,
	           OAUTH_CHALLENGE_BEARER);
	assert_row(OAUTH_INSUFFICIENT_SCOPE, "insufficient_scope", 403,
	           OAUTH_CHALLENGE_BEARER);
	assert_row(OAUTH_TEMPORARILY_UNAVAILABLE, "temporarily_unavailable",
	           503, OAUTH_CHALLENGE_NONE);
	/* OpenID Connect Core 3.1.2.6, redirected from /authorize. */
	assert_row(OAUTH_REQUEST_NOT_SUPPORTED, "request_not_supported", 400,
	           OAUTH_CHALLENGE_NONE);
	assert_row(OAUTH_REQUEST_URI_NOT_SUPPORTED, "request_uri_not_supported",
	           400, OAUTH_CHALLENGE_NONE);
	/* Only these carry a challenge: any other 401 would be a row that
	 * forgot its scheme. */
	for (int e = OAUTH_OK + 1; e < OAUTH__COUNT; e++) {
		const struct oauth_err_info *i = oauth_err_info((enum oauth_err)e);
		if (i->http_status == 401)
			assert_int_not_equal(i->challenge, OAUTH_CHALLENGE_NONE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_code_has_a_row),
	    cmocka_unit_test(test_challenges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
