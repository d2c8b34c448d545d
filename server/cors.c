/*
 * cors.c: cross-origin requests from browser applications (the Fetch
 * standard's CORS protocol) on the routes flagged R_CORS (routes.c):
 * discovery, JWKS, token, userinfo and revocation. Owns the parsed
 * cors_allowed_origins, the decision per request and the headers.
 *
 * Nothing of these endpoints rests on cookies (a client authenticates
 * with its credentials, a resource call with its token), so echoing an
 * allowed origin exposes no ambient authority; Access-Control-Allow-
 * Credentials is never sent. The login, consent and logout pages and
 * /authorize do rest on cookies and never get CORS headers, nor does
 * /introspect (for resource servers, not browsers) or /_control/.
 *
 * A request's Origin is read once, when its route is known (cors_route,
 * on MHD's thread), so an answer sent from an offloaded thread needs no
 * header lookup; every answer leaves through respond.c, which asks
 * cors_headers to add what the request earned, errors included, so a
 * browser application can read a 400, 401 or 503 too.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "origin.h"
#include "server_int.h"
#include "strutil.h"

/* What a preflight allows to be sent besides the CORS-safelisted
 * headers: client credentials or a Bearer token, a form body, and a DPoP
 * proof (RFC 9449) once the endpoints take them. */
#define ALLOW_HEADERS "Authorization, Content-Type, DPoP"
/* Seconds a browser may reuse a preflight answer (Chromium caps at
 * 7200): a changed cors_allowed_origins reaches pages within this. */
#define MAX_AGE "600"
/* Headers an application reads on errors: the challenge of a 401 and
 * when to retry a 503. */
#define EXPOSE_HEADERS "WWW-Authenticate, Retry-After, DPoP-Nonce"

int cors_init(struct srv *s, const struct lk_config *cfg, char *err,
              size_t errlen)
{
	char why[300];
	if (origin_list_parse(cfg->cors_allowed_origins, &s->cors, why,
	                      sizeof(why)) != 0) {
		snprintf(err, errlen, "setting 'cors_allowed_origins': %s", why);
		return -1;
	}
	if (origin_list_any(s->cors))
		log_warnx("cors_allowed_origins is '*': a page "
		        "of any web origin may call the discovery, JWKS, token, "
		        "userinfo and revocation endpoints from a browser");
	return 0;
}

void cors_free(struct srv *s)
{
	origin_list_free(s->cors);
	s->cors = NULL;
}

void cors_route(struct srv_req *rq)
{
	if (rq->route == NULL || !(rq->route->flags & R_CORS) ||
	    origin_list_empty(rq->srv->cors))
		return;
	rq->cors = true;
	const char *origin = req_header(rq, "Origin");
	/* origin_list_allows takes only a well-formed origin, so what is
	 * echoed holds no byte a header must not. */
	if (origin_list_allows(rq->srv->cors, origin))
		rq->cors_origin = xstrdup(origin);
}

void cors_headers(const struct srv_req *rq, struct MHD_Response *resp)
{
	if (!rq->cors)
		return;
	/* Whatever the Origin, a cache must not hand this answer to a
	 * request from another origin. */
	MHD_add_response_header(resp, "Vary", "Origin");
	if (rq->cors_origin == NULL)
		return;
	MHD_add_response_header(resp, "Access-Control-Allow-Origin",
	                        rq->cors_origin);
	MHD_add_response_header(resp, "Access-Control-Expose-Headers",
	                        EXPOSE_HEADERS);
}

/* OPTIONS on an R_CORS route: Allow, and for an allowed origin what its
 * request may be (cors_headers adds the origin). A disallowed origin
 * gets no CORS header, so its browser refuses the request. */
void cors_preflight_headers(const struct srv_req *rq, struct hdr h[5])
{
	const char *allow = route_allow(rq->route);
	size_t n = 0;
	h[n++] = (struct hdr){"Allow", allow};
	if (rq->cors_origin != NULL) {
		h[n++] = (struct hdr){"Access-Control-Allow-Methods", allow};
		h[n++] = (struct hdr){"Access-Control-Allow-Headers",
		                      ALLOW_HEADERS};
		h[n++] = (struct hdr){"Access-Control-Max-Age", MAX_AGE};
	}
	h[n] = (struct hdr){NULL, NULL};
}
