/*
 * sqlite_codes.c: what the browser flow keeps in the SQLite backend:
 * authorization codes and device codes (redeemed only by an issue,
 * sqlite_issue.c), browser sessions (an expired one is not found) and
 * consents.
 */
#include "sqlite_int.h"

/* ---- codes --------------------------------------------------------------- */

static void read_code(sqlite3_stmt *st, struct store_code *c)
{
	c->code_hash = sq_col_text(st, 0);
	c->client_id = sq_col_text(st, 1);
	c->subject = sq_col_text(st, 2);
	c->username = sq_col_text(st, 3);
	c->redirect_uri = sq_col_text(st, 4);
	c->scope = sq_col_text(st, 5);
	c->code_challenge = sq_col_text(st, 6);
	c->code_challenge_method = sq_col_text(st, 7);
	c->issued_at = sqlite3_column_int64(st, 8);
	c->expires_at = sqlite3_column_int64(st, 9);
	c->used_at = sqlite3_column_int64(st, 10);
	c->family_id = sq_col_text(st, 11);
	c->resource = sq_col_text(st, 12);
	c->nonce = sq_col_text(st, 13);
	c->auth_time = sqlite3_column_int64(st, 14);
	c->sid = sq_col_text(st, 15);
	c->amr = sq_col_text(st, 16);
	c->dpop_jkt = sq_col_text(st, 17);
}

static enum store_rc sq_code_add(struct store *s, const struct store_code *c)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_CODE_ADD);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, c->code_hash);
	sq_bind_text(st, 2, c->client_id);
	sq_bind_text(st, 3, c->subject);
	sq_bind_text(st, 4, c->username);
	sq_bind_text(st, 5, c->redirect_uri);
	sq_bind_text(st, 6, c->scope ? c->scope : "");
	sq_bind_text(st, 7, c->code_challenge);
	sq_bind_text(st, 8, c->code_challenge_method);
	sqlite3_bind_int64(st, 9, c->issued_at);
	sqlite3_bind_int64(st, 10, c->expires_at);
	sq_bind_opt_int(st, 11, c->used_at);
	sq_bind_text(st, 12, c->family_id);
	sq_bind_text(st, 13, c->resource);
	sq_bind_text(st, 14, c->nonce);
	sq_bind_opt_int(st, 15, c->auth_time);
	sq_bind_text(st, 16, c->sid);
	sq_bind_text(st, 17, c->amr);
	sq_bind_text(st, 18, c->dpop_jkt);
	return sq_exec(cn, st, NULL);
}

static enum store_rc sq_code_get(struct store *s, const char *hash,
                                 struct store_code *out)
{
	GET_ONE(ST_CODE_GET, hash, out, read_code);
}

static enum store_rc sq_jti_use(struct store *s, const char *jti_hash,
                                int64_t expires_at, int64_t now)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_JTI_USE);
	int changes = 0;
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, jti_hash);
	sqlite3_bind_int64(st, 2, expires_at);
	sqlite3_bind_int64(st, 3, now);
	enum store_rc r = sq_exec(cn, st, &changes);
	return r == STORE_OK && changes == 0 ? STORE_CONFLICT : r;
}

/* ---- device codes -------------------------------------------------------- */

static void read_device(sqlite3_stmt *st, struct store_device *d)
{
	d->device_code_hash = sq_col_text(st, 0);
	d->user_code_hash = sq_col_text(st, 1);
	d->client_id = sq_col_text(st, 2);
	d->scope = sq_col_text(st, 3);
	d->issued_at = sqlite3_column_int64(st, 4);
	d->expires_at = sqlite3_column_int64(st, 5);
	d->poll_interval = sqlite3_column_int64(st, 6);
	d->last_polled_at = sqlite3_column_int64(st, 7);
	d->decided_at = sqlite3_column_int64(st, 8);
	d->approved = sqlite3_column_int64(st, 9) != 0;
	d->user_id = sq_col_text(st, 10);
	d->username = sq_col_text(st, 11);
	d->auth_time = sqlite3_column_int64(st, 12);
	d->sid = sq_col_text(st, 13);
	d->amr = sq_col_text(st, 14);
	d->used_at = sqlite3_column_int64(st, 15);
	d->family_id = sq_col_text(st, 16);
}

