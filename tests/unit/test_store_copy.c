/*
 * test_store_copy.c: store_copy (storage/copy.c, copy_catalog.c and each backend's copy
 * table) between two stores of one backend, on SQLite and, when
 * LK_TEST_PG is set, on PostgreSQL (ut_run_backends): every catalogue
 * table counted and copied, a rotation's insertion order kept where key
 * order differs, hashes copied as they are, a destination that is not
 * empty or not migrated refused with nothing written. The copy between
 * the two backends, through the CLI, is tests/e2e/test_copy.py's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"
#include "unit_util.h"

#define HASH "$lk-hmac-sha256$c2FsdHNhbHRzYWx0$ZGlnZXN0"
#define NOW 1000000

/* A second store of the fixture's backend: dir/dst.db, or a new
 * PostgreSQL database (*pg_db its name, to drop). migrate: apply the
 * migrations, as `latchkey copy` does to its destination. */
static struct store *second(struct ut_store_fx *f, char **pg_db,
                            bool migrate)
{
	char *target = *ut_pg_mode() ? ut_pg_create(pg_db)
	                             : ut_path(f->dir, "dst.db");
	struct store *s = NULL;
	char err[256] = "";
	if (migrate) {
		s = ut_store_open_target(target);
	} else {
		assert_int_equal(store_open(target, &s, err, sizeof(err)),
		                 STORE_OK);
	}
	free(target);
	return s;
}

static void drop_second(struct store *s, char *pg_db)
{
	store_close(s);
	if (pg_db != NULL)
		ut_pg_drop(pg_db);
	free(pg_db);
}

/* One access token with a refresh token issued with it, at NOW, retiring
 * retire (NULL: a new family). */
static void issue(struct store *s, const char *jti, const char *hash,
                  const char *retire)
{
	struct store_token at = {
	    .jti = (char *)jti, .client_id = (char *)"c1",
	    .subject = (char *)"u-1", .scope = (char *)"read",
	    .kid = (char *)"kid-1", .issued_at = NOW,
	    .expires_at = NOW + 3600, .family_id = (char *)"fam-1",
	};
	struct store_refresh rt = {
	    .token_hash = (char *)hash, .family_id = (char *)"fam-1",
	    .client_id = (char *)"c1", .subject = (char *)"u-1",
	    .username = (char *)"alice", .scope = (char *)"read",
	    .access_jti = (char *)jti, .issued_at = NOW,
	    .expires_at = NOW + 86400,
	};
	struct store_issue is = {.now = NOW, .retire_hash = retire,
	                         .access = &at, .refresh = &rt};
	assert_int_equal(ut_issue(s, &is), STORE_OK);
}

/* A row in every catalogue table; rotations in an insertion order that
 * is not the key order (hc, ha, hb). */
static void fill(struct store *s)
{
	struct store_client c = {
	    .client_id = (char *)"c1", .name = (char *)"tab\there\nnl \\",
	    .secret_hash = (char *)HASH,
	    .grant_types = (char *)"authorization_code refresh_token",
	    .scopes = (char *)"read", .redirect_uris = (char *)"https://a/cb",
	    .access_token_ttl = 600, .created_at = 1, .updated_at = 2,
	    .issue_refresh_token = STORE_ON, .audiences = (char *)"api",
	};
	assert_int_equal(store_client_add(s, &c), STORE_OK);
	struct store_user u = {
	    .user_id = (char *)"u-1", .username = (char *)"alice",
	    .password_hash = (char *)"$argon2id$x", .created_at = 1,
	    .updated_at = 1,
	};
	assert_int_equal(store_user_add(s, &u), STORE_OK);
	struct store_key k = {
	    .kid = (char *)"kid-1", .alg = (char *)"ES256",
	    .private_pem = (char *)"-----BEGIN PRIVATE KEY-----\n...",
	    .created_at = 1,
	};
	assert_int_equal(store_key_add_current(s, &k), STORE_OK);
	issue(s, "j1", "hc", NULL);
	issue(s, "j2", "ha", "hc");
	issue(s, "j3", "hb", "ha");
	struct store_code code = {
	    .code_hash = (char *)"code-1", .client_id = (char *)"c1",
	    .subject = (char *)"u-1", .username = (char *)"alice",
	    .scope = (char *)"read", .code_challenge = (char *)"ch",
	    .code_challenge_method = (char *)"S256", .issued_at = NOW,
	    .expires_at = NOW + 60,
	};
	assert_int_equal(store_code_add(s, &code), STORE_OK);
	struct store_session se = {.session_hash = (char *)"sess-1",
	                           .user_id = (char *)"u-1", .auth_time = NOW,
	                           .expires_at = NOW + 3600};
	assert_int_equal(store_session_add(s, &se), STORE_OK);
	struct store_consent co = {.user_id = (char *)"u-1",
	                           .client_id = (char *)"c1",
	                           .scope = (char *)"read", .granted_at = NOW,
	                           .updated_at = NOW};
	assert_int_equal(store_consent_put(s, &co), STORE_OK);
	struct store_audit e = {.at = NOW, .actor = (char *)"cli:tab\there",
	                        .action = (char *)"client.add",
	                        .object = (char *)"client:c1",
	                        .changes = (char *)"{\"name\":{\"old\":null}}"};
	assert_int_equal(store_audit_add(s, &e), STORE_OK);
	assert_int_equal(store_jti_use(s, "jti-hash", NOW + 60, NOW), STORE_OK);
	struct store_device d = {
	    .device_code_hash = (char *)"dev-1", .user_code_hash = (char *)"uc-1",
	    .client_id = (char *)"c1", .scope = (char *)"read",
	    .issued_at = NOW, .expires_at = NOW + 600, .poll_interval = 5,
	};
	assert_int_equal(store_device_add(s, &d), STORE_OK);
	struct store_device dec = {
	    .approved = true, .user_id = (char *)"u-1",
	    .username = (char *)"alice", .auth_time = NOW, .sid = (char *)"s1",
	    .amr = (char *)"pwd",
	};
	assert_int_equal(store_device_decide(s, "uc-1", NOW, &dec), STORE_OK);
	assert_int_equal(store_device_poll(s, "dev-1", 0, NOW, 10), STORE_OK);
	struct store_issuer is = {
	    .issuer = (char *)"https://k8s.example", .client_id = (char *)"c1",
	    .jwks = (char *)"{\"keys\":[]}", .audience = (char *)"lk",
	    .created_at = NOW,
	};
	assert_int_equal(store_issuer_add(s, &is), STORE_OK);
	struct store_resource res = {
	    .resource = (char *)"https://api.example", .audience = (char *)"api",
	    .scopes = (char *)"read write", .access_token_ttl = 300,
	    .created_at = NOW,
	};
	assert_int_equal(store_resource_add(s, &res), STORE_OK);
}

