/*
 * pg_migrate.c: applies lk_migrations_pg (migrations/postgresql/ and the
 * shared files, embedded at build time) to a PostgreSQL database, with the
 * guarantees migrate.c gives on SQLite: one row per applied migration in
 * schema_migrations with the SHA-256 of its PostgreSQL text (checksums are
 * per dialect), a database migrated by a newer Latchkey or with an edited
 * migration refused with a clear message, and each migration in a
 * transaction of its own.
 *
 * Two processes migrating at once serialize on a transaction-scoped
 * advisory lock (PG_MIGRATE_LOCK): the second waits, then sees the first
 * one's work and applies nothing twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "migrate.h"
#include "pg_int.h"

/* The advisory lock key of migrations: "LKMIGRAT" read as an integer, so
 * it meets no other application's lock by chance. */
#define PG_MIGRATE_LOCK "5498882163001575764"

static const char create_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " checksum TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL)";

static const struct pg_stmt st_version = {
	"mig_version",
	"SELECT coalesce(max(version), 0) FROM schema_migrations"};
static const struct pg_stmt st_applied = {
	"mig_applied",
	"SELECT version, checksum FROM schema_migrations ORDER BY version"};
static const struct pg_stmt st_record = {
	"mig_record",
	"INSERT INTO schema_migrations (version, name, checksum, applied_at) "
	"VALUES ($1::integer, $2, $3, $4::bigint)"};
static const struct pg_stmt st_exists = {
	"mig_exists", "SELECT to_regclass('schema_migrations') IS NOT NULL"};

static int latest(void)
{
	return lk_migrations_pg_count
	           ? lk_migrations_pg[lk_migrations_pg_count - 1].version
	           : 0;
}

/* The applied version on c (0: no schema_migrations yet). */
static enum store_rc read_version(struct pg_conn *c, int *version)
{
	PGresult *res = NULL;
	*version = 0;
	enum store_rc r = pg_run(c, &st_exists, NULL, &res, NULL);
	bool exists = r == STORE_OK && PQntuples(res) == 1 &&
	              strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (r != STORE_OK || !exists)
		return r;
	r = pg_run(c, &st_version, NULL, &res, NULL);
	if (r == STORE_OK && PQntuples(res) == 1)
		*version = (int)pg_col_int(res, 0, 0);
	PQclear(res);
	return r;
}

/* Checks every applied migration against the embedded text. */
static enum store_rc verify_applied(struct pg_conn *c, char *err,
                                    size_t errlen)
{
	PGresult *res = NULL;
	enum store_rc r = pg_run(c, &st_applied, NULL, &res, NULL);
	for (int row = 0; r == STORE_OK && row < PQntuples(res); row++) {
		int v = (int)pg_col_int(res, row, 0);
		const char *sum = PQgetvalue(res, row, 1);
		for (size_t i = 0; i < lk_migrations_pg_count; i++) {
			const struct migration *m = &lk_migrations_pg[i];
			char want[2 * SHA256_LEN + 1];
			if (m->version != v)
				continue;
			sha256_hex(m->sql, want);
			if (strcmp(sum, want) != 0) {
				snprintf(err, errlen,
				         "migration %04d_%s was applied with different "
				         "text than this binary carries; migrations must "
				         "never be edited once applied",
				         v, m->name);
				r = STORE_SCHEMA_EDITED;
			}
		}
	}
	PQclear(res);
	return r;
}

static enum store_rc apply_one(struct pg_conn *c, const struct migration *m,
                               char *err, size_t errlen)
{
	char msg[256] = "";
	enum store_rc r = pg_exec_sql(c, m->sql, msg, sizeof(msg));
	if (r != STORE_OK) {
		snprintf(err, errlen, "migration %04d_%s failed: %s", m->version,
		         m->name, msg);
		return r;
	}
	char sum[2 * SHA256_LEN + 1];
	sha256_hex(m->sql, sum);
	struct pg_params p = {0};
	pg_p_int(&p, m->version);
	pg_p_text(&p, m->name);
	pg_p_text(&p, sum);
	pg_p_int(&p, clock_now());
	r = pg_run(c, &st_record, &p, NULL, NULL);
	if (r != STORE_OK)
		snprintf(err, errlen, "recording migration %04d: %s", m->version,
		         store_rc_str(r));
	return r;
}

/* One step, in the transaction the caller holds with the lock taken: the
 * checks, then the next pending migration if any (*next says which). */
static enum store_rc step(struct pg_conn *c, int *version,
                          const struct migration **next, char *err,
                          size_t errlen)
{
	*next = NULL;
	enum store_rc r = read_version(c, version);
	if (r == STORE_OK)
		r = verify_applied(c, err, errlen);
	if (r == STORE_OK && *version > latest()) {
		snprintf(err, errlen,
		         "database schema version %d is newer than this binary's "
		         "%d; upgrade Latchkey before using this database",
		         *version, latest());
		return STORE_SCHEMA_NEWER;
	}
	for (size_t i = 0; r == STORE_OK && i < lk_migrations_pg_count; i++) {
		if (lk_migrations_pg[i].version > *version) {
			*next = &lk_migrations_pg[i];
			break;
		}
	}
	if (r == STORE_OK && *next != NULL)
		r = apply_one(c, *next, err, errlen);
	return r;
}

enum store_rc pg_migrate(struct store *base, int *applied, int *schema,
                         char *err, size_t errlen)
{
	struct pg_store *s = (struct pg_store *)base;
	enum store_rc r;
	*applied = 0;
	*schema = 0;
	struct pg_conn *c = pg_acquire(s, &r);
	if (c == NULL) {
		snprintf(err, errlen, "%s", store_rc_str(r));
		return r;
	}
	for (;;) {
		int version = 0;
		const struct migration *next = NULL;
		char msg[256] = "";
		/* The lock is taken before schema_migrations is created, so
		 * that CREATE does not race either. */
		r = pg_exec_sql(c, "BEGIN; SELECT pg_advisory_xact_lock("
		                PG_MIGRATE_LOCK ")", msg, sizeof(msg));
		if (r == STORE_OK)
			r = pg_exec_sql(c, create_table, msg, sizeof(msg));
		if (r != STORE_OK)
			snprintf(err, errlen, "locking database for migration: %s",
			         msg);
		if (r == STORE_OK)
			r = step(c, &version, &next, err, errlen);
		if (r != STORE_OK || next == NULL) {
			(void)pg_exec_sql(c, r == STORE_OK ? "COMMIT" : "ROLLBACK",
			                  NULL, 0);
			*schema = r == STORE_OK ? version : 0;
			break;
		}
		r = pg_exec_sql(c, "COMMIT", msg, sizeof(msg));
		if (r != STORE_OK) {
			snprintf(err, errlen, "committing migration %04d: %s",
			         next->version, msg);
			break;
		}
		(*applied)++;
	}
	pg_release(s, c);
	return r;
}

enum store_rc pg_schema_version(struct store *base, int *db, int *binary)
{
	struct pg_store *s = (struct pg_store *)base;
	enum store_rc r;
	*binary = latest();
	*db = 0;
	struct pg_conn *c = pg_acquire(s, &r);
	if (c == NULL)
		return r;
	r = read_version(c, db);
	pg_release(s, c);
	return r;
}
