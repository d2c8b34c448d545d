/*
 * router.c: the route table. Paths are exact (no patterns), so a lookup is
 * a short scan; the table is the one place that says which endpoint exists
 * and which methods it takes. The OAuth endpoints' paths are settings, so
 * Latchkey can stand where a client has another provider's paths
 * hard-coded; the table is built once at start from them.
 */
#include <stdio.h>
#include <string.h>

#include "server_int.h"

static unsigned method_bit(const char *m)
{
	if (strcmp(m, "GET") == 0)
		return M_GET;
	if (strcmp(m, "HEAD") == 0)
		return M_HEAD;
	if (strcmp(m, "POST") == 0)
		return M_POST;
	return 0;
}

/* A GET route answers HEAD too (MHD sends no body), except /authorize:
 * a HEAD there would act, and a link checker would get codes issued. */
static void add(struct srv *s, const char *name, const char *path,
                unsigned methods, handler_fn fn, bool control)
{
	if ((methods & M_GET) && strcmp(name, "authorize") != 0)
		methods |= M_HEAD;
	s->routes[s->nroutes++] =
	    (struct route){.name = name, .path = path, .methods = methods,
	                   .fn = fn, .control = control};
}

int router_init(struct srv *s, const struct lk_config *c, char *err,
                size_t errlen)
{
	s->nroutes = 0;
	add(s, "authorize", c->authorize_path, M_GET | M_POST, h_authorize, false);
	add(s, "token", c->token_path, M_POST, h_token, false);
	add(s, "introspect", c->introspect_path, M_POST, h_introspect, false);
	add(s, "revoke", c->revoke_path, M_POST, h_revoke, false);
	add(s, "jwks", c->jwks_path, M_GET, h_jwks, false);
	add(s, "metadata", c->metadata_path, M_GET, h_metadata, false);
	add(s, "resource", c->resource_path, M_GET | M_POST, h_resource, false);
	add(s, "healthz", "/healthz", M_GET, h_healthz, false);
	add(s, "readyz", "/readyz", M_GET, h_readyz, false);
	add(s, "metrics", c->metrics_path, M_GET, h_metrics, false);
	if (c->test_double) {
		add(s, "clock", "/_control/clock", M_GET | M_POST, h_control_clock, true);
		add(s, "faults", "/_control/faults", M_GET | M_POST, h_control_faults,
		    true);
		add(s, "reset", "/_control/reset", M_POST, h_control_reset, true);
		add(s, "tokens", "/_control/tokens", M_GET, h_control_tokens, true);
	}
	for (size_t i = 0; i < s->nroutes; i++) {
		for (size_t k = 0; k < i; k++) {
			if (strcmp(s->routes[i].path, s->routes[k].path) == 0) {
				snprintf(err, errlen, "two endpoints share the path "
				         "'%.200s'", s->routes[i].path);
				return -1;
			}
		}
	}
	return 0;
}

const struct route *route_find(const struct srv *s, const char *path,
                               const char *method, bool *allowed)
{
	for (size_t i = 0; i < s->nroutes; i++) {
		if (strcmp(s->routes[i].path, path) == 0) {
			*allowed = (s->routes[i].methods & method_bit(method)) != 0;
			return &s->routes[i];
		}
	}
	*allowed = false;
	return NULL;
}

const char *route_allow(const struct route *r)
{
	/* Indexed by the method bits; the Allow header lists what a route
	 * takes (RFC 9110 section 10.2.1). */
	static const char *const allow[8] = {
		[M_GET] = "GET",
		[M_POST] = "POST",
		[M_GET | M_POST] = "GET, POST",
		[M_GET | M_HEAD] = "GET, HEAD",
		[M_GET | M_HEAD | M_POST] = "GET, HEAD, POST",
	};
	const char *a = allow[r->methods & 7];
	return a != NULL ? a : "";
}
