/*
 * authorize.c: GET and POST /authorize over HTTP. Reads the request (the
 * query string, or a form body), the cookies and the CSRF token, hands it
 * to grants_authorize, and renders the outcome as a page (pages.c) or a
 * redirect. Owns the cookies: lk_session (the login) and lk_csrf (the
 * browser's CSRF secret), and the one guard every HTML form of this server
 * passes (form_guard_ok).
 *
 * CSRF: the forms carry HMAC(server key, lk_csrf cookie). A cross-site
 * page can neither read the cookie nor compute the MAC, and SameSite=Lax
 * keeps the cookies off cross-site POSTs anyway. A sibling subdomain could
 * plant cookies, so with an https issuer the cookies are __Host- cookies
 * (which no other host can set), and a form POST whose Origin or
 * Sec-Fetch-Site says it came from elsewhere is refused.
 *
 * Paths follow the settings: the forms post to the issuer's path plus
 * authorize_path (where the browser found the page), and both cookies are
 * Path=/ so that they reach any authorize_path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "origin.h"
#include "server_int.h"
#include "strutil.h"

#define CSRF_BYTES 32

const char *cookie_name(const struct site *site, enum cookie c)
{
	return c == COOKIE_SESSION ? site->cookie_session : site->cookie_csrf;
}

/* The form guard: whether a form POST came from one of our own pages, as
 * far as the browser says. Sec-Fetch-Site, when sent, must be same-origin;
 * Origin, when sent, must be the issuer's origin. "Origin: null" is
 * refused: our pages send Referrer-Policy: same-origin, under which a
 * browser sends the real origin on a same-origin form POST (Fetch,
 * "serializing a request origin"), so null means a sandboxed or opaque
 * sender. The CSRF token is checked as well (csrf_ok). */
static bool same_origin(struct srv_req *rq)
{
	const char *site = req_header(rq, "Sec-Fetch-Site");
	if (site != NULL && strcmp(site, "same-origin") != 0)
		return false;
	const char *origin = req_header(rq, "Origin");
	if (origin == NULL)
		return true;
	const char *iss = rq->site->issuer;
	char want[512], got[512];
	return origin_norm(iss, origin_prefix_len(iss), want, sizeof(want)) &&
	       origin_norm(origin, strlen(origin), got, sizeof(got)) &&
	       strcmp(want, got) == 0;
}

char *page_action(const struct site *site, const char *path)
{
	const char *iss = site->issuer;
	char *url = NULL;
	if (asprintf(&url, "%s%s", iss + origin_prefix_len(iss), path) < 0)
		abort();
	return url;
}

/* Where the forms post: the issuer's path (a prefix a reverse proxy may
 * add) plus authorize_path, the URL the metadata names. The caller frees. */
static char *form_action(const struct srv_req *rq)
{
	return page_action(rq->site, rq->srv->cfg->authorize_path);
}

/* The OAuth parameters every form carries, in pages.c's order. */
static const char *const oauth_params[] = {
	"response_type", "client_id", "redirect_uri", "scope", "state",
	"code_challenge", "code_challenge_method", "prompt", "login_hint",
	"resource", "nonce", "max_age", "id_token_hint", "dpop_jkt",
};

static char *csrf_for(struct srv *s, const char *cookie)
{
	unsigned char mac[SHA256_LEN];
	hmac_sha256(s->csrf_key, sizeof(s->csrf_key), cookie, strlen(cookie),
	            mac);
	return b64_encode(mac, sizeof(mac), true);
}

static bool csrf_ok(struct srv *s, const char *cookie, const char *sent)
{
	if (cookie == NULL || sent == NULL)
		return false;
	char *want = csrf_for(s, cookie);
	bool ok = want != NULL && crypto_streq(want, sent);
	free(want);
	return ok;
}

