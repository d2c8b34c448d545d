/* store_int.h: declarations shared inside storage/ only. */
#ifndef LK_STORE_INT_H
#define LK_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

/* Maps a SQLite result code to the store's. */
enum store_rc store_sqlite_rc(int rc);

enum store_rc store_sqlite_open(const char *path,
                                const struct store_options *o,
                                struct store **out, char *err, size_t errlen);

/* pg_store.c: opens the PostgreSQL backend on a postgresql:// URI. */
enum store_rc store_pg_open(const char *uri, const struct store_options *o,
                            struct store **out, char *err, size_t errlen);

/* backup_sqlite.c: copies the database open on src to a new file at dest
 * (store_backup's contract, store.h). src must be in no transaction and
 * is used by the calling thread only. */
enum store_rc store_sqlite_backup(sqlite3 *src, const char *dest,
                                  bool replace, struct store_backup_info *out,
                                  char *err, size_t errlen);

/* copy_catalog.c: "a, b, c" of t's columns into buf (truncated to len), for the
 * backends' copy SQL. */
void store_copy_col_list(const struct store_copy_table *t, char *buf,
                         size_t len);
/* copy_catalog.c: the SQL of xCount and of xRead on table t, in sql of
 * len. The select reads the columns in the catalogue's order and the rows
 * in its order_by, else in insertion_order (the backend's own: rowid,
 * seq); STORE_INVALID when t has more columns than a row holds. */
void store_copy_count_sql(const struct store_copy_table *t, char *sql,
                          size_t len);
enum store_rc store_copy_select_sql(const struct store_copy_table *t,
                                    const char *insertion_order, char *sql,
                                    size_t len);

/* For tests: PRAGMA synchronous of the calling thread's connection (1
 * NORMAL, 2 FULL), or -1. */
int store_sqlite_synchronous(struct store *s);

#endif
