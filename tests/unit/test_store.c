/*
 * test_store.c: storage/ through store.h against a real SQLite file:
 * opening (mode 0600), clients, users, token records with their filters
 * and revocation, refresh-token records by client, subject and family,
 * revoking everything of one subject, authorization codes (redeemed
 * exactly once, in the transaction that issues the tokens), sessions,
 * consents, what removing a user or client takes along, purging, signing
 * keys and which of them stay published, per-thread connections under
 * concurrent writers, and every listing through a store_page (--limit,
 * --since and the count of what a limit left out).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "metrics.h"
#include "store.h"
#include "unit_util.h"

/* ---- builders ---------------------------------------------------------------- */

#define HASH "$lk-hmac-sha256$c2FsdHNhbHRzYWx0c2FsdA$" \
             "ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGk"

static struct store_client client(const char *id, int64_t at)
{
	return (struct store_client){
	    .client_id = (char *)id, .name = (char *)"Client",
	    .secret_hash = (char *)HASH, .is_public = false,
	    .grant_types = (char *)"client_credentials", .scopes = (char *)"a b",
	    .redirect_uris = (char *)"", .created_at = at, .updated_at = at,
	};
}

static struct store_key key(const char *kid, int64_t at)
{
	return (struct store_key){
	    .kid = (char *)kid, .alg = (char *)"ES256",
	    .private_pem = (char *)"-----BEGIN PRIVATE KEY-----\n...", .created_at = at,
	};
}

static struct store_token token(const char *jti, const char *client_id,
                                const char *kid, int64_t iat, int64_t exp)
{
	return (struct store_token){
	    .jti = (char *)jti, .client_id = (char *)client_id,
	    .subject = (char *)client_id, .scope = (char *)"a", .kid = (char *)kid,
	    .issued_at = iat, .expires_at = exp,
	};
}

/* Collects the first column (id, username, jti, kid) of a listing as one
 * space-separated string. */
struct collect {
	char buf[8192];
	int n;
	int stop_after; /* 0: never stop */
};

static int collect_add(struct collect *c, const char *s)
{
	size_t len = strlen(c->buf);
	snprintf(c->buf + len, sizeof(c->buf) - len, "%s%s", len ? " " : "", s);
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

static int on_client(const struct store_client *cl, void *arg)
{
	return collect_add(arg, cl->client_id);
}

static int on_user(const struct store_user *u, void *arg)
{
	return collect_add(arg, u->username);
}

static int on_token(const struct store_token *t, void *arg)
{
	return collect_add(arg, t->jti);
}

static int on_key(const struct store_key *k, void *arg)
{
	return collect_add(arg, k->kid);
}

static int on_refresh(const struct store_refresh *r, void *arg)
{
	return collect_add(arg, r->token_hash);
}

static const char *list_tokens(struct store *s, const char *client_id,
                               bool active_only, int64_t now,
                               struct collect *c)
{
	memset(c, 0, sizeof(*c));
	struct store_token_filter f = {
	    .client_id = client_id, .active_only = active_only, .now = now,
	};
	assert_int_equal(store_token_list(s, &f, on_token, c), STORE_OK);
	return c->buf;
}

/* Every filter field of both listings; zero means "all". */
struct filt {
	const char *client_id, *subject, *family_id;
	bool active_only;
	int64_t now;
};

static const char *list_tokens_by(struct store *s, struct filt w,
                                  struct collect *c)
{
	memset(c, 0, sizeof(*c));
	struct store_token_filter f = {
	    .client_id = w.client_id, .subject = w.subject,
	    .family_id = w.family_id, .active_only = w.active_only,
	    .now = w.now,
	};
	assert_int_equal(store_token_list(s, &f, on_token, c), STORE_OK);
	return c->buf;
}

static const char *list_refresh(struct store *s, struct filt w,
                                struct collect *c)
{
	memset(c, 0, sizeof(*c));
	struct store_refresh_filter f = {
	    .client_id = w.client_id, .subject = w.subject,
	    .family_id = w.family_id, .active_only = w.active_only,
	    .now = w.now,
	};
	assert_int_equal(store_refresh_list(s, &f, on_refresh, c), STORE_OK);
	return c->buf;
}

/* The keys, or the published ones at now with no grace for unrecorded
 * tokens (list_keys_grace gives one). */
static const char *list_keys_grace(struct store *s, bool published,
                                   int64_t now, int64_t grace,
                                   struct collect *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_key_list(s, published, now, grace, on_key, c),
	                 STORE_OK);
	return c->buf;
}

static const char *list_keys(struct store *s, bool published, int64_t now,
                             struct collect *c)
{
	return list_keys_grace(s, published, now, 0, c);
}

static struct store_key rsa_key(const char *kid, int64_t at)
{
	struct store_key k = key(kid, at);
	k.alg = (char *)"RS256";
	return k;
}

/* The current key of alg's kid, "" when it has none. */
static const char *current_kid(struct store *s, const char *alg, char *buf,
                               size_t len)
{
	struct store_key got = {0};
	enum store_rc rc = store_key_current(s, alg, &got);
	assert_true(rc == STORE_OK || rc == STORE_NOT_FOUND);
	snprintf(buf, len, "%s", rc == STORE_OK ? got.kid : "");
	if (rc == STORE_OK) {
		assert_string_equal(got.alg, alg);
		assert_int_equal(got.retired_at, 0);
	}
	store_key_clear(&got);
	return buf;
}

/* ---- open ---------------------------------------------------------------------- */

static void test_open_mode_and_schema(void **state)
{
	(void)state;
	char *dir = ut_tmpdir();
	char *path = ut_path(dir, "new.db");
	char err[256] = "";
	struct store *s = NULL;
	assert_int_equal(store_open(path, &s, err, sizeof(err)), STORE_OK);
	assert_non_null(s);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	int db = -1, bin = -1;
	assert_int_equal(store_schema_version(s, &db, &bin), STORE_OK);
	assert_int_equal(db, 0);
	assert_true(bin >= 1);
	int applied = -1, schema = -1;
	assert_int_equal(store_migrate(s, &applied, &schema, err, sizeof(err)),
	                 STORE_OK);
	assert_true(applied >= 1);
	assert_int_equal(schema, bin);
	assert_int_equal(store_schema_version(s, &db, &bin), STORE_OK);
	assert_int_equal(db, bin);

	/* A write creates the WAL file, which must be as private. */
	struct store_client c = client("c1", 1000);
	assert_int_equal(store_client_add(s, &c), STORE_OK);
	char *wal = ut_path(dir, "new.db-wal");
	if (stat(wal, &st) == 0)
		assert_int_equal(st.st_mode & 07777, 0600);
	free(wal);
	store_close(s);

	/* Durable: visible after reopening, through the "sqlite:" prefix. */
	char *target = NULL;
	assert_true(asprintf(&target, "sqlite:%s", path) > 0);
	assert_int_equal(store_open(target, &s, err, sizeof(err)), STORE_OK);
	struct store_client got = {0};
	assert_int_equal(store_client_get(s, "c1", &got), STORE_OK);
	assert_string_equal(got.client_id, "c1");
	store_client_clear(&got);
	store_close(s);
	free(target);
	free(path);
	ut_rmtree(dir);
	free(dir);
}

static void test_open_errors(void **state)
{
	(void)state;
	char *dir = ut_tmpdir();
	char err[256] = "";
	struct store *s = (struct store *)1;
	assert_int_equal(store_open("", &s, err, sizeof(err)), STORE_INVALID);
	assert_null(s);
	assert_true(err[0] != '\0');
	err[0] = '\0';
	assert_int_equal(store_open("mysql://db/x", &s, err, sizeof(err)),
	                 STORE_INVALID);
	assert_non_null(strstr(err, "mysql://db/x"));
	/* Almost a URI: refused, not made a file named after it. */
	err[0] = '\0';
	assert_int_equal(store_open("postgresql:/x?password=s3cret", &s, err,
	                            sizeof(err)), STORE_INVALID);
	assert_null(strstr(err, "s3cret"));
	/* A URI libpq cannot read; its password is not in the message. */
	err[0] = '\0';
	assert_int_equal(store_open("postgresql://u:s3cret@[::1/x", &s, err,
	                            sizeof(err)), STORE_INVALID);
	assert_null(s);
	assert_non_null(strstr(err, "postgresql://u:***@"));
	assert_null(strstr(err, "s3cret"));
	char *p = ut_path(dir, "no/such/dir.db");
	err[0] = '\0';
	assert_int_equal(store_open(p, &s, err, sizeof(err)), STORE_INVALID);
	assert_non_null(strstr(err, "no/such/dir.db"));
	free(p);
	/* A file that is not a database. */
	p = ut_write_file(dir, "text.db",
	                  "this is not an SQLite database, not even close......"
	                  "................................................\n");
	enum store_rc rc = store_open(p, &s, err, sizeof(err));
	if (rc == STORE_OK) {
		int applied, schema;
		rc = store_migrate(s, &applied, &schema, err, sizeof(err));
		store_close(s);
	}
	assert_int_equal(rc, STORE_INVALID);
	free(p);
	ut_rmtree(dir);
	free(dir);
	assert_string_equal(store_rc_str(STORE_CONFLICT),
	                    "already exists or still referenced");
	assert_string_equal(store_rc_str((enum store_rc)99), "unknown storage error");
}

/* ---- clients ------------------------------------------------------------------- */

static void test_client_crud(void **state)
{
	struct ut_store_fx *f = *state;
	struct store_client c = client("web", 1000);
	c.name = (char *)"Web app";
	c.redirect_uris = (char *)"https://a.example/cb https://b.example/cb";
	assert_int_equal(store_client_add(f->s, &c), STORE_OK);

	struct store_client got = {0};
	assert_int_equal(store_client_get(f->s, "web", &got), STORE_OK);
	assert_string_equal(got.client_id, "web");
	assert_string_equal(got.name, "Web app");
	assert_string_equal(got.secret_hash, HASH);
	assert_false(got.is_public);
	assert_string_equal(got.grant_types, "client_credentials");
	assert_string_equal(got.scopes, "a b");
	assert_string_equal(got.redirect_uris,
	                    "https://a.example/cb https://b.example/cb");
	assert_int_equal(got.access_token_ttl, 0);
	assert_int_equal(got.refresh_token_ttl, 0);
	assert_int_equal(got.created_at, 1000);
	assert_int_equal(got.updated_at, 1000);
	store_client_clear(&got);
	assert_null(got.client_id);

	/* Same id again. */
	c.name = (char *)"Other";
	assert_int_equal(store_client_add(f->s, &c), STORE_CONFLICT);
	assert_int_equal(store_client_get(f->s, "web", &got), STORE_OK);
	assert_string_equal(got.name, "Web app");
	store_client_clear(&got);

	/* Update replaces the mutable fields, not created_at. */
	struct store_client u = client("web", 5);
	u.name = (char *)"Renamed";
	u.scopes = (char *)"a";
	u.redirect_uris = NULL; /* stored as "" */
	u.access_token_ttl = 600;
	u.refresh_token_ttl = 86400;
	u.updated_at = 2000;
	assert_int_equal(store_client_update(f->s, &u), STORE_OK);
	assert_int_equal(store_client_get(f->s, "web", &got), STORE_OK);
	assert_string_equal(got.name, "Renamed");
	assert_string_equal(got.scopes, "a");
	assert_string_equal(got.redirect_uris, "");
	assert_int_equal(got.access_token_ttl, 600);
	assert_int_equal(got.refresh_token_ttl, 86400);
	assert_int_equal(got.created_at, 1000);
	assert_int_equal(got.updated_at, 2000);
	store_client_clear(&got);

	/* Missing ids. */
	assert_int_equal(store_client_get(f->s, "nope", &got), STORE_NOT_FOUND);
	struct store_client m = client("nope", 1);
	assert_int_equal(store_client_update(f->s, &m), STORE_NOT_FOUND);
	assert_int_equal(store_client_remove(f->s, "nope"), STORE_NOT_FOUND);

	assert_int_equal(store_client_remove(f->s, "web"), STORE_OK);
	assert_int_equal(store_client_get(f->s, "web", &got), STORE_NOT_FOUND);
	assert_int_equal(store_client_remove(f->s, "web"), STORE_NOT_FOUND);
}

static void test_client_public_and_constraints(void **state)
{
	struct ut_store_fx *f = *state;
	struct store_client c = client("spa", 1);
	c.is_public = true;
	c.secret_hash = NULL;
	c.scopes = NULL; /* stored as "" */
	assert_int_equal(store_client_add(f->s, &c), STORE_OK);
	struct store_client got = {0};
	assert_int_equal(store_client_get(f->s, "spa", &got), STORE_OK);
	assert_true(got.is_public);
	assert_null(got.secret_hash);
	assert_string_equal(got.scopes, "");
	store_client_clear(&got);
	/* A confidential client needs a secret hash. */
	c = client("conf", 1);
	c.secret_hash = NULL;
	assert_int_equal(store_client_add(f->s, &c), STORE_CONFLICT);
	assert_int_equal(store_client_get(f->s, "conf", &got), STORE_NOT_FOUND);
	/* Exotic but legal ids are data, not SQL. */
	c = client("x'; DROP TABLE clients; --", 1);
	assert_int_equal(store_client_add(f->s, &c), STORE_OK);
	assert_int_equal(store_client_get(f->s, "x'; DROP TABLE clients; --", &got),
	                 STORE_OK);
	store_client_clear(&got);
}

static void test_client_list(void **state)
{
	struct ut_store_fx *f = *state;
	static const char *const ids[] = {"charlie", "alpha", "bravo"};
	for (int i = 0; i < 3; i++) {
		struct store_client c = client(ids[i], i);
		assert_int_equal(store_client_add(f->s, &c), STORE_OK);
	}
	struct collect col = {0};
	assert_int_equal(store_client_list(f->s, on_client, &col), STORE_OK);
	assert_string_equal(col.buf, "alpha bravo charlie");
	assert_int_equal(col.n, 3);
	/* A non-zero return stops the listing. */
	memset(&col, 0, sizeof(col));
	col.stop_after = 2;
	assert_int_equal(store_client_list(f->s, on_client, &col), STORE_OK);
	assert_string_equal(col.buf, "alpha bravo");
	/* And the statement is reusable afterwards. */
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_client_list(f->s, on_client, &col), STORE_OK);
	assert_int_equal(col.n, 3);
}

/* ---- users ----------------------------------------------------------------------- */