char *page_csrf(struct srv_req *rq, struct cookies *c)
{
	struct srv *s = rq->srv;
	const char *cookie = req_cookie(rq, cookie_name(rq->site, COOKIE_CSRF));
	char *fresh = NULL;
	if (cookie == NULL || strlen(cookie) < 43) {
		fresh = crypto_random_token(CSRF_BYTES);
		if (fresh == NULL)
			return NULL;
		cookie_add(c, rq->site, COOKIE_CSRF, fresh, -1);
		cookie = fresh;
	}
	char *token = csrf_for(s, cookie);
	crypto_free_str(fresh);
	return token;
}

bool form_guard_ok(struct srv_req *rq, const struct form *f)
{
	struct srv *s = rq->srv;
	return same_origin(rq) &&
	       csrf_ok(s, req_cookie(rq, cookie_name(rq->site, COOKIE_CSRF)),
	               form_param(f, "csrf"));
}

void cookie_add(struct cookies *c, const struct site *site,
                enum cookie which, const char *value, int64_t max_age)
{
	char age[40] = "";
	if (max_age >= 0)
		snprintf(age, sizeof(age), "; Max-Age=%lld", (long long)max_age);
	if (asprintf(&c->v[c->n], "%s=%s; Path=/%s; HttpOnly; SameSite=Lax%s",
	             cookie_name(site, which), value, age,
	             site->https ? "; Secure" : "") < 0)
		abort();
	c->n++;
}

enum MHD_Result send_page(struct srv_req *rq, int status, char *html,
                          struct cookies *c)
{
	struct hdr h[4] = {{NULL, NULL}};
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		h[n++] = (struct hdr){MHD_HTTP_HEADER_SET_COOKIE, c->v[i]};
	/* Only a 503 page, as before the one error path (0b71268): with a
	 * 503, Retry-After says how long the service is expected to be
	 * unavailable (RFC 9110 section 10.2.3); a 500 page is a fault that
	 * waiting may not fix. (respond_error's JSON answers have always
	 * carried it on every 5xx; pages never did.) */
	if (status == 503)
		h[n++] = (struct hdr){"Retry-After", "1"};
	enum MHD_Result r = respond_html(rq, status, html, h);
	for (size_t i = 0; i < c->n; i++)
		crypto_free_str(c->v[i]);
	return r;
}

enum MHD_Result send_error_page(struct srv_req *rq, enum oauth_err e,
                                const char *message, struct cookies *c)
{
	respond_note_error(rq, e);
	return send_page(rq, oauth_err_info(e)->http_status, page_error(message),
	                 c);
}

static enum MHD_Result error_page(struct srv_req *rq, const char *message)
{
	struct cookies c = {0};
	return send_error_page(rq, OAUTH_INVALID_REQUEST, message, &c);
}

/* Renders what grants decided. */
static enum MHD_Result render(struct srv_req *rq, const struct form *f,
                              const struct authz_request *ar,
                              const struct authz_result *out)
{
	struct cookies c = {0};
	struct page_form pf = {0};

	if (out->new_session != NULL)
		cookie_add(&c, rq->site, COOKIE_SESSION, out->new_session,
		           out->session_ttl);
	else if (out->end_session)
		cookie_add(&c, rq->site, COOKIE_SESSION, "", 0);

	switch (out->outcome) {
	case AUTHZ_ERROR_PAGE:
		return send_error_page(rq, out->error, out->message, &c);
	case AUTHZ_REDIRECT: {
		struct hdr h[3] = {{NULL, NULL}};
		for (size_t i = 0; i < c.n; i++)
			h[i] = (struct hdr){MHD_HTTP_HEADER_SET_COOKIE, c.v[i]};
		/* 303 turns the form's POST into a GET at the client. */
		enum MHD_Result r = respond_redirect(
		    rq, strcmp(rq->method, "POST") == 0 ? 303 : 302,
		    out->redirect, h);
		for (size_t i = 0; i < c.n; i++)
			crypto_free_str(c.v[i]);
		return r;
	}
	case AUTHZ_LOGIN:
	case AUTHZ_CONSENT:
		break;
	}
	/* A page with a form: it needs the browser's CSRF secret. */
	char *token = page_csrf(rq, &c);
	if (token == NULL)
		return send_error_page(rq, OAUTH_TEMPORARILY_UNAVAILABLE,
		                       "The server is temporarily unable to "
		                       "handle the request.", &c);
	for (size_t i = 0; i < sizeof(oauth_params) / sizeof(oauth_params[0]); i++)
		pf.params[i] = form_param(f, oauth_params[i]);
	pf.csrf = token;
	pf.action = form_action(rq);
	char *html = out->outcome == AUTHZ_LOGIN
	                 ? page_login(&pf, out->client_name,
	                              ar->username ? ar->username : ar->login_hint,
	                              out->message)
	                 : page_consent(&pf, out->client_name, out->username,
	                                out->scope);
	free(token);
	free(pf.action);
	return send_page(rq, 200, html, &c);
}