static enum store_rc sq_device_add(struct store *s,
                                   const struct store_device *d)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_DEVICE_ADD);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, d->device_code_hash);
	sq_bind_text(st, 2, d->user_code_hash);
	sq_bind_text(st, 3, d->client_id);
	sq_bind_text(st, 4, d->scope ? d->scope : "");
	sqlite3_bind_int64(st, 5, d->issued_at);
	sqlite3_bind_int64(st, 6, d->expires_at);
	sqlite3_bind_int64(st, 7, d->poll_interval);
	sq_bind_opt_int(st, 8, d->last_polled_at);
	sq_bind_opt_int(st, 9, d->decided_at);
	sqlite3_bind_int(st, 10, d->approved ? 1 : 0);
	sq_bind_text(st, 11, d->user_id);
	sq_bind_text(st, 12, d->username);
	sq_bind_opt_int(st, 13, d->auth_time);
	sq_bind_text(st, 14, d->sid);
	sq_bind_text(st, 15, d->amr);
	sq_bind_opt_int(st, 16, d->used_at);
	sq_bind_text(st, 17, d->family_id);
	return sq_exec(cn, st, NULL);
}

static enum store_rc sq_device_get(struct store *s, const char *hash,
                                   struct store_device *out)
{
	GET_ONE(ST_DEVICE_GET, hash, out, read_device);
}

static enum store_rc sq_device_by_user(struct store *s, const char *hash,
                                       int64_t now, struct store_device *out)
{
	sqlite3_stmt *st = sq_stmt(sq_conn_get(s), ST_DEVICE_BY_USER);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, hash);
	sqlite3_bind_int64(st, 2, now);
	STEP_ONE(st, out, read_device);
}

static enum store_rc sq_device_decide(struct store *s, const char *user_hash,
                                      int64_t now,
                                      const struct store_device *d)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_DEVICE_DECIDE);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, user_hash);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, d->approved ? 1 : 0);
	sq_bind_text(st, 4, d->user_id);
	sq_bind_text(st, 5, d->username);
	sq_bind_opt_int(st, 6, d->auth_time);
	sq_bind_text(st, 7, d->sid);
	sq_bind_text(st, 8, d->amr);
	enum store_rc r = sq_exec(cn, st, &n);
	return r == STORE_OK && n == 0 ? STORE_NOT_FOUND : r;
}

static enum store_rc sq_device_poll(struct store *s, const char *hash,
                                    int64_t was, int64_t now,
                                    int64_t interval)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_DEVICE_POLL);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, hash);
	sq_bind_opt_int(st, 2, was);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, interval);
	enum store_rc r = sq_exec(cn, st, &n);
	return r == STORE_OK && n == 0 ? STORE_CONFLICT : r;
}

/* ---- sessions ------------------------------------------------------------ */

static void read_session(sqlite3_stmt *st, struct store_session *se)
{
	se->session_hash = sq_col_text(st, 0);
	se->user_id = sq_col_text(st, 1);
	se->auth_time = sqlite3_column_int64(st, 2);
	se->expires_at = sqlite3_column_int64(st, 3);
	se->sid = sq_col_text(st, 4);
	se->amr = sq_col_text(st, 5);
}

/* A listing's row: the session and its user's name. */
static void read_session_row(sqlite3_stmt *st, struct store_session *se)
{
	read_session(st, se);
	se->username = sq_col_text(st, 6);
}

static enum store_rc sq_session_add(struct store *s,
                                    const struct store_session *se)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = sq_stmt(cn, ST_SESSION_ADD);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, se->session_hash);
	sq_bind_text(st, 2, se->user_id);
	sqlite3_bind_int64(st, 3, se->auth_time);
	sqlite3_bind_int64(st, 4, se->expires_at);
	sq_bind_text(st, 5, se->sid);
	sq_bind_text(st, 6, se->amr ? se->amr : "pwd");
	return sq_exec(cn, st, NULL);
}

/* An expired session is not found: the caller never has to compare
 * times, and a purge that has not run yet changes nothing. */
static enum store_rc sq_session_get(struct store *s, const char *hash,
                                    int64_t now, struct store_session *out)
{
	sqlite3_stmt *st = sq_stmt(sq_conn_get(s), ST_SESSION_GET);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, hash);
	sqlite3_bind_int64(st, 2, now);
	STEP_ONE(st, out, read_session);
}

static enum store_rc sq_sessions_end_user(struct store *s,
                                          const char *user_id, int *count)
{
	return sq_run_key(sq_conn_get(s), ST_SESSIONS_END_USER, user_id, count);
}

static enum store_rc sq_session_end(struct store *s, const char *sid,
                                    int *count)
{
	return sq_run_key(sq_conn_get(s), ST_SESSION_END, sid, count);
}

