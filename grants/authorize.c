/*
 * authorize.c: the decisions of the authorization endpoint (RFC 6749
 * section 4.1.1 and 4.1.2, RFC 7636 PKCE, RFC 9207 iss). The server parses
 * the request and renders what this decides: an error page, a redirect, the
 * login page or the consent page.
 *
 * Order matters (section 4.1.2.1): until the client and the redirect URI
 * are known good, an error is shown to the user and never redirected, so
 * the endpoint cannot be used to send a browser anywhere. After that,
 * errors go back to the client's redirect URI with the unchanged state.
 *
 * OpenID Connect Core 3.1.2.1's parameters (prompt, max_age, nonce,
 * id_token_hint, ...) are read here too (check_oidc, needs_login); the
 * code keeps the nonce and the login's auth_time, sid and amr for the ID
 * token (id_token.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"

#define CODE_BYTES 32

void authz_result_clear(struct authz_result *r)
{
	free(r->redirect);
	free(r->client_name);
	free(r->scope);
	free(r->username);
	crypto_free_str(r->new_session);
	free(r->client_id);
	memset(r, 0, sizeof(*r));
}

/* What one call works with, so the steps below stay short. */
struct authz {
	struct grants *g;
	const struct authz_request *rq;
	struct authz_result *out;
	struct store_client cl;
	const char *redirect_uri; /* the one to use: sent, or the only one */
	char *scope;              /* granted */
	/* Signed in, when bl.user.user_id is set, with the login session's
	 * auth_time, sid and amr (OpenID Connect's); sid and amr NULL when
	 * no session stands behind the approval (the test-only auto
	 * approval). */
	struct browser_login bl;
	/* OpenID Connect Core 3.1.2.1: max_age in seconds (-1: none sent),
	 * and the id_token_hint once read (hint.sub NULL: none sent). */
	int64_t max_age;
	struct id_token_hint hint;
};

static void error_page(struct authz *a, const char *message)
{
	a->out->outcome = AUTHZ_ERROR_PAGE;
	a->out->error = OAUTH_INVALID_REQUEST;
	a->out->message = message;
}

void url_add_param(char **url, const char *name, const char *value)
{
	char *enc = url_encode(value);
	char *next = NULL;
	if (asprintf(&next, "%s%c%s=%s", *url, strchr(*url, '?') ? '&' : '?',
	             name, enc) < 0)
		abort();
	free(enc);
	free(*url);
	*url = next;
}

/* Section 4.1.2 and 4.1.2.1, with RFC 9207's iss on both. */
static void redirect(struct authz *a, const char *code, enum oauth_err err,
                     const char *description)
{
	char *url = xstrdup(a->redirect_uri);
	if (code != NULL) {
		url_add_param(&url, "code", code);
	} else {
		url_add_param(&url, "error", oauth_err_info(err)->code);
		url_add_param(&url, "error_description",
		          description ? description
		                      : oauth_err_info(err)->description);
	}
	if (a->rq->state != NULL)
		url_add_param(&url, "state", a->rq->state);
	url_add_param(&url, "iss", a->g->issuer);
	a->out->outcome = AUTHZ_REDIRECT;
	a->out->redirect = url;
}

static void redirect_error(struct authz *a, enum oauth_err err,
                           const char *description)
{
	redirect(a, NULL, err, description);
}

/* RFC 8252 section 7.3: the loopback IP literals a native app listens on,
 * on a port the system gives it at the time. "localhost" is a name, which
 * may resolve elsewhere (section 8.3): not here, so it matches exactly. */
static const char *const loopback_origins[] = {
	"http://127.0.0.1",
	"http://[::1]",
};

/* When uri (n bytes) is a loopback origin, an optional ":PORT", then
 * nothing or a path or query: the length of the origin, with *rest set
 * to the path and query. Else 0. */
static size_t loopback_split(const char *uri, size_t n, const char **rest)
{
	for (size_t i = 0; i < sizeof(loopback_origins) /
	                       sizeof(loopback_origins[0]); i++) {
		size_t o = strlen(loopback_origins[i]);
		if (n < o || memcmp(uri, loopback_origins[i], o) != 0)
			continue;
		size_t p = o;
		if (p < n && uri[p] == ':') {
			unsigned long port = 0;
			size_t d = 0;
			while (p + 1 + d < n && d < 6 &&
			       uri[p + 1 + d] >= '0' && uri[p + 1 + d] <= '9')
				port = port * 10 + (unsigned long)(uri[p + 1 + d++] - '0');
			if (d == 0 || d > 5 || port > 65535)
				return 0;
			p += 1 + d;
		}
		/* A fragment, userinfo or longer host: not this form. */
		if (p < n && uri[p] != '/' && uri[p] != '?')
			return 0;
		*rest = uri + p;
		return o;
	}
	return 0;
}

