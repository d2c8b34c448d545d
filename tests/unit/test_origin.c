/*
 * test_origin.c: core/origin.c: origins as browsers serialize them
 * (lower case, no default port), the entries cors_allowed_origins must
 * refuse (with a message naming why), "*", and the issuer's path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "origin.h"

static void norm(const char *in, const char *want)
{
	char out[ORIGIN_MAX];
	if (!origin_norm(in, strlen(in), out, sizeof(out)))
		fail_msg("'%s' is not an origin", in);
	assert_string_equal(out, want);
}

static void test_norm(void **state)
{
	(void)state;
	norm("http://a.test:3000", "http://a.test:3000");
	norm("HTTPS://App.Example.COM", "https://app.example.com");
	norm("https://a.test:443", "https://a.test");
	norm("http://a.test:80", "http://a.test");
	norm("http://a.test:443", "http://a.test:443");
	norm("https://a.test:80", "https://a.test:80");
	norm("http://[::1]:8080", "http://[::1]:8080");
	norm("http://127.0.0.1:5173", "http://127.0.0.1:5173");
	norm("capacitor://localhost", "capacitor://localhost");
	const char *bad[] = {"", "null", "a.test", "http://", "http://a.test/",
	                     "http://a.test/app", "http://a.test?x", "http://a.test#x",
	                     "http://u@a.test", "http://a.test:", "http://a.test:0",
	                     "http://a.test:65536", "http://a.test:080",
	                     "http://a.test:8x", "http://a test", "http://a%41.test",
	                     "://a.test", "1http://a.test", "http://[::1",
	                     "http://a.test\r\nX: y"};
	char out[ORIGIN_MAX];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (origin_norm(bad[i], strlen(bad[i]), out, sizeof(out)))
			fail_msg("'%s' was taken for an origin", bad[i]);
	char big[400];
	memset(big, 'a', sizeof(big));
	memcpy(big, "http://", 7);
	assert_false(origin_norm(big, sizeof(big), out, sizeof(out)));
}

static void test_lists(void **state)
{
	(void)state;
	struct origin_list *l = NULL;
	char err[300];
	assert_int_equal(origin_list_parse("http://a.test:3000, https://B.test "
	                                   "https://c.test:443", &l, err,
	                                   sizeof(err)), 0);
	assert_false(origin_list_empty(l));
	assert_false(origin_list_any(l));
	assert_true(origin_list_allows(l, "http://a.test:3000"));
	assert_true(origin_list_allows(l, "https://b.test"));
	assert_true(origin_list_allows(l, "https://c.test"));
	assert_false(origin_list_allows(l, "http://a.test"));
	assert_false(origin_list_allows(l, "https://a.test:3000"));
	assert_false(origin_list_allows(l, "http://a.test:3001"));
	assert_false(origin_list_allows(l, "null"));
	assert_false(origin_list_allows(l, ""));
	assert_false(origin_list_allows(l, NULL));
	origin_list_free(l);

	assert_int_equal(origin_list_parse("", &l, err, sizeof(err)), 0);
	assert_true(origin_list_empty(l));
	assert_false(origin_list_allows(l, "http://a.test"));
	origin_list_free(l);

	assert_int_equal(origin_list_parse(" * ", &l, err, sizeof(err)), 0);
	assert_true(origin_list_any(l));
	assert_true(origin_list_allows(l, "https://anything.test"));
	assert_false(origin_list_allows(l, "null"));
	assert_false(origin_list_allows(l, "https://x.test/path"));
	origin_list_free(l);

	const struct {
		const char *spec, *why;
	} bad[] = {
		{"http://a.test/", "path"},
		{"https://a.test/app", "path"},
		{"null", "null"},
		{"a.test", "scheme://host"},
		{"*, http://a.test", "only entry"},
		{"http://a.test *", "only entry"},
		{"http://a.test:99999", "port"},
		{"http://a.test;http://b.test", "not an origin"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = NULL;
		err[0] = '\0';
		if (origin_list_parse(bad[i].spec, &l, err, sizeof(err)) == 0)
			fail_msg("'%s' was accepted", bad[i].spec);
		assert_null(l);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("'%s': '%s' does not say '%s'", bad[i].spec, err,
			         bad[i].why);
	}
}

static void test_prefix(void **state)
{
	(void)state;
	assert_int_equal(origin_prefix_len("http://h:1/realms/x"), 10);
	assert_int_equal(origin_prefix_len("https://h"), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_norm),
	    cmocka_unit_test(test_lists),
	    cmocka_unit_test(test_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
