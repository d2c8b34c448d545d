/*
 * pg_clients.c: clients and users on PostgreSQL (map: pg_int.h). The same
 * rows and answers as sqlite_clients.c's clients and users; lists
 * are ordered byte-wise (COLLATE "C"), as SQLite orders text.
 */
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "store_cols.h"

static const struct pg_stmt st_client_add = {
	"client_add",
	"INSERT INTO clients (" CLIENT_COLS ", secret_version) VALUES ($1, $2, "
	"$3, $4::smallint, $5, $6, $7, $8::bigint, $9::bigint, $10::bigint, "
	"$11::bigint, $12::smallint, $13, $14, $15, $16::smallint, $17, "
	"$18::smallint, $19, $20::smallint, $21, $22, $23::bigint, $24, "
	"$25::bigint, $26::smallint, $27, $28, $29, $30::smallint, $31, $32, $33, floor(random() * 4611686018427387904)::bigint)"};
static const struct pg_stmt st_client_get = {
	"client_get",
	"SELECT " CLIENT_COLS ", secret_version FROM clients WHERE client_id=$1"};
/* created_at ($10) is bound (bind_client is shared with the insert) but
 * not changed, as on SQLite; the always-true test on it only gives the
 * parameter a type, which PostgreSQL needs to prepare the statement. */
/* A change of a client (update, remove) takes the client's advisory lock
 * exclusive first (PG_CLIENT_LOCK): it waits for the issues under way
 * for the client, and the issues after it see the change (pg_tokens.c).
 * The change itself is then a check: no row, division by zero. */
static const struct pg_stmt st_client_lock_x = {
	"client_lock_x",
	"SELECT pg_advisory_xact_lock(" PG_CLIENT_LOCK ", hashtext($1))"};
static const struct pg_stmt st_client_update = {
	"client_update",
	"WITH u AS (UPDATE clients SET name=$2, secret_hash=$3, is_public=$4::smallint, "
	"grant_types=$5, scopes=$6, redirect_uris=$7, "
	"access_token_ttl=$8::bigint, refresh_token_ttl=$9::bigint, "
	"updated_at=$11::bigint, issue_refresh_token=$12::smallint, "
	"on_refresh=$13, auto_approve_as=$14, audiences=$15, "
	"introspect=$16::smallint, id_token_signed_response_alg=$17, "
	"require_nonce=$18::smallint, post_logout_redirect_uris=$19, "
	"logout_revokes_refresh_tokens=$20::smallint, "
	"access_token_claims=$21, release_claims=$22, "
	"disabled_at=$23::bigint, previous_secret_hash=$24, "
	"previous_secret_expires_at=$25::bigint, is_admin=$26::smallint, "
	"jwks=$27, token_endpoint_auth_method=$28, jwks_uri=$29, "
	"require_dpop=$30::smallint, tls_client_auth_subject_dn=$31, "
	"tls_client_auth_san_dns=$32, tls_client_auth_san_uri=$33, "
	"secret_version=secret_version+1 "
	"WHERE client_id=$1 AND $10::bigint IS NOT NULL RETURNING 1) "
	"SELECT 1 / count(*) FROM u"};
static const struct pg_stmt st_client_remove = {
	"client_remove",
	"WITH d AS (DELETE FROM clients WHERE client_id=$1 RETURNING 1) "
	"SELECT 1 / count(*) FROM d"};
static const struct pg_stmt st_client_list = {
	"client_list",
	"SELECT " CLIENT_COLS ", secret_version FROM clients "
	"ORDER BY client_id COLLATE \"C\""};
#define CLIENT_PAGE                                                          \
	CLIENT_COLS ", secret_version", "clients WHERE TRUE", "created_at",  \
	"$1", "$2", "created_at DESC, client_id COLLATE \"C\" DESC",         \
	"client_id COLLATE \"C\""
