/*
 * sqlite_clients.c: clients and users in the SQLite backend: their
 * binding to the clients and users tables, and their method tables.
 * Removing a client or a user removes what hangs off it by the schema's
 * foreign keys (ON DELETE CASCADE), not here.
 */
#include "sqlite_int.h"

/* ---- clients ------------------------------------------------------------- */

static void bind_client(sqlite3_stmt *st, const struct store_client *c)
{
	sq_bind_text(st, 1, c->client_id);
	sq_bind_text(st, 2, c->name);
	sq_bind_text(st, 3, c->secret_hash);
	sqlite3_bind_int(st, 4, c->is_public);
	sq_bind_text(st, 5, c->grant_types);
	sq_bind_text(st, 6, c->scopes ? c->scopes : "");
	sq_bind_text(st, 7, c->redirect_uris ? c->redirect_uris : "");
	sq_bind_opt_int(st, 8, c->access_token_ttl);
	sq_bind_opt_int(st, 9, c->refresh_token_ttl);
	sqlite3_bind_int64(st, 10, c->created_at);
	sqlite3_bind_int64(st, 11, c->updated_at);
	if (c->issue_refresh_token == STORE_DEFAULT)
		sqlite3_bind_null(st, 12);
	else
		sqlite3_bind_int(st, 12, c->issue_refresh_token == STORE_ON);
	sq_bind_text(st, 13, c->on_refresh);
	sq_bind_text(st, 14, c->auto_approve_as); /* "" (off) stays "" */
	sq_bind_text(st, 15, c->audiences ? c->audiences : "");
	sqlite3_bind_int(st, 16, c->introspect);
	sq_bind_text(st, 17, c->id_token_alg);
	sqlite3_bind_int(st, 18, c->require_nonce);
	sq_bind_text(st, 19, c->post_logout_redirect_uris
	                         ? c->post_logout_redirect_uris : "");
	sqlite3_bind_int(st, 20, c->logout_revokes_refresh_tokens);
	sq_bind_text(st, 21, c->access_token_claims ? c->access_token_claims
	                                            : "{}");
	sq_bind_text(st, 22, c->release_claims ? c->release_claims : "");
	sqlite3_bind_int64(st, 23, c->disabled_at);
	sq_bind_text(st, 24, c->previous_secret_hash);
	sqlite3_bind_int64(st, 25, c->previous_secret_expires_at);
	sqlite3_bind_int(st, 26, c->is_admin);
	sq_bind_text(st, 27, c->jwks);
	sq_bind_text(st, 28, c->auth_method);
	sq_bind_text(st, 29, c->jwks_uri);
	sqlite3_bind_int(st, 30, c->require_dpop);
	sq_bind_text(st, 31, c->tls_subject_dn);
	sq_bind_text(st, 32, c->tls_san_dns);
	sq_bind_text(st, 33, c->tls_san_uri);
}

static void read_client(sqlite3_stmt *st, struct store_client *c)
{
	c->client_id = sq_col_text(st, 0);
	c->name = sq_col_text(st, 1);
	c->secret_hash = sq_col_text(st, 2);
	c->is_public = sqlite3_column_int(st, 3) != 0;
	c->grant_types = sq_col_text(st, 4);
	c->scopes = sq_col_text(st, 5);
	c->redirect_uris = sq_col_text(st, 6);
	c->access_token_ttl = sqlite3_column_int64(st, 7);
	c->refresh_token_ttl = sqlite3_column_int64(st, 8);
	c->created_at = sqlite3_column_int64(st, 9);
	c->updated_at = sqlite3_column_int64(st, 10);
	c->issue_refresh_token = sqlite3_column_type(st, 11) == SQLITE_NULL
	                             ? STORE_DEFAULT
	                         : sqlite3_column_int(st, 11) ? STORE_ON
	                                                      : STORE_OFF;
	c->on_refresh = sq_col_text(st, 12);
	c->auto_approve_as = sq_col_text(st, 13);
	c->audiences = sq_col_text(st, 14);
	c->introspect = sqlite3_column_int(st, 15) != 0;
	c->id_token_alg = sq_col_text(st, 16);
	c->require_nonce = sqlite3_column_int(st, 17) != 0;
	c->post_logout_redirect_uris = sq_col_text(st, 18);
	c->logout_revokes_refresh_tokens = sqlite3_column_int(st, 19) != 0;
	c->access_token_claims = sq_col_text(st, 20);
	c->release_claims = sq_col_text(st, 21);
	c->disabled_at = sqlite3_column_int64(st, 22);
	c->previous_secret_hash = sq_col_text(st, 23);
	c->previous_secret_expires_at = sqlite3_column_int64(st, 24);
	c->is_admin = sqlite3_column_int(st, 25) != 0;
	c->jwks = sq_col_text(st, 26);
	c->auth_method = sq_col_text(st, 27);
	c->jwks_uri = sq_col_text(st, 28);
	c->require_dpop = sqlite3_column_int(st, 29) != 0;
	c->tls_subject_dn = sq_col_text(st, 30);
	c->tls_san_dns = sq_col_text(st, 31);
	c->tls_san_uri = sq_col_text(st, 32);
	c->secret_version = sqlite3_column_int64(st, 33);
}

