/*
 * login.c: checks a username and password, for the password grant and the
 * login page of /authorize alike.
 *
 * A wrong username and a wrong password get the same answer after the same
 * Argon2id work (a dummy hash for unknown users). Failures are counted per
 * username and per client address. Each attempt is reserved in the
 * throttle before Argon2id runs (throttle.h), so at most
 * login_max_failures passwords are ever checked per username in a window,
 * however many arrive at once; past the limit an attempt is refused
 * before any Argon2id run, so guessing costs us nothing.
 */
#include "grants_int.h"
#include "log.h"
#include "secret.h"

struct oauth_result user_login(struct grants *g, const char *username,
                               const char *password, const char *remote_addr,
                               const char *client_id, struct store_user *u)
{
	/* The attempt is reserved before Argon2id runs (defect 7 of issue
	 * 12): with the check after the hash, 40 concurrent attempts all
	 * passed a limit of 5. A success forgets the username's failures,
	 * never the address's (one account of one's own must not reset an
	 * address that guesses at others). */
	const struct throttle_key keys[] = {
		{"user", username, 0, g->login_max_failures, true},
		{"addr", remote_addr && remote_addr[0] ? remote_addr : NULL, 0,
		 g->login_max_failures_per_address, false},
	};
	struct throttle_ticket tk;
	enum throttle_verdict v = throttle_reserve(g->throttle, keys, 2, &tk);
	if (v == THROTTLE_UNAVAILABLE)
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	if (v != THROTTLE_GO) {
		log_security("login throttled for a %s (client %s)",
		             tk.stopped_by == 0 ? "username" : "client address",
		             client_id);
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, LOGIN_THROTTLED);
	}
	enum store_rc rc = store_user_get(g->store, username, u);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		throttle_release(g->throttle, &tk, false);
		log_errx("user lookup: %s", store_rc_str(rc));
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	}
	if (!kdf_slot_take(g)) {
		throttle_release(g->throttle, &tk, false);
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
		throttle_commit(g->throttle, &tk);
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, LOGIN_WRONG);
	}
	throttle_release(g->throttle, &tk, true);
	return OAUTH_RESULT_OK;
}
