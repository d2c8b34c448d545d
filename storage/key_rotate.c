/*
 * key_rotate.c: the two steps of a staged key rotation as a person asks
 * for them, from the CLI (`latchkey key add --next`, `key rotate`) or the
 * admin API (POST /admin/keys, /admin/keys/rotate): one rule for both.
 * The schedule of key_rotation_interval (grants/key_schedule.c) takes
 * the same store steps with its own compare-and-set conditions.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "keys.h"
#include "store.h"
#include "strutil.h"

/* A new key of alg made now, its kid the RFC 7638 thumbprint. */
static enum store_rc make(const char *alg, int64_t now, struct store_key *k)
{
	enum key_alg a;
	memset(k, 0, sizeof(*k));
	if (key_alg_parse(alg, &a) != 0 ||
	    key_make(a, &k->kid, &k->private_pem) != 0)
		return STORE_INVALID;
	k->alg = xstrdup(key_alg_name(a));
	k->created_at = now;
	return STORE_OK;
}

enum store_rc store_key_publish_next(struct store *s, const char *alg,
                                     int64_t now, struct store_key *out,
                                     char **replaced_kid)
{
	struct store_key old = {0};
	*replaced_kid = NULL;
	enum store_rc rc = store_key_next(s, alg, &old);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		return rc;
	rc = make(alg, now, out);
	if (rc == STORE_OK)
		rc = store_key_add_next(s, out, false);
	if (rc == STORE_OK) {
		*replaced_kid = old.kid;
		old.kid = NULL;
	}
	store_key_clear(&old);
	return rc;
}

enum store_rc store_key_rotate(struct store *s, const char *alg, int64_t now,
                               struct store_key *out, char **previous_kid,
                               bool *promoted)
{
	struct store_key prev = {0};
	*previous_kid = NULL;
	*promoted = false;
	memset(out, 0, sizeof(*out));
	enum store_rc rc = store_key_current(s, alg, &prev);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		return rc;
	/* The published next key, when there is one; else a new key. */
	rc = store_key_next(s, alg, out);
	if (rc == STORE_OK) {
		rc = store_key_promote(s, alg, out->kid, now);
		*promoted = rc == STORE_OK;
		if (rc == STORE_NOT_FOUND) /* promoted or replaced meanwhile */
			rc = STORE_CONFLICT;
	} else if (rc == STORE_NOT_FOUND) {
		rc = make(alg, now, out);
		if (rc == STORE_OK)
			rc = store_key_add_current(s, out);
	}
	out->retired_at = 0;
	*previous_kid = prev.kid;
	prev.kid = NULL;
	store_key_clear(&prev);
	return rc;
}
