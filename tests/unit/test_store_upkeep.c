/*
 * test_store_upkeep.c: the store's care of its own file, against a real
 * SQLite database: the durability setting on every connection, what
 * store_purge deletes and what it must keep (a refresh-token family stays
 * whole while any of its tokens is unexpired, so reuse is still caught),
 * purging across batch boundaries, and store_backup (a checked 0600 copy,
 * no stray files, refusals, and a copy taken while another thread writes).
 * The purge tests run on PostgreSQL too when LK_TEST_PG is set
 * (ut_run_backends), where backup refuses and names pg_dump.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>

#include "store.h"
#include "store_int.h"
#include "unit_util.h"

/* ---- builders ------------------------------------------------------------ */

#define HASH "$lk-hmac-sha256$c2FsdHNhbHRzYWx0c2FsdA$" \
             "ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGk"

/* Client c1, key kid-1 and user u-1 (alice): what the records refer to. */
static void world(struct store *s)
{
	struct store_client c = {
	    .client_id = (char *)"c1", .name = (char *)"Client",
	    .secret_hash = (char *)HASH,
	    .grant_types = (char *)"client_credentials", .scopes = (char *)"",
	    .redirect_uris = (char *)"", .created_at = 1, .updated_at = 1,
	};
	assert_int_equal(store_client_add(s, &c), STORE_OK);
	struct store_key k = {
	    .kid = (char *)"kid-1", .alg = (char *)"ES256",
	    .private_pem = (char *)"-----BEGIN PRIVATE KEY-----\n...",
	    .created_at = 1,
	};
	assert_int_equal(store_key_add_current(s, &k), STORE_OK);
	struct store_user u = {
	    .user_id = (char *)"u-1", .username = (char *)"alice",
	    .password_hash = (char *)"$argon2id$x", .created_at = 1,
	    .updated_at = 1,
	};
	assert_int_equal(store_user_add(s, &u), STORE_OK);
}

static void add_token(struct store *s, const char *jti, int64_t exp,
                      int64_t revoked_at)
{
	struct store_token t = {
	    .jti = (char *)jti, .client_id = (char *)"c1",
	    .subject = (char *)"c1", .scope = (char *)"", .kid = (char *)"kid-1",
	    .issued_at = 1, .expires_at = exp, .revoked_at = revoked_at,
	};
	assert_int_equal(ut_token_add(s, &t), STORE_OK);
}

/* One token response of family `family` at iat: access token "at-<name>"
 * (expiring at iat + 10) and refresh token <name> (its "hash") expiring
 * at exp, retiring the refresh token `retire` first (NULL: none). */
static void issue(struct store *s, const char *name, const char *family,
                  int64_t iat, int64_t exp, const char *retire)
{
	char jti[64];
	snprintf(jti, sizeof(jti), "at-%s", name);
	struct store_token at = {
	    .jti = jti, .client_id = (char *)"c1", .subject = (char *)"u-1",
	    .scope = (char *)"", .kid = (char *)"kid-1", .issued_at = iat,
	    .expires_at = iat + 10, .family_id = (char *)family,
	};
	struct store_refresh rt = {
	    .token_hash = (char *)name, .family_id = (char *)family,
	    .client_id = (char *)"c1", .subject = (char *)"u-1",
	    .username = (char *)"alice", .scope = (char *)"",
	    .access_jti = jti, .issued_at = iat, .expires_at = exp,
	};
	struct store_issue is = {
	    .now = iat, .retire_hash = retire, .access = &at, .refresh = &rt,
	};
	assert_int_equal(ut_issue(s, &is), STORE_OK);
}

static void add_code(struct store *s, const char *hash, int64_t exp)
{
	struct store_code c = {
	    .code_hash = (char *)hash, .client_id = (char *)"c1",
	    .subject = (char *)"u-1", .username = (char *)"alice",
	    .scope = (char *)"", .issued_at = 1, .expires_at = exp,
	};
	assert_int_equal(store_code_add(s, &c), STORE_OK);
}

