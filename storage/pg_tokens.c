/*
 * pg_tokens.c: access-token records, signing keys, refresh tokens and
 * their families, and token issue (xIssue) on PostgreSQL (map: pg_int.h).
 *
 * The compare-and-set updates are single statements whose WHERE clause is
 * the check: under READ COMMITTED a concurrent update of the same row
 * makes the second one wait, re-read the row and fail the check, so of N
 * concurrent refreshes (or redemptions, or relinks) exactly one changes
 * the row, here as on SQLite. An issue's writes are one batch (pg_batch,
 * or a savepoint in a group: pg_commit.c): one round trip, one
 * transaction, retried on serialization failures and deadlocks.
 * Times are bound from the caller (Latchkey's clock), never now().
 */
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "store_cols.h"

/* The advisory lock key that serializes key rotations (and the first key
 * of a new database): "LKKEYROT" as an integer. */
#define PG_KEY_LOCK "5498890929094054740"

static const struct pg_stmt st_token_add = {
	"token_add",
	"INSERT INTO access_tokens (" TOKEN_COLS ") VALUES ($1, $2, $3, $4, $5, "
	"$6::bigint, $7::bigint, $8::bigint, $9)"};
static const struct pg_stmt st_token_get = {
	"token_get", "SELECT " TOKEN_COLS " FROM access_tokens WHERE jti=$1"};
#define TOKEN_FROM                                                          \
	"access_tokens "                                                    \
	"WHERE ($1::text IS NULL OR client_id=$1) AND ($2::integer = 0 OR " \
	"(revoked_at IS NULL AND expires_at > $3::bigint)) "                \
	"AND ($4::text IS NULL OR subject=$4) "                             \
	"AND ($5::text IS NULL OR family_id=$5)"
static const struct pg_stmt st_token_list = {
	"token_list",
	"SELECT " TOKEN_COLS " FROM " TOKEN_FROM
	" ORDER BY issued_at, jti COLLATE \"C\""};
#define TOKEN_PAGE TOKEN_COLS, TOKEN_FROM, "issued_at", "$6", "$7",           \
	"issued_at DESC, jti COLLATE \"C\" DESC", "issued_at, jti COLLATE \"C\""
static const struct pg_stmt st_token_page = {
	"token_page", PG_PAGE_SQL(TOKEN_PAGE)};
static const struct pg_stmt st_token_counted = {
	"token_counted", PG_COUNTED_SQL(TOKEN_PAGE)};
static const struct pg_listing st_token_listing = {
	&st_token_list, &st_token_page, &st_token_counted};
static const struct pg_stmt st_token_revoke = {
	"token_revoke",
	"UPDATE access_tokens SET revoked_at=$2::bigint "
	"WHERE jti=$1 AND revoked_at IS NULL"};
static const struct pg_stmt st_token_revoke_client = {
	"token_revoke_client",
	"UPDATE access_tokens SET revoked_at=$2::bigint "
	"WHERE client_id=$1 AND revoked_at IS NULL"};
static const struct pg_stmt st_token_revoke_client_rt = {
	"token_revoke_client_rt",
	"UPDATE refresh_tokens SET revoked_at=$2::bigint "
	"WHERE client_id=$1 AND revoked_at IS NULL"};
static const struct pg_stmt st_key_lock = {
	"key_lock", "SELECT pg_advisory_xact_lock(" PG_KEY_LOCK ")"};
/* Per algorithm (migration 0008): $2 is the algorithm. */
static const struct pg_stmt st_key_retire = {
	"key_retire",
	"UPDATE signing_keys SET retired_at=$1::bigint WHERE retired_at IS NULL "
	"AND alg=$2"};
static const struct pg_stmt st_key_retire_kid = {
	"key_retire_kid",
	"UPDATE signing_keys SET retired_at=$1::bigint "
	"WHERE retired_at IS NULL AND alg=$2 AND kid=$3"};
