/*
 * login.c: checks a username and password, for the password grant and the
 * login page of /authorize alike.
 *
 * A wrong username and a wrong password get the same answer after the same
 * Argon2id work (a dummy hash for unknown users). Failures are counted per
 * username and per client address; past the limit an attempt is refused
 * before any Argon2id run, so guessing costs us nothing.
 */
#include "grants_int.h"
#include "log.h"
#include "secret.h"

struct oauth_result user_login(struct grants *g, const char *username,
                               const char *password, const char *remote_addr,
                               const char *client_id, struct store_user *u)
{
	if (throttle_failures(g->throttle, "user", username) >=
	        g->login_max_failures ||
	    throttle_failures(g->throttle, "addr", remote_addr) >=
	        g->login_max_failures_per_address) {
		log_security("login throttled for a username or address "
		             "(client %s)", client_id);
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, LOGIN_THROTTLED);
	}
	enum store_rc rc = store_user_get(g->store, username, u);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		log_errx("user lookup: %s", store_rc_str(rc));
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	}
	if (!kdf_slot_take(g)) {
		store_user_clear(u);
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	}
	bool ok;
	if (rc == STORE_NOT_FOUND) {
		secret_burn_equal_time(password);
		ok = false;
	} else {
		ok = secret_verify(u->password_hash, password) == SECRET_OK;
	}
	kdf_slot_give(g);
	if (!ok) {
		store_user_clear(u);
		throttle_fail(g->throttle, "user", username);
		throttle_fail(g->throttle, "addr", remote_addr);
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, LOGIN_WRONG);
	}
	throttle_clear(g->throttle, "user", username);
	return OAUTH_RESULT_OK;
}