/* The listing's filter: a user (NULL: all) and now. */
struct session_filter {
	const char *user_id;
	int64_t now;
};

static void bind_session_filter(sqlite3_stmt *st, const void *filter)
{
	const struct session_filter *f = filter;
	sq_bind_text(st, 1, f->user_id);
	sqlite3_bind_int64(st, 2, f->now);
}

static enum store_rc sq_session_list(struct store *s, const char *user_id,
                                     int64_t now,
                                     const struct store_page *page,
                                     store_session_cb cb, void *arg)
{
	const struct session_filter f = {user_id, now};
	LIST_PAGE(s, ST_SESSION_LIST, page, 3, bind_session_filter, &f,
	          struct store_session, read_session_row, store_session_clear,
	          cb, arg);
}

/* ---- consents ------------------------------------------------------------ */

static void read_consent(sqlite3_stmt *st, struct store_consent *c)
{
	c->user_id = sq_col_text(st, 0);
	c->client_id = sq_col_text(st, 1);
	c->scope = sq_col_text(st, 2);
	c->granted_at = sqlite3_column_int64(st, 3);
	c->updated_at = sqlite3_column_int64(st, 4);
	c->username = sq_col_text(st, 5);
}

/* The (user, client) pair of a consent statement: ?1, ?2. */
static sqlite3_stmt *consent_stmt(struct conn *cn, enum stmt which,
                                  const char *user_id, const char *client_id)
{
	sqlite3_stmt *st = sq_stmt(cn, which);
	if (st != NULL) {
		sq_bind_text(st, 1, user_id);
		sq_bind_text(st, 2, client_id);
	}
	return st;
}

static enum store_rc sq_consent_get(struct store *s, const char *user_id,
                                    const char *client_id,
                                    struct store_consent *out)
{
	sqlite3_stmt *st = consent_stmt(sq_conn_get(s), ST_CONSENT_GET, user_id,
	                                client_id);
	if (st == NULL)
		return STORE_IO;
	STEP_ONE(st, out, read_consent);
}

static enum store_rc sq_consent_put(struct store *s,
                                    const struct store_consent *c)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = consent_stmt(cn, ST_CONSENT_PUT, c->user_id,
	                                c->client_id);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 3, c->scope ? c->scope : "");
	sqlite3_bind_int64(st, 4, c->granted_at);
	sqlite3_bind_int64(st, 5, c->updated_at);
	return sq_exec(cn, st, NULL);
}

/* The listing's filter: a (user, client) pair, either NULL. */
struct consent_pair {
	const char *user_id, *client_id;
};

static void bind_pair(sqlite3_stmt *st, const void *filter)
{
	const struct consent_pair *p = filter;
	sq_bind_text(st, 1, p->user_id);
	sq_bind_text(st, 2, p->client_id);
}

static enum store_rc sq_consent_list(struct store *s, const char *user_id,
                                     const char *client_id,
                                     const struct store_page *page,
                                     store_consent_cb cb, void *arg)
{
	const struct consent_pair pair = {user_id, client_id};
	LIST_PAGE(s, ST_CONSENT_LIST, page, 3, bind_pair, &pair,
	          struct store_consent, read_consent, store_consent_clear, cb,
	          arg);
}

static enum store_rc sq_consent_revoke(struct store *s, const char *user_id,
                                       const char *client_id, int *count)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = consent_stmt(cn, ST_CONSENT_REVOKE, user_id,
	                                client_id);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	enum store_rc r = sq_exec(cn, st, &n);
	if (count != NULL)
		*count = n;
	return r;
}

const struct store_code_methods sq_code_methods = {
	.xAdd = sq_code_add,
	.xGet = sq_code_get,
	.xJtiUse = sq_jti_use,
	.xDeviceAdd = sq_device_add,
	.xDeviceGet = sq_device_get,
	.xDeviceByUser = sq_device_by_user,
	.xDeviceDecide = sq_device_decide,
	.xDevicePoll = sq_device_poll,
};

const struct store_session_methods sq_session_methods = {
	.xAdd = sq_session_add,
	.xGet = sq_session_get,
	.xEndUser = sq_sessions_end_user,
	.xEnd = sq_session_end,
	.xList = sq_session_list,
};

const struct store_consent_methods sq_consent_methods = {
	.xGet = sq_consent_get,
	.xPut = sq_consent_put,
	.xList = sq_consent_list,
	.xRevoke = sq_consent_revoke,
};
