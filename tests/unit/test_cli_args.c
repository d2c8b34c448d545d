/*
 * test_cli_args.c: the admin CLI's input handling without a database: the
 * command-line parser, the CLI's spellings of lifetimes, on-refresh
 * policies and auto-approve users ('default' included), the token and
 * consent commands' filters, the list-option collector and the password
 * line reader. The rules behind the values are core's, tested in
 * test_validate.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

/* ---- parser ------------------------------------------------------------- */

static int vparse(struct adm_args *a, char *err, size_t errlen, va_list ap)
{
	char *argv[32] = {"latchkey"};
	int argc = 1;
	for (char *s; (s = va_arg(ap, char *)) != NULL;)
		argv[argc++] = s;
	err[0] = '\0';
	return adm_args_parse(argc, argv, a, err, errlen);
}

/* Parses a NULL-terminated argument list after "latchkey". */
static int parse(struct adm_args *a, char *err, size_t errlen, ...)
{
	va_list ap;
	va_start(ap, errlen);
	int rc = vparse(a, err, errlen, ap);
	va_end(ap);
	return rc;
}

/* Parses a NULL-terminated argument list that must be refused with the
 * message want. */
static void parse_refused(const char *want, ...)
{
	struct adm_args a;
	char err[256];
	va_list ap;
	va_start(ap, want);
	int rc = vparse(&a, err, sizeof(err), ap);
	va_end(ap);
	adm_args_free(&a);
	assert_int_equal(rc, -1);
	assert_string_equal(err, want);
}

static void test_parse_options_anywhere(void **state)
{
	(void)state;
	struct adm_args a;
	char err[256];
	assert_int_equal(parse(&a, err, sizeof(err), "--db", "x.db", "client",
	                       "--json", "add", "web", "--scope", "a",
	                       "--scope=b", "--public", NULL), 0);
	assert_int_equal(a.npos, 3);
	assert_string_equal(a.pos[0], "client");
	assert_string_equal(a.pos[1], "add");
	assert_string_equal(a.pos[2], "web");
	assert_string_equal(adm_str(&a, OPT_DB), "x.db");
	assert_true(adm_has(&a, OPT_JSON));
	assert_true(adm_has(&a, OPT_PUBLIC));
	assert_false(adm_has(&a, OPT_SECRET));
	assert_null(adm_str(&a, OPT_SECRET));
	assert_int_equal(a.opt[OPT_SCOPE].n, 2);
	assert_string_equal(a.opt[OPT_SCOPE].v[0], "a");
	assert_string_equal(a.opt[OPT_SCOPE].v[1], "b");
	adm_args_free(&a);
}

static void test_parse_value_may_start_with_dash(void **state)
{
	(void)state;
	struct adm_args a;
	char err[256];
	assert_int_equal(parse(&a, err, sizeof(err), "client", "add", "x",
	                       "--secret", "-not-an-option", NULL), 0);
	assert_string_equal(adm_str(&a, OPT_SECRET), "-not-an-option");
	assert_int_equal(a.npos, 3);
	adm_args_free(&a);
}

static void test_parse_double_dash_ends_options(void **state)
{
	(void)state;
	struct adm_args a;
	char err[256];
	assert_int_equal(parse(&a, err, sizeof(err), "user", "remove", "--",
	                       "--json", NULL), 0);
	assert_int_equal(a.npos, 3);
	assert_string_equal(a.pos[2], "--json");
	assert_false(adm_has(&a, OPT_JSON));
	adm_args_free(&a);
}

static void test_parse_errors(void **state)
{
	(void)state;
	struct adm_args a;
	char err[256];

	assert_int_equal(parse(&a, err, sizeof(err), "client", "--bogus", NULL),
	                 -1);
	assert_string_equal(err, "unknown option '--bogus'");
	adm_args_free(&a);

	/* A prefix getopt would accept is refused: it would break when a
	 * later option shares it. */
	assert_int_equal(parse(&a, err, sizeof(err), "client", "add", "x",
	                       "--pub", NULL), -1);
	assert_string_equal(err, "unknown option '--pub'");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "client", "--db", NULL),
	                 -1);
	assert_string_equal(err, "option --db needs a value");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--json=yes", NULL), -1);
	assert_string_equal(err, "option --json takes no value");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--id", "a", "--id", "b",
	                       NULL), -1);
	assert_string_equal(err, "option --id given more than once");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "-x", NULL), -1);
	assert_string_equal(err, "unknown option '-x'");
	adm_args_free(&a);
}

