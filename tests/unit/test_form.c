/*
 * test_form.c: server/form.c, the strict application/x-www-form-urlencoded
 * reader: decoding, the errors it must report instead of repairing, empty
 * and value-less pairs, repeated names and the parameter limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server_int.h"

/* Parses a NUL-terminated string with a generous limit. */
static enum form_rc parse(const char *s, struct form *f)
{
	return form_parse(s, strlen(s), 64, f);
}

/* form_decode of a NUL-terminated string. */
static char *dec(const char *s)
{
	return form_decode(s, strlen(s));
}

static void test_plain_pairs(void **state)
{
	(void)state;
	struct form f;
	assert_int_equal(parse("grant_type=client_credentials&scope=a", &f),
	                 FORM_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.v[0].name, "grant_type");
	assert_string_equal(f.v[0].value, "client_credentials");
	assert_string_equal(f.v[1].name, "scope");
	assert_string_equal(f.v[1].value, "a");
	assert_string_equal(form_get(&f, "grant_type"), "client_credentials");
	assert_string_equal(form_get(&f, "scope"), "a");
	assert_null(form_get(&f, "client_id"));
	assert_null(form_get(&f, "Scope")); /* names are case-sensitive */
	assert_null(form_repeated(&f));
	form_free(&f);
	assert_int_equal(f.n, 0);
	assert_null(f.v);
}

static void test_empty_input(void **state)
{
	(void)state;
	struct form f;
	assert_int_equal(form_parse("", 0, 8, &f), FORM_OK);
	assert_int_equal(f.n, 0);
	assert_null(form_get(&f, "a"));
	assert_null(form_repeated(&f));
	form_free(&f);
	assert_int_equal(parse("&&&", &f), FORM_OK);
	assert_int_equal(f.n, 0);
	form_free(&f);
}

static void test_length_is_honoured(void **state)
{
	(void)state;
	struct form f;
	/* Only the first 3 bytes are the body; the rest must not be read. */
	assert_int_equal(form_parse("a=1&b=2", 3, 8, &f), FORM_OK);
	assert_int_equal(f.n, 1);
	assert_string_equal(form_get(&f, "a"), "1");
	assert_null(form_get(&f, "b"));
	form_free(&f);
}

static void test_plus_is_space(void **state)
{
	(void)state;
	struct form f;
	assert_int_equal(parse("scope=read+write&a+b=c", &f), FORM_OK);
	assert_string_equal(form_get(&f, "scope"), "read write");
	assert_string_equal(form_get(&f, "a b"), "c");
	form_free(&f);
	char *s = dec("++");
	assert_string_equal(s, "  ");
	free(s);
	/* An encoded plus stays a plus. */
	s = dec("a%2Bb");
	assert_string_equal(s, "a+b");
	free(s);
}

static void test_percent_upper_and_lower(void **state)
{
	(void)state;
	char *s = dec("%3A%3a%2F%2f%41%7e%7E");
	assert_string_equal(s, "::" "//" "A~~");
	free(s);
	struct form f;
	assert_int_equal(parse("redirect_uri=https%3A%2F%2Fx.example%2fcb", &f),
	                 FORM_OK);
	assert_string_equal(form_get(&f, "redirect_uri"), "https://x.example/cb");
	form_free(&f);
	/* '=' and '&' inside a value arrive encoded. */
	assert_int_equal(parse("k%3Dx=v%26w%3D", &f), FORM_OK);
	assert_string_equal(form_get(&f, "k=x"), "v&w=");
	form_free(&f);
}

static void test_bad_escapes(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "%G1", "%1G", "%", "%4", "a%", "a%4", "%%41", "%-1", "% 1", "%x1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *s = dec(bad[i]);
		if (s != NULL)
			fail_msg("form_decode(\"%s\") gave \"%s\", want NULL", bad[i], s);
	}
	struct form f;
	assert_int_equal(parse("a=%G1", &f), FORM_MALFORMED);
	assert_int_equal(f.n, 0);
	assert_null(f.v);
	assert_int_equal(parse("a=1&b=%", &f), FORM_MALFORMED);
	assert_int_equal(f.n, 0);
	assert_int_equal(parse("a=1&b=x%4", &f), FORM_MALFORMED);
	assert_int_equal(parse("%4=1", &f), FORM_MALFORMED);
	/* The trailing escape is cut off by len, not by the string. */
	assert_int_equal(form_parse("a=%41", 4, 8, &f), FORM_MALFORMED);
	assert_int_equal(form_parse("a=%41", 5, 8, &f), FORM_OK);
	assert_string_equal(form_get(&f, "a"), "A");
	form_free(&f);
}

static void test_nul_rejected(void **state)
{
	(void)state;
	assert_null(dec("%00"));
	assert_null(dec("a%00b"));
	/* A raw NUL byte inside the length is refused as well. */
	assert_null(form_decode("a\0b", 3));
	struct form f;
	assert_int_equal(parse("client_id=x%00y", &f), FORM_MALFORMED);
	assert_int_equal(parse("x%00=1", &f), FORM_MALFORMED);
	assert_int_equal(form_parse("a=1&b=\0", 7, 8, &f), FORM_MALFORMED);
	/* %01 is a byte C strings can carry. */
	char *s = dec("%01");
	assert_non_null(s);
	assert_int_equal(strlen(s), 1);
	assert_int_equal(s[0], 1);
	free(s);
}

