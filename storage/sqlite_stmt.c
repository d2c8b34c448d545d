/*
 * sqlite_stmt.c: the SQLite backend's statement catalog and how its
 * statements run. Every SQL text the backend runs is in stmt_sql, indexed
 * by enum stmt (sqlite_int.h); each connection prepares a statement on its
 * first use and keeps it (SQLITE_PREPARE_PERSISTENT). Every statement
 * binds its parameters; nothing is pasted into SQL text.
 *
 * Map: the catalog (its column lists are store_cols.h's), then preparing
 * (sq_stmt), binding and reading columns, and the few runners the entity
 * files share (sq_exec, sq_run_key, sq_run_key_now, sq_delete_by).
 */
#include <stdlib.h>

#include "sqlite_int.h"
#include "store_cols.h"
#include "strutil.h"

/* ---- the catalog ---------------------------------------------------------- */

/* The listings: FROM and WHERE, shared by each one's three statements. */
#define CLIENT_FROM "clients WHERE TRUE"
#define USER_FROM "users WHERE TRUE"
#define TOKEN_FROM "access_tokens "                                          \
                   "WHERE (?1 IS NULL OR client_id=?1) AND (?2 = 0 OR "      \
                   "(revoked_at IS NULL AND expires_at > ?3)) "              \
                   "AND (?4 IS NULL OR subject=?4) "                         \
                   "AND (?5 IS NULL OR family_id=?5)"
#define KEY_FROM "signing_keys WHERE TRUE"
#define RT_FROM "refresh_tokens "                                            \
                "WHERE (?1 IS NULL OR client_id=?1) "                        \
                "AND (?2 IS NULL OR subject=?2) "                            \
                "AND (?3 IS NULL OR family_id=?3) "                          \
                "AND (?4 = 0 OR (retired_at IS NULL AND revoked_at IS NULL " \
                "AND expires_at > ?5))"
#define CONSENT_FROM CONSENT_JOIN " WHERE (?1 IS NULL OR c.user_id=?1) AND " \
                     "(?2 IS NULL OR c.client_id=?2)"
/* A listing through a store_page: the newest (by created) of the rows
 * created at or after ?S, at most ?L of them (-1: all), in the listing's
 * own order. A full scan with a top-N sort: there is no index on when a
 * record was made, as one on access_tokens would cost every token issue
 * a write for the sake of an operator's occasional listing.
 * The _COUNTED twin adds, as a last column on every row, how many rows
 * passed since before the limit (store_page.matched): a second scan, but
 * in the same statement, so the count and the rows are one snapshot.
 * Each listing's arguments are one macro (CLIENT_PAGE ...), so that both
 * twins are written from it. */
#define PAGE_SQL_(counter, cols, from, created, S, L, newest, order)         \
	"SELECT *" counter(from, created, S) " FROM (SELECT " cols " FROM "    \
	from " AND " created " >= " S " ORDER BY " newest " LIMIT " L ") "     \
	"ORDER BY " order
#define NO_COUNT(from, created, S) ""
#define WITH_COUNT(from, created, S)                                         \
	", (SELECT count(*) FROM " from " AND " created " >= " S ")"
#define PAGE_SQL(...) PAGE_SQL_(NO_COUNT, __VA_ARGS__)
#define COUNTED_SQL(...) PAGE_SQL_(WITH_COUNT, __VA_ARGS__)
#define CLIENT_PAGE                                                          \
	CLIENT_COLS ", secret_version", CLIENT_FROM, "created_at", "?1",     \
	"?2", "created_at DESC, client_id DESC", "client_id"
#define USER_PAGE USER_COLS, USER_FROM, "created_at", "?1", "?2",              \
	"created_at DESC, username DESC", "username"
#define TOKEN_PAGE TOKEN_COLS, TOKEN_FROM, "issued_at", "?6", "?7",            \
	"issued_at DESC, jti DESC", "issued_at, jti"
#define KEY_PAGE KEY_COLS, KEY_FROM, "created_at", "?1", "?2",                 \
	"created_at DESC, kid DESC",                                          \
	"retired_at IS NOT NULL, created_at DESC, kid"
