/*
 * test_scope.c: grants/scope.c: scope_grant decides the granted scope from
 * the requested one and the client's registered ceiling (RFC 6749 section
 * 3.3), rejecting malformed scope strings; scope_regrant what a grant
 * made earlier yields now that the client's scopes may have changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grants_int.h"

static void grant_ok(const char *requested, const char *allowed,
                     const char *want)
{
	char *g = (char *)"unset";
	struct oauth_result r = scope_grant(requested, allowed, &g);
	if (r.err != OAUTH_OK)
		fail_msg("scope_grant(\"%s\", \"%s\") = %d, want OK",
		         requested ? requested : "(null)", allowed ? allowed : "(null)",
		         r.err);
	assert_non_null(g);
	assert_string_equal(g, want);
	free(g);
}

static void grant_refused(const char *requested, const char *allowed)
{
	char *g = (char *)"unset";
	struct oauth_result r = scope_grant(requested, allowed, &g);
	if (r.err != OAUTH_INVALID_SCOPE) {
		if (r.err == OAUTH_OK)
			free(g);
		fail_msg("scope_grant(\"%s\", \"%s\") = %d, want INVALID_SCOPE",
		         requested ? requested : "(null)", allowed ? allowed : "(null)",
		         r.err);
	}
	assert_null(g);
	assert_non_null(r.description);
}

static void test_none_requested_gets_all_allowed(void **state)
{
	(void)state;
	grant_ok(NULL, "read write admin", "read write admin");
	grant_ok(NULL, "read", "read");
	grant_ok(NULL, "", "");
	grant_ok(NULL, NULL, "");
}

static void test_subset(void **state)
{
	(void)state;
	grant_ok("read", "read write admin", "read");
	grant_ok("admin read", "read write admin", "admin read"); /* request order */
	grant_ok("read write admin", "read write admin", "read write admin");
	grant_ok("a:b urn:x:y https://api.example/x!#$%&'()*+,-./:;<=>?@[]^_`{|}~",
	         "urn:x:y a:b https://api.example/x!#$%&'()*+,-./:;<=>?@[]^_`{|}~",
	         "a:b urn:x:y https://api.example/x!#$%&'()*+,-./:;<=>?@[]^_`{|}~");
}

static void test_duplicates_removed(void **state)
{
	(void)state;
	grant_ok("read read", "read write", "read");
	grant_ok("write read write read write", "read write", "write read");
}

static void test_not_allowed(void **state)
{
	(void)state;
	grant_refused("delete", "read write");
	grant_refused("read delete", "read write");
	grant_refused("read", "");
	grant_refused("read", NULL);
	/* Whole words only, and case matters. */
	grant_refused("rea", "read");
	grant_refused("reads", "read");
	grant_refused("Read", "read");
	grant_refused("read:all", "read");
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "", " ", "read  write", " read", "read ", "read\twrite", "a\"b",
	    "a\\b", "\"read\"", "read\n", "caf\xc3\xa9", "a\x7f", "a\x01",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		grant_refused(bad[i], "read write a\"b a\\b \"read\" caf\xc3\xa9");
		grant_refused(bad[i], NULL);
	}
}

static void regrant(const char *requested, const char *held,
                    const char *allowed, enum oauth_err want_err,
                    const char *want)
{
	char *g = (char *)"unset";
	struct oauth_result r = scope_regrant(requested, held, allowed, &g);
	if (r.err != want_err)
		fail_msg("scope_regrant(\"%s\", \"%s\", \"%s\") = %d, want %d",
		         requested ? requested : "(null)", held, allowed, r.err,
		         want_err);
	if (want_err != OAUTH_OK) {
		assert_null(g);
		assert_non_null(r.description);
		return;
	}
	assert_non_null(g);
	assert_string_equal(g, want);
	free(g);
}

/* Issue 12: requested (if any) within held within the client's scopes. */
static void test_regrant(void **state)
{
	(void)state;
	regrant(NULL, "read write", "read write admin", OAUTH_OK, "read write");
	regrant(NULL, "read write", "read", OAUTH_OK, "read");
	regrant(NULL, "write read", "read write", OAUTH_OK, "write read");
	regrant("read write", "read write", "read", OAUTH_OK, "read");
	regrant("write", "read write", "read write", OAUTH_OK, "write");
	regrant("write write", "read write", "write", OAUTH_OK, "write");
	/* A grant without scope stays one. */
	regrant(NULL, "", "", OAUTH_OK, "");
	regrant(NULL, "", "read", OAUTH_OK, "");
	/* Section 6: never wider than the grant, whatever the client has. */
	regrant("read admin", "read write", "read write admin",
	        OAUTH_INVALID_SCOPE, NULL);
	regrant("", "read", "read", OAUTH_INVALID_SCOPE, NULL);
	regrant("read  write", "read write", "read write", OAUTH_INVALID_SCOPE,
	        NULL);
	/* Nothing left: asked for, invalid_scope; else invalid_grant. */
	regrant("write", "read write", "read", OAUTH_INVALID_SCOPE, NULL);
	regrant(NULL, "write", "read", OAUTH_INVALID_GRANT, NULL);
	regrant(NULL, "write", "", OAUTH_INVALID_GRANT, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_none_requested_gets_all_allowed),
	    cmocka_unit_test(test_subset),
	    cmocka_unit_test(test_duplicates_removed),
	    cmocka_unit_test(test_not_allowed),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_regrant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
