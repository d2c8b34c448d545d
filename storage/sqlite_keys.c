/*
 * sqlite_keys.c: signing keys in the SQLite backend: the current key of
 * each algorithm, the published ones (current; retired with an unexpired
 * token or less than a grace ago), and the change of an algorithm's
 * current key in one transaction; the staged rotation's next key
 * (retired_at STORE_KEY_NEXT) and its promotion.
 */
#include <string.h>

#include "sqlite_int.h"

static void read_key(sqlite3_stmt *st, struct store_key *k)
{
	k->kid = sq_col_text(st, 0);
	k->alg = sq_col_text(st, 1);
	k->private_pem = sq_col_text(st, 2);
	k->created_at = sqlite3_column_int64(st, 3);
	k->retired_at = sqlite3_column_int64(st, 4);
}

/* Inserts k with add (ST_KEY_ADD, ST_KEY_ADD_NEXT: its retired_at is
 * the statement's). */
static enum store_rc insert_key(struct conn *cn, sqlite3_stmt *add,
                                const struct store_key *k)
{
	sq_bind_text(add, 1, k->kid);
	sq_bind_text(add, 2, k->alg);
	sq_bind_text(add, 3, k->private_pem);
	sqlite3_bind_int64(add, 4, k->created_at);
	return sq_exec(cn, add, NULL);
}

/* Both changes of k->alg's current key, in one transaction: retire with
 * which (ST_KEY_RETIRE: whatever key of k->alg is current;
 * ST_KEY_RETIRE_KID: the key kid, which must have been k->alg's current
 * one, else STORE_CONFLICT; with kid NULL nothing is retired), then
 * insert k as the current key of its algorithm. */
static enum store_rc key_change(struct store *s, enum stmt which,
                                const char *kid, const struct store_key *k)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *retire = sq_stmt(cn, which);
	sqlite3_stmt *add = sq_stmt(cn, ST_KEY_ADD);
	if (retire == NULL || add == NULL)
		return STORE_IO;
	enum store_rc r = sq_begin(cn);
	if (r != STORE_OK)
		return r;
	if (which == ST_KEY_RETIRE || kid != NULL) {
		int changes = 0;
		sqlite3_bind_int64(retire, 1, k->created_at);
		sq_bind_text(retire, 2, k->alg);
		if (kid != NULL)
			sq_bind_text(retire, 3, kid);
		r = sq_exec(cn, retire, &changes);
		if (r == STORE_OK && kid != NULL && changes != 1)
			r = STORE_CONFLICT;
	}
	if (r == STORE_OK)
		r = insert_key(cn, add, k);
	return sq_finish(cn, r);
}

static enum store_rc sq_key_add_current(struct store *s,
                                        const struct store_key *k)
{
	return key_change(s, ST_KEY_RETIRE, NULL, k);
}

/* xReplaceCurrent: writers are serialized, so the retire of the expected
 * key matches one row or none (STORE_CONFLICT); without an expected key
 * the unique index signing_keys_current_alg (migration 0008) refuses a
 * second current key of the algorithm. */
static enum store_rc sq_key_replace_current(struct store *s,
                                            const char *expected,
                                            const struct store_key *k)
{
	return key_change(s, ST_KEY_RETIRE_KID, expected, k);
}

/* The one key of alg that which (ST_KEY_CURRENT, ST_KEY_NEXT) selects. */
static enum store_rc key_of(struct store *s, enum stmt which, const char *alg,
                            struct store_key *out)
{
	sqlite3_stmt *st = sq_stmt(sq_conn_get(s), which);
	if (st == NULL)
		return STORE_IO;
	sq_bind_text(st, 1, alg);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_key(st, out);
	sq_done(st);
	return rc == SQLITE_ROW ? STORE_OK
	       : rc == SQLITE_DONE ? STORE_NOT_FOUND : store_sqlite_rc(rc);
}

static enum store_rc sq_key_current(struct store *s, const char *alg,
                                    struct store_key *out)
{
	return key_of(s, ST_KEY_CURRENT, alg, out);
}

