/*
 * resource.c: GET /resource, a protected resource that accepts Bearer
 * tokens as RFC 6750 describes, so client tests (refresh on 401, then
 * retry) have something real to call. It answers with the token's claims.
 *
 *   no token                 401, WWW-Authenticate: Bearer realm="latchkey"
 *   a DPoP-bound token       401 with a DPoP challenge unless sent with
 *                            the DPoP scheme and a proof (RFC 9449 7.1)
 *   malformed Authorization  400, ... error="invalid_request"
 *   expired, revoked, bad    401, ... error="invalid_token"
 *   ?scope= not all held     403, ... error="insufficient_scope", scope="..."
 *   the database unavailable 503 temporarily_unavailable, Retry-After
 *
 * Every Bearer or DPoP challenge of it ends with resource_metadata, the
 * URL of its RFC 9728 metadata (section 5.1): respond.c adds it for the
 * route's R_PROTECTED flag (routes.c), so no answer here names it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "server_int.h"
#include "strutil.h"

static const struct hdr no_store[] = {H_NO_STORE, {NULL, NULL}};
static const struct hdr cache_none[] = {{"Cache-Control", "no-store"},
                                        {NULL, NULL}};

/* Every refusal leaves through respond_error, whose table row (RFC 6750
 * section 3.1) gives the status and the Bearer challenge. */
static enum MHD_Result refuse(struct srv_req *rq, enum oauth_err e,
                              const char *description)
{
	return respond_error(rq, OAUTH_FAIL(e, description), cache_none);
}

/* RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token, the scheme
 * in any case (RFC 9110 section 11.1), or RFC 9449 section 7.1's "DPoP"
 * with the same syntax. Trailing spaces or tabs are the field's optional
 * whitespace (RFC 9110 section 5.5), not part of the token;
 * libmicrohttpd leaves them on the value. Returns the token as a new
 * string (the caller frees it with crypto_free_str: a bearer token is a
 * secret), or NULL when malformed. Shared with /userinfo
 * (server_int.h). */
char *bearer_token(const char *auth, bool *dpop)
{
	size_t skip;
	if (strncasecmp(auth, "Bearer ", 7) == 0)
		*dpop = false, skip = 7;
	else if (strncasecmp(auth, "DPoP ", 5) == 0)
		*dpop = true, skip = 5;
	else
		return NULL;
	const char *t = auth + skip;
	t += strspn(t, " ");
	size_t n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                     "0123456789-._~+/");
	while (t[n] == '=')
		n++;
	if (n == 0 || t[n + strspn(t + n, " \t")] != '\0')
		return NULL;
	char *tok = strndup(t, n);
	if (tok == NULL)
		abort();
	return tok;
}

/* Whether held has every space-separated scope of need. */
static bool holds(const char *held, const char *need)
{
	size_t len;
	for (const char *w = words_next(need, &len); w;
	     w = words_next(w + len, &len))
		if (!words_contains(held, w, len))
			return false;
	return true;
}

enum MHD_Result h_resource(struct srv_req *rq)
{
	const char *auth = req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION);
	bool dpop = false;
	if (auth == NULL)
		return refuse(rq, OAUTH_BEARER_MISSING, NULL);
	char *token = bearer_token(auth, &dpop);
	if (token == NULL)
		return refuse(rq, OAUTH_BEARER_INVALID_REQUEST, "the Authorization "
		              "header is not a Bearer or DPoP token");

	struct form q = {0};
	const char *need = NULL;
	/* A query that cannot be read must not pass as "no scope asked". */
	if (rq->query != NULL &&
	    (form_parse(rq->query, strlen(rq->query), 32, &q) != FORM_OK ||
	     form_repeated(&q) != NULL)) {
		form_free(&q);
		crypto_free_str(token);
		return refuse(rq, OAUTH_BEARER_INVALID_REQUEST, "the query is "
		              "malformed or repeats a parameter");
	}
	need = form_param(&q, "scope");
	/* It is echoed in a header: only RFC 6749 scope syntax. */
	if (need != NULL && !scope_list_valid(need)) {
		form_free(&q);
		crypto_free_str(token);
		return refuse(rq, OAUTH_BEARER_INVALID_REQUEST, "the scope parameter "
		              "is not a list of scope tokens");
	}

	struct introspection in;
	enum MHD_Result r;
	char *htu = presented_htu(rq, rq->srv->cfg->resource_path);
	bool repeated;
	struct presented_token p = {
		.token = token, .dpop = dpop,
		.proof = req_header_once(rq, "DPoP", &repeated),
		.proof_repeated = repeated, .htm = rq->method, .htu = htu,
	};
	struct tls_client_cert cert;
	if (tls_peer_cert(rq, &cert))
		p.tls_x5t = cert.x5t;
	struct oauth_result lookup = grants_check_presented(rq->site->grants,
	                                                    &p, &in);
	crypto_free_str(token);
	free(htu);
	tls_peer_clear(&cert);
	struct hdr room[4];
	char *nonce;
	const struct hdr *hdrs = with_dpop_nonce(
	    rq, lookup.err == OAUTH_TEMPORARILY_UNAVAILABLE ? no_store
	                                                   : cache_none,
	    room, 4, &nonce);
	if (lookup.err != OAUTH_OK)
		r = respond_error(rq, lookup, hdrs);
	else if (!in.active)
		r = respond_error(rq, OAUTH_FAIL(dpop ? OAUTH_DPOP_INVALID_TOKEN
		                                      : OAUTH_INVALID_TOKEN,
		                                 NULL),
		                  hdrs);
	else if (need != NULL && !holds(in.scope ? in.scope : "", need))
		r = respond_error(rq, (struct oauth_result){
		                          .err = dpop ? OAUTH_DPOP_INSUFFICIENT_SCOPE
		                                      : OAUTH_INSUFFICIENT_SCOPE,
		                          .scope = need}, hdrs);
	else {
		free(rq->client_id);
		rq->client_id = xstrdup(in.client_id);
		r = respond_json(rq, 200, introspection_json(&in), hdrs);
	}
	free(nonce);
	introspection_clear(&in);
	form_free(&q);
	return r;
}
