/*
 * pg_copy.c: the PostgreSQL backend's copy table (store.h struct
 * store_copy_methods; map: pg_int.h): reading catalogue tables in one
 * REPEATABLE READ READ ONLY transaction, and writing them with COPY FROM
 * STDIN in one transaction, on a pooled connection held from xBegin to
 * xEnd. Which tables and columns exist is the catalogue's (copy.c).
 *
 * Reads stream in libpq's single-row mode, so a table is never held in
 * memory; writes go as COPY's text format in buffers of COPY_BUF bytes.
 * A table the catalogue orders by insertion (order_by NULL) is ordered
 * here by its identity column seq; written without seq, it is numbered
 * by its sequence in the order the rows arrive, so new rows continue
 * above the copied ones. Both transactions run without the store's
 * statement timeout: one statement here moves a whole table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "store_int.h"
#include "strutil.h"

#define COPY_BUF 65536

struct pg_copy {
	struct store_copy base; /* first: a store_copy * is a pg_copy * */
	struct pg_conn *c;
	const struct store_copy_table *t; /* the table being written */
	char *buf;
	size_t len;
};

/* The store result of a failure (res NULL: of the connection), its
 * message's first line kept in c->base.why. */
static enum store_rc fail(struct pg_copy *c, const PGresult *res)
{
	const char *msg = res != NULL ? PQresultErrorMessage(res)
	                              : PQerrorMessage(c->c->db);
	snprintf(c->base.why, sizeof(c->base.why), "%.*s",
	         (int)strcspn(msg, "\n"), msg);
	return pg_result_rc(c->c, res);
}

static enum store_rc cp_begin(struct store *s, bool write,
                              struct store_copy **out, char *err,
                              size_t errlen)
{
	struct pg_copy *c = xcalloc(1, sizeof(*c));
	enum store_rc r;
	c->base = (struct store_copy){.s = s, .write = write};
	c->c = pg_acquire((struct pg_store *)s, &r);
	if (c->c == NULL) {
		free(c);
		return r;
	}
	r = pg_exec_sql(c->c, write ? "BEGIN; SET LOCAL statement_timeout = 0"
	                            : "BEGIN ISOLATION LEVEL REPEATABLE READ "
	                              "READ ONLY; SET LOCAL statement_timeout "
	                              "= 0",
	                err, errlen);
	if (r != STORE_OK) {
		pg_release((struct pg_store *)s, c->c);
		free(c);
		return r;
	}
	*out = &c->base;
	return STORE_OK;
}

static enum store_rc cp_count(struct store_copy *base,
                              const struct store_copy_table *t, int64_t *n)
{
	struct pg_copy *c = (struct pg_copy *)base;
	char sql[128];
	store_copy_count_sql(t, sql, sizeof(sql));
	PGresult *res = PQexec(c->c->db, sql);
	enum store_rc r = PQresultStatus(res) == PGRES_TUPLES_OK
	                      ? STORE_OK
	                      : fail(c, res);
	*n = r == STORE_OK ? pg_col_int(res, 0, 0) : 0;
	PQclear(res);
	return r;
}

/* Hands the single row of res to cb as typed values. */
static int one_row(const struct store_copy_table *t, const PGresult *res,
                   store_row_cb cb, void *arg)
{
	struct store_value row[STORE_COPY_MAX_COLS];
	for (int i = 0; i < t->ncols; i++) {
		bool text = t->cols[i].type == STORE_COL_TEXT;
		row[i].null = PQgetisnull(res, 0, i) != 0;
		row[i].i = text ? 0 : pg_col_int(res, 0, i);
		row[i].text = text && !row[i].null ? PQgetvalue(res, 0, i)
		                                   : NULL;
	}
	return cb(row, arg);
}

static enum store_rc cp_read(struct store_copy *base,
                             const struct store_copy_table *t,
                             store_row_cb cb, void *arg)
{
	struct pg_copy *c = (struct pg_copy *)base;
	char sql[1280];
	enum store_rc r = store_copy_select_sql(t, "seq", sql, sizeof(sql));
	if (r != STORE_OK)
		return r;
	if (!PQsendQuery(c->c->db, sql) || !PQsetSingleRowMode(c->c->db))
		return fail(c, NULL);
	bool stop = false;
	PGresult *res;
	/* Every result is read, also after a stop or an error, so the
	 * connection is ready for the next statement. */
	while ((res = PQgetResult(c->c->db)) != NULL) {
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_SINGLE_TUPLE && !stop && r == STORE_OK)
			stop = one_row(t, res, cb, arg) != 0;
		else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK &&
		         r == STORE_OK)
			r = fail(c, res);
		PQclear(res);
	}
	return r;
}

