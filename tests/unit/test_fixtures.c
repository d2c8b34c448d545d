/*
 * test_fixtures.c: testdouble/fixtures.c against a real SQLite store: the
 * issue's example file and the CLI's defaults, each kind of bad file with
 * its exact message (and nothing written), applying twice, replacing what
 * a file changed, and which hash scheme each mode stores.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "secret.h"
#include "testdouble.h"
#include "store.h"
#include "unit_util.h"

#define FAST "$lk-hmac-sha256$"
#define SLOW "$argon2id$"

/* The example of issue 5, with a second client for the password grant. */
static const char example[] =
    "{\"clients\": [{\"client_id\": \"svc-a\", \"client_secret\": "
    "\"svc-a-secret\", \"grants\": [\"client_credentials\"], \"scopes\": "
    "[\"read\"], \"redirect_uris\": [], \"public\": false, "
    "\"access_token_ttl\": 2, \"refresh_token_ttl\": 3600, \"on_refresh\": "
    "\"revoke\"},\n"
    " {\"client_id\": \"app\", \"client_secret\": \"app-secret\", "
    "\"grants\": [\"password\", \"refresh_token\", \"password\"], "
    "\"issue_refresh_token\": true, \"auto_approve_as\": \"dave\"}],\n"
    " \"users\": [{\"username\": \"dave\", \"password\": "
    "\"dave-password-1\"}]}\n";

struct fx_test {
	char *dir;
	struct store *st;
	char err[512];
};

static int setup(void **state)
{
	struct fx_test *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->dir = ut_tmpdir();
	t->st = ut_store_open(t->dir, "fx.db");
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct fx_test *t = *state;
	store_close(t->st);
	ut_rmtree(t->dir);
	free(t->dir);
	free(t);
	return 0;
}

/* Writes text as the fixtures file and applies it; returns the result,
 * with t->err set on failure. */
static int apply_text(struct fx_test *t, const char *text, bool fast)
{
	char *path = ut_write_file(t->dir, "fixtures.json", text);
	t->err[0] = '\0';
	int rc = fixtures_apply(t->st, path, fast, t->err, sizeof(t->err));
	free(path);
	return rc;
}

static void get_client(struct fx_test *t, const char *id,
                       struct store_client *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_client_get(t->st, id, c), STORE_OK);
}

static void get_user(struct fx_test *t, const char *name, struct store_user *u)
{
	memset(u, 0, sizeof(*u));
	assert_int_equal(store_user_get(t->st, name, u), STORE_OK);
}

static void assert_prefix(const char *s, const char *prefix)
{
	if (s == NULL || strncmp(s, prefix, strlen(prefix)) != 0)
		fail_msg("'%s' does not start with '%s'", s ? s : "(null)",
		         prefix);
}

static void test_example(void **state)
{
	struct fx_test *t = *state;
	struct store_client c;
	struct store_user u;
	assert_int_equal(apply_text(t, example, true), 0);

	get_client(t, "svc-a", &c);
	assert_string_equal(c.name, "svc-a"); /* the id, as no name is given */
	assert_false(c.is_public);
	assert_string_equal(c.grant_types, "client_credentials");
	assert_string_equal(c.scopes, "read");
	assert_string_equal(c.redirect_uris, "");
	assert_int_equal(c.access_token_ttl, 2);
	assert_int_equal(c.refresh_token_ttl, 3600);
	assert_string_equal(c.on_refresh, "revoke");
	assert_int_equal(c.issue_refresh_token, STORE_DEFAULT);
	assert_null(c.auto_approve_as);
	assert_prefix(c.secret_hash, FAST);
	assert_int_equal(secret_verify(c.secret_hash, "svc-a-secret"),
	                 SECRET_OK);
	store_client_clear(&c);

	get_client(t, "app", &c);
	assert_string_equal(c.grant_types, "password refresh_token");
	assert_int_equal(c.issue_refresh_token, STORE_ON);
	assert_string_equal(c.auto_approve_as, "dave");
	assert_int_equal(c.access_token_ttl, 0); /* the server's */
	assert_null(c.on_refresh);
	store_client_clear(&c);

	get_user(t, "dave", &u);
	assert_prefix(u.user_id, "u_");
	assert_prefix(u.password_hash, FAST);
	assert_int_equal(secret_verify(u.password_hash, "dave-password-1"),
	                 SECRET_OK);
	store_user_clear(&u);
}

