/*
 * store_sqlite.c: the SQLite implementation of struct store_ops.
 *
 * Connections: one per thread, opened on first use and kept in a
 * thread-specific slot, so worker threads never share a handle and each
 * keeps its own prepared statements (SQLITE_PREPARE_PERSISTENT). WAL lets
 * readers run beside the one writer; busy_timeout makes writers wait
 * instead of failing. Every statement binds its parameters. A disk that
 * cannot take writes (full, read-only, failing) is logged once when it
 * starts and once when it clears (write_rc), and a connection opened while
 * the file was read-only is replaced once it is writable (conn_stale), so
 * the store recovers without a restart.
 *
 * Layout: connection handling, then one section per table.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "store_int.h"
#include "strutil.h"

#define BUSY_TIMEOUT_MS 5000

/* ---- statements ---------------------------------------------------------- */

enum stmt {
	ST_CLIENT_ADD, ST_CLIENT_GET, ST_CLIENT_UPDATE, ST_CLIENT_REMOVE,
	ST_CLIENT_LIST,
	ST_USER_ADD, ST_USER_GET, ST_USER_GET_ID, ST_USER_SETPW, ST_USER_REMOVE, ST_USER_LIST,
	ST_TOKEN_ADD, ST_TOKEN_GET, ST_TOKEN_LIST, ST_TOKEN_REVOKE,
	ST_TOKEN_REVOKE_CLIENT,
	ST_KEY_RETIRE, ST_KEY_ADD, ST_KEY_CURRENT, ST_KEY_LIST, ST_KEY_PUBLISHED,
	ST_RT_RETIRE, ST_RT_RELINK, ST_RT_ADD, ST_RT_GET, ST_FAMILY_REVOKE_RT,
	ST_FAMILY_REVOKE_AT,
	ST_RT_LIST, ST_SUBJECT_REVOKE_RT, ST_SUBJECT_REVOKE_AT,
	ST_TOKEN_REVOKE_CLIENT_RT,
	ST_CODE_ADD, ST_CODE_GET, ST_CODE_CONSUME,
	ST_SESSION_ADD, ST_SESSION_GET, ST_SESSION_REMOVE,
	ST_CONSENT_GET, ST_CONSENT_PUT, ST_CONSENT_LIST, ST_CONSENT_REVOKE,
	ST_PURGE_CODES, ST_PURGE_SESSIONS, ST_SESSIONS_END_USER,
	ST_PURGE_AT_BATCH, ST_PURGE_RT_FAMILIES, ST_PURGE_RT_FAMILY,
	ST_PURGE_CODE_BATCH, ST_PURGE_SESSION_BATCH,
	ST_GC_SAVEPOINT, ST_GC_RELEASE, ST_GC_ROLLBACK_TO,
	ST__MAX
};

#define CLIENT_COLS "client_id, name, secret_hash, is_public, grant_types, " \
                    "scopes, redirect_uris, access_token_ttl, "              \
                    "refresh_token_ttl, created_at, updated_at, "              \
                    "issue_refresh_token, on_refresh, auto_approve_as, "   \
                    "audiences, introspect"
#define USER_COLS "user_id, username, password_hash, created_at, updated_at"
#define TOKEN_COLS "jti, client_id, subject, scope, kid, issued_at, " \
                   "expires_at, revoked_at, family_id"
#define RT_COLS "token_hash, family_id, client_id, subject, username, scope, " \
                "access_jti, issued_at, expires_at, retired_at, revoked_at"
#define KEY_COLS "kid, alg, private_pem, created_at, retired_at"
#define CODE_COLS "code_hash, client_id, subject, username, redirect_uri, " \
                  "scope, code_challenge, code_challenge_method, "         \
                  "issued_at, expires_at, used_at, family_id, resource"
#define SESSION_COLS "session_hash, user_id, auth_time, expires_at"
/* A consent comes with its user's name, for listings. */
#define CONSENT_SELECT "SELECT c.user_id, c.client_id, c.scope, "           \
                       "c.granted_at, c.updated_at, u.username FROM "       \
                       "consents c JOIN users u ON u.user_id=c.user_id"

