/*
 * sqlite_issuers.c: the trusted issuers of the JWT bearer grant (RFC
 * 7523 section 2.1) in the SQLite backend.
 */
#include "sqlite_int.h"

static void read_issuer(sqlite3_stmt *st, struct store_issuer *i)
{
	i->issuer = sq_col_text(st, 0);
	i->client_id = sq_col_text(st, 1);
	i->jwks = sq_col_text(st, 2);
	i->jwks_uri = sq_col_text(st, 3);
	i->audience = sq_col_text(st, 4);
	i->created_at = sqlite3_column_int64(st, 5);
}

static enum store_rc sq_issuer_add(struct store *s,
                                   const struct store_issuer *i)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_ISSUER_ADD);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, i->issuer);
	sq_bind_text(st, 2, i->client_id);
	sq_bind_text(st, 3, i->jwks);
	sq_bind_text(st, 4, i->jwks_uri);
	sq_bind_text(st, 5, i->audience);
	sqlite3_bind_int64(st, 6, i->created_at);
	return sq_exec(cn, st, NULL);
}

static enum store_rc sq_issuer_get(struct store *s, const char *issuer,
                                   struct store_issuer *out)
{
	GET_ONE(ST_ISSUER_GET, issuer, out, read_issuer);
}

static void bind_nothing(sqlite3_stmt *st, const void *filter)
{
	(void)st;
	(void)filter;
}

static enum store_rc sq_issuer_list(struct store *s,
                                    const struct store_page *page,
                                    store_issuer_cb cb, void *arg)
{
	LIST_PAGE(s, ST_ISSUER_LIST, page, 1, bind_nothing, NULL,
	          struct store_issuer, read_issuer, store_issuer_clear, cb,
	          arg);
}

static enum store_rc sq_issuer_remove(struct store *s, const char *issuer,
                                      int *count)
{
	return sq_run_key(sq_conn_get(s), ST_ISSUER_REMOVE, issuer, count);
}

const struct store_issuer_methods sq_issuer_methods = {
	.xAdd = sq_issuer_add,
	.xGet = sq_issuer_get,
	.xList = sq_issuer_list,
	.xRemove = sq_issuer_remove,
};
