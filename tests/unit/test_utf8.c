/*
 * test_utf8.c: core/strutil.c's UTF-8 checks (RFC 3629 section 4), which
 * keep JSON log lines valid whatever bytes a client sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "strutil.h"

static void test_seq_len(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t len, want;
	} cases[] = {
		{"a", 1, 1},
		{"\x7f", 1, 1},
		{"\xc3\xa9", 2, 2},          /* é */
		{"\xe2\x82\xac", 3, 3},      /* € */
		{"\xf0\x9f\x94\x91", 4, 4},  /* 🔑 */
		{"\xf4\x8f\xbf\xbf", 4, 4},  /* U+10FFFF */
		{"\xc3", 1, 0},              /* cut short */
		{"\xe2\x82", 2, 0},
		{"\x80", 1, 0},              /* lone continuation */
		{"\xc0\xaf", 2, 0},          /* overlong '/' */
		{"\xc1\xbf", 2, 0},
		{"\xe0\x80\xaf", 3, 0},      /* overlong, 3 bytes */
		{"\xf0\x80\x80\xaf", 4, 0},  /* overlong, 4 bytes */
		{"\xed\xa0\x80", 3, 0},      /* surrogate U+D800 */
		{"\xf4\x90\x80\x80", 4, 0},  /* past U+10FFFF */
		{"\xf5\x80\x80\x80", 4, 0},
		{"\xff", 1, 0},
		{"\xc3\x28", 2, 0},          /* bad continuation */
		{"\xe2\x28\xa1", 3, 0},
		{"", 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (utf8_seq_len(cases[i].s, cases[i].len) != cases[i].want)
			fail_msg("case %zu: got %zu, want %zu", i,
			         utf8_seq_len(cases[i].s, cases[i].len),
			         cases[i].want);
}

static void test_valid(void **state)
{
	(void)state;
	static const char ok[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91";
	assert_true(utf8_valid(ok, strlen(ok)));
	assert_true(utf8_valid("", 0));
	/* The length bounds the check: a sequence cut by it is invalid. */
	assert_false(utf8_valid(ok, strlen(ok) - 1));
	assert_false(utf8_valid("ab\xff", 3));
	assert_false(utf8_valid("\xed\xbf\xbf", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_len),
		cmocka_unit_test(test_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
