/*
 * test_netaddr.c: core/netaddr.c: address literals (IPv4 held as
 * IPv4-mapped IPv6), canonical text, and the CIDR lists of
 * trusted_proxies, with the entries the setting must refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "netaddr.h"

static void canon(const char *in, const char *want)
{
	struct netaddr a;
	char buf[NETADDR_STRLEN];
	if (!netaddr_parse(in, strlen(in), &a))
		fail_msg("'%s' did not parse", in);
	netaddr_str(&a, buf);
	assert_string_equal(buf, want);
}

static void test_literals(void **state)
{
	(void)state;
	canon("192.0.2.1", "192.0.2.1");
	canon("::ffff:192.0.2.1", "192.0.2.1");
	canon("2001:DB8:0:0:0:0:0:1", "2001:db8::1");
	canon("::1", "::1");
	const char *bad[] = {"", "192.0.2", "192.0.2.256", "0x7f.0.0.1",
	                     "192.0.2.1:80", "[::1]", "::1%lo", "localhost",
	                     "1.2.3.4 ", "01.2.3.4"};
	struct netaddr a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (netaddr_parse(bad[i], strlen(bad[i]), &a))
			fail_msg("'%s' parsed", bad[i]);
}

static bool in(const struct netaddr_list *l, const char *s)
{
	struct netaddr a;
	assert_true(netaddr_parse(s, strlen(s), &a));
	return netaddr_list_match(l, &a);
}

static void test_lists(void **state)
{
	(void)state;
	struct netaddr_list *l = NULL;
	char err[200];
	assert_int_equal(netaddr_list_parse("127.0.0.1, 10.0.0.0/8 "
	                                    "2001:db8::/32,::1", &l, err,
	                                    sizeof(err)), 0);
	assert_int_equal(netaddr_list_len(l), 4);
	assert_true(in(l, "127.0.0.1"));
	assert_true(in(l, "::ffff:127.0.0.1"));
	assert_false(in(l, "127.0.0.2"));
	assert_true(in(l, "10.255.1.2"));
	assert_false(in(l, "11.0.0.1"));
	assert_true(in(l, "2001:db8:ffff::1"));
	assert_false(in(l, "2001:db9::1"));
	assert_true(in(l, "::1"));
	netaddr_list_free(l);

	assert_int_equal(netaddr_list_parse("", &l, err, sizeof(err)), 0);
	assert_int_equal(netaddr_list_len(l), 0);
	assert_false(in(l, "127.0.0.1"));
	netaddr_list_free(l);

	assert_int_equal(netaddr_list_parse("0.0.0.0/0", &l, err, sizeof(err)),
	                 0);
	assert_true(in(l, "203.0.113.7"));
	assert_false(in(l, "2001:db8::1"));
	netaddr_list_free(l);

	const char *bad[] = {"10.0.0.1/8", "10.0.0.0/33", "::/129", "10.0.0.0/",
	                     "10.0.0.0/-1", "10.0.0.0/8x", "proxy.internal",
	                     "127.0.0.1;10.0.0.1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = NULL;
		if (netaddr_list_parse(bad[i], &l, err, sizeof(err)) == 0)
			fail_msg("'%s' was accepted", bad[i]);
		assert_null(l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
