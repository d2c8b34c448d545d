/*
 * sqlite_int.h: what the files of the SQLite backend share, and nothing
 * else includes. The backend is split by job, as SQLite's own tree is:
 *
 *   sqlite_store.c    opening and closing the store, migrations, the ops
 *                     table that points at every method table below
 *   sqlite_conn.c     connections (one per thread, the writer), pragmas,
 *                     write transactions and the write-fault log
 *   sqlite_stmt.c     the statement catalog (every SQL text, by enum
 *                     stmt), preparing, binding and stepping
 *   sqlite_commit.c   group commit: the token table's xIssue
 *   sqlite_clients.c  clients and users
 *   sqlite_tokens.c   access tokens, refresh tokens, families
 *   sqlite_issue.c    the writes of one issue (sqlite_commit.c commits)
 *   sqlite_keys.c     signing keys
 *   sqlite_codes.c    authorization codes, browser sessions, consents
 *   sqlite_upkeep.c   the purge and the backup glue (backup_sqlite.c
 *                     makes the copy)
 *   sqlite_testing.c  the test-double method table
 *   sqlite_copy.c     the copy table: whole catalogue tables read in one
 *                     snapshot or written in one transaction
 *                     (copy_catalog.c)
 *
 * Names shared between these files start with sq_; everything else in
 * them is static.
 */
#ifndef LK_SQLITE_INT_H
#define LK_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "commit_queue.h"
#include "store_int.h"

/* ---- the statement catalog (sqlite_stmt.c) ------------------------------- */

enum stmt {
	ST_CLIENT_ADD, ST_CLIENT_GET, ST_CLIENT_VERSION, ST_CLIENT_UPDATE,
	ST_CLIENT_REMOVE,
	/* A listing's _PAGE and _COUNTED statements follow it: sq_list_stmt. */
	ST_CLIENT_LIST, ST_CLIENT_PAGE, ST_CLIENT_COUNTED,
	ST_USER_ADD, ST_USER_GET, ST_USER_GET_ID, ST_USER_SETPW, ST_USER_REMOVE,
	ST_USER_SET_CLAIMS,
	ST_USER_LIST, ST_USER_PAGE, ST_USER_COUNTED,
	ST_TOKEN_ADD, ST_TOKEN_GET, ST_TOKEN_LIST, ST_TOKEN_PAGE,
	ST_TOKEN_COUNTED,
	ST_TOKEN_REVOKE,
	ST_TOKEN_REVOKE_CLIENT,
	ST_KEY_RETIRE, ST_KEY_RETIRE_KID, ST_KEY_ADD, ST_KEY_CURRENT,
	ST_KEY_LIST, ST_KEY_PAGE, ST_KEY_COUNTED, ST_KEY_PUBLISHED,
	ST_KEY_NEXT, ST_KEY_RETIRE_NEXT, ST_KEY_ADD_NEXT, ST_KEY_ACTIVATE,
	ST_RT_RETIRE, ST_RT_RELINK, ST_RT_ADD, ST_RT_GET, ST_FAMILY_REVOKE_RT,
	ST_FAMILY_REVOKE_AT,
	ST_RT_LIST, ST_RT_PAGE, ST_RT_COUNTED, ST_SUBJECT_REVOKE_RT, ST_SUBJECT_REVOKE_AT,
	ST_TOKEN_REVOKE_CLIENT_RT,
	ST_CODE_ADD, ST_CODE_GET, ST_CODE_CONSUME, ST_JTI_USE,
	ST_DEVICE_ADD, ST_DEVICE_GET, ST_DEVICE_BY_USER, ST_DEVICE_DECIDE,
	ST_DEVICE_POLL, ST_DEVICE_CONSUME,
	ST_SESSION_ADD, ST_SESSION_GET,
	ST_CONSENT_GET, ST_CONSENT_PUT, ST_CONSENT_LIST, ST_CONSENT_PAGE,
	ST_CONSENT_COUNTED, ST_CONSENT_REVOKE,
	ST_SESSIONS_END_USER, ST_SESSION_END,
	ST_SESSION_LIST, ST_SESSION_PAGE, ST_SESSION_COUNTED,
	ST_SID_REVOKE_RT, ST_SID_REVOKE_AT,
	ST_PURGE_AT_BATCH, ST_PURGE_RT_FAMILIES, ST_PURGE_RT_FAMILY,
	ST_PURGE_CODE_BATCH, ST_PURGE_SESSION_BATCH, ST_PURGE_PREV_SECRET_BATCH,
	ST_PURGE_JTI_BATCH, ST_PURGE_DEVICE_BATCH,
	ST_AUDIT_ADD, ST_AUDIT_LIST, ST_AUDIT_PAGE, ST_AUDIT_COUNTED,
	ST_AUDIT_PURGE_BATCH,
	ST_ISSUER_ADD, ST_ISSUER_GET, ST_ISSUER_REMOVE,
	ST_ISSUER_LIST, ST_ISSUER_PAGE, ST_ISSUER_COUNTED,
	ST_RESOURCE_ADD, ST_RESOURCE_GET, ST_RESOURCE_REMOVE,
	ST_RESOURCE_LIST, ST_RESOURCE_PAGE, ST_RESOURCE_COUNTED,
	ST_GC_SAVEPOINT, ST_GC_RELEASE, ST_GC_ROLLBACK_TO,
	ST__MAX
};
/* sq_list_stmt finds a listing's twins by arithmetic (which + 1, which
 * + 2): a statement slipped in between must not compile. */
