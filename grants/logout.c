/*
 * logout.c: the decisions of the logout endpoint (OpenID Connect
 * RP-Initiated Logout 1.0). The server parses the request and renders what
 * this decides: an error page, the confirmation page, the "signed out"
 * page or a redirect to the client's post_logout_redirect_uri.
 *
 * As at /authorize, nothing is redirected until the client and the URI are
 * known good: a post_logout_redirect_uri must be registered for the client
 * that id_token_hint or client_id names (the rule of redirect URIs,
 * redirect_uri_registered), so the endpoint cannot send a browser
 * anywhere. Bad input is an error page.
 *
 * Who is signed out (section 2: the OP asks the person unless the request
 * is known to come for the browser's own session): only ever the
 * browser's own session, the one its cookie names; never another
 * browser's because a hint names it (a hint is no proof that this browser
 * holds it, and anyone can send one). With a valid id_token_hint (an ID
 * token we signed, expired or not):
 *  - no live session in the browser: nothing to end, the signed-out page
 *    or the redirect at once;
 *  - the browser's session is the hint's (its sid; a hint without sid:
 *    the session's user is the hint's sub): it ends at once;
 *  - any other session: the confirmation page, and after the person
 *    confirms, the browser's session ends.
 * Without a hint, always the confirmation page first. When the client
 * named has logout_revokes_refresh_tokens, the refresh tokens that client
 * got from the ended session's logins (refresh_tokens.sid) are revoked
 * too, with their access tokens; other clients' families stay, each
 * client choosing with its own setting.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"

void logout_result_clear(struct logout_result *r)
{
	free(r->redirect);
	free(r->client_name);
	free(r->client_id);
	memset(r, 0, sizeof(*r));
}

/* What one call works with. */
struct lo {
	struct grants *g;
	const struct logout_request *rq;
	struct logout_result *out;
	struct id_token_hint hint; /* hint.sub set: a valid hint */
	struct store_client cl;    /* cl.client_id set: the client named */
	struct store_session se;   /* se.sid set: the browser's session */
};

static void error_page(struct lo *l, enum oauth_err e, const char *message)
{
	l->out->outcome = LOGOUT_ERROR_PAGE;
	l->out->error = e;
	l->out->message = message;
}

static void store_error_page(struct lo *l, enum store_rc rc, const char *what)
{
	struct oauth_result r = oauth_from_store(rc, what, OAUTH_RESULT_OK);
	error_page(l, r.err, "The server is temporarily unable to sign you "
	           "out. Try again in a moment.");
}

/* The hint and the client: 0, or -1 after choosing the error page. */
static int read_hint_and_client(struct lo *l)
{
	const struct logout_request *rq = l->rq;
	if (rq->id_token_hint != NULL &&
	    id_token_hint_read(l->g, rq->id_token_hint, &l->hint) != 0) {
		error_page(l, OAUTH_INVALID_REQUEST, "The id_token_hint is not "
		           "an ID token of this server.");
		return -1;
	}
	const char *client_id = rq->client_id;
	/* /authorize's value rule before the lookup: text that is not
	 * UTF-8 names no client on either backend (PostgreSQL would refuse
	 * it where SQLite finds nothing). */
	if (!param_value_ok(client_id, 256)) {
		error_page(l, OAUTH_INVALID_REQUEST, "The application asking "
		           "to sign you out is not known here.");
		return -1;
	}
	if (client_id != NULL && l->hint.client_id != NULL &&
	    strcmp(client_id, l->hint.client_id) != 0) {
		error_page(l, OAUTH_INVALID_REQUEST, "The id_token_hint was "
		           "issued to another application than client_id.");
		return -1;
	}
	if (client_id == NULL)
		client_id = l->hint.client_id;
	if (client_id == NULL)
		return 0;
	enum store_rc rc = store_client_get(l->g->store, client_id, &l->cl);
	if (rc == STORE_NOT_FOUND) {
		error_page(l, OAUTH_INVALID_REQUEST, "The application asking "
		           "to sign you out is not known here.");
		return -1;
	}
	if (rc != STORE_OK) {
		store_error_page(l, rc, "reading the logout's client");
		return -1;
	}
	if (l->cl.disabled_at != 0) {
		/* As /authorize: nothing is sent back to a disabled client.
		 * A logout without client_id or hint still works. */
		error_page(l, OAUTH_INVALID_REQUEST, "The application asking "
		           "to sign you out is disabled.");
		return -1;
	}
	l->out->client_id = xstrdup(l->cl.client_id);
	l->out->client_name = xstrdup(l->cl.name != NULL && l->cl.name[0]
	                                  ? l->cl.name : l->cl.client_id);
	return 0;
}

