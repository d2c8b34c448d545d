/*
 * test_migrate.c: storage/migrate.c: the embedded migrations, applying
 * them to a new database, idempotence, refusing a database from a newer
 * binary or with an edited migration, rolling back a failed migration and
 * two connections migrating at once. The database is tampered with through
 * the sqlite3 API directly. The same guarantees on PostgreSQL
 * (storage/pg_migrate.c, tampering through libpq) when LK_TEST_PG names a
 * server.
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
#include <sqlite3.h>

#include "crypto.h"
#include "migrate.h"
#include "unit_util.h"

struct fx {
	char *dir;
	char *path;
	sqlite3 *db;
};

static sqlite3 *open_db(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = ut_tmpdir();
	f->path = ut_path(f->dir, "m.db");
	f->db = open_db(f->path);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	sqlite3_close(f->db);
	ut_rmtree(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		char copy[256];
		snprintf(copy, sizeof(copy), "%s", msg ? msg : "?");
		sqlite3_free(msg);
		fail_msg("%s: %s", sql, copy);
	}
}

/* The single integer a query returns. */
static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void migrate_ok(sqlite3 *db, int want_applied)
{
	char err[512] = "";
	int applied = -1, schema = -1;
	enum store_rc rc = migrate_sqlite(db, &applied, &schema, err, sizeof(err));
	if (rc != STORE_OK)
		fail_msg("migrate_sqlite: %s: %s", store_rc_str(rc), err);
	assert_int_equal(applied, want_applied);
	assert_int_equal(schema, migrate_latest());
}

static void test_embedded(void **state)
{
	(void)state;
	assert_true(lk_migrations_count >= 1);
	assert_int_equal(lk_migrations[0].version, 1);
	assert_string_equal(lk_migrations[0].name, "init");
	for (size_t i = 0; i < lk_migrations_count; i++) {
		assert_true(lk_migrations[i].version >= 1);
		if (i > 0)
			assert_true(lk_migrations[i].version > lk_migrations[i - 1].version);
		assert_true(strlen(lk_migrations[i].name) > 0);
		assert_non_null(strstr(lk_migrations[i].sql, ";"));
	}
	assert_int_equal(migrate_latest(),
	                 lk_migrations[lk_migrations_count - 1].version);
	assert_non_null(strstr(lk_migrations[0].sql, "CREATE TABLE clients"));
}

static void test_fresh_then_idempotent(void **state)
{
	struct fx *f = *state;
	int v = -1;
	assert_int_equal(migrate_sqlite_version(f->db, &v), STORE_OK);
	assert_int_equal(v, 0);

	migrate_ok(f->db, (int)lk_migrations_count);
	assert_int_equal(migrate_sqlite_version(f->db, &v), STORE_OK);
	assert_int_equal(v, migrate_latest());
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM schema_migrations"),
	                 (int64_t)lk_migrations_count);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM sqlite_schema "
	                                  "WHERE type='table' AND name IN ("
	                                  "'clients','users','signing_keys',"
	                                  "'access_tokens','refresh_tokens',"
	                                  "'authorization_codes','sessions',"
	                                  "'consents')"),
	                 8);
	/* Every foreign key that cascades has an index on its column, so
	 * removing a user or client never scans a table (migration 0004). */
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM sqlite_schema "
	                                  "WHERE type='index' AND name IN ("
	                                  "'authorization_codes_client',"
	                                  "'authorization_codes_subject',"
	                                  "'sessions_user','consents_client')"),
	                 4);
	/* Migration 0010: the family index holds only tokens with a family,
	 * and a lookup by family still uses it. */
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM sqlite_schema "
	                                  "WHERE name='access_tokens_family' "
	                                  "AND sql LIKE '%WHERE family_id IS "
	                                  "NOT NULL'"),
	                 1);
	sqlite3_stmt *plan = NULL;
	assert_int_equal(sqlite3_prepare_v2(f->db, "EXPLAIN QUERY PLAN UPDATE "
	                                    "access_tokens SET revoked_at=1 "
	                                    "WHERE family_id=?1 AND revoked_at "
	                                    "IS NULL", -1, &plan, NULL),
	                 SQLITE_OK);
	bool indexed = false;
	while (sqlite3_step(plan) == SQLITE_ROW)
		indexed = indexed || strstr((const char *)sqlite3_column_text(
		                                plan, 3),
		                            "INDEX access_tokens_family") != NULL;
	sqlite3_finalize(plan);
	assert_true(indexed);

	/* Each row carries the SHA-256 of its migration's text. */
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT checksum, name FROM "
	                                    "schema_migrations WHERE version=1",
	                                    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	unsigned char d[SHA256_LEN];
	char want[2 * SHA256_LEN + 1];
	sha256(lk_migrations[0].sql, strlen(lk_migrations[0].sql), d);
	for (int i = 0; i < SHA256_LEN; i++)
		snprintf(want + 2 * i, 3, "%02x", d[i]);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), want);
	assert_string_equal((const char *)sqlite3_column_text(st, 1), "init");
	sqlite3_finalize(st);

	/* Nothing left to do, twice. */
	migrate_ok(f->db, 0);
	migrate_ok(f->db, 0);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM schema_migrations"),
	                 (int64_t)lk_migrations_count);
}

