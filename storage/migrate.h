/*
 * migrate.h: the embedded migrations and the SQLite runner.
 *
 * lk_migrations[] is generated at build time from migrations/NNNN_name.sql
 * (cmake/embed_migrations.cmake), in ascending version order.
 */
#ifndef LK_MIGRATE_H
#define LK_MIGRATE_H

#include <stddef.h>

#include "store.h"

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration lk_migrations[];
extern const size_t lk_migrations_count;
/* PostgreSQL's (migrations/postgresql/, then the shared files), in
 * ascending version order; checksums are of these texts. */
extern const struct migration lk_migrations_pg[];
extern const size_t lk_migrations_pg_count;

struct sqlite3;

/* Version the embedded migrations bring a database to. */
int migrate_latest(void);

/* Applies each pending migration in its own IMMEDIATE transaction. Refuses a
 * database migrated past this binary, or one whose applied migration text
 * differs from the embedded one (migrations are never edited). */
enum store_rc migrate_sqlite(struct sqlite3 *db, int *applied, int *schema,
                             char *err, size_t errlen);
/* Reads the applied version (0 for a new database). */
enum store_rc migrate_sqlite_version(struct sqlite3 *db, int *version);

#endif
