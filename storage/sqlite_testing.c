/*
 * sqlite_testing.c: the SQLite backend's test-double table (struct
 * store_test_methods): what tests and the test double (--ephemeral,
 * /_control/) call and production code never does. Kept apart so the
 * production tables hold only what the server and the CLI use.
 */
#include <stddef.h>

#include "sqlite_int.h"

/* Records one access token outside an issue, in a transaction of its own
 * (autocommit). */
static enum store_rc sq_token_add(struct store *s, const struct store_token *t)
{
	return sq_token_insert(sq_conn_get(s), t);
}

static enum store_rc sq_session_remove(struct store *s, const char *hash)
{
	return sq_delete_by(s, ST_SESSION_REMOVE, hash);
}

static enum store_rc sq_reset_tokens(struct store *s)
{
	static const char sql[] =
	    "DELETE FROM access_tokens; DELETE FROM refresh_tokens;"
	    "DELETE FROM authorization_codes; DELETE FROM sessions;"
	    "DELETE FROM consents;";
	struct conn *cn = sq_conn_get(s);
	if (cn == NULL)
		return STORE_IO;
	enum store_rc r = sq_begin(cn);
	if (r != STORE_OK)
		return r;
	r = store_sqlite_rc(sqlite3_exec(cn->db, sql, NULL, NULL, NULL));
	return sq_finish(cn, r);
}


const struct store_test_methods sq_test_methods = {
	.xTokenAdd = sq_token_add,
	.xSessionRemove = sq_session_remove,
	.xResetTokens = sq_reset_tokens,
};