static void add_session(struct store *s, const char *hash, int64_t exp)
{
	struct store_session se = {
	    .session_hash = (char *)hash, .user_id = (char *)"u-1",
	    .auth_time = 1, .expires_at = exp,
	};
	assert_int_equal(store_session_add(s, &se), STORE_OK);
}

static bool has_token(struct store *s, const char *jti)
{
	struct store_token t = {0};
	enum store_rc r = store_token_get(s, jti, &t);
	store_token_clear(&t);
	assert_true(r == STORE_OK || r == STORE_NOT_FOUND);
	return r == STORE_OK;
}

static bool has_refresh(struct store *s, const char *hash)
{
	struct store_refresh rt = {0};
	enum store_rc r = store_refresh_get(s, hash, &rt);
	store_refresh_clear(&rt);
	assert_true(r == STORE_OK || r == STORE_NOT_FOUND);
	return r == STORE_OK;
}

static bool has_code(struct store *s, const char *hash)
{
	struct store_code c = {0};
	enum store_rc r = store_code_get(s, hash, &c);
	store_code_clear(&c);
	assert_true(r == STORE_OK || r == STORE_NOT_FOUND);
	return r == STORE_OK;
}

static struct store_purge_counts purge(struct store *s, int64_t now)
{
	struct store_purge_counts c;
	assert_int_equal(store_purge(s, now, &c), STORE_OK);
	return c;
}

/* ---- durability ---------------------------------------------------------- */

static void *sync_level(void *arg)
{
	struct store *s = arg;
	intptr_t level = store_sqlite_synchronous(s);
	store_thread_end(s);
	return (void *)level;
}

/* On every connection: the opening thread's and a worker's. */
static void assert_durability(const struct store_options *o, int want)
{
	char *dir = ut_tmpdir();
	char *path = ut_path(dir, "d.db");
	char err[256] = "";
	struct store *s = NULL;
	assert_int_equal(store_open_with(path, o, &s, err, sizeof(err)),
	                 STORE_OK);
	assert_int_equal(store_sqlite_synchronous(s), want);
	pthread_t th;
	void *got = NULL;
	assert_int_equal(pthread_create(&th, NULL, sync_level, s), 0);
	assert_int_equal(pthread_join(th, &got), 0);
	assert_int_equal((intptr_t)got, want);
	store_close(s);
	ut_rmtree(dir);
	free(path);
	free(dir);
}

static void test_durability(void **state)
{
	(void)state;
	struct store_options normal = {.durability = STORE_DURABILITY_NORMAL};
	struct store_options full = {.durability = STORE_DURABILITY_FULL};
	assert_durability(NULL, 1); /* store_open's default: NORMAL */
	assert_durability(&normal, 1);
	assert_durability(&full, 2);
}

/* ---- purge ------------------------------------------------------------------- */

static void test_purge_access_tokens(void **state)
{
	struct ut_store_fx *f = *state;
	world(f->s);
	add_token(f->s, "t-old", 100, 0);
	add_token(f->s, "t-edge", 200, 0);       /* expired at 200 */
	add_token(f->s, "t-live", 201, 0);
	add_token(f->s, "t-revoked-old", 150, 120);
	add_token(f->s, "t-revoked-live", 500, 120); /* listed until 500 */

	struct store_purge_counts c = purge(f->s, 200);
	assert_int_equal(c.access_tokens, 3);
	assert_int_equal(c.refresh_tokens + c.codes + c.sessions, 0);
	assert_false(has_token(f->s, "t-old"));
	assert_false(has_token(f->s, "t-edge"));
	assert_false(has_token(f->s, "t-revoked-old"));
	assert_true(has_token(f->s, "t-live"));
	assert_true(has_token(f->s, "t-revoked-live"));

	c = purge(f->s, 200); /* again: nothing left to do */
	assert_int_equal(c.access_tokens, 0);
	c = purge(f->s, 500);
	assert_int_equal(c.access_tokens, 2);
}

/* The rule for refresh tokens: a family goes whole, and only once none of
 * its tokens is unexpired. */
