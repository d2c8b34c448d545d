/*
 * sqlite_conn.c: the SQLite backend's connections and write transactions.
 *
 * Connections: one per thread, opened on first use and kept in a
 * thread-specific slot, so worker threads never share a handle and each
 * keeps its own prepared statements. The group commit's writer connection
 * (sqlite_commit.c) is made here too. WAL lets readers run beside the one
 * writer; busy_timeout makes writers wait instead of failing. A disk that
 * cannot take writes (full, read-only, failing) is logged once when it
 * starts and once when it clears (sq_write_rc, sq_finish), and a
 * connection opened while the file was read-only is replaced once it is
 * writable (sq_conn_stale), so the store recovers without a restart.
 *
 * Map: result codes, the connection list and per-thread slot, pragmas,
 * the write-fault log, write transactions (sq_begin, sq_finish).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "sqlite_int.h"
#include "strutil.h"

#define BUSY_TIMEOUT_MS 5000

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

void sq_conn_close(struct conn *c)
{
	for (int i = 0; i < ST__MAX; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close_v2(c->db);
	free(c);
}

void sq_conn_unlink(struct sq_store *s, struct conn *c)
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
void sq_conn_destructor(void *p)
{
	struct conn *c = p;
	sq_conn_unlink(c->owner, c);
	sq_conn_close(c);
}

/* Closes the calling thread's connection now rather than at its exit, when
 * the store may already be gone. */
void sq_thread_end(struct store *base)
{
	struct sq_store *s = (struct sq_store *)base;
	struct conn *c = pthread_getspecific(s->key);
	if (c == NULL)
		return;
	pthread_setspecific(s->key, NULL);
	sq_conn_destructor(c);
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
struct conn *sq_conn_new(struct sq_store *s, char *err, size_t errlen)
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
struct conn *sq_conn_open(struct sq_store *s, char *err, size_t errlen)
{
	struct conn *c = sq_conn_new(s, err, errlen);
	if (c != NULL)
		pthread_setspecific(s->key, c);
	return c;
}

/* SQLite opens a file it cannot write read-only, and such a connection
 * stays read-only: one opened while the disk was read-only is replaced
 * once the file can be written again, if nothing is running on it, so
 * the store recovers without a restart. */
bool sq_conn_stale(struct conn *c)
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

struct conn *sq_conn_get(struct store *base)
{
	struct sq_store *s = (struct sq_store *)base;
	struct conn *c = pthread_getspecific(s->key);
	if (c != NULL && sq_conn_stale(c)) {
		pthread_setspecific(s->key, NULL);
		sq_conn_destructor(c);
		c = NULL;
	}
	return c ? c : sq_conn_open(s, NULL, 0);
}

/* Set while writes fail for want of space or permission (or a failing
 * disk), so that the cause is logged once when it starts and once when it
 * clears (finish), not once per request. */
static atomic_bool sq_write_fault;

/* store_sqlite_rc for the statements that write and for what starts and
 * ends a write transaction, where a disk that cannot take writes shows:
 * logs the cause, in one line, the first time. (SQLite does not keep the
 * OS error of a failed commit, so an I/O error comes with the likely
 * causes instead.) */
enum store_rc sq_write_rc(sqlite3 *db, int rc)
{
	int primary = rc & 0xff;
	if ((primary == SQLITE_FULL || primary == SQLITE_READONLY ||
	     primary == SQLITE_IOERR) &&
	    !atomic_exchange(&sq_write_fault, true))
		log_errx("database %s cannot be written: %s (SQLite code %d%s); "
		         "every write fails until this clears",
		         sqlite3_db_filename(db, "main"), sqlite3_errstr(rc), rc,
		         primary == SQLITE_IOERR ? ": a read-only file or "
		                                   "filesystem, or a failing disk?"
		                                 : "");
	return store_sqlite_rc(rc);
}

/* Write transactions of this process queue on write_mu rather than on
 * SQLite's lock: its busy handler sleeps in steps of milliseconds, which
 * showed as 70 ms tails under load. Other processes (the CLI) still meet
 * the busy timeout. On failure nothing is held. */
enum store_rc sq_begin(struct conn *c)
{
	pthread_mutex_lock(&c->owner->write_mu);
	enum store_rc r = sq_write_rc(c->db, sqlite3_exec(c->db, "BEGIN IMMEDIATE",
	                                               NULL, NULL, NULL));
	if (r != STORE_OK)
		pthread_mutex_unlock(&c->owner->write_mu);
	return r;
}

/* Commits (or rolls back) what sq_begin() started and lets the next one in. */
enum store_rc sq_finish(struct conn *c, enum store_rc r)
{
	if (r == STORE_OK)
		r = sq_write_rc(c->db, sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL));
	if (r != STORE_OK)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&c->owner->write_mu);
	/* A read-only connection commits a transaction whose writes all
	 * failed: that is no sign of health. */
	if (r == STORE_OK && !c->readonly &&
	    atomic_load_explicit(&sq_write_fault, memory_order_relaxed) &&
	    atomic_exchange(&sq_write_fault, false))
		log_info("database writes succeed again");
	return r;
}

/* For tests (store_int.h). */
int store_sqlite_synchronous(struct store *s)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *st = NULL;
	int level = -1;
	if (cn != NULL && sqlite3_prepare_v2(cn->db, "PRAGMA synchronous", -1,
	                                     &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		level = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return level;
}
