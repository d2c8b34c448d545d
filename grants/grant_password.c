/*
 * grant_password.c: RFC 6749 section 4.3, the resource owner password
 * grant, for clients registered for it. The token's subject is the user's
 * stable id.
 *
 * A wrong username and a wrong password get the same invalid_grant after
 * the same Argon2id work (a dummy hash for unknown users). Failures are
 * counted per username and per client address; past the limit an attempt
 * is refused before any Argon2id run, so guessing costs us nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "grants_int.h"
#include "log.h"
#include "secret.h"

static const char bad_login[] = "the username or password is wrong";

struct oauth_result grant_password(struct grants *g,
                                   const struct token_request *rq,
                                   const struct store_client *cl,
                                   struct token_response *out)
{
	struct store_user u = {0};
	char *scope = NULL;

	if (rq->username == NULL || rq->password == NULL)
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST,
		                  "username and password are required");
	struct oauth_result r = scope_grant(rq->scope, cl->scopes, &scope);
	if (r.err != OAUTH_OK)
		return r;

	if (throttle_failures(g->throttle, "user", rq->username) >=
	        g->login_max_failures ||
	    throttle_failures(g->throttle, "addr", rq->remote_addr) >=
	        g->login_max_failures_per_address) {
		log_security("login throttled for a username or address "
		             "(client %s)", cl->client_id);
		free(scope);
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, "too many failed attempts; "
		                  "try again later");
	}

	enum store_rc rc = store_user_get(g->store, rq->username, &u);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		free(scope);
		log_errx("user lookup: %s", store_rc_str(rc));
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	}
	if (!kdf_slot_take(g)) {
		store_user_clear(&u);
		free(scope);
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	}
	bool ok;
	if (rc == STORE_NOT_FOUND) {
		secret_burn_equal_time(rq->password);
		ok = false;
	} else {
		ok = secret_verify(u.password_hash, rq->password) == SECRET_OK;
	}
	kdf_slot_give(g);

	if (!ok) {
		throttle_fail(g->throttle, "user", rq->username);
		throttle_fail(g->throttle, "addr", rq->remote_addr);
		r = OAUTH_FAIL(OAUTH_INVALID_GRANT, bad_login);
	} else {
		throttle_clear(g->throttle, "user", rq->username);
		struct issue_opts o = {
			.subject = u.user_id, .username = u.username, .scope = scope,
			.with_refresh = refresh_enabled(g, cl),
		};
		r = token_issue(g, cl, &o, out);
	}
	store_user_clear(&u);
	free(scope);
	return r;
}