/* Without grants, each kind of client gets the CLI's default. */
static void test_defaults(void **state)
{
	struct fx_test *t = *state;
	struct store_client c;
	assert_int_equal(apply_text(t, "{\"clients\": [{\"client_id\": \"web\","
	                                " \"public\": true, \"name\": "
	                                "\"Web app\", \"redirect_uris\": "
	                                "[\"https://app.example/cb\"], "
	                                "\"auto_approve_as\": \"\"}, "
	                                "{\"client_id\": \"svc\", "
	                                "\"client_secret\": \"s\", "
	                                "\"issue_refresh_token\": false}]}",
	                            true), 0);
	get_client(t, "web", &c);
	assert_true(c.is_public);
	assert_null(c.secret_hash);
	assert_string_equal(c.name, "Web app");
	assert_string_equal(c.grant_types, "authorization_code refresh_token");
	assert_string_equal(c.redirect_uris, "https://app.example/cb");
	assert_string_equal(c.auto_approve_as, ""); /* off, not the server's */
	store_client_clear(&c);
	get_client(t, "svc", &c);
	assert_string_equal(c.grant_types, "client_credentials");
	assert_string_equal(c.scopes, "");
	assert_int_equal(c.issue_refresh_token, STORE_OFF);
	store_client_clear(&c);
	/* No "users" and no "clients" at all is an empty file, not an error. */
	assert_int_equal(apply_text(t, "{}", true), 0);
}