static void test_purge_refresh_families(void **state)
{
	struct ut_store_fx *f = *state;
	world(f->s);
	/* F1: a1 rotated out by a2, which lives on (sliding expiry). */
	issue(f->s, "a1", "F1", 100, 150, NULL);
	issue(f->s, "a2", "F1", 140, 1000, "a1");
	/* F2: one token, expired unused. */
	issue(f->s, "b1", "F2", 100, 180, NULL);
	/* F3: rotated, then revoked, all of it expired. */
	issue(f->s, "c1", "F3", 100, 120, NULL);
	issue(f->s, "c2", "F3", 110, 190, "c1");
	int n = 0;
	assert_int_equal(store_family_revoke(f->s, "F3", 115, &n), STORE_OK);
	/* F4: revoked, not yet expired: still listed as revoked. */
	issue(f->s, "d1", "F4", 100, 300, NULL);
	assert_int_equal(store_family_revoke(f->s, "F4", 115, &n), STORE_OK);

	struct store_purge_counts c = purge(f->s, 200);
	assert_int_equal(c.refresh_tokens, 3); /* b1, c1, c2 */
	assert_false(has_refresh(f->s, "b1"));
	assert_false(has_refresh(f->s, "c1"));
	assert_false(has_refresh(f->s, "c2"));
	assert_true(has_refresh(f->s, "d1"));
	/* a1 expired at 150 but its family lives: it stays, retired, so a
	 * replay of it is still reuse. */
	struct store_refresh rt = {0};
	assert_int_equal(store_refresh_get(f->s, "a1", &rt), STORE_OK);
	assert_int_equal(rt.retired_at, 140);
	store_refresh_clear(&rt);
	assert_true(has_refresh(f->s, "a2"));
	/* Every access token of these families expired at iat + 10. */
	assert_int_equal(c.access_tokens, 6);

	c = purge(f->s, 999);
	assert_int_equal(c.refresh_tokens, 1); /* d1 */
	assert_true(has_refresh(f->s, "a1"));
	c = purge(f->s, 1000);
	assert_int_equal(c.refresh_tokens, 2);
	assert_false(has_refresh(f->s, "a1"));
	assert_false(has_refresh(f->s, "a2"));
}

static void test_purge_codes_and_sessions(void **state)
{
	struct ut_store_fx *f = *state;
	world(f->s);
	add_code(f->s, "k-old", 100);
	add_code(f->s, "k-live", 300);
	add_session(f->s, "s-old", 100);
	add_session(f->s, "s-edge", 200);
	add_session(f->s, "s-live", 201);

	struct store_purge_counts c = purge(f->s, 200);
	assert_int_equal(c.sessions, 2);
	assert_int_equal(c.codes, 0); /* kept a grace period past expiry */
	assert_true(has_code(f->s, "k-old"));
	struct store_session se = {0};
	assert_int_equal(store_session_get(f->s, "s-live", 200, &se), STORE_OK);
	store_session_clear(&se);

	c = purge(f->s, 100 + STORE_PURGE_CODE_GRACE);
	assert_int_equal(c.codes, 1);
	assert_false(has_code(f->s, "k-old"));
	assert_true(has_code(f->s, "k-live"));
	assert_int_equal(c.sessions, 1);
}

/* More rows and families than one batch holds. */
static void test_purge_batches(void **state)
{
	struct ut_store_fx *f = *state;
	world(f->s);
	for (int i = 0; i < 1203; i++) {
		char jti[32];
		snprintf(jti, sizeof(jti), "bulk-%04d", i);
		add_token(f->s, jti, 10 + i % 7, 0);
	}
	for (int i = 0; i < 620; i++) {
		char name[32], fam[32];
		snprintf(name, sizeof(name), "r-%04d", i);
		snprintf(fam, sizeof(fam), "fam-%04d", i);
		issue(f->s, name, fam, 1, 50, NULL);
	}
	add_token(f->s, "keep", 5000, 0);
	issue(f->s, "keep-rt", "fam-keep", 1, 5000, NULL);

	struct store_purge_counts c = purge(f->s, 100);
	/* keep-rt's access token expired at 11 like the others. */
	assert_int_equal(c.access_tokens, 1203 + 620 + 1);
	assert_int_equal(c.refresh_tokens, 620);
	assert_true(has_token(f->s, "keep"));
	assert_true(has_refresh(f->s, "keep-rt"));
	assert_false(has_refresh(f->s, "r-0619"));
}

