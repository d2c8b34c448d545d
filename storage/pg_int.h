/*
 * pg_int.h: declarations shared by the PostgreSQL backend's files
 * (storage/pg_*.c) only.
 *
 * Map of the backend:
 *   pg_conn.c     the connection pool, prepared statements, parameters,
 *                 results, SQLSTATE mapping, transactions with retries
 *   pg_migrate.c  migrations/postgresql/, schema_migrations, advisory lock
 *   pg_clients.c  clients and users
 *   pg_tokens.c   access tokens, signing keys, refresh tokens, families,
 *                 the statements of a token issue (pg_issue_items)
 *   pg_commit.c   group commit: concurrent issues in one transaction
 *                 (xIssue)
 *   pg_codes.c    authorization codes, sessions, consents
 *   pg_upkeep.c   purge, the test double's reset, backup (pg_dump)
 *   pg_throttle.c failed attempts counted across instances (throttle)
 *   pg_copy.c     the copy table: whole catalogue tables read in one
 *                 snapshot or written with COPY in one transaction
 *   pg_store.c    open, close and the ops table
 *
 * Every method is a static function with store_ops' signature in its
 * entity's file, exported here under a pg_ name for pg_store.c's table.
 */
#ifndef LK_PG_INT_H
#define LK_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>

#include "commit_queue.h"
#include "store.h"

/* ---- the pool (pg_conn.c) ------------------------------------------------ */

/* A statement, prepared on each connection the first time it runs there.
 * Defined static const in the entity files; its address is its identity. */
struct pg_stmt {
	const char *name; /* unique across the backend: the prepared name */
	const char *sql;
};

#define PG_MAX_PREPARED 96

struct pg_conn {
	PGconn *db;
	const struct pg_stmt *prepared[PG_MAX_PREPARED];
	int nprepared;
	bool broken;          /* left mid-pipeline: close, do not reuse */
	struct pg_conn *next; /* in the idle list */
};

struct pg_store {
	struct store base; /* first: a struct store * is a struct pg_store * */
	char *uri;         /* as given: may hold a password, never printed */
	int pool_size;
	int connect_timeout;   /* seconds */
	int statement_timeout; /* seconds; 0: none */
	pthread_mutex_t mu;    /* guards idle and open */
	pthread_cond_t cv;     /* a connection came back */
	struct pg_conn *idle;
	int open; /* connections in existence, idle or lent */
	/* Group commit of issues (pg_commit.c): the queue of issues waiting
	 * for a commit, and whether a leader is running one. */
	struct commit_queue gc;
};

/* Opens a connection for the store (statement timeout set); NULL with err
 * filled (no password in it) when it fails, and *why STORE_UNAVAILABLE
 * when waiting may help (the server is down, starting, unreachable) or
 * STORE_INVALID when it cannot (authentication failed, no such database
 * or role, refused by pg_hba.conf, SSL). */
struct pg_conn *pg_conn_open(struct pg_store *s, enum store_rc *why,
                             char *err, size_t errlen);
void pg_conn_close(struct pg_conn *c);

/* Lends a connection: an idle one, else a new one while the pool has
 * room, else waits for one (at most connect_timeout seconds). NULL with
 * *rc set: STORE_UNAVAILABLE (cannot connect) or STORE_BUSY (pool
 * exhausted). Give it back with pg_release. */
struct pg_conn *pg_acquire(struct pg_store *s, enum store_rc *rc);
/* Returns c to the pool, or closes it when it is broken. */
void pg_release(struct pg_store *s, struct pg_conn *c);
/* Closes every idle connection (store close). */
void pg_pool_drain(struct pg_store *s);

/* ---- parameters ---------------------------------------------------------- */

#define PG_MAX_PARAMS 40

/* Every parameter goes as text; the SQL casts where the type matters. */
struct pg_params {
	const char *v[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][24];
	int n;
};