static void test_user_crud(void **state)
{
	struct ut_store_fx *f = *state;
	struct store_user u = {
	    .user_id = (char *)"u-1", .username = (char *)"alice",
	    .password_hash = (char *)"$argon2id$v=19$m=64,t=1,p=1$x$y",
	    .created_at = 10, .updated_at = 10,
	};
	assert_int_equal(store_user_add(f->s, &u), STORE_OK);
	struct store_user got = {0};
	assert_int_equal(store_user_get(f->s, "alice", &got), STORE_OK);
	assert_string_equal(got.user_id, "u-1");
	assert_string_equal(got.username, "alice");
	assert_string_equal(got.password_hash, "$argon2id$v=19$m=64,t=1,p=1$x$y");
	assert_int_equal(got.created_at, 10);
	assert_int_equal(got.updated_at, 10);
	store_user_clear(&got);
	assert_null(got.username);

	/* Usernames are unique, and so are user ids. */
	struct store_user dup = u;
	dup.user_id = (char *)"u-2";
	assert_int_equal(store_user_add(f->s, &dup), STORE_CONFLICT);
	dup = u;
	dup.username = (char *)"bob";
	assert_int_equal(store_user_add(f->s, &dup), STORE_CONFLICT);
	/* Lookups are exact. */
	assert_int_equal(store_user_get(f->s, "Alice", &got), STORE_NOT_FOUND);

	assert_int_equal(store_user_set_password(f->s, "alice", "$argon2id$new", 20),
	                 STORE_OK);
	assert_int_equal(store_user_get(f->s, "alice", &got), STORE_OK);
	assert_string_equal(got.password_hash, "$argon2id$new");
	assert_int_equal(got.created_at, 10);
	assert_int_equal(got.updated_at, 20);
	store_user_clear(&got);
	assert_int_equal(store_user_set_password(f->s, "nobody", "$argon2id$x", 20),
	                 STORE_NOT_FOUND);
	/* Schema 9: claims, "{}" until set. */
	assert_int_equal(store_user_get(f->s, "alice", &got), STORE_OK);
	assert_string_equal(got.claims, "{}");
	store_user_clear(&got);
	assert_int_equal(store_user_set_claims(f->s, "alice",
	                                       "{\"email\":\"a@x\"}", 30),
	                 STORE_OK);
	assert_int_equal(store_user_get(f->s, "alice", &got), STORE_OK);
	assert_string_equal(got.claims, "{\"email\":\"a@x\"}");
	assert_int_equal(got.updated_at, 30);
	store_user_clear(&got);
	assert_int_equal(store_user_set_claims(f->s, "nobody", "{}", 30),
	                 STORE_NOT_FOUND);

	struct store_user b = {
	    .user_id = (char *)"u-0", .username = (char *)"bob",
	    .password_hash = (char *)"$argon2id$b", .created_at = 11,
	    .updated_at = 11,
	};
	assert_int_equal(store_user_add(f->s, &b), STORE_OK);
	struct collect col = {0};
	assert_int_equal(store_user_list(f->s, on_user, &col), STORE_OK);
	assert_string_equal(col.buf, "alice bob"); /* by username */

	assert_int_equal(store_user_remove(f->s, "alice"), STORE_OK);
	assert_int_equal(store_user_remove(f->s, "alice"), STORE_NOT_FOUND);
	assert_int_equal(store_user_get(f->s, "alice", &got), STORE_NOT_FOUND);
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_user_list(f->s, on_user, &col), STORE_OK);
	assert_string_equal(col.buf, "bob");
}

/* ---- tokens ---------------------------------------------------------------------- */

