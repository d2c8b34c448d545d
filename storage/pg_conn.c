/*
 * pg_conn.c: the PostgreSQL backend's connections (map: pg_int.h).
 *
 * Owns the pool (at most pool_size connections per process, lent to one
 * caller at a time and given back after each method), connecting (libpq
 * reads the URI with its environment defaults, so PGPASSWORD, PGPASSFILE
 * and PGSSLMODE work as libpq documents them), the per-connection
 * statement timeout, the prepared statements of each connection, text
 * parameters, the mapping of SQLSTATEs to store results, and transactions
 * with bounded retries of serialization failures and deadlocks.
 *
 * Text parameters that are not valid UTF-8 never reach the server, which
 * would refuse them (SQLSTATE 22021) as an error indistinguishable from a
 * failing database: a read with one matches no row (an empty result, so
 * a lookup is STORE_NOT_FOUND as on SQLite), and a write with one is
 * STORE_BAD_VALUE, with nothing written.
 *
 * A connection that broke (the server restarted, the network dropped) is
 * closed when it comes back to the pool, and the next caller gets a new
 * one: nothing here needs a restart of Latchkey. Connection errors carry
 * libpq's message, which never contains the password; the URI itself is
 * never put into a message.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "pg_int.h"
#include "strutil.h"

/* Serialization failures and deadlocks (40001, 40P01) are tried again this
 * many times in all: enough for the short transactions here, bounded so
 * a pathological workload fails rather than spins. */
#define PG_TX_ATTEMPTS 5

/* Every call below that sends something and waits for the server's
 * answer counts one round trip (latchkey_db_round_trips_total): what a
 * request costs the database in latency, whatever the statement. Opening
 * a connection (its handshake and authentication) is not counted; the
 * session setup that follows it is. */
static void round_trip(void)
{
	metrics_inc(MET_DB_ROUND_TRIPS);
}

/* ---- connections --------------------------------------------------------- */

/* libpq's message ends with a newline; the first line is enough. */
static void copy_msg(char *err, size_t errlen, const char *what,
                     const char *msg)
{
	if (err == NULL || errlen == 0)
		return;
	int n = (int)strcspn(msg ? msg : "", "\n");
	snprintf(err, errlen, "%s: %.*s", what, n, msg ? msg : "");
}

/* NOTICEs ("relation already exists, skipping") are for a human at psql;
 * libpq would print them on stderr. */
static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Failures to connect that waiting cannot fix: the server answered, and
 * refused who we are or what we asked for. Anything else (refused, no
 * socket yet, timeout, "the database system is starting up" or "is
 * shutting down", too many clients, a host name not resolvable yet) may
 * pass once the server is up. libpq gives no SQLSTATE for a failed
 * connection, so its message is read: libpq's own texts (we never call
 * setlocale, so they are English) and the server's, which are English
 * unless the server's lc_messages says otherwise. A server speaking
 * another language makes these look transient: a start-up then waits out
 * db_startup_timeout and fails with the server's message, rather than at
 * once. */
static const char *const permanent_failures[] = {
	"authentication failed",  /* password, peer, ident, SCRAM, cert */
	"no password supplied",   /* fe_sendauth: the server asked for one */
	"does not exist",         /* the database or the role */
	"no pg_hba.conf entry",   /* the server refuses this client */
	"not permitted to log in",
	"permission denied",      /* CONNECT privilege on the database */
	"does not support SSL",   /* sslmode=require on a server without */
	"certificate",            /* verify-ca, verify-full */
	"invalid",                /* an option libpq or the server refused */
	"unsupported",
};

/* STORE_INVALID for a connection failure in permanent_failures, else
 * STORE_UNAVAILABLE. Only the message's own words are read: what libpq
 * and the server quote (host names, socket paths, database and role
 * names) is left out, so a host called "invalid-db" cannot make a
 * passing failure look permanent. */