static const char *const stmt_sql[ST__MAX] = {
	[ST_CLIENT_ADD] = "INSERT INTO clients (" CLIENT_COLS ") "
	                  "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_CLIENT_GET] = "SELECT " CLIENT_COLS " FROM clients WHERE client_id=?",
	[ST_CLIENT_UPDATE] = "UPDATE clients SET name=?2, secret_hash=?3, "
	                     "is_public=?4, grant_types=?5, scopes=?6, "
	                     "redirect_uris=?7, access_token_ttl=?8, "
	                     "refresh_token_ttl=?9, updated_at=?11, "
	                     "issue_refresh_token=?12, on_refresh=?13, "
	                     "auto_approve_as=?14, audiences=?15, "
	                     "introspect=?16 WHERE client_id=?1",
	[ST_CLIENT_REMOVE] = "DELETE FROM clients WHERE client_id=?",
	[ST_CLIENT_LIST] = "SELECT " CLIENT_COLS " FROM clients ORDER BY client_id",
	[ST_USER_ADD] = "INSERT INTO users (" USER_COLS ") VALUES (?,?,?,?,?)",
	[ST_USER_GET] = "SELECT " USER_COLS " FROM users WHERE username=?",
	[ST_USER_GET_ID] = "SELECT " USER_COLS " FROM users WHERE user_id=?",
	[ST_USER_SETPW] = "UPDATE users SET password_hash=?2, updated_at=?3 "
	                  "WHERE username=?1",
	[ST_USER_REMOVE] = "DELETE FROM users WHERE username=?",
	[ST_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY username",
	[ST_TOKEN_ADD] = "INSERT INTO access_tokens (" TOKEN_COLS ") "
	                 "VALUES (?,?,?,?,?,?,?,?,?)",
	[ST_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM access_tokens WHERE jti=?",
	[ST_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM access_tokens "
	                  "WHERE (?1 IS NULL OR client_id=?1) AND (?2 = 0 OR "
	                  "(revoked_at IS NULL AND expires_at > ?3)) "
	                  "AND (?4 IS NULL OR subject=?4) "
	                  "AND (?5 IS NULL OR family_id=?5) "
	                  "ORDER BY issued_at, jti",
	[ST_TOKEN_REVOKE] = "UPDATE access_tokens SET revoked_at=?2 "
	                    "WHERE jti=?1 AND revoked_at IS NULL",
	[ST_TOKEN_REVOKE_CLIENT] = "UPDATE access_tokens SET revoked_at=?2 "
	                           "WHERE client_id=?1 AND revoked_at IS NULL",
	[ST_TOKEN_REVOKE_CLIENT_RT] = "UPDATE refresh_tokens SET revoked_at=?2 "
	                              "WHERE client_id=?1 AND revoked_at IS NULL",
	[ST_KEY_RETIRE] = "UPDATE signing_keys SET retired_at=? "
	                  "WHERE retired_at IS NULL",
	[ST_KEY_ADD] = "INSERT INTO signing_keys (" KEY_COLS ") "
	               "VALUES (?,?,?,?,NULL)",
	[ST_KEY_CURRENT] = "SELECT " KEY_COLS " FROM signing_keys "
	                   "WHERE retired_at IS NULL",
	[ST_KEY_LIST] = "SELECT " KEY_COLS " FROM signing_keys "
	                "ORDER BY retired_at IS NOT NULL, created_at DESC, kid",
	[ST_KEY_PUBLISHED] = "SELECT " KEY_COLS " FROM signing_keys k "
	                     "WHERE retired_at IS NULL OR EXISTS (SELECT 1 FROM "
	                     "access_tokens t WHERE t.kid=k.kid AND "
	                     "t.expires_at > ?) ORDER BY retired_at IS NOT NULL, "
	                     "created_at DESC, kid",
	[ST_RT_RETIRE] = "UPDATE refresh_tokens SET retired_at=?2 "
	                 "WHERE token_hash=?1 AND retired_at IS NULL AND "
	                 "revoked_at IS NULL AND expires_at > ?2",
	/* A compare-and-set on access_jti too (?4, maybe NULL): store.h. */
	[ST_RT_RELINK] = "UPDATE refresh_tokens SET access_jti=?3 "
	                 "WHERE token_hash=?1 AND access_jti IS ?4 AND "
	                 "retired_at IS NULL AND revoked_at IS NULL AND "
	                 "expires_at > ?2",
	[ST_RT_ADD] = "INSERT INTO refresh_tokens (" RT_COLS ") "
	              "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
	[ST_RT_GET] = "SELECT " RT_COLS " FROM refresh_tokens WHERE token_hash=?",
	[ST_FAMILY_REVOKE_RT] = "UPDATE refresh_tokens SET revoked_at=?2 "
	                        "WHERE family_id=?1 AND revoked_at IS NULL",
	[ST_FAMILY_REVOKE_AT] = "UPDATE access_tokens SET revoked_at=?2 "
	                        "WHERE family_id=?1 AND revoked_at IS NULL",
	/* rowid breaks ties: rotations within one second keep their order. */
	[ST_RT_LIST] = "SELECT " RT_COLS " FROM refresh_tokens "
	               "WHERE (?1 IS NULL OR client_id=?1) "
	               "AND (?2 IS NULL OR subject=?2) "
	               "AND (?3 IS NULL OR family_id=?3) "
	               "AND (?4 = 0 OR (retired_at IS NULL AND revoked_at IS NULL "
	               "AND expires_at > ?5)) "
	               "ORDER BY issued_at, rowid",
	/* Both use the subject indexes (migrations 0002 and 0003). */
	[ST_SUBJECT_REVOKE_RT] = "UPDATE refresh_tokens SET revoked_at=?2 "
	                         "WHERE subject=?1 AND revoked_at IS NULL",
	[ST_SUBJECT_REVOKE_AT] = "UPDATE access_tokens SET revoked_at=?2 "
	                         "WHERE subject=?1 AND revoked_at IS NULL",
	[ST_CODE_ADD] = "INSERT INTO authorization_codes (" CODE_COLS ") "
	                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_CODE_GET] = "SELECT " CODE_COLS " FROM authorization_codes "
	                "WHERE code_hash=?",
	/* The conditions are the redemption check itself: of two concurrent
	 * redemptions only one changes the row (RFC 6749 section 4.1.2). */
	[ST_CODE_CONSUME] = "UPDATE authorization_codes SET used_at=?2, "
	                    "family_id=?3 WHERE code_hash=?1 AND used_at IS NULL "
	                    "AND expires_at > ?2",
	[ST_SESSION_ADD] = "INSERT INTO sessions (" SESSION_COLS ") "
	                   "VALUES (?,?,?,?)",
	[ST_SESSION_GET] = "SELECT " SESSION_COLS " FROM sessions "
	                   "WHERE session_hash=?1 AND expires_at > ?2",
	[ST_SESSION_REMOVE] = "DELETE FROM sessions WHERE session_hash=?",
	[ST_SESSIONS_END_USER] = "DELETE FROM sessions WHERE user_id=?",
	[ST_CONSENT_GET] = CONSENT_SELECT " WHERE c.user_id=?1 AND "
	                   "c.client_id=?2",
	[ST_CONSENT_PUT] = "INSERT INTO consents (user_id, client_id, scope, "
	                   "granted_at, updated_at) VALUES (?1,?2,?3,?4,?5) "
	                   "ON CONFLICT (user_id, client_id) DO UPDATE SET "
	                   "scope=excluded.scope, updated_at=excluded.updated_at",
	[ST_CONSENT_LIST] = CONSENT_SELECT " WHERE (?1 IS NULL OR "
	                    "c.user_id=?1) AND (?2 IS NULL OR c.client_id=?2) "
	                    "ORDER BY c.client_id, u.username",
	[ST_CONSENT_REVOKE] = "DELETE FROM consents WHERE user_id=?1 AND "
	                      "(?2 IS NULL OR client_id=?2)",
	/* Run by run_pair, which binds (key, now): these have no key, ?1. */
	[ST_PURGE_CODES] = "DELETE FROM authorization_codes WHERE "
	                   "expires_at <= ?2",
	[ST_PURGE_SESSIONS] = "DELETE FROM sessions WHERE expires_at <= ?2",
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
	[ST_PURGE_CODE_BATCH] = "DELETE FROM authorization_codes WHERE rowid "
	                        "IN (SELECT rowid FROM authorization_codes "
	                        "WHERE expires_at <= ?1 LIMIT ?2)",
	[ST_PURGE_SESSION_BATCH] = "DELETE FROM sessions WHERE rowid IN "
	                           "(SELECT rowid FROM sessions WHERE "
	                           "expires_at <= ?1 LIMIT ?2)",
};

/* ---- connections --------------------------------------------------------- */

struct sq_store;

struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[ST__MAX];
	struct sq_store *owner;
	struct conn *next;
	bool readonly; /* opened while the file could not be written */
};

struct sq_store {
	struct store base; /* first: a struct store * is a struct sq_store * */
	char *path;
	pthread_key_t key;
	pthread_mutex_t mu; /* guards conns */
	pthread_mutex_t write_mu; /* one write transaction at a time */
	struct conn *conns;
	enum store_durability durability; /* each connection's synchronous */
	/* Group commit (sq_issue): the writer connection, used only with
	 * write_mu held, and the queue of issues waiting for a commit. */
	struct conn *wconn;
	pthread_mutex_t gc_mu; /* guards the queue and gc_leading */
	pthread_cond_t gc_cv;
	struct gc_item *gc_head, **gc_tail;
	bool gc_leading;
};

enum store_rc store_sqlite_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW: return STORE_OK;
	case SQLITE_CONSTRAINT: return STORE_CONFLICT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		metrics_inc(MET_DB_ERRORS);
		return STORE_BUSY;
	case SQLITE_CANTOPEN:
	case SQLITE_NOTADB: return STORE_INVALID;
	default:
		metrics_inc(MET_DB_ERRORS);
		return STORE_IO;
	}
}