static void test_tokens(void **state)
{
	struct ut_store_fx *f = *state;
	struct store_client c1 = client("c1", 1), c2 = client("c2", 1);
	assert_int_equal(store_client_add(f->s, &c1), STORE_OK);
	assert_int_equal(store_client_add(f->s, &c2), STORE_OK);
	struct store_key k = key("kid-1", 1);
	assert_int_equal(store_key_add_current(f->s, &k), STORE_OK);

	struct store_token t1 = token("t1", "c1", "kid-1", 1000, 2000);
	struct store_token t2 = token("t2", "c1", "kid-1", 1001, 1500);
	struct store_token t3 = token("t3", "c2", "kid-1", 1002, 3000);
	t3.scope = NULL; /* stored as "" */
	assert_int_equal(ut_token_add(f->s, &t1), STORE_OK);
	assert_int_equal(ut_token_add(f->s, &t2), STORE_OK);
	assert_int_equal(ut_token_add(f->s, &t3), STORE_OK);

	struct store_token got = {0};
	assert_int_equal(store_token_get(f->s, "t1", &got), STORE_OK);
	assert_string_equal(got.jti, "t1");
	assert_string_equal(got.client_id, "c1");
	assert_string_equal(got.subject, "c1");
	assert_string_equal(got.scope, "a");
	assert_string_equal(got.kid, "kid-1");
	assert_int_equal(got.issued_at, 1000);
	assert_int_equal(got.expires_at, 2000);
	assert_int_equal(got.revoked_at, 0);
	store_token_clear(&got);
	assert_int_equal(store_token_get(f->s, "t3", &got), STORE_OK);
	assert_string_equal(got.scope, "");
	store_token_clear(&got);
	assert_int_equal(store_token_get(f->s, "nope", &got), STORE_NOT_FOUND);

	/* Duplicates and dangling references. */
	assert_int_equal(ut_token_add(f->s, &t1), STORE_CONFLICT);
	struct store_token bad = token("t9", "ghost", "kid-1", 1, 2);
	assert_int_equal(ut_token_add(f->s, &bad), STORE_STALE); /* no client */
	bad = token("t9", "c1", "no-such-kid", 1, 2);
	assert_int_equal(ut_token_add(f->s, &bad), STORE_CONFLICT);
	assert_int_equal(store_token_get(f->s, "t9", &got), STORE_NOT_FOUND);

	/* Filters: by client, and active at now (expires_at > now). */
	struct collect col;
	assert_string_equal(list_tokens(f->s, NULL, false, 0, &col), "t1 t2 t3");
	assert_string_equal(list_tokens(f->s, "c1", false, 0, &col), "t1 t2");
	assert_string_equal(list_tokens(f->s, "c2", false, 0, &col), "t3");
	assert_string_equal(list_tokens(f->s, "ghost", false, 0, &col), "");
	assert_string_equal(list_tokens(f->s, NULL, true, 1499, &col), "t1 t2 t3");
	assert_string_equal(list_tokens(f->s, NULL, true, 1500, &col), "t1 t3");
	assert_string_equal(list_tokens(f->s, "c1", true, 1600, &col), "t1");
	assert_string_equal(list_tokens(f->s, NULL, true, 2000, &col), "t3");
	assert_string_equal(list_tokens(f->s, NULL, true, 3000, &col), "");
	/* active_only=false ignores now. */
	assert_string_equal(list_tokens(f->s, NULL, false, 99999, &col),
	                    "t1 t2 t3");

	/* Revocation by jti: once. */
	int n = -1;
	assert_int_equal(store_token_revoke(f->s, "t1", 1700, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_token_revoke(f->s, "t1", 1800, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_token_revoke(f->s, "nope", 1800, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_token_get(f->s, "t1", &got), STORE_OK);
	assert_int_equal(got.revoked_at, 1700); /* the first revocation */
	store_token_clear(&got);
	assert_string_equal(list_tokens(f->s, NULL, true, 1750, &col), "t3");
	assert_string_equal(list_tokens(f->s, "c1", false, 0, &col), "t1 t2");

	/* By client: only the still unrevoked ones count. */
	assert_int_equal(store_token_revoke_client(f->s, "c1", 1900, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_token_get(f->s, "t2", &got), STORE_OK);
	assert_int_equal(got.revoked_at, 1900);
	store_token_clear(&got);
	assert_int_equal(store_token_get(f->s, "t1", &got), STORE_OK);
	assert_int_equal(got.revoked_at, 1700);
	store_token_clear(&got);
	assert_int_equal(store_token_revoke_client(f->s, "c1", 1950, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_token_revoke_client(f->s, "ghost", 1950, &n),
	                 STORE_OK);
	assert_int_equal(n, 0);
	assert_string_equal(list_tokens(f->s, "c2", true, 1950, &col), "t3");

	/* Removing a client removes its token records. */
	assert_int_equal(store_client_remove(f->s, "c1"), STORE_OK);
	assert_int_equal(store_token_get(f->s, "t1", &got), STORE_NOT_FOUND);
	assert_int_equal(store_token_get(f->s, "t2", &got), STORE_NOT_FOUND);
	assert_string_equal(list_tokens(f->s, NULL, false, 0, &col), "t3");
}

/* ---- refresh tokens, by family and by subject ------------------------------------ */

/* Writes one token response as the grants do: access token "at-<name>"
 * and refresh token "<name>" (its hash, here simply the name), redeeming
 * the authorization code `code` and retiring the refresh token `retire`
 * first (NULL: none). Returns what store_issue did. */
static enum store_rc issue_from(struct store *s, const char *name,
                                const char *family, const char *client_id,
                                const char *subject, int64_t iat, int64_t exp,
                                const char *retire, const char *code)
{
	char jti[32];
	snprintf(jti, sizeof(jti), "at-%s", name);
	struct store_token at = token(jti, client_id, "kid-1", iat, iat + 60);
	at.subject = (char *)subject;
	at.family_id = (char *)family;
	struct store_refresh rt = {
	    .token_hash = (char *)name, .family_id = (char *)family,
	    .client_id = (char *)client_id, .subject = (char *)subject,
	    .username = (char *)"someone", .scope = (char *)"a",
	    .access_jti = jti, .issued_at = iat, .expires_at = exp,
	};
	struct store_issue is = {
	    .now = iat, .retire_hash = retire, .consume_code_hash = code,
	    .access = &at, .refresh = &rt,
	};
	return ut_issue(s, &is);
}

static void issue(struct store *s, const char *name, const char *family,
                  const char *client_id, const char *subject, int64_t iat,
                  int64_t exp, const char *retire)
{
	assert_int_equal(issue_from(s, name, family, client_id, subject, iat,
	                            exp, retire, NULL), STORE_OK);
}

/* Three families: F1 of user u-1 at c1, rotated twice (a1 -> a2 -> a3);
 * F2 of user u-2 at c1; F3 of u-1 at c2, issued in the same second as a3.
 * Plus an access token of client c1 without refresh token (subject c1). */
static void three_families(struct store *s)
{
	struct store_client c1 = client("c1", 1), c2 = client("c2", 1);
	assert_int_equal(store_client_add(s, &c1), STORE_OK);
	assert_int_equal(store_client_add(s, &c2), STORE_OK);
	struct store_key k = key("kid-1", 1);
	assert_int_equal(store_key_add_current(s, &k), STORE_OK);
	issue(s, "a1", "F1", "c1", "u-1", 100, 1000, NULL);
	issue(s, "b1", "F2", "c1", "u-2", 150, 1000, NULL);
	issue(s, "a2", "F1", "c1", "u-1", 200, 1000, "a1");
	issue(s, "a3", "F1", "c1", "u-1", 300, 1000, "a2");
	issue(s, "c1r", "F3", "c2", "u-1", 300, 400, NULL);
	struct store_token cc = token("at-cc", "c1", "kid-1", 50, 5000);
	assert_int_equal(ut_token_add(s, &cc), STORE_OK);
}

static void test_refresh_list(void **state)
{
	struct ut_store_fx *f = *state;
	struct collect col;
	three_families(f->s);

	/* Oldest first; a3 and c1r share a second and keep insertion order. */
	assert_string_equal(list_refresh(f->s, (struct filt){0}, &col),
	                    "a1 b1 a2 a3 c1r");
	assert_string_equal(list_refresh(f->s, (struct filt){.client_id = "c1"},
	                                 &col), "a1 b1 a2 a3");
	assert_string_equal(list_refresh(f->s, (struct filt){.subject = "u-1"},
	                                 &col), "a1 a2 a3 c1r");
	assert_string_equal(list_refresh(f->s, (struct filt){.family_id = "F1"},
	                                 &col), "a1 a2 a3");
	assert_string_equal(list_refresh(f->s, (struct filt){
	                        .client_id = "c2", .subject = "u-1"}, &col),
	                    "c1r");
	assert_string_equal(list_refresh(f->s, (struct filt){
	                        .client_id = "c2", .family_id = "F1"}, &col),
	                    "");
	assert_string_equal(list_refresh(f->s, (struct filt){.subject = "nobody"},
	                                 &col), "");

	/* Active: neither rotated out nor revoked nor expired at now. */
	assert_string_equal(list_refresh(f->s, (struct filt){
	                        .active_only = true, .now = 350}, &col),
	                    "b1 a3 c1r");
	assert_string_equal(list_refresh(f->s, (struct filt){
	                        .active_only = true, .now = 400}, &col),
	                    "b1 a3");
	int n = -1;
	assert_int_equal(store_family_revoke(f->s, "F2", 360, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list_refresh(f->s, (struct filt){
	                        .active_only = true, .now = 400}, &col), "a3");
	assert_string_equal(list_refresh(f->s, (struct filt){
	                        .active_only = true, .now = 1000}, &col), "");
	/* active_only=false ignores now. */
	assert_string_equal(list_refresh(f->s, (struct filt){.now = 99999},
	                                 &col), "a1 b1 a2 a3 c1r");

	/* The record, field by field. */
	struct store_refresh got = {0};
	assert_int_equal(store_refresh_get(f->s, "a2", &got), STORE_OK);
	assert_string_equal(got.family_id, "F1");
	assert_string_equal(got.client_id, "c1");
	assert_string_equal(got.subject, "u-1");
	assert_string_equal(got.username, "someone");
	assert_string_equal(got.access_jti, "at-a2");
	assert_int_equal(got.issued_at, 200);
	assert_int_equal(got.expires_at, 1000);
	assert_int_equal(got.retired_at, 300);
	assert_int_equal(got.revoked_at, 0);
	store_refresh_clear(&got);

	/* A non-zero return stops the listing; the statement is reusable. */
	memset(&col, 0, sizeof(col));
	col.stop_after = 1;
	struct store_refresh_filter all = {.client_id = NULL};
	assert_int_equal(store_refresh_list(f->s, &all, on_refresh, &col),
	                 STORE_OK);
	assert_string_equal(col.buf, "a1");
	assert_string_equal(list_refresh(f->s, (struct filt){0}, &col),
	                    "a1 b1 a2 a3 c1r");
}

static void test_token_list_by_subject_and_family(void **state)
{
	struct ut_store_fx *f = *state;
	struct collect col;
	three_families(f->s);
	assert_string_equal(list_tokens_by(f->s, (struct filt){0}, &col),
	                    "at-cc at-a1 at-b1 at-a2 at-a3 at-c1r");
	assert_string_equal(list_tokens_by(f->s, (struct filt){.subject = "u-1"},
	                                   &col), "at-a1 at-a2 at-a3 at-c1r");
	assert_string_equal(list_tokens_by(f->s, (struct filt){.family_id = "F1"},
	                                   &col), "at-a1 at-a2 at-a3");
	assert_string_equal(list_tokens_by(f->s, (struct filt){
	                        .client_id = "c1", .subject = "u-1"}, &col),
	                    "at-a1 at-a2 at-a3");
	assert_string_equal(list_tokens_by(f->s, (struct filt){
	                        .subject = "u-2", .family_id = "F1"}, &col),
	                    "");
	/* Access tokens live 60 s here. */
	assert_string_equal(list_tokens_by(f->s, (struct filt){
	                        .subject = "u-1", .active_only = true,
	                        .now = 300}, &col), "at-a3 at-c1r");
	struct store_token got = {0};
	assert_int_equal(store_token_get(f->s, "at-a3", &got), STORE_OK);
	assert_string_equal(got.family_id, "F1");
	store_token_clear(&got);
	assert_int_equal(store_token_get(f->s, "at-cc", &got), STORE_OK);
	assert_null(got.family_id);
	store_token_clear(&got);
}

static int64_t revoked_rt(struct store *s, const char *hash)
{
	struct store_refresh r = {0};
	assert_int_equal(store_refresh_get(s, hash, &r), STORE_OK);
	int64_t at = r.revoked_at;
	store_refresh_clear(&r);
	return at;
}

static int64_t revoked_at(struct store *s, const char *jti)
{
	struct store_token t = {0};
	assert_int_equal(store_token_get(s, jti, &t), STORE_OK);
	int64_t at = t.revoked_at;
	store_token_clear(&t);
	return at;
}

static void test_subject_revoke(void **state)
{
	struct ut_store_fx *f = *state;
	struct collect col;
	three_families(f->s);
	/* One of u-1's access tokens was revoked before: it keeps its time. */
	int n = -1;
	assert_int_equal(store_token_revoke(f->s, "at-a1", 310, &n), STORE_OK);
	assert_int_equal(n, 1);

	/* u-1: 4 refresh tokens (rotated ones too) + 3 unrevoked access. */
	assert_int_equal(store_subject_revoke(f->s, "u-1", 320, &n), STORE_OK);
	assert_int_equal(n, 7);
	static const char *const rts[] = {"a1", "a2", "a3", "c1r"};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(revoked_rt(f->s, rts[i]), 320);
	assert_int_equal(revoked_at(f->s, "at-a1"), 310);
	assert_int_equal(revoked_at(f->s, "at-a2"), 320);
	assert_int_equal(revoked_at(f->s, "at-c1r"), 320);

	/* Other subjects are untouched: the user u-2 and the client c1. */
	assert_int_equal(revoked_rt(f->s, "b1"), 0);
	assert_int_equal(revoked_at(f->s, "at-b1"), 0);
	assert_int_equal(revoked_at(f->s, "at-cc"), 0);
	assert_string_equal(list_refresh(f->s, (struct filt){
	                        .active_only = true, .now = 330}, &col), "b1");
	assert_string_equal(list_tokens_by(f->s, (struct filt){
	                        .subject = "u-1", .active_only = true,
	                        .now = 330}, &col), "");

	/* Idempotent: nothing is left to change, and the times stay. */
	assert_int_equal(store_subject_revoke(f->s, "u-1", 999, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(revoked_rt(f->s, "a3"), 320);
	assert_int_equal(store_subject_revoke(f->s, "nobody", 999, &n),
	                 STORE_OK);
	assert_int_equal(n, 0);
	/* count may be NULL. */
	assert_int_equal(store_subject_revoke(f->s, "u-2", 400, NULL), STORE_OK);
	assert_int_equal(revoked_rt(f->s, "b1"), 400);
	assert_int_equal(revoked_at(f->s, "at-b1"), 400);
	assert_int_equal(revoked_at(f->s, "at-cc"), 0);
}

/* ---- authorization codes, sessions, consents (version 4) ------------------------ */

static void add_user(struct store *s, const char *user_id, const char *name)
{
	struct store_user u = {
	    .user_id = (char *)user_id, .username = (char *)name,
	    .password_hash = (char *)"$argon2id$x", .created_at = 1,
	    .updated_at = 1,
	};
	assert_int_equal(store_user_add(s, &u), STORE_OK);
}

/* A code of user u-1 ("alice") at client c1, alive until exp. */
static struct store_code code(const char *hash, int64_t iat, int64_t exp)
{
	return (struct store_code){
	    .code_hash = (char *)hash, .client_id = (char *)"c1",
	    .subject = (char *)"u-1", .username = (char *)"alice",
	    .redirect_uri = (char *)"https://app.example/cb",
	    .scope = (char *)"a b", .code_challenge = (char *)"E9Melhoa2Owv",
	    .code_challenge_method = (char *)"S256", .issued_at = iat,
	    .expires_at = exp,
	};
}

/* Clients c1 and c2, users u-1 (alice) and u-2 (bob), key kid-1. */
static void code_world(struct store *s)
{
	struct store_client c1 = client("c1", 1), c2 = client("c2", 1);
	assert_int_equal(store_client_add(s, &c1), STORE_OK);
	assert_int_equal(store_client_add(s, &c2), STORE_OK);
	struct store_key k = key("kid-1", 1);
	assert_int_equal(store_key_add_current(s, &k), STORE_OK);
	add_user(s, "u-1", "alice");
	add_user(s, "u-2", "bob");
}

static struct store_code get_code(struct store *s, const char *hash)
{
	struct store_code c = {0};
	assert_int_equal(store_code_get(s, hash, &c), STORE_OK);
	return c;
}

/* code_world plus the code "h1" of alice at c1, alive from 100 to 160. */
static void code_world_h1(struct store *s)
{
	code_world(s);
	struct store_code c = code("h1", 100, 160);
	assert_int_equal(store_code_add(s, &c), STORE_OK);
}

/* The code's used_at and family_id are these (family NULL: none). */
static void assert_code_use(struct store *s, const char *hash,
                            int64_t used_at, const char *family)
{
	struct store_code c = get_code(s, hash);
	assert_int_equal(c.used_at, used_at);
	if (family == NULL)
		assert_null(c.family_id);
	else
		assert_string_equal(c.family_id, family);
	store_code_clear(&c);
}

/* Neither the access token "at-<name>" nor the refresh token "<name>" of
 * issue_from exists. */
static void assert_not_issued(struct store *s, const char *name)
{
	char jti[32];
	struct store_token t = {0};
	struct store_refresh r = {0};
	snprintf(jti, sizeof(jti), "at-%s", name);
	assert_int_equal(store_token_get(s, jti, &t), STORE_NOT_FOUND);
	assert_int_equal(store_refresh_get(s, name, &r), STORE_NOT_FOUND);
}

static void test_client_auto_approve_as(void **state)
{
	struct ut_store_fx *f = *state;
	struct store_client c = client("t", 1);
	struct store_client got = {0};
	assert_int_equal(store_client_add(f->s, &c), STORE_OK);
	assert_int_equal(store_client_get(f->s, "t", &got), STORE_OK);
	assert_null(got.auto_approve_as); /* the server's setting */
	store_client_clear(&got);

	/* "" (off for this client) is kept apart from NULL. */
	static const char *const values[] = {"", "alice", "not-a-user-yet"};
	for (size_t i = 0; i < 3; i++) {
		c.auto_approve_as = (char *)values[i];
		c.updated_at = 2 + (int64_t)i;
		assert_int_equal(store_client_update(f->s, &c), STORE_OK);
		assert_int_equal(store_client_get(f->s, "t", &got), STORE_OK);
		assert_non_null(got.auto_approve_as);
		assert_string_equal(got.auto_approve_as, values[i]);
		store_client_clear(&got);
	}
	c.auto_approve_as = NULL;
	assert_int_equal(store_client_update(f->s, &c), STORE_OK);
	assert_int_equal(store_client_get(f->s, "t", &got), STORE_OK);
	assert_null(got.auto_approve_as);
	store_client_clear(&got);

	struct store_client other = client("u", 1);
	other.auto_approve_as = (char *)"";
	assert_int_equal(store_client_add(f->s, &other), STORE_OK);
	assert_int_equal(store_client_get(f->s, "u", &got), STORE_OK);
	assert_string_equal(got.auto_approve_as, "");
	store_client_clear(&got);
}

/* Schema 5: a client's audiences ("" for none) and introspect flag. */
static void test_client_audiences_introspect(void **state)
{
	struct ut_store_fx *f = *state;
	struct store_client c = client("t", 1);
	struct store_client got = {0};
	assert_int_equal(store_client_add(f->s, &c), STORE_OK);
	assert_int_equal(store_client_get(f->s, "t", &got), STORE_OK);
	assert_string_equal(got.audiences, ""); /* NULL is stored as "" */
	assert_false(got.introspect);
	store_client_clear(&got);

	c.audiences = (char *)"https://a.example urn:b";
	c.introspect = true;
	assert_int_equal(store_client_update(f->s, &c), STORE_OK);
	assert_int_equal(store_client_get(f->s, "t", &got), STORE_OK);
	assert_string_equal(got.audiences, "https://a.example urn:b");
	assert_true(got.introspect);
	store_client_clear(&got);

	struct store_client other = client("u", 1);
	other.audiences = (char *)"api";
	other.introspect = true;
	assert_int_equal(store_client_add(f->s, &other), STORE_OK);
	assert_int_equal(store_client_get(f->s, "u", &got), STORE_OK);
	assert_string_equal(got.audiences, "api");
	assert_true(got.introspect);
	store_client_clear(&got);
	assert_null(got.audiences);
}

static void test_code_record(void **state)
{
	struct ut_store_fx *f = *state;
	code_world(f->s);
	struct store_code c = code("h1", 100, 160);
	assert_int_equal(store_code_add(f->s, &c), STORE_OK);
	struct store_code got = get_code(f->s, "h1");
	assert_string_equal(got.code_hash, "h1");
	assert_string_equal(got.client_id, "c1");
	assert_string_equal(got.subject, "u-1");
	assert_string_equal(got.username, "alice");
	assert_string_equal(got.redirect_uri, "https://app.example/cb");
	assert_string_equal(got.scope, "a b");
	assert_string_equal(got.code_challenge, "E9Melhoa2Owv");
	assert_string_equal(got.code_challenge_method, "S256");
	assert_int_equal(got.issued_at, 100);
	assert_int_equal(got.expires_at, 160);
	assert_int_equal(got.used_at, 0);
	assert_null(got.family_id);
	assert_null(got.resource);
	store_code_clear(&got);
	assert_null(got.code_hash);

	/* The resource of RFC 8707 (schema 5). */
	c = code("h4", 100, 160);
	c.resource = (char *)"https://api.example";
	assert_int_equal(store_code_add(f->s, &c), STORE_OK);
	got = get_code(f->s, "h4");
	assert_string_equal(got.resource, "https://api.example");
	store_code_clear(&got);

	/* Without redirect_uri, scope and PKCE. */
	c = code("h2", 100, 160);
	c.redirect_uri = NULL;
	c.scope = NULL; /* stored as "" */
	c.code_challenge = c.code_challenge_method = NULL;
	assert_int_equal(store_code_add(f->s, &c), STORE_OK);
	got = get_code(f->s, "h2");
	assert_null(got.redirect_uri);
	assert_string_equal(got.scope, "");
	assert_null(got.code_challenge);
	assert_null(got.code_challenge_method);
	store_code_clear(&got);

	/* Refused: a taken hash, an unknown client or user, a challenge
	 * without its method or the reverse, an unknown method. */
	c = code("h1", 100, 160);
	assert_int_equal(store_code_add(f->s, &c), STORE_CONFLICT);
	c = code("h3", 100, 160);
	c.client_id = (char *)"ghost";
	assert_int_equal(store_code_add(f->s, &c), STORE_CONFLICT);
	c = code("h3", 100, 160);
	c.subject = (char *)"u-ghost";
	assert_int_equal(store_code_add(f->s, &c), STORE_CONFLICT);
	c = code("h3", 100, 160);
	c.code_challenge_method = NULL;
	assert_int_equal(store_code_add(f->s, &c), STORE_CONFLICT);
	c = code("h3", 100, 160);
	c.code_challenge = NULL;
	assert_int_equal(store_code_add(f->s, &c), STORE_CONFLICT);
	c = code("h3", 100, 160);
	c.code_challenge_method = (char *)"S512";
	assert_int_equal(store_code_add(f->s, &c), STORE_CONFLICT);
	assert_int_equal(store_code_get(f->s, "h3", &got), STORE_NOT_FOUND);
	assert_int_equal(store_code_get(f->s, "nope", &got), STORE_NOT_FOUND);
}

/* RFC 6749 section 4.1.2: a code is redeemed at most once. The loser
 * writes nothing: no access token, no refresh token, the code untouched. */
static void test_issue_consumes_code_once(void **state)
{
	struct ut_store_fx *f = *state;
	code_world_h1(f->s);

	assert_int_equal(issue_from(f->s, "r1", "F1", "c1", "u-1", 110, 1000,
	                            NULL, "h1"), STORE_OK);
	assert_code_use(f->s, "h1", 110, "F1");
	struct store_token t = {0};
	assert_int_equal(store_token_get(f->s, "at-r1", &t), STORE_OK);
	store_token_clear(&t);

	assert_int_equal(issue_from(f->s, "r2", "F2", "c1", "u-1", 111, 1000,
	                            NULL, "h1"), STORE_CONFLICT);
	assert_not_issued(f->s, "r2");
	assert_code_use(f->s, "h1", 110, "F1");

	/* An unknown code is no better. */
	assert_int_equal(issue_from(f->s, "r3", "F3", "c1", "u-1", 111, 1000,
	                            NULL, "nope"), STORE_CONFLICT);
	assert_not_issued(f->s, "r3");
}

/* DECISIONS, "Removed clients and rotated secrets": every change of a
 * client bumps its secret_version, and an issue for the version it
 * authenticated against writes nothing once the client changed or went,
 * not even the code it would have consumed. */
static void test_issue_checks_client_version(void **state)
{
	struct ut_store_fx *f = *state;
	code_world_h1(f->s);
	struct store_client c = {0};
	assert_int_equal(store_client_get(f->s, "c1", &c), STORE_OK);
	int64_t v0 = c.secret_version;
	/* Unchanged values: any update bumps the version. */
	assert_int_equal(store_client_update(f->s, &c), STORE_OK);
	store_client_clear(&c);
	assert_int_equal(store_client_get(f->s, "c1", &c), STORE_OK);
	assert_int_equal(c.secret_version, v0 + 1);

	struct store_token at = token("at-v1", "c1", "kid-1", 110, 170);
	at.subject = (char *)"u-1";
	at.family_id = (char *)"F1";
	struct store_issue is = {
	    .now = 110, .consume_code_hash = "h1", .client_version = v0,
	    .access = &at,
	};
	assert_int_equal(store_issue(f->s, &is), STORE_STALE);
	struct store_token t = {0};
	assert_int_equal(store_token_get(f->s, "at-v1", &t), STORE_NOT_FOUND);
	assert_code_use(f->s, "h1", 0, NULL); /* the code is still unused */

	/* The version it has now goes through. */
	is.client_version = c.secret_version;
	assert_int_equal(store_issue(f->s, &is), STORE_OK);
	assert_int_equal(store_token_get(f->s, "at-v1", &t), STORE_OK);
	store_token_clear(&t);
	store_client_clear(&c);

	/* A removed client: nothing, whatever the version; nor when it is
	 * added again under its id (its version starts anew, elsewhere). */
	struct store_token bt = token("at-v2", "c1", "kid-1", 120, 170);
	assert_int_equal(store_client_remove(f->s, "c1"), STORE_OK);
	assert_int_equal(store_client_remove(f->s, "c1"), STORE_NOT_FOUND);
	is = (struct store_issue){.now = 120, .client_version = v0 + 1,
	                          .access = &bt};
	assert_int_equal(store_issue(f->s, &is), STORE_STALE);
	assert_int_equal(store_token_get(f->s, "at-v2", &t), STORE_NOT_FOUND);
	struct store_client again = client("c1", 1);
	assert_int_equal(store_client_add(f->s, &again), STORE_OK);
	assert_int_equal(store_issue(f->s, &is), STORE_STALE);
	assert_int_equal(store_client_get(f->s, "c1", &c), STORE_OK);
	assert_true(c.secret_version != v0 + 1);
	store_client_clear(&c);
	/* An update of a client that is not there: not found. */
	again.client_id = (char *)"ghost";
	assert_int_equal(store_client_update(f->s, &again), STORE_NOT_FOUND);
}

/* The completion form (store_issue_submit): done runs exactly once, with
 * the issue's result, on the backend's writer thread (store.h, xIssue). */
struct done_count {
	atomic_int calls;
	enum store_rc rc;
};

static void count_done(enum store_rc rc, void *arg)
{
	struct done_count *d = arg;
	d->rc = rc;
	atomic_fetch_add(&d->calls, 1); /* last: the waiter reads rc after */
}

/* Until d's completion ran (the issue it counts may live on the stack). */
static void await_done(struct done_count *d)
{
	while (atomic_load(&d->calls) == 0)
		usleep(200);
}

static void test_issue_completion(void **state)
{
	struct ut_store_fx *f = *state;
	code_world_h1(f->s);
	struct store_token at = token("at-s1", "c1", "kid-1", 110, 170);
	at.subject = (char *)"u-1";
	at.family_id = (char *)"F1";
	struct store_issue is = {
	    .now = 110, .consume_code_hash = "h1", .access = &at,
	    .client_version = ut_client_version(f->s, "c1"),
	};
	struct done_count d = {0, STORE_IO};
	store_issue_submit(f->s, &is, count_done, &d);
	await_done(&d);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, STORE_OK);
	assert_code_use(f->s, "h1", 110, "F1");

	/* The same code again: the completion carries the lost
	 * compare-and-set, and nothing was written. */
	at.jti = (char *)"at-s2";
	d = (struct done_count){0, STORE_OK};
	store_issue_submit(f->s, &is, count_done, &d);
	await_done(&d);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, STORE_CONFLICT);
	struct store_token t = {0};
	assert_int_equal(store_token_get(f->s, "at-s2", &t), STORE_NOT_FOUND);
}

static void test_issue_expired_code(void **state)
{
	struct ut_store_fx *f = *state;
	code_world_h1(f->s);
	/* expires_at is the first second it no longer works. */
	assert_int_equal(issue_from(f->s, "r1", "F1", "c1", "u-1", 160, 1000,
	                            NULL, "h1"), STORE_CONFLICT);
	assert_not_issued(f->s, "r1");
	assert_code_use(f->s, "h1", 0, NULL);
	assert_int_equal(issue_from(f->s, "r1", "F1", "c1", "u-1", 159, 1000,
	                            NULL, "h1"), STORE_OK);
	assert_code_use(f->s, "h1", 159, "F1");
}

/* The code is consumed in the transaction that writes the tokens: when a
 * later step fails, the code stays unused. */
static void test_issue_rolls_back_code(void **state)
{
	struct ut_store_fx *f = *state;
	code_world_h1(f->s);
	/* Retiring an unknown refresh token fails after the code step. */
	assert_int_equal(issue_from(f->s, "r1", "F1", "c1", "u-1", 110, 1000,
	                            "no-such-rt", "h1"), STORE_CONFLICT);
	assert_not_issued(f->s, "r1");
	assert_code_use(f->s, "h1", 0, NULL);
	/* So does a jti that is taken. */
	struct store_token dup = token("at-r2", "c1", "kid-1", 1, 2);
	assert_int_equal(ut_token_add(f->s, &dup), STORE_OK);
	assert_int_equal(issue_from(f->s, "r2", "F2", "c1", "u-1", 110, 1000,
	                            NULL, "h1"), STORE_CONFLICT);
	assert_code_use(f->s, "h1", 0, NULL);

	/* Without a refresh token the family is that of the access token:
	 * none. */
	struct store_token at = token("at-plain", "c1", "kid-1", 120, 180);
	at.subject = (char *)"u-1";
	struct store_issue is = {
	    .now = 120, .consume_code_hash = "h1", .access = &at,
	};
	assert_int_equal(ut_issue(f->s, &is), STORE_OK);
	assert_code_use(f->s, "h1", 120, NULL);
}

/* ---- relinking without rotation ------------------------------------------ */

/* Writes the access token new_jti of family F1 and relinks the refresh
 * token hash to it, if hash still points at from_jti; revokes from_jti,
 * as on_refresh=revoke does. */
static enum store_rc relink(struct store *s, const char *hash,
                            const char *new_jti, const char *from_jti,
                            int64_t now)
{
	struct store_token at = token(new_jti, "c1", "kid-1", now, now + 60);
	at.subject = (char *)"u-1";
	at.family_id = (char *)"F1";
	struct store_issue is = {
	    .now = now, .relink_hash = hash, .relink_jti = new_jti,
	    .relink_from_jti = from_jti, .revoke_jti = from_jti,
	    .access = &at,
	};
	return ut_issue(s, &is);
}

static void assert_linked(struct store *s, const char *hash, const char *jti)
{
	struct store_refresh r = {0};
	assert_int_equal(store_refresh_get(s, hash, &r), STORE_OK);
	assert_string_equal(r.access_jti, jti);
	store_refresh_clear(&r);
}

static void assert_revoked_at(struct store *s, const char *jti, int64_t at)
{
	struct store_token t = {0};
	assert_int_equal(store_token_get(s, jti, &t), STORE_OK);
	assert_int_equal(t.revoked_at, at);
	store_token_clear(&t);
}

/* Issue 12 defect 6: a relink is a compare-and-set on the access token
 * its caller read. One that read a token since replaced writes nothing,
 * not even its revocation, so each relink revokes exactly the access
 * token it replaces and one access token stays live. */
static void test_issue_relink_compares(void **state)
{
	struct ut_store_fx *f = *state;
	struct store_token t = {0};
	three_families(f->s); /* a3: F1's live refresh token, with at-a3 */

	assert_int_equal(relink(f->s, "a3", "at-x1", "at-a3", 400), STORE_OK);
	assert_linked(f->s, "a3", "at-x1");
	assert_revoked_at(f->s, "at-a3", 400);
	/* A second refresh that also read at-a3 lost the race. */
	assert_int_equal(relink(f->s, "a3", "at-x2", "at-a3", 401),
	                 STORE_CONFLICT);
	assert_int_equal(store_token_get(f->s, "at-x2", &t), STORE_NOT_FOUND);
	assert_linked(f->s, "a3", "at-x1");
	assert_revoked_at(f->s, "at-x1", 0);
	/* NULL compares as "pointed at none", not as "any". */
	assert_int_equal(relink(f->s, "a3", "at-x2", NULL, 401), STORE_CONFLICT);
	assert_linked(f->s, "a3", "at-x1");
	/* Read again, it wins, and replaces what it read. */
	assert_int_equal(relink(f->s, "a3", "at-x2", "at-x1", 402), STORE_OK);
	assert_linked(f->s, "a3", "at-x2");
	assert_revoked_at(f->s, "at-x1", 402);
	assert_revoked_at(f->s, "at-x2", 0);
	/* The liveness conditions still hold: retired a2, expired c1r. */
	assert_int_equal(relink(f->s, "a2", "at-x3", "at-a2", 403),
	                 STORE_CONFLICT);
	assert_revoked_at(f->s, "at-a2", 0);
	assert_int_equal(relink(f->s, "c1r", "at-x3", "at-c1r", 403),
	                 STORE_CONFLICT);
	assert_int_equal(store_token_get(f->s, "at-x3", &t), STORE_NOT_FOUND);
}

#define RACERS 4
#define MAX_RACERS 24

struct racer {
	struct store *s;
	int id;
	bool races; /* for the code; otherwise it issues on its own */
	enum store_rc rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	char name[16], family[16];
	snprintf(name, sizeof(name), "race%d", r->id);
	snprintf(family, sizeof(family), "RF%d", r->id);
	r->rc = issue_from(r->s, name, family, "c1", "u-1", 110, 1000, NULL,
	                   r->races ? "h-race" : NULL);
	store_thread_end(r->s);
	return NULL;
}

/* n threads issue at once on connections of their own; those for which
 * races(i) holds redeem one code. Exactly one of them wins and its writes
 * all stand, the losers leave nothing, and every other issue commits. */
static void code_race(struct store *s, int n, bool (*races)(int))
{
	code_world(s);
	struct store_code c = code("h-race", 100, 160);
	assert_int_equal(store_code_add(s, &c), STORE_OK);
	pthread_t th[MAX_RACERS];
	struct racer r[MAX_RACERS];
	assert_true(n <= MAX_RACERS);
	int independent = 0;
	for (int i = 0; i < n; i++) {
		r[i] = (struct racer){s, i, races(i), STORE_IO};
		independent += !r[i].races;
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	int won = -1;
	for (int i = 0; i < n; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (!r[i].races) {
			assert_int_equal(r[i].rc, STORE_OK);
		} else if (r[i].rc == STORE_OK) {
			assert_int_equal(won, -1);
			won = i;
		} else {
			assert_int_equal(r[i].rc, STORE_CONFLICT);
		}
	}
	assert_true(won >= 0);
	char family[16];
	snprintf(family, sizeof(family), "RF%d", won);
	assert_code_use(s, "h-race", 110, family);
	struct collect col;
	list_refresh(s, (struct filt){0}, &col);
	/* the winner's refresh token and the independent ones' only */
	assert_int_equal(col.n, independent + 1);
}

static bool always(int i)
{
	(void)i;
	return true;
}

static bool even(int i)
{
	return i % 2 == 0;
}

/* Concurrent redemptions on separate connections: exactly one wins. */
static void test_issue_code_race(void **state)
{
	struct ut_store_fx *f = *state;
	code_race(f->s, RACERS, always);
}

/* Many threads at once, so that issues share commits (group commit, a
 * savepoint each): half race for one code, half issue on their own. */
static void test_issue_batches(void **state)
{
	struct ut_store_fx *f = *state;
	code_race(f->s, MAX_RACERS, even);
}

/* ---- group commit: issues that share one transaction ---------------------- */

/* The result of sql on a connection of the test's own; fails the test
 * when the statement fails. */
static PGresult *pg_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	return r;
}


/* What a grouped issue does: redeem the code h-race, rotate the refresh
 * token rt0, or issue on its own. */
enum grouped_kind { G_CODE, G_REFRESH, G_ALONE };

struct grouped {
	struct store *s;
	int id;
	enum grouped_kind kind;
	struct done_count d;
	const char *client; /* NULL: c1 */
	int64_t version;    /* the client's secret_version, read before */
};

static void *grouped_issue(void *arg)
{
	struct grouped *g = arg;
	char name[16], jti[20], family[16];
	snprintf(name, sizeof(name), "g%d", g->id);
	snprintf(jti, sizeof(jti), "at-%s", name);
	snprintf(family, sizeof(family), "GF%d", g->id);
	const char *client = g->client != NULL ? g->client : "c1";
	struct store_token at = token(jti, client, "kid-1", 110, 170);
	at.subject = (char *)"u-1";
	at.family_id = g->kind == G_REFRESH ? (char *)"F0" : family;
	struct store_refresh rt = {
	    .token_hash = name, .family_id = at.family_id,
	    .client_id = (char *)client, .subject = (char *)"u-1",
	    .username = (char *)"alice", .scope = (char *)"a",
	    .access_jti = jti, .issued_at = 110, .expires_at = 1000,
	};
	struct store_issue is = {
	    .now = 110, .access = &at, .refresh = &rt,
	    .consume_code_hash = g->kind == G_CODE ? "h-race" : NULL,
	    .retire_hash = g->kind == G_REFRESH ? "rt0" : NULL,
	    .client_version = g->version,
	};
	store_issue_submit(g->s, &is, count_done, &g->d);
	await_done(&g->d); /* is lives on this stack */
	store_thread_end(g->s);
	return NULL;
}

static unsigned long round_trips(void)
{
	size_t len;
	char *m = metrics_render(&len);
	const char *v = strstr(m, "\nlatchkey_db_round_trips_total ");
	assert_non_null(v);
	unsigned long n = strtoul(v + strlen("\nlatchkey_db_round_trips_total "),
	                          NULL, 10);
	free(m);
	return n;
}

/* On PostgreSQL, a second connection that holds client c1 FOR UPDATE: an
 * issue of c1 waits for it (its client check takes c1 FOR SHARE), so the
 * issues submitted meanwhile queue behind it and go as one group. NULL on
 * SQLite, which groups by itself while its writer is busy. */
static PGconn *hold_client(struct ut_store_fx *f, const char *client_id)
{
	if (f->pg_db == NULL)
		return NULL;
	char sql[100];
	snprintf(sql, sizeof(sql), "SELECT 1 FROM clients WHERE client_id="
	         "'%s' FOR UPDATE", client_id);
	PGconn *other = PQconnectdb(f->path);
	assert_int_equal(PQstatus(other), CONNECTION_OK);
	PQclear(pg_ok(other, "BEGIN"));
	PQclear(pg_ok(other, sql));
	return other;
}

/* Until a backend waits for a lock of the holder. */
static void await_lock_wait(struct ut_store_fx *f)
{
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity "
	         "WHERE datname='%s' AND wait_event_type='Lock'", f->pg_db);
	PGconn *watch = PQconnectdb(f->path);
	for (int waiting = 0; !waiting;) {
		PGresult *res = pg_ok(watch, sql);
		waiting = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (!waiting)
			usleep(2000);
	}
	PQfinish(watch);
}

#define GROUPED 24

/* Starts n grouped issues of kind(i): the first alone, then, once it
 * waits on the held client (PostgreSQL), the others, which queue behind
 * it and go as one group when the holder lets go. */
static void run_grouped(struct ut_store_fx *f, struct grouped *g, int n,
                        enum grouped_kind (*kind)(int), int64_t v1)
{
	pthread_t th[GROUPED];
	PGconn *other = hold_client(f, "c1");
	for (int i = 0; i < n; i++) {
		g[i] = (struct grouped){f->s, i, kind(i), {0, STORE_IO}, NULL,
		                        v1};
		assert_int_equal(pthread_create(&th[i], NULL, grouped_issue,
		                                &g[i]), 0);
		if (i == 0 && other != NULL)
			await_lock_wait(f);
	}
	if (other != NULL) {
		usleep(200000); /* the others reach the queue */
		PQclear(pg_ok(other, "COMMIT"));
		PQfinish(other);
	}
	for (int i = 0; i < n; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(g[i].d.calls, 1); /* each completion once */
	}
}

static enum grouped_kind by_thirds(int i)
{
	return (enum grouped_kind)(i % 3);
}

/* Issues that lose their compare-and-set inside a group (the code already
 * redeemed, the refresh token already rotated by an earlier issue of the
 * same transaction) are undone alone: exactly one redemption and one
 * rotation win, the losers write nothing, and every independent issue
 * commits. */
static void test_issue_group_races(void **state)
{
	struct ut_store_fx *f = *state;
	code_world(f->s);
	struct store_code c = code("h-race", 100, 160);
	assert_int_equal(store_code_add(f->s, &c), STORE_OK);
	issue(f->s, "rt0", "F0", "c1", "u-1", 100, 1000, NULL);
	struct grouped g[GROUPED];
	run_grouped(f, g, GROUPED, by_thirds, ut_client_version(f->s, "c1"));
	int won[3] = {-1, -1, -1};
	char name[16];
	for (int i = 0; i < GROUPED; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		if (g[i].kind == G_ALONE || g[i].d.rc == STORE_OK) {
			assert_int_equal(g[i].d.rc, STORE_OK);
			struct store_refresh r = {0};
			assert_int_equal(store_refresh_get(f->s, name, &r),
			                 STORE_OK);
			store_refresh_clear(&r);
			if (g[i].kind != G_ALONE) {
				assert_int_equal(won[g[i].kind], -1);
				won[g[i].kind] = i;
			}
		} else {
			assert_int_equal(g[i].d.rc, STORE_CONFLICT);
			assert_not_issued(f->s, name);
		}
	}
	assert_true(won[G_CODE] >= 0 && won[G_REFRESH] >= 0);
	snprintf(name, sizeof(name), "GF%d", won[G_CODE]);
	assert_code_use(f->s, "h-race", 110, name);
	struct store_refresh r = {0};
	assert_int_equal(store_refresh_get(f->s, "rt0", &r), STORE_OK);
	assert_int_equal(r.retired_at, 110);
	store_refresh_clear(&r);
	struct collect col;
	list_refresh(f->s, (struct filt){0}, &col);
	/* rt0, the two winners' and the independent ones' */
	assert_int_equal(col.n, 1 + 2 + GROUPED / 3);
}

static enum grouped_kind alone(int i)
{
	(void)i;
	return G_ALONE;
}

/* Queued issues share one transaction: on PostgreSQL one round trip
 * carries the whole group (plus, on a new connection, the statements'
 * prepares), where each issue alone costs one of its own. */
static void test_issue_group_round_trips(void **state)
{
	struct ut_store_fx *f = *state;
	code_world(f->s);
	struct grouped g[GROUPED];
	int64_t v1 = ut_client_version(f->s, "c1");
	unsigned long before = round_trips();
	run_grouped(f, g, GROUPED, alone, v1);
	unsigned long used = round_trips() - before;
	for (int i = 0; i < GROUPED; i++)
		assert_int_equal(g[i].d.rc, STORE_OK);
	struct collect col;
	list_refresh(f->s, (struct filt){0}, &col);
	assert_int_equal(col.n, GROUPED);
	if (f->pg_db != NULL) {
		/* the first alone (1, and its connection's 5 prepares), the
		 * group (1, and at most 5 prepares on another connection) */
		print_message("round trips for %d issues: %lu\n", GROUPED, used);
		assert_true(used <= 12);
	}
}

/* A group that loses its connection before COMMIT answered: every issue
 * of it is STORE_UNAVAILABLE (none OK, none a lost check), each
 * completion runs once, and nothing of the group was written. The group
 * is made to wait on client c1's row, and its backend is terminated while
 * it waits. */
static void test_pg_issue_group_unavailable(void **state)
{
	struct ut_store_fx *f = *state;
	if (f->pg_db == NULL)
		return;
	code_world(f->s);
	enum { N = 9 };
	struct grouped g[N];
	pthread_t th[N];
	int64_t v1 = ut_client_version(f->s, "c1");
	int64_t v2 = ut_client_version(f->s, "c2");
	PGconn *c1 = hold_client(f, "c1"), *c2 = hold_client(f, "c2");
	/* The first, of c2, leads alone and waits; the others queue. */
	for (int i = 0; i < N; i++) {
		g[i] = (struct grouped){f->s, i, G_ALONE, {0, STORE_IO},
		                        i == 0 ? "c2" : "c1", i == 0 ? v2 : v1};
		assert_int_equal(pthread_create(&th[i], NULL, grouped_issue,
		                                &g[i]), 0);
		if (i == 0)
			await_lock_wait(f);
	}
	usleep(200000);
	PQclear(pg_ok(c2, "COMMIT"));
	PQfinish(c2);
	assert_int_equal(pthread_join(th[0], NULL), 0);
	assert_int_equal(g[0].d.calls, 1);
	assert_int_equal(g[0].d.rc, STORE_OK);
	/* The group now waits on c1: end its backend. */
	await_lock_wait(f);
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM "
	         "pg_stat_activity WHERE datname='%s' AND "
	         "wait_event_type='Lock'", f->pg_db);
	PQclear(pg_ok(c1, sql));
	PQclear(pg_ok(c1, "COMMIT"));
	PQfinish(c1);
	char name[16];
	for (int i = 1; i < N; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(g[i].d.calls, 1);
		assert_int_equal(g[i].d.rc, STORE_UNAVAILABLE);
		snprintf(name, sizeof(name), "g%d", i);
		assert_not_issued(f->s, name);
	}
}

/* PostgreSQL under SERIALIZABLE, as distributed engines (CockroachDB)
 * run. A redemption that waits on a row another transaction holds gets
 * 40001 when that one commits; the backend runs it again, and it wins
 * (the other only touched the row). Without the retry it would be
 * STORE_BUSY. */
static void test_pg_serializable_retries(void **state)
{
	struct ut_store_fx *f = *state;
	if (f->pg_db == NULL)
		return; /* SQLite serializes writers itself */
	char sql[200];
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET "
	         "default_transaction_isolation TO 'serializable'", f->pg_db);
	ut_pg_admin_exec(sql);
	store_close(f->s); /* connections take the setting when they start */
	f->s = ut_store_open_target(f->path);
	code_world(f->s);
	struct store_code c = code("h-race", 100, 160);
	assert_int_equal(store_code_add(f->s, &c), STORE_OK);

	PGconn *other = PQconnectdb(f->path);
	assert_int_equal(PQstatus(other), CONNECTION_OK);
	PQclear(pg_ok(other, "BEGIN"));
	PQclear(pg_ok(other, "UPDATE authorization_codes SET scope=scope "
	                     "WHERE code_hash='h-race'"));
	struct racer r = {f->s, 0, true, STORE_IO};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, race, &r), 0);
	/* Until the redemption waits for the row (no time is asserted:
	 * only that it gets there). */
	await_lock_wait(f);
	PQclear(pg_ok(other, "COMMIT"));
	PQfinish(other);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(r.rc, STORE_OK);
	struct store_code got = {0};
	assert_int_equal(store_code_get(f->s, "h-race", &got), STORE_OK);
	assert_int_equal(got.used_at, 110);
	store_code_clear(&got);
}

/* The same under SERIALIZABLE for a group: its redemption waits on the
 * code's row, which another transaction holds and then commits, so the
 * group's statement fails with 40001. The whole group runs again, and
 * every issue of it commits (without the retry all would be
 * STORE_BUSY). */
static void test_pg_issue_group_retries(void **state)
{
	struct ut_store_fx *f = *state;
	if (f->pg_db == NULL)
		return;
	char sql[200];
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET "
	         "default_transaction_isolation TO 'serializable'", f->pg_db);
	ut_pg_admin_exec(sql);
	store_close(f->s);
	f->s = ut_store_open_target(f->path);
	code_world(f->s);
	struct store_code c = code("h-race", 100, 160);
	assert_int_equal(store_code_add(f->s, &c), STORE_OK);
	enum { N = 5 };
	struct grouped g[N];
	pthread_t th[N];
	int64_t v1 = ut_client_version(f->s, "c1");
	int64_t v2 = ut_client_version(f->s, "c2");
	PGconn *c2 = hold_client(f, "c2");
	PGconn *other = PQconnectdb(f->path);
	assert_int_equal(PQstatus(other), CONNECTION_OK);
	PQclear(pg_ok(other, "BEGIN"));
	PQclear(pg_ok(other, "UPDATE authorization_codes SET scope=scope "
	                     "WHERE code_hash='h-race'"));
	/* The first, of c2, leads alone and waits; the others queue: one
	 * redeems the code, the rest issue on their own. */
	for (int i = 0; i < N; i++) {
		g[i] = (struct grouped){f->s, i, i == 1 ? G_CODE : G_ALONE,
		                        {0, STORE_IO}, i == 0 ? "c2" : "c1",
		                        i == 0 ? v2 : v1};
		assert_int_equal(pthread_create(&th[i], NULL, grouped_issue,
		                                &g[i]), 0);
		if (i == 0)
			await_lock_wait(f);
	}
	usleep(200000);
	PQclear(pg_ok(c2, "COMMIT"));
	PQfinish(c2);
	assert_int_equal(pthread_join(th[0], NULL), 0);
	assert_int_equal(g[0].d.rc, STORE_OK);
	await_lock_wait(f); /* the group, on the code's row */
	PQclear(pg_ok(other, "COMMIT"));
	PQfinish(other);
	for (int i = 1; i < N; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(g[i].d.calls, 1);
		assert_int_equal(g[i].d.rc, STORE_OK);
	}
	assert_code_use(f->s, "h-race", 110, "GF1");
	struct collect col;
	list_refresh(f->s, (struct filt){0}, &col);
	assert_int_equal(col.n, N);
}