static enum store_rc classify_failure(PGconn *db)
{
	if (PQconnectionNeedsPassword(db))
		return STORE_INVALID;
	const char *msg = PQerrorMessage(db);
	char words[1024];
	size_t n = 0;
	bool quoted = false;
	for (const char *p = msg; *p != '\0' && n + 1 < sizeof(words); p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted)
			words[n++] = *p;
	}
	words[n] = '\0';
	for (size_t i = 0; i < sizeof(permanent_failures) /
	                           sizeof(permanent_failures[0]); i++)
		if (strstr(words, permanent_failures[i]) != NULL)
			return STORE_INVALID;
	return STORE_UNAVAILABLE;
}

struct pg_conn *pg_conn_open(struct pg_store *s, enum store_rc *why,
                             char *err, size_t errlen)
{
	*why = STORE_UNAVAILABLE;
	char timeout[16];
	snprintf(timeout, sizeof(timeout), "%d", s->connect_timeout);
	/* expand_dbname: the URI (or key=value string) in dbname sets the
	 * rest; what it leaves unset comes from libpq's environment. */
	const char *keys[] = {"dbname", "connect_timeout",
	                      "fallback_application_name", NULL};
	const char *vals[] = {s->uri, timeout, "latchkey", NULL};
	PGconn *db = PQconnectdbParams(keys, vals, 1);
	if (db == NULL) {
		copy_msg(err, errlen, "PostgreSQL", "out of memory");
		return NULL;
	}
	if (PQstatus(db) != CONNECTION_OK) {
		*why = classify_failure(db);
		copy_msg(err, errlen, "cannot connect to PostgreSQL",
		         PQerrorMessage(db));
		PQfinish(db);
		return NULL;
	}
	PQsetNoticeProcessor(db, quiet_notice, NULL);
	/* Times are Latchkey's (bound as integers), never the server's, so
	 * only the statement timeout and the client encoding are set. */
	char sql[96];
	snprintf(sql, sizeof(sql), "SET statement_timeout = %d; "
	         "SET client_encoding = 'UTF8'", s->statement_timeout * 1000);
	PGresult *r = PQexec(db, sql);
	round_trip();
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		copy_msg(err, errlen, "PostgreSQL session setup",
		         PQresultErrorMessage(r));
	PQclear(r);
	if (!ok) {
		PQfinish(db);
		return NULL;
	}
	struct pg_conn *c = xcalloc(1, sizeof(*c));
	c->db = db;
	return c;
}

void pg_conn_close(struct pg_conn *c)
{
	if (c == NULL)
		return;
	PQfinish(c->db);
	free(c);
}

/* Logged once when the database stops answering and once when it comes
 * back, not once per request. */
static bool unavailable_logged;

static void note_unavailable(const char *msg)
{
	if (!__atomic_exchange_n(&unavailable_logged, true, __ATOMIC_RELAXED))
		log_errx("database unavailable: %.*s; requests that need it "
		         "fail until it answers again",
		         (int)strcspn(msg, "\n"), msg);
}

static void note_available(void)
{
	if (__atomic_load_n(&unavailable_logged, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&unavailable_logged, false, __ATOMIC_RELAXED))
		log_info("database answers again");
}

/* An idle connection has nothing to read: the server sends nothing
 * unasked (Latchkey LISTENs to nothing). Something readable is the
 * server's goodbye (a restart, pg_terminate_backend) or the end of the
 * socket, so the connection is replaced before a request meets it. */
static bool conn_dead(struct pg_conn *c)
{
	struct pollfd pfd = {.fd = PQsocket(c->db), .events = POLLIN};
	if (pfd.fd < 0 || PQstatus(c->db) != CONNECTION_OK)
		return true;
	/* (A parameter-status message after a server reload would also be
	 * readable: replacing the connection then costs one reconnect.) */
	return poll(&pfd, 1, 0) != 0;
}