static void conn_close(struct conn *c)
{
	for (int i = 0; i < ST__MAX; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close_v2(c->db);
	free(c);
}

static void conn_unlink(struct sq_store *s, struct conn *c)
{
	pthread_mutex_lock(&s->mu);
	for (struct conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

/* Runs when a thread that used the store exits. */
static void conn_destructor(void *p)
{
	struct conn *c = p;
	conn_unlink(c->owner, c);
	conn_close(c);
}

/* Closes the calling thread's connection now rather than at its exit, when
 * the store may already be gone. */
static void sq_thread_end(struct store *base)
{
	struct sq_store *s = (struct sq_store *)base;
	struct conn *c = pthread_getspecific(s->key);
	if (c == NULL)
		return;
	pthread_setspecific(s->key, NULL);
	conn_destructor(c);
}

/* synchronous is a setting of each connection, not of the file, so every
 * connection gets the store's durability. In WAL mode NORMAL syncs only
 * at checkpoints (a commit survives the process, not a power cut); FULL
 * also syncs the WAL at every commit. */
static int conn_setup(sqlite3 *db, enum store_durability d)
{
	static const char common[] =
	    "PRAGMA foreign_keys=ON;"
	    "PRAGMA temp_store=MEMORY;";
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db, 1);
	int rc = sqlite3_exec(db, common, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, d == STORE_DURABILITY_FULL
		                          ? "PRAGMA synchronous=FULL"
		                          : "PRAGMA synchronous=NORMAL",
		                  NULL, NULL, NULL);
	return rc;
}

/* A new connection, on the store's list (so sq_close closes it). */
static struct conn *conn_new(struct sq_store *s, char *err, size_t errlen)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	int rc = sqlite3_open_v2(s->path, &c->db,
	                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = conn_setup(c->db, s->durability);
	if (rc != SQLITE_OK) {
		if (err != NULL)
			snprintf(err, errlen, "%s: %s", s->path,
			         c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close_v2(c->db);
		free(c);
		return NULL;
	}
	c->owner = s;
	c->readonly = sqlite3_db_readonly(c->db, "main") == 1;
	pthread_mutex_lock(&s->mu);
	c->next = s->conns;
	s->conns = c;
	pthread_mutex_unlock(&s->mu);
	return c;
}

/* The calling thread's own connection, new. */
static struct conn *conn_open(struct sq_store *s, char *err, size_t errlen)
{
	struct conn *c = conn_new(s, err, errlen);
	if (c != NULL)
		pthread_setspecific(s->key, c);
	return c;
}

/* SQLite opens a file it cannot write read-only, and such a connection
 * stays read-only: one opened while the disk was read-only is replaced
 * once the file can be written again, if nothing is running on it, so
 * the store recovers without a restart. */
static bool conn_stale(struct conn *c)
{
	if (!c->readonly || access(c->owner->path, W_OK) != 0 ||
	    !sqlite3_get_autocommit(c->db))
		return false;
	for (sqlite3_stmt *st = sqlite3_next_stmt(c->db, NULL); st != NULL;
	     st = sqlite3_next_stmt(c->db, st))
		if (sqlite3_stmt_busy(st))
			return false;
	return true;
}

static struct conn *conn_get(struct store *base)
{
	struct sq_store *s = (struct sq_store *)base;
	struct conn *c = pthread_getspecific(s->key);
	if (c != NULL && conn_stale(c)) {
		pthread_setspecific(s->key, NULL);
		conn_destructor(c);
		c = NULL;
	}
	return c ? c : conn_open(s, NULL, 0);
}

/* A prepared statement, reset and ready to bind; NULL on failure. */
static sqlite3_stmt *stmt(struct conn *c, enum stmt which)
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

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Set while writes fail for want of space or permission (or a failing
 * disk), so that the cause is logged once when it starts and once when it
 * clears (finish), not once per request. */
static atomic_bool write_fault;

/* store_sqlite_rc for the statements that write and for what starts and
 * ends a write transaction, where a disk that cannot take writes shows:
 * logs the cause, in one line, the first time. (SQLite does not keep the
 * OS error of a failed commit, so an I/O error comes with the likely
 * causes instead.) */
static enum store_rc write_rc(sqlite3 *db, int rc)
{
	int primary = rc & 0xff;
	if ((primary == SQLITE_FULL || primary == SQLITE_READONLY ||
	     primary == SQLITE_IOERR) &&
	    !atomic_exchange(&write_fault, true))
		log_errx("database %s cannot be written: %s (SQLite code %d%s); "
		         "every write fails until this clears",
		         sqlite3_db_filename(db, "main"), sqlite3_errstr(rc), rc,
		         primary == SQLITE_IOERR ? ": a read-only file or "
		                                   "filesystem, or a failing disk?"
		                                 : "");
	return store_sqlite_rc(rc);
}

/* Runs a statement that returns no rows; *changes if asked. */
static enum store_rc exec_stmt(struct conn *c, sqlite3_stmt *st, int *changes)
{
	int rc = sqlite3_step(st);
	done(st);
	if (changes != NULL)
		*changes = rc == SQLITE_DONE ? sqlite3_changes(c->db) : 0;
	return rc == SQLITE_DONE ? STORE_OK : write_rc(c->db, rc);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* Binds 0 as NULL: "unset" in the structs is NULL in the tables. */
static void bind_opt_int(sqlite3_stmt *st, int i, int64_t v)
{
	if (v == 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

/* Write transactions of this process queue on write_mu rather than on
 * SQLite's lock: its busy handler sleeps in steps of milliseconds, which
 * showed as 70 ms tails under load. Other processes (the CLI) still meet
 * the busy timeout. On failure nothing is held. */
static enum store_rc begin(struct conn *c)
{
	pthread_mutex_lock(&c->owner->write_mu);
	enum store_rc r = write_rc(c->db, sqlite3_exec(c->db, "BEGIN IMMEDIATE",
	                                               NULL, NULL, NULL));
	if (r != STORE_OK)
		pthread_mutex_unlock(&c->owner->write_mu);
	return r;
}

/* Commits (or rolls back) what begin() started and lets the next one in. */
static enum store_rc finish(struct conn *c, enum store_rc r)
{
	if (r == STORE_OK)
		r = write_rc(c->db, sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL));
	if (r != STORE_OK)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&c->owner->write_mu);
	/* A read-only connection commits a transaction whose writes all
	 * failed: that is no sign of health. */
	if (r == STORE_OK && !c->readonly &&
	    atomic_load_explicit(&write_fault, memory_order_relaxed) &&
	    atomic_exchange(&write_fault, false))
		log_info("database writes succeed again");
	return r;
}

/* ---- open, close, migrate ------------------------------------------------ */

static void no_memstatus(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static void sq_close(struct store *base)
{
	struct sq_store *s = (struct sq_store *)base;
	pthread_mutex_lock(&s->mu);
	struct conn *c = s->conns;
	s->conns = NULL;
	pthread_mutex_unlock(&s->mu);
	while (c != NULL) {
		struct conn *next = c->next;
		conn_close(c);
		c = next;
	}
	pthread_setspecific(s->key, NULL);
	pthread_key_delete(s->key);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->write_mu);
	pthread_mutex_destroy(&s->gc_mu);
	pthread_cond_destroy(&s->gc_cv);
	free(s->path);
	free(s);
}

static enum store_rc sq_migrate(struct store *base, int *applied, int *schema,
                                char *err, size_t errlen)
{
	struct conn *c = conn_get(base);
	if (c == NULL) {
		snprintf(err, errlen, "cannot open database");
		return STORE_INVALID;
	}
	return migrate_sqlite(c->db, applied, schema, err, errlen);
}

static enum store_rc sq_schema_version(struct store *base, int *db, int *binary)
{
	struct conn *c = conn_get(base);
	*binary = migrate_latest();
	return c ? migrate_sqlite_version(c->db, db) : STORE_INVALID;
}

/* ---- clients ------------------------------------------------------------- */

static void bind_client(sqlite3_stmt *st, const struct store_client *c)
{
	bind_text(st, 1, c->client_id);
	bind_text(st, 2, c->name);
	bind_text(st, 3, c->secret_hash);
	sqlite3_bind_int(st, 4, c->is_public);
	bind_text(st, 5, c->grant_types);
	bind_text(st, 6, c->scopes ? c->scopes : "");
	bind_text(st, 7, c->redirect_uris ? c->redirect_uris : "");
	bind_opt_int(st, 8, c->access_token_ttl);
	bind_opt_int(st, 9, c->refresh_token_ttl);
	sqlite3_bind_int64(st, 10, c->created_at);
	sqlite3_bind_int64(st, 11, c->updated_at);
	if (c->issue_refresh_token == STORE_DEFAULT)
		sqlite3_bind_null(st, 12);
	else
		sqlite3_bind_int(st, 12, c->issue_refresh_token == STORE_ON);
	bind_text(st, 13, c->on_refresh);
	bind_text(st, 14, c->auto_approve_as); /* "" (off) stays "" */
	bind_text(st, 15, c->audiences ? c->audiences : "");
	sqlite3_bind_int(st, 16, c->introspect);
}

static void read_client(sqlite3_stmt *st, struct store_client *c)
{
	c->client_id = col_text(st, 0);
	c->name = col_text(st, 1);
	c->secret_hash = col_text(st, 2);
	c->is_public = sqlite3_column_int(st, 3) != 0;
	c->grant_types = col_text(st, 4);
	c->scopes = col_text(st, 5);
	c->redirect_uris = col_text(st, 6);
	c->access_token_ttl = sqlite3_column_int64(st, 7);
	c->refresh_token_ttl = sqlite3_column_int64(st, 8);
	c->created_at = sqlite3_column_int64(st, 9);
	c->updated_at = sqlite3_column_int64(st, 10);
	c->issue_refresh_token = sqlite3_column_type(st, 11) == SQLITE_NULL
	                             ? STORE_DEFAULT
	                         : sqlite3_column_int(st, 11) ? STORE_ON
	                                                      : STORE_OFF;
	c->on_refresh = col_text(st, 12);
	c->auto_approve_as = col_text(st, 13);
	c->audiences = col_text(st, 14);
	c->introspect = sqlite3_column_int(st, 15) != 0;
}

static enum store_rc sq_client_add(struct store *s, const struct store_client *c)
{
	struct conn *cn = conn_get(s);
	sqlite3_stmt *st = stmt(cn, ST_CLIENT_ADD);
	if (st == NULL)
		return STORE_IO;
	bind_client(st, c);
	return exec_stmt(cn, st, NULL);
}

static enum store_rc sq_client_update(struct store *s,
                                      const struct store_client *c)
{
	struct conn *cn = conn_get(s);
	sqlite3_stmt *st = stmt(cn, ST_CLIENT_UPDATE);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	bind_client(st, c);
	enum store_rc r = exec_stmt(cn, st, &n);
	return r == STORE_OK && n == 0 ? STORE_NOT_FOUND : r;
}

/* Shared by the lookups: steps the bound st once and returns from the
 * caller, with out filled by reader when there was a row. */
#define STEP_ONE(st, out, reader)                                         \
	do {                                                              \
		int rc_ = sqlite3_step(st);                               \
		if (rc_ == SQLITE_ROW)                                    \
			reader(st, out);                                  \
		done(st);                                                 \
		return rc_ == SQLITE_ROW    ? STORE_OK                    \
		       : rc_ == SQLITE_DONE ? STORE_NOT_FOUND             \
		                            : store_sqlite_rc(rc_);       \
	} while (0)

/* Shared by every "SELECT ... WHERE key=?" returning at most one row. */
#define GET_ONE(which, key, out, reader)                                  \
	do {                                                              \
		sqlite3_stmt *st_ = stmt(conn_get(s), which);             \
		if (st_ == NULL)                                          \
			return STORE_IO;                                  \
		bind_text(st_, 1, key);                                   \
		STEP_ONE(st_, out, reader);                               \
	} while (0)

/* Shared by the listings: steps st, hands each row to cb. */
#define LIST_ROWS(st, type, reader, clear, cb, arg)                       \
	do {                                                              \
		int rc_;                                                  \
		while ((rc_ = sqlite3_step(st)) == SQLITE_ROW) {          \
			type row_ = {0};                                  \
			reader(st, &row_);                                \
			int stop_ = cb(&row_, arg);                       \
			clear(&row_);                                     \
			if (stop_)                                        \
				break;                                    \
		}                                                         \
		done(st);                                                 \
		return rc_ == SQLITE_ROW || rc_ == SQLITE_DONE ? STORE_OK \
		                                               : store_sqlite_rc(rc_); \
	} while (0)

static enum store_rc sq_client_get(struct store *s, const char *id,
                                   struct store_client *out)
{
	GET_ONE(ST_CLIENT_GET, id, out, read_client);
}

/* Runs a one-key DELETE; STORE_NOT_FOUND when no row had that key. */
static enum store_rc delete_by(struct store *s, enum stmt which,
                               const char *key)
{
	struct conn *cn = conn_get(s);
	sqlite3_stmt *st = stmt(cn, which);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, key);
	enum store_rc r = exec_stmt(cn, st, &n);
	return r == STORE_OK && n == 0 ? STORE_NOT_FOUND : r;
}

static enum store_rc sq_client_remove(struct store *s, const char *id)
{
	return delete_by(s, ST_CLIENT_REMOVE, id);
}

static enum store_rc sq_client_list(struct store *s, store_client_cb cb,
                                    void *arg)
{
	sqlite3_stmt *st = stmt(conn_get(s), ST_CLIENT_LIST);
	if (st == NULL)
		return STORE_IO;
	LIST_ROWS(st, struct store_client, read_client, store_client_clear, cb,
	          arg);
}

/* ---- users --------------------------------------------------------------- */

static void read_user(sqlite3_stmt *st, struct store_user *u)
{
	u->user_id = col_text(st, 0);
	u->username = col_text(st, 1);
	u->password_hash = col_text(st, 2);
	u->created_at = sqlite3_column_int64(st, 3);
	u->updated_at = sqlite3_column_int64(st, 4);
}

static enum store_rc sq_user_add(struct store *s, const struct store_user *u)
{
	struct conn *cn = conn_get(s);
	sqlite3_stmt *st = stmt(cn, ST_USER_ADD);
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, u->user_id);
	bind_text(st, 2, u->username);
	bind_text(st, 3, u->password_hash);
	sqlite3_bind_int64(st, 4, u->created_at);
	sqlite3_bind_int64(st, 5, u->updated_at);
	return exec_stmt(cn, st, NULL);
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
	struct conn *cn = conn_get(s);
	sqlite3_stmt *st = stmt(cn, ST_USER_SETPW);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, username);
	bind_text(st, 2, hash);
	sqlite3_bind_int64(st, 3, now);
	enum store_rc r = exec_stmt(cn, st, &n);
	return r == STORE_OK && n == 0 ? STORE_NOT_FOUND : r;
}

static enum store_rc sq_user_remove(struct store *s, const char *username)
{
	return delete_by(s, ST_USER_REMOVE, username);
}

static enum store_rc sq_user_list(struct store *s, store_user_cb cb, void *arg)
{
	sqlite3_stmt *st = stmt(conn_get(s), ST_USER_LIST);
	if (st == NULL)
		return STORE_IO;
	LIST_ROWS(st, struct store_user, read_user, store_user_clear, cb, arg);
}

/* ---- access tokens ------------------------------------------------------- */

static void read_token(sqlite3_stmt *st, struct store_token *t)
{
	t->jti = col_text(st, 0);
	t->client_id = col_text(st, 1);
	t->subject = col_text(st, 2);
	t->scope = col_text(st, 3);
	t->kid = col_text(st, 4);
	t->issued_at = sqlite3_column_int64(st, 5);
	t->expires_at = sqlite3_column_int64(st, 6);
	t->revoked_at = sqlite3_column_int64(st, 7);
	t->family_id = col_text(st, 8);
}

static enum store_rc token_insert(struct conn *cn, const struct store_token *t)
{
	sqlite3_stmt *st = stmt(cn, ST_TOKEN_ADD);
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, t->jti);
	bind_text(st, 2, t->client_id);
	bind_text(st, 3, t->subject);
	bind_text(st, 4, t->scope ? t->scope : "");
	bind_text(st, 5, t->kid);
	sqlite3_bind_int64(st, 6, t->issued_at);
	sqlite3_bind_int64(st, 7, t->expires_at);
	bind_opt_int(st, 8, t->revoked_at);
	bind_text(st, 9, t->family_id);
	return exec_stmt(cn, st, NULL);
}

