/*
 * sqlite_tokens.c: access-token records, refresh tokens and their
 * families in the SQLite backend, and the writes of one issue
 * (sq_issue_writes: redeem a code, retire or relink a refresh token,
 * revoke, insert), each a compare-and-set checked by rows changed.
 * When and with what they are committed is sqlite_commit.c's business.
 *
 * Map: access tokens, refresh tokens, the issue's writes, revocations.
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

enum store_rc sq_token_insert(struct conn *cn, const struct store_token *t)
{
	sqlite3_stmt *st = sq_stmt(cn, ST_TOKEN_ADD);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, t->jti);
	sq_bind_text(st, 2, t->client_id);
	sq_bind_text(st, 3, t->subject);
	sq_bind_text(st, 4, t->scope ? t->scope : "");
	sq_bind_text(st, 5, t->kid);
	sqlite3_bind_int64(st, 6, t->issued_at);
	sqlite3_bind_int64(st, 7, t->expires_at);
	sq_bind_opt_int(st, 8, t->revoked_at);
	sq_bind_text(st, 9, t->family_id);
	return sq_exec(cn, st, NULL);
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
}

static enum store_rc refresh_insert(struct conn *cn,
                                    const struct store_refresh *r)
{
	sqlite3_stmt *st = sq_stmt(cn, ST_RT_ADD);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, r->token_hash);
	sq_bind_text(st, 2, r->family_id);
	sq_bind_text(st, 3, r->client_id);
	sq_bind_text(st, 4, r->subject);
	sq_bind_text(st, 5, r->username);
	sq_bind_text(st, 6, r->scope ? r->scope : "");
	sq_bind_text(st, 7, r->access_jti);
	sqlite3_bind_int64(st, 8, r->issued_at);
	sqlite3_bind_int64(st, 9, r->expires_at);
	sq_bind_opt_int(st, 10, r->retired_at);
	sq_bind_opt_int(st, 11, r->revoked_at);
	return sq_exec(cn, st, NULL);
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

/* ---- the writes of one issue ----------------------------------------------- */

/* Runs an UPDATE whose WHERE clause is a liveness check, binding (key,
 * now) and, when the statement has them, arg as ?3 and arg2 as ?4. No row
 * changed means the check failed (someone else got there first):
 * STORE_CONFLICT. */
static enum store_rc claim(struct conn *cn, enum stmt which, const char *key,
                           int64_t now, const char *arg, const char *arg2)
{
	sqlite3_stmt *st = sq_stmt(cn, which);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sq_bind_text(st, 3, arg);
	if (sqlite3_bind_parameter_count(st) >= 4)
		sq_bind_text(st, 4, arg2);
	enum store_rc r = sq_exec(cn, st, &n);
	return r == STORE_OK && n == 0 ? STORE_CONFLICT : r;
}

/* Whether the client's row still has the version the request
 * authenticated against: STORE_STALE when it changed or went. Inside
 * the issue's write transaction, which holds SQLite's one write lock, so
 * no change can come between this check and the commit. */
static enum store_rc client_unchanged(struct conn *cn,
                                      const struct store_issue *is)
{
	sqlite3_stmt *st = sq_stmt(cn, ST_CLIENT_VERSION);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, is->access->client_id);
	sqlite3_bind_int64(st, 2, is->client_version);
	int rc = sqlite3_step(st);
	sq_done(st);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	return rc == SQLITE_DONE ? STORE_STALE : sq_write_rc(cn->db, rc);
}

/* The writes of one issue, inside a transaction the caller holds. */
enum store_rc sq_issue_writes(struct conn *cn, const struct store_issue *is)
{
	enum store_rc r = client_unchanged(cn, is);
	/* The code first: a code that is used, expired or unknown writes
	 * nothing, and the redemption that wins records the family its
	 * tokens belong to, so a replay can revoke them. */
	if (r == STORE_OK && is->consume_code_hash != NULL)
		r = claim(cn, ST_CODE_CONSUME, is->consume_code_hash, is->now,
		          is->access->family_id, NULL);
	if (r == STORE_OK && is->retire_hash != NULL)
		r = claim(cn, ST_RT_RETIRE, is->retire_hash, is->now, NULL, NULL);
	/* Before revoke_jti: a relink that lost must not revoke anything. */
	if (r == STORE_OK && is->relink_hash != NULL)
		r = claim(cn, ST_RT_RELINK, is->relink_hash, is->now,
		          is->relink_jti, is->relink_from_jti);
	if (r == STORE_OK && is->revoke_jti != NULL)
		r = sq_run_key_now(cn, ST_TOKEN_REVOKE, is->revoke_jti, is->now, NULL);
	if (r == STORE_OK)
		r = sq_token_insert(cn, is->access);
	if (r == STORE_OK && is->refresh != NULL)
		r = refresh_insert(cn, is->refresh);
	return r;
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
};