#define SQ_LISTING_TWINS(l)                                                \
	_Static_assert(ST_##l##_PAGE == ST_##l##_LIST + 1 &&               \
	                   ST_##l##_COUNTED == ST_##l##_LIST + 2,             \
	               "ST_" #l "_LIST, _PAGE, _COUNTED must be adjacent")
SQ_LISTING_TWINS(CLIENT);
SQ_LISTING_TWINS(USER);
SQ_LISTING_TWINS(TOKEN);
SQ_LISTING_TWINS(KEY);
SQ_LISTING_TWINS(RT);
SQ_LISTING_TWINS(CONSENT);
SQ_LISTING_TWINS(SESSION);
SQ_LISTING_TWINS(AUDIT);
#undef SQ_LISTING_TWINS

/* ---- connections and the store (sqlite_conn.c) --------------------------- */

struct sq_store;

struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[ST__MAX];
	struct sq_store *owner;
	struct conn *next;
	bool readonly; /* opened while the file could not be written */
};

struct gc_item;

struct sq_store {
	struct store base; /* first: a struct store * is a struct sq_store * */
	char *path;
	pthread_key_t key;
	pthread_mutex_t mu; /* guards conns */
	pthread_mutex_t write_mu; /* one write transaction at a time */
	struct conn *conns;
	enum store_durability durability; /* each connection's synchronous */
	/* Group commit (sqlite_commit.c): the writer connection, used only
	 * with write_mu held, and the queue of issues waiting for a commit. */
	struct conn *wconn;
	struct commit_queue gc;
};

/* A new connection, on the store's list (so closing the store closes it);
 * NULL on failure, with err filled when given. */
struct conn *sq_conn_new(struct sq_store *s, char *err, size_t errlen);
/* The calling thread's own connection, new. */
struct conn *sq_conn_open(struct sq_store *s, char *err, size_t errlen);
void sq_conn_close(struct conn *c);
void sq_conn_unlink(struct sq_store *s, struct conn *c);
/* Unlinks and closes (the thread-specific slot's destructor). */
void sq_conn_destructor(void *p);
/* Whether c was opened read-only and can now be replaced. */
bool sq_conn_stale(struct conn *c);
/* The calling thread's connection, opened on first use; NULL on failure. */
struct conn *sq_conn_get(struct store *base);
/* The database's methods: xThreadEnd. */
void sq_thread_end(struct store *base);

/* store_sqlite_rc for what writes, logging a disk that cannot take writes
 * once when it starts. */
enum store_rc sq_write_rc(sqlite3 *db, int rc);
/* A write transaction under the store's write_mu; on failure nothing is
 * held. sq_finish commits (or, r != STORE_OK, rolls back) and releases. */
enum store_rc sq_begin(struct conn *c);
enum store_rc sq_finish(struct conn *c, enum store_rc r);

/* ---- statements (sqlite_stmt.c) ------------------------------------------ */

/* A prepared statement, reset and ready to bind; NULL on failure. */
sqlite3_stmt *sq_stmt(struct conn *c, enum stmt which);
/* Resets st and clears its bindings. */
void sq_done(sqlite3_stmt *st);
/* Runs a statement that returns no rows; *changes if asked. */
enum store_rc sq_exec(struct conn *c, sqlite3_stmt *st, int *changes);
void sq_bind_text(sqlite3_stmt *st, int i, const char *v);
/* Binds 0 as NULL: "unset" in the structs is NULL in the tables. */
void sq_bind_opt_int(sqlite3_stmt *st, int i, int64_t v);
/* A copy of column i (NULL for NULL); the caller frees it. */
char *sq_col_text(sqlite3_stmt *st, int i);
/* Binds (key, now) and runs: the shape of every revoke and retire. */
enum store_rc sq_run_key_now(struct conn *cn, enum stmt which,
                             const char *key, int64_t now, int *changes);
/* Binds one key and runs: the shape of the deletes and of ending a
 * user's sessions. */
enum store_rc sq_run_key(struct conn *cn, enum stmt which, const char *key,
                         int *changes);
/* Runs a one-key DELETE; STORE_NOT_FOUND when no row had that key. */
enum store_rc sq_delete_by(struct store *s, enum stmt which, const char *key);
/* Binds a listing's filter parameters (?1..) on a statement. */
typedef void (*sq_binder)(sqlite3_stmt *st, const void *filter);
/* The statement for a listing (which: its plain statement) through page
 * (store.h; NULL: the plain listing), its filter bound by bind. The
 * _PAGE twin takes since and limit as ?n and ?n+1, n one past the
 * filter's own; with a limit and page->matched, the _COUNTED twin, the
 * same with the count as a last column: the caller reads it into
 * sq_page_count(page) (LIST_ROWS), which is set to 0 here for a page
 * with no row. NULL with *rc set when a statement cannot run. */