/* The refresh-token flags differ only by prefix: each is matched whole. */
static void test_parse_refresh_flags(void **state)
{
	(void)state;
	struct adm_args a;
	char err[256];
	assert_int_equal(parse(&a, err, sizeof(err), "client", "update", "x",
	                       "--no-issue-refresh-token", "--on-refresh=hook",
	                       NULL), 0);
	assert_true(adm_has(&a, OPT_NO_ISSUE_REFRESH_TOKEN));
	assert_false(adm_has(&a, OPT_ISSUE_REFRESH_TOKEN));
	assert_false(adm_has(&a, OPT_DEFAULT_ISSUE_REFRESH_TOKEN));
	assert_string_equal(adm_str(&a, OPT_ON_REFRESH), "hook");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--issue-refresh-token",
	                       "--default-issue-refresh-token", NULL), 0);
	assert_true(adm_has(&a, OPT_ISSUE_REFRESH_TOKEN));
	assert_true(adm_has(&a, OPT_DEFAULT_ISSUE_REFRESH_TOKEN));
	assert_false(adm_has(&a, OPT_NO_ISSUE_REFRESH_TOKEN));
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--issue-refresh", NULL),
	                 -1);
	assert_string_equal(err, "unknown option '--issue-refresh'");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err),
	                       "--issue-refresh-token=no", NULL), -1);
	assert_string_equal(err, "option --issue-refresh-token takes no value");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--on-refresh", NULL), -1);
	assert_string_equal(err, "option --on-refresh needs a value");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--on-refresh", "hook",
	                       "--on-refresh", "revoke", NULL), -1);
	assert_string_equal(err, "option --on-refresh given more than once");
	adm_args_free(&a);
}

/* `token list --refresh` next to `client add --refresh-token-ttl`: the
 * flag is a prefix of the other option, and each is matched whole. */
static void test_parse_token_filters(void **state)
{
	(void)state;
	struct adm_args a;
	char err[256];
	assert_int_equal(parse(&a, err, sizeof(err), "token", "list",
	                       "--refresh", "--user", "alice", "--family=F-1",
	                       "--active", NULL), 0);
	assert_int_equal(a.npos, 2);
	assert_true(adm_has(&a, OPT_REFRESH));
	assert_false(adm_has(&a, OPT_REFRESH_TOKEN_TTL));
	assert_string_equal(adm_str(&a, OPT_USER), "alice");
	assert_string_equal(adm_str(&a, OPT_FAMILY), "F-1");
	assert_true(adm_has(&a, OPT_ACTIVE));
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--refresh-token-ttl",
	                       "60", NULL), 0);
	assert_false(adm_has(&a, OPT_REFRESH));
	assert_string_equal(adm_str(&a, OPT_REFRESH_TOKEN_TTL), "60");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--refresh=yes", NULL),
	                 -1);
	assert_string_equal(err, "option --refresh takes no value");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--refresh-token", "x",
	                       NULL), -1);
	assert_string_equal(err, "unknown option '--refresh-token'");
	adm_args_free(&a);
	/* Without a value too: not "--refresh-token-ttl needs a value". */
	assert_int_equal(parse(&a, err, sizeof(err), "--refresh-token", NULL),
	                 -1);
	assert_string_equal(err, "unknown option '--refresh-token'");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--fam", "F", NULL), -1);
	assert_string_equal(err, "unknown option '--fam'");
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--user", NULL), -1);
	assert_string_equal(err, "option --user needs a value");
	adm_args_free(&a);

	/* A value that looks like an option is still the value. */
	assert_int_equal(parse(&a, err, sizeof(err), "--family", "--json",
	                       NULL), 0);
	assert_string_equal(adm_str(&a, OPT_FAMILY), "--json");
	assert_false(adm_has(&a, OPT_JSON));
	adm_args_free(&a);
}