static void test_newer_refused(void **state)
{
	struct fx *f = *state;
	migrate_ok(f->db, (int)lk_migrations_count);
	exec_ok(f->db, "INSERT INTO schema_migrations VALUES "
	               "(9999, 'future', 'x', 0)");
	char err[512] = "";
	int applied = -1, schema = -1;
	assert_int_equal(migrate_sqlite(f->db, &applied, &schema, err, sizeof(err)),
	                 STORE_SCHEMA_NEWER);
	assert_non_null(strstr(err, "newer"));
	assert_non_null(strstr(err, "9999"));
	assert_int_equal(applied, 0);
	assert_int_equal(schema, 0);
	int v = -1;
	assert_int_equal(migrate_sqlite_version(f->db, &v), STORE_OK);
	assert_int_equal(v, 9999);

	/* The same through the store interface. */
	struct store *s = NULL;
	assert_int_equal(store_open(f->path, &s, err, sizeof(err)), STORE_OK);
	err[0] = '\0';
	assert_int_equal(store_migrate(s, &applied, &schema, err, sizeof(err)),
	                 STORE_SCHEMA_NEWER);
	assert_non_null(strstr(err, "newer"));
	int db = -1, bin = -1;
	assert_int_equal(store_schema_version(s, &db, &bin), STORE_OK);
	assert_int_equal(db, 9999);
	assert_int_equal(bin, migrate_latest());
	store_close(s);
}

static void test_edited_refused(void **state)
{
	struct fx *f = *state;
	migrate_ok(f->db, (int)lk_migrations_count);
	exec_ok(f->db, "UPDATE schema_migrations SET checksum='x'");
	char err[512] = "";
	int applied = -1, schema = -1;
	assert_int_equal(migrate_sqlite(f->db, &applied, &schema, err, sizeof(err)),
	                 STORE_SCHEMA_EDITED);
	assert_non_null(strstr(err, "0001_init"));
	assert_non_null(strstr(err, "edited"));
	assert_int_equal(applied, 0);
	assert_int_equal(schema, 0);

	struct store *s = NULL;
	assert_int_equal(store_open(f->path, &s, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_migrate(s, &applied, &schema, err, sizeof(err)),
	                 STORE_SCHEMA_EDITED);
	store_close(s);

	/* A NULL checksum is an edit too. */
	sqlite3_close(f->db);
	f->db = NULL;
	char *p2 = ut_path(f->dir, "m2.db");
	sqlite3 *db2 = open_db(p2);
	migrate_ok(db2, (int)lk_migrations_count);
	exec_ok(db2, "CREATE TABLE sm2 AS SELECT * FROM schema_migrations;"
	             "DROP TABLE schema_migrations;"
	             "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
	             " name TEXT, checksum TEXT, applied_at INTEGER);"
	             "INSERT INTO schema_migrations SELECT version, name, NULL,"
	             " applied_at FROM sm2;");
	assert_int_equal(migrate_sqlite(db2, &applied, &schema, err, sizeof(err)),
	                 STORE_SCHEMA_EDITED);
	sqlite3_close(db2);
	free(p2);
}

static void test_failed_migration_rolls_back(void **state)
{
	struct fx *f = *state;
	/* A table in the way makes 0001's CREATE TABLE clients fail. */
	exec_ok(f->db, "CREATE TABLE users (x INTEGER)");
	char err[512] = "";
	int applied = -1, schema = -1;
	enum store_rc rc = migrate_sqlite(f->db, &applied, &schema, err,
	                                  sizeof(err));
	assert_int_not_equal(rc, STORE_OK);
	assert_non_null(strstr(err, "0001_init"));
	assert_int_equal(applied, 0);
	/* Nothing of the failed migration stayed behind. */
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM schema_migrations"),
	                 0);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM sqlite_schema "
	                                  "WHERE name='clients'"), 0);
	int v = -1;
	assert_int_equal(migrate_sqlite_version(f->db, &v), STORE_OK);
	assert_int_equal(v, 0);
	/* Out of the way, it applies. */
	exec_ok(f->db, "DROP TABLE users");
	migrate_ok(f->db, (int)lk_migrations_count);
}