/* rowid breaks ties: rotations within one second keep their order. */
#define RT_PAGE RT_COLS ", rowid AS rid", RT_FROM, "issued_at", "?6", "?7",    \
	"issued_at DESC, rowid DESC", "issued_at, rid"
/* The audit trail, filtered by object (?1) and actor (?2), NULL: any. */
#define AUDIT_FROM "audit_events WHERE (?1 IS NULL OR object=?1) AND "     \
                   "(?2 IS NULL OR actor=?2)"
#define AUDIT_PAGE AUDIT_COLS, AUDIT_FROM, "at", "?3", "?4",                   \
	"at DESC, id DESC", "at, id"
#define ISSUER_PAGE ISSUER_COLS, "trusted_issuers WHERE 1", "created_at",   \
	"?1", "?2", "created_at DESC, issuer DESC", "issuer"
#define RESOURCE_PAGE RESOURCE_COLS, "resources WHERE 1", "created_at",      \
	"?1", "?2", "created_at DESC, resource DESC", "resource"
#define CONSENT_PAGE CONSENT_COLS, CONSENT_FROM, "c.granted_at", "?3", "?4",   \
	"c.granted_at DESC, c.client_id DESC, u.username DESC",                \
	"client_id, username"

/* Sessions are listed with their user's name. */
#define SESSION_LCOLS "s.session_hash, s.user_id, s.auth_time, "             \
                      "s.expires_at, s.sid, s.amr, u.username"
#define SESSION_FROM "sessions s JOIN users u ON u.user_id=s.user_id "      \
                     "WHERE (?1 IS NULL OR s.user_id=?1) AND s.expires_at > ?2"
#define SESSION_PAGE SESSION_LCOLS, SESSION_FROM, "s.auth_time", "?3", "?4",   \
	"s.auth_time DESC, s.sid DESC", "auth_time, sid"