static const struct pg_stmt st_client_page = {
	"client_page", PG_PAGE_SQL(CLIENT_PAGE)};
static const struct pg_stmt st_client_counted = {
	"client_counted", PG_COUNTED_SQL(CLIENT_PAGE)};
static const struct pg_listing st_client_listing = {
	&st_client_list, &st_client_page, &st_client_counted};
static const struct pg_stmt st_user_add = {
	"user_add",
	"INSERT INTO users (" USER_COLS ") VALUES ($1, $2, $3, $4::bigint, "
	"$5::bigint, $6)"};
static const struct pg_stmt st_user_set_claims = {
	"user_set_claims",
	"UPDATE users SET claims=$2, updated_at=$3::bigint WHERE username=$1"};
static const struct pg_stmt st_user_get = {
	"user_get", "SELECT " USER_COLS " FROM users WHERE username=$1"};
static const struct pg_stmt st_user_get_id = {
	"user_get_id", "SELECT " USER_COLS " FROM users WHERE user_id=$1"};
static const struct pg_stmt st_user_setpw = {
	"user_setpw",
	"UPDATE users SET password_hash=$2, updated_at=$3::bigint "
	"WHERE username=$1"};
static const struct pg_stmt st_user_remove = {
	"user_remove", "DELETE FROM users WHERE username=$1"};
static const struct pg_stmt st_user_list = {
	"user_list",
	"SELECT " USER_COLS " FROM users ORDER BY username COLLATE \"C\""};
#define USER_PAGE                                                            \
	USER_COLS, "users WHERE TRUE", "created_at", "$1", "$2",             \
	"created_at DESC, username COLLATE \"C\" DESC", "username COLLATE \"C\""
static const struct pg_stmt st_user_page = {
	"user_page", PG_PAGE_SQL(USER_PAGE)};
static const struct pg_stmt st_user_counted = {
	"user_counted", PG_COUNTED_SQL(USER_PAGE)};
static const struct pg_listing st_user_listing = {
	&st_user_list, &st_user_page, &st_user_counted};

/* ---- clients ------------------------------------------------------------- */

static void bind_client(struct pg_params *p, const struct store_client *c)
{
	pg_p_text(p, c->client_id);
	pg_p_text(p, c->name);
	pg_p_text(p, c->secret_hash);
	pg_p_int(p, c->is_public);
	pg_p_text(p, c->grant_types);
	pg_p_text(p, c->scopes ? c->scopes : "");
	pg_p_text(p, c->redirect_uris ? c->redirect_uris : "");
	pg_p_opt_int(p, c->access_token_ttl);
	pg_p_opt_int(p, c->refresh_token_ttl);
	pg_p_int(p, c->created_at);
	pg_p_int(p, c->updated_at);
	if (c->issue_refresh_token == STORE_DEFAULT)
		pg_p_text(p, NULL);
	else
		pg_p_int(p, c->issue_refresh_token == STORE_ON);
	pg_p_text(p, c->on_refresh);
	pg_p_text(p, c->auto_approve_as); /* "" (off) stays "" */
	pg_p_text(p, c->audiences ? c->audiences : "");
	pg_p_int(p, c->introspect);
	pg_p_text(p, c->id_token_alg);
	pg_p_int(p, c->require_nonce);
	pg_p_text(p, c->post_logout_redirect_uris ? c->post_logout_redirect_uris
	                                          : "");
	pg_p_int(p, c->logout_revokes_refresh_tokens);
	pg_p_text(p, c->access_token_claims ? c->access_token_claims : "{}");
	pg_p_text(p, c->release_claims ? c->release_claims : "");
	pg_p_int(p, c->disabled_at);
	pg_p_text(p, c->previous_secret_hash);
	pg_p_int(p, c->previous_secret_expires_at);
	pg_p_int(p, c->is_admin);
	pg_p_text(p, c->jwks);
	pg_p_text(p, c->auth_method);
	pg_p_text(p, c->jwks_uri);
	pg_p_int(p, c->require_dpop);
	pg_p_text(p, c->tls_subject_dn);
	pg_p_text(p, c->tls_san_dns);
	pg_p_text(p, c->tls_san_uri);
}

