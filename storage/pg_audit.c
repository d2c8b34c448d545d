/*
 * pg_audit.c: the audit trail on PostgreSQL (map: pg_int.h): appending an
 * event and listing them, as sqlite_audit.c (the purge is pg_upkeep.c's).
 */
#include <stdlib.h>

#include "pg_int.h"
#include "store_cols.h"

#define AUDIT_WHERE "WHERE ($1::text IS NULL OR object=$1) AND "            \
                    "($2::text IS NULL OR actor=$2)"
static const struct pg_stmt st_audit_add = {
	"audit_add",
	"INSERT INTO audit_events (at, actor, address, action, object, "
	"changes) VALUES ($1::bigint, $2, $3, $4, $5, $6)"};
static const struct pg_stmt st_audit_list = {
	"audit_list",
	"SELECT " AUDIT_COLS " FROM audit_events " AUDIT_WHERE
	" ORDER BY at, id"};
#define AUDIT_PAGE                                                           \
	AUDIT_COLS, "audit_events " AUDIT_WHERE, "at", "$3", "$4",           \
	"at DESC, id DESC", "at, id"
static const struct pg_stmt st_audit_page = {
	"audit_page", PG_PAGE_SQL(AUDIT_PAGE)};
static const struct pg_stmt st_audit_counted = {
	"audit_counted", PG_COUNTED_SQL(AUDIT_PAGE)};
static const struct pg_listing st_audit_listing = {
	&st_audit_list, &st_audit_page, &st_audit_counted};

static void read_audit(const PGresult *r, int i, struct store_audit *e)
{
	e->id = pg_col_int(r, i, 0);
	e->at = pg_col_int(r, i, 1);
	e->actor = pg_col_text(r, i, 2);
	e->address = pg_col_text(r, i, 3);
	e->action = pg_col_text(r, i, 4);
	e->object = pg_col_text(r, i, 5);
	e->changes = pg_col_text(r, i, 6);
}

enum store_rc pg_audit_add(struct store *s, const struct store_audit *e)
{
	struct pg_params p = {0};
	pg_p_int(&p, e->at);
	pg_p_text(&p, e->actor);
	pg_p_text(&p, e->address);
	pg_p_text(&p, e->action);
	pg_p_text(&p, e->object);
	pg_p_text(&p, e->changes != NULL ? e->changes : "{}");
	return pg_once(s, &st_audit_add, &p, NULL, NULL, false);
}

enum store_rc pg_audit_list(struct store *s,
                            const struct store_audit_filter *f,
                            store_audit_cb cb, void *arg)
{
	struct pg_params p = {0};
	pg_p_text(&p, f->object);
	pg_p_text(&p, f->actor);
	PG_LIST_PAGE(s, &st_audit_listing, f->page, &p, struct store_audit,
	             read_audit, store_audit_clear, cb, arg);
}
