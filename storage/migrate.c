/*
 * migrate.c: applies migrations/NNNN_name.sql to a SQLite database (see
 * migrate.h). Owns the schema_migrations table: one row per applied
 * migration with the SHA-256 of its text, which is how an edited migration
 * is caught.
 */
#include "migrate.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "store_int.h"

static const char create_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " checksum TEXT NOT NULL,"
    " applied_at INTEGER NOT NULL)";

int migrate_latest(void)
{
	return lk_migrations_count ? lk_migrations[lk_migrations_count - 1].version
	                           : 0;
}

enum store_rc migrate_sqlite_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *st = NULL;
	*version = 0;
	int rc = sqlite3_prepare_v2(db,
	    "SELECT name FROM sqlite_schema WHERE type='table' AND "
	    "name='schema_migrations'", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_rc(rc);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	if (rc != SQLITE_ROW)
		return store_sqlite_rc(rc);
	rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM "
	                        "schema_migrations", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_rc(rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? STORE_OK : store_sqlite_rc(rc);
}

/* Checks every applied migration against the embedded text. */
static enum store_rc verify_applied(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT version, checksum FROM "
	                            "schema_migrations ORDER BY version", -1, &st,
	                            NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_rc(rc);
	enum store_rc out = STORE_OK;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int v = sqlite3_column_int(st, 0);
		const char *sum = (const char *)sqlite3_column_text(st, 1);
		for (size_t i = 0; i < lk_migrations_count; i++) {
			if (lk_migrations[i].version != v)
				continue;
			char want[2 * SHA256_LEN + 1];
			sha256_hex(lk_migrations[i].sql, want);
			if (sum == NULL || strcmp(sum, want) != 0) {
				snprintf(err, errlen,
				         "migration %04d_%s was applied with different "
				         "text than this binary carries; migrations must "
				         "never be edited once applied",
				         v, lk_migrations[i].name);
				out = STORE_SCHEMA_EDITED;
			}
		}
		if (out != STORE_OK)
			break;
	}
	sqlite3_finalize(st);
	if (out == STORE_OK && rc != SQLITE_DONE)
		out = store_sqlite_rc(rc);
	return out;
}

static enum store_rc apply_one(sqlite3 *db, const struct migration *m,
                               char *err, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, m->sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "migration %04d_%s failed: %s", m->version,
		         m->name, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return store_sqlite_rc(rc);
	}
	char sum[2 * SHA256_LEN + 1];
	sha256_hex(m->sql, sum);
	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v2(db, "INSERT INTO schema_migrations (version, "
	                        "name, checksum, applied_at) VALUES (?,?,?,?)",
	                        -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int(st, 1, m->version);
		sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, sum, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, clock_now());
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		snprintf(err, errlen, "recording migration %04d: %s", m->version,
		         sqlite3_errmsg(db));
		return store_sqlite_rc(rc);
	}
	return STORE_OK;
}

enum store_rc migrate_sqlite(sqlite3 *db, int *applied, int *schema,
                             char *err, size_t errlen)
{
	*applied = 0;
	*schema = 0;
	int rc = sqlite3_exec(db, create_table, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "creating schema_migrations: %s",
		         sqlite3_errmsg(db));
		return store_sqlite_rc(rc);
	}
	for (;;) {
		/* IMMEDIATE: two processes migrating at once serialize here and
		 * the second one sees the first one's work. */
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "locking database for migration: %s",
			         sqlite3_errmsg(db));
			return store_sqlite_rc(rc);
		}
		int version;
		enum store_rc r = migrate_sqlite_version(db, &version);
		if (r == STORE_OK)
			r = verify_applied(db, err, errlen);
		if (r == STORE_OK && version > migrate_latest()) {
			snprintf(err, errlen,
			         "database schema version %d is newer than this "
			         "binary's %d; upgrade Latchkey before using this "
			         "database", version, migrate_latest());
			r = STORE_SCHEMA_NEWER;
		}
		const struct migration *next = NULL;
		for (size_t i = 0; r == STORE_OK && i < lk_migrations_count; i++) {
			if (lk_migrations[i].version > version) {
				next = &lk_migrations[i];
				break;
			}
		}
		if (r == STORE_OK && next != NULL)
			r = apply_one(db, next, err, errlen);
		if (r != STORE_OK || next == NULL) {
			sqlite3_exec(db, r == STORE_OK ? "COMMIT" : "ROLLBACK", NULL,
			             NULL, NULL);
			*schema = r == STORE_OK ? version : 0;
			return r;
		}
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "committing migration %04d: %s",
			         next->version, sqlite3_errmsg(db));
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return store_sqlite_rc(rc);
		}
		(*applied)++;
	}
}
