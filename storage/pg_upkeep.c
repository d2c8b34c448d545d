/*
 * pg_upkeep.c: housekeeping on PostgreSQL (map: pg_int.h): store_purge's
 * batches (token records, codes, sessions and stale throttle rows), the
 * test double's reset, and backup, which on PostgreSQL is pg_dump's job.
 *
 * Purging is safe when several instances run it at once: every DELETE
 * re-checks its condition, so a row goes once and the counts of the
 * instances add up to what went. So every instance purges on its own
 * timer, with no lock between them (docs/scale-out.md, "Housekeeping on
 * several instances"; tests/e2e/test_multi_instance.py runs three at
 * once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "strutil.h"

/* Rows (or families) one purge transaction deletes at most, as on SQLite:
 * short transactions, so requests are never held up for long. */
#define PURGE_BATCH 500

static const struct pg_stmt st_purge_at_batch = {
	"purge_at_batch",
	"DELETE FROM access_tokens WHERE jti IN (SELECT jti FROM access_tokens "
	"WHERE expires_at <= $1::bigint LIMIT $2::integer)"};
/* Families with an expired token: those that may be over. */
static const struct pg_stmt st_purge_rt_families = {
	"purge_rt_families",
	"SELECT DISTINCT family_id FROM refresh_tokens "
	"WHERE expires_at <= $1::bigint"};
/* A family goes whole, once none of its tokens is unexpired. */
static const struct pg_stmt st_purge_rt_family = {
	"purge_rt_family",
	"DELETE FROM refresh_tokens WHERE family_id=$1 AND NOT EXISTS (SELECT 1 "
	"FROM refresh_tokens WHERE family_id=$1 AND expires_at > $2::bigint)"};
static const struct pg_stmt st_purge_code_batch = {
	"purge_code_batch",
	"DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash "
	"FROM authorization_codes WHERE expires_at <= $1::bigint "
	"LIMIT $2::integer)"};
static const struct pg_stmt st_purge_device_batch = {
	"purge_device_batch",
	"DELETE FROM device_codes WHERE device_code_hash IN (SELECT "
	"device_code_hash FROM device_codes WHERE expires_at <= $1::bigint "
	"LIMIT $2::integer)"};
static const struct pg_stmt st_purge_jti_batch = {
	"purge_jti_batch",
	"DELETE FROM used_jtis WHERE jti_hash IN (SELECT jti_hash FROM "
	"used_jtis WHERE expires_at <= $1::bigint LIMIT $2::integer)"};
static const struct pg_stmt st_purge_session_batch = {
	"purge_session_batch",
	"DELETE FROM sessions WHERE session_hash IN (SELECT session_hash FROM "
	"sessions WHERE expires_at <= $1::bigint LIMIT $2::integer)"};

/* As SQLite's ST_PURGE_PREV_SECRET_BATCH: a hash past its grace is
 * cleared; the client stays. */
static const struct pg_stmt st_purge_prev_secret_batch = {
	"purge_prev_secret_batch",
	"UPDATE clients SET previous_secret_hash=NULL, "
	"previous_secret_expires_at=0 WHERE client_id IN (SELECT client_id "
	"FROM clients WHERE previous_secret_hash IS NOT NULL AND "
	"previous_secret_expires_at <= $1::bigint LIMIT $2::integer)"};

/* Throttle rows whose counts can no longer matter: their window began
 * STORE_THROTTLE_WINDOW_MAX or more before $1 (the longest window any
 * setting allows, so whichever the server runs with has ended; 0: none
 * began) and no reservation is unexpired at $1 (a ticket's expiry is its
 * bits above 28, as lk_throttle_live reads them). A row that gains a
 * failure or a reservation meanwhile is checked again by the DELETE and
 * stays. */
static const struct pg_stmt st_purge_throttle_batch = {
	"purge_throttle_batch",
	"DELETE FROM throttle WHERE key_hash IN (SELECT key_hash FROM throttle "
	"t WHERE t.window_start <= $1::bigint AND cardinality("
	"lk_throttle_live(t.pending, $3::bigint)) = 0 LIMIT $2::integer) "
	"AND window_start <= $1::bigint AND cardinality(lk_throttle_live("
	"pending, $3::bigint)) = 0"};

/* ---- the test double's reset --------------------------------------------- */

static enum store_rc reset_tx(struct pg_conn *c, void *arg)
{
	(void)arg;
	return pg_exec_sql(c,
	                   "DELETE FROM access_tokens; DELETE FROM refresh_tokens;"
	                   "DELETE FROM authorization_codes; DELETE FROM sessions;"
	                   "DELETE FROM consents; DELETE FROM throttle;"
	                   "DELETE FROM used_jtis; DELETE FROM device_codes;",
	                   NULL, 0);
}

static enum store_rc pg_reset_tokens(struct store *s)
{
	return pg_tx(s, reset_tx, NULL);
}

/* ---- store_purge --------------------------------------------------------- */