/* --auto-approve-as '' is a value (off), not a missing one; the consent
 * commands take --user and --client like the token commands. */
static void test_parse_auto_approve_and_consent(void **state)
{
	(void)state;
	struct adm_args a;
	char err[256];
	assert_int_equal(parse(&a, err, sizeof(err), "client", "update", "x",
	                       "--auto-approve-as", "", NULL), 0);
	assert_string_equal(adm_str(&a, OPT_AUTO_APPROVE_AS), "");
	assert_int_equal(a.npos, 3);
	adm_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--auto-approve-as=",
	                       NULL), 0);
	assert_true(adm_has(&a, OPT_AUTO_APPROVE_AS));
	assert_string_equal(adm_str(&a, OPT_AUTO_APPROVE_AS), "");
	adm_args_free(&a);

	parse_refused("option --auto-approve-as needs a value",
	              "--auto-approve-as", NULL);
	parse_refused("unknown option '--auto-approve'", "--auto-approve", "x",
	              NULL);

	assert_int_equal(parse(&a, err, sizeof(err), "consent", "revoke",
	                       "--client=web", "--user", "alice", NULL), 0);
	assert_int_equal(a.npos, 2);
	assert_string_equal(adm_str(&a, OPT_USER), "alice");
	assert_string_equal(adm_str(&a, OPT_CLIENT), "web");
	adm_args_free(&a);
}

static void test_parse_flags_may_repeat(void **state)
{
	(void)state;
	struct adm_args a;
	char err[256];
	assert_int_equal(parse(&a, err, sizeof(err), "--json", "-h", "--json",
	                       "--help", NULL), 0);
	assert_true(adm_has(&a, OPT_JSON));
	assert_true(adm_has(&a, OPT_HELP));
	assert_int_equal(a.npos, 0);
	adm_args_free(&a);
}

/* ---- option values ------------------------------------------------------- *
 * The rules are core's (tests/unit/test_validate.c); these are the CLI's
 * spellings of them, 'default' included. */