struct pg_conn *pg_acquire(struct pg_store *s, enum store_rc *rc)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += s->connect_timeout > 0 ? s->connect_timeout : 5;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->idle != NULL) {
			struct pg_conn *c = s->idle;
			s->idle = c->next;
			c->next = NULL;
			if (conn_dead(c)) {
				pg_conn_close(c);
				s->open--;
				continue;
			}
			pthread_mutex_unlock(&s->mu);
			return c;
		}
		if (s->open < s->pool_size) {
			s->open++;
			pthread_mutex_unlock(&s->mu);
			char err[256];
			enum store_rc why; /* a running server: all 503 */
			struct pg_conn *c = pg_conn_open(s, &why, err,
			                                 sizeof(err));
			if (c != NULL) {
				note_available();
				return c;
			}
			note_unavailable(err);
			metrics_inc(MET_DB_ERRORS);
			pthread_mutex_lock(&s->mu);
			s->open--;
			pthread_cond_signal(&s->cv);
			pthread_mutex_unlock(&s->mu);
			*rc = STORE_UNAVAILABLE;
			return NULL;
		}
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&s->mu);
			metrics_inc(MET_DB_ERRORS);
			*rc = STORE_BUSY;
			return NULL;
		}
	}
}

void pg_release(struct pg_store *s, struct pg_conn *c)
{
	if (c == NULL)
		return;
	bool broken = c->broken || PQstatus(c->db) != CONNECTION_OK ||
	              PQtransactionStatus(c->db) != PQTRANS_IDLE ||
	              PQpipelineStatus(c->db) != PQ_PIPELINE_OFF;
	if (broken)
		pg_conn_close(c);
	pthread_mutex_lock(&s->mu);
	if (broken) {
		s->open--;
	} else {
		c->next = s->idle;
		s->idle = c;
	}
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void pg_pool_drain(struct pg_store *s)
{
	pthread_mutex_lock(&s->mu);
	struct pg_conn *c = s->idle;
	s->idle = NULL;
	while (c != NULL) {
		struct pg_conn *next = c->next;
		pg_conn_close(c);
		s->open--;
		c = next;
	}
	pthread_mutex_unlock(&s->mu);
}

/* ---- parameters ---------------------------------------------------------- */

static void p_check(const struct pg_params *p)
{
	if (p->n >= PG_MAX_PARAMS)
		abort(); /* a statement with more parameters is a bug here */
}

void pg_p_text(struct pg_params *p, const char *v)
{
	p_check(p);
	p->v[p->n++] = v;
}

void pg_p_int(struct pg_params *p, int64_t v)
{
	p_check(p);
	snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

void pg_p_opt_int(struct pg_params *p, int64_t v)
{
	if (v == 0)
		pg_p_text(p, NULL);
	else
		pg_p_int(p, v);
}

/* Whether the database can hold every text parameter of p: it is UTF-8
 * (PostgreSQL's own check: RFC 3629 shortest forms, no surrogates, no
 * NUL, which a C string cannot carry anyway). Integers are digits. */
static bool params_storable(const struct pg_params *p)
{
	for (int i = 0; p != NULL && i < p->n; i++)
		if (p->v[i] != NULL && !utf8_valid(p->v[i], strlen(p->v[i])))
			return false;
	return true;
}

/* ---- results ------------------------------------------------------------- */

char *pg_col_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL
	                                : xstrdup(PQgetvalue(r, row, col));
}

int64_t pg_col_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0
	                                : strtoll(PQgetvalue(r, row, col), NULL,
	                                          10);
}

bool pg_col_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) != 0;
}

/* ---- statements ---------------------------------------------------------- */