/* ---- backup ------------------------------------------------------------------ */

/* How many entries of dir have part in their name. */
static int count_entries(const char *dir, const char *part)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, part) != NULL;
	closedir(d);
	return n;
}

static void test_backup(void **state)
{
	struct ut_store_fx *f = *state;
	world(f->s);
	add_token(f->s, "before", 5000, 0);
	char *dest = ut_path(f->dir, "copy.db");
	char err[512] = "";
	struct store_backup_info info;

	assert_int_equal(store_backup(f->s, dest, false, &info, err,
	                              sizeof(err)), STORE_OK);
	assert_true(info.pages > 0);
	struct stat st;
	assert_int_equal(stat(dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, info.bytes);
	/* One file: no -journal, -wal or .partial- beside it. */
	assert_int_equal(count_entries(f->dir, "copy.db"), 1);
	assert_int_equal(count_entries(f->dir, ".partial-"), 0);

	struct store *b = NULL;
	assert_int_equal(store_open(dest, &b, err, sizeof(err)), STORE_OK);
	assert_true(has_token(b, "before"));
	store_close(b);

	/* An existing file is kept, unless replace. */
	add_token(f->s, "after", 5000, 0);
	assert_int_equal(store_backup(f->s, dest, false, &info, err,
	                              sizeof(err)), STORE_CONFLICT);
	assert_non_null(strstr(err, "already exists"));
	assert_int_equal(store_open(dest, &b, err, sizeof(err)), STORE_OK);
	assert_false(has_token(b, "after"));
	store_close(b);
	assert_int_equal(store_backup(f->s, dest, true, &info, err,
	                              sizeof(err)), STORE_OK);
	assert_int_equal(store_open(dest, &b, err, sizeof(err)), STORE_OK);
	assert_true(has_token(b, "after"));
	store_close(b);
	free(dest);
}

static void test_backup_refusals(void **state)
{
	struct ut_store_fx *f = *state;
	char err[512] = "";
	struct store_backup_info info;
	char *wal = NULL, *missing = ut_path(f->dir, "no/such/dir.db");
	assert_true(asprintf(&wal, "%s-wal", f->path) > 0);

	/* The database itself, even with replace, and its companions even
	 * when they do not exist. */
	assert_int_equal(store_backup(f->s, f->path, true, &info, err,
	                              sizeof(err)), STORE_INVALID);
	assert_non_null(strstr(err, "is the database itself"));
	assert_int_equal(store_backup(f->s, wal, true, &info, err,
	                              sizeof(err)), STORE_INVALID);
	assert_int_equal(store_backup(f->s, f->dir, true, &info, err,
	                              sizeof(err)), STORE_INVALID);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(store_backup(f->s, missing, false, &info, err,
	                              sizeof(err)), STORE_IO);
	assert_non_null(strstr(err, "cannot create"));
	assert_int_equal(store_backup(f->s, "", false, &info, err,
	                              sizeof(err)), STORE_INVALID);
	/* Nothing was left behind, nor made where it was refused. */
	assert_int_equal(count_entries(f->dir, ".partial-"), 0);
	assert_int_equal(count_entries(f->dir, "no"), 0);
	free(wal);
	free(missing);
}

/* A writer adds tokens all along; the copy holds at least those added
 * before it began, and checks out. */
struct writer {
	struct store *s;
	atomic_int added;
	atomic_bool stop;
	atomic_int failures;
};

static void *write_tokens(void *arg)
{
	struct writer *w = arg;
	for (int i = 0; !atomic_load(&w->stop); i++) {
		char jti[32];
		snprintf(jti, sizeof(jti), "w-%06d", i);
		struct store_token t = {
		    .jti = jti, .client_id = (char *)"c1",
		    .subject = (char *)"c1", .scope = (char *)"",
		    .kid = (char *)"kid-1", .issued_at = 1, .expires_at = 5000,
		};
		if (ut_token_add(w->s, &t) != STORE_OK)
			atomic_fetch_add(&w->failures, 1);
		else
			atomic_store(&w->added, i + 1);
	}
	store_thread_end(w->s);
	return NULL;
}

static void test_backup_while_writing(void **state)
{
	struct ut_store_fx *f = *state;
	world(f->s);
	/* Enough pages that the copy takes many steps: long scopes. */
	char scope[1201];
	memset(scope, 'x', sizeof(scope) - 1);
	scope[sizeof(scope) - 1] = '\0';
	for (int i = 0; i < 4000; i++) {
		char jti[32];
		snprintf(jti, sizeof(jti), "pre-%05d", i);
		struct store_token t = {
		    .jti = jti, .client_id = (char *)"c1",
		    .subject = (char *)"c1", .scope = scope,
		    .kid = (char *)"kid-1", .issued_at = 1, .expires_at = 5000,
		};
		assert_int_equal(ut_token_add(f->s, &t), STORE_OK);
	}
	struct writer w = {.s = f->s};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, write_tokens, &w), 0);
	while (atomic_load(&w.added) < 50 && atomic_load(&w.failures) == 0)
		sched_yield();
	int before = atomic_load(&w.added);

	char *dest = ut_path(f->dir, "live.db");
	char err[512] = "";
	struct store_backup_info info;
	enum store_rc r = store_backup(f->s, dest, false, &info, err,
	                               sizeof(err));
	atomic_store(&w.stop, true);
	assert_int_equal(pthread_join(th, NULL), 0);
	if (r != STORE_OK)
		fail_msg("store_backup: %s: %s", store_rc_str(r), err);
	assert_int_equal(atomic_load(&w.failures), 0);
	/* Copied in many steps, with commits in between. */
	assert_true(info.pages > 4 * 256);

	struct store *b = NULL;
	assert_int_equal(store_open(dest, &b, err, sizeof(err)), STORE_OK);
	assert_true(has_token(b, "pre-03999"));
	char jti[32];
	snprintf(jti, sizeof(jti), "w-%06d", before - 1);
	assert_true(has_token(b, jti));
	store_close(b);
	free(dest);
}

