/*
 * pg_resources.c: the resource registry (RFC 8707) on PostgreSQL (map:
 * pg_int.h).
 */
#include <stdlib.h>

#include "pg_int.h"
#include "store_cols.h"

static const struct pg_stmt st_resource_add = {
	"resource_add",
	"INSERT INTO resources (" RESOURCE_COLS ") VALUES ($1, $2, $3, "
	"$4::bigint, $5::bigint)"};
static const struct pg_stmt st_resource_get = {
	"resource_get",
	"SELECT " RESOURCE_COLS " FROM resources WHERE resource=$1"};
static const struct pg_stmt st_resource_remove = {
	"resource_remove", "DELETE FROM resources WHERE resource=$1"};
static const struct pg_stmt st_resource_list = {
	"resource_list",
	"SELECT " RESOURCE_COLS " FROM resources ORDER BY resource "
	"COLLATE \"C\""};
#define RESOURCE_PAGE                                                    \
	RESOURCE_COLS, "resources WHERE TRUE", "created_at", "$1", "$2",  \
	"created_at DESC, resource COLLATE \"C\" DESC",                   \
	"resource COLLATE \"C\""
static const struct pg_stmt st_resource_page = {
	"resource_page", PG_PAGE_SQL(RESOURCE_PAGE)};
static const struct pg_stmt st_resource_counted = {
	"resource_counted", PG_COUNTED_SQL(RESOURCE_PAGE)};
static const struct pg_listing st_resource_listing = {
	&st_resource_list, &st_resource_page, &st_resource_counted};

static void read_resource(const PGresult *r, int i,
                          struct store_resource *out)
{
	out->resource = pg_col_text(r, i, 0);
	out->audience = pg_col_text(r, i, 1);
	out->scopes = pg_col_text(r, i, 2);
	out->access_token_ttl = pg_col_int(r, i, 3); /* NULL reads 0 */
	out->created_at = pg_col_int(r, i, 4);
}

static enum store_rc pg_resource_add(struct store *s,
                                     const struct store_resource *r)
{
	struct pg_params p = {0};
	pg_p_text(&p, r->resource);
	pg_p_text(&p, r->audience);
	pg_p_text(&p, r->scopes);
	if (r->access_token_ttl > 0)
		pg_p_int(&p, r->access_token_ttl);
	else
		pg_p_text(&p, NULL);
	pg_p_int(&p, r->created_at);
	return pg_once(s, &st_resource_add, &p, NULL, NULL, false);
}

static enum store_rc pg_resource_get(struct store *s, const char *resource,
                                     struct store_resource *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, resource);
	PG_GET_ONE(s, &st_resource_get, &p, read_resource, out);
}

static enum store_rc pg_resource_list(struct store *s,
                                      const struct store_page *page,
                                      store_resource_cb cb, void *arg)
{
	struct pg_params p = {0};
	PG_LIST_PAGE(s, &st_resource_listing, page, &p, struct store_resource,
	             read_resource, store_resource_clear, cb, arg);
}

static enum store_rc pg_resource_remove(struct store *s,
                                        const char *resource, int *count)
{
	struct pg_params p = {0};
	int n = 0;
	pg_p_text(&p, resource);
	enum store_rc r = pg_once(s, &st_resource_remove, &p, NULL, &n, false);
	if (count != NULL)
		*count = n;
	return r;
}

const struct store_resource_methods pg_resource_methods = {
	.xAdd = pg_resource_add,
	.xGet = pg_resource_get,
	.xList = pg_resource_list,
	.xRemove = pg_resource_remove,
};
