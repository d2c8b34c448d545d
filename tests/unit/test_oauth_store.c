/*
 * test_oauth_store.c: grants/oauth_store.c, the one mapping from store
 * results to OAuth results (DECISIONS "Store interface"): every store
 * result has its answer, with the status the client sees. A database that
 * is unavailable, busy or failing is 503 temporarily_unavailable; not
 * found is what the caller says (and a failure at a write); the rest is
 * 500 server_error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "grants_int.h"

static const struct oauth_result caller_says = {
    .err = OAUTH_INVALID_GRANT, .description = "unknown thing"};

static void assert_maps(enum store_rc rc, const char *code, int status)
{
	struct oauth_result r = oauth_from_store(rc, "test", caller_says);
	const struct oauth_err_info *i = oauth_err_info(r.err);
	assert_string_equal(i->code, code);
	assert_int_equal(i->http_status, status);
	assert_null(r.description);
}

static void test_every_store_result(void **state)
{
	(void)state;
	struct oauth_result r = oauth_from_store(STORE_OK, "test", caller_says);
	assert_int_equal(r.err, OAUTH_OK);

	r = oauth_from_store(STORE_NOT_FOUND, "test", caller_says);
	assert_int_equal(r.err, OAUTH_INVALID_GRANT);
	assert_string_equal(r.description, "unknown thing");
	r = oauth_from_store(STORE_NOT_FOUND, "test", OAUTH_RESULT_OK);
	assert_int_equal(r.err, OAUTH_OK);

	assert_maps(STORE_UNAVAILABLE, "temporarily_unavailable", 503);
	assert_maps(STORE_BUSY, "temporarily_unavailable", 503);
	assert_maps(STORE_IO, "temporarily_unavailable", 503);

	/* The request's fault (PostgreSQL refuses text that is not UTF-8):
	 * asking again cannot help, and the client is told which. */
	r = oauth_from_store(STORE_BAD_VALUE, "test", caller_says);
	assert_int_equal(r.err, OAUTH_INVALID_REQUEST);
	assert_int_equal(oauth_err_info(r.err)->http_status, 400);
	assert_non_null(r.description);

	assert_maps(STORE_CONFLICT, "server_error", 500);
	assert_maps(STORE_STALE, "server_error", 500);
	assert_maps(STORE_SCHEMA_NEWER, "server_error", 500);
	assert_maps(STORE_SCHEMA_EDITED, "server_error", 500);
	assert_maps(STORE_INVALID, "server_error", 500);
}

/* A write (authorize.c's session, consent and code) has nothing that can
 * be missing: not found from one must stop the request, never read as
 * stored. The rest maps as for a read. */
static void test_write_not_found_fails(void **state)
{
	(void)state;
	struct oauth_result r = oauth_from_store_write(STORE_OK, "test");
	assert_int_equal(r.err, OAUTH_OK);
	r = oauth_from_store_write(STORE_NOT_FOUND, "test");
	assert_string_equal(oauth_err_info(r.err)->code, "server_error");
	assert_int_equal(oauth_err_info(r.err)->http_status, 500);
	r = oauth_from_store_write(STORE_BUSY, "test");
	assert_string_equal(oauth_err_info(r.err)->code,
	                    "temporarily_unavailable");
	r = oauth_from_store_write(STORE_CONFLICT, "test");
	assert_string_equal(oauth_err_info(r.err)->code, "server_error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_store_result),
	    cmocka_unit_test(test_write_not_found_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