void pg_p_text(struct pg_params *p, const char *v); /* NULL: SQL NULL */
void pg_p_int(struct pg_params *p, int64_t v);
void pg_p_opt_int(struct pg_params *p, int64_t v);  /* 0: SQL NULL */

/* ---- running statements -------------------------------------------------- */

/* Runs st with p on c. *res (when res is not NULL) receives the result
 * of a statement that returned rows; the caller PQclear()s it. *changes
 * gets the rows affected. SQLSTATE is mapped: 23505/23503/23514/23502
 * STORE_CONFLICT, 40001/40P01 STORE_BUSY with *retry set, a lost
 * connection STORE_UNAVAILABLE, else STORE_IO. A text parameter that is
 * not valid UTF-8 is STORE_BAD_VALUE, before anything is sent. */
enum store_rc pg_run(struct pg_conn *c, const struct pg_stmt *st,
                     const struct pg_params *p, PGresult **res,
                     int *changes);

/* Runs a transaction: BEGIN, fn(c, arg), COMMIT, on a pooled connection,
 * rolling back when fn fails. A serialization failure or deadlock is
 * retried a bounded number of times, and a connection found broken at
 * BEGIN is replaced once, so fn must be safe to run again (it is called
 * afresh; it must not keep state from a failed run in arg). */
typedef enum store_rc (*pg_tx_fn)(struct pg_conn *c, void *arg);
enum store_rc pg_tx(struct store *s, pg_tx_fn fn, void *arg);

/* One statement of a batch (pg_batch). */
/* The first key of a client's advisory lock (the second: hashtext of its
 * id), "LKCL" read as an integer: issues hold it shared, a change of the
 * client exclusive (pg_tokens.c, pg_clients.c). The two-key lock space
 * is apart from the one-key locks of migrations and signing keys. */
#define PG_CLIENT_LOCK "1279738700"

struct pg_batch_item {
	const struct pg_stmt *st;
	struct pg_params p;
	/* What a failed check (22012) of this item means; STORE_OK (the
	 * zero value): STORE_CONFLICT. */
	enum store_rc check_rc;
};

/* Runs items as one transaction in one round trip (libpq's pipeline
 * mode, one Sync: PostgreSQL runs what comes before a Sync as one
 * implicit transaction, and an error rolls all of it back). A statement
 * signals a failed check (a compare-and-set that matched no row) by
 * dividing by zero (SQLSTATE 22012), which becomes the item's check_rc
 * (STORE_CONFLICT unless it names another); other
 * errors map as in pg_run, with 40001/40P01 retried as in pg_tx. */
enum store_rc pg_batch(struct store *s, const struct pg_batch_item *items,
                       int n);

/* One issue's statements in a group (pg_batch_group); rc is its result. */
struct pg_segment {
	const struct pg_batch_item *items;
	int n;
	enum store_rc rc;
};

/* Runs n segments (n >= 2) in one transaction on one connection, each in
 * a savepoint of its own, and sets each segment's rc: a failed check or
 * a constraint (STORE_CONFLICT) or another error of one segment undoes
 * that segment only. STORE_OK only once COMMIT succeeded; when the
 * transaction as a whole fails (connection lost, COMMIT refused, retries
 * of 40001/40P01 used up) every segment gets that result, since nothing
 * of the group stands. One round trip when no segment fails, one more
 * per failed segment. */
void pg_batch_group(struct store *s, struct pg_segment *segs, int n);

/* Runs one statement outside a transaction on a pooled connection. For
 * reads (idempotent) a connection found broken is replaced and the
 * statement run again once. */
enum store_rc pg_once(struct store *s, const struct pg_stmt *st,
                      const struct pg_params *p, PGresult **res,
                      int *changes, bool idempotent);

/* The store result of a failed command's result r on c (SQLSTATE
 * mapped as in pg_run), for code that drives libpq itself (pg_copy.c). */
enum store_rc pg_result_rc(struct pg_conn *c, const PGresult *r);

/* Runs plain SQL text without parameters (migrations, BEGIN). */
enum store_rc pg_exec_sql(struct pg_conn *c, const char *sql, char *err,
                          size_t errlen);