struct hashes {
	char got[8][8];
	int n;
};

static int collect(const struct store_refresh *r, void *arg)
{
	struct hashes *h = arg;
	if (h->n < 8)
		snprintf(h->got[h->n++], sizeof(h->got[0]), "%s", r->token_hash);
	return 0;
}

static void test_copy_everything(void **state)
{
	struct ut_store_fx *f = *state;
	char *pg_db = NULL, err[512] = "";
	fill(f->s);
	struct store *dst = second(f, &pg_db, true);
	int64_t *n = calloc(store_copy_ntables, sizeof(*n));
	assert_non_null(n);
	assert_int_equal(store_copy(f->s, dst, n, err, sizeof(err)), STORE_OK);
	for (size_t i = 0; i < store_copy_ntables; i++) {
		const char *t = store_copy_tables[i].name;
		int64_t want = strcmp(t, "access_tokens") == 0 ||
		                       strcmp(t, "refresh_tokens") == 0
		                   ? 3
		                   : 1;
		if (n[i] != want)
			fail_msg("%s: %lld rows, not %lld", t, (long long)n[i],
			         (long long)want);
	}
	/* A used assertion id stays used after the move. */
	assert_int_equal(store_jti_use(dst, "jti-hash", NOW + 60, NOW),
	                 STORE_CONFLICT);
	/* The hash and the awkward name arrive as they left. */
	struct store_client c = {0};
	assert_int_equal(store_client_get(dst, "c1", &c), STORE_OK);
	assert_string_equal(c.secret_hash, HASH);
	assert_string_equal(c.name, "tab\there\nnl \\");
	assert_int_equal(c.access_token_ttl, 600);
	assert_int_equal(c.issue_refresh_token, STORE_ON);
	assert_null(c.on_refresh);
	store_client_clear(&c);
	/* Rotations within one second keep their order. */
	struct store_refresh_filter rf = {.family_id = "fam-1"};
	struct hashes h = {0};
	assert_int_equal(store_refresh_list(dst, &rf, collect, &h), STORE_OK);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.got[0], "hc");
	assert_string_equal(h.got[1], "ha");
	assert_string_equal(h.got[2], "hb");
	/* The retired token is still retired: presenting it is reuse. */
	struct store_refresh r = {0};
	assert_int_equal(store_refresh_get(dst, "hc", &r), STORE_OK);
	assert_true(r.retired_at == NOW);
	store_refresh_clear(&r);
	/* The destination continues where the source stopped. */
	issue(dst, "j4", "hd", "hb");
	h.n = 0;
	assert_int_equal(store_refresh_list(dst, &rf, collect, &h), STORE_OK);
	assert_int_equal(h.n, 4);
	assert_string_equal(h.got[3], "hd");

	/* A second copy into it: refused, nothing written. */
	err[0] = '\0';
	assert_int_equal(store_copy(f->s, dst, n, err, sizeof(err)),
	                 STORE_CONFLICT);
	assert_non_null(strstr(err, "the destination is not empty: clients "
	                            "has 1 row(s)"));
	h.n = 0;
	assert_int_equal(store_refresh_list(dst, &rf, collect, &h), STORE_OK);
	assert_int_equal(h.n, 4);
	free(n);
	drop_second(dst, pg_db);
}

static void test_unmigrated_destination_refused(void **state)
{
	struct ut_store_fx *f = *state;
	char *pg_db = NULL, err[512] = "";
	fill(f->s);
	struct store *dst = second(f, &pg_db, false);
	int64_t *n = calloc(store_copy_ntables, sizeof(*n));
	assert_non_null(n);
	assert_int_equal(store_copy(f->s, dst, n, err, sizeof(err)),
	                 STORE_INVALID);
	assert_non_null(strstr(err, "the destination has schema version 0, "
	                            "older than"));
	/* Empty into empty: nothing to copy, every count 0. */
	int applied, schema;
	assert_int_equal(store_migrate(dst, &applied, &schema, err,
	                               sizeof(err)),
	                 STORE_OK);
	assert_int_equal(store_copy(dst, dst, n, err, sizeof(err)), STORE_OK);
	for (size_t i = 0; i < store_copy_ntables; i++)
		assert_int_equal(n[i], 0);
	free(n);
	drop_second(dst, pg_db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_copy_everything,
	                                    ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_unmigrated_destination_refused,
	                                    ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	};
	return ut_run_backends(tests);
}