static void test_sessions(void **state)
{
	struct ut_store_fx *f = *state;
	code_world(f->s);
	struct store_session se = {
	    .session_hash = (char *)"s1", .user_id = (char *)"u-1",
	    .auth_time = 100, .expires_at = 200,
	};
	assert_int_equal(store_session_add(f->s, &se), STORE_OK);
	assert_int_equal(store_session_add(f->s, &se), STORE_CONFLICT);
	struct store_session bad = se;
	bad.session_hash = (char *)"s2";
	bad.user_id = (char *)"u-ghost";
	assert_int_equal(store_session_add(f->s, &bad), STORE_CONFLICT);

	struct store_session got = {0};
	assert_int_equal(store_session_get(f->s, "s1", 199, &got), STORE_OK);
	assert_string_equal(got.session_hash, "s1");
	assert_string_equal(got.user_id, "u-1");
	assert_int_equal(got.auth_time, 100);
	assert_int_equal(got.expires_at, 200);
	store_session_clear(&got);
	assert_null(got.user_id);
	/* Expired reads as unknown: the caller never compares times. */
	assert_int_equal(store_session_get(f->s, "s1", 200, &got),
	                 STORE_NOT_FOUND);
	assert_null(got.session_hash);
	assert_int_equal(store_session_get(f->s, "s2", 0, &got),
	                 STORE_NOT_FOUND);

}