/* Runs a batch DELETE (cutoff, batch size) until a batch comes back
 * short; each batch commits on its own. */
static enum store_rc purge_batches(struct store *s, const struct pg_stmt *st,
                                   int64_t before, int64_t *count)
{
	for (;;) {
		struct pg_params p = {0};
		int n = 0;
		pg_p_int(&p, before);
		pg_p_int(&p, PURGE_BATCH);
		enum store_rc r = pg_once(s, st, &p, NULL, &n, false);
		if (r != STORE_OK)
			return r;
		*count += n;
		if (n < PURGE_BATCH)
			return STORE_OK;
	}
}

static const struct pg_stmt st_audit_purge_batch = {
	"audit_purge_batch",
	"DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events "
	"WHERE at < $1::bigint LIMIT $2::integer)"};

enum store_rc pg_audit_purge(struct store *s, int64_t before, int64_t *count)
{
	return purge_batches(s, &st_audit_purge_batch, before, count);
}

/* Deletes, in transactions of up to PURGE_BATCH families, the families
 * among rows [from, to) of res none of whose tokens is unexpired. */
struct families {
	const PGresult *res;
	int from, to;
	int64_t now;
	int64_t rows;
};

static enum store_rc families_tx(struct pg_conn *c, void *arg)
{
	struct families *f = arg;
	enum store_rc r = STORE_OK;
	f->rows = 0;
	for (int i = f->from; r == STORE_OK && i < f->to; i++) {
		int n = 0;
		r = pg_run_key_now(c, &st_purge_rt_family,
		                   PQgetvalue(f->res, i, 0), f->now, &n);
		f->rows += n;
	}
	return r;
}

static enum store_rc purge_families(struct store *s, int64_t now,
                                    int64_t *count)
{
	PGresult *res = NULL;
	struct pg_params p = {0};
	pg_p_int(&p, now);
	enum store_rc r = pg_select(s, &st_purge_rt_families, &p, &res);
	int n = r == STORE_OK ? PQntuples(res) : 0;
	for (int i = 0; r == STORE_OK && i < n; i += PURGE_BATCH) {
		struct families f = {res, i, i + PURGE_BATCH < n ? i + PURGE_BATCH
		                                                : n, now, 0};
		r = pg_tx(s, families_tx, &f);
		if (r == STORE_OK)
			*count += f.rows;
	}
	PQclear(res);
	return r;
}

static enum store_rc purge_throttle(struct store *s, int64_t now,
                                    int64_t *count)
{
	for (;;) {
		struct pg_params p = {0};
		int n = 0;
		pg_p_int(&p, now - STORE_THROTTLE_WINDOW_MAX);
		pg_p_int(&p, PURGE_BATCH);
		pg_p_int(&p, now);
		enum store_rc r = pg_once(s, &st_purge_throttle_batch, &p, NULL,
		                          &n, false);
		if (r != STORE_OK)
			return r;
		*count += n;
		if (n < PURGE_BATCH)
			return STORE_OK;
	}
}

static enum store_rc pg_purge(struct store *s, int64_t now,
                              struct store_purge_counts *out)
{
	enum store_rc r = purge_batches(s, &st_purge_at_batch, now,
	                                &out->access_tokens);
	if (r == STORE_OK)
		r = purge_families(s, now, &out->refresh_tokens);
	if (r == STORE_OK)
		r = purge_batches(s, &st_purge_code_batch,
		                  now - STORE_PURGE_CODE_GRACE, &out->codes);
	if (r == STORE_OK)
		r = purge_batches(s, &st_purge_device_batch,
		                  now - STORE_PURGE_CODE_GRACE, &out->device_codes);
	if (r == STORE_OK)
		r = purge_batches(s, &st_purge_session_batch, now, &out->sessions);
	if (r == STORE_OK)
		r = purge_throttle(s, now, &out->throttle_keys);
	if (r == STORE_OK)
		r = purge_batches(s, &st_purge_prev_secret_batch, now,
		                  &out->previous_secrets);
	if (r == STORE_OK)
		r = purge_batches(s, &st_purge_jti_batch, now, &out->used_jtis);
	return r;
}

/* ---- backup -------------------------------------------------------------- */

/* A consistent copy of a live PostgreSQL database is pg_dump's job (or
 * the server's own base backups); Latchkey does not reimplement it. */
static enum store_rc pg_backup(struct store *s, const char *dest,
                               bool replace, struct store_backup_info *out,
                               char *err, size_t errlen)
{
	(void)s;
	(void)dest;
	(void)replace;
	memset(out, 0, sizeof(*out));
	snprintf(err, errlen, "backup copies SQLite databases only; for "
	         "PostgreSQL use pg_dump (e.g. pg_dump -Fc -f latchkey.dump "
	         "DBNAME), see docs/scale-out.md");
	return STORE_INVALID;
}

const struct pg_upkeep_ops pg_upkeep_ops = {
	.reset_tokens = pg_reset_tokens,
	.purge = pg_purge,
	.backup = pg_backup,
};