static void read_client(const PGresult *r, int i, struct store_client *c)
{
	c->client_id = pg_col_text(r, i, 0);
	c->name = pg_col_text(r, i, 1);
	c->secret_hash = pg_col_text(r, i, 2);
	c->is_public = pg_col_int(r, i, 3) != 0;
	c->grant_types = pg_col_text(r, i, 4);
	c->scopes = pg_col_text(r, i, 5);
	c->redirect_uris = pg_col_text(r, i, 6);
	c->access_token_ttl = pg_col_int(r, i, 7);
	c->refresh_token_ttl = pg_col_int(r, i, 8);
	c->created_at = pg_col_int(r, i, 9);
	c->updated_at = pg_col_int(r, i, 10);
	c->issue_refresh_token = pg_col_null(r, i, 11) ? STORE_DEFAULT
	                         : pg_col_int(r, i, 11) ? STORE_ON
	                                                : STORE_OFF;
	c->on_refresh = pg_col_text(r, i, 12);
	c->auto_approve_as = pg_col_text(r, i, 13);
	c->audiences = pg_col_text(r, i, 14);
	c->introspect = pg_col_int(r, i, 15) != 0;
	c->id_token_alg = pg_col_text(r, i, 16);
	c->require_nonce = pg_col_int(r, i, 17) != 0;
	c->post_logout_redirect_uris = pg_col_text(r, i, 18);
	c->logout_revokes_refresh_tokens = pg_col_int(r, i, 19) != 0;
	c->access_token_claims = pg_col_text(r, i, 20);
	c->release_claims = pg_col_text(r, i, 21);
	c->disabled_at = pg_col_int(r, i, 22);
	c->previous_secret_hash = pg_col_text(r, i, 23);
	c->previous_secret_expires_at = pg_col_int(r, i, 24);
	c->is_admin = pg_col_int(r, i, 25) != 0;
	c->jwks = pg_col_text(r, i, 26);
	c->auth_method = pg_col_text(r, i, 27);
	c->jwks_uri = pg_col_text(r, i, 28);
	c->require_dpop = pg_col_int(r, i, 29) != 0;
	c->tls_subject_dn = pg_col_text(r, i, 30);
	c->tls_san_dns = pg_col_text(r, i, 31);
	c->tls_san_uri = pg_col_text(r, i, 32);
	c->secret_version = pg_col_int(r, i, 33);
}

/* Runs a write once; STORE_NOT_FOUND when it changed no row. */
static enum store_rc write_one(struct store *s, const struct pg_stmt *st,
                               const struct pg_params *p)
{
	int n = 0;
	enum store_rc r = pg_once(s, st, p, NULL, &n, false);
	return r == STORE_OK && n == 0 ? STORE_NOT_FOUND : r;
}

/* Runs a change of client id (st, bound as p, $1 the id) under the
 * client's exclusive lock, in one transaction and round trip;
 * STORE_NOT_FOUND when there was no such client. */
static enum store_rc client_change(struct store *s, const char *id,
                                   const struct pg_stmt *st,
                                   const struct pg_params *p)
{
	struct pg_batch_item items[2];
	memset(items, 0, sizeof(items));
	items[0].st = &st_client_lock_x;
	pg_p_text(&items[0].p, id);
	items[1].st = st;
	items[1].p = *p;
	items[1].check_rc = STORE_NOT_FOUND;
	return pg_batch(s, items, 2);
}

static enum store_rc pg_client_add(struct store *s,
                                   const struct store_client *c)
{
	struct pg_params p = {0};
	bind_client(&p, c);
	return pg_once(s, &st_client_add, &p, NULL, NULL, false);
}

