/*
 * test_validate.c: core/validate.c, the rules of client and user settings
 * that the admin CLI and latchkeyd's fixtures file share: client ids,
 * names, secrets, scopes, grant types and their combination with the
 * client type, redirect URIs, usernames, password lengths, lifetimes and
 * on_refresh policies, and the wording of the rules in messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "validate.h"

/* A string of n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- rules on strings --------------------------------------------------- */

static const char *const client_id_good[] = {
	"web-app_1.0~x", "A", "u", "U_abc", "uu_x", "xu_", NULL,
};
static const char *const client_id_bad[] = {
	"", "a b", "a/b", "a:b", "caf\xc3\xa9",
	"u_", "u_abc", /* the prefix of user ids (RFC 9068 section 5) */
	NULL,
};
static const char *const name_good[] = {
	"My App", "Caf\xc3\xa9 \xe2\x98\x95",
	"\xc2\xa0", /* U+00A0, not C1 */
	NULL,
};
static const char *const name_bad[] = {
	"", "a\nb", "a\x1b[31m", "a\x7f",
	"\xc2\x85", /* U+0085, C1 */
	"\xff",
	"\xc0\xaf", /* overlong '/' */
	NULL,
};
static const char *const secret_good[] = {"s3cr3t with spaces ~!", " ", NULL};
static const char *const secret_bad[] = {"", "tab\there", "caf\xc3\xa9", NULL};
static const char *const audience_good[] = {
	"https://api.example/v1", "urn:example:billing", "billing-api", "!~",
	NULL,
};
static const char *const audience_bad[] = {
	"", "a b", "a\tb", "caf\xc3\xa9", "a\x7f", NULL,
};
static const char *const scope_good[] = {
	"read", "https://api.example.com/read:all", "!#[]~", NULL,
};
static const char *const scope_bad[] = {
	"", "a b", "a\"b", "a\\b", "caf\xc3\xa9", NULL,
};
static const char *const grant_good[] = {
	"client_credentials", "password", "authorization_code",
	"refresh_token", NULL,
};
static const char *const grant_bad[] = {
	"implicit", "Password", "", "client_credentials ", NULL,
};
static const char *const uri_good[] = {
	"https://app.example.com/cb",
	"http://localhost:8080/cb?x=1",
	"HTTPS://EXAMPLE.COM",
	"https://user@host/cb",
	"http://[::1]:9000/cb",
	"com.example.app:/oauth2redirect",
	"urn:ietf:wg:oauth:2.0:oob",
	"my-app+v2.x:cb",
	NULL,
};
static const char *const uri_bad[] = {
	"",
	"/relative/path",
	"example.com/cb",
	"1app://cb",
	"https://app.example.com/cb#frag",
	"https://app.example.com/c b",
	"https://app.example.com/\tcb",
	"https://app.example.com/caf\xc3\xa9",
	"https:/app.example.com/cb",
	"https://",
	"https:///path",
	"http://:8080/cb",
	"http://user@/cb",
	"http://[]/cb",
	"http://host:80x/cb",
	"myapp:",
	":foo",
	NULL,
};
static const char *const username_good[] = {
	"alice", "alice@example.com", NULL,
};
static const char *const username_bad[] = {
	"", "a b", "a\tb", "a\x7f", "j\xc3\xb6rg", NULL,
};

/* Each rule on strings: values it accepts and refuses (NULL-terminated),
 * and, where the limit is a count of one repeated character, that
 * character and the longest accepted count (max 0: checked elsewhere or
 * no such limit). */
static const struct string_rule {
	const char *name;
	bool (*valid)(const char *s);
	const char *const *good, *const *bad;
	char fill;
	size_t max;
} string_rules[] = {
	{"client id", valid_client_id, client_id_good, client_id_bad, 'a',
	 VALID_CLIENT_ID_MAX},
	{"client name", valid_client_name, name_good, name_bad, 'n',
	 VALID_CLIENT_NAME_MAX},
	{"secret", valid_secret, secret_good, secret_bad, 'x',
	 VALID_SECRET_MAX},
	{"audience", valid_audience, audience_good, audience_bad, 'a',
	 VALID_AUDIENCE_MAX},
	{"scope", valid_scope, scope_good, scope_bad, 0, 0},
	{"grant type", valid_grant_type, grant_good, grant_bad, 0, 0},
	{"redirect URI", valid_redirect_uri, uri_good, uri_bad, 0, 0},
	{"username", valid_username, username_good, username_bad, 'u',
	 VALID_USERNAME_MAX},
};

static void test_string_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(string_rules) / sizeof(string_rules[0]);
	     i++) {
		const struct string_rule *r = &string_rules[i];
		for (const char *const *g = r->good; *g != NULL; g++)
			if (!r->valid(*g))
				fail_msg("%s: refused '%s'", r->name, *g);
		for (const char *const *b = r->bad; *b != NULL; b++)
			if (r->valid(*b))
				fail_msg("%s: accepted '%s'", r->name, *b);
		if (r->max == 0)
			continue;
		char *s = repeat(r->fill, r->max);
		if (!r->valid(s))
			fail_msg("%s: refused %zu characters", r->name, r->max);
		free(s);
		s = repeat(r->fill, r->max + 1);
		if (r->valid(s))
			fail_msg("%s: accepted %zu characters", r->name,
			         r->max + 1);
		free(s);
	}
}

