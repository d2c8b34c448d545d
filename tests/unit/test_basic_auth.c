/*
 * test_basic_auth.c: server/basic_auth.c, "Authorization: Basic" client
 * credentials (RFC 7617) whose halves are form-urlencoded (RFC 6749
 * section 2.3.1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto.h"
#include "server_int.h"

/* Parses header and checks the result; on BASIC_OK also the id and secret.
 * On any other result both outputs must be NULL. */
static void expect(const char *header, enum basic_rc want, const char *want_id,
                   const char *want_secret)
{
	char *id = (char *)"unset", *secret = (char *)"unset";
	enum basic_rc rc = basic_auth_parse(header, &id, &secret);
	if (rc != want)
		fail_msg("basic_auth_parse(\"%s\") = %d, want %d",
		         header ? header : "(null)", rc, want);
	if (want == BASIC_OK) {
		assert_non_null(id);
		assert_non_null(secret);
		assert_string_equal(id, want_id);
		assert_string_equal(secret, want_secret);
	} else {
		assert_null(id);
		assert_null(secret);
	}
	crypto_free_str(id);
	crypto_free_str(secret);
}

static void test_valid(void **state)
{
	(void)state;
	/* "client:secret" */
	expect("Basic Y2xpZW50OnNlY3JldA==", BASIC_OK, "client", "secret");
	/* Extra spaces around the credentials are tolerated. */
	expect("  Basic   Y2xpZW50OnNlY3JldA==  ", BASIC_OK, "client", "secret");
	/* "id:" : an empty secret is still a well-formed header. */
	expect("Basic aWQ6", BASIC_OK, "id", "");
	/* Standard alphabet with '+' and '/': "id:s>>?" and "???:???". */
	expect("Basic aWQ6cz4+Pw==", BASIC_OK, "id", "s>>?");
	expect("Basic Pz8/Oj8/Pw==", BASIC_OK, "???", "???");
	/* UTF-8 passes through: "\xc3\xa9:\xc3\xbc". */
	expect("Basic w6k6w7w=", BASIC_OK, "\xc3\xa9", "\xc3\xbc");
}

static void test_scheme_case_insensitive(void **state)
{
	(void)state;
	expect("basic Y2xpZW50OnNlY3JldA==", BASIC_OK, "client", "secret");
	expect("BASIC Y2xpZW50OnNlY3JldA==", BASIC_OK, "client", "secret");
	expect("bAsIc Y2xpZW50OnNlY3JldA==", BASIC_OK, "client", "secret");
}

static void test_other_schemes(void **state)
{
	(void)state;
	expect(NULL, BASIC_NONE, NULL, NULL);
	expect("", BASIC_NONE, NULL, NULL);
	expect("Bearer Y2xpZW50OnNlY3JldA==", BASIC_NONE, NULL, NULL);
	expect("Digest username=\"a\"", BASIC_NONE, NULL, NULL);
	/* A longer scheme name that starts with "Basic" is another scheme. */
	expect("BasicY2xpZW50OnNlY3JldA==", BASIC_NONE, NULL, NULL);
	expect("Basically Y2xpZW50OnNlY3JldA==", BASIC_NONE, NULL, NULL);
	expect("Bas", BASIC_NONE, NULL, NULL);
}

static void test_no_credentials(void **state)
{
	(void)state;
	expect("Basic", BASIC_MALFORMED, NULL, NULL);
	expect("Basic ", BASIC_MALFORMED, NULL, NULL);
	expect("Basic    ", BASIC_MALFORMED, NULL, NULL);
}

static void test_bad_base64(void **state)
{
	(void)state;
	expect("Basic !!!!", BASIC_MALFORMED, NULL, NULL);
	expect("Basic Y2xpZW50OnNlY3JldA=!", BASIC_MALFORMED, NULL, NULL);
	/* A space inside the token68 */
	expect("Basic Y2xp ZW50OnNlY3JldA==", BASIC_MALFORMED, NULL, NULL);
	/* Length 4n+1 */
	expect("Basic Y2xpZ", BASIC_MALFORMED, NULL, NULL);
	/* Too much padding */
	expect("Basic aWQ6===", BASIC_MALFORMED, NULL, NULL);
	/* base64url's alphabet is not Basic's: "aWQ6cz4-Pw" */
	expect("Basic aWQ6cz4-Pw==", BASIC_MALFORMED, NULL, NULL);
	expect("Basic Pz8_Oj8_Pw==", BASIC_MALFORMED, NULL, NULL);
}

static void test_no_colon(void **state)
{
	(void)state;
	/* "noColon" */
	expect("Basic bm9Db2xvbg==", BASIC_MALFORMED, NULL, NULL);
}

static void test_empty_id(void **state)
{
	(void)state;
	/* ":secret" */
	expect("Basic OnNlY3JldA==", BASIC_MALFORMED, NULL, NULL);
}

static void test_form_urlencoded_halves(void **state)
{
	(void)state;
	/* "my%3Aclient:s+e%2Bc": the colon inside the id survives encoded,
	 * '+' is a space and %2B a plus. */
	expect("Basic bXklM0FjbGllbnQ6cytlJTJCYw==", BASIC_OK, "my:client",
	       "s e+c");
	/* Bad escapes in either half: "a:%G1" */
	expect("Basic YTolRzE=", BASIC_MALFORMED, NULL, NULL);
}

static void test_secret_with_colon(void **state)
{
	(void)state;
	/* "a:b:c" splits at the first colon. */
	expect("Basic YTpiOmM=", BASIC_OK, "a", "b:c");
}

static void test_embedded_nul(void **state)
{
	(void)state;
	/* Raw NUL in the id ("a\0b:c") and in the secret ("a:b\0"). */
	expect("Basic YQBiOmM=", BASIC_MALFORMED, NULL, NULL);
	expect("Basic YTpiAA==", BASIC_MALFORMED, NULL, NULL);
	/* Encoded NUL: "a:%00" and "x%00:y". */
	expect("Basic YTolMDA=", BASIC_MALFORMED, NULL, NULL);
	expect("Basic eCUwMDp5", BASIC_MALFORMED, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_scheme_case_insensitive),
	    cmocka_unit_test(test_other_schemes),
	    cmocka_unit_test(test_no_credentials),
	    cmocka_unit_test(test_bad_base64),
	    cmocka_unit_test(test_no_colon),
	    cmocka_unit_test(test_empty_id),
	    cmocka_unit_test(test_form_urlencoded_halves),
	    cmocka_unit_test(test_secret_with_colon),
	    cmocka_unit_test(test_embedded_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
