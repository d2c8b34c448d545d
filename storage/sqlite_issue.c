/*
 * sqlite_issue.c: the writes of one issue in the SQLite backend
 * (sq_issue_writes): check the client's version, redeem a code, retire or
 * relink a refresh token, revoke, insert the new records; each a
 * compare-and-set checked by rows changed. When and with what they are
 * committed is sqlite_commit.c's business.
 */
#include "sqlite_int.h"

static enum store_rc token_insert(struct conn *cn, const struct store_token *t)
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
	sq_bind_opt_int(st, 12, r->auth_time);
	sq_bind_text(st, 13, r->sid);
	sq_bind_text(st, 14, r->amr);
	sq_bind_text(st, 15, r->dpop_jkt);
	return sq_exec(cn, st, NULL);
}

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
	if (r == STORE_OK && is->consume_device_hash != NULL)
		r = claim(cn, ST_DEVICE_CONSUME, is->consume_device_hash, is->now,
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
		r = token_insert(cn, is->access);
	if (r == STORE_OK && is->refresh != NULL)
		r = refresh_insert(cn, is->refresh);
	return r;
}
