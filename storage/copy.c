/*
 * copy.c: `latchkey copy`'s half inside storage/: the catalogue of what a
 * copy moves (every table of the schema, its columns and their types, in
 * an order in which the foreign keys hold) and of what it leaves out on
 * purpose, and store_copy, which drives one backend's read snapshot into
 * another's write transaction through the copy table of struct store_ops.
 *
 * The backends (sqlite_copy.c, pg_copy.c) only read and write rows of a
 * catalogue table as typed values; they know nothing of which tables
 * exist. tests/e2e/test_copy.py reads the real schema of both backends
 * after migration and fails when a table or column is neither here nor
 * in store_copy_excluded, so a migration that adds one must say here
 * whether it moves.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define T(n) {#n, STORE_COL_TEXT}
#define I(n) {#n, STORE_COL_INT}
#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct store_copy_column clients_cols[] = {
	T(client_id), T(name), T(secret_hash), I(is_public), T(grant_types),
	T(scopes), T(redirect_uris), I(access_token_ttl),
	I(refresh_token_ttl), I(created_at), I(updated_at),
	I(issue_refresh_token), T(on_refresh), T(auto_approve_as),
	T(audiences), I(introspect), I(secret_version)};
static const struct store_copy_column users_cols[] = {
	T(user_id), T(username), T(password_hash), I(created_at),
	I(updated_at)};
static const struct store_copy_column keys_cols[] = {
	T(kid), T(alg), T(private_pem), I(created_at), I(retired_at)};
static const struct store_copy_column access_cols[] = {
	T(jti), T(client_id), T(subject), T(scope), T(kid), I(issued_at),
	I(expires_at), I(revoked_at), T(family_id)};
static const struct store_copy_column refresh_cols[] = {
	T(token_hash), T(family_id), T(client_id), T(subject), T(username),
	T(scope), T(access_jti), I(issued_at), I(expires_at), I(retired_at),
	I(revoked_at)};
static const struct store_copy_column codes_cols[] = {
	T(code_hash), T(client_id), T(subject), T(username), T(redirect_uri),
	T(scope), T(code_challenge), T(code_challenge_method), I(issued_at),
	I(expires_at), I(used_at), T(family_id), T(resource)};
static const struct store_copy_column sessions_cols[] = {
	T(session_hash), T(user_id), I(auth_time), I(expires_at)};
static const struct store_copy_column consents_cols[] = {
	T(user_id), T(client_id), T(scope), I(granted_at), I(updated_at)};

#define TABLE(name, cols, order) {name, cols, NCOLS(cols), order}
_Static_assert(NCOLS(clients_cols) <= STORE_COPY_MAX_COLS &&
               NCOLS(codes_cols) <= STORE_COPY_MAX_COLS &&
               NCOLS(refresh_cols) <= STORE_COPY_MAX_COLS,
               "a backend reads a row into STORE_COPY_MAX_COLS values");

/* Parents before children: clients, users and keys before the tokens,
 * codes, sessions and consents that reference them. Rows go in key order,
 * so two copies of one database are the same file for file; refresh
 * tokens go in insertion order, which listings use to order rotations of
 * one second (PostgreSQL's seq is then numbered anew, in the same order,
 * and continues above the copied rows). */
const struct store_copy_table store_copy_tables[] = {
	TABLE("clients", clients_cols, "client_id"),
	TABLE("users", users_cols, "user_id"),
	TABLE("signing_keys", keys_cols, "kid"),
	TABLE("access_tokens", access_cols, "jti"),
	TABLE("refresh_tokens", refresh_cols, NULL),
	TABLE("authorization_codes", codes_cols, "code_hash"),
	TABLE("sessions", sessions_cols, "session_hash"),
	TABLE("consents", consents_cols, "user_id, client_id"),
};
const size_t store_copy_ntables =
    sizeof(store_copy_tables) / sizeof(store_copy_tables[0]);

const struct store_copy_exclusion store_copy_excluded[] = {
	{"schema_migrations", "the destination records its own migrations "
	 "(with its dialect's checksums) when it is migrated"},
	{"throttle", "transient counts of failed attempts (PostgreSQL only), "
	 "gone within a failure window; a copy starts with none"},
	{"refresh_tokens.seq", "PostgreSQL's insertion order: the rows are "
	 "written in that order and numbered anew"},
};
const size_t store_copy_nexcluded =
    sizeof(store_copy_excluded) / sizeof(store_copy_excluded[0]);

void store_copy_col_list(const struct store_copy_table *t, char *buf,
                         size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 0; i < t->ncols && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
		                      t->cols[i].name);
}

/* ---- the copy ------------------------------------------------------------ */

struct pump {
	const struct store_copy_methods *m;
	struct store_copy *dst;
	enum store_rc rc;
	int64_t rows;
};

static int pump_row(const struct store_value *row, void *arg)
{
	struct pump *p = arg;
	p->rc = p->m->xWriteRow(p->dst, row);
	if (p->rc != STORE_OK)
		return 1;
	p->rows++;
	return 0;
}