static void test_ttl(void **state)
{
	(void)state;
	int64_t v = -1;
	assert_int_equal(adm_ttl_parse("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(adm_ttl_parse("3600", &v), 0);
	assert_int_equal(v, 3600);
	assert_int_equal(adm_ttl_parse("31536000", &v), 0);
	assert_int_equal(v, 31536000);
	assert_int_equal(adm_ttl_parse("default", &v), 0);
	assert_int_equal(v, 0);

	static const char *const bad[] = {
		"0", "-1", "31536001", "", "1h", "+5", " 5", "5 ", "1.5",
		"99999999999999999999999", "Default",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (adm_ttl_parse(bad[i], &v) == 0)
			fail_msg("accepted bad TTL '%s'", bad[i]);
		assert_int_equal(v, 42); /* untouched on failure */
	}
}

/* One value for field f as `latchkey client add|update` reads it: the
 * CLI's syntax (adm_client_value), then the client spec's rule
 * (client_spec_set), both the code the CLI runs. */
static bool set_field(struct store_client *c, enum client_field f,
                      const char *s)
{
	const char *v[] = {s};
	struct adm_optval ov = {1, v};
	struct client_value val;
	char *bad = NULL;
	bool ok = adm_client_value(f, &ov, 0, STORE_DEFAULT, &val) &&
	          client_spec_set(c, f, &val, &bad);
	if (!ok && bad != NULL)
		assert_string_equal(bad, s); /* the refusal names the value */
	free(bad);
	return ok;
}

static void test_on_refresh(void **state)
{
	(void)state;
	static const char *const good[] = {"nothing", "revoke", "hook"};
	struct store_client c = {0};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(set_field(&c, CLIENT_F_ON_REFRESH, good[i]));
		assert_non_null(c.on_refresh);
		assert_string_equal(c.on_refresh, good[i]);
	}
	assert_true(set_field(&c, CLIENT_F_ON_REFRESH, "default"));
	assert_null(c.on_refresh); /* the server's setting */

	static const char *const bad[] = {
		"", "Nothing", "REVOKE", "hook ", " hook", "none", "revoked",
		"defaults", "null", "hook\n", "nothin", "revoke,hook",
	};
	assert_true(set_field(&c, CLIENT_F_ON_REFRESH, "revoke"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (set_field(&c, CLIENT_F_ON_REFRESH, bad[i]))
			fail_msg("accepted bad policy '%s'", bad[i]);
		assert_string_equal(c.on_refresh, "revoke"); /* untouched */
	}
	store_client_clear(&c);
}

static void test_auto_approve(void **state)
{
	(void)state;
	char max[VALID_USERNAME_MAX + 2];
	static const char *const names[] = {
		"alice", "bob@example.com", "Default", "defaults", "off", "-x",
	};
	struct store_client c = {0};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_true(set_field(&c, CLIENT_F_AUTO_APPROVE, names[i]));
		assert_non_null(c.auto_approve_as);
		assert_string_equal(c.auto_approve_as, names[i]);
	}
	assert_true(set_field(&c, CLIENT_F_AUTO_APPROVE, ""));
	assert_non_null(c.auto_approve_as);
	assert_string_equal(c.auto_approve_as, ""); /* off, not the server's */
	assert_true(set_field(&c, CLIENT_F_AUTO_APPROVE, "default"));
	assert_null(c.auto_approve_as);

	memset(max, 'u', VALID_USERNAME_MAX);
	max[VALID_USERNAME_MAX] = '\0';
	assert_true(set_field(&c, CLIENT_F_AUTO_APPROVE, max));
	max[VALID_USERNAME_MAX] = 'u';
	max[VALID_USERNAME_MAX + 1] = '\0';
	const char *const bad[] = {
		" ", "a b", "a\tb", "alice\n", "a\x7f", "j\xc3\xb6rg", max,
	};
	assert_true(set_field(&c, CLIENT_F_AUTO_APPROVE, "alice"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (set_field(&c, CLIENT_F_AUTO_APPROVE, bad[i]))
			fail_msg("accepted bad auto-approve user '%s'", bad[i]);
		assert_string_equal(c.auto_approve_as, "alice"); /* untouched */
	}
	store_client_clear(&c);
}

/* ---- list options ------------------------------------------------------- */

/* The words of repeated options: the client spec's collector (store.h),
 * with the CLI's --scope (split, '' adds none) and --grant (whole). */
#define SPLIT (CLIENT_WORDS_SPLIT | CLIENT_WORDS_SKIP_EMPTY)
#define WHOLE CLIENT_WORDS_SKIP_EMPTY

static void test_collect_words(void **state)
{
	(void)state;
	const char *vals[] = {"read write", "read", "", "  admin  "};
	char *out = NULL, *bad = NULL;

	assert_true(client_words_collect(vals, 4, SPLIT, valid_scope, &out,
	                                 &bad));
	assert_string_equal(out, "read write admin");
	free(out);

	/* Without split, a value with a space is one (invalid) word. */
	const char *grants[] = {"password", "client_credentials password"};
	assert_false(client_words_collect(grants, 2, WHOLE, valid_grant_type,
	                                  &out, &bad));
	assert_null(out);
	assert_string_equal(bad, "client_credentials password");
	free(bad);

	const char *dup[] = {"password", "password", "refresh_token"};
	assert_true(client_words_collect(dup, 3, WHOLE, valid_grant_type, &out,
	                                 &bad));
	assert_string_equal(out, "password refresh_token");
	free(out);

	const char *empty[] = {""};
	assert_true(client_words_collect(empty, 1, SPLIT, valid_scope, &out,
	                                 &bad));
	assert_string_equal(out, "");
	free(out);

	const char *badscope[] = {"ok", "b\"ad"};
	assert_false(client_words_collect(badscope, 2, SPLIT, valid_scope,
	                                  &out, &bad));
	assert_null(out);
	assert_string_equal(bad, "b\"ad");
	free(bad);
}

/* ---- password lines ----------------------------------------------------- */

static long read_from(const char *data, size_t len, char *buf, size_t cap)
{
	FILE *f = fmemopen((void *)data, len, "r");
	assert_non_null(f);
	long n = adm_read_line(f, buf, cap);
	fclose(f);
	return n;
}

static void test_read_line(void **state)
{
	(void)state;
	char buf[16];
	assert_int_equal(read_from("secret12\nsecond\n", 16, buf, sizeof(buf)),
	                 8);
	assert_string_equal(buf, "secret12");
	assert_int_equal(read_from("secret12\r\n", 10, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "secret12");
	assert_int_equal(read_from("no newline", 10, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "no newline");
	assert_int_equal(read_from("with space \n", 12, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "with space ");
	assert_int_equal(read_from("\n", 1, buf, sizeof(buf)), 0);
	assert_int_equal(read_from("", 0, buf, sizeof(buf)), ADM_LINE_EOF);
	/* 15 bytes fit a 16-byte buffer, 16 do not. */
	assert_int_equal(read_from("123456789012345\n", 16, buf, sizeof(buf)),
	                 15);
	assert_int_equal(read_from("1234567890123456\n", 17, buf, sizeof(buf)),
	                 ADM_LINE_LONG);
	assert_int_equal(read_from("ab\0cdefgh\n", 10, buf, sizeof(buf)),
	                 ADM_LINE_NUL);
}

static void test_time(void **state)
{
	(void)state;
	char buf[ADM_TIME_LEN];
	assert_string_equal(adm_time(0, buf), "1970-01-01T00:00:00Z");
	assert_string_equal(adm_time(1714564800, buf), "2024-05-01T12:00:00Z");
}

/* --limit and --since: whole numbers only; RFC 3339 with Z or an offset,
 * and what adm_time prints reads back as the same second. */
static void test_limit_and_since(void **state)
{
	(void)state;
	int64_t v = -1;
	char buf[ADM_TIME_LEN];
	assert_int_equal(adm_limit_parse("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(adm_limit_parse("1000000000", &v), 0);
	const char *bad_limits[] = {"0", "-1", "abc", "", "1.5", " 1", "+1",
	                            "1000000001", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad_limits) / sizeof(*bad_limits); i++)
		assert_int_equal(adm_limit_parse(bad_limits[i], &v), -1);

	assert_int_equal(adm_time_parse("1714564800", &v), 0);
	assert_int_equal(v, 1714564800);
	assert_int_equal(adm_time_parse(adm_time(1714564800, buf), &v), 0);
	assert_int_equal(v, 1714564800);
	assert_int_equal(adm_time_parse("2024-05-01T14:00:00.5+02:00", &v), 0);
	assert_int_equal(v, 1714564800);
	assert_int_equal(adm_time_parse("2024-05-01T11:30:00-00:30", &v), 0);
	assert_int_equal(v, 1714564800);
	const char *bad_times[] = {"", "yesterday", "1h", "-5", "2024-05-01",
	                           "2024-05-01T12:00:00", "2024-05-01 12:00:00Z",
	                           "2024-13-01T12:00:00Z", "24-05-01T12:00:00Z",
	                           "2024-05-01T12:00:00+2:00",
	                           "2024-05-01T12:00:00Zjunk"};
	for (size_t i = 0; i < sizeof(bad_times) / sizeof(*bad_times); i++)
		assert_int_equal(adm_time_parse(bad_times[i], &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_options_anywhere),
		cmocka_unit_test(test_parse_value_may_start_with_dash),
		cmocka_unit_test(test_parse_double_dash_ends_options),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_refresh_flags),
		cmocka_unit_test(test_parse_token_filters),
		cmocka_unit_test(test_parse_auto_approve_and_consent),
		cmocka_unit_test(test_parse_flags_may_repeat),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_on_refresh),
		cmocka_unit_test(test_auto_approve),
		cmocka_unit_test(test_collect_words),
		cmocka_unit_test(test_read_line),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_limit_and_since),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