/* Each kind of bad file, with its message after "fixtures PATH: ". */
static const struct {
	const char *text;
	const char *msg;
} bad_files[] = {
	{"[]", "expected an object with \"clients\" and \"users\", got an "
	       "array"},
	{"{\"client\": []}", "unknown key \"client\": the file has "
	                     "\"clients\", \"users\" and \"tenants\""},
	{"{\"clients\": {}}", "\"clients\": expected an array, got an object"},
	{"{\"users\": [\"dave\"]}", "users[0]: expected an object, got a "
	                            "string"},
	{"{\"clients\": [{\"client_secret\": \"s\"}]}",
	 "clients[0]: field \"client_id\": required"},
	{"{\"clients\": [{\"client_id\": 7}]}",
	 "clients[0]: field \"client_id\": expected a string, got an integer"},
	{"{\"clients\": [{\"client_id\": \"a b\"}]}",
	 "clients[0]: field \"client_id\": invalid client id \"a b\": 1 to 128 "
	 "characters of A-Z a-z 0-9 . _ ~ -"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"client_secret\": \"s\", "
	 "\"scope\": [\"read\"]}]}",
	 "clients[0] (svc-a): unknown key \"scope\" (did you mean "
	 "\"scopes\"?)"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"grant_types\": []}]}",
	 "clients[0] (svc-a): unknown key \"grant_types\" (did you mean "
	 "\"grants\"?)"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"colour\": 1}]}",
	 "clients[0] (svc-a): unknown key \"colour\""},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"client_secret\": \"s\", "
	 "\"grants\": [\"implicit\"]}]}",
	 "clients[0] (svc-a): field \"grants\": unknown grant type "
	 "\"implicit\": known grant types are authorization_code, "
	 "client_credentials, password, refresh_token, token-exchange "
	 "(urn:ietf:params:oauth:grant-type:token-exchange), device-code "
	 "(urn:ietf:params:oauth:grant-type:device_code) and jwt-bearer "
	 "(urn:ietf:params:oauth:grant-type:jwt-bearer)"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"grants\": "
	 "\"password\"}]}",
	 "clients[0] (svc-a): field \"grants\": expected an array of strings, "
	 "got a string"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"scopes\": [\"a\", "
	 "null]}]}",
	 "clients[0] (svc-a): field \"scopes\": item 1: expected a string, got "
	 "null"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"scopes\": [\"a b\"]}]}",
	 "clients[0] (svc-a): field \"scopes\": invalid scope \"a b\": a scope "
	 "is printable ASCII without space, '\"' or '\\' (RFC 6749 section "
	 "3.3)"},
	{"{\"clients\": [{\"client_id\": \"web\", \"public\": true, "
	 "\"redirect_uris\": [\"https://a/cb#x\"]}]}",
	 "clients[0] (web): field \"redirect_uris\": invalid redirect URI "
	 "\"https://a/cb#x\": an absolute URI (scheme:...) without fragment, "
	 "spaces or non-ASCII characters; http and https URIs need //host"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"public\": \"no\"}]}",
	 "clients[0] (svc-a): field \"public\": expected true or false, got a "
	 "string"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"access_token_ttl\": "
	 "0}]}",
	 "clients[0] (svc-a): field \"access_token_ttl\": invalid lifetime 0: "
	 "a whole number of seconds from 1 to 31536000; leave the key out for "
	 "the server's setting"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"refresh_token_ttl\": "
	 "1.5}]}",
	 "clients[0] (svc-a): field \"refresh_token_ttl\": expected an "
	 "integer, got a real number"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"on_refresh\": "
	 "\"Hook\"}]}",
	 "clients[0] (svc-a): field \"on_refresh\": invalid policy \"Hook\": "
	 "one of nothing, revoke, hook; leave the key out for the server's "
	 "setting"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"auto_approve_as\": "
	 "\"default\"}]}",
	 "clients[0] (svc-a): field \"auto_approve_as\": invalid user "
	 "\"default\": a username (1 to 128 printable ASCII characters without "
	 "spaces), or \"\" for off; leave the key out for the server's "
	 "setting"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"client_secret\": "
	 "\"tab\\there\"}]}",
	 "clients[0] (svc-a): field \"client_secret\": invalid secret: 1 to "
	 "512 printable ASCII characters"},
	{"{\"clients\": [{\"client_id\": \"svc-a\"}]}",
	 "clients[0] (svc-a): field \"client_secret\": required for a "
	 "confidential client (or set \"public\": true)"},
	{"{\"clients\": [{\"client_id\": \"web\", \"public\": true, "
	 "\"client_secret\": \"s\"}]}",
	 "clients[0] (web): field \"client_secret\": a public client has no "
	 "secret"},
	{"{\"clients\": [{\"client_id\": \"web\", \"public\": true, "
	 "\"grants\": [\"client_credentials\"]}]}",
	 "clients[0] (web): field \"grants\": a public client cannot use the "
	 "client_credentials grant (RFC 6749 section 4.4: confidential "
	 "clients only)"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"client_secret\": \"s\", "
	 "\"grants\": []}]}",
	 "clients[0] (svc-a): field \"grants\": a client needs at least one "
	 "grant type"},
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"client_secret\": \"s\"},"
	 " {\"client_id\": \"svc-a\", \"client_secret\": \"t\"}]}",
	 "clients[1]: field \"client_id\": \"svc-a\" is also clients[0]"},
	{"{\"users\": [{\"username\": \"dave\"}]}",
	 "users[0] (dave): field \"password\": required"},
	{"{\"users\": [{\"username\": \"dave\", \"password\": \"short\"}]}",
	 "users[0] (dave): field \"password\": the password must be 8 to 1024 "
	 "bytes long"},
	{"{\"users\": [{\"username\": \"j\\u00f6rg\", \"password\": "
	 "\"long enough\"}]}",
	 "users[0]: field \"username\": invalid username \"j\xc3\xb6rg\": 1 to "
	 "128 printable ASCII characters without spaces"},
	{"{\"users\": [{\"username\": \"dave\", \"name\": \"Dave\", "
	 "\"password\": \"long enough\"}]}",
	 "users[0] (dave): unknown key \"name\" (did you mean \"username\"?)"},
	{"{\"users\": [{\"username\": \"dave\", \"password\": \"long enough\"},"
	 " {\"username\": \"dave\", \"password\": \"long enough\"}]}",
	 "users[1]: field \"username\": \"dave\" is also users[0]"},
	/* Control characters from the file never reach the log line. */
	{"{\"clients\": [{\"client_id\": \"svc-a\", \"on_refresh\": "
	 "\"\\u001b[31m\"}]}",
	 "clients[0] (svc-a): field \"on_refresh\": invalid policy \"?[31m\": "
	 "one of nothing, revoke, hook; leave the key out for the server's "
	 "setting"},
};