static enum store_rc sq_token_add(struct store *s, const struct store_token *t)
{
	return token_insert(conn_get(s), t);
}

static enum store_rc sq_token_get(struct store *s, const char *jti,
                                  struct store_token *out)
{
	GET_ONE(ST_TOKEN_GET, jti, out, read_token);
}

static enum store_rc sq_token_list(struct store *s,
                                   const struct store_token_filter *f,
                                   store_token_cb cb, void *arg)
{
	sqlite3_stmt *st = stmt(conn_get(s), ST_TOKEN_LIST);
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, f->client_id);
	sqlite3_bind_int(st, 2, f->active_only);
	sqlite3_bind_int64(st, 3, f->now);
	bind_text(st, 4, f->subject);
	bind_text(st, 5, f->family_id);
	LIST_ROWS(st, struct store_token, read_token, store_token_clear, cb, arg);
}

static enum store_rc run_key_now(struct conn *cn, enum stmt which,
                                 const char *key, int64_t now, int *changes);

static enum store_rc revoke_by(struct store *s, enum stmt which,
                               const char *key, int64_t now, int *count)
{
	return run_key_now(conn_get(s), which, key, now, count);
}

static enum store_rc sq_token_revoke(struct store *s, const char *jti,
                                     int64_t now, int *count)
{
	return revoke_by(s, ST_TOKEN_REVOKE, jti, now, count);
}