/* post_logout_redirect_uri: registered for the client, or an error page
 * (never a redirect to a URI that is not). 0, or -1. */
static int check_redirect(struct lo *l)
{
	const char *uri = l->rq->post_logout_redirect_uri;
	if (uri == NULL)
		return 0;
	if (l->cl.client_id == NULL) {
		error_page(l, OAUTH_INVALID_REQUEST, "The request has a "
		           "post_logout_redirect_uri but names no application "
		           "(client_id or id_token_hint).");
		return -1;
	}
	if (!redirect_uri_registered(l->cl.post_logout_redirect_uris, uri)) {
		error_page(l, OAUTH_INVALID_REQUEST, "The "
		           "post_logout_redirect_uri is not registered for this "
		           "application.");
		return -1;
	}
	return 0;
}

/* The browser's session, if its cookie names a live one. 0, or -1 after
 * choosing the error page (the database failed). */
static int read_session(struct lo *l)
{
	char hash[2 * SHA256_LEN + 1];
	if (l->rq->session == NULL)
		return 0;
	token_hash(l->rq->session, hash);
	enum store_rc rc = store_session_get(l->g->store, hash, clock_now(),
	                                     &l->se);
	if (rc == STORE_NOT_FOUND)
		return 0;
	if (rc != STORE_OK) {
		store_error_page(l, rc, "reading the session to end");
		return -1;
	}
	return 0;
}

/* Ends the session sid and, when the client asks for it, revokes the
 * refresh tokens of its logins. 0, or -1 after choosing the error page. */
static int end_session(struct lo *l, const char *sid)
{
	int n = 0, revoked = 0;
	enum store_rc rc = store_session_end(l->g->store, sid, &n);
	if (rc == STORE_OK && l->cl.client_id != NULL &&
	    l->cl.logout_revokes_refresh_tokens)
		rc = store_refresh_revoke_sid(l->g->store, sid,
		                              l->cl.client_id, clock_now(),
		                              &revoked);
	if (rc != STORE_OK) {
		store_error_page(l, rc, "ending a session");
		return -1;
	}
	if (n > 0 || revoked > 0)
		log_info("session %s ended by logout%s%s (%d token(s) "
		         "revoked)", sid, l->cl.client_id ? " for client " : "",
		         l->cl.client_id ? l->cl.client_id : "", revoked);
	return 0;
}

/* Whether the browser's (live) session is the one the hint was issued
 * in: the same sid, or, for a hint without sid, the same user. */
static bool session_is_hints(const struct lo *l)
{
	if (l->hint.sid != NULL)
		return strcmp(l->se.sid, l->hint.sid) == 0;
	return strcmp(l->se.user_id, l->hint.sub) == 0;
}

/* Ends the browser's session, if live (the caller has decided it may),
 * then says where the browser goes. */
static void sign_out(struct lo *l)
{
	if (l->se.sid != NULL && end_session(l, l->se.sid) != 0)
		return;
	/* The session is over (ended now, or not live): the cookie goes. */
	l->out->end_cookie = l->rq->session != NULL;
	if (l->rq->post_logout_redirect_uri == NULL) {
		l->out->outcome = LOGOUT_DONE;
		return;
	}
	char *url = xstrdup(l->rq->post_logout_redirect_uri);
	if (l->rq->state != NULL)
		url_add_param(&url, "state", l->rq->state);
	l->out->outcome = LOGOUT_REDIRECT;
	l->out->redirect = url;
}

void grants_logout(struct grants *g, const struct logout_request *rq,
                   struct logout_result *out)
{
	struct lo l = {.g = g, .rq = rq, .out = out};
	memset(out, 0, sizeof(*out));
	if (rq->repeated != NULL)
		error_page(&l, OAUTH_INVALID_REQUEST, "The request repeats a "
		           "parameter.");
	else if (read_hint_and_client(&l) == 0 && check_redirect(&l) == 0 &&
	         read_session(&l) == 0) {
		/* At once: the person confirmed, there is nothing to end,
		 * or a valid hint names the browser's own session. */
		if (rq->confirmed ||
		    (l.hint.sub != NULL &&
		     (l.se.sid == NULL || session_is_hints(&l))))
			sign_out(&l);
		else
			out->outcome = LOGOUT_CONFIRM;
	}
	id_token_hint_clear(&l.hint);
	store_client_clear(&l.cl);
	store_session_clear(&l.se);
}