static const struct pg_stmt st_key_add = {
	"key_add",
	"INSERT INTO signing_keys (" KEY_COLS ") VALUES ($1, $2, $3, "
	"$4::bigint, NULL)"};
/* Staged rotation: a next key's retired_at is STORE_KEY_NEXT (-1). */
static const struct pg_stmt st_key_next = {
	"key_next",
	"SELECT " KEY_COLS " FROM signing_keys WHERE retired_at=-1 AND alg=$1"};
static const struct pg_stmt st_key_retire_next = {
	"key_retire_next",
	"UPDATE signing_keys SET retired_at=$1::bigint WHERE retired_at=-1 "
	"AND alg=$2"};
static const struct pg_stmt st_key_add_next = {
	"key_add_next",
	"INSERT INTO signing_keys (" KEY_COLS ") VALUES ($1, $2, $3, "
	"$4::bigint, -1)"};
static const struct pg_stmt st_key_activate = {
	"key_activate",
	"UPDATE signing_keys SET retired_at=NULL WHERE retired_at=-1 AND "
	"alg=$1 AND kid=$2"};
static const struct pg_stmt st_key_current = {
	"key_current",
	"SELECT " KEY_COLS " FROM signing_keys WHERE retired_at IS NULL "
	"AND alg=$1"};
#define KEY_ORDER "retired_at IS NOT NULL, created_at DESC, kid COLLATE \"C\""
static const struct pg_stmt st_key_list = {
	"key_list", "SELECT " KEY_COLS " FROM signing_keys ORDER BY " KEY_ORDER};
#define KEY_PAGE                                                             \
	KEY_COLS, "signing_keys WHERE TRUE", "created_at", "$1", "$2",       \
	"created_at DESC, kid COLLATE \"C\" DESC", KEY_ORDER
static const struct pg_stmt st_key_page = {
	"key_page", PG_PAGE_SQL(KEY_PAGE)};
static const struct pg_stmt st_key_counted = {
	"key_counted", PG_COUNTED_SQL(KEY_PAGE)};
static const struct pg_listing st_key_listing = {
	&st_key_list, &st_key_page, &st_key_counted};
/* $1 now, $2 the grace for unrecorded tokens (store.h xList). */
static const struct pg_stmt st_key_published = {
	"key_published",
	"SELECT " KEY_COLS " FROM signing_keys k WHERE retired_at IS NULL OR "
	"retired_at < 0 OR retired_at > $1::bigint - $2::bigint OR "
	"EXISTS (SELECT 1 FROM access_tokens t WHERE t.kid=k.kid AND "
	"t.expires_at > $1::bigint) ORDER BY retired_at IS NOT NULL, "
	"created_at DESC, kid COLLATE \"C\""};
static const struct pg_stmt st_rt_add = {
	"rt_add",
	"INSERT INTO refresh_tokens (" RT_COLS ") VALUES ($1, $2, $3, $4, $5, "
	"$6, $7, $8::bigint, $9::bigint, $10::bigint, $11::bigint, "
	"$12::bigint, $13, $14, $15)"};
static const struct pg_stmt st_rt_get = {
	"rt_get", "SELECT " RT_COLS " FROM refresh_tokens WHERE token_hash=$1"};
static const struct pg_stmt st_family_revoke_rt = {
	"family_revoke_rt",
	"UPDATE refresh_tokens SET revoked_at=$2::bigint "
	"WHERE family_id=$1 AND revoked_at IS NULL"};
static const struct pg_stmt st_family_revoke_at = {
	"family_revoke_at",
	"UPDATE access_tokens SET revoked_at=$2::bigint "
	"WHERE family_id=$1 AND revoked_at IS NULL"};
/* A session's families of one client: those with a refresh token of its
 * sid issued to client $3. */
static const struct pg_stmt st_sid_revoke_rt = {
	"sid_revoke_rt",
	"UPDATE refresh_tokens SET revoked_at=$2::bigint WHERE revoked_at IS "
	"NULL AND family_id IN (SELECT family_id FROM refresh_tokens WHERE "
	"sid=$1 AND client_id=$3)"};