static int on_session(const struct store_session *se, void *arg)
{
	char one[300];
	snprintf(one, sizeof(one), "%s:%s:%s:%lld", se->sid, se->username,
	         se->amr, (long long)se->auth_time);
	return collect_add(arg, one);
}

static const char *list_sessions(struct store *s, const char *user_id,
                                 int64_t now, struct collect *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_session_list(s, user_id, now, NULL, on_session,
	                                    c), STORE_OK);
	return c->buf;
}

/* Schema 9: a session's public id and amr, the listing, ending one by
 * sid, and revoking the families a session's logins made at one client. */
static void test_session_ids(void **state)
{
	struct ut_store_fx *f = *state;
	struct collect col;
	code_world(f->s);
	struct store_session a = {
	    .session_hash = (char *)"s1", .user_id = (char *)"u-1",
	    .auth_time = 100, .expires_at = 500, .sid = (char *)"SID-a",
	    .amr = (char *)"pwd",
	};
	struct store_session b = {
	    .session_hash = (char *)"s2", .user_id = (char *)"u-2",
	    .auth_time = 90, .expires_at = 300, .sid = (char *)"SID-b",
	};
	assert_int_equal(store_session_add(f->s, &a), STORE_OK);
	assert_int_equal(store_session_add(f->s, &b), STORE_OK);
	/* A sid is unique. */
	struct store_session dup = a;
	dup.session_hash = (char *)"s3";
	assert_int_equal(store_session_add(f->s, &dup), STORE_CONFLICT);

	struct store_session got = {0};
	assert_int_equal(store_session_get(f->s, "s1", 101, &got), STORE_OK);
	assert_string_equal(got.sid, "SID-a");
	assert_string_equal(got.amr, "pwd");
	store_session_clear(&got);
	/* amr defaults to a password login. */
	assert_int_equal(store_session_get(f->s, "s2", 101, &got), STORE_OK);
	assert_string_equal(got.amr, "pwd");
	store_session_clear(&got);

	assert_string_equal(list_sessions(f->s, NULL, 200, &col),
	                    "SID-b:bob:pwd:90 SID-a:alice:pwd:100");
	assert_string_equal(list_sessions(f->s, "u-1", 200, &col),
	                    "SID-a:alice:pwd:100");
	/* Expired sessions are not listed. */
	assert_string_equal(list_sessions(f->s, NULL, 300, &col),
	                    "SID-a:alice:pwd:100");

	int n = -1;
	assert_int_equal(store_session_end(f->s, "SID-a", &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_session_get(f->s, "s1", 101, &got),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_session_end(f->s, "SID-a", &n), STORE_OK);
	assert_int_equal(n, 0);

	/* Families from session SID-x: revoked with their access tokens,
	 * the rotated-out token of such a family included; others stay. */
	struct store_token at1 = token("at-x1", "c1", "kid-1", 100, 160);
	at1.subject = (char *)"u-1";
	at1.family_id = (char *)"FX";
	struct store_refresh rt1 = {
	    .token_hash = (char *)"x1", .family_id = (char *)"FX",
	    .client_id = (char *)"c1", .subject = (char *)"u-1",
	    .username = (char *)"alice", .scope = (char *)"openid",
	    .access_jti = (char *)"at-x1", .issued_at = 100,
	    .expires_at = 1000, .auth_time = 95, .sid = (char *)"SID-x",
	    .amr = (char *)"pwd",
	};
	struct store_issue is = {.now = 100, .access = &at1, .refresh = &rt1};
	assert_int_equal(ut_issue(f->s, &is), STORE_OK);
	struct store_refresh rg = {0};
	assert_int_equal(store_refresh_get(f->s, "x1", &rg), STORE_OK);
	assert_int_equal(rg.auth_time, 95);
	assert_string_equal(rg.sid, "SID-x");
	assert_string_equal(rg.amr, "pwd");
	store_refresh_clear(&rg);
	issue(f->s, "y1", "FY", "c1", "u-1", 110, 1000, NULL);
	/* The same session's family at another client: its own
	 * logout_revokes_refresh_tokens decides, so it stays. */
	struct store_token at2 = token("at-z1", "c2", "kid-1", 100, 160);
	at2.subject = (char *)"u-1";
	at2.family_id = (char *)"FZ";
	struct store_refresh rt2 = rt1;
	rt2.token_hash = (char *)"z1";
	rt2.family_id = (char *)"FZ";
	rt2.client_id = (char *)"c2";
	rt2.access_jti = (char *)"at-z1";
	is = (struct store_issue){.now = 100, .access = &at2, .refresh = &rt2};
	assert_int_equal(ut_issue(f->s, &is), STORE_OK);
	assert_int_equal(store_refresh_revoke_sid(f->s, "SID-x", "c1", 200,
	                                          &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(revoked_rt(f->s, "x1"), 200);
	assert_int_equal(revoked_at(f->s, "at-x1"), 200);
	assert_int_equal(revoked_rt(f->s, "y1"), 0);
	assert_int_equal(revoked_rt(f->s, "z1"), 0);
	assert_int_equal(revoked_at(f->s, "at-z1"), 0);
	/* A client with no family of the session: nothing. */
	assert_int_equal(store_refresh_revoke_sid(f->s, "SID-x", "c-none", 200,
	                                          &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_refresh_revoke_sid(f->s, "SID-x", "c2", 250,
	                                          &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(revoked_rt(f->s, "z1"), 250);
	assert_int_equal(revoked_at(f->s, "at-z1"), 250);
	assert_int_equal(revoked_rt(f->s, "x1"), 200);
	assert_int_equal(store_refresh_revoke_sid(f->s, "SID-none", "c1", 200,
	                                          &n), STORE_OK);
	assert_int_equal(n, 0);
}

static int on_consent(const struct store_consent *c, void *arg)
{
	char both[300];
	snprintf(both, sizeof(both), "%s:%s=%s", c->client_id, c->username,
	         c->scope);
	return collect_add(arg, both);
}

static const char *list_consents(struct store *s, const char *user_id,
                                 const char *client_id, struct collect *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_consent_list(s, user_id, client_id, on_consent,
	                                    c), STORE_OK);
	return c->buf;
}

static void put_consent(struct store *s, const char *user_id,
                        const char *client_id, const char *scope, int64_t at)
{
	struct store_consent c = {
	    .user_id = (char *)user_id, .client_id = (char *)client_id,
	    .scope = (char *)scope, .granted_at = at, .updated_at = at,
	};
	assert_int_equal(store_consent_put(s, &c), STORE_OK);
}

static void test_consents(void **state)
{
	struct ut_store_fx *f = *state;
	struct collect col;
	code_world(f->s);
	struct store_consent got = {0};
	assert_int_equal(store_consent_get(f->s, "u-1", "c1", &got),
	                 STORE_NOT_FOUND);

	put_consent(f->s, "u-1", "c1", "a", 100);
	assert_int_equal(store_consent_get(f->s, "u-1", "c1", &got), STORE_OK);
	assert_string_equal(got.user_id, "u-1");
	assert_string_equal(got.client_id, "c1");
	assert_string_equal(got.username, "alice");
	assert_string_equal(got.scope, "a");
	assert_int_equal(got.granted_at, 100);
	assert_int_equal(got.updated_at, 100);
	store_consent_clear(&got);
	assert_null(got.scope);

	/* Again: the scope and updated_at change, granted_at stays. */
	put_consent(f->s, "u-1", "c1", "a b", 200);
	assert_int_equal(store_consent_get(f->s, "u-1", "c1", &got), STORE_OK);
	assert_string_equal(got.scope, "a b");
	assert_int_equal(got.granted_at, 100);
	assert_int_equal(got.updated_at, 200);
	store_consent_clear(&got);

	/* Unknown user or client. */
	struct store_consent bad = {
	    .user_id = (char *)"u-ghost", .client_id = (char *)"c1",
	    .scope = (char *)"a", .granted_at = 1, .updated_at = 1,
	};
	assert_int_equal(store_consent_put(f->s, &bad), STORE_CONFLICT);
	bad.user_id = (char *)"u-1";
	bad.client_id = (char *)"ghost";
	assert_int_equal(store_consent_put(f->s, &bad), STORE_CONFLICT);

	put_consent(f->s, "u-2", "c1", "b", 300);
	put_consent(f->s, "u-1", "c2", "", 300);
	/* By client_id, then username. */
	assert_string_equal(list_consents(f->s, NULL, NULL, &col),
	                    "c1:alice=a b c1:bob=b c2:alice=");
	assert_string_equal(list_consents(f->s, "u-1", NULL, &col),
	                    "c1:alice=a b c2:alice=");
	assert_string_equal(list_consents(f->s, NULL, "c1", &col),
	                    "c1:alice=a b c1:bob=b");
	assert_string_equal(list_consents(f->s, "u-2", "c1", &col), "c1:bob=b");
	assert_string_equal(list_consents(f->s, "u-2", "c2", &col), "");
	assert_string_equal(list_consents(f->s, "u-ghost", NULL, &col), "");
	/* A non-zero return stops the listing. */
	memset(&col, 0, sizeof(col));
	col.stop_after = 1;
	assert_int_equal(store_consent_list(f->s, NULL, NULL, on_consent, &col),
	                 STORE_OK);
	assert_int_equal(col.n, 1);

	/* Revoke one client's, then all of a user's. */
	int n = -1;
	assert_int_equal(store_consent_revoke(f->s, "u-1", "c2", &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_consent_revoke(f->s, "u-1", "c2", &n), STORE_OK);
	assert_int_equal(n, 0);
	put_consent(f->s, "u-1", "c2", "x", 400);
	assert_int_equal(store_consent_revoke(f->s, "u-1", NULL, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list_consents(f->s, NULL, NULL, &col), "c1:bob=b");
	assert_int_equal(store_consent_revoke(f->s, "u-ghost", NULL, &n),
	                 STORE_OK);
	assert_int_equal(n, 0);
	/* count may be NULL. */
	assert_int_equal(store_consent_revoke(f->s, "u-2", NULL, NULL),
	                 STORE_OK);
	assert_string_equal(list_consents(f->s, NULL, NULL, &col), "");
}

/* Codes, sessions and consents go with their user or client. */
static void test_cascade_on_remove(void **state)
{
	struct ut_store_fx *f = *state;
	struct collect col;
	code_world(f->s);
	static const char *const users[] = {"u-1", "u-2"};
	for (size_t i = 0; i < 2; i++) {
		char h[16];
		snprintf(h, sizeof(h), "s-%s", users[i]);
		struct store_session se = {
		    .session_hash = h, .user_id = (char *)users[i],
		    .auth_time = 1, .expires_at = 1000,
		};
		assert_int_equal(store_session_add(f->s, &se), STORE_OK);
		put_consent(f->s, users[i], "c1", "a", 1);
		put_consent(f->s, users[i], "c2", "a", 1);
	}
	struct store_code c = code("h-alice-c1", 1, 1000);
	assert_int_equal(store_code_add(f->s, &c), STORE_OK);
	c = code("h-alice-c2", 1, 1000);
	c.client_id = (char *)"c2";
	assert_int_equal(store_code_add(f->s, &c), STORE_OK);
	c = code("h-bob-c1", 1, 1000);
	c.subject = (char *)"u-2";
	c.username = (char *)"bob";
	assert_int_equal(store_code_add(f->s, &c), STORE_OK);

	assert_int_equal(store_user_remove(f->s, "alice"), STORE_OK);
	struct store_session se = {0};
	struct store_code got = {0};
	assert_int_equal(store_session_get(f->s, "s-u-1", 1, &se),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_code_get(f->s, "h-alice-c1", &got),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_code_get(f->s, "h-alice-c2", &got),
	                 STORE_NOT_FOUND);
	assert_string_equal(list_consents(f->s, NULL, NULL, &col),
	                    "c1:bob=a c2:bob=a");
	assert_int_equal(store_session_get(f->s, "s-u-2", 1, &se), STORE_OK);
	store_session_clear(&se);

	assert_int_equal(store_client_remove(f->s, "c1"), STORE_OK);
	assert_int_equal(store_code_get(f->s, "h-bob-c1", &got),
	                 STORE_NOT_FOUND);
	assert_string_equal(list_consents(f->s, NULL, NULL, &col), "c2:bob=a");
	/* A session is the user's, not a client's. */
	assert_int_equal(store_session_get(f->s, "s-u-2", 1, &se), STORE_OK);
	store_session_clear(&se);
}

static void test_purge_expired(void **state)
{
	struct ut_store_fx *f = *state;
	code_world(f->s);
	static const struct {
		const char *hash;
		int64_t exp;
	} codes[] = {{"c-old", 100}, {"c-edge", 200}, {"c-live", 201}};
	for (size_t i = 0; i < 3; i++) {
		struct store_code c = code(codes[i].hash, 1, codes[i].exp);
		assert_int_equal(store_code_add(f->s, &c), STORE_OK);
		struct store_session se = {
		    .session_hash = (char *)codes[i].hash,
		    .user_id = (char *)"u-2", .auth_time = 1,
		    .expires_at = codes[i].exp,
		};
		assert_int_equal(store_session_add(f->s, &se), STORE_OK);
	}
	/* A used code goes too once expired; its tokens stay. */
	assert_int_equal(issue_from(f->s, "r1", "F1", "c1", "u-1", 50, 1000,
	                            NULL, "c-old"), STORE_OK);

	/* The one purge (store_purge): a session goes once expired at now
	 * (expires_at <= now, as the lookups have it), a code only
	 * STORE_PURGE_CODE_GRACE later. */
	struct store_purge_counts n;
	assert_int_equal(store_purge(f->s, 99, &n), STORE_OK);
	assert_int_equal(n.codes + n.sessions, 0);
	assert_int_equal(store_purge(f->s, 200, &n), STORE_OK);
	assert_int_equal(n.sessions, 2);
	assert_int_equal(n.codes, 0);
	struct store_session se = {0};
	assert_int_equal(store_session_get(f->s, "c-live", 200, &se), STORE_OK);
	store_session_clear(&se);
	struct store_code got = get_code(f->s, "c-old");
	store_code_clear(&got);

	assert_int_equal(store_purge(f->s, 200 + STORE_PURGE_CODE_GRACE, &n),
	                 STORE_OK);
	assert_int_equal(n.codes, 2);
	assert_int_equal(n.sessions, 1);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(store_code_get(f->s, codes[i].hash, &got),
		                 STORE_NOT_FOUND);
	got = get_code(f->s, "c-live");
	store_code_clear(&got);

	assert_int_equal(store_purge(f->s, 200 + STORE_PURGE_CODE_GRACE, &n),
	                 STORE_OK);
	assert_int_equal(n.codes + n.sessions, 0);
	assert_int_equal(store_purge(f->s, 201 + STORE_PURGE_CODE_GRACE, &n),
	                 STORE_OK);
	assert_int_equal(n.codes, 1);
	assert_int_equal(store_code_get(f->s, "c-live", &got), STORE_NOT_FOUND);
}

/* ---- keys ------------------------------------------------------------------------ */

static void test_keys(void **state)
{
	struct ut_store_fx *f = *state;
	struct store_key got = {0};
	struct collect col;
	char b[64];
	assert_int_equal(store_key_current(f->s, "ES256", &got),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_key_current(f->s, "RS256", &got),
	                 STORE_NOT_FOUND);
	assert_string_equal(list_keys(f->s, false, 0, &col), "");
	assert_string_equal(list_keys(f->s, true, 0, &col), "");

	struct store_key k1 = key("k1", 100);
	assert_int_equal(store_key_add_current(f->s, &k1), STORE_OK);
	assert_int_equal(store_key_current(f->s, "ES256", &got), STORE_OK);
	assert_string_equal(got.kid, "k1");
	assert_string_equal(got.alg, "ES256");
	assert_string_equal(got.private_pem, "-----BEGIN PRIVATE KEY-----\n...");
	assert_int_equal(got.created_at, 100);
	assert_int_equal(got.retired_at, 0);
	store_key_clear(&got);
	assert_int_equal(store_key_current(f->s, "RS256", &got),
	                 STORE_NOT_FOUND);

	/* Another algorithm's key retires nothing: one current per alg. */
	struct store_key r1 = rsa_key("r1", 150);
	assert_int_equal(store_key_add_current(f->s, &r1), STORE_OK);
	assert_string_equal(current_kid(f->s, "ES256", b, sizeof(b)), "k1");
	assert_string_equal(current_kid(f->s, "RS256", b, sizeof(b)), "r1");
	assert_string_equal(list_keys(f->s, false, 0, &col), "r1 k1");
	assert_string_equal(list_keys(f->s, true, 9999, &col), "r1 k1");

	/* A new ES256 key retires k1 only. */
	struct store_key k2 = key("k2", 200);
	assert_int_equal(store_key_add_current(f->s, &k2), STORE_OK);
	assert_string_equal(current_kid(f->s, "ES256", b, sizeof(b)), "k2");
	assert_string_equal(current_kid(f->s, "RS256", b, sizeof(b)), "r1");

	/* Current first (newest first), then retired; the first key is now
	 * retired (test_key_retired_at checks when). */
	assert_string_equal(list_keys(f->s, false, 0, &col), "k2 r1 k1");

	/* Published: a retired key while a token it signed is unexpired. */
	assert_string_equal(list_keys(f->s, true, 250, &col), "k2 r1");
	struct store_client c = client("c", 1);
	assert_int_equal(store_client_add(f->s, &c), STORE_OK);
	struct store_token t = token("t-old", "c", "k1", 150, 500);
	assert_int_equal(ut_token_add(f->s, &t), STORE_OK);
	assert_string_equal(list_keys(f->s, true, 300, &col), "k2 r1 k1");
	assert_string_equal(list_keys(f->s, true, 499, &col), "k2 r1 k1");
	assert_string_equal(list_keys(f->s, true, 500, &col), "k2 r1");
	assert_string_equal(list_keys(f->s, true, 9999, &col), "k2 r1");
	/* All keys regardless of now. */
	assert_string_equal(list_keys(f->s, false, 9999, &col), "k2 r1 k1");

	/* A key whose kid exists already is refused, and the refusal leaves
	 * the current key current (one transaction). */
	struct store_key again = key("k1", 300);
	assert_int_equal(store_key_add_current(f->s, &again), STORE_CONFLICT);
	assert_string_equal(current_kid(f->s, "ES256", b, sizeof(b)), "k2");
	assert_string_equal(list_keys(f->s, false, 0, &col), "k2 r1 k1");

	/* A third key: both older ones retired, each with its own time. */
	struct store_key k3 = key("k3", 300);
	assert_int_equal(store_key_add_current(f->s, &k3), STORE_OK);
	assert_string_equal(list_keys(f->s, false, 0, &col), "k3 r1 k2 k1");
	assert_string_equal(list_keys(f->s, true, 400, &col), "k3 r1 k1");
}

/* Published with a grace (id_token_ttl): a retired key stays published
 * until grace seconds after its retirement, token or not, because ID
 * tokens are not recorded; a token record still keeps it longer. */
static void test_key_published_grace(void **state)
{
	struct ut_store_fx *f = *state;
	struct collect col;
	struct store_key k1 = key("k1", 100), k2 = key("k2", 200),
	                 r1 = rsa_key("r1", 110), r2 = rsa_key("r2", 300);
	assert_int_equal(store_key_add_current(f->s, &k1), STORE_OK);
	assert_int_equal(store_key_add_current(f->s, &r1), STORE_OK);
	assert_int_equal(store_key_add_current(f->s, &k2), STORE_OK); /* k1 retired at 200 */
	assert_int_equal(store_key_add_current(f->s, &r2), STORE_OK); /* r1 retired at 300 */
	assert_string_equal(list_keys_grace(f->s, true, 250, 3600, &col),
	                    "r2 k2 r1 k1");
	/* Retired less than grace ago: k1 until 200 + 3600 (exclusive). */
	assert_string_equal(list_keys_grace(f->s, true, 3799, 3600, &col),
	                    "r2 k2 r1 k1");
	assert_string_equal(list_keys_grace(f->s, true, 3800, 3600, &col),
	                    "r2 k2 r1");
	assert_string_equal(list_keys_grace(f->s, true, 3899, 3600, &col),
	                    "r2 k2 r1");
	assert_string_equal(list_keys_grace(f->s, true, 3900, 3600, &col),
	                    "r2 k2");
	/* The grace is the caller's: a shorter one ends sooner. */
	assert_string_equal(list_keys_grace(f->s, true, 400, 60, &col),
	                    "r2 k2");
	assert_string_equal(list_keys_grace(f->s, true, 359, 60, &col),
	                    "r2 k2 r1");
	/* An unexpired access token outlives the grace. */
	struct store_client c = client("c", 1);
	assert_int_equal(store_client_add(f->s, &c), STORE_OK);
	struct store_token t = token("t", "c", "k1", 150, 5000);
	assert_int_equal(ut_token_add(f->s, &t), STORE_OK);
	assert_string_equal(list_keys_grace(f->s, true, 4000, 3600, &col),
	                    "r2 k2 k1");
	assert_string_equal(list_keys_grace(f->s, true, 5000, 3600, &col),
	                    "r2 k2");
	/* The full list ignores now and grace. */
	assert_string_equal(list_keys_grace(f->s, false, 9999, 0, &col),
	                    "r2 k2 r1 k1");
}

/* The server's own key changes are a compare-and-set per algorithm: the
 * first key of an algorithm only when it has none, a replacement only of
 * the key it read. The loser writes nothing (instances starting at once
 * make one key per algorithm). */
static void test_key_replace_current(void **state)
{
	struct ut_store_fx *f = *state;
	struct collect col;
	char b[64];
	struct store_key k1 = key("k1", 100), k2 = key("k2", 200),
	                 k3 = key("k3", 300), k4 = key("k4", 400);
	assert_int_equal(store_key_replace_current(f->s, NULL, &k1), STORE_OK);
	/* Another process's first key, too late: refused. */
	assert_int_equal(store_key_replace_current(f->s, NULL, &k2),
	                 STORE_CONFLICT);
	assert_string_equal(list_keys(f->s, false, 0, &col), "k1");
	/* The first key of the other algorithm is not a conflict. */
	struct store_key r1 = rsa_key("r1", 110), r2 = rsa_key("r2", 120),
	                 r3 = rsa_key("r3", 130);
	assert_int_equal(store_key_replace_current(f->s, NULL, &r1), STORE_OK);
	assert_int_equal(store_key_replace_current(f->s, NULL, &r2),
	                 STORE_CONFLICT);
	/* An expected key of the other algorithm is not this one's. */
	assert_int_equal(store_key_replace_current(f->s, "k1", &r2),
	                 STORE_CONFLICT);
	assert_int_equal(store_key_replace_current(f->s, "r1", &k2),
	                 STORE_CONFLICT);
	assert_string_equal(list_keys(f->s, false, 0, &col), "r1 k1");
	/* A replacement of a key that is no longer current: refused. */
	assert_int_equal(store_key_replace_current(f->s, "k0", &k2),
	                 STORE_CONFLICT);
	assert_int_equal(store_key_replace_current(f->s, "k1", &k2), STORE_OK);
	assert_int_equal(store_key_replace_current(f->s, "k1", &k3),
	                 STORE_CONFLICT);
	assert_string_equal(list_keys(f->s, false, 0, &col), "k2 r1 k1");
	assert_string_equal(current_kid(f->s, "ES256", b, sizeof(b)), "k2");
	assert_string_equal(current_kid(f->s, "RS256", b, sizeof(b)), "r1");
	assert_int_equal(store_key_replace_current(f->s, "r1", &r3), STORE_OK);
	assert_string_equal(current_kid(f->s, "ES256", b, sizeof(b)), "k2");
	/* A rotation (the CLI's) and then the current key replaced again. */
	assert_int_equal(store_key_add_current(f->s, &k3), STORE_OK);
	assert_int_equal(store_key_replace_current(f->s, "k3", &k4), STORE_OK);
	assert_string_equal(list_keys(f->s, false, 0, &col), "k4 r3 k3 k2 r1 k1");
	assert_string_equal(current_kid(f->s, "RS256", b, sizeof(b)), "r3");
}

static int on_key_retired(const struct store_key *k, void *arg)
{
	int64_t *out = arg;
	out[k->kid[1] - '0'] = k->retired_at;
	return 0;
}

static void test_key_retired_at(void **state)
{
	struct ut_store_fx *f = *state;
	struct store_key k1 = key("k1", 100), k2 = key("k2", 200),
	                 k3 = key("k3", 300);
	assert_int_equal(store_key_add_current(f->s, &k1), STORE_OK);
	assert_int_equal(store_key_add_current(f->s, &k2), STORE_OK);
	assert_int_equal(store_key_add_current(f->s, &k3), STORE_OK);
	int64_t retired[4] = {-1, -1, -1, -1};
	assert_int_equal(store_key_list(f->s, false, 0, 0, on_key_retired,
	                                retired), STORE_OK);
	assert_int_equal(retired[1], 200);
	assert_int_equal(retired[2], 300);
	assert_int_equal(retired[3], 0);
}

/* Staged rotation (issue 17): a next key is published, never current,
 * replaced or refused by xAddNext, and promoted once, by kid. */
static void test_key_next(void **state)
{
	struct ut_store_fx *f = *state;
	struct collect col;
	char b[64];
	struct store_key k1 = key("k1", 100), n1 = key("n1", 200),
	                 n2 = key("n2", 300), n3 = key("n3", 400);
	struct store_key got = {0};
	assert_int_equal(store_key_add_current(f->s, &k1), STORE_OK);
	assert_int_equal(store_key_next(f->s, "ES256", &got), STORE_NOT_FOUND);
	assert_int_equal(store_key_promote(f->s, "ES256", NULL, 250),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_key_add_next(f->s, &n1, true), STORE_OK);
	/* Published, not current, retired_at the sentinel. */
	assert_string_equal(current_kid(f->s, "ES256", b, sizeof(b)), "k1");
	assert_string_equal(list_keys(f->s, true, 1000, &col), "k1 n1");
	assert_int_equal(store_key_next(f->s, "ES256", &got), STORE_OK);
	assert_string_equal(got.kid, "n1");
	assert_int_equal(got.retired_at, STORE_KEY_NEXT);
	store_key_clear(&got);
	assert_int_equal(store_key_next(f->s, "RS256", &got), STORE_NOT_FOUND);
	/* only_if_none: refused, nothing changed; else n1 is retired. */
	assert_int_equal(store_key_add_next(f->s, &n2, true), STORE_CONFLICT);
	assert_int_equal(store_key_add_next(f->s, &n2, false), STORE_OK);
	assert_int_equal(store_key_next(f->s, "ES256", &got), STORE_OK);
	assert_string_equal(got.kid, "n2");
	store_key_clear(&got);
	/* Promotion by a kid that is not the next one: refused. */
	assert_int_equal(store_key_promote(f->s, "ES256", "n1", 350),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_key_promote(f->s, "RS256", NULL, 350),
	                 STORE_NOT_FOUND);
	assert_string_equal(current_kid(f->s, "ES256", b, sizeof(b)), "k1");
	assert_int_equal(store_key_promote(f->s, "ES256", "n2", 350), STORE_OK);
	assert_string_equal(current_kid(f->s, "ES256", b, sizeof(b)), "n2");
	assert_int_equal(store_key_next(f->s, "ES256", &got), STORE_NOT_FOUND);
	/* Once only. */
	assert_int_equal(store_key_promote(f->s, "ES256", "n2", 360),
	                 STORE_NOT_FOUND);
	int64_t retired[4] = {0};
	assert_int_equal(store_key_list(f->s, false, 0, 0, on_key_retired,
	                                retired), STORE_OK);
	assert_int_equal(retired[1], 350); /* k1, at the promotion */
	assert_int_equal(retired[2], 0);   /* n2, current */
	/* A next key after that: published with both. */
	assert_int_equal(store_key_add_next(f->s, &n3, true), STORE_OK);
	assert_string_equal(list_keys(f->s, true, 1000, &col), "n2 n3");
}

static int on_audit(const struct store_audit *e, void *arg)
{
	struct collect *c = arg;
	snprintf(c->buf + strlen(c->buf), sizeof(c->buf) - strlen(c->buf),
	         "%s%s", c->buf[0] ? " " : "", e->object);
	return 0;
}

/* The audit trail: appended in order, filtered, paged, purged. */
static void test_audit(void **state)
{
	struct ut_store_fx *f = *state;
	struct collect col;
	static const struct {
		int64_t at;
		const char *actor, *object;
	} ev[] = {{100, "cli:a", "client:x"}, {200, "cli:b", "user:y"},
	          {300, "cli:a", "client:x"}, {300, "cli:a", "key:ES256"}};
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		struct store_audit e = {
		    .at = ev[i].at, .actor = (char *)ev[i].actor,
		    .action = (char *)"x.y", .object = (char *)ev[i].object,
		    .changes = (char *)"{}"};
		assert_int_equal(store_audit_add(f->s, &e), STORE_OK);
	}
	struct store_audit_filter all = {0};
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_audit_list(f->s, &all, on_audit, &col), STORE_OK);
	assert_string_equal(col.buf, "client:x user:y client:x key:ES256");
	struct store_audit_filter by = {.object = "client:x"};
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_audit_list(f->s, &by, on_audit, &col), STORE_OK);
	assert_string_equal(col.buf, "client:x client:x");
	by = (struct store_audit_filter){.actor = "cli:b"};
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_audit_list(f->s, &by, on_audit, &col), STORE_OK);
	assert_string_equal(col.buf, "user:y");
	/* The newest two, oldest first. */
	struct store_page page = {.limit = 2};
	by = (struct store_audit_filter){.page = &page};
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_audit_list(f->s, &by, on_audit, &col), STORE_OK);
	assert_string_equal(col.buf, "client:x key:ES256");
	int64_t n = -1;
	assert_int_equal(store_audit_purge(f->s, 300, &n), STORE_OK);
	assert_int_equal(n, 2);
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_audit_list(f->s, &all, on_audit, &col), STORE_OK);
	assert_string_equal(col.buf, "client:x key:ES256");
}

/* ---- threads --------------------------------------------------------------------- */

#define NTHREADS 4
#define PER_THREAD 50

struct worker {
	struct store *s;
	int id;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		char jti[32];
		snprintf(jti, sizeof(jti), "w%d-%03d", w->id, i);
		struct store_token t = token(jti, "c", "k", 1000 + i, 5000);
		if (ut_token_add(w->s, &t) != STORE_OK)
			w->failures++;
		struct store_token got = {0};
		if (store_token_get(w->s, jti, &got) != STORE_OK ||
		    strcmp(got.jti, jti) != 0)
			w->failures++;
		store_token_clear(&got);
	}
	return NULL;
}