/* The longest URI is not one character repeated. */
static void test_redirect_uri_length(void **state)
{
	(void)state;
	char *longuri = repeat('a', VALID_REDIRECT_URI_MAX + 1);
	memcpy(longuri, "https://h/", 10);
	assert_false(valid_redirect_uri(longuri));
	longuri[VALID_REDIRECT_URI_MAX] = '\0';
	assert_true(valid_redirect_uri(longuri));
	free(longuri);
}

static void test_grants_check(void **state)
{
	(void)state;
	assert_null(valid_grants_check(false, "client_credentials"));
	assert_null(valid_grants_check(false, "password refresh_token"));
	assert_null(valid_grants_check(true, "authorization_code refresh_token"));
	assert_string_equal(valid_grants_check(true, "client_credentials"),
	                    "a public client cannot use the client_credentials "
	                    "grant (RFC 6749 section 4.4: confidential clients "
	                    "only)");
	assert_non_null(valid_grants_check(true, "password client_credentials"));
	assert_string_equal(valid_grants_check(false, ""),
	                    "a client needs at least one grant type");
}

/* Issue 12, defect 11: the user id prefix is reserved; other ids that
 * merely contain it, or differ in case, are not. */
static void test_client_id_reserved(void **state)
{
	(void)state;
	assert_true(valid_client_id_reserved("u_"));
	assert_true(valid_client_id_reserved("u_Xy3"));
	assert_false(valid_client_id_reserved("U_Xy3"));
	assert_false(valid_client_id_reserved("u"));
	assert_false(valid_client_id_reserved("au_x"));
	assert_false(valid_client_id_reserved(""));
	assert_string_equal(VALID_CLIENT_ID_RESERVED_RULE,
	                    "ids starting with u_ are reserved for users (the "
	                    "sub of their tokens; RFC 9068 section 5)");
}

/* Issue 12, defect 10: a chosen secret needs 16 characters. */
static void test_secret_chosen(void **state)
{
	(void)state;
	char *s = repeat('x', VALID_SECRET_CHOSEN_MIN);
	assert_true(valid_secret_chosen(s));
	s[VALID_SECRET_CHOSEN_MIN - 1] = '\0';
	assert_false(valid_secret_chosen(s));
	assert_true(valid_secret(s));
	free(s);
	assert_false(valid_secret_chosen("tab\tand then long enough"));
	assert_string_equal(VALID_SECRET_CHOSEN_RULE,
	                    "a chosen secret needs at least 16 characters");
}

static void test_introspect_check(void **state)
{
	(void)state;
	assert_null(valid_introspect_check(false, true));
	assert_null(valid_introspect_check(false, false));
	assert_null(valid_introspect_check(true, false));
	assert_non_null(valid_introspect_check(true, true));
}

/* ---- other rules -------------------------------------------------------- */

static void test_password_length(void **state)
{
	(void)state;
	assert_false(valid_password_length(0));
	assert_false(valid_password_length(7));
	assert_true(valid_password_length(8));
	assert_true(valid_password_length(1024));
	assert_false(valid_password_length(1025));
}

static void test_ttl(void **state)
{
	(void)state;
	assert_true(valid_ttl(1));
	assert_true(valid_ttl(3600));
	assert_true(valid_ttl(VALID_TTL_MAX));
	assert_false(valid_ttl(0));
	assert_false(valid_ttl(-1));
	assert_false(valid_ttl(VALID_TTL_MAX + 1));
	assert_false(valid_ttl(INT64_MIN));
	assert_false(valid_ttl(INT64_MAX));
}

static void test_on_refresh(void **state)
{
	(void)state;
	static const char *const good[] = {"nothing", "revoke", "hook"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		/* The result is a static string, not the (here freed) input. */
		char *in = strdup(good[i]);
		assert_non_null(in);
		const char *out = valid_on_refresh(in);
		free(in);
		assert_non_null(out);
		assert_string_equal(out, good[i]);
	}
	static const char *const bad[] = {
		"", "Nothing", "REVOKE", "hook ", " hook", "none", "revoked",
		"default", "null", "hook\n", "nothin", "revoke,hook",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (valid_on_refresh(bad[i]) != NULL)
			fail_msg("accepted bad policy '%s'", bad[i]);
}

/* The rules end up in messages of the CLI and the fixtures file; they say
 * the limits the checks apply. */
static void test_rule_texts(void **state)
{
	(void)state;
	assert_string_equal(VALID_CLIENT_ID_RULE,
	                    "1 to 128 characters of A-Z a-z 0-9 . _ ~ -");
	assert_string_equal(VALID_CLIENT_NAME_RULE,
	                    "1 to 256 bytes of UTF-8 without control "
	                    "characters");
	assert_string_equal(VALID_SECRET_RULE,
	                    "1 to 512 printable ASCII characters");
	assert_string_equal(VALID_TTL_RULE,
	                    "a whole number of seconds from 1 to 31536000");
	assert_string_equal(VALID_USERNAME_RULE,
	                    "1 to 128 printable ASCII characters without "
	                    "spaces");
	assert_string_equal(VALID_PASSWORD_RULE,
	                    "the password must be 8 to 1024 bytes long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string_rules),
		cmocka_unit_test(test_redirect_uri_length),
		cmocka_unit_test(test_grants_check),
		cmocka_unit_test(test_client_id_reserved),
		cmocka_unit_test(test_secret_chosen),
		cmocka_unit_test(test_introspect_check),
		cmocka_unit_test(test_password_length),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_on_refresh),
		cmocka_unit_test(test_rule_texts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