sqlite3_stmt *sq_list_stmt(struct conn *cn, enum stmt which,
                           const struct store_page *page, int n,
                           sq_binder bind, const void *filter,
                           enum store_rc *rc);
/* Where the rows of sq_list_stmt's statement carry page's count: page's
 * matched with a limit, else NULL (no count column). */
int64_t *sq_page_count(const struct store_page *page);

/* Shared by the lookups: steps the bound st once and returns from the
 * caller, with out filled by reader when there was a row. */
#define STEP_ONE(st, out, reader)                                         \
	do {                                                              \
		int rc_ = sqlite3_step(st);                               \
		if (rc_ == SQLITE_ROW)                                    \
			reader(st, out);                                  \
		sq_done(st);                                              \
		return rc_ == SQLITE_ROW    ? STORE_OK                    \
		       : rc_ == SQLITE_DONE ? STORE_NOT_FOUND             \
		                            : store_sqlite_rc(rc_);       \
	} while (0)

/* Shared by every "SELECT ... WHERE key=?" returning at most one row
 * (the caller's store is s). */
#define GET_ONE(which, key, out, reader)                                  \
	do {                                                              \
		sqlite3_stmt *st_ = sq_stmt(sq_conn_get(s), which);       \
		if (st_ == NULL)                                          \
			return STORE_IO;                                  \
		sq_bind_text(st_, 1, key);                                \
		STEP_ONE(st_, out, reader);                               \
	} while (0)

/* Shared by the listings: steps st, hands each row to cb. count: NULL,
 * or where the last column (sq_list_stmt's _COUNTED) goes. */
#define LIST_ROWS(st, count, type, reader, clear, cb, arg)                \
	do {                                                              \
		int rc_;                                                  \
		int64_t *count_ = (count);                                \
		while ((rc_ = sqlite3_step(st)) == SQLITE_ROW) {          \
			type row_ = {0};                                  \
			if (count_ != NULL)                               \
				*count_ = sqlite3_column_int64(           \
				    st, sqlite3_column_count(st) - 1);    \
			reader(st, &row_);                                \
			int stop_ = cb(&row_, arg);                       \
			clear(&row_);                                     \
			if (stop_)                                        \
				break;                                    \
		}                                                         \
		sq_done(st);                                              \
		return rc_ == SQLITE_ROW || rc_ == SQLITE_DONE ? STORE_OK \
		                                               : store_sqlite_rc(rc_); \
	} while (0)

/* A listing through a store_page (sq_list_stmt), its rows handed to cb
 * as LIST_ROWS does; returns from the calling function. */
#define LIST_PAGE(s, which, page, n, bind, filter, type, reader, clear, cb, \
                  arg)                                                      \
	do {                                                                \
		enum store_rc lrc_;                                         \
		sqlite3_stmt *lst_ = sq_list_stmt(sq_conn_get(s), which,    \
		                                  page, n, bind, filter,    \
		                                  &lrc_);                   \
		if (lst_ == NULL)                                           \
			return lrc_;                                        \
		LIST_ROWS(lst_, sq_page_count(page), type, reader, clear,   \
		          cb, arg);                                         \
	} while (0)

/* ---- entities -------------------------------------------------------------- */

/* sqlite_issue.c: the writes of one issue, inside a transaction the
 * caller (sqlite_commit.c) holds. */
enum store_rc sq_issue_writes(struct conn *cn, const struct store_issue *is);
/* sqlite_commit.c: the token table's xIssue, and its writer thread. */
void sq_gc_init(struct sq_store *s);
void sq_issue(struct store *base, const struct store_issue *is,
              store_issue_done done, void *arg);

/* The method tables, one per file that owns them. */
extern const struct store_client_methods sq_client_methods;
extern const struct store_user_methods sq_user_methods;
extern const struct store_key_methods sq_key_methods;
extern const struct store_token_methods sq_token_methods;
extern const struct store_refresh_methods sq_refresh_methods;
extern const struct store_code_methods sq_code_methods;
extern const struct store_session_methods sq_session_methods;
extern const struct store_consent_methods sq_consent_methods;
extern const struct store_upkeep_methods sq_upkeep_methods;
extern const struct store_test_methods sq_test_methods;
extern const struct store_copy_methods sq_copy_methods;
extern const struct store_audit_methods sq_audit_methods;
extern const struct store_issuer_methods sq_issuer_methods;
extern const struct store_resource_methods sq_resource_methods;
/* sqlite_upkeep.c: audit events from before `before` (the audit table's
 * xPurge), in the purge's short transactions. */
enum store_rc sq_audit_purge(struct store *s, int64_t before, int64_t *count);

#endif
