/*
 * pg_issuers.c: the trusted issuers of the JWT bearer grant (RFC 7523
 * section 2.1) on PostgreSQL (map: pg_int.h).
 */
#include <stdlib.h>

#include "pg_int.h"
#include "store_cols.h"

static const struct pg_stmt st_issuer_add = {
	"issuer_add",
	"INSERT INTO trusted_issuers (" ISSUER_COLS ") VALUES ($1, $2, $3, $4, "
	"$5, $6::bigint)"};
static const struct pg_stmt st_issuer_get = {
	"issuer_get",
	"SELECT " ISSUER_COLS " FROM trusted_issuers WHERE issuer=$1"};
static const struct pg_stmt st_issuer_remove = {
	"issuer_remove", "DELETE FROM trusted_issuers WHERE issuer=$1"};
static const struct pg_stmt st_issuer_list = {
	"issuer_list",
	"SELECT " ISSUER_COLS " FROM trusted_issuers ORDER BY issuer "
	"COLLATE \"C\""};
#define ISSUER_PAGE                                                          \
	ISSUER_COLS, "trusted_issuers WHERE TRUE", "created_at", "$1", "$2", \
	"created_at DESC, issuer COLLATE \"C\" DESC", "issuer COLLATE \"C\""
static const struct pg_stmt st_issuer_page = {
	"issuer_page", PG_PAGE_SQL(ISSUER_PAGE)};
static const struct pg_stmt st_issuer_counted = {
	"issuer_counted", PG_COUNTED_SQL(ISSUER_PAGE)};
static const struct pg_listing st_issuer_listing = {
	&st_issuer_list, &st_issuer_page, &st_issuer_counted};

static void read_issuer(const PGresult *r, int i, struct store_issuer *out)
{
	out->issuer = pg_col_text(r, i, 0);
	out->client_id = pg_col_text(r, i, 1);
	out->jwks = pg_col_text(r, i, 2);
	out->jwks_uri = pg_col_text(r, i, 3);
	out->audience = pg_col_text(r, i, 4);
	out->created_at = pg_col_int(r, i, 5);
}

static enum store_rc pg_issuer_add(struct store *s,
                                   const struct store_issuer *i)
{
	struct pg_params p = {0};
	pg_p_text(&p, i->issuer);
	pg_p_text(&p, i->client_id);
	pg_p_text(&p, i->jwks);
	pg_p_text(&p, i->jwks_uri);
	pg_p_text(&p, i->audience);
	pg_p_int(&p, i->created_at);
	return pg_once(s, &st_issuer_add, &p, NULL, NULL, false);
}

static enum store_rc pg_issuer_get(struct store *s, const char *issuer,
                                   struct store_issuer *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, issuer);
	PG_GET_ONE(s, &st_issuer_get, &p, read_issuer, out);
}

static enum store_rc pg_issuer_list(struct store *s,
                                    const struct store_page *page,
                                    store_issuer_cb cb, void *arg)
{
	struct pg_params p = {0};
	PG_LIST_PAGE(s, &st_issuer_listing, page, &p, struct store_issuer,
	             read_issuer, store_issuer_clear, cb, arg);
}

static enum store_rc pg_issuer_remove(struct store *s, const char *issuer,
                                      int *count)
{
	struct pg_params p = {0};
	int n = 0;
	pg_p_text(&p, issuer);
	enum store_rc r = pg_once(s, &st_issuer_remove, &p, NULL, &n, false);
	if (count != NULL)
		*count = n;
	return r;
}

const struct store_issuer_methods pg_issuer_methods = {
	.xAdd = pg_issuer_add,
	.xGet = pg_issuer_get,
	.xList = pg_issuer_list,
	.xRemove = pg_issuer_remove,
};
