/*
 * sqlite_copy.c: the SQLite backend's copy table (store.h struct
 * store_copy_methods; map: sqlite_int.h): reading catalogue tables in one
 * read transaction, and writing them in one write transaction, on a
 * connection of the copy's own. Which tables and columns exist is the
 * catalogue's (copy.c); the SQL is built from it.
 *
 * A read transaction in WAL mode sees one snapshot from its first read on,
 * while writers go on; the write transaction holds the store's write_mu
 * and the file's write lock until xEnd, and a rollback leaves the file as
 * it was. Rows stream: one sqlite3_step per row on the read side, one
 * prepared INSERT reset per row on the write side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"
#include "strutil.h"

struct sq_copy {
	struct store_copy base; /* first: a store_copy * is a sq_copy * */
	struct conn *cn;
	const struct store_copy_table *t; /* the table being written */
	sqlite3_stmt *ins;
};

/* The store result of SQLite's rc, its message kept in c->base.why. */
static enum store_rc fail(struct sq_copy *c, int rc)
{
	snprintf(c->base.why, sizeof(c->base.why), "%s",
	         sqlite3_errmsg(c->cn->db));
	return c->base.write ? sq_write_rc(c->cn->db, rc) : store_sqlite_rc(rc);
}

static enum store_rc prepare(struct sq_copy *c, const char *sql,
                             sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(c->cn->db, sql, -1, st, NULL);
	return rc == SQLITE_OK ? STORE_OK : fail(c, rc);
}

static enum store_rc cp_begin(struct store *s, bool write,
                              struct store_copy **out, char *err,
                              size_t errlen)
{
	struct sq_store *sq = (struct sq_store *)s;
	struct sq_copy *c = xcalloc(1, sizeof(*c));
	c->base = (struct store_copy){.s = s, .write = write};
	c->cn = sq_conn_new(sq, err, errlen);
	if (c->cn == NULL) {
		free(c);
		return STORE_INVALID;
	}
	/* The read's snapshot is taken at its first SELECT (xCount). */
	enum store_rc r = write ? sq_begin(c->cn)
	                        : store_sqlite_rc(sqlite3_exec(
	                              c->cn->db, "BEGIN", NULL, NULL, NULL));
	if (r != STORE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(c->cn->db));
		sq_conn_unlink(sq, c->cn);
		sq_conn_close(c->cn);
		free(c);
		return r;
	}
	*out = &c->base;
	return STORE_OK;
}

static enum store_rc cp_count(struct store_copy *base,
                              const struct store_copy_table *t, int64_t *n)
{
	struct sq_copy *c = (struct sq_copy *)base;
	char sql[128];
	sqlite3_stmt *st = NULL;
	store_copy_count_sql(t, sql, sizeof(sql));
	enum store_rc r = prepare(c, sql, &st);
	if (r == STORE_OK) {
		int rc = sqlite3_step(st);
		*n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		r = rc == SQLITE_ROW ? STORE_OK : fail(c, rc);
	}
	sqlite3_finalize(st);
	return r;
}

static enum store_rc cp_read(struct store_copy *base,
                             const struct store_copy_table *t,
                             store_row_cb cb, void *arg)
{
	struct sq_copy *c = (struct sq_copy *)base;
	char sql[1280];
	struct store_value row[STORE_COPY_MAX_COLS];
	sqlite3_stmt *st = NULL;
	enum store_rc r = store_copy_select_sql(t, "rowid", sql, sizeof(sql));
	if (r == STORE_OK)
		r = prepare(c, sql, &st);
	int rc = SQLITE_DONE;
	while (r == STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < t->ncols; i++) {
			bool text = t->cols[i].type == STORE_COL_TEXT;
			row[i].null = sqlite3_column_type(st, i) == SQLITE_NULL;
			row[i].i = text ? 0 : sqlite3_column_int64(st, i);
			row[i].text = text ? (const char *)sqlite3_column_text(
			                         st, i)
			                   : NULL;
		}
		if (cb(row, arg) != 0)
			break;
	}
	if (r == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = fail(c, rc);
	sqlite3_finalize(st);
	return r;
}

static enum store_rc cp_write_start(struct store_copy *base,
                                    const struct store_copy_table *t)
{
	struct sq_copy *c = (struct sq_copy *)base;
	char cols[1024], qs[128] = "", sql[1400];
	size_t n = 0;
	for (int i = 0; i < t->ncols && n < sizeof(qs); i++)
		n += (size_t)snprintf(qs + n, sizeof(qs) - n, "%s?",
		                      i ? ", " : "");
	store_copy_col_list(t, cols, sizeof(cols));
	snprintf(sql, sizeof(sql), "INSERT INTO %s (%s) VALUES (%s)", t->name,
	         cols, qs);
	c->t = t;
	return prepare(c, sql, &c->ins);
}

static enum store_rc cp_write_row(struct store_copy *base,
                                  const struct store_value *row)
{
	struct sq_copy *c = (struct sq_copy *)base;
	for (int i = 0; i < c->t->ncols; i++) {
		if (row[i].null)
			sqlite3_bind_null(c->ins, i + 1);
		else if (c->t->cols[i].type == STORE_COL_INT)
			sqlite3_bind_int64(c->ins, i + 1, row[i].i);
		else
			sqlite3_bind_text(c->ins, i + 1, row[i].text, -1,
			                  SQLITE_STATIC);
	}
	int rc = sqlite3_step(c->ins);
	sqlite3_reset(c->ins);
	sqlite3_clear_bindings(c->ins);
	return rc == SQLITE_DONE ? STORE_OK : fail(c, rc);
}

static enum store_rc cp_write_end(struct store_copy *base)
{
	struct sq_copy *c = (struct sq_copy *)base;
	sqlite3_finalize(c->ins);
	c->ins = NULL;
	c->t = NULL;
	return STORE_OK;
}

static enum store_rc cp_end(struct store_copy *base, bool commit, char *err,
                            size_t errlen)
{
	struct sq_copy *c = (struct sq_copy *)base;
	struct sq_store *sq = (struct sq_store *)base->s;
	enum store_rc r = STORE_OK;
	sqlite3_finalize(c->ins);
	if (base->write) {
		r = sq_finish(c->cn, commit ? STORE_OK : STORE_IO);
		if (commit && r != STORE_OK && err != NULL)
			snprintf(err, errlen, "%s", sqlite3_errmsg(c->cn->db));
		if (!commit)
			r = STORE_OK;
	} else {
		sqlite3_exec(c->cn->db, "ROLLBACK", NULL, NULL, NULL);
	}
	sq_conn_unlink(sq, c->cn);
	sq_conn_close(c->cn);
	free(c);
	return r;
}

const struct store_copy_methods sq_copy_methods = {
	.xBegin = cp_begin,
	.xCount = cp_count,
	.xRead = cp_read,
	.xWriteStart = cp_write_start,
	.xWriteRow = cp_write_row,
	.xWriteEnd = cp_write_end,
	.xEnd = cp_end,
};
