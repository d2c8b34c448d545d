/*
 * respond.c: every response leaves through here. JSON bodies are rendered
 * with jansson; errors take one path (render_error, behind respond_error
 * and, for an answer whose status and code the caller names, such as the
 * test double's injected faults, respond_error_as) that applies the RFC
 * headers and records the error code for the access log, like redis's
 * afterErrorReply. Internal detail never reaches a response body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "server_int.h"

#define BEARER_REALM "Bearer realm=\"latchkey\""
/* RFC 9449 section 7.1: the DPoP scheme names the algorithms accepted. */
#define DPOP_CHALLENGE "DPoP algs=\"RS256 PS256 ES256\""

static enum MHD_Result send_typed(struct srv_req *rq, int status, char *body,
                                  size_t len, const char *type,
                                  const struct hdr *extra)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	if (type != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (rq->request_id[0] != '\0')
		MHD_add_response_header(resp, "X-Request-Id", rq->request_id);
	for (const struct hdr *h = extra; h != NULL && h->name != NULL; h++)
		MHD_add_response_header(resp, h->name, h->value);
	cors_headers(rq, resp);
	/* Shutting down: the client must not send its next request here. */
	if (drain_stopping(rq->srv))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	rq->status = status;
	/* Before the answer can reach the client: whatever the client does
	 * next, the layer has seen this one. */
	if (rq->srv->on_done != NULL)
		rq->srv->on_done(rq->srv->on_done_arg, rq, status);
	enum MHD_Result r = MHD_queue_response(rq->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	rq->state = REQ_RESPONDED;
	return r;
}

static enum MHD_Result send_buffer(struct srv_req *rq, int status, char *body,
                                   size_t len, const struct hdr *extra)
{
	return send_typed(rq, status, body, len, "application/json", extra);
}

/* Headers of every page and redirect of /authorize, then up to 6 more. */
static void page_headers(struct hdr *h, const struct hdr *extra)
{
	size_t n = 0;
	h[n++] = (struct hdr){"Cache-Control", "no-store"};
	h[n++] = (struct hdr){"Pragma", "no-cache"};
	h[n++] = (struct hdr){"X-Frame-Options", "DENY"};
	/* Not no-referrer: under it a browser sends "Origin: null" with the
	 * page's own form POST, which the form guard cannot tell from a
	 * sandboxed attacker. same-origin sends the origin to us and nothing
	 * to the client the flow ends at. */
	h[n++] = (struct hdr){"Referrer-Policy", "same-origin"};
	/* No form-action: browsers apply it to the redirect that follows the
	 * consent form, which goes to the client's origin. */
	h[n++] = (struct hdr){"Content-Security-Policy",
	                      "default-src 'none'; style-src 'unsafe-inline'; "
	                      "frame-ancestors 'none'; base-uri 'none'"};
	for (size_t k = 0; extra != NULL && extra[k].name != NULL && k < 6; k++)
		h[n++] = extra[k];
	h[n] = (struct hdr){NULL, NULL};
}

enum MHD_Result respond_html(struct srv_req *rq, int status, char *html,
                             const struct hdr *extra)
{
	struct hdr h[13];
	page_headers(h, extra);
	if (html == NULL)
		return MHD_NO;
	return send_typed(rq, status, html, strlen(html),
	                  "text/html; charset=utf-8", h);
}

enum MHD_Result respond_text(struct srv_req *rq, int status, char *body,
                             size_t len, const char *type,
                             const struct hdr *extra)
{
	if (body == NULL)
		return MHD_NO;
	return send_typed(rq, status, body, len, type, extra);
}

enum MHD_Result respond_redirect(struct srv_req *rq, int status,
                                 const char *location,
                                 const struct hdr *extra)
{
	struct hdr h[14];
	page_headers(h, extra);
	size_t n = 0;
	while (h[n].name != NULL)
		n++;
	h[n++] = (struct hdr){"Location", location};
	h[n] = (struct hdr){NULL, NULL};
	return send_typed(rq, status, NULL, 0, NULL, h);
}

enum MHD_Result respond_empty(struct srv_req *rq, int status,
                              const struct hdr *extra)
{
	return send_typed(rq, status, NULL, 0, NULL, extra);
}

enum MHD_Result respond_json(struct srv_req *rq, int status, json_t *body,
                             const struct hdr *extra)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		/* Only an allocation failure gets here. */
		static const char oom[] = "{\"error\":\"server_error\"}";
		return send_buffer(rq, 500, strdup(oom), sizeof(oom) - 1, NULL);
	}
	size_t len = strlen(text);
	/* A newline makes curl output and logs friendlier. */
	char *withnl = realloc(text, len + 2);
	if (withnl == NULL) {
		free(text);
		return MHD_NO;
	}
	withnl[len] = '\n';
	withnl[len + 1] = '\0';
	return send_buffer(rq, status, withnl, len + 1, extra);
}

/* RFC 6750 section 3 (and RFC 9449 section 7.1): the scheme, then the
 * error and, when why is not NULL, why, then the scope an
 * insufficient_scope answer lacked, then, at the protected resource, the
 * URL of its metadata (RFC 9728 section 5.1; NULL elsewhere). The
 * values are static table or handler strings, checked scope tokens and
 * a URL checked by challenge_metadata: nothing to quote. NULL on no
 * memory. */