static void test_bad_files(void **state)
{
	struct fx_test *t = *state;
	char *path = ut_path(t->dir, "fixtures.json");
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		char want[1024];
		snprintf(want, sizeof(want), "fixtures %s: %s", path,
		         bad_files[i].msg);
		if (apply_text(t, bad_files[i].text, true) != -1 ||
		    strcmp(t->err, want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, t->err,
			         want);
	}
	free(path);
}

/* Errors of the file as a whole: unreadable, not JSON, a repeated key. */
static void test_unreadable_files(void **state)
{
	struct fx_test *t = *state;
	char *path = ut_path(t->dir, "fixtures.json");
	char want[1024];

	snprintf(want, sizeof(want), "fixtures %s/none.json: unable to open "
	         "%s/none.json: No such file or directory", t->dir, t->dir);
	char *none = ut_path(t->dir, "none.json");
	assert_int_equal(fixtures_apply(t->st, none, true, t->err,
	                                sizeof(t->err)), -1);
	assert_string_equal(t->err, want);
	free(none);

	snprintf(want, sizeof(want), "fixtures %s: line 2 column ", path);
	assert_int_equal(apply_text(t, "{\"clients\": [\n", true), -1);
	assert_prefix(t->err, want);

	assert_int_equal(apply_text(t, "{\"clients\": [{\"client_id\": \"a\", "
	                               "\"client_id\": \"b\"}]}", true), -1);
	snprintf(want, sizeof(want), "fixtures %s: line 1 column ", path);
	assert_prefix(t->err, want);
	assert_non_null(strstr(t->err, "duplicate object key"));
	free(path);
}

/* A file whose last entry is bad writes nothing, not even the good ones
 * before it. */
static void test_bad_file_writes_nothing(void **state)
{
	struct fx_test *t = *state;
	struct store_client c = {0};
	struct store_user u = {0};
	assert_int_equal(apply_text(t, "{\"clients\": [{\"client_id\": \"ok\", "
	                               "\"client_secret\": \"s\"}], "
	                               "\"users\": [{\"username\": \"dave\", "
	                               "\"password\": \"long enough\"}, "
	                               "{\"username\": \"eve\"}]}", true), -1);
	assert_int_equal(store_client_get(t->st, "ok", &c), STORE_NOT_FOUND);
	assert_int_equal(store_user_get(t->st, "dave", &u), STORE_NOT_FOUND);
	store_client_clear(&c);
	store_user_clear(&u);
}

/* What applying keeps or changes of the example's svc-a and dave. */
struct stored {
	char *secret_hash;
	int64_t client_created_at;
	char *user_id;
	char *password_hash;
};

static void read_stored(struct fx_test *t, struct stored *out)
{
	struct store_client c;
	struct store_user u;
	get_client(t, "svc-a", &c);
	get_user(t, "dave", &u);
	out->secret_hash = strdup(c.secret_hash);
	out->client_created_at = c.created_at;
	out->user_id = strdup(u.user_id);
	out->password_hash = strdup(u.password_hash);
	store_client_clear(&c);
	store_user_clear(&u);
}