/* Section 3.1.2.3 says the request's URI is compared with the registered
 * ones; RFC 8252 section 7.3 makes the port of a loopback IP literal free
 * (a registered URI with or without one matches any), while scheme, host,
 * path and query must still match exactly. */
static bool loopback_matches(const char *reg, size_t rlen, const char *uri)
{
	const char *rrest, *urest;
	size_t ulen = strlen(uri);
	size_t ro = loopback_split(reg, rlen, &rrest);
	size_t uo = loopback_split(uri, ulen, &urest);
	return ro != 0 && ro == uo && memcmp(reg, uri, ro) == 0 &&
	       (size_t)(reg + rlen - rrest) == (size_t)(uri + ulen - urest) &&
	       memcmp(rrest, urest, ulen - (size_t)(urest - uri)) == 0;
}

bool redirect_uri_registered(const char *registered, const char *uri)
{
	size_t len;
	if (strchr(uri, ' ') != NULL)
		return false;
	if (words_contains(registered, uri, strlen(uri)))
		return true;
	for (const char *w = words_next(registered, &len); w;
	     w = words_next(w + len, &len))
		if (loopback_matches(w, len, uri))
			return true;
	return false;
}

/* Section 3.1.2.3: a match with a registered URI (exact, but for the port
 * of a loopback IP literal), or the only one when none is sent. The code
 * keeps the URI as sent, which the exchange must repeat exactly. Returns
 * false after choosing the error page. */
static bool check_client_and_uri(struct authz *a)
{
	const struct authz_request *rq = a->rq;
	if (rq->client_or_uri_repeated) {
		error_page(a, "The request repeats client_id or redirect_uri.");
		return false;
	}
	if (rq->client_id == NULL) {
		error_page(a, "The request has no client_id.");
		return false;
	}
	enum store_rc rc = store_client_get(a->g->store, rq->client_id, &a->cl);
	if (rc == STORE_NOT_FOUND) {
		error_page(a, "The application that sent you here is not "
		           "registered.");
		return false;
	}
	if (rc != STORE_OK) {
		/* The redirect_uri cannot be checked without the client, so
		 * not the redirect of RFC 6749 section 4.1.2.1: a page, with
		 * the store result's status (503 when a retry can fix it). */
		a->out->error = oauth_from_store(rc, "client lookup",
		                                 OAUTH_RESULT_OK).err;
		a->out->outcome = AUTHZ_ERROR_PAGE;
		a->out->message = a->out->error == OAUTH_TEMPORARILY_UNAVAILABLE
		                      ? "The server is temporarily unable to "
		                        "handle the request. Try again shortly."
		                      : oauth_err_info(a->out->error)->description;
		return false;
	}
	if (a->cl.disabled_at != 0) {
		/* Not a redirect: the client may not be sent anything (it
		 * is refused at the token endpoint anyway). */
		log_security("authorization refused: client %.128s is "
		             "disabled", a->cl.client_id);
		error_page(a, "The application that sent you here is "
		           "disabled.");
		return false;
	}
	a->out->client_id = xstrdup(a->cl.client_id);
	if (rq->redirect_uri != NULL) {
		if (!redirect_uri_registered(a->cl.redirect_uris,
		                             rq->redirect_uri)) {
			error_page(a, "The redirect_uri is not registered for this "
			           "application.");
			return false;
		}
		a->redirect_uri = rq->redirect_uri;
	} else if (words_count(a->cl.redirect_uris) == 1) {
		a->redirect_uri = a->cl.redirect_uris;
	} else {
		error_page(a, words_count(a->cl.redirect_uris) == 0
		                  ? "This application has no registered redirect "
		                    "URI."
		                  : "The request has no redirect_uri and the "
		                    "application has several.");
		return false;
	}
	return true;
}

bool pkce_value_ok(const char *v)
{
	size_t n = strlen(v);
	if (n < 43 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		            "0123456789-._~", v[i]))
			return false;
	return true;
}

/* RFC 7636 section 4.3. Returns a description for invalid_request, or NULL
 * when the PKCE parameters are acceptable. */
