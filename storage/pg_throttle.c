/*
 * pg_throttle.c: the throttle table (store.h struct store_throttle_methods)
 * on PostgreSQL (map: pg_int.h), over the table throttle of
 * migrations/postgresql/0006_throttle.sql: failed attempts per hashed key
 * in fixed windows, and the reservations under way as expiring tickets.
 *
 * Every instance of a deployment sees the same rows, so a limit holds
 * across instances: a reservation is one INSERT ... ON CONFLICT DO UPDATE
 * whose WHERE admits it only while failures + reservations stay under the
 * limit. PostgreSQL locks the row for the conflict and re-reads its newest
 * version, so of concurrent reservations from any number of processes at
 * most the limit succeed. The keys of one attempt are reserved in one
 * transaction: all or none. Times are the caller's ($2), never now().
 *
 * Only grants/throttle_store.c calls this (through store.h); it decides
 * when an attempt needs no reservation written at all.
 */
#include <stdio.h>
#include <string.h>

#include "pg_int.h"

/* The live failures and reservations of row t at $2 in window $3. */
#define LIVE_FAILURES "lk_throttle_failures(t.window_start, t.failures, " \
                      "$2::bigint, $3::bigint)"
#define LIVE_PENDING "cardinality(lk_throttle_live(t.pending, $2::bigint))"

static const struct pg_stmt st_peek = {
	"throttle_peek",
	"SELECT t.key_hash, " LIVE_FAILURES ", " LIVE_PENDING ", t.last_check "
	"FROM throttle t WHERE t.key_hash = ANY($1::text[])"};

/* $1 hash, $2 now, $3 window, $4 ticket, $5 hard, $6 soft, $7 local.
 * RETURNING the failures still live: had_failures. */
static const struct pg_stmt st_reserve = {
	"throttle_reserve",
	"INSERT INTO throttle AS t (key_hash, last_check, pending) VALUES "
	"($1, $2::bigint, ARRAY[$4::bigint]) ON CONFLICT (key_hash) DO UPDATE "
	"SET window_start = CASE WHEN " LIVE_FAILURES " > 0 THEN t.window_start "
	"ELSE 0 END, failures = " LIVE_FAILURES ", last_check = $2::bigint, "
	"pending = lk_throttle_live(t.pending, $2::bigint) || $4::bigint "
	"WHERE " LIVE_FAILURES " + " LIVE_PENDING " + $7::integer < "
	"$5::integer AND NOT ($6::integer > 0 AND " LIVE_FAILURES " >= "
	"$6::integer AND (" LIVE_PENDING " > 0 OR t.last_check = $2::bigint)) "
	"RETURNING t.failures"};

/* $1 hash, $2 now, $3 window, $4 ticket (0: none written). */
static const struct pg_stmt st_commit = {
	"throttle_commit",
	"INSERT INTO throttle AS t (key_hash, window_start, failures, "
	"last_check) VALUES ($1, $2::bigint, 1, $2::bigint) ON CONFLICT "
	"(key_hash) DO UPDATE SET window_start = CASE WHEN " LIVE_FAILURES
	" > 0 THEN t.window_start ELSE $2::bigint END, failures = "
	LIVE_FAILURES " + 1, pending = array_remove(t.pending, $4::bigint)"};

/* $1 hash, $2 ticket, $3 whether to forget the failures. */
static const struct pg_stmt st_release = {
	"throttle_release",
	"UPDATE throttle t SET pending = array_remove(t.pending, $2::bigint), "
	"failures = CASE WHEN $3::boolean THEN 0 ELSE t.failures END, "
	"window_start = CASE WHEN $3::boolean THEN 0 ELSE t.window_start END "
	"WHERE t.key_hash = $1"};

/* A row with nothing left to remember goes, as the memory backend forgets
 * a slot. A reservation made meanwhile keeps it: under READ COMMITTED
 * the WHERE is checked again on the row's newest version. */
static const struct pg_stmt st_forget = {
	"throttle_forget",
	"DELETE FROM throttle t WHERE t.key_hash = $1 AND " LIVE_FAILURES
	" = 0 AND " LIVE_PENDING " = 0"};

static void key_params(struct pg_params *p, const char *hash, int64_t now,
                       int64_t window)
{
	pg_p_text(p, hash);
	pg_p_int(p, now);
	pg_p_int(p, window);
}

