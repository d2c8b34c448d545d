/*
 * sqlite_audit.c: the audit trail in the SQLite backend: appending an
 * event and listing them (the purge is sqlite_upkeep.c's, with the other
 * batched deletes).
 */
#include "sqlite_int.h"

static void read_audit(sqlite3_stmt *st, struct store_audit *e)
{
	e->id = sqlite3_column_int64(st, 0);
	e->at = sqlite3_column_int64(st, 1);
	e->actor = sq_col_text(st, 2);
	e->address = sq_col_text(st, 3);
	e->action = sq_col_text(st, 4);
	e->object = sq_col_text(st, 5);
	e->changes = sq_col_text(st, 6);
}

static enum store_rc sq_audit_add(struct store *s, const struct store_audit *e)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_AUDIT_ADD);
	if (st == NULL)
		return STORE_IO;
	sqlite3_bind_int64(st, 1, e->at);
	sq_bind_text(st, 2, e->actor);
	sq_bind_text(st, 3, e->address);
	sq_bind_text(st, 4, e->action);
	sq_bind_text(st, 5, e->object);
	sq_bind_text(st, 6, e->changes != NULL ? e->changes : "{}");
	return sq_exec(cn, st, NULL);
}

static void bind_filter(sqlite3_stmt *st, const void *filter)
{
	const struct store_audit_filter *f = filter;
	sq_bind_text(st, 1, f->object);
	sq_bind_text(st, 2, f->actor);
}

static enum store_rc sq_audit_list(struct store *s,
                                   const struct store_audit_filter *f,
                                   store_audit_cb cb, void *arg)
{
	LIST_PAGE(s, ST_AUDIT_LIST, f->page, 3, bind_filter, f,
	          struct store_audit, read_audit, store_audit_clear, cb, arg);
}

const struct store_audit_methods sq_audit_methods = {
	.xAdd = sq_audit_add,
	.xList = sq_audit_list,
	.xPurge = sq_audit_purge,
};