struct racer {
	const char *path;
	enum store_rc rc;
	int applied;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	sqlite3 *db = NULL;
	char err[256];
	int schema;
	if (sqlite3_open(r->path, &db) != SQLITE_OK) {
		r->rc = STORE_INVALID;
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	r->rc = migrate_sqlite(db, &r->applied, &schema, err, sizeof(err));
	sqlite3_close(db);
	return NULL;
}

static void test_concurrent_migrations(void **state)
{
	struct fx *f = *state;
	struct racer r[3];
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		r[i] = (struct racer){f->path, STORE_IO, -1};
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	int total = 0;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(r[i].rc, STORE_OK);
		total += r[i].applied;
	}
	/* Each migration was applied by exactly one of them. */
	assert_int_equal(total, (int)lk_migrations_count);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM schema_migrations"),
	                 (int64_t)lk_migrations_count);
}

/* ---- PostgreSQL ---------------------------------------------------------- */

struct pgfx {
	char *name; /* the database */
	char *uri;
	PGconn *db; /* for tampering */
};

static int pgfx_setup(void **state)
{
	struct pgfx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->uri = ut_pg_create(&f->name);
	f->db = PQconnectdb(f->uri);
	assert_int_equal(PQstatus(f->db), CONNECTION_OK);
	*state = f;
	return 0;
}

static int pgfx_teardown(void **state)
{
	struct pgfx *f = *state;
	PQfinish(f->db);
	ut_pg_drop(f->name);
	free(f->name);
	free(f->uri);
	free(f);
	return 0;
}