static int count_token(const struct store_token *t, void *arg)
{
	(void)t;
	(*(int *)arg)++;
	return 0;
}

static void test_threads(void **state)
{
	struct ut_store_fx *f = *state;
	struct store_client c = client("c", 1);
	assert_int_equal(store_client_add(f->s, &c), STORE_OK);
	struct store_key k = key("k", 1);
	assert_int_equal(store_key_add_current(f->s, &k), STORE_OK);

	pthread_t th[NTHREADS];
	struct worker w[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){f->s, i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	int n = 0;
	struct store_token_filter all = {.client_id = NULL};
	assert_int_equal(store_token_list(f->s, &all, count_token, &n), STORE_OK);
	assert_int_equal(n, NTHREADS * PER_THREAD);
	struct store_token got = {0};
	assert_int_equal(store_token_get(f->s, "w3-049", &got), STORE_OK);
	assert_int_equal(got.issued_at, 1049);
	store_token_clear(&got);

	/* A second round on new threads, after the first ones' connections
	 * were closed by their exit. */
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){f->s, NTHREADS + i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	n = 0;
	assert_int_equal(store_token_list(f->s, &all, count_token, &n), STORE_OK);
	assert_int_equal(n, 2 * NTHREADS * PER_THREAD);
}

/* A password in a --db value never reaches a message or a log line. */
static void test_target_redact(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
	    {"postgresql://u:s3cret@db.example/lk",
	     "postgresql://u:***@db.example/lk"},
	    {"postgres://u:s3cret@h:5432/lk?sslmode=require",
	     "postgres://u:***@h:5432/lk?sslmode=require"},
	    {"postgresql://u@h/lk?password=s3cret&sslmode=require",
	     "postgresql://u@h/lk?password=***&sslmode=require"},
	    {"postgresql:///lk?host=/run/postgresql&password=s3cret",
	     "postgresql:///lk?host=/run/postgresql&password=***"},
	    {"postgresql://u:p%40ss@h/lk", "postgresql://u:***@h/lk"},
	    {"postgresql://u@h/lk", "postgresql://u@h/lk"},
	    {"./latchkey.db", "./latchkey.db"},
	    {"/var/lib/latchkey/password=x.db", "/var/lib/latchkey/password=x.db"},
	};
	char out[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		store_target_redact(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
	/* Truncation keeps the string terminated and never leaks. */
	store_target_redact("postgresql://u:s3cret@h/lk", out, 20);
	assert_int_equal(strlen(out), 19);
	assert_null(strstr(out, "s3cret"));
	assert_true(store_target_is_pg("postgres://h/x"));
	assert_true(store_target_is_pg("postgresql:///x"));
	assert_false(store_target_is_pg("./postgresql://x"));
	assert_false(store_target_is_pg("sqlite:x.db"));
}

/* PostgreSQL: the server ends every connection of the pool (as a restart
 * does); the next reads and writes get new ones and succeed. */
static void test_pg_reconnect(void **state)
{
	struct ut_store_fx *f = *state;
	if (f->pg_db == NULL)
		return; /* SQLite has no server to lose */
	struct store_client c = client("c", 1);
	assert_int_equal(store_client_add(f->s, &c), STORE_OK);
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(pg_terminate_backend(pid)) "
	         "FROM pg_stat_activity WHERE datname='%s'", f->pg_db);
	PGconn *admin = PQconnectdb(ut_pg_uri());
	assert_int_equal(PQstatus(admin), CONNECTION_OK);
	PGresult *r = PQexec(admin, sql);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_true(atoi(PQgetvalue(r, 0, 0)) >= 1);
	PQclear(r);
	/* Until they are gone (their goodbye is then in our sockets, as it
	 * is long before the next request after a real restart). */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity "
	         "WHERE datname='%s'", f->pg_db);
	for (int left = 1; left;) {
		r = PQexec(admin, sql);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		left = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
		if (left)
			usleep(2000);
	}
	PQfinish(admin);
	/* A write first: it must not meet a dead connection. */
	struct store_client d = client("d", 2);
	assert_int_equal(store_client_add(f->s, &d), STORE_OK);
	struct store_client got = {0};
	assert_int_equal(store_client_get(f->s, "c", &got), STORE_OK);
	assert_string_equal(got.client_id, "c");
	store_client_clear(&got);
}

