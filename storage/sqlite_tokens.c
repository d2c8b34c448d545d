/*
 * sqlite_tokens.c: access-token records, refresh tokens and their
 * families in the SQLite backend: reads, lists and revocations. Records
 * are written only by an issue: what it writes is sqlite_issue.c's, when
 * and with what it is committed sqlite_commit.c's (xIssue below).
 *
 * Map: access tokens, refresh tokens, revocations.
 */
#include "sqlite_int.h"

/* ---- access tokens ------------------------------------------------------- */

static void read_token(sqlite3_stmt *st, struct store_token *t)
{
	t->jti = sq_col_text(st, 0);
	t->client_id = sq_col_text(st, 1);
	t->subject = sq_col_text(st, 2);
	t->scope = sq_col_text(st, 3);
	t->kid = sq_col_text(st, 4);
	t->issued_at = sqlite3_column_int64(st, 5);
	t->expires_at = sqlite3_column_int64(st, 6);
	t->revoked_at = sqlite3_column_int64(st, 7);
	t->family_id = sq_col_text(st, 8);
}

static enum store_rc sq_token_get(struct store *s, const char *jti,
                                  struct store_token *out)
{
	GET_ONE(ST_TOKEN_GET, jti, out, read_token);
}

static void bind_token_filter(sqlite3_stmt *st, const void *filter)
{
	const struct store_token_filter *f = filter;
	sq_bind_text(st, 1, f->client_id);
	sqlite3_bind_int(st, 2, f->active_only);
	sqlite3_bind_int64(st, 3, f->now);
	sq_bind_text(st, 4, f->subject);
	sq_bind_text(st, 5, f->family_id);
}

static enum store_rc sq_token_list(struct store *s,
                                   const struct store_token_filter *f,
                                   store_token_cb cb, void *arg)
{
	LIST_PAGE(s, ST_TOKEN_LIST, f->page, 6, bind_token_filter, f,
	          struct store_token, read_token, store_token_clear, cb, arg);
}

static enum store_rc sq_token_revoke(struct store *s, const char *jti,
                                     int64_t now, int *count)
{
	return sq_run_key_now(sq_conn_get(s), ST_TOKEN_REVOKE, jti, now, count);
}

/* ---- refresh tokens ------------------------------------------------------ */

static void read_refresh(sqlite3_stmt *st, struct store_refresh *r)
{
	r->token_hash = sq_col_text(st, 0);
	r->family_id = sq_col_text(st, 1);
	r->client_id = sq_col_text(st, 2);
	r->subject = sq_col_text(st, 3);
	r->username = sq_col_text(st, 4);
	r->scope = sq_col_text(st, 5);
	r->access_jti = sq_col_text(st, 6);
	r->issued_at = sqlite3_column_int64(st, 7);
	r->expires_at = sqlite3_column_int64(st, 8);
	r->retired_at = sqlite3_column_int64(st, 9);
	r->revoked_at = sqlite3_column_int64(st, 10);
	r->auth_time = sqlite3_column_int64(st, 11);
	r->sid = sq_col_text(st, 12);
	r->amr = sq_col_text(st, 13);
	r->dpop_jkt = sq_col_text(st, 14);
}

static enum store_rc sq_refresh_get(struct store *s, const char *hash,
                                    struct store_refresh *out)
{
	GET_ONE(ST_RT_GET, hash, out, read_refresh);
}

static void bind_refresh_filter(sqlite3_stmt *st, const void *filter)
{
	const struct store_refresh_filter *f = filter;
	sq_bind_text(st, 1, f->client_id);
	sq_bind_text(st, 2, f->subject);
	sq_bind_text(st, 3, f->family_id);
	sqlite3_bind_int(st, 4, f->active_only);
	sqlite3_bind_int64(st, 5, f->now);
}