/* Result helpers: a copied string (NULL for SQL NULL), an integer (0 for
 * SQL NULL). */
char *pg_col_text(const PGresult *r, int row, int col);
int64_t pg_col_int(const PGresult *r, int row, int col);
bool pg_col_null(const PGresult *r, int row, int col);

/* A read on a pooled connection (pg_once, idempotent); *res is the
 * caller's to PQclear. A text parameter that is not valid UTF-8 matches
 * no row: *res is then an empty result, and the server is not asked. */
enum store_rc pg_select(struct store *s, const struct pg_stmt *st,
                        const struct pg_params *p, PGresult **res);

/* Shared by the lookups: fills out from the first row of the bound read,
 * or returns STORE_NOT_FOUND, from the calling function. */
#define PG_GET_ONE(s, st, p, reader, out)                                 \
	do {                                                              \
		PGresult *res_ = NULL;                                    \
		enum store_rc r_ = pg_select(s, st, p, &res_);            \
		if (r_ == STORE_OK && PQntuples(res_) == 0)               \
			r_ = STORE_NOT_FOUND;                             \
		if (r_ == STORE_OK)                                       \
			reader(res_, 0, out);                             \
		PQclear(res_);                                            \
		return r_;                                                \
	} while (0)

/* A listing through page (store.h): list with no page, else its page
 * twin, whose parameters are the filter's (already in p) then since and
 * limit; with a limit and page->matched, its counted twin, the same with
 * the count as a last column, which the caller reads into
 * *page->matched (PG_LIST_ROWS; set to 0 here for a page with no row). */
const struct pg_stmt *pg_list_stmt(const struct store_page *page,
                                   const struct pg_stmt *list,
                                   const struct pg_stmt *page_st,
                                   const struct pg_stmt *counted,
                                   struct pg_params *p);
/* Where the rows of pg_list_stmt's statement carry page's count: page's
 * matched with a limit, else NULL (no count column). */
int64_t *pg_page_count(const struct store_page *page);
/* The SQL of a listing's page and counted twins (pg_list_stmt): the
 * newest rows (by created) of those created at or after $S, at most $L
 * of them (NULL: all), in the listing's own order. The counted twin adds
 * how many passed since before the limit as a last column: a second
 * scan, in the same statement, so the count and the rows are one
 * snapshot. A file writes each listing's arguments as one macro, so that
 * both twins are written from it. */
#define PG_PAGE_SQL_(counter, cols, from, created, S, L, newest, order)      \
	"SELECT *" counter(from, created, S) " FROM (SELECT " cols " FROM "    \
	from " AND " created " >= " S "::bigint ORDER BY " newest " LIMIT " L  \
	"::bigint) AS listed ORDER BY " order
#define PG_NO_COUNT(from, created, S) ""
#define PG_WITH_COUNT(from, created, S)                                      \
	", (SELECT count(*) FROM " from " AND " created " >= " S "::bigint)"
#define PG_PAGE_SQL(...) PG_PAGE_SQL_(PG_NO_COUNT, __VA_ARGS__)
#define PG_COUNTED_SQL(...) PG_PAGE_SQL_(PG_WITH_COUNT, __VA_ARGS__)

/* A listing's three statements (pg_list_stmt). */
struct pg_listing {
	const struct pg_stmt *list, *page, *counted;
};
/* A listing through page (pg_list_stmt) with the filter already in p,
 * its rows handed to cb as PG_LIST_ROWS does; returns from the calling
 * function. */
#define PG_LIST_PAGE(s, l, window, p, type, reader, clear, cb, arg)         \
	do {                                                                \
		const struct pg_stmt *lst_ = pg_list_stmt(                  \
		    window, (l)->list, (l)->page, (l)->counted, p);         \
		PG_LIST_ROWS(s, lst_, p, pg_page_count(window), type,       \
		             reader, clear, cb, arg);                       \
	} while (0)

