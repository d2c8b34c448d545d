/*
 * pg_codes.c: authorization codes, browser sessions and consents on
 * PostgreSQL (map: pg_int.h), and device codes. Codes of both kinds are
 * redeemed only inside an issue
 * (pg_tokens.c); here they are recorded and read.
 */
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "store_cols.h"

static const struct pg_stmt st_code_add = {
	"code_add",
	"INSERT INTO authorization_codes (" CODE_COLS ") VALUES ($1, $2, $3, "
	"$4, $5, $6, $7, $8, $9::bigint, $10::bigint, $11::bigint, $12, $13, "
	"$14, $15::bigint, $16, $17, $18)"};
static const struct pg_stmt st_code_get = {
	"code_get",
	"SELECT " CODE_COLS " FROM authorization_codes WHERE code_hash=$1"};
/* As SQLite's ST_JTI_USE: a row still live is a replay, no row. */
static const struct pg_stmt st_jti_use = {
	"jti_use",
	"INSERT INTO used_jtis (jti_hash, expires_at) VALUES ($1, $2::bigint) "
	"ON CONFLICT (jti_hash) DO UPDATE SET expires_at=excluded.expires_at "
	"WHERE used_jtis.expires_at <= $3::bigint"};
static const struct pg_stmt st_device_add = {
	"device_add",
	"INSERT INTO device_codes (" DEVICE_COLS ") VALUES ($1, $2, $3, $4, "
	"$5::bigint, $6::bigint, $7::bigint, $8::bigint, $9::bigint, "
	"$10::smallint, $11, $12, $13::bigint, $14, $15, $16::bigint, $17)"};
static const struct pg_stmt st_device_get = {
	"device_get",
	"SELECT " DEVICE_COLS " FROM device_codes WHERE device_code_hash=$1"};
static const struct pg_stmt st_device_by_user = {
	"device_by_user",
	"SELECT " DEVICE_COLS " FROM device_codes WHERE user_code_hash=$1 AND "
	"decided_at IS NULL AND expires_at > $2::bigint"};
static const struct pg_stmt st_device_decide = {
	"device_decide",
	"UPDATE device_codes SET decided_at=$2::bigint, approved=$3::smallint, "
	"user_id=$4, username=$5, auth_time=$6::bigint, sid=$7, amr=$8 WHERE "
	"user_code_hash=$1 AND decided_at IS NULL AND expires_at > $2::bigint"};
/* As SQLite's ST_DEVICE_POLL: a compare-and-set on the last poll. */
static const struct pg_stmt st_device_poll = {
	"device_poll",
	"UPDATE device_codes SET last_polled_at=$3::bigint, "
	"poll_interval=$4::bigint WHERE device_code_hash=$1 AND "
	"last_polled_at IS NOT DISTINCT FROM $2::bigint"};
static const struct pg_stmt st_session_add = {
	"session_add",
	"INSERT INTO sessions (" SESSION_COLS ") VALUES ($1, $2, $3::bigint, "
	"$4::bigint, $5, $6)"};
static const struct pg_stmt st_session_end = {
	"session_end", "DELETE FROM sessions WHERE sid=$1"};
/* Sessions are listed with their user's name. */
#define SESSION_LCOLS "s.session_hash, s.user_id, s.auth_time, "             \
                      "s.expires_at, s.sid, s.amr, u.username"
#define SESSION_FROM "sessions s JOIN users u ON u.user_id=s.user_id "      \
                     "WHERE ($1::text IS NULL OR s.user_id=$1) AND "        \
                     "s.expires_at > $2::bigint"
static const struct pg_stmt st_session_list = {
	"session_list",
	"SELECT " SESSION_LCOLS " FROM " SESSION_FROM
	" ORDER BY s.auth_time, s.sid COLLATE \"C\""};
#define SESSION_PAGE                                                         \
	SESSION_LCOLS, SESSION_FROM, "s.auth_time", "$3", "$4",              \
	"s.auth_time DESC, s.sid COLLATE \"C\" DESC",                        \
	"auth_time, sid COLLATE \"C\""
static const struct pg_stmt st_session_page = {
	"session_page", PG_PAGE_SQL(SESSION_PAGE)};
static const struct pg_stmt st_session_counted = {
	"session_counted", PG_COUNTED_SQL(SESSION_PAGE)};
static const struct pg_listing st_session_listing = {
	&st_session_list, &st_session_page, &st_session_counted};
static const struct pg_stmt st_session_get = {
	"session_get",
	"SELECT " SESSION_COLS " FROM sessions WHERE session_hash=$1 AND "
	"expires_at > $2::bigint"};
static const struct pg_stmt st_sessions_end_user = {
	"sessions_end_user", "DELETE FROM sessions WHERE user_id=$1"};
