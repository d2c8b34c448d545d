/*
 * sqlite_upkeep.c: the SQLite backend's upkeep table: the one purge
 * (store_purge's rules, store.h), in batches of short write transactions
 * so that token requests queued on write_mu wait one batch at most, and
 * the glue that lends a connection to the online backup (backup_sqlite.c
 * makes the copy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

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
		enum store_rc r = sq_begin(cn);
		if (r != STORE_OK)
			return r;
		sqlite3_stmt *st = sq_stmt(cn, which);
		if (st == NULL) {
			r = STORE_IO;
		} else {
			sqlite3_bind_int64(st, 1, before);
			sqlite3_bind_int(st, 2, PURGE_BATCH);
			r = sq_exec(cn, st, &n);
		}
		r = sq_finish(cn, r);
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
	sqlite3_stmt *st = sq_stmt(cn, ST_PURGE_RT_FAMILIES);
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
		f->ids[f->n++] = sq_col_text(st, 0);
	}
	sq_done(st);
	return rc == SQLITE_DONE ? STORE_OK : store_sqlite_rc(rc);
}

/* Deletes the families of f none of whose tokens is unexpired at now
 * (the statement checks again, in the deleting transaction), PURGE_BATCH
 * families per transaction. */
static enum store_rc purge_families(struct conn *cn, int64_t now,
                                    const struct families *f, int64_t *count)
{
	for (size_t i = 0; i < f->n;) {
		enum store_rc r = sq_begin(cn);
		int64_t rows = 0;
		if (r != STORE_OK)
			return r;
		for (size_t end = i + PURGE_BATCH; r == STORE_OK && i < f->n &&
		                                   i < end; i++) {
			int n = 0;
			r = sq_run_key_now(cn, ST_PURGE_RT_FAMILY, f->ids[i], now, &n);
			rows += n;
		}
		r = sq_finish(cn, r);
		if (r != STORE_OK)
			return r;
		*count += rows;
	}
	return STORE_OK;
}

static enum store_rc sq_purge(struct store *s, int64_t now,
                              struct store_purge_counts *out)
{
	struct conn *cn = sq_conn_get(s);
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
		r = purge_batches(cn, ST_PURGE_DEVICE_BATCH,
		                  now - STORE_PURGE_CODE_GRACE, &out->device_codes);
	if (r == STORE_OK)
		r = purge_batches(cn, ST_PURGE_SESSION_BATCH, now, &out->sessions);
	if (r == STORE_OK)
		r = purge_batches(cn, ST_PURGE_PREV_SECRET_BATCH, now,
		                  &out->previous_secrets);
	if (r == STORE_OK)
		r = purge_batches(cn, ST_PURGE_JTI_BATCH, now, &out->used_jtis);
	return r;
}

enum store_rc sq_audit_purge(struct store *s, int64_t before, int64_t *count)
{
	struct conn *cn = sq_conn_get(s);
	return cn != NULL ? purge_batches(cn, ST_AUDIT_PURGE_BATCH, before, count)
	                  : STORE_IO;
}

static enum store_rc sq_backup(struct store *s, const char *dest, bool replace,
                               struct store_backup_info *out, char *err,
                               size_t errlen)
{
	struct conn *cn = sq_conn_get(s);
	if (cn == NULL) {
		snprintf(err, errlen, "cannot open the database");
		return STORE_INVALID;
	}
	return store_sqlite_backup(cn->db, dest, replace, out, err, errlen);
}


const struct store_upkeep_methods sq_upkeep_methods = {
	.xPurge = sq_purge,
	.xBackup = sq_backup,
};