static const char *const stmt_sql[ST__MAX] = {
	/* secret_version starts anywhere in 62 bits: store.h. */
	[ST_CLIENT_ADD] = "INSERT INTO clients (" CLIENT_COLS ", secret_version) "
	                  "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
	                  "?,?,?,?,?,?,?,?,?,?,?,"
	                  "random() & 4611686018427387903)",
	[ST_CLIENT_GET] = "SELECT " CLIENT_COLS ", secret_version FROM clients "
	                  "WHERE client_id=?",
	[ST_CLIENT_VERSION] = "SELECT 1 FROM clients WHERE client_id=?1 AND "
	                      "secret_version=?2",
	[ST_CLIENT_UPDATE] = "UPDATE clients SET name=?2, secret_hash=?3, "
	                     "is_public=?4, grant_types=?5, scopes=?6, "
	                     "redirect_uris=?7, access_token_ttl=?8, "
	                     "refresh_token_ttl=?9, updated_at=?11, "
	                     "issue_refresh_token=?12, on_refresh=?13, "
	                     "auto_approve_as=?14, audiences=?15, "
	                     "introspect=?16, id_token_signed_response_alg=?17, "
	                     "require_nonce=?18, post_logout_redirect_uris=?19, "
	                     "logout_revokes_refresh_tokens=?20, "
	                     "access_token_claims=?21, release_claims=?22, "
	                     "disabled_at=?23, previous_secret_hash=?24, "
	                     "previous_secret_expires_at=?25, is_admin=?26, "
	                     "jwks=?27, token_endpoint_auth_method=?28, "
	                     "jwks_uri=?29, require_dpop=?30, "
	                     "tls_client_auth_subject_dn=?31, "
	                     "tls_client_auth_san_dns=?32, "
	                     "tls_client_auth_san_uri=?33, "
	                     "secret_version=secret_version+1 "
	                     "WHERE client_id=?1",
	[ST_CLIENT_REMOVE] = "DELETE FROM clients WHERE client_id=?",
	[ST_CLIENT_LIST] = "SELECT " CLIENT_COLS ", secret_version FROM "
	                   CLIENT_FROM " ORDER BY client_id",
	[ST_CLIENT_PAGE] = PAGE_SQL(CLIENT_PAGE),
	[ST_CLIENT_COUNTED] = COUNTED_SQL(CLIENT_PAGE),
	[ST_USER_ADD] = "INSERT INTO users (" USER_COLS ") VALUES (?,?,?,?,?,?)",
	[ST_USER_GET] = "SELECT " USER_COLS " FROM users WHERE username=?",
	[ST_USER_GET_ID] = "SELECT " USER_COLS " FROM users WHERE user_id=?",
	[ST_USER_SETPW] = "UPDATE users SET password_hash=?2, updated_at=?3 "
	                  "WHERE username=?1",
	[ST_USER_SET_CLAIMS] = "UPDATE users SET claims=?2, updated_at=?3 "
	                       "WHERE username=?1",
	[ST_USER_REMOVE] = "DELETE FROM users WHERE username=?",
	[ST_USER_LIST] = "SELECT " USER_COLS " FROM " USER_FROM
	                 " ORDER BY username",
	[ST_USER_PAGE] = PAGE_SQL(USER_PAGE),
	[ST_USER_COUNTED] = COUNTED_SQL(USER_PAGE),
	[ST_TOKEN_ADD] = "INSERT INTO access_tokens (" TOKEN_COLS ") "
	                 "VALUES (?,?,?,?,?,?,?,?,?)",
	[ST_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM access_tokens WHERE jti=?",
	[ST_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM " TOKEN_FROM
	                  " ORDER BY issued_at, jti",
	[ST_TOKEN_PAGE] = PAGE_SQL(TOKEN_PAGE),
	[ST_TOKEN_COUNTED] = COUNTED_SQL(TOKEN_PAGE),
	[ST_TOKEN_REVOKE] = "UPDATE access_tokens SET revoked_at=?2 "
	                    "WHERE jti=?1 AND revoked_at IS NULL",
	[ST_TOKEN_REVOKE_CLIENT] = "UPDATE access_tokens SET revoked_at=?2 "
	                           "WHERE client_id=?1 AND revoked_at IS NULL",
	[ST_TOKEN_REVOKE_CLIENT_RT] = "UPDATE refresh_tokens SET revoked_at=?2 "
	                              "WHERE client_id=?1 AND revoked_at IS NULL",
	/* Per algorithm (migration 0008): ?1 retired_at, ?2 alg, ?3 kid. */
	[ST_KEY_RETIRE] = "UPDATE signing_keys SET retired_at=?1 "
	                  "WHERE retired_at IS NULL AND alg=?2",
	[ST_KEY_RETIRE_KID] = "UPDATE signing_keys SET retired_at=?1 "
	                      "WHERE retired_at IS NULL AND alg=?2 AND kid=?3",
	[ST_KEY_ADD] = "INSERT INTO signing_keys (" KEY_COLS ") "
	               "VALUES (?,?,?,?,NULL)",
	[ST_KEY_CURRENT] = "SELECT " KEY_COLS " FROM signing_keys "
	                   "WHERE retired_at IS NULL AND alg=?",
	/* Staged rotation: a next key's retired_at is STORE_KEY_NEXT (-1). */
	[ST_KEY_NEXT] = "SELECT " KEY_COLS " FROM signing_keys "
	                "WHERE retired_at=-1 AND alg=?",
	[ST_KEY_RETIRE_NEXT] = "UPDATE signing_keys SET retired_at=?1 "
	                       "WHERE retired_at=-1 AND alg=?2",
	[ST_KEY_ADD_NEXT] = "INSERT INTO signing_keys (" KEY_COLS ") "
	                    "VALUES (?,?,?,?,-1)",
	/* ?1 is not used: bound as the others' time, for one binder. */
	[ST_KEY_ACTIVATE] = "UPDATE signing_keys SET retired_at=NULL "
	                    "WHERE retired_at=-1 AND alg=?2 AND kid=?3",
	[ST_KEY_LIST] = "SELECT " KEY_COLS " FROM " KEY_FROM
	                " ORDER BY retired_at IS NOT NULL, created_at DESC, kid",
	[ST_KEY_PAGE] = PAGE_SQL(KEY_PAGE),
	[ST_KEY_COUNTED] = COUNTED_SQL(KEY_PAGE),
	/* ?1 now, ?2 the grace for unrecorded tokens (store.h xList). */
	[ST_KEY_PUBLISHED] = "SELECT " KEY_COLS " FROM signing_keys k "
	                     "WHERE retired_at IS NULL OR retired_at < 0 OR "
	                     "retired_at > ?1 - ?2 "
	                     "OR EXISTS (SELECT 1 FROM access_tokens t WHERE "
	                     "t.kid=k.kid AND t.expires_at > ?1) ORDER BY "
	                     "retired_at IS NOT NULL, created_at DESC, kid",
	[ST_RT_RETIRE] = "UPDATE refresh_tokens SET retired_at=?2 "
	                 "WHERE token_hash=?1 AND retired_at IS NULL AND "
	                 "revoked_at IS NULL AND expires_at > ?2",
	/* A compare-and-set on access_jti too (?4, maybe NULL): store.h. */
	[ST_RT_RELINK] = "UPDATE refresh_tokens SET access_jti=?3 "
	                 "WHERE token_hash=?1 AND access_jti IS ?4 AND "
	                 "retired_at IS NULL AND revoked_at IS NULL AND "
	                 "expires_at > ?2",
	[ST_RT_ADD] = "INSERT INTO refresh_tokens (" RT_COLS ") "
	              "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_RT_GET] = "SELECT " RT_COLS " FROM refresh_tokens WHERE token_hash=?",
	[ST_FAMILY_REVOKE_RT] = "UPDATE refresh_tokens SET revoked_at=?2 "
	                        "WHERE family_id=?1 AND revoked_at IS NULL",
	[ST_FAMILY_REVOKE_AT] = "UPDATE access_tokens SET revoked_at=?2 "
	                        "WHERE family_id=?1 AND revoked_at IS NULL",
	/* rowid breaks ties: rotations within one second keep their order. */
	[ST_RT_LIST] = "SELECT " RT_COLS " FROM " RT_FROM
	               " ORDER BY issued_at, rowid",
	[ST_RT_PAGE] = PAGE_SQL(RT_PAGE),
	[ST_RT_COUNTED] = COUNTED_SQL(RT_PAGE),
	/* Both use the subject indexes (migrations 0002 and 0003). */
	[ST_SUBJECT_REVOKE_RT] = "UPDATE refresh_tokens SET revoked_at=?2 "
	                         "WHERE subject=?1 AND revoked_at IS NULL",
	[ST_SUBJECT_REVOKE_AT] = "UPDATE access_tokens SET revoked_at=?2 "
	                         "WHERE subject=?1 AND revoked_at IS NULL",
	[ST_CODE_ADD] = "INSERT INTO authorization_codes (" CODE_COLS ") "
	                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_CODE_GET] = "SELECT " CODE_COLS " FROM authorization_codes "
	                "WHERE code_hash=?",
	/* The conditions are the redemption check itself: of two concurrent
	 * redemptions only one changes the row (RFC 6749 section 4.1.2). */
	[ST_CODE_CONSUME] = "UPDATE authorization_codes SET used_at=?2, "
	                    "family_id=?3 WHERE code_hash=?1 AND used_at IS NULL "
	                    "AND expires_at > ?2",
	[ST_DEVICE_ADD] = "INSERT INTO device_codes (" DEVICE_COLS ") "
	                  "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM device_codes "
	                  "WHERE device_code_hash=?",
	[ST_DEVICE_BY_USER] = "SELECT " DEVICE_COLS " FROM device_codes "
	                      "WHERE user_code_hash=?1 AND decided_at IS NULL "
	                      "AND expires_at > ?2",
	[ST_DEVICE_DECIDE] = "UPDATE device_codes SET decided_at=?2, "
	                     "approved=?3, user_id=?4, username=?5, "
	                     "auth_time=?6, sid=?7, amr=?8 WHERE "
	                     "user_code_hash=?1 AND decided_at IS NULL AND "
	                     "expires_at > ?2",
	/* A compare-and-set on the last poll: of two concurrent polls one
	 * changes the row (section 3.5's interval holds across instances). */
	[ST_DEVICE_POLL] = "UPDATE device_codes SET last_polled_at=?3, "
	                   "poll_interval=?4 WHERE device_code_hash=?1 AND "
	                   "last_polled_at IS ?2",
	[ST_DEVICE_CONSUME] = "UPDATE device_codes SET used_at=?2, "
	                      "family_id=?3 WHERE device_code_hash=?1 AND "
	                      "used_at IS NULL AND approved=1 AND "
	                      "expires_at > ?2",
	[ST_SESSION_ADD] = "INSERT INTO sessions (" SESSION_COLS ") "
	                   "VALUES (?,?,?,?,?,?)",
	[ST_SESSION_GET] = "SELECT " SESSION_COLS " FROM sessions "
	                   "WHERE session_hash=?1 AND expires_at > ?2",
	[ST_SESSIONS_END_USER] = "DELETE FROM sessions WHERE user_id=?",
	[ST_SESSION_END] = "DELETE FROM sessions WHERE sid=?",
	[ST_SESSION_LIST] = "SELECT " SESSION_LCOLS " FROM " SESSION_FROM
	                    " ORDER BY s.auth_time, s.sid",
	[ST_SESSION_PAGE] = PAGE_SQL(SESSION_PAGE),
	[ST_SESSION_COUNTED] = COUNTED_SQL(SESSION_PAGE),
	/* A session's families of one client: those with a refresh token of
	 * its sid issued to client ?3. */
	[ST_SID_REVOKE_RT] = "UPDATE refresh_tokens SET revoked_at=?2 WHERE "
	                     "revoked_at IS NULL AND family_id IN (SELECT "
	                     "family_id FROM refresh_tokens WHERE sid=?1 AND "
	                     "client_id=?3)",
	[ST_SID_REVOKE_AT] = "UPDATE access_tokens SET revoked_at=?2 WHERE "
	                     "revoked_at IS NULL AND family_id IN (SELECT "
	                     "family_id FROM refresh_tokens WHERE sid=?1 AND "
	                     "client_id=?3)",
	[ST_CONSENT_GET] = CONSENT_SELECT " WHERE c.user_id=?1 AND "
	                   "c.client_id=?2",
	[ST_CONSENT_PUT] = "INSERT INTO consents (user_id, client_id, scope, "
	                   "granted_at, updated_at) VALUES (?1,?2,?3,?4,?5) "
	                   "ON CONFLICT (user_id, client_id) DO UPDATE SET "
	                   "scope=excluded.scope, updated_at=excluded.updated_at",
	[ST_CONSENT_LIST] = "SELECT " CONSENT_COLS " FROM " CONSENT_FROM
	                    " ORDER BY c.client_id, u.username",
	[ST_CONSENT_PAGE] = PAGE_SQL(CONSENT_PAGE),
	[ST_CONSENT_COUNTED] = COUNTED_SQL(CONSENT_PAGE),
	[ST_CONSENT_REVOKE] = "DELETE FROM consents WHERE user_id=?1 AND "
	                      "(?2 IS NULL OR client_id=?2)",
	[ST_ISSUER_ADD] = "INSERT INTO trusted_issuers (" ISSUER_COLS ") "
	                  "VALUES (?,?,?,?,?,?)",
	[ST_ISSUER_GET] = "SELECT " ISSUER_COLS " FROM trusted_issuers WHERE "
	                  "issuer=?",
	[ST_ISSUER_REMOVE] = "DELETE FROM trusted_issuers WHERE issuer=?",
	[ST_ISSUER_LIST] = "SELECT " ISSUER_COLS " FROM trusted_issuers "
	                   "ORDER BY issuer",
	[ST_ISSUER_PAGE] = PAGE_SQL(ISSUER_PAGE),
	[ST_ISSUER_COUNTED] = COUNTED_SQL(ISSUER_PAGE),
	[ST_RESOURCE_ADD] = "INSERT INTO resources (" RESOURCE_COLS ") "
	                    "VALUES (?,?,?,?,?)",
	[ST_RESOURCE_GET] = "SELECT " RESOURCE_COLS " FROM resources WHERE "
	                    "resource=?",
	[ST_RESOURCE_REMOVE] = "DELETE FROM resources WHERE resource=?",
	[ST_RESOURCE_LIST] = "SELECT " RESOURCE_COLS " FROM resources "
	                     "ORDER BY resource",
	[ST_RESOURCE_PAGE] = PAGE_SQL(RESOURCE_PAGE),
	[ST_RESOURCE_COUNTED] = COUNTED_SQL(RESOURCE_PAGE),
	[ST_AUDIT_ADD] = "INSERT INTO audit_events (at, actor, address, action, "
	                 "object, changes) VALUES (?,?,?,?,?,?)",
	[ST_AUDIT_LIST] = "SELECT " AUDIT_COLS " FROM " AUDIT_FROM
	                  " ORDER BY at, id",
	[ST_AUDIT_PAGE] = PAGE_SQL(AUDIT_PAGE),
	[ST_AUDIT_COUNTED] = COUNTED_SQL(AUDIT_PAGE),
	[ST_AUDIT_PURGE_BATCH] = "DELETE FROM audit_events WHERE id IN (SELECT "
	                         "id FROM audit_events WHERE at < ?1 LIMIT ?2)",
	[ST_GC_SAVEPOINT] = "SAVEPOINT gc",
	[ST_GC_RELEASE] = "RELEASE gc",
	[ST_GC_ROLLBACK_TO] = "ROLLBACK TO gc",
	/* store_purge, one batch (?2 rows) at a time, all found by index:
	 * every access token's kid is a signing key's (a foreign key), and
	 * the few keys turn access_tokens_kid (kid, expires_at) into a
	 * range scan of the expired; likewise the clients for
	 * refresh_tokens_client (client_id, expires_at). */
	[ST_PURGE_AT_BATCH] = "DELETE FROM access_tokens WHERE rowid IN "
	                      "(SELECT rowid FROM access_tokens WHERE kid IN "
	                      "(SELECT kid FROM signing_keys) AND "
	                      "expires_at <= ?1 LIMIT ?2)",
	/* Families with an expired token: those that may be over. */
	[ST_PURGE_RT_FAMILIES] = "SELECT DISTINCT family_id FROM "
	                         "refresh_tokens WHERE client_id IN (SELECT "
	                         "client_id FROM clients) AND expires_at <= ?1",
	/* A family goes whole, once none of its tokens is unexpired. */
	[ST_PURGE_RT_FAMILY] = "DELETE FROM refresh_tokens WHERE family_id=?1 "
	                       "AND NOT EXISTS (SELECT 1 FROM refresh_tokens "
	                       "WHERE family_id=?1 AND expires_at > ?2)",
	/* A row still live is a replay: no change. */
	[ST_JTI_USE] = "INSERT INTO used_jtis (jti_hash, expires_at) "
	               "VALUES (?1, ?2) ON CONFLICT (jti_hash) DO UPDATE SET "
	               "expires_at=excluded.expires_at WHERE "
	               "used_jtis.expires_at <= ?3",
	[ST_PURGE_JTI_BATCH] = "DELETE FROM used_jtis WHERE rowid IN (SELECT "
	                       "rowid FROM used_jtis WHERE expires_at <= ?1 "
	                       "LIMIT ?2)",
	[ST_PURGE_CODE_BATCH] = "DELETE FROM authorization_codes WHERE rowid "
	                        "IN (SELECT rowid FROM authorization_codes "
	                        "WHERE expires_at <= ?1 LIMIT ?2)",
	[ST_PURGE_DEVICE_BATCH] = "DELETE FROM device_codes WHERE rowid IN "
	                          "(SELECT rowid FROM device_codes WHERE "
	                          "expires_at <= ?1 LIMIT ?2)",
	[ST_PURGE_SESSION_BATCH] = "DELETE FROM sessions WHERE rowid IN "
	                           "(SELECT rowid FROM sessions WHERE "
	                           "expires_at <= ?1 LIMIT ?2)",
	/* The hash of a secret whose grace has ended matches nothing any
	 * more (client_auth.c): cleared, without a secret_version bump, as
	 * no authentication changes. */
	[ST_PURGE_PREV_SECRET_BATCH] =
	    "UPDATE clients SET previous_secret_hash=NULL, "
	    "previous_secret_expires_at=0 WHERE client_id IN (SELECT client_id "
	    "FROM clients WHERE previous_secret_hash IS NOT NULL AND "
	    "previous_secret_expires_at <= ?1 LIMIT ?2)",
};

/* ---- preparing, binding, running ----------------------------------------- */

/* A prepared statement, reset and ready to bind; NULL on failure. */
sqlite3_stmt *sq_stmt(struct conn *c, enum stmt which)
{
	if (c == NULL)
		return NULL;
	if (c->st[which] == NULL &&
	    sqlite3_prepare_v3(c->db, stmt_sql[which], -1,
	                       SQLITE_PREPARE_PERSISTENT, &c->st[which],
	                       NULL) != SQLITE_OK)
		return NULL;
	return c->st[which];
}

void sq_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows; *changes if asked. */
enum store_rc sq_exec(struct conn *c, sqlite3_stmt *st, int *changes)
{
	int rc = sqlite3_step(st);
	sq_done(st);
	if (changes != NULL)
		*changes = rc == SQLITE_DONE ? sqlite3_changes(c->db) : 0;
	return rc == SQLITE_DONE ? STORE_OK : sq_write_rc(c->db, rc);
}

void sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* Binds 0 as NULL: "unset" in the structs is NULL in the tables. */
void sq_bind_opt_int(sqlite3_stmt *st, int i, int64_t v)
{
	if (v == 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

char *sq_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

/* Binds (key, now) and runs: the shape of every revoke and retire here. */
enum store_rc sq_run_key_now(struct conn *cn, enum stmt which,
                             const char *key, int64_t now, int *changes)
{
	sqlite3_stmt *st = sq_stmt(cn, which);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, now);
	return sq_exec(cn, st, changes);
}

enum store_rc sq_run_key(struct conn *cn, enum stmt which, const char *key,
                         int *changes)
{
	sqlite3_stmt *st = sq_stmt(cn, which);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, key);
	return sq_exec(cn, st, changes);
}

static bool paged(const struct store_page *page)
{
	return page != NULL && (page->since != 0 || page->limit != 0);
}

int64_t *sq_page_count(const struct store_page *page)
{
	return paged(page) && page->limit > 0 ? page->matched : NULL;
}

sqlite3_stmt *sq_list_stmt(struct conn *cn, enum stmt which,
                           const struct store_page *page, int n,
                           sq_binder bind, const void *filter,
                           enum store_rc *rc)
{
	int64_t *count = sq_page_count(page);
	if (count != NULL)
		*count = 0; /* no row: none passed (the limit is at least 1) */
	sqlite3_stmt *st = sq_stmt(cn, count != NULL ? (enum stmt)(which + 2)
	                               : paged(page) ? (enum stmt)(which + 1)
	                                             : which);
	*rc = st != NULL ? STORE_OK : STORE_IO;
	if (st == NULL)
		return NULL;
	bind(st, filter);
	if (paged(page)) {
		sqlite3_bind_int64(st, n, page->since);
		sqlite3_bind_int64(st, n + 1, page->limit > 0 ? page->limit : -1);
	}
	return st;
}

/* Runs a one-key DELETE; STORE_NOT_FOUND when no row had that key. */
enum store_rc sq_delete_by(struct store *s, enum stmt which,
                           const char *key)
{
	int n = 0;
	enum store_rc r = sq_run_key(sq_conn_get(s), which, key, &n);
	return r == STORE_OK && n == 0 ? STORE_NOT_FOUND : r;
}