/* Text that is not UTF-8 (here a stray continuation byte, and the
 * overlong form of '/') names nothing on either backend: every lookup by
 * such a key is STORE_NOT_FOUND, never an error, and a listing by it is
 * empty. PostgreSQL cannot hold such text, so a write of it is refused
 * there with STORE_BAD_VALUE and nothing is written; SQLite keeps the
 * bytes. */
static int count_consent(const struct store_consent *c, void *arg)
{
	(void)c;
	++*(int *)arg;
	return 0;
}

static void test_text_not_utf8(void **state)
{
	struct ut_store_fx *f = *state;
	static const char *const bad[] = {"\xff\xfe\x80", "\xc0\xaf"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *k = bad[i];
		struct store_client cl = {0};
		struct store_user u = {0};
		struct store_token t = {0};
		struct store_refresh r = {0};
		struct store_code c = {0};
		struct store_session se = {0};
		struct store_consent co = {0};
		int n = 0;
		assert_int_equal(store_client_get(f->s, k, &cl), STORE_NOT_FOUND);
		assert_int_equal(store_user_get(f->s, k, &u), STORE_NOT_FOUND);
		assert_int_equal(store_user_get_by_id(f->s, k, &u),
		                 STORE_NOT_FOUND);
		assert_int_equal(store_token_get(f->s, k, &t), STORE_NOT_FOUND);
		assert_int_equal(store_refresh_get(f->s, k, &r), STORE_NOT_FOUND);
		assert_int_equal(store_code_get(f->s, k, &c), STORE_NOT_FOUND);
		assert_int_equal(store_session_get(f->s, k, 1, &se),
		                 STORE_NOT_FOUND);
		assert_int_equal(store_consent_get(f->s, k, k, &co),
		                 STORE_NOT_FOUND);
		assert_int_equal(store_consent_list(f->s, k, NULL, count_consent,
		                                    &n),
		                 STORE_OK);
		assert_int_equal(n, 0);
	}
	struct store_user u = {
	    .user_id = (char *)"u-1", .username = (char *)"\xc0\xaf",
	    .password_hash = (char *)"$argon2id$v=19$m=64,t=1,p=1$x$y",
	    .created_at = 10, .updated_at = 10,
	};
	struct store_user got = {0};
	if (*ut_pg_mode()) {
		assert_int_equal(store_user_add(f->s, &u), STORE_BAD_VALUE);
		assert_int_equal(store_user_get_by_id(f->s, "u-1", &got),
		                 STORE_NOT_FOUND);
		assert_string_equal(store_rc_str(STORE_BAD_VALUE),
		                    "text that is not valid UTF-8 cannot be "
		                    "stored");
	} else {
		assert_int_equal(store_user_add(f->s, &u), STORE_OK);
		assert_int_equal(store_user_get(f->s, "\xc0\xaf", &got),
		                 STORE_OK);
		store_user_clear(&got);
	}
}