/* ---- signing keys -------------------------------------------------------- */

static void read_key(sqlite3_stmt *st, struct store_key *k)
{
	k->kid = col_text(st, 0);
	k->alg = col_text(st, 1);
	k->private_pem = col_text(st, 2);
	k->created_at = sqlite3_column_int64(st, 3);
	k->retired_at = sqlite3_column_int64(st, 4);
}

static enum store_rc sq_key_add_current(struct store *s,
                                        const struct store_key *k)
{
	struct conn *cn = conn_get(s);
	sqlite3_stmt *retire = stmt(cn, ST_KEY_RETIRE);
	sqlite3_stmt *add = stmt(cn, ST_KEY_ADD);
	if (retire == NULL || add == NULL)
		return STORE_IO;
	enum store_rc r = begin(cn);
	if (r != STORE_OK)
		return r;
	sqlite3_bind_int64(retire, 1, k->created_at);
	r = exec_stmt(cn, retire, NULL);
	if (r == STORE_OK) {
		bind_text(add, 1, k->kid);
		bind_text(add, 2, k->alg);
		bind_text(add, 3, k->private_pem);
		sqlite3_bind_int64(add, 4, k->created_at);
		r = exec_stmt(cn, add, NULL);
	}
	return finish(cn, r);
}

static enum store_rc sq_key_current(struct store *s, struct store_key *out)
{
	sqlite3_stmt *st = stmt(conn_get(s), ST_KEY_CURRENT);
	if (st == NULL)
		return STORE_IO;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_key(st, out);
	done(st);
	return rc == SQLITE_ROW ? STORE_OK
	       : rc == SQLITE_DONE ? STORE_NOT_FOUND : store_sqlite_rc(rc);
}

static enum store_rc sq_key_list(struct store *s, bool published_only,
                                 int64_t now, store_key_cb cb, void *arg)
{
	sqlite3_stmt *st = stmt(conn_get(s),
	                        published_only ? ST_KEY_PUBLISHED : ST_KEY_LIST);
	if (st == NULL)
		return STORE_IO;
	if (published_only)
		sqlite3_bind_int64(st, 1, now);
	LIST_ROWS(st, struct store_key, read_key, store_key_clear, cb, arg);
}

/* ---- refresh tokens and issuance (version 2) ---------------------------- */

static void read_refresh(sqlite3_stmt *st, struct store_refresh *r)
{
	r->token_hash = col_text(st, 0);
	r->family_id = col_text(st, 1);
	r->client_id = col_text(st, 2);
	r->subject = col_text(st, 3);
	r->username = col_text(st, 4);
	r->scope = col_text(st, 5);
	r->access_jti = col_text(st, 6);
	r->issued_at = sqlite3_column_int64(st, 7);
	r->expires_at = sqlite3_column_int64(st, 8);
	r->retired_at = sqlite3_column_int64(st, 9);
	r->revoked_at = sqlite3_column_int64(st, 10);
}

static enum store_rc refresh_insert(struct conn *cn,
                                    const struct store_refresh *r)
{
	sqlite3_stmt *st = stmt(cn, ST_RT_ADD);
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, r->token_hash);
	bind_text(st, 2, r->family_id);
	bind_text(st, 3, r->client_id);
	bind_text(st, 4, r->subject);
	bind_text(st, 5, r->username);
	bind_text(st, 6, r->scope ? r->scope : "");
	bind_text(st, 7, r->access_jti);
	sqlite3_bind_int64(st, 8, r->issued_at);
	sqlite3_bind_int64(st, 9, r->expires_at);
	bind_opt_int(st, 10, r->retired_at);
	bind_opt_int(st, 11, r->revoked_at);
	return exec_stmt(cn, st, NULL);
}

/* Binds (key, now) and runs: the shape of every revoke and retire here. */
static enum store_rc run_key_now(struct conn *cn, enum stmt which,
                                 const char *key, int64_t now, int *changes)
{
	sqlite3_stmt *st = stmt(cn, which);
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, now);
	return exec_stmt(cn, st, changes);
}

/* Runs an UPDATE whose WHERE clause is a liveness check, binding (key,
 * now) and, when the statement has them, arg as ?3 and arg2 as ?4. No row
 * changed means the check failed (someone else got there first):
 * STORE_CONFLICT. */
static enum store_rc claim(struct conn *cn, enum stmt which, const char *key,
                           int64_t now, const char *arg, const char *arg2)
{
	sqlite3_stmt *st = stmt(cn, which);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_bind_parameter_count(st) >= 3)
		bind_text(st, 3, arg);
	if (sqlite3_bind_parameter_count(st) >= 4)
		bind_text(st, 4, arg2);
	enum store_rc r = exec_stmt(cn, st, &n);
	return r == STORE_OK && n == 0 ? STORE_CONFLICT : r;
}

/* The writes of one issue, inside a transaction the caller holds. */
static enum store_rc issue_ops(struct conn *cn, const struct store_issue *is)
{
	enum store_rc r = STORE_OK;
	/* The code first: a code that is used, expired or unknown writes
	 * nothing, and the redemption that wins records the family its
	 * tokens belong to, so a replay can revoke them. */
	if (is->consume_code_hash != NULL)
		r = claim(cn, ST_CODE_CONSUME, is->consume_code_hash, is->now,
		          is->access->family_id, NULL);
	if (r == STORE_OK && is->retire_hash != NULL)
		r = claim(cn, ST_RT_RETIRE, is->retire_hash, is->now, NULL, NULL);
	/* Before revoke_jti: a relink that lost must not revoke anything. */
	if (r == STORE_OK && is->relink_hash != NULL)
		r = claim(cn, ST_RT_RELINK, is->relink_hash, is->now,
		          is->relink_jti, is->relink_from_jti);
	if (r == STORE_OK && is->revoke_jti != NULL)
		r = run_key_now(cn, ST_TOKEN_REVOKE, is->revoke_jti, is->now, NULL);
	if (r == STORE_OK)
		r = token_insert(cn, is->access);
	if (r == STORE_OK && is->refresh != NULL)
		r = refresh_insert(cn, is->refresh);
	return r;
}

