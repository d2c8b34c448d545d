/*
 * resource.c: GET /resource, a protected resource that accepts Bearer
 * tokens as RFC 6750 describes, so client tests (refresh on 401, then
 * retry) have something real to call. It answers with the token's claims.
 *
 *   no token                 401, WWW-Authenticate: Bearer realm="latchkey"
 *   malformed Authorization  400, ... error="invalid_request"
 *   expired, revoked, bad    401, ... error="invalid_token"
 *   ?scope= not all held     403, ... error="insufficient_scope", scope="..."
 *   the database unavailable 503 temporarily_unavailable, Retry-After
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "server_int.h"
#include "strutil.h"

#define REALM "Bearer realm=\"latchkey\""

static const struct hdr no_store[] = {H_NO_STORE, {NULL, NULL}};

static enum MHD_Result refuse(struct srv_req *rq, int status,
                              const char *error, const char *description,
                              const char *scope)
{
	char *www = NULL;
	if (error == NULL)
		www = xstrdup(REALM);
	else if (asprintf(&www, REALM ", error=\"%s\", error_description=\"%s\""
	                  "%s%s%s", error, description, scope ? ", scope=\"" : "",
	                  scope ? scope : "", scope ? "\"" : "") < 0)
		abort();
	const struct hdr h[] = {{"WWW-Authenticate", www},
	                        {"Cache-Control", "no-store"},
	                        {NULL, NULL}};
	rq->error = error;
	enum MHD_Result r = respond_json(
	    rq, status,
	    error ? json_pack("{s:s, s:s}", "error", error, "error_description",
	                      description)
	          : json_object(),
	    h);
	free(www);
	return r;
}

/* RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token, the scheme
 * in any case (RFC 9110 section 11.1). Trailing spaces or tabs are the
 * field's optional whitespace (RFC 9110 section 5.5), not part of the
 * token; libmicrohttpd leaves them on the value. Returns the token as a
 * new string (the caller frees it with crypto_free_str: a bearer
 * token is a secret), or NULL when malformed. */
static char *bearer(const char *auth)
{
	if (strncasecmp(auth, "Bearer ", 7) != 0)
		return NULL;
	const char *t = auth + 7;
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
	if (auth == NULL)
		return refuse(rq, 401, NULL, NULL, NULL);
	char *token = bearer(auth);
	if (token == NULL)
		return refuse(rq, 400, "invalid_request", "the Authorization "
		              "header is not a Bearer token", NULL);

	struct form q = {0};
	const char *need = NULL;
	/* A query that cannot be read must not pass as "no scope asked". */
	if (rq->query != NULL &&
	    (form_parse(rq->query, strlen(rq->query), 32, &q) != FORM_OK ||
	     form_repeated(&q) != NULL)) {
		form_free(&q);
		crypto_free_str(token);
		return refuse(rq, 400, "invalid_request", "the query is "
		              "malformed or repeats a parameter", NULL);
	}
	need = form_param(&q, "scope");
	/* It is echoed in a header: only RFC 6749 scope syntax. */
	if (need != NULL && !scope_list_valid(need)) {
		form_free(&q);
		crypto_free_str(token);
		return refuse(rq, 400, "invalid_request", "the scope parameter "
		              "is not a list of scope tokens", NULL);
	}

	struct introspection in;
	enum MHD_Result r;
	struct oauth_result lookup = grants_check_bearer(rq->srv->grants,
	                                                 token, &in);
	crypto_free_str(token);
	if (lookup.err != OAUTH_OK)
		r = respond_error(rq, lookup, no_store); /* 503, Retry-After */
	else if (!in.active)
		r = refuse(rq, 401, "invalid_token", "the access token is "
		           "expired, revoked or not valid", NULL);
	else if (need != NULL && !holds(in.scope ? in.scope : "", need))
		r = refuse(rq, 403, "insufficient_scope", "the access token "
		           "lacks a scope this request needs", need);
	else {
		json_t *o = introspection_json(&in);
		static const struct hdr h[] = {{"Cache-Control", "no-store"},
		                               {NULL, NULL}};
		free(rq->client_id);
		rq->client_id = xstrdup(in.client_id);
		r = respond_json(rq, 200, o, h);
	}
	introspection_clear(&in);
	form_free(&q);
	return r;
}