static char *bearer_challenge(const char *scheme, const char *code,
                              const char *why, const char *scope,
                              const char *metadata)
{
	char *www = NULL;
	int n;
	if (code == NULL)
		n = asprintf(&www, "%s%s%s%s", scheme,
		             metadata ? ", resource_metadata=\"" : "",
		             metadata ? metadata : "", metadata ? "\"" : "");
	else
		n = asprintf(&www, "%s, error=\"%s\"%s%s%s%s%s%s%s%s%s", scheme,
		             code, why ? ", error_description=\"" : "",
		             why ? why : "", why ? "\"" : "",
		             scope ? ", scope=\"" : "", scope ? scope : "",
		             scope ? "\"" : "",
		             metadata ? ", resource_metadata=\"" : "",
		             metadata ? metadata : "", metadata ? "\"" : "");
	return n < 0 ? NULL : www;
}

/* Whether s can stand in a quoted-string as it is: visible ASCII, no
 * '"' or '\\' (RFC 9110 section 5.6.4). A URL never holds those (RFC
 * 3986), but the issuer setting is not checked that closely. */
static bool quotable(const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f || *c == '"' || *c == '\\')
			return false;
	return true;
}

/* The metadata URL rq's challenges name: only the protected resource's
 * route has one (R_PROTECTED, RFC 9728 section 5.1), and it is left out
 * rather than break the header. */
static const char *challenge_metadata(const struct srv_req *rq)
{
	if (rq->route == NULL || !(rq->route->flags & R_PROTECTED))
		return NULL;
	const char *url = rq->site->resource_metadata_url;
	return quotable(url) ? url : NULL;
}

void respond_note_error(struct srv_req *rq, enum oauth_err e)
{
	rq->error = oauth_err_info(e)->code;
}

/* What every error answer is made of, whoever names its status and code:
 * the body, the challenge r's row asks for, Allow, Retry-After on a 5xx,
 * and the note for the log (r's row's code: rq->error must be static).
 * why_in_challenge: whether a Bearer challenge repeats the description. */
static enum MHD_Result render_error(struct srv_req *rq, struct oauth_result r,
                                    int status, const char *code,
                                    bool why_in_challenge,
                                    const struct hdr *extra)
{
	const struct oauth_err_info *info = oauth_err_info(r.err);
	const char *why = r.description ? r.description : info->description;
	struct hdr hdrs[8];
	size_t n = 0;
	char *bearer = NULL;

	bool retry_given = false; /* a stand-in names its own Retry-After */
	for (const struct hdr *h = extra; h != NULL && h->name != NULL && n < 5;
	     h++) {
		hdrs[n++] = *h;
		retry_given |= strcasecmp(h->name, "Retry-After") == 0;
	}
	/* The scheme to authenticate with next: RFC 6749 section 5.2 for
	 * client authentication, RFC 6750 section 3 at a resource. */
	if (info->challenge == OAUTH_CHALLENGE_BASIC)
		hdrs[n++] = (struct hdr){"WWW-Authenticate",
		                         "Basic realm=\"latchkey\", charset=\"UTF-8\""};
	else if ((info->challenge == OAUTH_CHALLENGE_BEARER ||
	          info->challenge == OAUTH_CHALLENGE_DPOP) &&
	         (bearer = bearer_challenge(
	              info->challenge == OAUTH_CHALLENGE_DPOP ? DPOP_CHALLENGE
	                                                      : BEARER_REALM,
	              code, why_in_challenge ? why : NULL, r.scope,
	              challenge_metadata(rq))) != NULL)
		hdrs[n++] = (struct hdr){"WWW-Authenticate", bearer};
	if (r.err == OAUTH_METHOD_NOT_ALLOWED && rq->route != NULL)
		hdrs[n++] = (struct hdr){"Allow", route_allow(rq->route)};
	if (status >= 500 && !retry_given)
		hdrs[n++] = (struct hdr){"Retry-After", "1"};
	hdrs[n] = (struct hdr){NULL, NULL};

	respond_note_error(rq, r.err);
	json_t *body = code == NULL ? json_object()
	                            : json_pack("{s:s, s:s}", "error", code,
	                                        "error_description", why);
	enum MHD_Result ret = respond_json(rq, status, body, hdrs);
	free(bearer);
	return ret;
}

enum MHD_Result respond_error(struct srv_req *rq, struct oauth_result r,
                              const struct hdr *extra)
{
	const struct oauth_err_info *info = oauth_err_info(r.err);
	return render_error(rq, r, info->http_status, info->code, true, extra);
}

enum MHD_Result respond_error_as(struct srv_req *rq, struct oauth_result r,
                                 int status, const char *code,
                                 const struct hdr *extra)
{
	if (code == NULL)
		code = oauth_err_info(r.err)->code;
	/* The description of a stand-in says what it stands in for, not
	 * what is wrong with the token: the challenge names the code alone. */
	return render_error(rq, r, status, code, false, extra);
}