/* ---- group commit --------------------------------------------------------
 * Every token response waits for its record's commit, and a commit costs
 * far more than the rows in it (a transaction's locks and the WAL frames
 * of the pages it touched: about 20 system calls here). So issues that
 * arrive while a commit is under way queue, and the next commit takes all
 * of them: the first thread to find no commit running becomes the leader,
 * runs the queue in one transaction, each issue in a savepoint of its own
 * (a lost compare-and-set undoes that issue only), commits, and wakes the
 * others with their own results. Nobody is answered before the commit
 * that holds its record. The leader uses the writer connection, which
 * only ever runs under write_mu: its page cache stays warm, where each
 * thread's own connection would re-read what the others wrote. */
struct gc_item {
	const struct store_issue *is;
	enum store_rc rc;
	bool done;
	struct gc_item *next;
};

#define GC_MAX_BATCH 64 /* bounds how long one commit holds write_mu */

/* begin() on the writer connection, opened on first use. */
static struct conn *wbegin(struct sq_store *s, enum store_rc *r)
{
	pthread_mutex_lock(&s->write_mu);
	if (s->wconn != NULL && conn_stale(s->wconn)) {
		conn_unlink(s, s->wconn);
		conn_close(s->wconn);
		s->wconn = NULL;
	}
	if (s->wconn == NULL)
		s->wconn = conn_new(s, NULL, 0);
	struct conn *cn = s->wconn;
	*r = cn == NULL ? STORE_IO
	                : write_rc(cn->db, sqlite3_exec(cn->db, "BEGIN IMMEDIATE",
	                                                NULL, NULL, NULL));
	if (*r != STORE_OK) {
		pthread_mutex_unlock(&s->write_mu);
		return NULL;
	}
	return cn;
}

static enum store_rc run_sql(struct conn *cn, enum stmt which)
{
	sqlite3_stmt *st = stmt(cn, which);
	return st ? exec_stmt(cn, st, NULL) : STORE_IO;
}

/* Runs a batch in one transaction; sets each item's rc. */
static void gc_commit(struct sq_store *s, struct gc_item *batch)
{
	enum store_rc r;
	struct conn *cn = wbegin(s, &r);
	if (cn == NULL) {
		for (struct gc_item *it = batch; it; it = it->next)
			it->rc = r;
		return;
	}
	if (batch->next == NULL) { /* alone: no savepoint needed */
		batch->rc = finish(cn, issue_ops(cn, batch->is));
		return;
	}
	enum store_rc fatal = STORE_OK;
	for (struct gc_item *it = batch; it; it = it->next) {
		if (fatal != STORE_OK) {
			it->rc = fatal;
			continue;
		}
		it->rc = run_sql(cn, ST_GC_SAVEPOINT);
		if (it->rc == STORE_OK)
			it->rc = issue_ops(cn, it->is);
		if (it->rc != STORE_OK && !sqlite3_get_autocommit(cn->db) &&
		    run_sql(cn, ST_GC_ROLLBACK_TO) != STORE_OK)
			fatal = it->rc;
		/* An I/O error can roll the whole transaction back: then
		 * nothing of the batch stands. */
		if (sqlite3_get_autocommit(cn->db) ||
		    run_sql(cn, ST_GC_RELEASE) != STORE_OK)
			fatal = it->rc != STORE_OK ? it->rc : STORE_IO;
	}
	if (fatal == STORE_OK)
		fatal = finish(cn, STORE_OK);
	else
		(void)finish(cn, fatal);
	/* Nothing of the batch stands, so no result of it may either: a
	 * lost compare-and-set may have lost to an issue now rolled back. */
	if (fatal != STORE_OK)
		for (struct gc_item *it = batch; it; it = it->next)
			it->rc = fatal;
}

static enum store_rc sq_issue(struct store *base, const struct store_issue *is)
{
	struct sq_store *s = (struct sq_store *)base;
	struct gc_item me = {.is = is};

	pthread_mutex_lock(&s->gc_mu);
	*s->gc_tail = &me;
	s->gc_tail = &me.next;
	while (!me.done) {
		if (s->gc_leading) {
			pthread_cond_wait(&s->gc_cv, &s->gc_mu);
			continue;
		}
		/* Lead: take up to GC_MAX_BATCH from the queue (me among
		 * them: only a leader removes items, and it completes them). */
		s->gc_leading = true;
		struct gc_item *batch = s->gc_head, *last = batch;
		for (int n = 1; n < GC_MAX_BATCH && last->next; n++)
			last = last->next;
		s->gc_head = last->next;
		if (s->gc_head == NULL)
			s->gc_tail = &s->gc_head;
		last->next = NULL;
		pthread_mutex_unlock(&s->gc_mu);

		gc_commit(s, batch);

		pthread_mutex_lock(&s->gc_mu);
		for (struct gc_item *it = batch, *next; it; it = next) {
			next = it->next;
			it->done = true; /* it may vanish once gc_mu is free */
		}
		s->gc_leading = false;
		pthread_cond_broadcast(&s->gc_cv);
	}
	pthread_mutex_unlock(&s->gc_mu);
	return me.rc;
}

static enum store_rc sq_refresh_get(struct store *s, const char *hash,
                                    struct store_refresh *out)
{
	GET_ONE(ST_RT_GET, hash, out, read_refresh);
}

static enum store_rc sq_refresh_list(struct store *s,
                                     const struct store_refresh_filter *f,
                                     store_refresh_cb cb, void *arg)
{
	sqlite3_stmt *st = stmt(conn_get(s), ST_RT_LIST);
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, f->client_id);
	bind_text(st, 2, f->subject);
	bind_text(st, 3, f->family_id);
	sqlite3_bind_int(st, 4, f->active_only);
	sqlite3_bind_int64(st, 5, f->now);
	LIST_ROWS(st, struct store_refresh, read_refresh, store_refresh_clear,
	          cb, arg);
}

/* Runs two (key, now) statements, first then second, in one transaction;
 * *count is the rows both changed. For revocations: the refresh tokens
 * and then the access tokens that share one key, so no reader sees a
 * refresh token revoked while the access tokens issued with it still
 * pass. */