static const char *check_pkce(struct authz *a)
{
	const char *c = a->rq->code_challenge, *m = a->rq->code_challenge_method;
	if (c == NULL) {
		if (m != NULL)
			return "code_challenge_method without code_challenge";
		if (a->cl.is_public)
			return "code_challenge is required for public clients "
			       "(PKCE, RFC 7636)";
		if (a->g->require_pkce)
			return "code_challenge is required (PKCE, RFC 7636)";
		return NULL;
	}
	if (m == NULL || strcmp(m, "plain") == 0) {
		/* An absent method means plain (section 4.3). */
		if (!a->g->pkce_allow_plain)
			return "code_challenge_method must be S256";
	} else if (strcmp(m, "S256") != 0) {
		return "code_challenge_method must be S256";
	}
	if (!pkce_value_ok(c))
		return "code_challenge must be 43 to 128 characters of "
		       "[A-Za-z0-9-._~]";
	/* BASE64URL(SHA256(verifier)) is always 43 characters: anything else
	 * would make a code no verifier can redeem. */
	if (m != NULL && strcmp(m, "S256") == 0 &&
	    (strlen(c) != 43 || strpbrk(c, ".~") != NULL))
		return "an S256 code_challenge is 43 base64url characters";
	return NULL;
}

/* The prompt values (OpenID Connect Core section 3.1.2.1), space-
 * separated, in any order. There is no account chooser: select_account
 * shows the login page, where another account can sign in. */
struct prompt {
	bool none, login, consent, select_account;
};

static bool parse_prompt(const char *s, struct prompt *p)
{
	size_t len;
	memset(p, 0, sizeof(*p));
	for (const char *w = words_next(s, &len); w; w = words_next(w + len, &len)) {
		if (len == 4 && strncmp(w, "none", 4) == 0)
			p->none = true;
		else if (len == 5 && strncmp(w, "login", 5) == 0)
			p->login = true;
		else if (len == 7 && strncmp(w, "consent", 7) == 0)
			p->consent = true;
		else if (len == 14 && strncmp(w, "select_account", 14) == 0)
			p->select_account = true;
		else
			return false;
	}
	/* "none" with any other value is an error (3.1.2.1). */
	return !(p->none && (p->login || p->consent || p->select_account));
}

#define STATE_MAX 2048 /* it comes back in a Location header */
#define VALUE_MAX 4096
/* An ID token of ours may be as long as verify.c reads (MAX_TOKEN_LEN). */
#define ID_TOKEN_HINT_MAX 65536

/* UTF-8 without control characters, and not too long: what can travel
 * through the forms and back to the client unchanged (grants_int.h). */
