/*
 * oauth_store.c: the one mapping from a storage result (enum store_rc,
 * store.h) to an OAuth result (DECISIONS "Store interface"; STYLE.md
 * section 4, "One mapping, used everywhere"). Every grant that reads or
 * writes the store turns a failure into an answer here, so a database
 * that is down, busy or failing gets the same answer on every endpoint.
 * Owns nothing; logs what it maps, never a secret.
 */
#include "grants_int.h"
#include "log.h"

struct oauth_result oauth_from_store(enum store_rc rc, const char *what,
                                     struct oauth_result not_found)
{
	/* A switch with no default: -Wswitch names a store result added
	 * without an answer here. */
	switch (rc) {
	case STORE_OK:
		return OAUTH_RESULT_OK;
	case STORE_NOT_FOUND:
		return not_found;
	/* Passing: the client may try again, so 503 (respond.c adds
	 * Retry-After to every 5xx). RFC 6749 section 4.1.2.1 names
	 * temporarily_unavailable; the token endpoint uses it alike. */
	case STORE_UNAVAILABLE:
	case STORE_BUSY:
	case STORE_IO:
		log_errx("%s: %s", what, store_rc_str(rc));
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	/* Not passing either, but the request's fault: it carried a value
	 * the database cannot hold (PostgreSQL refuses text that is not
	 * UTF-8), so asking again cannot help. */
	case STORE_BAD_VALUE:
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST,
		                  "a parameter is not valid UTF-8");
	/* Not passing: a conflict nobody expected (the issue handles its
	 * own, grants/issue.c), a schema or a store this binary cannot
	 * use. */
	case STORE_CONFLICT:
	case STORE_STALE:
	case STORE_SCHEMA_NEWER:
	case STORE_SCHEMA_EDITED:
	case STORE_INVALID:
		break;
	}
	log_errx("%s: %s", what, store_rc_str(rc));
	return OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL);
}

struct oauth_result oauth_from_store_write(enum store_rc rc, const char *what)
{
	if (rc == STORE_NOT_FOUND)
		log_errx("%s: %s", what, store_rc_str(rc));
	return oauth_from_store(rc, what, OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL));
}