static const struct pg_stmt st_sid_revoke_at = {
	"sid_revoke_at",
	"UPDATE access_tokens SET revoked_at=$2::bigint WHERE revoked_at IS "
	"NULL AND family_id IN (SELECT family_id FROM refresh_tokens WHERE "
	"sid=$1 AND client_id=$3)"};
/* seq (insertion order) breaks ties as SQLite's rowid does. */
#define RT_FROM                                                             \
	"refresh_tokens "                                                   \
	"WHERE ($1::text IS NULL OR client_id=$1) "                         \
	"AND ($2::text IS NULL OR subject=$2) "                             \
	"AND ($3::text IS NULL OR family_id=$3) "                           \
	"AND ($4::integer = 0 OR (retired_at IS NULL AND revoked_at IS NULL " \
	"AND expires_at > $5::bigint))"
static const struct pg_stmt st_rt_list = {
	"rt_list",
	"SELECT " RT_COLS " FROM " RT_FROM " ORDER BY issued_at, seq"};
#define RT_PAGE RT_COLS ", seq", RT_FROM, "issued_at", "$6", "$7",             \
	"issued_at DESC, seq DESC", "issued_at, seq"
static const struct pg_stmt st_rt_page = {
	"rt_page", PG_PAGE_SQL(RT_PAGE)};
static const struct pg_stmt st_rt_counted = {
	"rt_counted", PG_COUNTED_SQL(RT_PAGE)};
static const struct pg_listing st_rt_listing = {
	&st_rt_list, &st_rt_page, &st_rt_counted};
static const struct pg_stmt st_subject_revoke_rt = {
	"subject_revoke_rt",
	"UPDATE refresh_tokens SET revoked_at=$2::bigint "
	"WHERE subject=$1 AND revoked_at IS NULL"};
static const struct pg_stmt st_subject_revoke_at = {
	"subject_revoke_at",
	"UPDATE access_tokens SET revoked_at=$2::bigint "
	"WHERE subject=$1 AND revoked_at IS NULL"};

/* The compare-and-sets of an issue, as pg_batch runs them: the WHERE
 * clause is the check (of two concurrent redemptions of a code, or
 * refreshes of a token, only one changes the row: RFC 6749 section 4.1.2;
 * the relink compares access_jti too, $4 maybe NULL: store.h). A check that
 * matched no row divides by zero, which fails the batch (STORE_CONFLICT)
 * and rolls back all of it, with no round trip to decide. */
#define CHECKED(update) "WITH u AS (" update " RETURNING 1) " \
                        "SELECT 1 / count(*) FROM u"
/* An issue holds its client's advisory lock shared (PG_CLIENT_LOCK,
 * pg_int.h) until it commits; a change of the client takes it exclusive.
 * The lock comes first, in a statement of its own, so that the check's
 * snapshot (READ COMMITTED: one per statement) is taken after any
 * change that got the lock before: such a change is seen and fails the
 * check, and a later one waits for the issue. A heavyweight lock's queue
 * is fair, where a row's share lock (FOR SHARE) would let a busy
 * client's overlapping issues starve a rotation. */
static const struct pg_stmt st_client_lock_b = {
	"client_lock_b",
	"SELECT pg_advisory_xact_lock_shared(" PG_CLIENT_LOCK ", hashtext($1))"};
static const struct pg_stmt st_client_version_b = {
	"client_version_b",
	"SELECT 1 / count(*) FROM clients WHERE client_id=$1 AND "
	"secret_version=$2::bigint"};
static const struct pg_stmt st_code_consume_b = {
	"code_consume_b",
	CHECKED("UPDATE authorization_codes SET used_at=$2::bigint, "
	        "family_id=$3 WHERE code_hash=$1 AND used_at IS NULL AND "
	        "expires_at > $2::bigint")};