/* The store result of a failed command on c. */
static enum store_rc map_error(struct pg_conn *c, const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (PQstatus(c->db) != CONNECTION_OK) {
		note_unavailable(PQerrorMessage(c->db));
		metrics_inc(MET_DB_ERRORS);
		return STORE_UNAVAILABLE;
	}
	if (state == NULL) {
		metrics_inc(MET_DB_ERRORS);
		return STORE_IO;
	}
	/* Class 23: integrity constraint violations (unique, foreign key,
	 * check, not null): what SQLITE_CONSTRAINT is on SQLite. */
	if (strncmp(state, "23", 2) == 0)
		return STORE_CONFLICT;
	metrics_inc(MET_DB_ERRORS);
	/* Serialization failure, deadlock, lock or statement timeout: the
	 * database is busy, as SQLITE_BUSY is. */
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)
		return STORE_BUSY;
	/* Class 08 (connection exception), 57P01-57P03 (admin shutdown,
	 * crash shutdown, cannot connect now): the server is going away. */
	if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	    strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0) {
		note_unavailable(PQresultErrorMessage(r));
		return STORE_UNAVAILABLE;
	}
	log_errx("database error %s: %.*s", state,
	         (int)strcspn(PQresultErrorMessage(r), "\n"),
	         PQresultErrorMessage(r));
	return STORE_IO;
}

enum store_rc pg_result_rc(struct pg_conn *c, const PGresult *r)
{
	return map_error(c, r);
}

static bool is_retryable(const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return state != NULL &&
	       (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

/* Prepares st on c unless it already is. */
static enum store_rc prepare(struct pg_conn *c, const struct pg_stmt *st)
{
	for (int i = 0; i < c->nprepared; i++)
		if (c->prepared[i] == st)
			return STORE_OK;
	PGresult *r = PQprepare(c->db, st->name, st->sql, 0, NULL);
	round_trip();
	enum store_rc rc = PQresultStatus(r) == PGRES_COMMAND_OK
	                       ? STORE_OK
	                       : map_error(c, r);
	PQclear(r);
	if (rc == STORE_OK && c->nprepared < PG_MAX_PREPARED)
		c->prepared[c->nprepared++] = st;
	return rc;
}

/* The last command's SQLSTATE class, kept for pg_tx's retry decision. */
static _Thread_local bool last_retryable;

enum store_rc pg_run(struct pg_conn *c, const struct pg_stmt *st,
                     const struct pg_params *p, PGresult **res, int *changes)
{
	static const struct pg_params none = {.n = 0};
	if (p == NULL)
		p = &none;
	if (res != NULL)
		*res = NULL;
	if (changes != NULL)
		*changes = 0;
	last_retryable = false;
	if (!params_storable(p))
		return STORE_BAD_VALUE; /* see params_storable */
	enum store_rc rc = prepare(c, st);
	if (rc != STORE_OK)
		return rc;
	PGresult *r = PQexecPrepared(c->db, st->name, p->n, p->v, NULL, NULL,
	                             0);
	round_trip();
	ExecStatusType t = PQresultStatus(r);
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
		last_retryable = is_retryable(r);
		rc = map_error(c, r);
		PQclear(r);
		return rc;
	}
	if (changes != NULL) {
		const char *n = PQcmdTuples(r);
		*changes = n[0] ? atoi(n) : 0;
	}
	if (res != NULL && t == PGRES_TUPLES_OK)
		*res = r;
	else
		PQclear(r);
	return STORE_OK;
}

enum store_rc pg_exec_sql(struct pg_conn *c, const char *sql, char *err,
                          size_t errlen)
{
	last_retryable = false;
	PGresult *r = PQexec(c->db, sql);
	round_trip();
	ExecStatusType t = PQresultStatus(r);
	if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) {
		PQclear(r);
		return STORE_OK;
	}
	last_retryable = is_retryable(r);
	copy_msg(err, errlen, "PostgreSQL", PQresultErrorMessage(r));
	enum store_rc rc = map_error(c, r);
	PQclear(r);
	return rc;
}

enum store_rc pg_run_key_now(struct pg_conn *c, const struct pg_stmt *st,
                             const char *key, int64_t now, int *n)
{
	struct pg_params p = {0};
	pg_p_text(&p, key);
	pg_p_int(&p, now);
	return pg_run(c, st, &p, NULL, n);
}