static enum store_rc sq_client_add(struct store *s, const struct store_client *c)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_CLIENT_ADD);
	if (st == NULL)
		return STORE_IO;
	bind_client(st, c);
	return sq_exec(cn, st, NULL);
}

static enum store_rc sq_client_update(struct store *s,
                                      const struct store_client *c)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_CLIENT_UPDATE);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	bind_client(st, c);
	enum store_rc r = sq_exec(cn, st, &n);
	return r == STORE_OK && n == 0 ? STORE_NOT_FOUND : r;
}

static enum store_rc sq_client_get(struct store *s, const char *id,
                                   struct store_client *out)
{
	GET_ONE(ST_CLIENT_GET, id, out, read_client);
}

static enum store_rc sq_client_remove(struct store *s, const char *id)
{
	return sq_delete_by(s, ST_CLIENT_REMOVE, id);
}

/* The client and user listings have no filter. */
static void bind_nothing(sqlite3_stmt *st, const void *filter)
{
	(void)st;
	(void)filter;
}

static enum store_rc sq_client_list(struct store *s,
                                    const struct store_page *page,
                                    store_client_cb cb, void *arg)
{
	LIST_PAGE(s, ST_CLIENT_LIST, page, 1, bind_nothing, NULL,
	          struct store_client, read_client, store_client_clear, cb, arg);
}

const struct store_client_methods sq_client_methods = {
	.xAdd = sq_client_add,
	.xGet = sq_client_get,
	.xUpdate = sq_client_update,
	.xRemove = sq_client_remove,
	.xList = sq_client_list,
};

/* ---- users --------------------------------------------------------------- */

static void read_user(sqlite3_stmt *st, struct store_user *u)
{
	u->user_id = sq_col_text(st, 0);
	u->username = sq_col_text(st, 1);
	u->password_hash = sq_col_text(st, 2);
	u->created_at = sqlite3_column_int64(st, 3);
	u->updated_at = sqlite3_column_int64(st, 4);
	u->claims = sq_col_text(st, 5);
}

static enum store_rc sq_user_add(struct store *s, const struct store_user *u)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_USER_ADD);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, u->user_id);
	sq_bind_text(st, 2, u->username);
	sq_bind_text(st, 3, u->password_hash);
	sqlite3_bind_int64(st, 4, u->created_at);
	sqlite3_bind_int64(st, 5, u->updated_at);
	sq_bind_text(st, 6, u->claims ? u->claims : "{}");
	return sq_exec(cn, st, NULL);
}

static enum store_rc sq_user_get(struct store *s, const char *username,
                                 struct store_user *out)
{
	GET_ONE(ST_USER_GET, username, out, read_user);
}

static enum store_rc sq_user_get_by_id(struct store *s, const char *id,
                                       struct store_user *out)
{
	GET_ONE(ST_USER_GET_ID, id, out, read_user);
}

static enum store_rc sq_user_set_password(struct store *s, const char *username,
                                          const char *hash, int64_t now)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_USER_SETPW);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, username);
	sq_bind_text(st, 2, hash);
	sqlite3_bind_int64(st, 3, now);
	enum store_rc r = sq_exec(cn, st, &n);
	return r == STORE_OK && n == 0 ? STORE_NOT_FOUND : r;
}

static enum store_rc sq_user_set_claims(struct store *s, const char *username,
                                        const char *claims, int64_t now)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_USER_SET_CLAIMS);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, username);
	sq_bind_text(st, 2, claims ? claims : "{}");
	sqlite3_bind_int64(st, 3, now);
	enum store_rc r = sq_exec(cn, st, &n);
	return r == STORE_OK && n == 0 ? STORE_NOT_FOUND : r;
}

static enum store_rc sq_user_remove(struct store *s, const char *username)
{
	return sq_delete_by(s, ST_USER_REMOVE, username);
}

static enum store_rc sq_user_list(struct store *s,
                                  const struct store_page *page,
                                  store_user_cb cb, void *arg)
{
	LIST_PAGE(s, ST_USER_LIST, page, 1, bind_nothing, NULL, struct store_user,
	          read_user, store_user_clear, cb, arg);
}

const struct store_user_methods sq_user_methods = {
	.xAdd = sq_user_add,
	.xGet = sq_user_get,
	.xGetById = sq_user_get_by_id,
	.xSetPassword = sq_user_set_password,
	.xSetClaims = sq_user_set_claims,
	.xRemove = sq_user_remove,
	.xList = sq_user_list,
};