static enum store_rc run_pair(struct store *s, enum stmt first,
                              enum stmt second, const char *key, int64_t now,
                              int *count)
{
	struct conn *cn = conn_get(s);
	int a = 0, b = 0;
	if (cn == NULL)
		return STORE_IO;
	enum store_rc r = begin(cn);
	if (r != STORE_OK)
		return r;
	r = run_key_now(cn, first, key, now, &a);
	if (r == STORE_OK)
		r = run_key_now(cn, second, key, now, &b);
	r = finish(cn, r);
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

/* ---- codes, sessions, consents (version 4) ------------------------------ */

static void read_code(sqlite3_stmt *st, struct store_code *c)
{
	c->code_hash = col_text(st, 0);
	c->client_id = col_text(st, 1);
	c->subject = col_text(st, 2);
	c->username = col_text(st, 3);
	c->redirect_uri = col_text(st, 4);
	c->scope = col_text(st, 5);
	c->code_challenge = col_text(st, 6);
	c->code_challenge_method = col_text(st, 7);
	c->issued_at = sqlite3_column_int64(st, 8);
	c->expires_at = sqlite3_column_int64(st, 9);
	c->used_at = sqlite3_column_int64(st, 10);
	c->family_id = col_text(st, 11);
	c->resource = col_text(st, 12);
}

static enum store_rc sq_code_add(struct store *s, const struct store_code *c)
{
	struct conn *cn = conn_get(s);
	sqlite3_stmt *st = stmt(cn, ST_CODE_ADD);
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, c->code_hash);
	bind_text(st, 2, c->client_id);
	bind_text(st, 3, c->subject);
	bind_text(st, 4, c->username);
	bind_text(st, 5, c->redirect_uri);
	bind_text(st, 6, c->scope ? c->scope : "");
	bind_text(st, 7, c->code_challenge);
	bind_text(st, 8, c->code_challenge_method);
	sqlite3_bind_int64(st, 9, c->issued_at);
	sqlite3_bind_int64(st, 10, c->expires_at);
	bind_opt_int(st, 11, c->used_at);
	bind_text(st, 12, c->family_id);
	bind_text(st, 13, c->resource);
	return exec_stmt(cn, st, NULL);
}

static enum store_rc sq_code_get(struct store *s, const char *hash,
                                 struct store_code *out)
{
	GET_ONE(ST_CODE_GET, hash, out, read_code);
}

static void read_session(sqlite3_stmt *st, struct store_session *se)
{
	se->session_hash = col_text(st, 0);
	se->user_id = col_text(st, 1);
	se->auth_time = sqlite3_column_int64(st, 2);
	se->expires_at = sqlite3_column_int64(st, 3);
}

static enum store_rc sq_session_add(struct store *s,
                                    const struct store_session *se)
{
	struct conn *cn = conn_get(s);
	sqlite3_stmt *st = stmt(cn, ST_SESSION_ADD);
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, se->session_hash);
	bind_text(st, 2, se->user_id);
	sqlite3_bind_int64(st, 3, se->auth_time);
	sqlite3_bind_int64(st, 4, se->expires_at);
	return exec_stmt(cn, st, NULL);
}

/* An expired session is not found: the caller never has to compare
 * times, and a purge that has not run yet changes nothing. */
static enum store_rc sq_session_get(struct store *s, const char *hash,
                                    int64_t now, struct store_session *out)
{
	sqlite3_stmt *st = stmt(conn_get(s), ST_SESSION_GET);
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, hash);
	sqlite3_bind_int64(st, 2, now);
	STEP_ONE(st, out, read_session);
}

static enum store_rc sq_session_remove(struct store *s, const char *hash)
{
	return delete_by(s, ST_SESSION_REMOVE, hash);
}

static void read_consent(sqlite3_stmt *st, struct store_consent *c)
{
	c->user_id = col_text(st, 0);
	c->client_id = col_text(st, 1);
	c->scope = col_text(st, 2);
	c->granted_at = sqlite3_column_int64(st, 3);
	c->updated_at = sqlite3_column_int64(st, 4);
	c->username = col_text(st, 5);
}

/* The (user, client) pair of a consent statement: ?1, ?2. */
static sqlite3_stmt *consent_stmt(struct conn *cn, enum stmt which,
                                  const char *user_id, const char *client_id)
{
	sqlite3_stmt *st = stmt(cn, which);
	if (st != NULL) {
		bind_text(st, 1, user_id);
		bind_text(st, 2, client_id);
	}
	return st;
}

static enum store_rc sq_consent_get(struct store *s, const char *user_id,
                                    const char *client_id,
                                    struct store_consent *out)
{
	sqlite3_stmt *st = consent_stmt(conn_get(s), ST_CONSENT_GET, user_id,
	                                client_id);
	if (st == NULL)
		return STORE_IO;
	STEP_ONE(st, out, read_consent);
}

static enum store_rc sq_consent_put(struct store *s,
                                    const struct store_consent *c)
{
	struct conn *cn = conn_get(s);
	sqlite3_stmt *st = consent_stmt(cn, ST_CONSENT_PUT, c->user_id,
	                                c->client_id);
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 3, c->scope ? c->scope : "");
	sqlite3_bind_int64(st, 4, c->granted_at);
	sqlite3_bind_int64(st, 5, c->updated_at);
	return exec_stmt(cn, st, NULL);
}

static enum store_rc sq_consent_list(struct store *s, const char *user_id,
                                     const char *client_id,
                                     store_consent_cb cb, void *arg)
{
	sqlite3_stmt *st = consent_stmt(conn_get(s), ST_CONSENT_LIST, user_id,
	                                client_id);
	if (st == NULL)
		return STORE_IO;
	LIST_ROWS(st, struct store_consent, read_consent, store_consent_clear,
	          cb, arg);
}

static enum store_rc sq_consent_revoke(struct store *s, const char *user_id,
                                       const char *client_id, int *count)
{
	struct conn *cn = conn_get(s);
	sqlite3_stmt *st = consent_stmt(cn, ST_CONSENT_REVOKE, user_id,
	                                client_id);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	enum store_rc r = exec_stmt(cn, st, &n);
	if (count != NULL)
		*count = n;
	return r;
}

static enum store_rc sq_sessions_end_user(struct store *s,
                                          const char *user_id, int *count)
{
	struct conn *cn = conn_get(s);
	sqlite3_stmt *st = stmt(cn, ST_SESSIONS_END_USER);
	int n = 0;
	if (st == NULL)
		return STORE_IO;
	bind_text(st, 1, user_id);
	enum store_rc r = exec_stmt(cn, st, &n);
	if (count != NULL)
		*count = n;
	return r;
}

static enum store_rc sq_reset_tokens(struct store *s)
{
	static const char sql[] =
	    "DELETE FROM access_tokens; DELETE FROM refresh_tokens;"
	    "DELETE FROM authorization_codes; DELETE FROM sessions;"
	    "DELETE FROM consents;";
	struct conn *cn = conn_get(s);
	if (cn == NULL)
		return STORE_IO;
	enum store_rc r = begin(cn);
	if (r != STORE_OK)
		return r;
	r = store_sqlite_rc(sqlite3_exec(cn->db, sql, NULL, NULL, NULL));
	return finish(cn, r);
}

static enum store_rc sq_purge_expired(struct store *s, int64_t now,
                                      int *count)
{
	return run_pair(s, ST_PURGE_CODES, ST_PURGE_SESSIONS, NULL, now, count);
}

/* ---- housekeeping and backup (version 5) -------------------------------- */

/* Rows (or families) one purge transaction deletes at most: small enough
 * that a token request queued behind it on write_mu waits milliseconds,
 * large enough that a backlog of millions goes in minutes. */
#define PURGE_BATCH 500

/* Runs a batch DELETE (?1 the cutoff, ?2 the batch size) until a batch
 * comes back short; *count adds up the rows deleted. Each batch is its own
 * transaction, so writers get the lock between batches. */
static enum store_rc purge_batches(struct conn *cn, enum stmt which,
                                   int64_t before, int64_t *count)
{
	for (;;) {
		int n = 0;
		enum store_rc r = begin(cn);
		if (r != STORE_OK)
			return r;
		sqlite3_stmt *st = stmt(cn, which);
		if (st == NULL) {
			r = STORE_IO;
		} else {
			sqlite3_bind_int64(st, 1, before);
			sqlite3_bind_int(st, 2, PURGE_BATCH);
			r = exec_stmt(cn, st, &n);
		}
		r = finish(cn, r);
		if (r != STORE_OK)
			return r;
		*count += n;
		if (n < PURGE_BATCH)
			return STORE_OK;
	}
}