/* ---- transactions -------------------------------------------------------- */

/* Whether attempt may be tried again (retry: it failed in a way another
 * attempt can fix); if so, backs off a little first, differently per
 * attempt, so the transactions that collided do not collide again. */
static bool backoff(bool retry, int attempt)
{
	if (!retry)
		return false;
	struct timespec ts = {0, (long)(1 + attempt) * 2000000L};
	nanosleep(&ts, NULL);
	return true;
}

enum store_rc pg_tx(struct store *base, pg_tx_fn fn, void *arg)
{
	struct pg_store *s = (struct pg_store *)base;
	enum store_rc rc = STORE_IO;
	bool reconnected = false;
	for (int attempt = 0; attempt < PG_TX_ATTEMPTS; attempt++) {
		struct pg_conn *c = pg_acquire(s, &rc);
		if (c == NULL)
			return rc;
		rc = pg_exec_sql(c, "BEGIN", NULL, 0);
		if (rc == STORE_UNAVAILABLE && !reconnected) {
			/* An idle connection the server dropped: nothing was
			 * done, so a new connection may try again. */
			reconnected = true;
			pg_release(s, c);
			attempt--;
			continue;
		}
		if (rc == STORE_OK)
			rc = fn(c, arg);
		bool retry = rc == STORE_BUSY && last_retryable;
		if (rc == STORE_OK)
			rc = pg_exec_sql(c, "COMMIT", NULL, 0);
		else if (PQstatus(c->db) == CONNECTION_OK)
			(void)pg_exec_sql(c, "ROLLBACK", NULL, 0);
		/* A COMMIT can fail with 40001 too (serializable isolation). */
		retry = retry || (rc == STORE_BUSY && last_retryable);
		pg_release(s, c);
		if (!backoff(retry, attempt))
			return rc;
	}
	return rc;
}

/* The result of a pipelined command that failed: a failed check (division
 * by zero, SQLSTATE 22012) is the command's check_rc (STORE_OK:
 * STORE_CONFLICT), anything else as pg_run maps it; notes whether the
 * transaction may be retried. */
static enum store_rc failed_rc(struct pg_conn *c, const PGresult *r,
                               enum store_rc check_rc)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	last_retryable = is_retryable(r);
	if (state == NULL || strcmp(state, "22012") != 0)
		return map_error(c, r);
	return check_rc != STORE_OK ? check_rc : STORE_CONFLICT;
}