/* PostgreSQL: a server that cannot be reached is STORE_UNAVAILABLE, and
 * the message names neither the password nor more than libpq says. */
static void test_pg_unavailable(void **state)
{
	(void)state;
	if (!*ut_pg_mode())
		return;
	struct store *s = (struct store *)1;
	char err[512] = "";
	assert_int_equal(store_open("postgresql://u:s3cret@127.0.0.1:1/x?"
	                            "connect_timeout=2", &s, err, sizeof(err)),
	                 STORE_UNAVAILABLE);
	assert_null(s);
	assert_non_null(strstr(err, "cannot connect"));
	assert_null(strstr(err, "s3cret"));
	assert_string_equal(store_rc_str(STORE_UNAVAILABLE),
	                    "database unavailable");
}

/* ---- listings through a store_page (--limit, --since) ------------------------ */

/* Each listing below holds four records, made at 100, 200, 300 and 400 in
 * an order that is not the listing's own, so that "the newest N" and "in
 * the listing's order" are told apart. What a listing shows: */
struct page_want {
	const char *all;            /* no page, or a limit above 4 */
	const char *newest2;        /* limit 2: made at 400 and 300 */
	const char *since200;       /* since 200 (inclusive), no limit */
	const char *newest_since200; /* since 200, limit 1: made at 400 */
};

typedef const char *(*page_list_fn)(struct store *s,
                                    const struct store_page *p,
                                    struct collect *c);

static void check_pages(struct store *s, page_list_fn list,
                        const struct page_want *w)
{
	struct collect c;
	int64_t matched;
	struct store_page p;

	assert_string_equal(list(s, NULL, &c), w->all);
	p = (struct store_page){.limit = 2, .matched = &matched};
	matched = -1;
	assert_string_equal(list(s, &p, &c), w->newest2);
	assert_int_equal(matched, 4);
	/* Without a limit nothing is counted (the caller shows every row). */
	p = (struct store_page){.since = 200, .matched = &matched};
	matched = -1;
	assert_string_equal(list(s, &p, &c), w->since200);
	assert_int_equal(matched, -1);
	/* matched counts what passed since, before the limit. */
	p = (struct store_page){.since = 200, .limit = 1, .matched = &matched};
	assert_string_equal(list(s, &p, &c), w->newest_since200);
	assert_int_equal(matched, 3);
	p = (struct store_page){.since = 401, .limit = 2, .matched = &matched};
	assert_string_equal(list(s, &p, &c), "");
	assert_int_equal(matched, 0);
	p = (struct store_page){.limit = 10, .matched = &matched};
	assert_string_equal(list(s, &p, &c), w->all);
	assert_int_equal(matched, 4);
	/* A limit without matched (--json --limit): the rows alone. */
	p = (struct store_page){.limit = 2};
	assert_string_equal(list(s, &p, &c), w->newest2);
}

static const char *page_clients(struct store *s, const struct store_page *p,
                                struct collect *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_client_page(s, p, on_client, c), STORE_OK);
	return c->buf;
}

static void test_page_clients(void **state)
{
	struct ut_store_fx *f = *state;
	static const struct {
		const char *id;
		int64_t at;
	} rows[] = {{"bravo", 100}, {"delta", 200}, {"alpha", 400},
	            {"charlie", 300}};
	for (size_t i = 0; i < 4; i++) {
		struct store_client c = client(rows[i].id, rows[i].at);
		assert_int_equal(store_client_add(f->s, &c), STORE_OK);
	}
	/* client_id order */
	check_pages(f->s, page_clients, &(struct page_want){
	    .all = "alpha bravo charlie delta", .newest2 = "alpha charlie",
	    .since200 = "alpha charlie delta", .newest_since200 = "alpha"});
}

static const char *page_users(struct store *s, const struct store_page *p,
                              struct collect *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_user_page(s, p, on_user, c), STORE_OK);
	return c->buf;
}

static void test_page_users(void **state)
{
	struct ut_store_fx *f = *state;
	static const struct {
		const char *id, *name;
		int64_t at;
	} rows[] = {{"u-b", "bravo", 100}, {"u-d", "delta", 200},
	            {"u-a", "alpha", 400}, {"u-c", "charlie", 300}};
	for (size_t i = 0; i < 4; i++) {
		struct store_user u = {
		    .user_id = (char *)rows[i].id,
		    .username = (char *)rows[i].name,
		    .password_hash = (char *)"$argon2id$x",
		    .created_at = rows[i].at, .updated_at = rows[i].at,
		};
		assert_int_equal(store_user_add(f->s, &u), STORE_OK);
	}
	/* username order */
	check_pages(f->s, page_users, &(struct page_want){
	    .all = "alpha bravo charlie delta", .newest2 = "alpha charlie",
	    .since200 = "alpha charlie delta", .newest_since200 = "alpha"});
}

static const char *page_tokens(struct store *s, const struct store_page *p,
                               struct collect *c)
{
	memset(c, 0, sizeof(*c));
	struct store_token_filter f = {.page = p};
	assert_int_equal(store_token_list(s, &f, on_token, c), STORE_OK);
	return c->buf;
}

static void test_page_tokens(void **state)
{
	struct ut_store_fx *f = *state;
	code_world(f->s);
	static const struct {
		const char *jti;
		int64_t at;
	} rows[] = {{"t-b", 100}, {"t-d", 200}, {"t-a", 400}, {"t-c", 300}};
	for (size_t i = 0; i < 4; i++) {
		struct store_token t = token(rows[i].jti, "c1", "kid-1",
		                             rows[i].at, 5000);
		assert_int_equal(ut_token_add(f->s, &t), STORE_OK);
	}
	/* issued_at order */
	check_pages(f->s, page_tokens, &(struct page_want){
	    .all = "t-b t-d t-c t-a", .newest2 = "t-c t-a",
	    .since200 = "t-d t-c t-a", .newest_since200 = "t-a"});
}

static const char *page_refresh(struct store *s, const struct store_page *p,
                                struct collect *c)
{
	memset(c, 0, sizeof(*c));
	struct store_refresh_filter f = {.page = p};
	assert_int_equal(store_refresh_list(s, &f, on_refresh, c), STORE_OK);
	return c->buf;
}

static void test_page_refresh(void **state)
{
	struct ut_store_fx *f = *state;
	code_world(f->s);
	/* Written out of time order; each its own family. */
	issue(f->s, "r-b", "F-b", "c1", "u-1", 100, 5000, NULL);
	issue(f->s, "r-d", "F-d", "c1", "u-1", 200, 5000, NULL);
	issue(f->s, "r-a", "F-a", "c2", "u-2", 400, 5000, NULL);
	issue(f->s, "r-c", "F-c", "c1", "u-2", 300, 5000, NULL);
	/* issued_at order */
	check_pages(f->s, page_refresh, &(struct page_want){
	    .all = "r-b r-d r-c r-a", .newest2 = "r-c r-a",
	    .since200 = "r-d r-c r-a", .newest_since200 = "r-a"});
}

static const char *page_keys(struct store *s, const struct store_page *p,
                             struct collect *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_key_page(s, p, on_key, c), STORE_OK);
	return c->buf;
}

static void test_page_keys(void **state)
{
	struct ut_store_fx *f = *state;
	static const struct {
		const char *kid;
		int64_t at;
	} rows[] = {{"k-b", 100}, {"k-d", 200}, {"k-a", 400}, {"k-c", 300}};
	for (size_t i = 0; i < 4; i++) {
		struct store_key k = key(rows[i].kid, rows[i].at);
		assert_int_equal(store_key_add_current(f->s, &k), STORE_OK);
	}
	/* The current key (k-c, the last added, though not the newest)
	 * first, then the retired ones newest first. */
	check_pages(f->s, page_keys, &(struct page_want){
	    .all = "k-c k-a k-d k-b", .newest2 = "k-c k-a",
	    .since200 = "k-c k-a k-d", .newest_since200 = "k-a"});
}

static const char *page_consents(struct store *s, const struct store_page *p,
                                 struct collect *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_consent_page(s, NULL, NULL, p, on_consent, c),
	                 STORE_OK);
	return c->buf;
}

static void test_page_consents(void **state)
{
	struct ut_store_fx *f = *state;
	code_world(f->s);
	put_consent(f->s, "u-2", "c1", "a", 100);
	put_consent(f->s, "u-2", "c2", "a", 200);
	put_consent(f->s, "u-1", "c1", "a", 400);
	put_consent(f->s, "u-1", "c2", "a", 300);
	/* client_id then username order */
	check_pages(f->s, page_consents, &(struct page_want){
	    .all = "c1:alice=a c1:bob=a c2:alice=a c2:bob=a",
	    .newest2 = "c1:alice=a c2:alice=a",
	    .since200 = "c1:alice=a c2:alice=a c2:bob=a",
	    .newest_since200 = "c1:alice=a"});
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_mode_and_schema),
	    cmocka_unit_test(test_open_errors),
	    cmocka_unit_test(test_target_redact),
	    cmocka_unit_test(test_pg_unavailable),
	    cmocka_unit_test_setup_teardown(test_pg_reconnect, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_client_crud, ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_client_public_and_constraints,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_client_list, ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_user_crud, ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_text_not_utf8, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tokens, ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_refresh_list, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_token_list_by_subject_and_family,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_subject_revoke, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_client_auto_approve_as,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_client_audiences_introspect,
	                                    ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_code_record, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_issue_consumes_code_once,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_issue_checks_client_version,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_issue_completion, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_issue_expired_code, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_issue_rolls_back_code,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_issue_code_race, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_issue_relink_compares,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_issue_group_races,
	                                    ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_issue_group_round_trips,
	                                    ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_issue_group_unavailable,
	                                    ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_issue_group_retries,
	                                    ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_issue_batches, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_serializable_retries,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_sessions, ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_session_ids, ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_consents, ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_cascade_on_remove, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_purge_expired, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_keys, ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_key_published_grace, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_key_replace_current, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_key_next, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_audit, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_key_retired_at, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_threads, ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_page_clients, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_page_users, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_page_tokens, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_page_refresh, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_page_keys, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_page_consents, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	};
	return ut_run_backends(tests);
}
