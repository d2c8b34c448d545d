/*
 * session.c: the browser's login session, which /authorize and the
 * device page (device.c) share: reading the session cookie, the login
 * form's check, and the new session a login at either starts. The cookie
 * itself is the server's (server/authorize.c, server/device.c); here it
 * is a value, kept in the store only as a hash.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"

#define SESSION_BYTES 32
#define SID_BYTES 16 /* a session's public id (the sid claim) */

void browser_login_clear(struct browser_login *l)
{
	store_user_clear(&l->user);
	free(l->sid);
	free(l->amr);
	memset(l, 0, sizeof(*l));
}

enum store_rc session_read(struct grants *g, const char *cookie,
                           struct browser_login *l)
{
	struct store_session se = {0};
	char hash[2 * SHA256_LEN + 1];
	if (cookie == NULL)
		return STORE_NOT_FOUND;
	token_hash(cookie, hash);
	enum store_rc rc = store_session_get(g->store, hash, clock_now(), &se);
	if (rc == STORE_OK)
		rc = store_user_get_by_id(g->store, se.user_id, &l->user);
	if (rc == STORE_OK) {
		l->auth_time = se.auth_time;
		l->sid = se.sid;
		l->amr = se.amr;
		se.sid = se.amr = NULL;
	}
	store_session_clear(&se);
	return rc;
}

/* Ends the session sid that a new login replaced in this browser. */
static struct oauth_result end_previous(struct grants *g, const char *sid)
{
	int n = 0;
	enum store_rc rc = store_session_end(g->store, sid, &n);
	if (rc != STORE_OK)
		return oauth_from_store_write(rc, "ending the previous session");
	if (n > 0)
		log_info("session %s replaced by a new login", sid);
	return OAUTH_RESULT_OK;
}

struct oauth_result session_start(struct grants *g, struct browser_login *l,
                                  char **cookie)
{
	char hash[2 * SHA256_LEN + 1];
	char *c = crypto_random_token(SESSION_BYTES);
	char *sid = crypto_random_id(SID_BYTES);
	*cookie = NULL;
	if (c == NULL || sid == NULL) {
		crypto_free_str(c);
		free(sid);
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	}
	int64_t now = clock_now();
	token_hash(c, hash);
	struct store_session se = {
		.session_hash = hash, .user_id = l->user.user_id,
		.auth_time = now, .expires_at = now + g->session_ttl,
		.sid = sid, .amr = "pwd",
	};
	enum store_rc rc = store_session_add(g->store, &se);
	if (rc != STORE_OK) {
		crypto_free_str(c);
		free(sid);
		return oauth_from_store_write(rc, "recording a session");
	}
	/* The browser's previous session (NULL when none was live) ends
	 * with this login: the new cookie replaces its cookie, and a
	 * session nobody holds must not stay live. */
	char *old_sid = l->sid;
	l->sid = sid;
	l->auth_time = now;
	free(l->amr);
	l->amr = xstrdup("pwd");
	*cookie = c;
	struct oauth_result r = OAUTH_RESULT_OK;
	if (old_sid != NULL)
		r = end_previous(g, old_sid);
	free(old_sid);
	return r;
}

enum login_outcome session_login(struct grants *g, struct browser_login *l,
                                 const struct login_form *f, char **cookie,
                                 const char **message, struct oauth_result *r)
{
	*cookie = NULL;
	*message = NULL;
	*r = OAUTH_RESULT_OK;
	store_user_clear(&l->user);
	if (f->username == NULL || f->password == NULL) {
		*message = "Enter your username and password.";
		return LOGIN_ASK_AGAIN;
	}
	struct oauth_result lr = user_login(g, f->username, f->password,
	                                    f->remote_addr, f->client_id,
	                                    &l->user);
	if (lr.err != OAUTH_OK) {
		*message = lr.err != OAUTH_INVALID_GRANT
		               ? "The server is busy. Try again shortly."
		           : strcmp(lr.description, LOGIN_THROTTLED) == 0
		               ? "Too many failed attempts. Try again later."
		               : "The username or password is wrong.";
		return LOGIN_ASK_AGAIN;
	}
	*r = session_start(g, l, cookie);
	return r->err == OAUTH_OK ? LOGIN_SIGNED_IN : LOGIN_BROKEN;
}