static const struct pg_stmt st_device_consume_b = {
	"device_consume_b",
	CHECKED("UPDATE device_codes SET used_at=$2::bigint, family_id=$3 "
	        "WHERE device_code_hash=$1 AND used_at IS NULL AND approved=1 "
	        "AND expires_at > $2::bigint")};
static const struct pg_stmt st_rt_retire_b = {
	"rt_retire_b",
	CHECKED("UPDATE refresh_tokens SET retired_at=$2::bigint WHERE "
	        "token_hash=$1 AND retired_at IS NULL AND revoked_at IS NULL "
	        "AND expires_at > $2::bigint")};
static const struct pg_stmt st_rt_relink_b = {
	"rt_relink_b",
	CHECKED("UPDATE refresh_tokens SET access_jti=$3 WHERE token_hash=$1 "
	        "AND access_jti IS NOT DISTINCT FROM $4::text AND retired_at IS "
	        "NULL AND revoked_at IS NULL AND expires_at > $2::bigint")};

/* ---- access tokens ------------------------------------------------------- */

static void read_token(const PGresult *r, int i, struct store_token *t)
{
	t->jti = pg_col_text(r, i, 0);
	t->client_id = pg_col_text(r, i, 1);
	t->subject = pg_col_text(r, i, 2);
	t->scope = pg_col_text(r, i, 3);
	t->kid = pg_col_text(r, i, 4);
	t->issued_at = pg_col_int(r, i, 5);
	t->expires_at = pg_col_int(r, i, 6);
	t->revoked_at = pg_col_int(r, i, 7);
	t->family_id = pg_col_text(r, i, 8);
}

static void bind_token(struct pg_params *p, const struct store_token *t)
{
	pg_p_text(p, t->jti);
	pg_p_text(p, t->client_id);
	pg_p_text(p, t->subject);
	pg_p_text(p, t->scope ? t->scope : "");
	pg_p_text(p, t->kid);
	pg_p_int(p, t->issued_at);
	pg_p_int(p, t->expires_at);
	pg_p_opt_int(p, t->revoked_at);
	pg_p_text(p, t->family_id);
}

static enum store_rc pg_token_get(struct store *s, const char *jti,
                                  struct store_token *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, jti);
	PG_GET_ONE(s, &st_token_get, &p, read_token, out);
}

static enum store_rc pg_token_list(struct store *s,
                                   const struct store_token_filter *f,
                                   store_token_cb cb, void *arg)
{
	struct pg_params p = {0};
	pg_p_text(&p, f->client_id);
	pg_p_int(&p, f->active_only);
	pg_p_int(&p, f->now);
	pg_p_text(&p, f->subject);
	pg_p_text(&p, f->family_id);
	PG_LIST_PAGE(s, &st_token_listing, f->page, &p, struct store_token,
	             read_token, store_token_clear, cb, arg);
}

static enum store_rc pg_token_revoke(struct store *s, const char *jti,
                                     int64_t now, int *count)
{
	struct pg_params p = {0};
	int n = 0;
	pg_p_text(&p, jti);
	pg_p_int(&p, now);
	enum store_rc r = pg_once(s, &st_token_revoke, &p, NULL, &n, false);
	if (count != NULL)
		*count = n;
	return r;
}

/* Two (key, now) statements in one transaction, refresh tokens first, so
 * no reader sees a refresh token revoked while the access tokens issued
 * with it still pass. */
struct pair {
	const struct pg_stmt *first, *second;
	const char *key;
	int64_t now;
	int count;
};

static enum store_rc pair_tx(struct pg_conn *c, void *arg)
{
	struct pair *pr = arg;
	int a = 0, b = 0;
	pr->count = 0;
	enum store_rc r = pg_run_key_now(c, pr->first, pr->key, pr->now, &a);
	if (r == STORE_OK)
		r = pg_run_key_now(c, pr->second, pr->key, pr->now, &b);
	pr->count = a + b;
	return r;
}