static const struct pg_stmt st_consent_get = {
	"consent_get", CONSENT_SELECT " WHERE c.user_id=$1 AND c.client_id=$2"};
static const struct pg_stmt st_consent_put = {
	"consent_put",
	"INSERT INTO consents (user_id, client_id, scope, granted_at, "
	"updated_at) VALUES ($1, $2, $3, $4::bigint, $5::bigint) "
	"ON CONFLICT (user_id, client_id) DO UPDATE SET "
	"scope=excluded.scope, updated_at=excluded.updated_at"};
#define CONSENT_WHERE "WHERE ($1::text IS NULL OR c.user_id=$1) AND "    \
                      "($2::text IS NULL OR c.client_id=$2)"
static const struct pg_stmt st_consent_list = {
	"consent_list",
	CONSENT_SELECT " " CONSENT_WHERE
	" ORDER BY c.client_id COLLATE \"C\", u.username COLLATE \"C\""};
#define CONSENT_PAGE                                                         \
	CONSENT_COLS, CONSENT_JOIN " " CONSENT_WHERE, "c.granted_at", "$3",  \
	"$4",                                                                \
	"c.granted_at DESC, c.client_id COLLATE \"C\" DESC, "                \
	"u.username COLLATE \"C\" DESC",                                     \
	"client_id COLLATE \"C\", username COLLATE \"C\""
static const struct pg_stmt st_consent_page = {
	"consent_page", PG_PAGE_SQL(CONSENT_PAGE)};
static const struct pg_stmt st_consent_counted = {
	"consent_counted", PG_COUNTED_SQL(CONSENT_PAGE)};
static const struct pg_listing st_consent_listing = {
	&st_consent_list, &st_consent_page, &st_consent_counted};
static const struct pg_stmt st_consent_revoke = {
	"consent_revoke",
	"DELETE FROM consents WHERE user_id=$1 AND "
	"($2::text IS NULL OR client_id=$2)"};

/* ---- codes --------------------------------------------------------------- */

static void read_code(const PGresult *r, int i, struct store_code *c)
{
	c->code_hash = pg_col_text(r, i, 0);
	c->client_id = pg_col_text(r, i, 1);
	c->subject = pg_col_text(r, i, 2);
	c->username = pg_col_text(r, i, 3);
	c->redirect_uri = pg_col_text(r, i, 4);
	c->scope = pg_col_text(r, i, 5);
	c->code_challenge = pg_col_text(r, i, 6);
	c->code_challenge_method = pg_col_text(r, i, 7);
	c->issued_at = pg_col_int(r, i, 8);
	c->expires_at = pg_col_int(r, i, 9);
	c->used_at = pg_col_int(r, i, 10);
	c->family_id = pg_col_text(r, i, 11);
	c->resource = pg_col_text(r, i, 12);
	c->nonce = pg_col_text(r, i, 13);
	c->auth_time = pg_col_int(r, i, 14);
	c->sid = pg_col_text(r, i, 15);
	c->amr = pg_col_text(r, i, 16);
	c->dpop_jkt = pg_col_text(r, i, 17);
}

static enum store_rc pg_code_add(struct store *s, const struct store_code *c)
{
	struct pg_params p = {0};
	pg_p_text(&p, c->code_hash);
	pg_p_text(&p, c->client_id);
	pg_p_text(&p, c->subject);
	pg_p_text(&p, c->username);
	pg_p_text(&p, c->redirect_uri);
	pg_p_text(&p, c->scope ? c->scope : "");
	pg_p_text(&p, c->code_challenge);
	pg_p_text(&p, c->code_challenge_method);
	pg_p_int(&p, c->issued_at);
	pg_p_int(&p, c->expires_at);
	pg_p_opt_int(&p, c->used_at);
	pg_p_text(&p, c->family_id);
	pg_p_text(&p, c->resource);
	pg_p_text(&p, c->nonce);
	pg_p_opt_int(&p, c->auth_time);
	pg_p_text(&p, c->sid);
	pg_p_text(&p, c->amr);
	pg_p_text(&p, c->dpop_jkt);
	return pg_once(s, &st_code_add, &p, NULL, NULL, false);
}

static enum store_rc pg_code_get(struct store *s, const char *hash,
                                 struct store_code *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, hash);
	PG_GET_ONE(s, &st_code_get, &p, read_code, out);
}

static enum store_rc pg_jti_use(struct store *s, const char *jti_hash,
                                int64_t expires_at, int64_t now)
{
	struct pg_params p = {0};
	int changes = 0;
	pg_p_text(&p, jti_hash);
	pg_p_int(&p, expires_at);
	pg_p_int(&p, now);
	enum store_rc r = pg_once(s, &st_jti_use, &p, NULL, &changes, false);
	return r == STORE_OK && changes == 0 ? STORE_CONFLICT : r;
}