/* PostgreSQL: a consistent copy is pg_dump's job; backup says so, and
 * writes nothing. */
static void test_backup_names_pg_dump(void **state)
{
	struct ut_store_fx *f = *state;
	if (f->pg_db == NULL)
		return; /* SQLite: test_backup */
	struct store_backup_info info = {1, 1};
	char err[512] = "";
	char *dest = ut_path(f->dir, "copy.db");
	assert_int_not_equal(store_backup(f->s, dest, false, &info, err,
	                                  sizeof(err)), STORE_OK);
	assert_non_null(strstr(err, "pg_dump"));
	assert_int_equal(info.bytes, 0);
	assert_int_equal(count_entries(f->dir, "copy.db"), 0);
	free(dest);
}

int main(void)
{
	/* What both backends must do alike. */
	const struct CMUnitTest both[] = {
	    cmocka_unit_test_setup_teardown(test_purge_access_tokens, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_purge_refresh_families,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_purge_codes_and_sessions,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_purge_batches, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_backup_names_pg_dump,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	};
	/* The SQLite file's own care: synchronous, the backup copy. */
	const struct CMUnitTest sqlite_only[] = {
	    cmocka_unit_test(test_durability),
	    cmocka_unit_test_setup_teardown(test_backup, ut_store_fx_setup, ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_backup_refusals, ut_store_fx_setup,
	                                    ut_store_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_backup_while_writing,
	                                    ut_store_fx_setup, ut_store_fx_teardown),
	};
	int failed = cmocka_run_group_tests_name("sqlite_only", sqlite_only,
	                                         NULL, NULL);
	return failed | ut_run_backends(both);
}
