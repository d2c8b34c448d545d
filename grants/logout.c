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
 * Who is signed out: with a valid id_token_hint (an ID token we signed,
 * expired or not), at once, the session the hint names (its sid) and the
 * browser's session when it is the hint's user's; another user's session
 * in the browser is left alone. Without a hint, only after the person
 * confirms (section 2: the OP should ask), the browser's session. When the
 * client named has logout_revokes_refresh_tokens, every refresh token
 * issued from an ended session's logins (refresh_tokens.sid) is revoked
 * too, with its access tokens: the session is over for every client.
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
		rc = store_refresh_revoke_sid(l->g->store, sid, clock_now(),
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

/* Signs out, then says where the browser goes. */
static void sign_out(struct lo *l)
{
	const char *hint_sid = l->hint.sid;
	if (hint_sid != NULL && end_session(l, hint_sid) != 0)
		return;
	/* The browser's session: with a hint only when it is the hint's
	 * user's (and not already ended as the hint's sid). */
	if (l->se.sid != NULL &&
	    (l->hint.sub == NULL || strcmp(l->se.user_id, l->hint.sub) == 0) &&
	    (hint_sid == NULL || strcmp(l->se.sid, hint_sid) != 0) &&
	    end_session(l, l->se.sid) != 0)
		return;
	/* Whatever became of its session, the cookie goes: a logout leaves
	 * no session cookie behind. */
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
		if (l.hint.sub == NULL && !rq->confirmed)
			out->outcome = LOGOUT_CONFIRM;
		else
			sign_out(&l);
	}
	id_token_hint_clear(&l.hint);
	store_client_clear(&l.cl);
	store_session_clear(&l.se);
}