/* ---- device codes -------------------------------------------------------- */

static void read_device(const PGresult *r, int i, struct store_device *d)
{
	d->device_code_hash = pg_col_text(r, i, 0);
	d->user_code_hash = pg_col_text(r, i, 1);
	d->client_id = pg_col_text(r, i, 2);
	d->scope = pg_col_text(r, i, 3);
	d->issued_at = pg_col_int(r, i, 4);
	d->expires_at = pg_col_int(r, i, 5);
	d->poll_interval = pg_col_int(r, i, 6);
	d->last_polled_at = pg_col_int(r, i, 7);
	d->decided_at = pg_col_int(r, i, 8);
	d->approved = pg_col_int(r, i, 9) != 0;
	d->user_id = pg_col_text(r, i, 10);
	d->username = pg_col_text(r, i, 11);
	d->auth_time = pg_col_int(r, i, 12);
	d->sid = pg_col_text(r, i, 13);
	d->amr = pg_col_text(r, i, 14);
	d->used_at = pg_col_int(r, i, 15);
	d->family_id = pg_col_text(r, i, 16);
}

static enum store_rc pg_device_add(struct store *s,
                                   const struct store_device *d)
{
	struct pg_params p = {0};
	pg_p_text(&p, d->device_code_hash);
	pg_p_text(&p, d->user_code_hash);
	pg_p_text(&p, d->client_id);
	pg_p_text(&p, d->scope ? d->scope : "");
	pg_p_int(&p, d->issued_at);
	pg_p_int(&p, d->expires_at);
	pg_p_int(&p, d->poll_interval);
	pg_p_opt_int(&p, d->last_polled_at);
	pg_p_opt_int(&p, d->decided_at);
	pg_p_int(&p, d->approved ? 1 : 0);
	pg_p_text(&p, d->user_id);
	pg_p_text(&p, d->username);
	pg_p_opt_int(&p, d->auth_time);
	pg_p_text(&p, d->sid);
	pg_p_text(&p, d->amr);
	pg_p_opt_int(&p, d->used_at);
	pg_p_text(&p, d->family_id);
	return pg_once(s, &st_device_add, &p, NULL, NULL, false);
}

static enum store_rc pg_device_get(struct store *s, const char *hash,
                                   struct store_device *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, hash);
	PG_GET_ONE(s, &st_device_get, &p, read_device, out);
}

static enum store_rc pg_device_by_user(struct store *s, const char *hash,
                                       int64_t now, struct store_device *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, hash);
	pg_p_int(&p, now);
	PG_GET_ONE(s, &st_device_by_user, &p, read_device, out);
}

static enum store_rc pg_device_decide(struct store *s, const char *user_hash,
                                      int64_t now,
                                      const struct store_device *d)
{
	struct pg_params p = {0};
	int n = 0;
	pg_p_text(&p, user_hash);
	pg_p_int(&p, now);
	pg_p_int(&p, d->approved ? 1 : 0);
	pg_p_text(&p, d->user_id);
	pg_p_text(&p, d->username);
	pg_p_opt_int(&p, d->auth_time);
	pg_p_text(&p, d->sid);
	pg_p_text(&p, d->amr);
	enum store_rc r = pg_once(s, &st_device_decide, &p, NULL, &n, false);
	return r == STORE_OK && n == 0 ? STORE_NOT_FOUND : r;
}

static enum store_rc pg_device_poll(struct store *s, const char *hash,
                                    int64_t was, int64_t now,
                                    int64_t interval)
{
	struct pg_params p = {0};
	int n = 0;
	pg_p_text(&p, hash);
	pg_p_opt_int(&p, was);
	pg_p_int(&p, now);
	pg_p_int(&p, interval);
	enum store_rc r = pg_once(s, &st_device_poll, &p, NULL, &n, false);
	return r == STORE_OK && n == 0 ? STORE_CONFLICT : r;
}

/* ---- sessions ------------------------------------------------------------ */

static void read_session(const PGresult *r, int i, struct store_session *se)
{
	se->session_hash = pg_col_text(r, i, 0);
	se->user_id = pg_col_text(r, i, 1);
	se->auth_time = pg_col_int(r, i, 2);
	se->expires_at = pg_col_int(r, i, 3);
	se->sid = pg_col_text(r, i, 4);
	se->amr = pg_col_text(r, i, 5);
}

/* A listing's row: the session and its user's name. */
static void read_session_row(const PGresult *r, int i,
                             struct store_session *se)
{
	read_session(r, i, se);
	se->username = pg_col_text(r, i, 6);
}

