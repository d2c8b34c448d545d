/*
 * userinfo.c: GET and POST /userinfo (setting userinfo_path), OpenID
 * Connect Core section 5.3: reads the Bearer access token as RFC 6750
 * section 2 allows it here, and renders what grants_userinfo answers
 * (grants/userinfo.c decides; docs/openid-connect.md, "Userinfo").
 *
 *   the token in the Authorization header      GET and POST (2.1)
 *   the token as access_token in a form body   POST only (2.2)
 *   the token in the query (2.3)               400 invalid_request: a
 *                                              URL ends up in logs
 *   both header and body                       400 invalid_request (2:
 *                                              one method per request)
 *   no token                                   401, the challenge alone
 *   a DPoP-bound token (RFC 9449 section 7.1)  only with the DPoP scheme
 *                                              and a proof of its key
 *
 * Every refusal leaves through respond_error, whose table row (RFC 6750
 * section 3.1) gives the status and the Bearer challenge.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "server_int.h"
#include "strutil.h"

static const struct hdr no_store[] = {H_NO_STORE, {NULL, NULL}};

static enum MHD_Result refuse(struct srv_req *rq, enum oauth_err e,
                              const char *description)
{
	return respond_error(rq, OAUTH_FAIL(e, description), no_store);
}

/* Reads s (len bytes) as a form into f; false when it is not one or
 * repeats a parameter. */
static bool read_form(struct srv_req *rq, const char *s, size_t len,
                      struct form *f)
{
	return form_parse(s, len, (size_t)rq->srv->cfg->max_params, f) ==
	           FORM_OK &&
	       form_repeated(f) == NULL;
}

/* The token of the request into *token (crypto_free_str it), or the
 * refusal's row and description. */
static enum oauth_err find_token(struct srv_req *rq, char **token,
                                 bool *dpop, const char **why)
{
	struct form q = {0}, b = {0};
	enum oauth_err e = OAUTH_OK;
	const char *auth = req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION);
	bool post = strcmp(rq->method, "POST") == 0;
	const char *in_body = NULL;
	*token = NULL;
	*why = NULL;
	/* Only a token in the query is refused (RFC 6750 section 2.3 is a
	 * MAY, and a URL ends up in logs); other query parameters, even a
	 * malformed or repeated one, are not this endpoint's business. A
	 * query whose access_token cannot be read is refused too. */
	if (rq->query != NULL &&
	    (form_parse(rq->query, strlen(rq->query),
	                (size_t)rq->srv->cfg->max_params, &q) != FORM_OK
	         ? strstr(rq->query, "access_token") != NULL
	         : form_count(&q, "access_token") > 0)) {
		e = OAUTH_BEARER_INVALID_REQUEST;
		*why = "the access token goes in the Authorization header (or "
		       "a POST body), never in the query";
	} else if (post && rq->body_len > 0 &&
	           (!form_content_type(req_header(
	                rq, MHD_HTTP_HEADER_CONTENT_TYPE)) ||
	            !read_form(rq, rq->body, rq->body_len, &b))) {
		e = OAUTH_BEARER_INVALID_REQUEST;
		*why = "the body must be an application/x-www-form-urlencoded "
		       "form that repeats no parameter";
	}
	if (e == OAUTH_OK)
		in_body = form_param(&b, "access_token");
	if (e == OAUTH_OK && auth != NULL && in_body != NULL) {
		e = OAUTH_BEARER_INVALID_REQUEST;
		*why = "the access token is sent twice (header and body); "
		       "send it once";
	} else if (e == OAUTH_OK && auth != NULL) {
		*token = bearer_token(auth, dpop);
		if (*token == NULL) {
			e = OAUTH_BEARER_INVALID_REQUEST;
			*why = "the Authorization header is not a Bearer or DPoP "
			       "token";
		}
	} else if (e == OAUTH_OK && in_body != NULL) {
		*token = xstrdup(in_body);
	} else if (e == OAUTH_OK) {
		e = OAUTH_BEARER_MISSING;
	}
	form_free(&q);
	form_free(&b);
	return e;
}

enum MHD_Result h_userinfo(struct srv_req *rq)
{
	char *token;
	const char *why;
	bool dpop = false, repeated;
	enum oauth_err e = find_token(rq, &token, &dpop, &why);
	if (e != OAUTH_OK)
		return refuse(rq, e, why);
	json_t *claims = NULL;
	char *client_id = NULL;
	char *htu = presented_htu(rq, rq->srv->cfg->userinfo_path);
	struct presented_token p = {
		.token = token, .dpop = dpop,
		.proof = req_header_once(rq, "DPoP", &repeated),
		.proof_repeated = repeated, .htm = rq->method, .htu = htu,
	};
	struct tls_client_cert cert;
	if (tls_peer_cert(rq, &cert))
		p.tls_x5t = cert.x5t;
	struct oauth_result r = grants_userinfo(rq->site->grants, &p, &claims,
	                                        &client_id);
	crypto_free_str(token);
	free(htu);
	tls_peer_clear(&cert);
	if (client_id != NULL) {
		free(rq->client_id);
		rq->client_id = client_id;
	}
	struct hdr room[5];
	char *nonce;
	const struct hdr *hdrs = with_dpop_nonce(rq, no_store, room, 5, &nonce);
	if (dpop)
		r.err = oauth_err_dpop(r.err);
	/* 503 gets its Retry-After from respond_error. */
	enum MHD_Result ret = r.err != OAUTH_OK
	                          ? respond_error(rq, r, hdrs)
	                          : respond_json(rq, 200, claims, hdrs);
	free(nonce);
	return ret;
}