static enum store_rc sq_key_next(struct store *s, const char *alg,
                                 struct store_key *out)
{
	return key_of(s, ST_KEY_NEXT, alg, out);
}

/* Runs which with ?1 an int and ?2.. the texts a, b (NULL: not bound);
 * *changes the rows changed. */
static enum store_rc run_it(struct conn *cn, enum stmt which, int64_t i,
                            const char *a, const char *b, int *changes)
{
	sqlite3_stmt *st = sq_stmt(cn, which);
	if (st == NULL)
		return STORE_IO;
	sqlite3_bind_int64(st, 1, i);
	if (a != NULL)
		sq_bind_text(st, 2, a);
	if (b != NULL)
		sq_bind_text(st, 3, b);
	return sq_exec(cn, st, changes);
}

static enum store_rc sq_key_add_next(struct store *s, const struct store_key *k,
                                     bool only_if_none)
{
	struct conn *cn = sq_conn_get(s);
	sqlite3_stmt *add = sq_stmt(cn, ST_KEY_ADD_NEXT);
	if (add == NULL)
		return STORE_IO;
	enum store_rc r = sq_begin(cn);
	if (r != STORE_OK)
		return r;
	int n = 0;
	/* Writers are serialized: the retire sees every next key there is. */
	r = run_it(cn, ST_KEY_RETIRE_NEXT, k->created_at, k->alg, NULL, &n);
	if (r == STORE_OK && n > 0 && only_if_none)
		r = STORE_CONFLICT; /* rolled back: nothing retired */
	if (r == STORE_OK)
		r = insert_key(cn, add, k);
	return sq_finish(cn, r);
}

static enum store_rc sq_key_promote(struct store *s, const char *alg,
                                    const char *expected, int64_t now)
{
	struct conn *cn = sq_conn_get(s);
	struct store_key next = {0};
	if (cn == NULL)
		return STORE_IO;
	enum store_rc r = sq_begin(cn);
	if (r != STORE_OK)
		return r;
	r = key_of(s, ST_KEY_NEXT, alg, &next);
	if (r == STORE_OK && expected != NULL && strcmp(next.kid, expected) != 0)
		r = STORE_NOT_FOUND;
	if (r == STORE_OK)
		r = run_it(cn, ST_KEY_RETIRE, now, alg, NULL, NULL);
	int n = 0;
	if (r == STORE_OK)
		r = run_it(cn, ST_KEY_ACTIVATE, 0, alg, next.kid, &n);
	if (r == STORE_OK && n != 1)
		r = STORE_NOT_FOUND;
	store_key_clear(&next);
	return sq_finish(cn, r);
}

/* The published list's two parameters, now and the grace; the full list
 * has none. */
static void bind_now(sqlite3_stmt *st, const void *now_grace)
{
	const int64_t *v = now_grace;
	if (v != NULL) {
		sqlite3_bind_int64(st, 1, v[0]);
		sqlite3_bind_int64(st, 2, v[1]);
	}
}

static enum store_rc sq_key_list(struct store *s, bool published_only,
                                 int64_t now, int64_t grace,
                                 const struct store_page *page,
                                 store_key_cb cb, void *arg)
{
	enum store_rc rc;
	struct conn *cn = sq_conn_get(s);
	const int64_t now_grace[2] = {now, grace};
	sqlite3_stmt *st =
	    published_only
	        ? sq_list_stmt(cn, ST_KEY_PUBLISHED, NULL, 0, bind_now,
	                       now_grace, &rc)
	        : sq_list_stmt(cn, ST_KEY_LIST, page, 1, bind_now, NULL, &rc);
	if (st == NULL)
		return rc;
	LIST_ROWS(st, published_only ? NULL : sq_page_count(page),
	          struct store_key, read_key, store_key_clear, cb, arg);
}

const struct store_key_methods sq_key_methods = {
	.xAddCurrent = sq_key_add_current,
	.xReplaceCurrent = sq_key_replace_current,
	.xCurrent = sq_key_current,
	.xList = sq_key_list,
	.xAddNext = sq_key_add_next,
	.xNext = sq_key_next,
	.xPromote = sq_key_promote,
};