static enum store_rc run_pair(struct store *s, const struct pg_stmt *first,
                              const struct pg_stmt *second, const char *key,
                              int64_t now, int *count)
{
	struct pair pr = {first, second, key, now, 0};
	enum store_rc r = pg_tx(s, pair_tx, &pr);
	if (count != NULL)
		*count = r == STORE_OK ? pr.count : 0;
	return r;
}

/* A client's refresh tokens too: else it could mint new access tokens. */
static enum store_rc pg_token_revoke_client(struct store *s,
                                            const char *client_id,
                                            int64_t now, int *count)
{
	return run_pair(s, &st_token_revoke_client_rt, &st_token_revoke_client,
	                client_id, now, count);
}

static enum store_rc pg_family_revoke(struct store *s, const char *family_id,
                                      int64_t now, int *count)
{
	return run_pair(s, &st_family_revoke_rt, &st_family_revoke_at,
	                family_id, now, count);
}

static enum store_rc pg_subject_revoke(struct store *s, const char *subject,
                                       int64_t now, int *count)
{
	return run_pair(s, &st_subject_revoke_rt, &st_subject_revoke_at,
	                subject, now, count);
}

/* As pair_tx, with the client as a third parameter. */
struct sid_pair {
	const char *sid, *client_id;
	int64_t now;
	int count;
};

static enum store_rc run_sid(struct pg_conn *c, const struct pg_stmt *st,
                             const struct sid_pair *sp, int *n)
{
	struct pg_params p = {0};
	pg_p_text(&p, sp->sid);
	pg_p_int(&p, sp->now);
	pg_p_text(&p, sp->client_id);
	return pg_run(c, st, &p, NULL, n);
}

static enum store_rc sid_tx(struct pg_conn *c, void *arg)
{
	struct sid_pair *sp = arg;
	int a = 0, b = 0;
	sp->count = 0;
	enum store_rc r = run_sid(c, &st_sid_revoke_rt, sp, &a);
	if (r == STORE_OK)
		r = run_sid(c, &st_sid_revoke_at, sp, &b);
	sp->count = a + b;
	return r;
}

static enum store_rc pg_revoke_sid(struct store *s, const char *sid,
                                   const char *client_id, int64_t now,
                                   int *count)
{
	struct sid_pair sp = {sid, client_id, now, 0};
	enum store_rc r = pg_tx(s, sid_tx, &sp);
	if (count != NULL)
		*count = r == STORE_OK ? sp.count : 0;
	return r;
}

/* ---- signing keys -------------------------------------------------------- */

static void read_key(const PGresult *r, int i, struct store_key *k)
{
	k->kid = pg_col_text(r, i, 0);
	k->alg = pg_col_text(r, i, 1);
	k->private_pem = pg_col_text(r, i, 2);
	k->created_at = pg_col_int(r, i, 3);
	k->retired_at = pg_col_int(r, i, 4);
}

/* The parameters of st_key_add and st_key_add_next: k's columns. */
static void key_params(struct pg_params *p, const struct store_key *k)
{
	memset(p, 0, sizeof(*p));
	pg_p_text(p, k->kid);
	pg_p_text(p, k->alg);
	pg_p_text(p, k->private_pem);
	pg_p_int(p, k->created_at);
}

/* Rotations queue on an advisory lock, and each statement of READ
 * COMMITTED sees what committed before it: the retire then finds the key
 * the previous rotation added, as SQLite's serialized writers do. */
static enum store_rc key_add_tx(struct pg_conn *c, void *arg)
{
	const struct store_key *k = arg;
	struct pg_params p = {0};
	enum store_rc r = pg_run(c, &st_key_lock, NULL, NULL, NULL);
	pg_p_int(&p, k->created_at);
	pg_p_text(&p, k->alg);
	if (r == STORE_OK)
		r = pg_run(c, &st_key_retire, &p, NULL, NULL);
	key_params(&p, k);
	if (r == STORE_OK)
		r = pg_run(c, &st_key_add, &p, NULL, NULL);
	return r;
}