static void pg_exec_ok(PGconn *db, const char *sql)
{
	PGresult *r = PQexec(db, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
}

static int64_t pg_query_int(PGconn *db, const char *sql)
{
	PGresult *r = PQexec(db, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* Opens the store on f's database and migrates; returns the result. */
static enum store_rc pg_migrate_once(const char *uri, int *applied,
                                     int *schema, char *err, size_t errlen)
{
	struct store *s = NULL;
	enum store_rc rc = store_open(uri, &s, err, errlen);
	if (rc != STORE_OK)
		return rc;
	rc = store_migrate(s, applied, schema, err, errlen);
	store_close(s);
	return rc;
}

static int pg_latest(void)
{
	return lk_migrations_pg[lk_migrations_pg_count - 1].version;
}

/* Same numbers and names as SQLite's (DECISIONS: "the same numbers"). */
static void test_pg_embedded(void **state)
{
	(void)state;
	assert_true(lk_migrations_pg_count >= lk_migrations_count);
	for (size_t i = 0; i < lk_migrations_count; i++) {
		assert_int_equal(lk_migrations_pg[i].version,
		                 lk_migrations[i].version);
		assert_string_equal(lk_migrations_pg[i].name,
		                    lk_migrations[i].name);
		assert_non_null(strstr(lk_migrations_pg[i].sql, "(PostgreSQL)"));
	}
	assert_int_equal(pg_latest(), migrate_latest());
}

static void test_pg_fresh_then_idempotent(void **state)
{
	struct pgfx *f = *state;
	char err[512] = "";
	int applied = -1, schema = -1;
	assert_int_equal(pg_migrate_once(f->uri, &applied, &schema, err,
	                                 sizeof(err)), STORE_OK);
	assert_int_equal(applied, (int)lk_migrations_pg_count);
	assert_int_equal(schema, pg_latest());
	assert_int_equal(pg_query_int(f->db, "SELECT count(*) FROM "
	                              "information_schema.tables WHERE "
	                              "table_name IN ('clients','users',"
	                              "'signing_keys','access_tokens',"
	                              "'refresh_tokens','authorization_codes',"
	                              "'sessions','consents')"), 8);
	assert_int_equal(pg_query_int(f->db, "SELECT count(*) FROM pg_indexes "
	                              "WHERE indexname IN ("
	                              "'authorization_codes_client',"
	                              "'authorization_codes_subject',"
	                              "'sessions_user','consents_client',"
	                              "'signing_keys_current_alg')"), 5);
	/* Migration 0010: the family index holds only tokens with a family. */
	assert_int_equal(pg_query_int(f->db, "SELECT count(*) FROM pg_indexes "
	                              "WHERE indexname='access_tokens_family' "
	                              "AND indexdef LIKE '%WHERE (family_id IS "
	                              "NOT NULL)'"),
	                 1);
	/* Migration 0008 replaced the one-current-key index. */
	assert_int_equal(pg_query_int(f->db, "SELECT count(*) FROM pg_indexes "
	                              "WHERE indexname='signing_keys_current'"),
	                 0);
	/* Each row carries the SHA-256 of its PostgreSQL text. */
	unsigned char d[SHA256_LEN];
	char want[2 * SHA256_LEN + 1], sql[256];
	sha256(lk_migrations_pg[0].sql, strlen(lk_migrations_pg[0].sql), d);
	for (int i = 0; i < SHA256_LEN; i++)
		snprintf(want + 2 * i, 3, "%02x", d[i]);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM schema_migrations "
	         "WHERE version=1 AND name='init' AND checksum='%s'", want);
	assert_int_equal(pg_query_int(f->db, sql), 1);
	/* Nothing left to do, twice. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pg_migrate_once(f->uri, &applied, &schema, err,
		                                 sizeof(err)), STORE_OK);
		assert_int_equal(applied, 0);
		assert_int_equal(schema, pg_latest());
	}
	assert_int_equal(pg_query_int(f->db, "SELECT count(*) FROM "
	                              "schema_migrations"),
	                 (int64_t)lk_migrations_pg_count);
}

static void test_pg_newer_refused(void **state)
{
	struct pgfx *f = *state;
	char err[512] = "";
	int applied = -1, schema = -1;
	assert_int_equal(pg_migrate_once(f->uri, &applied, &schema, err,
	                                 sizeof(err)), STORE_OK);
	pg_exec_ok(f->db, "INSERT INTO schema_migrations VALUES "
	                  "(9999, 'future', 'x', 0)");
	assert_int_equal(pg_migrate_once(f->uri, &applied, &schema, err,
	                                 sizeof(err)), STORE_SCHEMA_NEWER);
	assert_non_null(strstr(err, "newer"));
	assert_non_null(strstr(err, "9999"));
	assert_int_equal(applied, 0);
	struct store *s = NULL;
	int db = -1, bin = -1;
	assert_int_equal(store_open(f->uri, &s, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_schema_version(s, &db, &bin), STORE_OK);
	assert_int_equal(db, 9999);
	assert_int_equal(bin, pg_latest());
	store_close(s);
}

static void test_pg_edited_refused(void **state)
{
	struct pgfx *f = *state;
	char err[512] = "";
	int applied = -1, schema = -1;
	assert_int_equal(pg_migrate_once(f->uri, &applied, &schema, err,
	                                 sizeof(err)), STORE_OK);
	pg_exec_ok(f->db, "UPDATE schema_migrations SET checksum='x'");
	assert_int_equal(pg_migrate_once(f->uri, &applied, &schema, err,
	                                 sizeof(err)), STORE_SCHEMA_EDITED);
	assert_non_null(strstr(err, "0001_init"));
	assert_non_null(strstr(err, "edited"));
	assert_int_equal(applied, 0);
	assert_int_equal(schema, 0);
}

static void test_pg_failed_migration_rolls_back(void **state)
{
	struct pgfx *f = *state;
	char err[512] = "";
	int applied = -1, schema = -1;
	/* A table in the way makes 0001's CREATE TABLE users fail. */
	pg_exec_ok(f->db, "CREATE TABLE users (x INTEGER)");
	assert_int_not_equal(pg_migrate_once(f->uri, &applied, &schema, err,
	                                     sizeof(err)), STORE_OK);
	assert_non_null(strstr(err, "0001_init"));
	assert_int_equal(applied, 0);
	/* DDL is transactional on PostgreSQL: nothing stayed behind, not
	 * even schema_migrations, made in the same transaction. */
	assert_int_equal(pg_query_int(f->db, "SELECT count(*) FROM "
	                              "information_schema.tables WHERE "
	                              "table_name IN ('clients', "
	                              "'schema_migrations')"), 0);
	pg_exec_ok(f->db, "DROP TABLE users");
	assert_int_equal(pg_migrate_once(f->uri, &applied, &schema, err,
	                                 sizeof(err)), STORE_OK);
	assert_int_equal(applied, (int)lk_migrations_pg_count);
}

struct pg_racer {
	const char *uri;
	enum store_rc rc;
	int applied;
};

static void *pg_race(void *arg)
{
	struct pg_racer *r = arg;
	char err[256];
	int schema;
	r->rc = pg_migrate_once(r->uri, &r->applied, &schema, err, sizeof(err));
	return NULL;
}

/* The advisory lock: each migration is applied by exactly one of them. */
static void test_pg_concurrent_migrations(void **state)
{
	struct pgfx *f = *state;
	struct pg_racer r[3];
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		r[i] = (struct pg_racer){f->uri, STORE_IO, -1};
		assert_int_equal(pthread_create(&th[i], NULL, pg_race, &r[i]), 0);
	}
	int total = 0;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(r[i].rc, STORE_OK);
		total += r[i].applied;
	}
	assert_int_equal(total, (int)lk_migrations_pg_count);
	assert_int_equal(pg_query_int(f->db, "SELECT count(*) FROM "
	                              "schema_migrations"),
	                 (int64_t)lk_migrations_pg_count);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_embedded),
	    cmocka_unit_test(test_pg_embedded),
	    cmocka_unit_test_setup_teardown(test_fresh_then_idempotent, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_newer_refused, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_edited_refused, fx_setup,
	                                    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_failed_migration_rolls_back,
	                                    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_migrations, fx_setup,
	                                    fx_teardown),
	};
	const struct CMUnitTest pg[] = {
	    cmocka_unit_test_setup_teardown(test_pg_fresh_then_idempotent,
	                                    pgfx_setup, pgfx_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_newer_refused, pgfx_setup,
	                                    pgfx_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_edited_refused, pgfx_setup,
	                                    pgfx_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_failed_migration_rolls_back,
	                                    pgfx_setup, pgfx_teardown),
	    cmocka_unit_test_setup_teardown(test_pg_concurrent_migrations,
	                                    pgfx_setup, pgfx_teardown),
	};
	int failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);
	if (ut_pg_uri() == NULL) {
		printf("LK_TEST_PG unset: the PostgreSQL migration tests are "
		       "skipped\n");
		return failed;
	}
	return failed | cmocka_run_group_tests_name("postgresql", pg, NULL,
	                                            NULL);
}