static void stored_clear(struct stored *s)
{
	free(s->secret_hash);
	free(s->user_id);
	free(s->password_hash);
}

/* Applying the same file again keeps every hash, the user's id and the
 * creation times: the server's cache of verified secrets stays valid and
 * tokens keep their subject. */
static void test_apply_twice(void **state)
{
	struct fx_test *t = *state;
	struct stored a, b;
	assert_int_equal(apply_text(t, example, true), 0);
	read_stored(t, &a);
	assert_int_equal(apply_text(t, example, true), 0);
	read_stored(t, &b);
	assert_string_equal(a.secret_hash, b.secret_hash);
	assert_int_equal(a.client_created_at, b.client_created_at);
	assert_string_equal(a.user_id, b.user_id);
	assert_string_equal(a.password_hash, b.password_hash);
	stored_clear(&a);
	stored_clear(&b);
}

/* What a changed file changes replaces what is stored (a client the CLI
 * added included); the user keeps its id, and its browser sessions end
 * with the old password. */
static void test_replace(void **state)
{
	struct fx_test *t = *state;
	struct store_client c;
	struct stored a, b;
	struct store_client cli = {
		.client_id = "svc-a", .name = "from the CLI",
		.secret_hash = "$lk-hmac-sha256$x$y",
		.grant_types = "client_credentials", .scopes = "write",
		.redirect_uris = "", .created_at = 1000, .updated_at = 1000,
		.on_refresh = "hook",
	};
	assert_int_equal(store_client_add(t->st, &cli), STORE_OK);
	assert_int_equal(apply_text(t, example, true), 0);
	get_client(t, "svc-a", &c);
	assert_string_equal(c.name, "svc-a");
	assert_string_equal(c.scopes, "read");
	assert_string_equal(c.on_refresh, "revoke");
	assert_int_equal(c.created_at, 1000);
	assert_int_equal(secret_verify(c.secret_hash, "svc-a-secret"),
	                 SECRET_OK);
	store_client_clear(&c);

	read_stored(t, &a);
	struct store_session se = {
		.session_hash = "feed", .user_id = a.user_id, .auth_time = 1,
		.expires_at = INT64_MAX / 2,
	};
	assert_int_equal(store_session_add(t->st, &se), STORE_OK);
	char *text = strdup(example);
	assert_non_null(text);
	strstr(text, "dave-password-1")[14] = '2';
	assert_int_equal(apply_text(t, text, true), 0);
	free(text);
	read_stored(t, &b);
	assert_string_equal(a.user_id, b.user_id);
	assert_string_not_equal(a.password_hash, b.password_hash);
	assert_int_equal(secret_verify(b.password_hash, "dave-password-2"),
	                 SECRET_OK);
	struct store_session got = {0};
	assert_int_equal(store_session_get(t->st, "feed", 2, &got),
	                 STORE_NOT_FOUND);
	store_session_clear(&got);
	stored_clear(&a);
	stored_clear(&b);
}

/* Without fast_hash, secrets and passwords get Argon2id as the CLI gives
 * a caller-chosen secret; switching modes rehashes. */
static void test_slow_hash(void **state)
{
	struct fx_test *t = *state;
	struct stored a, b;
	assert_int_equal(apply_text(t, example, false), 0);
	read_stored(t, &a);
	assert_prefix(a.secret_hash, SLOW);
	assert_prefix(a.password_hash, SLOW);
	assert_int_equal(secret_verify(a.secret_hash, "svc-a-secret"),
	                 SECRET_OK);
	assert_int_equal(apply_text(t, example, true), 0);
	read_stored(t, &b);
	assert_prefix(b.secret_hash, FAST);
	assert_prefix(b.password_hash, FAST);
	stored_clear(&a);
	stored_clear(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_example, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_files, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_bad_file_writes_nothing,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_twice, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_hash, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
