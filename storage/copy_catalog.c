/*
 * copy_catalog.c: the catalogue of what `latchkey copy` moves (every
 * table of the schema, its columns and their types, in an order in which
 * the foreign keys hold) and of what it leaves out on purpose. The
 * backends' copy code (sqlite_copy.c, pg_copy.c) reads and writes rows of
 * a catalogue table as typed values and knows nothing of which tables
 * exist; copy.c drives one backend into the other table by table.
 *
 * tests/e2e/test_copy.py reads the real schema of both backends after
 * migration and fails when a table or column is neither here nor in
 * store_copy_excluded, so a migration that adds one must say here whether
 * it moves.
 */
#include <stdio.h>

#include "store_int.h"

#define T(n) {#n, STORE_COL_TEXT}
#define I(n) {#n, STORE_COL_INT}
#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct store_copy_column clients_cols[] = {
	T(client_id), T(name), T(secret_hash), I(is_public), T(grant_types),
	T(scopes), T(redirect_uris), I(access_token_ttl),
	I(refresh_token_ttl), I(created_at), I(updated_at),
	I(issue_refresh_token), T(on_refresh), T(auto_approve_as),
	T(audiences), I(introspect), I(secret_version),
	T(id_token_signed_response_alg), I(require_nonce),
	T(post_logout_redirect_uris), I(logout_revokes_refresh_tokens),
	T(access_token_claims), T(release_claims), I(disabled_at),
	T(previous_secret_hash), I(previous_secret_expires_at),
	I(is_admin), T(jwks), T(token_endpoint_auth_method),
	T(jwks_uri), I(require_dpop), T(tls_client_auth_subject_dn),
	T(tls_client_auth_san_dns), T(tls_client_auth_san_uri)};
static const struct store_copy_column users_cols[] = {
	T(user_id), T(username), T(password_hash), I(created_at),
	I(updated_at), T(claims)};
static const struct store_copy_column keys_cols[] = {
	T(kid), T(alg), T(private_pem), I(created_at), I(retired_at)};
static const struct store_copy_column access_cols[] = {
	T(jti), T(client_id), T(subject), T(scope), T(kid), I(issued_at),
	I(expires_at), I(revoked_at), T(family_id)};
static const struct store_copy_column refresh_cols[] = {
	T(token_hash), T(family_id), T(client_id), T(subject), T(username),
	T(scope), T(access_jti), I(issued_at), I(expires_at), I(retired_at),
	I(revoked_at), I(auth_time), T(sid), T(amr), T(dpop_jkt)};
static const struct store_copy_column codes_cols[] = {
	T(code_hash), T(client_id), T(subject), T(username), T(redirect_uri),
	T(scope), T(code_challenge), T(code_challenge_method), I(issued_at),
	I(expires_at), I(used_at), T(family_id), T(resource), T(nonce),
	I(auth_time), T(sid), T(amr), T(dpop_jkt)};
static const struct store_copy_column sessions_cols[] = {
	T(session_hash), T(user_id), I(auth_time), I(expires_at), T(sid),
	T(amr)};
static const struct store_copy_column audit_cols[] = {
	I(at), T(actor), T(address), T(action), T(object), T(changes)};
/* Copied so that an assertion used before a move is not accepted again
 * after it (issue 19). */
static const struct store_copy_column jtis_cols[] = {
	T(jti_hash), I(expires_at)};
/* Copied: a device login under way survives a move, and a device code
 * that gave tokens is not redeemed again after it. */
static const struct store_copy_column devices_cols[] = {
	T(device_code_hash), T(user_code_hash), T(client_id), T(scope),
	I(issued_at), I(expires_at), I(poll_interval), I(last_polled_at),
	I(decided_at), I(approved), T(user_id), T(username), I(auth_time),
	T(sid), T(amr), I(used_at), T(family_id)};
static const struct store_copy_column issuers_cols[] = {
	T(issuer), T(client_id), T(jwks), T(jwks_uri), T(audience),
	I(created_at)};
static const struct store_copy_column resources_cols[] = {
	T(resource), T(audience), T(scopes), I(access_token_ttl),
	I(created_at)};
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
	TABLE("audit_events", audit_cols, "id"),
	TABLE("used_jtis", jtis_cols, "jti_hash"),
	TABLE("device_codes", devices_cols, "device_code_hash"),
	TABLE("trusted_issuers", issuers_cols, "issuer"),
	TABLE("resources", resources_cols, "resource"),
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
	{"audit_events.id", "the order events happened in: the rows are "
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

void store_copy_count_sql(const struct store_copy_table *t, char *sql,
                          size_t len)
{
	snprintf(sql, len, "SELECT count(*) FROM %s", t->name);
}

enum store_rc store_copy_select_sql(const struct store_copy_table *t,
                                    const char *insertion_order, char *sql,
                                    size_t len)
{
	char cols[1024];
	if (t->ncols > STORE_COPY_MAX_COLS)
		return STORE_INVALID;
	store_copy_col_list(t, cols, sizeof(cols));
	snprintf(sql, len, "SELECT %s FROM %s ORDER BY %s", cols, t->name,
	         t->order_by ? t->order_by : insertion_order);
	return STORE_OK;
}
