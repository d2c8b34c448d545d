/*
 * sqlite_testing.c: the SQLite backend's test-double table (struct
 * store_test_methods): the reset of --test-double's /_control/reset,
 * which the production paths never call. Kept apart so the production
 * tables hold only what the server's grants and the CLI use.
 */
#include <stddef.h>

#include "sqlite_int.h"

static enum store_rc sq_reset_tokens(struct store *s)
{
	static const char sql[] =
	    "DELETE FROM access_tokens; DELETE FROM refresh_tokens;"
	    "DELETE FROM authorization_codes; DELETE FROM sessions;"
	    "DELETE FROM consents; DELETE FROM used_jtis;"
	    "DELETE FROM device_codes;";
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
	.xResetTokens = sq_reset_tokens,
};