static enum store_rc pg_client_get(struct store *s, const char *id,
                                   struct store_client *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, id);
	PG_GET_ONE(s, &st_client_get, &p, read_client, out);
}

static enum store_rc pg_client_update(struct store *s,
                                      const struct store_client *c)
{
	struct pg_params p = {0};
	bind_client(&p, c);
	return client_change(s, c->client_id, &st_client_update, &p);
}

static enum store_rc pg_client_remove(struct store *s, const char *id)
{
	struct pg_params p = {0};
	pg_p_text(&p, id);
	return client_change(s, id, &st_client_remove, &p);
}

static enum store_rc pg_client_list(struct store *s,
                                    const struct store_page *page,
                                    store_client_cb cb, void *arg)
{
	struct pg_params p = {0};
	PG_LIST_PAGE(s, &st_client_listing, page, &p, struct store_client,
	             read_client, store_client_clear, cb, arg);
}

/* ---- users --------------------------------------------------------------- */

static void read_user(const PGresult *r, int i, struct store_user *u)
{
	u->user_id = pg_col_text(r, i, 0);
	u->username = pg_col_text(r, i, 1);
	u->password_hash = pg_col_text(r, i, 2);
	u->created_at = pg_col_int(r, i, 3);
	u->updated_at = pg_col_int(r, i, 4);
	u->claims = pg_col_text(r, i, 5);
}

static enum store_rc pg_user_add(struct store *s, const struct store_user *u)
{
	struct pg_params p = {0};
	pg_p_text(&p, u->user_id);
	pg_p_text(&p, u->username);
	pg_p_text(&p, u->password_hash);
	pg_p_int(&p, u->created_at);
	pg_p_int(&p, u->updated_at);
	pg_p_text(&p, u->claims ? u->claims : "{}");
	return pg_once(s, &st_user_add, &p, NULL, NULL, false);
}

static enum store_rc pg_user_get(struct store *s, const char *username,
                                 struct store_user *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, username);
	PG_GET_ONE(s, &st_user_get, &p, read_user, out);
}

static enum store_rc pg_user_get_by_id(struct store *s, const char *id,
                                       struct store_user *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, id);
	PG_GET_ONE(s, &st_user_get_id, &p, read_user, out);
}

static enum store_rc pg_user_set_password(struct store *s,
                                          const char *username,
                                          const char *hash, int64_t now)
{
	struct pg_params p = {0};
	pg_p_text(&p, username);
	pg_p_text(&p, hash);
	pg_p_int(&p, now);
	return write_one(s, &st_user_setpw, &p);
}

static enum store_rc pg_user_set_claims(struct store *s,
                                        const char *username,
                                        const char *claims, int64_t now)
{
	struct pg_params p = {0};
	pg_p_text(&p, username);
	pg_p_text(&p, claims ? claims : "{}");
	pg_p_int(&p, now);
	return write_one(s, &st_user_set_claims, &p);
}

static enum store_rc pg_user_remove(struct store *s, const char *username)
{
	struct pg_params p = {0};
	pg_p_text(&p, username);
	return write_one(s, &st_user_remove, &p);
}

static enum store_rc pg_user_list(struct store *s,
                                  const struct store_page *page,
                                  store_user_cb cb, void *arg)
{
	struct pg_params p = {0};
	PG_LIST_PAGE(s, &st_user_listing, page, &p, struct store_user,
	             read_user, store_user_clear, cb, arg);
}

const struct pg_client_ops pg_client_ops = {
	.add = pg_client_add,
	.get = pg_client_get,
	.update = pg_client_update,
	.remove = pg_client_remove,
	.list = pg_client_list,
	.user_add = pg_user_add,
	.user_get = pg_user_get,
	.user_get_by_id = pg_user_get_by_id,
	.user_set_password = pg_user_set_password,
	.user_set_claims = pg_user_set_claims,
	.user_remove = pg_user_remove,
	.user_list = pg_user_list,
};