static void test_empty_pairs_skipped(void **state)
{
	(void)state;
	struct form f;
	assert_int_equal(parse("a=1&&b=2", &f), FORM_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.v[0].name, "a");
	assert_string_equal(f.v[1].name, "b");
	assert_string_equal(form_get(&f, "b"), "2");
	form_free(&f);
	assert_int_equal(parse("&a=1&", &f), FORM_OK);
	assert_int_equal(f.n, 1);
	assert_string_equal(form_get(&f, "a"), "1");
	form_free(&f);
}

static void test_pair_without_equals(void **state)
{
	(void)state;
	struct form f;
	assert_int_equal(parse("flag&a=1&other", &f), FORM_OK);
	assert_int_equal(f.n, 3);
	assert_string_equal(form_get(&f, "flag"), "");
	assert_string_equal(form_get(&f, "other"), "");
	assert_string_equal(form_get(&f, "a"), "1");
	form_free(&f);
	/* "a=" is an empty value too, and "a==" a value of "=". */
	assert_int_equal(parse("a=&b==", &f), FORM_OK);
	assert_string_equal(form_get(&f, "a"), "");
	assert_string_equal(form_get(&f, "b"), "=");
	form_free(&f);
}

static void test_empty_name_rejected(void **state)
{
	(void)state;
	struct form f;
	assert_int_equal(parse("=x", &f), FORM_MALFORMED);
	assert_int_equal(f.n, 0);
	assert_int_equal(parse("a=1&=x", &f), FORM_MALFORMED);
	assert_int_equal(parse("=", &f), FORM_MALFORMED);
	assert_int_equal(f.n, 0);
	assert_null(f.v);
}

static void test_repeated_names(void **state)
{
	(void)state;
	struct form f;
	assert_int_equal(parse("a=1&b=2&c=3&b=4", &f), FORM_OK);
	assert_int_equal(f.n, 4);
	assert_string_equal(form_repeated(&f), "b");
	/* form_get returns the first. */
	assert_string_equal(form_get(&f, "b"), "2");
	form_free(&f);
	/* Repetition is judged after decoding: "scope" and "sc%6Fpe". */
	assert_int_equal(parse("scope=a&sc%6Fpe=b", &f), FORM_OK);
	assert_string_equal(form_repeated(&f), "scope");
	form_free(&f);
	/* The first name that repeats is reported. */
	assert_int_equal(parse("x=1&y=1&y=2&x=2", &f), FORM_OK);
	assert_string_equal(form_repeated(&f), "x");
	form_free(&f);
	/* A value-less repeat is a repeat too. */
	assert_int_equal(parse("a&a", &f), FORM_OK);
	assert_string_equal(form_repeated(&f), "a");
	form_free(&f);
}

static void test_max_params(void **state)
{
	(void)state;
	struct form f;
	assert_int_equal(form_parse("a=1&b=2&c=3", 11, 3, &f), FORM_OK);
	assert_int_equal(f.n, 3);
	form_free(&f);
	assert_int_equal(form_parse("a=1&b=2&c=3&d=4", 15, 3, &f), FORM_TOO_MANY);
	assert_int_equal(f.n, 0);
	assert_null(f.v);
	/* Empty pairs do not count. */
	assert_int_equal(form_parse("a=1&&&b=2&&c=3&", 15, 3, &f), FORM_OK);
	assert_int_equal(f.n, 3);
	form_free(&f);
	assert_int_equal(form_parse("a=1", 3, 0, &f), FORM_TOO_MANY);
	assert_int_equal(form_parse("", 0, 0, &f), FORM_OK);
	form_free(&f);
}

static void test_high_bytes_pass_through(void **state)
{
	(void)state;
	/* UTF-8 "é" raw and percent-encoded; 0xFF raw. */
	char *s = dec("caf\xc3\xa9-caf%C3%A9-\xff-%ff");
	assert_string_equal(s, "caf\xc3\xa9-caf\xc3\xa9-\xff-\xff");
	free(s);
	struct form f;
	assert_int_equal(parse("n\xe2\x82\xac=\x80\x81", &f), FORM_OK);
	assert_string_equal(form_get(&f, "n\xe2\x82\xac"), "\x80\x81");
	form_free(&f);
}

static void test_large_value(void **state)
{
	(void)state;
	const size_t vlen = 1024 * 1024;
	char *body = malloc(vlen + 16);
	assert_non_null(body);
	memcpy(body, "big=", 4);
	for (size_t i = 0; i < vlen; i++)
		body[4 + i] = (char)('a' + i % 26);
	memcpy(body + 4 + vlen, "&x=%41", 7);
	struct form f;
	assert_int_equal(form_parse(body, strlen(body), 8, &f), FORM_OK);
	assert_int_equal(f.n, 2);
	const char *v = form_get(&f, "big");
	assert_non_null(v);
	assert_int_equal(strlen(v), vlen);
	assert_memory_equal(v, body + 4, vlen);
	assert_string_equal(form_get(&f, "x"), "A");
	form_free(&f);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_pairs),
	    cmocka_unit_test(test_empty_input),
	    cmocka_unit_test(test_length_is_honoured),
	    cmocka_unit_test(test_plus_is_space),
	    cmocka_unit_test(test_percent_upper_and_lower),
	    cmocka_unit_test(test_bad_escapes),
	    cmocka_unit_test(test_nul_rejected),
	    cmocka_unit_test(test_empty_pairs_skipped),
	    cmocka_unit_test(test_pair_without_equals),
	    cmocka_unit_test(test_empty_name_rejected),
	    cmocka_unit_test(test_repeated_names),
	    cmocka_unit_test(test_max_params),
	    cmocka_unit_test(test_high_bytes_pass_through),
	    cmocka_unit_test(test_large_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
