/*
 * logout.c: GET and POST end_session_path (OpenID Connect RP-Initiated
 * Logout 1.0) over HTTP. Reads the request (the query string, or a form
 * body), the session cookie and the confirmation form, hands it to
 * grants_logout, and renders the outcome: an error page, the confirmation
 * page, the "signed out" page, or a redirect to the client's registered
 * post_logout_redirect_uri. The cookies, page headers and the form guard
 * are authorize.c's, the same as the login and consent pages'.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "server_int.h"
#include "strutil.h"

static enum MHD_Result confirm_page(struct srv_req *rq, const struct form *f,
                                    const struct logout_result *out,
                                    struct cookies *c)
{
	char *token = page_csrf(rq, c);
	if (token == NULL)
		return send_error_page(rq, OAUTH_TEMPORARILY_UNAVAILABLE,
		                       "The server is temporarily unable to "
		                       "handle the request.", c);
	char *action = page_action(rq->site, rq->srv->cfg->end_session_path);
	/* The client the request named, by client_id or by the hint: the
	 * confirmation posts no hint, and its post_logout_redirect_uri
	 * still needs its client. */
	char *html = page_logout(action, token, out->client_id,
	                         form_param(f, "post_logout_redirect_uri"),
	                         form_param(f, "state"), out->client_name);
	free(action);
	free(token);
	return send_page(rq, 200, html, c);
}

static enum MHD_Result render(struct srv_req *rq, const struct form *f,
                              const struct logout_result *out)
{
	struct cookies c = {0};
	if (out->end_cookie)
		cookie_add(&c, rq->site, COOKIE_SESSION, "", 0);
	switch (out->outcome) {
	case LOGOUT_ERROR_PAGE:
		return send_error_page(rq, out->error, out->message, &c);
	case LOGOUT_CONFIRM:
		return confirm_page(rq, f, out, &c);
	case LOGOUT_DONE:
		return send_page(rq, 200, page_signed_out(out->client_name), &c);
	case LOGOUT_REDIRECT:
		break;
	}
	struct hdr h[3] = {{NULL, NULL}};
	for (size_t i = 0; i < c.n; i++)
		h[i] = (struct hdr){MHD_HTTP_HEADER_SET_COOKIE, c.v[i]};
	/* 303 turns a POST (the confirmation) into a GET at the client. */
	enum MHD_Result r = respond_redirect(
	    rq, strcmp(rq->method, "POST") == 0 ? 303 : 302, out->redirect, h);
	for (size_t i = 0; i < c.n; i++)
		crypto_free_str(c.v[i]);
	return r;
}

static enum MHD_Result error_page(struct srv_req *rq, const char *message)
{
	struct cookies c = {0};
	return send_error_page(rq, OAUTH_INVALID_REQUEST, message, &c);
}

enum MHD_Result h_logout(struct srv_req *rq)
{
	struct form f = {0};
	struct logout_result out;
	bool post = strcmp(rq->method, "POST") == 0;

	/* Section 2: the OP supports GET and POST; a POST is a form. */
	const char *bad = page_form_read(rq, &f);
	if (bad != NULL)
		return error_page(rq, bad);
	/* The confirmation form's button: only with the form guard (our own
	 * page, this browser's CSRF token), or any page could sign a person
	 * out by posting it. */
	const char *action = post ? form_param(&f, "action") : NULL;
	if (action != NULL &&
	    (strcmp(action, "logout") != 0 || !form_guard_ok(rq, &f))) {
		form_free(&f);
		return error_page(rq, "This form has expired or did not come "
		                  "from this site. Go back to the application "
		                  "and sign out again.");
	}
	struct logout_request lr = {
		.id_token_hint = form_param(&f, "id_token_hint"),
		.client_id = form_param(&f, "client_id"),
		.post_logout_redirect_uri =
		    form_param(&f, "post_logout_redirect_uri"),
		.state = form_param(&f, "state"),
		.repeated = form_repeated(&f),
		.session = req_cookie(rq, cookie_name(rq->site, COOKIE_SESSION)),
		.confirmed = action != NULL,
	};
	grants_logout(rq->site->grants, &lr, &out);
	free(rq->client_id);
	rq->client_id = xstrdup(out.client_id);
	enum MHD_Result ret = render(rq, &f, &out);
	logout_result_clear(&out);
	form_free(&f);
	return ret;
}
