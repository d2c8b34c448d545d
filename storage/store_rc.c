/*
 * store_rc.c: the text of each storage result (enum store_rc, store.h),
 * for logs and the CLI's messages. A switch with no default, so -Wswitch
 * names a result added without its text.
 */
#include "store.h"

const char *store_rc_str(enum store_rc rc)
{
	switch (rc) {
	case STORE_OK: return "ok";
	case STORE_NOT_FOUND: return "not found";
	case STORE_CONFLICT: return "already exists or still referenced";
	case STORE_BUSY: return "database is busy";
	case STORE_IO: return "database I/O error";
	case STORE_SCHEMA_NEWER: return "database schema is newer than this binary";
	case STORE_SCHEMA_EDITED: return "an applied migration was edited";
	case STORE_INVALID: return "cannot open database";
	case STORE_UNAVAILABLE: return "database unavailable";
	case STORE_BAD_VALUE: return "text that is not valid UTF-8 cannot be stored";
	case STORE_STALE: return "the client changed since it was read";
	}
	return "unknown storage error";
}