/* Shared by the listings: hands each row of the read to cb, which stops
 * the listing with a non-zero return; returns from the calling function.
 * count: NULL, or where the last column (pg_list_stmt's counted twin)
 * goes. */
#define PG_LIST_ROWS(s, st, p, count, type, reader, clear, cb, arg)       \
	do {                                                              \
		PGresult *res_ = NULL;                                    \
		int64_t *count_ = (count);                                \
		enum store_rc r_ = pg_select(s, st, p, &res_);            \
		int n_ = r_ == STORE_OK ? PQntuples(res_) : 0;            \
		if (n_ > 0 && count_ != NULL)                             \
			*count_ = strtoll(PQgetvalue(res_, 0,             \
			                             PQnfields(res_) - 1), \
			                  NULL, 10);                      \
		for (int i_ = 0; i_ < n_; i_++) {                         \
			type row_ = {0};                                  \
			reader(res_, i_, &row_);                          \
			int stop_ = cb(&row_, arg);                       \
			clear(&row_);                                     \
			if (stop_)                                        \
				break;                                    \
		}                                                         \
		PQclear(res_);                                            \
		return r_;                                                \
	} while (0)

/* ---- migrations (pg_migrate.c) ------------------------------------------- */

enum store_rc pg_migrate(struct store *s, int *applied, int *schema,
                         char *err, size_t errlen);
enum store_rc pg_schema_version(struct store *s, int *db, int *binary);

/* ---- entity methods (pg_clients.c, pg_tokens.c, pg_codes.c, pg_upkeep.c) */

extern const struct pg_client_ops {
	enum store_rc (*add)(struct store *, const struct store_client *);
	enum store_rc (*get)(struct store *, const char *, struct store_client *);
	enum store_rc (*update)(struct store *, const struct store_client *);
	enum store_rc (*remove)(struct store *, const char *);
	enum store_rc (*list)(struct store *, const struct store_page *,
	                      store_client_cb, void *);
	enum store_rc (*user_add)(struct store *, const struct store_user *);
	enum store_rc (*user_get)(struct store *, const char *,
	                          struct store_user *);
	enum store_rc (*user_get_by_id)(struct store *, const char *,
	                                struct store_user *);
	enum store_rc (*user_set_password)(struct store *, const char *,
	                                   const char *, int64_t);
	enum store_rc (*user_set_claims)(struct store *, const char *,
	                                 const char *, int64_t);
	enum store_rc (*user_remove)(struct store *, const char *);
	enum store_rc (*user_list)(struct store *, const struct store_page *,
	                           store_user_cb, void *);
} pg_client_ops;

extern const struct pg_token_ops {
	enum store_rc (*get)(struct store *, const char *, struct store_token *);
	enum store_rc (*list)(struct store *, const struct store_token_filter *,
	                      store_token_cb, void *);
	enum store_rc (*revoke)(struct store *, const char *, int64_t, int *);
	enum store_rc (*revoke_client)(struct store *, const char *, int64_t,
	                               int *);
	enum store_rc (*key_add_current)(struct store *,
	                                 const struct store_key *);
	enum store_rc (*key_replace_current)(struct store *, const char *,
	                                     const struct store_key *);
	enum store_rc (*key_current)(struct store *, const char *,
	                             struct store_key *);
	enum store_rc (*key_list)(struct store *, bool, int64_t, int64_t,
	                          const struct store_page *, store_key_cb,
	                          void *);
	enum store_rc (*key_add_next)(struct store *, const struct store_key *,
	                              bool);
	enum store_rc (*key_next)(struct store *, const char *,
	                          struct store_key *);
	enum store_rc (*key_promote)(struct store *, const char *, const char *,
	                             int64_t);
	enum store_rc (*refresh_get)(struct store *, const char *,
	                             struct store_refresh *);
	enum store_rc (*family_revoke)(struct store *, const char *, int64_t,
	                               int *);
	enum store_rc (*refresh_list)(struct store *,
	                              const struct store_refresh_filter *,
	                              store_refresh_cb, void *);
	enum store_rc (*subject_revoke)(struct store *, const char *, int64_t,
	                                int *);
	enum store_rc (*revoke_sid)(struct store *, const char *,
	                            const char *, int64_t, int *);
} pg_token_ops;