/* Sends the batch and reads every result; see pg_batch. */
static enum store_rc batch_once(struct pg_conn *c,
                                const struct pg_batch_item *items, int n)
{
	enum store_rc rc = STORE_OK;
	last_retryable = false;
	for (int i = 0; i < n; i++)
		if (!params_storable(&items[i].p))
			return STORE_BAD_VALUE;
	for (int i = 0; i < n && rc == STORE_OK; i++)
		rc = prepare(c, items[i].st);
	if (rc != STORE_OK)
		return rc;
	if (PQenterPipelineMode(c->db) != 1)
		return map_error(c, NULL);
	for (int i = 0; i < n && rc == STORE_OK; i++)
		if (PQsendQueryPrepared(c->db, items[i].st->name, items[i].p.n,
		                        items[i].p.v, NULL, NULL, 0) != 1)
			rc = map_error(c, NULL);
	if (rc == STORE_OK && PQpipelineSync(c->db) != 1)
		rc = map_error(c, NULL);
	if (rc == STORE_OK)
		round_trip(); /* the whole batch: one Sync, one wait */
	if (rc != STORE_OK) {
		/* Nothing was synced: the connection is in no state to lend
		 * again; pg_release closes it. */
		c->broken = true;
		return rc;
	}
	/* One result and a NULL per command, then the Sync's: counting the
	 * NULLs tells which item a result is of. */
	int item = 0;
	for (;;) {
		PGresult *r = PQgetResult(c->db);
		if (r == NULL) {
			if (PQstatus(c->db) != CONNECTION_OK) {
				rc = rc == STORE_OK ? map_error(c, NULL) : rc;
				break;
			}
			item++;
			continue;
		}
		ExecStatusType t = PQresultStatus(r);
		if (t == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (t == PGRES_FATAL_ERROR && rc == STORE_OK) {
			rc = failed_rc(c, r, item < n ? items[item].check_rc
			                              : STORE_OK);
		}
		PQclear(r);
	}
	if (PQexitPipelineMode(c->db) != 1 && rc == STORE_OK)
		rc = map_error(c, NULL);
	return rc;
}

enum store_rc pg_batch(struct store *base, const struct pg_batch_item *items,
                       int n)
{
	struct pg_store *s = (struct pg_store *)base;
	enum store_rc rc = STORE_IO;
	for (int attempt = 0; attempt < PG_TX_ATTEMPTS; attempt++) {
		struct pg_conn *c = pg_acquire(s, &rc);
		if (c == NULL)
			return rc;
		rc = batch_once(c, items, n);
		bool retry = rc == STORE_BUSY && last_retryable;
		pg_release(s, c);
		if (!backoff(retry, attempt))
			return rc;
	}
	return rc;
}

/* ---- groups of issues (pg_batch_group) -------------------------------------
 * Why savepoints and a resend, rather than one statement per issue that
 * never fails: the statements stay the ones pg_batch runs alone
 * (the checks fail by dividing by zero), so there is one text of each
 * write. In an explicit transaction an error aborts the transaction, and
 * pipeline mode skips everything up to the next Sync, COMMIT included
 * (so a group with a failed issue can never commit half of itself by
 * accident). The leader then rolls back to the failed issue's savepoint
 * and sends the issues after it again, with COMMIT: one round trip more
 * per failed issue, and failures are the rare lost races. */

#define GC_SAVEPOINT "lk_issue"

/* What each command sent in a pass is: control (BEGIN, ROLLBACK TO,
 * COMMIT) or a statement of segment i. */
#define GC_CONTROL (-1)

struct gc_pass {
	int *owner; /* per command sent */
	/* per command sent: what a failed check of it means (the item's
	 * check_rc; STORE_OK: STORE_CONFLICT) */
	enum store_rc *check_rc;
	int ncmd;
};

static bool send_sql(struct pg_conn *c, struct gc_pass *ps, int owner,
                     const char *sql)
{
	ps->check_rc[ps->ncmd] = STORE_OK;
	ps->owner[ps->ncmd++] = owner;
	return PQsendQueryParams(c->db, sql, 0, NULL, NULL, NULL, NULL, 0) == 1;
}

/* Sends one pass: BEGIN (first) or the rollback of the failed segment
 * (resume), the pending segments from `from` on, COMMIT, one Sync. */
static bool send_pass(struct pg_conn *c, struct gc_pass *ps,
                      struct pg_segment *segs, int n, int from, bool resume)
{
	bool ok = PQenterPipelineMode(c->db) == 1;
	ps->ncmd = 0;
	if (ok && !resume)
		ok = send_sql(c, ps, GC_CONTROL, "BEGIN");
	if (ok && resume)
		ok = send_sql(c, ps, GC_CONTROL,
		              "ROLLBACK TO SAVEPOINT " GC_SAVEPOINT) &&
		     send_sql(c, ps, GC_CONTROL,
		              "RELEASE SAVEPOINT " GC_SAVEPOINT);
	for (int i = from; ok && i < n; i++) {
		if (segs[i].rc != STORE_OK)
			continue; /* failed before the pass (BAD_VALUE) */
		ok = send_sql(c, ps, i, "SAVEPOINT " GC_SAVEPOINT);
		for (int k = 0; ok && k < segs[i].n; k++) {
			const struct pg_batch_item *it = &segs[i].items[k];
			ps->check_rc[ps->ncmd] = it->check_rc;
			ps->owner[ps->ncmd++] = i;
			ok = PQsendQueryPrepared(c->db, it->st->name, it->p.n,
			                         it->p.v, NULL, NULL, 0) == 1;
		}
		if (ok)
			ok = send_sql(c, ps, i, "RELEASE SAVEPOINT " GC_SAVEPOINT);
	}
	if (ok)
		ok = send_sql(c, ps, GC_CONTROL, "COMMIT");
	if (ok)
		ok = PQpipelineSync(c->db) == 1;
	if (ok)
		round_trip(); /* the whole pass: one Sync, one wait */
	return ok;
}

/* Reads the answers of a pass. Returns STORE_OK when it committed;
 * *failed is the segment whose error aborted the pass (-1: none, or the
 * error is the whole group's: the returned rc), and its rc is set. */
static enum store_rc read_pass(struct pg_conn *c, const struct gc_pass *ps,
                               struct pg_segment *segs, int *failed)
{
	enum store_rc rc = STORE_OK;
	*failed = -1;
	int k = 0;
	for (;;) {
		PGresult *r = PQgetResult(c->db);
		if (r == NULL) {
			if (PQstatus(c->db) != CONNECTION_OK) {
				rc = map_error(c, NULL);
				*failed = -1;
				c->broken = true;
				return rc;
			}
			continue;
		}
		ExecStatusType t = PQresultStatus(r);
		if (t == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		int owner = k < ps->ncmd ? ps->owner[k] : GC_CONTROL;
		enum store_rc check_rc = k < ps->ncmd ? ps->check_rc[k]
		                                      : STORE_OK;
		k++;
		/* The first error decides; the commands after it up to the
		 * Sync come back PGRES_PIPELINE_ABORTED. */
		if (t == PGRES_FATAL_ERROR && rc == STORE_OK) {
			rc = failed_rc(c, r, check_rc);
			/* An issue's own failure (a lost check, a constraint,
			 * a lock timeout on its rows) is that issue's; one
			 * that must retry or that lost the server is the
			 * group's. */
			if (owner != GC_CONTROL && !last_retryable &&
			    rc != STORE_UNAVAILABLE) {
				*failed = owner;
				segs[owner].rc = rc;
			}
		}
		PQclear(r);
	}
	if (PQexitPipelineMode(c->db) != 1 && rc == STORE_OK) {
		c->broken = true;
		rc = map_error(c, NULL);
	}
	if (k != ps->ncmd && rc == STORE_OK) {
		c->broken = true; /* answers and commands do not pair up */
		rc = STORE_IO;
	}
	return rc;
}

/* One attempt at the group on c: the passes until it commits or fails as
 * a whole. Returns the group's result (STORE_OK: committed). */
static enum store_rc group_once(struct pg_conn *c, struct pg_segment *segs,
                                int n, struct gc_pass *ps)
{
	last_retryable = false;
	for (int i = 0; i < n; i++) {
		segs[i].rc = STORE_OK;
		for (int k = 0; k < segs[i].n; k++)
			if (!params_storable(&segs[i].items[k].p))
				segs[i].rc = STORE_BAD_VALUE;
	}
	for (int i = 0; i < n; i++)
		for (int k = 0; segs[i].rc == STORE_OK && k < segs[i].n; k++) {
			enum store_rc rc = prepare(c, segs[i].items[k].st);
			if (rc != STORE_OK)
				return rc;
		}
	int from = 0;
	bool resume = false;
	/* Each pass commits, or fails one more segment: at most n + 1. */
	for (int pass = 0; pass <= n; pass++) {
		if (!send_pass(c, ps, segs, n, from, resume)) {
			c->broken = true; /* mid-pipeline: pg_release closes */
			return map_error(c, NULL);
		}
		int failed;
		enum store_rc rc = read_pass(c, ps, segs, &failed);
		if (rc == STORE_OK || failed < 0)
			return rc;
		from = failed + 1;
		resume = true;
	}
	return STORE_IO; /* not reached: a pass fails a segment or ends */
}

void pg_batch_group(struct store *base, struct pg_segment *segs, int n)
{
	struct pg_store *s = (struct pg_store *)base;
	/* BEGIN, two per resume, per segment its statements and two, COMMIT. */
	int cap = 4;
	for (int i = 0; i < n; i++)
		cap += segs[i].n + 2;
	struct gc_pass ps = {xcalloc((size_t)cap, sizeof(int)),
	                     xcalloc((size_t)cap, sizeof(enum store_rc)), 0};
	enum store_rc rc = STORE_IO;
	for (int attempt = 0; attempt < PG_TX_ATTEMPTS; attempt++) {
		struct pg_conn *c = pg_acquire(s, &rc);
		if (c == NULL)
			break;
		rc = group_once(c, segs, n, &ps);
		bool retry = rc == STORE_BUSY && last_retryable;
		if (rc != STORE_OK && !c->broken &&
		    PQstatus(c->db) == CONNECTION_OK &&
		    PQtransactionStatus(c->db) != PQTRANS_IDLE)
			(void)pg_exec_sql(c, "ROLLBACK", NULL, 0);
		pg_release(s, c);
		if (rc == STORE_OK || !backoff(retry, attempt))
			break;
	}
	free(ps.owner);
	free(ps.check_rc);
	if (rc == STORE_OK)
		return; /* committed: each segment keeps its own result */
	/* Nothing of the group stands, so no result of it may either: a
	 * lost compare-and-set may have lost to an issue now rolled back.
	 * A value the database cannot hold is refused whatever happened. */
	for (int i = 0; i < n; i++)
		if (segs[i].rc != STORE_BAD_VALUE)
			segs[i].rc = rc;
}

enum store_rc pg_once(struct store *base, const struct pg_stmt *st,
                      const struct pg_params *p, PGresult **res,
                      int *changes, bool idempotent)
{
	struct pg_store *s = (struct pg_store *)base;
	enum store_rc rc = STORE_IO;
	bool reconnected = false;
	for (int attempt = 0; attempt < PG_TX_ATTEMPTS; attempt++) {
		struct pg_conn *c = pg_acquire(s, &rc);
		if (c == NULL)
			return rc;
		rc = pg_run(c, st, p, res, changes);
		/* A statement that failed on serialization or deadlock was
		 * undone whole; a read is safe to run on a new connection. */
		bool again = rc == STORE_BUSY && last_retryable;
		if (rc == STORE_UNAVAILABLE && idempotent && !reconnected)
			again = reconnected = true;
		pg_release(s, c);
		if (!again)
			break;
	}
	return rc;
}

int64_t *pg_page_count(const struct store_page *page)
{
	return page != NULL && page->limit > 0 ? page->matched : NULL;
}

const struct pg_stmt *pg_list_stmt(const struct store_page *page,
                                   const struct pg_stmt *list,
                                   const struct pg_stmt *page_st,
                                   const struct pg_stmt *counted,
                                   struct pg_params *p)
{
	if (page == NULL || (page->since == 0 && page->limit == 0))
		return list;
	pg_p_int(p, page->since);
	pg_p_opt_int(p, page->limit);
	int64_t *count = pg_page_count(page);
	if (count == NULL)
		return page_st;
	*count = 0; /* no row: none passed (the limit is at least 1) */
	return counted;
}

enum store_rc pg_select(struct store *s, const struct pg_stmt *st,
                        const struct pg_params *p, PGresult **res)
{
	if (!params_storable(p)) {
		/* No row holds such text: the answer is no rows, without
		 * asking the server (which would refuse the parameter). */
		*res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
		return *res != NULL ? STORE_OK : STORE_IO;
	}
	enum store_rc rc = pg_once(s, st, p, res, NULL, true);
	if (rc == STORE_OK && *res == NULL)
		rc = STORE_IO; /* not a statement that returns rows */
	return rc;
}