const char *page_form_read(struct srv_req *rq, struct form *f)
{
	const struct lk_config *cfg = rq->srv->cfg;
	bool post = strcmp(rq->method, "POST") == 0;
	enum form_rc rc;
	if (post && !form_content_type(req_header(rq,
	                                          MHD_HTTP_HEADER_CONTENT_TYPE)))
		return "The request is not a form submission.";
	if (post)
		rc = form_parse(rq->body ? rq->body : "", rq->body_len,
		                (size_t)cfg->max_params, f);
	else
		rc = form_parse(rq->query ? rq->query : "",
		                rq->query ? strlen(rq->query) : 0,
		                (size_t)cfg->max_params, f);
	/* An ID token of ours may be longer than any other parameter. */
	if (rc != FORM_OK ||
	    form_too_long(f, (size_t)cfg->max_param_length,
	                  "id_token_hint") != NULL) {
		form_free(f);
		return "The request is malformed.";
	}
	return NULL;
}

enum MHD_Result h_authorize(struct srv_req *rq)
{
	struct form f = {0};
	struct authz_result out;
	bool post = strcmp(rq->method, "POST") == 0;
	enum MHD_Result ret;

	const char *bad = page_form_read(rq, &f);
	if (bad != NULL)
		return error_page(rq, bad);
	const char *action = post ? form_param(&f, "action") : NULL;
	if (action != NULL && !form_guard_ok(rq, &f)) {
		form_free(&f);
		return error_page(rq, "This form has expired or did not come from "
		                  "this site. Go back to the application and "
		                  "start again.");
	}
	struct authz_request ar = {
		.response_type = form_param(&f, "response_type"),
		.client_id = form_param(&f, "client_id"),
		.redirect_uri = form_param(&f, "redirect_uri"),
		.scope = form_param(&f, "scope"),
		.state = form_param(&f, "state"),
		.code_challenge = form_param(&f, "code_challenge"),
		.code_challenge_method = form_param(&f, "code_challenge_method"),
		.prompt = form_param(&f, "prompt"),
		.login_hint = form_param(&f, "login_hint"),
		.resource = form_param(&f, "resource"),
		.dpop_jkt = form_param(&f, "dpop_jkt"),
		.nonce = form_param(&f, "nonce"),
		.max_age = form_param(&f, "max_age"),
		.id_token_hint = form_param(&f, "id_token_hint"),
		.request = form_param(&f, "request"),
		.request_uri = form_param(&f, "request_uri"),
		.repeated = form_repeated(&f),
		.client_or_uri_repeated = form_count(&f, "client_id") > 1 ||
		                          form_count(&f, "redirect_uri") > 1,
		.session = req_cookie(rq, cookie_name(rq->site, COOKIE_SESSION)),
		.remote_addr = rq->remote_addr,
		.action = action,
		.username = form_param(&f, "username"),
		.password = form_param(&f, "password"),
	};
	grants_authorize(rq->site->grants, &ar, &out);
	free(rq->client_id);
	rq->client_id = xstrdup(out.client_id);
	ret = render(rq, &f, &ar, &out);
	authz_result_clear(&out);
	form_free(&f);
	return ret;
}