/* Moves table t and checks its counts; err names what went wrong. */
static enum store_rc copy_table(struct store *from, struct store_copy *src,
                                struct store *to, struct store_copy *dst,
                                const struct store_copy_table *t,
                                int64_t *count, char *err, size_t errlen)
{
	int64_t in_src = 0, in_dst = 0;
	struct pump p = {to->ops->copy, dst, STORE_OK, 0};
	enum store_rc r = from->ops->copy->xCount(src, t, &in_src);
	if (r != STORE_OK) {
		snprintf(err, errlen, "counting %s in the source: %s", t->name,
		         store_rc_str(r));
		return r;
	}
	r = p.m->xWriteStart(dst, t);
	if (r == STORE_OK)
		r = from->ops->copy->xRead(src, t, pump_row, &p);
	if (r == STORE_OK)
		r = p.rc;
	if (r == STORE_OK)
		r = p.m->xWriteEnd(dst);
	if (r != STORE_OK) {
		/* Which side failed says itself in its why. */
		const char *why = dst->why[0] ? dst->why : src->why;
		snprintf(err, errlen, "copying %s (after %" PRId64 " of %" PRId64
		         " rows): %s%s%s", t->name, p.rows, in_src,
		         store_rc_str(r), why[0] ? ": " : "", why);
		return r;
	}
	r = p.m->xCount(dst, t, &in_dst);
	if (r == STORE_OK && (in_dst != in_src || p.rows != in_src)) {
		snprintf(err, errlen, "%s: the source has %" PRId64 " rows, %"
		         PRId64 " were read and the destination has %" PRId64,
		         t->name, in_src, p.rows, in_dst);
		return STORE_IO;
	}
	*count = in_dst;
	return r;
}

/* STORE_OK when s is at this binary's schema version; else err says
 * what to do. */
static enum store_rc check_schema(struct store *s, const char *side,
                                  char *err, size_t errlen)
{
	int db = 0, binary = 0;
	enum store_rc r = store_schema_version(s, &db, &binary);
	if (r != STORE_OK) {
		snprintf(err, errlen, "reading the %s's schema version: %s", side,
		         store_rc_str(r));
		return r;
	}
	if (db > binary) {
		snprintf(err, errlen, "the %s has schema version %d, newer than "
		         "this Latchkey's %d: copy with the newer Latchkey", side,
		         db, binary);
		return STORE_SCHEMA_NEWER;
	}
	if (db < binary) {
		snprintf(err, errlen, "the %s has schema version %d, older than "
		         "this Latchkey's %d: run 'latchkey --db %s migrate' "
		         "first", side, db, binary,
		         strcmp(side, "source") == 0 ? "SOURCE" : "DEST");
		return STORE_INVALID;
	}
	return STORE_OK;
}

/* The destination must hold nothing the copy would write. */
static enum store_rc check_empty(struct store *to, struct store_copy *dst,
                                 char *err, size_t errlen)
{
	for (size_t i = 0; i < store_copy_ntables; i++) {
		int64_t n = 0;
		const struct store_copy_table *t = &store_copy_tables[i];
		enum store_rc r = to->ops->copy->xCount(dst, t, &n);
		if (r != STORE_OK) {
			snprintf(err, errlen, "counting %s in the destination: "
			         "%s", t->name, store_rc_str(r));
			return r;
		}
		if (n > 0) {
			snprintf(err, errlen, "the destination is not empty: %s "
			         "has %" PRId64 " row(s); copy only into a new "
			         "database", t->name, n);
			return STORE_CONFLICT;
		}
	}
	return STORE_OK;
}

enum store_rc store_copy(struct store *from, struct store *to,
                         int64_t *counts, char *err, size_t errlen)
{
	struct store_copy *src = NULL, *dst = NULL;
	char why[256] = "";
	memset(counts, 0, store_copy_ntables * sizeof(*counts));
	if (from->ops->copy == NULL || to->ops->copy == NULL) {
		snprintf(err, errlen, "the %s backend cannot copy",
		         from->ops->copy == NULL ? from->ops->name
		                                 : to->ops->name);
		return STORE_INVALID;
	}
	enum store_rc r = check_schema(from, "source", err, errlen);
	if (r == STORE_OK)
		r = check_schema(to, "destination", err, errlen);
	if (r != STORE_OK)
		return r;
	r = from->ops->copy->xBegin(from, false, &src, why, sizeof(why));
	if (r != STORE_OK) {
		snprintf(err, errlen, "reading the source: %s",
		         why[0] ? why : store_rc_str(r));
		return r;
	}
	r = to->ops->copy->xBegin(to, true, &dst, why, sizeof(why));
	if (r != STORE_OK) {
		snprintf(err, errlen, "writing the destination: %s",
		         why[0] ? why : store_rc_str(r));
		from->ops->copy->xEnd(src, false, NULL, 0);
		return r;
	}
	r = check_empty(to, dst, err, errlen);
	for (size_t i = 0; r == STORE_OK && i < store_copy_ntables; i++)
		r = copy_table(from, src, to, dst, &store_copy_tables[i],
		               &counts[i], err, errlen);
	from->ops->copy->xEnd(src, false, NULL, 0);
	enum store_rc end = to->ops->copy->xEnd(dst, r == STORE_OK, why,
	                                        sizeof(why));
	if (r == STORE_OK && end != STORE_OK) {
		snprintf(err, errlen, "committing the destination: %s",
		         why[0] ? why : store_rc_str(end));
		r = end;
	}
	return r;
}