static enum store_rc pg_key_add_current(struct store *s,
                                        const struct store_key *k)
{
	return pg_tx(s, key_add_tx, (void *)k);
}

/* xReplaceCurrent: the same queue on the advisory lock, then a retire of
 * the expected key (of k's algorithm) that must match one row, or (no
 * expected key) an insert that the unique index signing_keys_current_alg
 * (migration 0008) refuses (23505, STORE_CONFLICT) when another process
 * added a current key of that algorithm first. */
struct key_replace {
	const char *expected;
	const struct store_key *k;
};

static enum store_rc key_replace_tx(struct pg_conn *c, void *arg)
{
	const struct key_replace *kr = arg;
	struct pg_params p = {0};
	int changes = 0;
	enum store_rc r = pg_run(c, &st_key_lock, NULL, NULL, NULL);
	if (r == STORE_OK && kr->expected != NULL) {
		pg_p_int(&p, kr->k->created_at);
		pg_p_text(&p, kr->k->alg);
		pg_p_text(&p, kr->expected);
		r = pg_run(c, &st_key_retire_kid, &p, NULL, &changes);
		if (r == STORE_OK && changes != 1)
			r = STORE_CONFLICT;
	}
	key_params(&p, kr->k);
	if (r == STORE_OK)
		r = pg_run(c, &st_key_add, &p, NULL, NULL);
	return r;
}

static enum store_rc pg_key_replace_current(struct store *s,
                                            const char *expected,
                                            const struct store_key *k)
{
	struct key_replace kr = {expected, k};
	return pg_tx(s, key_replace_tx, &kr);
}

static enum store_rc pg_key_current(struct store *s, const char *alg,
                                    struct store_key *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, alg);
	PG_GET_ONE(s, &st_key_current, &p, read_key, out);
}

static enum store_rc pg_key_next(struct store *s, const char *alg,
                                 struct store_key *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, alg);
	PG_GET_ONE(s, &st_key_next, &p, read_key, out);
}

/* The staged rotation's writes queue on the keys' advisory lock too, so
 * each sees the next key the one before it left (as key_add_tx). */
struct key_next_op {
	const struct store_key *k; /* add: the new next key */
	bool only_if_none;
	const char *alg, *expected; /* promote */
	int64_t now;
};

static enum store_rc key_add_next_tx(struct pg_conn *c, void *arg)
{
	const struct key_next_op *op = arg;
	struct pg_params p = {0};
	int n = 0;
	enum store_rc r = pg_run(c, &st_key_lock, NULL, NULL, NULL);
	pg_p_int(&p, op->k->created_at);
	pg_p_text(&p, op->k->alg);
	if (r == STORE_OK)
		r = pg_run(c, &st_key_retire_next, &p, NULL, &n);
	if (r == STORE_OK && n > 0 && op->only_if_none)
		return STORE_CONFLICT; /* rolled back by pg_tx */
	key_params(&p, op->k);
	if (r == STORE_OK)
		r = pg_run(c, &st_key_add_next, &p, NULL, NULL);
	return r;
}

static enum store_rc pg_key_add_next(struct store *s, const struct store_key *k,
                                     bool only_if_none)
{
	struct key_next_op op = {.k = k, .only_if_none = only_if_none};
	return pg_tx(s, key_add_next_tx, &op);
}