static enum store_rc pg_session_add(struct store *s,
                                    const struct store_session *se)
{
	struct pg_params p = {0};
	pg_p_text(&p, se->session_hash);
	pg_p_text(&p, se->user_id);
	pg_p_int(&p, se->auth_time);
	pg_p_int(&p, se->expires_at);
	pg_p_text(&p, se->sid);
	pg_p_text(&p, se->amr ? se->amr : "pwd");
	return pg_once(s, &st_session_add, &p, NULL, NULL, false);
}

/* An expired session is not found, as on SQLite. */
static enum store_rc pg_session_get(struct store *s, const char *hash,
                                    int64_t now, struct store_session *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, hash);
	pg_p_int(&p, now);
	PG_GET_ONE(s, &st_session_get, &p, read_session, out);
}

/* Runs a one-key DELETE; *count (when given) is the rows it removed. */
static enum store_rc delete_by(struct store *s, const struct pg_stmt *st,
                               const char *key, const char *key2,
                               bool two, int *count)
{
	struct pg_params p = {0};
	int n = 0;
	pg_p_text(&p, key);
	if (two)
		pg_p_text(&p, key2);
	enum store_rc r = pg_once(s, st, &p, NULL, &n, false);
	if (count != NULL)
		*count = n;
	return r;
}

static enum store_rc pg_sessions_end_user(struct store *s,
                                          const char *user_id, int *count)
{
	return delete_by(s, &st_sessions_end_user, user_id, NULL, false,
	                 count);
}

static enum store_rc pg_session_end(struct store *s, const char *sid,
                                    int *count)
{
	return delete_by(s, &st_session_end, sid, NULL, false, count);
}

static enum store_rc pg_session_list(struct store *s, const char *user_id,
                                     int64_t now,
                                     const struct store_page *page,
                                     store_session_cb cb, void *arg)
{
	struct pg_params p = {0};
	pg_p_text(&p, user_id);
	pg_p_int(&p, now);
	PG_LIST_PAGE(s, &st_session_listing, page, &p, struct store_session,
	             read_session_row, store_session_clear, cb, arg);
}

/* ---- consents ------------------------------------------------------------ */

static void read_consent(const PGresult *r, int i, struct store_consent *c)
{
	c->user_id = pg_col_text(r, i, 0);
	c->client_id = pg_col_text(r, i, 1);
	c->scope = pg_col_text(r, i, 2);
	c->granted_at = pg_col_int(r, i, 3);
	c->updated_at = pg_col_int(r, i, 4);
	c->username = pg_col_text(r, i, 5);
}

static enum store_rc pg_consent_get(struct store *s, const char *user_id,
                                    const char *client_id,
                                    struct store_consent *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, user_id);
	pg_p_text(&p, client_id);
	PG_GET_ONE(s, &st_consent_get, &p, read_consent, out);
}

static enum store_rc pg_consent_put(struct store *s,
                                    const struct store_consent *c)
{
	struct pg_params p = {0};
	pg_p_text(&p, c->user_id);
	pg_p_text(&p, c->client_id);
	pg_p_text(&p, c->scope ? c->scope : "");
	pg_p_int(&p, c->granted_at);
	pg_p_int(&p, c->updated_at);
	return pg_once(s, &st_consent_put, &p, NULL, NULL, false);
}

static enum store_rc pg_consent_list(struct store *s, const char *user_id,
                                     const char *client_id,
                                     const struct store_page *page,
                                     store_consent_cb cb, void *arg)
{
	struct pg_params p = {0};
	pg_p_text(&p, user_id);
	pg_p_text(&p, client_id);
	PG_LIST_PAGE(s, &st_consent_listing, page, &p, struct store_consent,
	             read_consent, store_consent_clear, cb, arg);
}

static enum store_rc pg_consent_revoke(struct store *s, const char *user_id,
                                       const char *client_id, int *count)
{
	return delete_by(s, &st_consent_revoke, user_id, client_id, true,
	                 count);
}

const struct pg_code_ops pg_code_ops = {
	.add = pg_code_add,
	.get = pg_code_get,
	.jti_use = pg_jti_use,
	.device_add = pg_device_add,
	.device_get = pg_device_get,
	.device_by_user = pg_device_by_user,
	.device_decide = pg_device_decide,
	.device_poll = pg_device_poll,
	.session_add = pg_session_add,
	.session_get = pg_session_get,
	.sessions_end_user = pg_sessions_end_user,
	.session_end = pg_session_end,
	.session_list = pg_session_list,
	.consent_get = pg_consent_get,
	.consent_put = pg_consent_put,
	.consent_list = pg_consent_list,
	.consent_revoke = pg_consent_revoke,
};
