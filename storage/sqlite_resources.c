/*
 * sqlite_resources.c: the resource registry (RFC 8707) in the SQLite
 * backend.
 */
#include "sqlite_int.h"

static void read_resource(sqlite3_stmt *st, struct store_resource *r)
{
	r->resource = sq_col_text(st, 0);
	r->audience = sq_col_text(st, 1);
	r->scopes = sq_col_text(st, 2);
	r->access_token_ttl = sqlite3_column_int64(st, 3); /* NULL reads 0 */
	r->created_at = sqlite3_column_int64(st, 4);
}

static enum store_rc sq_resource_add(struct store *s,
                                     const struct store_resource *r)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_RESOURCE_ADD);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, r->resource);
	sq_bind_text(st, 2, r->audience);
	sq_bind_text(st, 3, r->scopes);
	if (r->access_token_ttl > 0)
		sqlite3_bind_int64(st, 4, r->access_token_ttl);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, r->created_at);
	return sq_exec(cn, st, NULL);
}

static enum store_rc sq_resource_get(struct store *s, const char *resource,
                                     struct store_resource *out)
{
	GET_ONE(ST_RESOURCE_GET, resource, out, read_resource);
}

static void bind_nothing(sqlite3_stmt *st, const void *filter)
{
	(void)st;
	(void)filter;
}

static enum store_rc sq_resource_list(struct store *s,
                                      const struct store_page *page,
                                      store_resource_cb cb, void *arg)
{
	LIST_PAGE(s, ST_RESOURCE_LIST, page, 1, bind_nothing, NULL,
	          struct store_resource, read_resource, store_resource_clear,
	          cb, arg);
}

static enum store_rc sq_resource_remove(struct store *s,
                                        const char *resource, int *count)
{
	return sq_run_key(sq_conn_get(s), ST_RESOURCE_REMOVE, resource, count);
}

const struct store_resource_methods sq_resource_methods = {
	.xAdd = sq_resource_add,
	.xGet = sq_resource_get,
	.xList = sq_resource_list,
	.xRemove = sq_resource_remove,
};