static enum store_rc key_promote_tx(struct pg_conn *c, void *arg)
{
	const struct key_next_op *op = arg;
	struct pg_params p = {0};
	char *kid = NULL;
	PGresult *res = NULL;
	enum store_rc r = pg_run(c, &st_key_lock, NULL, NULL, NULL);
	pg_p_text(&p, op->alg);
	/* Read inside the transaction, under the lock. */
	if (r == STORE_OK)
		r = pg_run(c, &st_key_next, &p, &res, NULL);
	if (r == STORE_OK && PQntuples(res) > 0)
		kid = pg_col_text(res, 0, 0);
	PQclear(res);
	if (r == STORE_OK && (kid == NULL || (op->expected != NULL &&
	                                      strcmp(kid, op->expected) != 0)))
		r = STORE_NOT_FOUND;
	memset(&p, 0, sizeof(p));
	pg_p_int(&p, op->now);
	pg_p_text(&p, op->alg);
	if (r == STORE_OK)
		r = pg_run(c, &st_key_retire, &p, NULL, NULL);
	memset(&p, 0, sizeof(p));
	pg_p_text(&p, op->alg);
	pg_p_text(&p, kid);
	int n = 0;
	if (r == STORE_OK)
		r = pg_run(c, &st_key_activate, &p, NULL, &n);
	if (r == STORE_OK && n != 1)
		r = STORE_NOT_FOUND;
	free(kid);
	return r;
}

static enum store_rc pg_key_promote(struct store *s, const char *alg,
                                    const char *expected, int64_t now)
{
	struct key_next_op op = {.alg = alg, .expected = expected, .now = now};
	return pg_tx(s, key_promote_tx, &op);
}

static enum store_rc pg_key_list(struct store *s, bool published_only,
                                 int64_t now, int64_t grace,
                                 const struct store_page *page,
                                 store_key_cb cb, void *arg)
{
	struct pg_params p = {0};
	if (published_only) {
		pg_p_int(&p, now);
		pg_p_int(&p, grace);
		PG_LIST_ROWS(s, &st_key_published, &p, NULL, struct store_key,
		             read_key, store_key_clear, cb, arg);
	}
	PG_LIST_PAGE(s, &st_key_listing, page, &p, struct store_key, read_key,
	             store_key_clear, cb, arg);
}

/* ---- refresh tokens and issue -------------------------------------------- */

static void read_refresh(const PGresult *r, int i, struct store_refresh *rt)
{
	rt->token_hash = pg_col_text(r, i, 0);
	rt->family_id = pg_col_text(r, i, 1);
	rt->client_id = pg_col_text(r, i, 2);
	rt->subject = pg_col_text(r, i, 3);
	rt->username = pg_col_text(r, i, 4);
	rt->scope = pg_col_text(r, i, 5);
	rt->access_jti = pg_col_text(r, i, 6);
	rt->issued_at = pg_col_int(r, i, 7);
	rt->expires_at = pg_col_int(r, i, 8);
	rt->retired_at = pg_col_int(r, i, 9);
	rt->revoked_at = pg_col_int(r, i, 10);
	rt->auth_time = pg_col_int(r, i, 11);
	rt->sid = pg_col_text(r, i, 12);
	rt->amr = pg_col_text(r, i, 13);
	rt->dpop_jkt = pg_col_text(r, i, 14);
}


static void bind_refresh(struct pg_params *p, const struct store_refresh *rt)
{
	pg_p_text(p, rt->token_hash);
	pg_p_text(p, rt->family_id);
	pg_p_text(p, rt->client_id);
	pg_p_text(p, rt->subject);
	pg_p_text(p, rt->username);
	pg_p_text(p, rt->scope ? rt->scope : "");
	pg_p_text(p, rt->access_jti);
	pg_p_int(p, rt->issued_at);
	pg_p_int(p, rt->expires_at);
	pg_p_opt_int(p, rt->retired_at);
	pg_p_opt_int(p, rt->revoked_at);
	pg_p_opt_int(p, rt->auth_time);
	pg_p_text(p, rt->sid);
	pg_p_text(p, rt->amr);
	pg_p_text(p, rt->dpop_jkt);
}

/* Appends a (key, now[, arg[, arg2]]) statement to the batch. */
static struct pg_batch_item *add_key_now(struct pg_batch_item *it,
                                         const struct pg_stmt *st,
                                         const char *key, int64_t now,
                                         int extra, const char *arg,
                                         const char *arg2)
{
	it->st = st;
	pg_p_text(&it->p, key);
	pg_p_int(&it->p, now);
	if (extra >= 1)
		pg_p_text(&it->p, arg);
	if (extra >= 2)
		pg_p_text(&it->p, arg2);
	return it + 1;
}