extern const struct store_issuer_methods pg_issuer_methods; /* pg_issuers.c */
extern const struct store_resource_methods pg_resource_methods; /* pg_resources.c */

extern const struct pg_code_ops {
	enum store_rc (*add)(struct store *, const struct store_code *);
	enum store_rc (*get)(struct store *, const char *, struct store_code *);
	enum store_rc (*jti_use)(struct store *, const char *, int64_t,
	                         int64_t);
	enum store_rc (*device_add)(struct store *,
	                            const struct store_device *);
	enum store_rc (*device_get)(struct store *, const char *,
	                            struct store_device *);
	enum store_rc (*device_by_user)(struct store *, const char *, int64_t,
	                                struct store_device *);
	enum store_rc (*device_decide)(struct store *, const char *, int64_t,
	                               const struct store_device *);
	enum store_rc (*device_poll)(struct store *, const char *, int64_t,
	                             int64_t, int64_t);
	enum store_rc (*session_add)(struct store *,
	                             const struct store_session *);
	enum store_rc (*session_get)(struct store *, const char *, int64_t,
	                             struct store_session *);
	enum store_rc (*sessions_end_user)(struct store *, const char *, int *);
	enum store_rc (*session_end)(struct store *, const char *, int *);
	enum store_rc (*session_list)(struct store *, const char *, int64_t,
	                              const struct store_page *,
	                              store_session_cb, void *);
	enum store_rc (*consent_get)(struct store *, const char *, const char *,
	                             struct store_consent *);
	enum store_rc (*consent_put)(struct store *,
	                             const struct store_consent *);
	enum store_rc (*consent_list)(struct store *, const char *,
	                              const char *, const struct store_page *,
	                              store_consent_cb, void *);
	enum store_rc (*consent_revoke)(struct store *, const char *,
	                                const char *, int *);
} pg_code_ops;

extern const struct pg_upkeep_ops {
	enum store_rc (*reset_tokens)(struct store *);
	enum store_rc (*purge)(struct store *, int64_t,
	                       struct store_purge_counts *);
	enum store_rc (*backup)(struct store *, const char *, bool,
	                        struct store_backup_info *, char *, size_t);
} pg_upkeep_ops;
/* The audit table: pg_audit.c's add and list, pg_upkeep.c's purge (with
 * the other batched deletes). */
enum store_rc pg_audit_add(struct store *s, const struct store_audit *e);
enum store_rc pg_audit_list(struct store *s,
                            const struct store_audit_filter *f,
                            store_audit_cb cb, void *arg);
enum store_rc pg_audit_purge(struct store *s, int64_t before, int64_t *count);

/* The statements of one issue, in order, into items (at most
 * PG_ISSUE_ITEMS, zeroed by the caller); returns how many (pg_tokens.c). */
#define PG_ISSUE_ITEMS 9
int pg_issue_items(const struct store_issue *is,
                   struct pg_batch_item items[PG_ISSUE_ITEMS]);

/* The token table's xIssue (pg_commit.c). */
void pg_issue(struct store *s, const struct store_issue *is,
              store_issue_done done, void *arg);
void pg_gc_init(struct pg_store *s);
void pg_gc_destroy(struct pg_store *s);

/* The copy table (pg_copy.c); its methods need no adapting. */
extern const struct store_copy_methods pg_copy_methods;

/* The throttle table (pg_throttle.c); its methods need no adapting. */
extern const struct store_throttle_methods pg_throttle_methods;

/* Runs a (key, now) UPDATE and counts the rows it changed into *n. */
enum store_rc pg_run_key_now(struct pg_conn *c, const struct pg_stmt *st,
                             const char *key, int64_t now, int *n);

#endif