static enum store_rc th_peek(struct store *s,
                             const struct store_throttle_key *keys, size_t n,
                             int64_t now, int64_t window,
                             struct store_throttle_state *out)
{
	char list[4 * 70 + 4] = "{";
	size_t len = 1;
	for (size_t i = 0; i < n && i < 4; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%.64s",
		                        i ? "," : "", keys[i].hash);
	snprintf(list + len, sizeof(list) - len, "}");
	memset(out, 0, n * sizeof(*out));
	struct pg_params p = {0};
	key_params(&p, list, now, window);
	PGresult *res = NULL;
	enum store_rc rc = pg_select(s, &st_peek, &p, &res);
	for (int r = 0; rc == STORE_OK && r < PQntuples(res); r++)
		for (size_t i = 0; i < n; i++)
			if (strcmp(PQgetvalue(res, r, 0), keys[i].hash) == 0) {
				out[i].failures = (int)pg_col_int(res, r, 1);
				out[i].pending = (int)pg_col_int(res, r, 2);
				out[i].last_check = pg_col_int(res, r, 3);
			}
	PQclear(res);
	return rc;
}

struct reserve_tx {
	const struct store_throttle_key *keys;
	size_t n;
	int64_t now, window, ticket;
	bool *had_failures;
	int *stopped;
	bool *slowed;
};

/* Whether key k, refused by st_reserve, stopped at soft only. */
static bool only_soft(struct pg_conn *c, const struct reserve_tx *x,
                      const struct store_throttle_key *k)
{
	char one[70];
	snprintf(one, sizeof(one), "{%.64s}", k->hash);
	struct pg_params p = {0};
	key_params(&p, one, x->now, x->window);
	PGresult *res = NULL;
	bool soft = false;
	if (pg_run(c, &st_peek, &p, &res, NULL) == STORE_OK &&
	    PQntuples(res) == 1)
		soft = pg_col_int(res, 0, 1) + pg_col_int(res, 0, 2) + k->local <
		       k->hard;
	PQclear(res);
	return soft;
}

static enum store_rc reserve_fn(struct pg_conn *c, void *arg)
{
	struct reserve_tx *x = arg;
	*x->stopped = -1;
	*x->slowed = false;
	for (size_t i = 0; i < x->n; i++) {
		const struct store_throttle_key *k = &x->keys[i];
		struct pg_params p = {0};
		key_params(&p, k->hash, x->now, x->window);
		pg_p_int(&p, x->ticket);
		pg_p_int(&p, k->hard);
		pg_p_int(&p, k->soft);
		pg_p_int(&p, k->local);
		PGresult *res = NULL;
		enum store_rc rc = pg_run(c, &st_reserve, &p, &res, NULL);
		bool got = rc == STORE_OK && PQntuples(res) == 1;
		x->had_failures[i] = got && pg_col_int(res, 0, 0) > 0;
		PQclear(res);
		if (rc != STORE_OK)
			return rc;
		if (!got) {
			*x->stopped = (int)i;
			*x->slowed = only_soft(c, x, k);
			return STORE_CONFLICT; /* pg_tx rolls the others back */
		}
	}
	return STORE_OK;
}

static enum store_rc th_reserve(struct store *s,
                                const struct store_throttle_key *keys,
                                size_t n, int64_t now, int64_t window,
                                int64_t ticket, bool *had_failures,
                                int *stopped, bool *slowed)
{
	struct reserve_tx x = {keys, n, now, window, ticket, had_failures,
	                       stopped, slowed};
	return pg_tx(s, reserve_fn, &x);
}

static enum store_rc th_commit(struct store *s,
                               const struct store_throttle_key *keys, size_t n,
                               int64_t now, int64_t window, int64_t ticket)
{
	struct pg_batch_item items[4];
	size_t m = 0;
	for (size_t i = 0; i < n && m < 4; i++, m++) {
		items[m] = (struct pg_batch_item){.st = &st_commit};
		key_params(&items[m].p, keys[i].hash, now, window);
		pg_p_int(&items[m].p, ticket);
	}
	return pg_batch(s, items, (int)m);
}

static enum store_rc th_release(struct store *s,
                                const struct store_throttle_key *keys,
                                size_t n, int64_t now, int64_t window,
                                int64_t ticket, bool succeeded)
{
	struct pg_batch_item items[8];
	size_t m = 0;
	for (size_t i = 0; i < n && m < 8; i++) {
		bool clear = succeeded && keys[i].clear_on_success;
		items[m] = (struct pg_batch_item){.st = &st_release};
		pg_p_text(&items[m].p, keys[i].hash);
		pg_p_int(&items[m].p, ticket);
		pg_p_text(&items[m].p, clear ? "true" : "false");
		m++;
		items[m] = (struct pg_batch_item){.st = &st_forget};
		key_params(&items[m].p, keys[i].hash, now, window);
		m++;
	}
	return pg_batch(s, items, (int)m);
}

const struct store_throttle_methods pg_throttle_methods = {
	.xPeek = th_peek,
	.xReserve = th_reserve,
	.xCommit = th_commit,
	.xRelease = th_release,
};