/* The writes of one issue, in the order of sqlite_issue.c's: run alone
 * as one batch (one round trip, one transaction), or with others in a
 * group (pg_commit.c). */
int pg_issue_items(const struct store_issue *is,
                   struct pg_batch_item items[PG_ISSUE_ITEMS])
{
	struct pg_batch_item *it = items;
	/* The client first: one changed or removed since the request
	 * authenticated gets nothing (store.h, client_version). */
	it->st = &st_client_lock_b;
	pg_p_text(&it->p, is->access->client_id);
	it++;
	it->st = &st_client_version_b;
	pg_p_text(&it->p, is->access->client_id);
	pg_p_int(&it->p, is->client_version);
	it->check_rc = STORE_STALE;
	it++;
	/* The code first: a code that is used, expired or unknown writes
	 * nothing, and the redemption that wins records the family. */
	if (is->consume_code_hash != NULL)
		it = add_key_now(it, &st_code_consume_b, is->consume_code_hash,
		                 is->now, 1, is->access->family_id, NULL);
	if (is->consume_device_hash != NULL)
		it = add_key_now(it, &st_device_consume_b,
		                 is->consume_device_hash, is->now, 1,
		                 is->access->family_id, NULL);
	if (is->retire_hash != NULL)
		it = add_key_now(it, &st_rt_retire_b, is->retire_hash, is->now, 0,
		                 NULL, NULL);
	/* Before revoke_jti: a relink that lost must not revoke anything. */
	if (is->relink_hash != NULL)
		it = add_key_now(it, &st_rt_relink_b, is->relink_hash, is->now, 2,
		                 is->relink_jti, is->relink_from_jti);
	if (is->revoke_jti != NULL)
		it = add_key_now(it, &st_token_revoke, is->revoke_jti, is->now, 0,
		                 NULL, NULL);
	it->st = &st_token_add;
	bind_token(&it->p, is->access);
	it++;
	if (is->refresh != NULL) {
		it->st = &st_rt_add;
		bind_refresh(&it->p, is->refresh);
		it++;
	}
	return (int)(it - items);
}

static enum store_rc pg_refresh_get(struct store *s, const char *hash,
                                    struct store_refresh *out)
{
	struct pg_params p = {0};
	pg_p_text(&p, hash);
	PG_GET_ONE(s, &st_rt_get, &p, read_refresh, out);
}

static enum store_rc pg_refresh_list(struct store *s,
                                     const struct store_refresh_filter *f,
                                     store_refresh_cb cb, void *arg)
{
	struct pg_params p = {0};
	pg_p_text(&p, f->client_id);
	pg_p_text(&p, f->subject);
	pg_p_text(&p, f->family_id);
	pg_p_int(&p, f->active_only);
	pg_p_int(&p, f->now);
	PG_LIST_PAGE(s, &st_rt_listing, f->page, &p, struct store_refresh,
	             read_refresh, store_refresh_clear, cb, arg);
}

const struct pg_token_ops pg_token_ops = {
	.get = pg_token_get,
	.list = pg_token_list,
	.revoke = pg_token_revoke,
	.revoke_client = pg_token_revoke_client,
	.key_add_current = pg_key_add_current,
	.key_replace_current = pg_key_replace_current,
	.key_current = pg_key_current,
	.key_list = pg_key_list,
	.key_add_next = pg_key_add_next,
	.key_next = pg_key_next,
	.key_promote = pg_key_promote,
	.refresh_get = pg_refresh_get,
	.family_revoke = pg_family_revoke,
	.refresh_list = pg_refresh_list,
	.subject_revoke = pg_subject_revoke,
	.revoke_sid = pg_revoke_sid,
};