static enum store_rc cp_write_start(struct store_copy *base,
                                    const struct store_copy_table *t)
{
	struct pg_copy *c = (struct pg_copy *)base;
	char cols[1024], sql[1280];
	store_copy_col_list(t, cols, sizeof(cols));
	snprintf(sql, sizeof(sql), "COPY %s (%s) FROM STDIN", t->name, cols);
	PGresult *res = PQexec(c->c->db, sql);
	enum store_rc r = PQresultStatus(res) == PGRES_COPY_IN
	                      ? STORE_OK
	                      : fail(c, res);
	PQclear(res);
	if (r != STORE_OK)
		return r;
	c->t = t;
	if (c->buf == NULL)
		c->buf = xcalloc(1, COPY_BUF);
	c->len = 0;
	return STORE_OK;
}

static enum store_rc flush(struct pg_copy *c)
{
	if (c->len > 0 && PQputCopyData(c->c->db, c->buf, (int)c->len) != 1)
		return fail(c, NULL);
	c->len = 0;
	return STORE_OK;
}

/* Appends n bytes, flushing as the buffer fills. */
static enum store_rc put(struct pg_copy *c, const char *p, size_t n)
{
	while (n > 0) {
		if (c->len == COPY_BUF) {
			enum store_rc r = flush(c);
			if (r != STORE_OK)
				return r;
		}
		size_t k = n < COPY_BUF - c->len ? n : COPY_BUF - c->len;
		memcpy(c->buf + c->len, p, k);
		c->len += k;
		p += k;
		n -= k;
	}
	return STORE_OK;
}

/* A text value in COPY's text format: backslash, tab, newline and
 * carriage return escaped, the rest as it is. */
static enum store_rc put_text(struct pg_copy *c, const char *s)
{
	enum store_rc r = STORE_OK;
	while (r == STORE_OK && *s != '\0') {
		size_t n = strcspn(s, "\\\t\n\r");
		r = put(c, s, n);
		s += n;
		if (r != STORE_OK || *s == '\0')
			break;
		char esc[2] = {'\\', *s == '\\' ? '\\' : *s == '\t' ? 't'
		                              : *s == '\n' ? 'n' : 'r'};
		r = put(c, esc, 2);
		s++;
	}
	return r;
}

static enum store_rc cp_write_row(struct store_copy *base,
                                  const struct store_value *row)
{
	struct pg_copy *c = (struct pg_copy *)base;
	enum store_rc r = STORE_OK;
	for (int i = 0; r == STORE_OK && i < c->t->ncols; i++) {
		if (i > 0)
			r = put(c, "\t", 1);
		if (r != STORE_OK)
			break;
		if (row[i].null) {
			r = put(c, "\\N", 2);
		} else if (c->t->cols[i].type == STORE_COL_INT) {
			char num[24];
			int n = snprintf(num, sizeof(num), "%lld",
			                 (long long)row[i].i);
			r = put(c, num, (size_t)n);
		} else {
			r = put_text(c, row[i].text);
		}
	}
	return r == STORE_OK ? put(c, "\n", 1) : r;
}

static enum store_rc cp_write_end(struct store_copy *base)
{
	struct pg_copy *c = (struct pg_copy *)base;
	enum store_rc r = flush(c);
	if (PQputCopyEnd(c->c->db, r == STORE_OK ? NULL : "aborted") != 1 &&
	    r == STORE_OK)
		r = fail(c, NULL);
	PGresult *res;
	while ((res = PQgetResult(c->c->db)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && r == STORE_OK)
			r = fail(c, res);
		PQclear(res);
	}
	c->t = NULL;
	return r;
}

static enum store_rc cp_end(struct store_copy *base, bool commit, char *err,
                            size_t errlen)
{
	struct pg_copy *c = (struct pg_copy *)base;
	enum store_rc r = STORE_OK;
	if (commit && base->write)
		r = pg_exec_sql(c->c, "COMMIT", err, errlen);
	else if (PQstatus(c->c->db) == CONNECTION_OK)
		(void)pg_exec_sql(c->c, "ROLLBACK", NULL, 0);
	pg_release((struct pg_store *)base->s, c->c);
	free(c->buf);
	free(c);
	return r;
}

const struct store_copy_methods pg_copy_methods = {
	.xBegin = cp_begin,
	.xCount = cp_count,
	.xRead = cp_read,
	.xWriteStart = cp_write_start,
	.xWriteRow = cp_write_row,
	.xWriteEnd = cp_write_end,
	.xEnd = cp_end,
};