bool param_value_ok(const char *v, size_t max)
{
	if (v == NULL)
		return true;
	size_t n = strlen(v);
	if (n > max || !utf8_valid(v, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return false;
	return true;
}

/* Everything about the request itself, after the client and URI. */
static bool check_request(struct authz *a)
{
	const struct authz_request *rq = a->rq;
	const char *why;
	if (rq->repeated != NULL) {
		redirect_error(a, OAUTH_INVALID_REQUEST, "a parameter is repeated");
		return false;
	}
	if (!param_value_ok(rq->state, STATE_MAX) ||
	    !param_value_ok(rq->login_hint, 256) ||
	    !param_value_ok(rq->nonce, STATE_MAX) ||
	    !param_value_ok(rq->max_age, 32) ||
	    !param_value_ok(rq->id_token_hint, ID_TOKEN_HINT_MAX) ||
	    !param_value_ok(rq->scope, VALUE_MAX) ||
	    !param_value_ok(rq->prompt, 256) ||
	    !param_value_ok(rq->response_type, 256) ||
	    !param_value_ok(rq->code_challenge_method, 256)) {
		redirect_error(a, OAUTH_INVALID_REQUEST, "a parameter is too long, "
		               "not UTF-8, or holds control characters");
		return false;
	}
	if (rq->response_type == NULL) {
		redirect_error(a, OAUTH_INVALID_REQUEST, "response_type is "
		               "required");
		return false;
	}
	if (strcmp(rq->response_type, "code") != 0) {
		redirect_error(a, OAUTH_UNSUPPORTED_RESPONSE_TYPE, NULL);
		return false;
	}
	if (!words_contains(a->cl.grant_types, "authorization_code", 18)) {
		redirect_error(a, OAUTH_UNAUTHORIZED_CLIENT, "this client is not "
		               "registered for the authorization_code grant");
		return false;
	}
	if ((why = check_pkce(a)) != NULL) {
		redirect_error(a, OAUTH_INVALID_REQUEST, why);
		return false;
	}
	struct oauth_result r = scope_grant(rq->scope, a->cl.scopes, &a->scope);
	if (r.err != OAUTH_OK) {
		redirect_error(a, r.err, r.description);
		return false;
	}
	return true;
}

/* RFC 8707 section 2: a resource must be one of the client's audiences;
 * the code remembers it, and its tokens carry it as their aud. A
 * registered resource may accept fewer scopes than the client has: the
 * request is granted again within those (check_request granted it within
 * the client's). */
static bool check_resource(struct authz *a)
{
	const char *res = a->rq->resource;
	bool cut;
	if (res == NULL)
		return true;
	struct oauth_result r = resources_narrow(a->g, &res, 1, a->rq->scope,
	                                         &a->cl, &cut);
	if (r.err == OAUTH_OK) {
		free(a->scope);
		r = scope_grant(a->rq->scope, a->cl.scopes, &a->scope);
	}
	if (r.err == OAUTH_OK)
		return true;
	redirect_error(a, r.err, r.description);
	return false;
}

/* RFC 9449 section 10: dpop_jkt is a JWK SHA-256 thumbprint, 43
 * base64url characters; the code's redemption must prove that key. */
static bool check_dpop_jkt(struct authz *a)
{
	const char *jkt = a->rq->dpop_jkt;
	if (jkt == NULL ||
	    (strlen(jkt) == 43 &&
	     strspn(jkt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                 "0123456789-_") == 43))
		return true;
	redirect_error(a, OAUTH_INVALID_REQUEST,
	               "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url "
	               "characters)");
	return false;
}

/* max_age: a non-negative decimal number of seconds. -1 if it is not. */
static int64_t parse_max_age(const char *v)
{
	int64_t n = 0;
	if (v[0] == '\0' || strlen(v) > 10)
		return -1;
	for (const char *c = v; *c != '\0'; c++) {
		if (*c < '0' || *c > '9')
			return -1;
		n = n * 10 + (*c - '0');
	}
	return n;
}

/* The OpenID Connect Core 3.1.2.1 parameters, checked on every call (the
 * forms carry them). Their errors are redirected with state, as the
 * client and redirect URI are known good by now. They apply to any
 * request, openid or not, as prompt always has. */
static bool check_oidc(struct authz *a, struct prompt *p)
{
	const struct authz_request *rq = a->rq;
	/* 6.1 and 6.2: request objects are not supported; said so rather
	 * than ignored, since they may hold parameters the client relies
	 * on. */
	if (rq->request != NULL) {
		redirect_error(a, OAUTH_REQUEST_NOT_SUPPORTED, NULL);
		return false;
	}
	if (rq->request_uri != NULL) {
		redirect_error(a, OAUTH_REQUEST_URI_NOT_SUPPORTED, NULL);
		return false;
	}
	if (!parse_prompt(rq->prompt, p)) {
		redirect_error(a, OAUTH_INVALID_REQUEST, "prompt must be none, "
		               "or any of login, consent and select_account");
		return false;
	}
	if (rq->max_age != NULL &&
	    (a->max_age = parse_max_age(rq->max_age)) < 0) {
		redirect_error(a, OAUTH_INVALID_REQUEST, "max_age must be a "
		               "number of seconds");
		return false;
	}
	if ((rq->nonce == NULL || rq->nonce[0] == '\0') && a->cl.require_nonce &&
	    scope_has_openid(a->scope)) {
		redirect_error(a, OAUTH_INVALID_REQUEST, "nonce is required for "
		               "this client");
		return false;
	}
	if (rq->id_token_hint != NULL &&
	    id_token_hint_read(a->g, rq->id_token_hint, &a->hint) != 0) {
		redirect_error(a, OAUTH_INVALID_REQUEST, "id_token_hint is not an "
		               "ID token of this server");
		return false;
	}
	return true;
}

/* The signed-in user from the session cookie, if it is good. */
static void read_session(struct authz *a)
{
	enum store_rc rc = session_read(a->g, a->rq->session, &a->bl);
	/* Not on a passing database error: only a cookie naming no live
	 * session is ended. */
	if (rc == STORE_NOT_FOUND && a->rq->session != NULL)
		a->out->end_session = true;
	else if (rc != STORE_OK)
		store_user_clear(&a->bl.user);
}

/* Whether the user has already allowed every scope asked for. A public
 * client whose redirect URI is not https could be any app that claimed the
 * same scheme, so it is asked every time (RFC 6749 section 10.2). */
static bool consented(struct authz *a)
{
	struct store_consent c = {0};
	size_t len;
	if (a->cl.is_public && strncmp(a->redirect_uri, "https://", 8) != 0)
		return false;
	bool ok = store_consent_get(a->g->store, a->bl.user.user_id,
	                            a->cl.client_id, &c) == STORE_OK;
	for (const char *w = words_next(a->scope, &len); ok && w;
	     w = words_next(w + len, &len))
		ok = words_contains(c.scope, w, len);
	store_consent_clear(&c);
	return ok;
}

static struct oauth_result remember_consent(struct authz *a)
{
	struct store_consent old = {0}, c = {0};
	char *scope = NULL;
	size_t len;
	int64_t now = clock_now();
	/* The union: allowing fewer scopes now does not forget the others. */
	enum store_rc rc = store_consent_get(a->g->store, a->bl.user.user_id,
	                                     a->cl.client_id, &old);
	/* Not found is no consent yet, carried on from below; here only a
	 * failure returns, so not found could never pass as a success. */
	if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		return oauth_from_store(rc, "consent lookup",
		                        OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL));
	if (rc == STORE_OK)
		scope = xstrdup(old.scope);
	for (const char *w = words_next(a->scope, &len); w;
	     w = words_next(w + len, &len))
		if (scope == NULL || !words_contains(scope, w, len))
			words_append(&scope, w, len);
	c = (struct store_consent){
		.user_id = a->bl.user.user_id, .client_id = a->cl.client_id,
		.scope = scope ? scope : (char *)"", .granted_at = now,
		.updated_at = now,
	};
	rc = store_consent_put(a->g->store, &c);
	store_consent_clear(&old);
	free(scope);
	return oauth_from_store_write(rc, "recording consent");
}

/* Section 4.1.2: a fresh single-use code, stored as a hash, bound to all
 * the token request will check. */
static void issue_code(struct authz *a)
{
	char hash[2 * SHA256_LEN + 1];
	char *code = crypto_random_token(CODE_BYTES);
	int64_t now = clock_now();
	const char *m = a->rq->code_challenge == NULL ? NULL
	                : a->rq->code_challenge_method ? a->rq->code_challenge_method
	                                               : "plain";
	if (code == NULL) {
		redirect_error(a, OAUTH_SERVER_ERROR, NULL);
		return;
	}
	token_hash(code, hash);
	struct store_code c = {
		.code_hash = hash, .client_id = a->cl.client_id,
		.subject = a->bl.user.user_id, .username = a->bl.user.username,
		.redirect_uri = (char *)a->rq->redirect_uri, .scope = a->scope,
		.code_challenge = (char *)a->rq->code_challenge,
		.code_challenge_method = (char *)m, .issued_at = now,
		.expires_at = now + a->g->authorization_code_ttl,
		.resource = (char *)a->rq->resource,
		.auth_time = a->bl.auth_time, .sid = a->bl.sid, .amr = a->bl.amr,
		.nonce = (char *)a->rq->nonce,
		.dpop_jkt = (char *)a->rq->dpop_jkt,
	};
	enum store_rc rc = store_code_add(a->g->store, &c);
	if (rc != STORE_OK)
		redirect_error(a, oauth_from_store_write(rc,
		                                         "recording a code").err,
		               NULL);
	else
		redirect(a, code, OAUTH_OK, NULL);
	crypto_free_str(code);
}

static void show(struct authz *a, enum authz_outcome o, const char *message)
{
	a->out->outcome = o;
	a->out->message = message;
	a->out->client_name = xstrdup(a->cl.name);
	a->out->scope = xstrdup(a->scope);
	a->out->username = xstrdup(a->bl.user.username);
}

/* auto_approve_as (tests only): the client's setting, else the server's. */
static const char *auto_approver(struct authz *a)
{
	const char *u = a->cl.auto_approve_as != NULL ? a->cl.auto_approve_as
	                                              : a->g->auto_approve_as;
	return u != NULL && u[0] != '\0' ? u : NULL;
}

static void auto_approve(struct authz *a, const char *username)
{
	enum store_rc rc = store_user_get(a->g->store, username, &a->bl.user);
	if (rc != STORE_OK) {
		struct oauth_result r = oauth_from_store(rc, "auto_approve_as",
		    OAUTH_FAIL(OAUTH_ACCESS_DENIED, "auto_approve_as names no user"));
		if (rc == STORE_NOT_FOUND)
			log_errx("auto_approve_as: no user '%s'", username);
		redirect_error(a, r.err, r.description);
		return;
	}
	/* No login stands behind it, but the approval is now: the auth_time
	 * an ID token must carry when max_age was asked. */
	a->bl.auth_time = clock_now();
	issue_code(a);
}

/* The login form came back. */
static void login(struct authz *a)
{
	const struct authz_request *rq = a->rq;
	const struct login_form f = {rq->username, rq->password,
	                             rq->remote_addr, a->cl.client_id};
	char *cookie;
	const char *message;
	struct oauth_result r;
	enum login_outcome o = session_login(a->g, &a->bl, &f, &cookie,
	                                     &message, &r);
	if (cookie != NULL) {
		crypto_free_str(a->out->new_session);
		a->out->new_session = cookie;
		a->out->end_session = false;
	}
	if (o == LOGIN_ASK_AGAIN) {
		show(a, AUTHZ_LOGIN, message);
		return;
	}
	if (o == LOGIN_BROKEN) {
		redirect_error(a, r.err, NULL);
		return;
	}
	struct prompt p;
	parse_prompt(rq->prompt, &p);
	if (p.consent || !consented(a))
		show(a, AUTHZ_CONSENT, NULL);
	else
		issue_code(a);
}

/* The consent form came back; only a signed-in user may answer it. */
static void answer(struct authz *a, bool allow)
{
	if (a->bl.user.user_id == NULL) {
		show(a, AUTHZ_LOGIN, "Your session ended. Sign in again.");
		return;
	}
	if (!allow) {
		redirect_error(a, OAUTH_ACCESS_DENIED, "the user denied the "
		               "request");
		return;
	}
	struct oauth_result r = remember_consent(a);
	if (r.err != OAUTH_OK) {
		redirect_error(a, r.err, NULL);
		return;
	}
	issue_code(a);
}

/* Whether the session's login will not do for this request (OpenID
 * Connect Core 3.1.2.1): prompt=login or select_account ask for the
 * password again, max_age for a login at most that old (0: always a new
 * one), and an id_token_hint naming another user for that user's login. */
static bool needs_login(const struct authz *a, const struct prompt *p)
{
	if (a->bl.user.user_id == NULL || p->login || p->select_account)
		return true;
	if (a->max_age == 0 ||
	    (a->max_age > 0 && clock_now() - a->bl.auth_time > a->max_age))
		return true;
	return a->hint.sub != NULL && strcmp(a->hint.sub, a->bl.user.user_id) != 0;
}

/* A new authorization request, from the client through the browser. */
static void request(struct authz *a, const struct prompt *p)
{
	if (needs_login(a, p))
		store_user_clear(&a->bl.user); /* ask for the password again */
	if (p->none) {
		/* 3.1.2.6: the error says what the user would have to do.
		 * A login and a consent are the only interactions this
		 * server has, so interaction_required is never the answer. */
		if (a->bl.user.user_id == NULL)
			redirect_error(a, OAUTH_LOGIN_REQUIRED, NULL);
		else if (!consented(a))
			redirect_error(a, OAUTH_CONSENT_REQUIRED, NULL);
		else
			issue_code(a);
		return;
	}
	if (a->bl.user.user_id == NULL)
		show(a, AUTHZ_LOGIN, NULL);
	else if (p->consent || !consented(a))
		show(a, AUTHZ_CONSENT, NULL);
	else
		issue_code(a);
}

void grants_authorize(struct grants *g, const struct authz_request *rq,
                      struct authz_result *out)
{
	struct authz a = {.g = g, .rq = rq, .out = out, .max_age = -1};
	struct prompt p;
	const char *who;

	memset(out, 0, sizeof(*out));
	out->session_ttl = g->session_ttl;
	if (!check_client_and_uri(&a) || !check_request(&a) ||
	    !check_resource(&a) || !check_dpop_jkt(&a))
		goto done;
	if (!check_oidc(&a, &p))
		goto done;
	if ((who = auto_approver(&a)) != NULL) {
		auto_approve(&a, who);
		goto done;
	}
	read_session(&a);
	if (rq->action == NULL)
		request(&a, &p);
	else if (strcmp(rq->action, "login") == 0)
		login(&a);
	else if (strcmp(rq->action, "allow") == 0 ||
	         strcmp(rq->action, "deny") == 0)
		answer(&a, strcmp(rq->action, "allow") == 0);
	else
		error_page(&a, "The form sent an unknown action.");
done:
	store_client_clear(&a.cl);
	browser_login_clear(&a.bl);
	free(a.scope);
	id_token_hint_clear(&a.hint);
}