/* The families that have an expired refresh token at now, into a list the
 * caller frees with families_free. Read before any write: the DELETEs
 * then run in transactions of their own. */
struct families {
	char **ids;
	size_t n, cap;
};

static void families_free(struct families *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->ids[i]);
	free(f->ids);
	memset(f, 0, sizeof(*f));
}

static enum store_rc families_expired(struct conn *cn, int64_t now,
                                      struct families *f)
{
	sqlite3_stmt *st = stmt(cn, ST_PURGE_RT_FAMILIES);
	int rc;
	if (st == NULL)
		return STORE_IO;
	sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (f->n == f->cap) {
			size_t cap = f->cap ? 2 * f->cap : 64;
			char **grown = realloc(f->ids, cap * sizeof(*grown));
			if (grown == NULL)
				abort(); /* as xcalloc does */
			f->ids = grown;
			f->cap = cap;
		}
		f->ids[f->n++] = col_text(st, 0);
	}
	done(st);
	return rc == SQLITE_DONE ? STORE_OK : store_sqlite_rc(rc);
}

/* Deletes the families of f none of whose tokens is unexpired at now
 * (the statement checks again, in the deleting transaction), PURGE_BATCH
 * families per transaction. */
static enum store_rc purge_families(struct conn *cn, int64_t now,
                                    const struct families *f, int64_t *count)
{
	for (size_t i = 0; i < f->n;) {
		enum store_rc r = begin(cn);
		int64_t rows = 0;
		if (r != STORE_OK)
			return r;
		for (size_t end = i + PURGE_BATCH; r == STORE_OK && i < f->n &&
		                                   i < end; i++) {
			int n = 0;
			r = run_key_now(cn, ST_PURGE_RT_FAMILY, f->ids[i], now, &n);
			rows += n;
		}
		r = finish(cn, r);
		if (r != STORE_OK)
			return r;
		*count += rows;
	}
	return STORE_OK;
}

static enum store_rc sq_purge(struct store *s, int64_t now,
                              struct store_purge_counts *out)
{
	struct conn *cn = conn_get(s);
	struct families fam = {0};
	if (cn == NULL)
		return STORE_IO;
	enum store_rc r = purge_batches(cn, ST_PURGE_AT_BATCH, now,
	                                &out->access_tokens);
	if (r == STORE_OK)
		r = families_expired(cn, now, &fam);
	if (r == STORE_OK)
		r = purge_families(cn, now, &fam, &out->refresh_tokens);
	families_free(&fam);
	if (r == STORE_OK)
		r = purge_batches(cn, ST_PURGE_CODE_BATCH,
		                  now - STORE_PURGE_CODE_GRACE, &out->codes);
	if (r == STORE_OK)
		r = purge_batches(cn, ST_PURGE_SESSION_BATCH, now, &out->sessions);
	return r;
}

static enum store_rc sq_backup(struct store *s, const char *dest, bool replace,
                               struct store_backup_info *out, char *err,
                               size_t errlen)
{
	struct conn *cn = conn_get(s);
	if (cn == NULL) {
		snprintf(err, errlen, "cannot open the database");
		return STORE_INVALID;
	}
	return store_sqlite_backup(cn->db, dest, replace, out, err, errlen);
}

int store_sqlite_synchronous(struct store *s)
{
	struct conn *cn = conn_get(s);
	sqlite3_stmt *st = NULL;
	int level = -1;
	if (cn != NULL && sqlite3_prepare_v2(cn->db, "PRAGMA synchronous", -1,
	                                     &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		level = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return level;
}

/* ---- the ops table ------------------------------------------------------- */

static const struct store_ops sqlite_ops = {
	.version = 6,
	.name = "sqlite",
	.xClose = sq_close,
	.xMigrate = sq_migrate,
	.xSchemaVersion = sq_schema_version,
	.xClientAdd = sq_client_add,
	.xClientGet = sq_client_get,
	.xClientUpdate = sq_client_update,
	.xClientRemove = sq_client_remove,
	.xClientList = sq_client_list,
	.xUserAdd = sq_user_add,
	.xUserGet = sq_user_get,
	.xUserSetPassword = sq_user_set_password,
	.xUserRemove = sq_user_remove,
	.xUserList = sq_user_list,
	.xTokenAdd = sq_token_add,
	.xTokenGet = sq_token_get,
	.xTokenList = sq_token_list,
	.xTokenRevoke = sq_token_revoke,
	.xTokenRevokeClient = sq_token_revoke_client,
	.xKeyAddCurrent = sq_key_add_current,
	.xKeyCurrent = sq_key_current,
	.xKeyList = sq_key_list,
	.xIssue = sq_issue,
	.xRefreshGet = sq_refresh_get,
	.xFamilyRevoke = sq_family_revoke,
	.xUserGetById = sq_user_get_by_id,
	.xThreadEnd = sq_thread_end,
	.xRefreshList = sq_refresh_list,
	.xSubjectRevoke = sq_subject_revoke,
	.xCodeAdd = sq_code_add,
	.xCodeGet = sq_code_get,
	.xSessionAdd = sq_session_add,
	.xSessionGet = sq_session_get,
	.xSessionRemove = sq_session_remove,
	.xConsentGet = sq_consent_get,
	.xConsentPut = sq_consent_put,
	.xConsentList = sq_consent_list,
	.xConsentRevoke = sq_consent_revoke,
	.xPurgeExpired = sq_purge_expired,
	.xSessionsEndUser = sq_sessions_end_user,
	.xResetTokens = sq_reset_tokens,
	.xPurge = sq_purge,
	.xBackup = sq_backup,
};

/* SQLite creates files with 0644 under the usual umask; the database holds
 * the signing keys, so create it ourselves first. The -wal and -shm files
 * take the database file's mode. */
static int create_private(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open database '%.200s': %s", path,
		         strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

enum store_rc store_sqlite_open(const char *path,
                                const struct store_options *o,
                                struct store **out, char *err, size_t errlen)
{
	if (path[0] == '\0') {
		snprintf(err, errlen, "database path is empty");
		return STORE_INVALID;
	}
	if (create_private(path, err, errlen) != 0)
		return STORE_INVALID;
	/* SQLite's memory statistics take a process-wide mutex around every
	 * allocation, which all worker threads then queue on. It only works
	 * before SQLite initialises, so this is best effort. */
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, no_memstatus);
	struct sq_store *s = xcalloc(1, sizeof(*s));
	s->base.ops = &sqlite_ops;
	s->path = xstrdup(path);
	s->durability = o->durability;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->write_mu, NULL);
	pthread_mutex_init(&s->gc_mu, NULL);
	pthread_cond_init(&s->gc_cv, NULL);
	s->gc_tail = &s->gc_head;
	if (pthread_key_create(&s->key, conn_destructor) != 0) {
		snprintf(err, errlen, "pthread_key_create failed");
		pthread_mutex_destroy(&s->mu);
		pthread_mutex_destroy(&s->write_mu);
		pthread_mutex_destroy(&s->gc_mu);
		pthread_cond_destroy(&s->gc_cv);
		free(s->path);
		free(s);
		return STORE_IO;
	}
	struct conn *c = conn_open(s, err, errlen);
	if (c == NULL) {
		sq_close(&s->base);
		return STORE_INVALID;
	}
	/* WAL is a property of the file: set it once, here. */
	char *msg = NULL;
	int rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		sq_close(&s->base);
		return store_sqlite_rc(rc);
	}
	*out = &s->base;
	return STORE_OK;
}