static enum store_rc sq_refresh_list(struct store *s,
                                     const struct store_refresh_filter *f,
                                     store_refresh_cb cb, void *arg)
{
	LIST_PAGE(s, ST_RT_LIST, f->page, 6, bind_refresh_filter, f,
	          struct store_refresh, read_refresh, store_refresh_clear, cb,
	          arg);
}

/* ---- revocations ----------------------------------------------------------- */

/* Runs two (key, now) statements, first then second, in one transaction;
 * *count is the rows both changed. For revocations: the refresh tokens
 * and then the access tokens that share one key, so no reader sees a
 * refresh token revoked while the access tokens issued with it still
 * pass. */
static enum store_rc run_pair(struct store *s, enum stmt first,
                              enum stmt second, const char *key, int64_t now,
                              int *count)
{
	struct conn *cn = sq_conn_get(s);
	int a = 0, b = 0;
	if (cn == NULL)
		return STORE_IO;
	enum store_rc r = sq_begin(cn);
	if (r != STORE_OK)
		return r;
	r = sq_run_key_now(cn, first, key, now, &a);
	if (r == STORE_OK)
		r = sq_run_key_now(cn, second, key, now, &b);
	r = sq_finish(cn, r);
	if (count != NULL)
		*count = r == STORE_OK ? a + b : 0;
	return r;
}

static enum store_rc sq_family_revoke(struct store *s, const char *family_id,
                                      int64_t now, int *count)
{
	return run_pair(s, ST_FAMILY_REVOKE_RT, ST_FAMILY_REVOKE_AT,
	                   family_id, now, count);
}

/* One (sid, now, client_id) statement of sq_revoke_sid. */
static enum store_rc run_sid(struct conn *cn, enum stmt which,
                             const char *sid, const char *client_id,
                             int64_t now, int *changes)
{
	sqlite3_stmt *st = sq_stmt(cn, which);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, sid);
	sqlite3_bind_int64(st, 2, now);
	sq_bind_text(st, 3, client_id);
	return sq_exec(cn, st, changes);
}

/* As run_pair, with the client as a third key: only the families of the
 * client whose logout asked for it. */
static enum store_rc sq_revoke_sid(struct store *s, const char *sid,
                                   const char *client_id, int64_t now,
                                   int *count)
{
	struct conn *cn = sq_conn_get(s);
	int a = 0, b = 0;
	if (cn == NULL)
		return STORE_IO;
	enum store_rc r = sq_begin(cn);
	if (r != STORE_OK)
		return r;
	r = run_sid(cn, ST_SID_REVOKE_RT, sid, client_id, now, &a);
	if (r == STORE_OK)
		r = run_sid(cn, ST_SID_REVOKE_AT, sid, client_id, now, &b);
	r = sq_finish(cn, r);
	if (count != NULL)
		*count = r == STORE_OK ? a + b : 0;
	return r;
}

/* A client's refresh tokens too: else it could mint new access tokens. */
static enum store_rc sq_token_revoke_client(struct store *s,
                                            const char *client_id, int64_t now,
                                            int *count)
{
	return run_pair(s, ST_TOKEN_REVOKE_CLIENT_RT, ST_TOKEN_REVOKE_CLIENT,
	                   client_id, now, count);
}

static enum store_rc sq_subject_revoke(struct store *s, const char *subject,
                                       int64_t now, int *count)
{
	return run_pair(s, ST_SUBJECT_REVOKE_RT, ST_SUBJECT_REVOKE_AT,
	                   subject, now, count);
}

const struct store_token_methods sq_token_methods = {
	.xIssue = sq_issue, /* sqlite_commit.c */
	.xGet = sq_token_get,
	.xList = sq_token_list,
	.xRevoke = sq_token_revoke,
	.xRevokeClient = sq_token_revoke_client,
	.xRevokeSubject = sq_subject_revoke,
};

const struct store_refresh_methods sq_refresh_methods = {
	.xGet = sq_refresh_get,
	.xList = sq_refresh_list,
	.xFamilyRevoke = sq_family_revoke,
	.xRevokeSid = sq_revoke_sid,
};
