/*
 * device.c: device authorization over HTTP (RFC 8628): POST
 * device_authorization_path, where a device gets its codes (section 3.1
 * and 3.2), and device_path, the page where a person enters the user
 * code, signs in and decides (section 3.3). grants/device.c decides; this
 * reads the requests and renders the answers. The page's forms pass the
 * one form guard of authorize.c (origin and CSRF) and share its session
 * cookie, so a login here is a login at /authorize too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "origin.h"
#include "server_int.h"
#include "strutil.h"

static const struct hdr no_store[] = {H_NO_STORE, {NULL, NULL}};

/* Section 3.2: verification_uri is the page, at the issuer's origin and
 * path plus device_path; verification_uri_complete adds the user code
 * (section 3.3.1). */
static json_t *device_json(const struct srv_req *rq,
                           const struct device_auth_response *out)
{
	char *page = NULL, *complete = NULL;
	char *enc = url_encode(out->user_code);
	if (asprintf(&page, "%s%s", rq->site->issuer,
	             rq->srv->cfg->device_path) < 0 ||
	    asprintf(&complete, "%s?user_code=%s", page, enc) < 0)
		abort();
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}",
	                      "device_code", out->device_code, "user_code",
	                      out->user_code, "verification_uri", page,
	                      "verification_uri_complete", complete,
	                      "expires_in", (json_int_t)out->expires_in,
	                      "interval", (json_int_t)out->interval);
	free(enc);
	free(page);
	free(complete);
	return o;
}

enum MHD_Result h_device_authorization(struct srv_req *rq)
{
	struct form_req fr;
	struct device_auth_response out = {0};

	struct oauth_result r = form_req_read(rq, &fr);
	if (r.err == OAUTH_OK) {
		struct device_auth_request dr = {
			.creds = fr.creds, .scope = form_param(&fr.f, "scope"),
		};
		r = grants_device_authorization(rq->site->grants, &dr, &out,
		                                &rq->client_id);
	}
	enum MHD_Result ret =
	    r.err == OAUTH_OK ? respond_json(rq, 200, device_json(rq, &out),
	                                     no_store)
	                      : respond_error(rq, r, no_store);
	device_auth_response_clear(&out);
	form_req_free(&fr);
	return ret;
}

/* Renders what grants decided. */
static enum MHD_Result render(struct srv_req *rq,
                              const struct device_page_result *out)
{
	struct cookies c = {0};
	struct page_form pf = {0};

	if (out->new_session != NULL)
		cookie_add(&c, rq->site, COOKIE_SESSION, out->new_session,
		           out->session_ttl);
	else if (out->end_session)
		cookie_add(&c, rq->site, COOKIE_SESSION, "", 0);
	switch (out->outcome) {
	case DEVICE_ERROR_PAGE:
		return send_error_page(rq, out->error, out->message, &c);
	case DEVICE_DONE:
		return send_page(rq, 200, page_device_done(out->client_name,
		                                           out->approved), &c);
	case DEVICE_ENTER:
	case DEVICE_LOGIN:
	case DEVICE_CONSENT:
		break;
	}
	char *token = page_csrf(rq, &c);
	if (token == NULL)
		return send_error_page(rq, OAUTH_TEMPORARILY_UNAVAILABLE,
		                       "The server is temporarily unable to "
		                       "handle the request.", &c);
	pf.csrf = token;
	pf.action = page_action(rq->site, rq->srv->cfg->device_path);
	char *html;
	int status = 200;
	if (out->outcome == DEVICE_ENTER) {
		html = page_device_code(&pf, out->user_code, out->message);
		/* A refused code is a refused request. */
		if (out->message != NULL)
			status = 400;
	} else {
		pf.user_code = out->user_code;
		html = out->outcome == DEVICE_LOGIN
		           ? page_login(&pf, out->client_name, out->username,
		                        out->message)
		           : page_consent(&pf, out->client_name, out->username,
		                          out->scope);
	}
	free(token);
	free(pf.action);
	return send_page(rq, status, html, &c);
}

enum MHD_Result h_device(struct srv_req *rq)
{
	struct form f = {0};
	struct device_page_result out;
	bool post = strcmp(rq->method, "POST") == 0;
	struct cookies c = {0};

	const char *bad = page_form_read(rq, &f);
	if (bad != NULL)
		return send_error_page(rq, OAUTH_INVALID_REQUEST, bad, &c);
	const char *action = post ? form_param(&f, "action") : NULL;
	if (form_repeated(&f) != NULL || (post && action == NULL)) {
		form_free(&f);
		return send_error_page(rq, OAUTH_INVALID_REQUEST, "The request "
		                       "is malformed.", &c);
	}
	if (action != NULL && !form_guard_ok(rq, &f)) {
		form_free(&f);
		return send_error_page(rq, OAUTH_INVALID_REQUEST, "This form has "
		                       "expired or did not come from this site. "
		                       "Open the page again and enter the code.",
		                       &c);
	}
	struct device_page_request dr = {
		.user_code = form_param(&f, "user_code"),
		.action = action,
		.username = form_param(&f, "username"),
		.password = form_param(&f, "password"),
		.session = req_cookie(rq, cookie_name(rq->site, COOKIE_SESSION)),
		.remote_addr = rq->remote_addr,
	};
	grants_device_page(rq->site->grants, &dr, &out);
	free(rq->client_id);
	rq->client_id = xstrdup(out.client_id);
	enum MHD_Result ret = render(rq, &out);
	device_page_result_clear(&out);
	form_free(&f);
	return ret;
}
