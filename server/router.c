/*
 * router.c: the route table. Paths are exact (no patterns), so a lookup is
 * a short scan; the table is the one place that says which endpoint exists
 * and which methods it takes.
 */
#include <string.h>

#include "server_int.h"

static const struct route routes[] = {
	{"/authorize", M_GET | M_POST, h_authorize},
	{"/token", M_POST, h_token},
	{"/introspect", M_POST, h_introspect},
	{"/revoke", M_POST, h_revoke},
	{"/jwks.json", M_GET, h_jwks},
	{"/.well-known/oauth-authorization-server", M_GET, h_metadata},
	{"/healthz", M_GET, h_healthz},
};

static unsigned method_bit(const char *m)
{
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		return M_GET;
	if (strcmp(m, "POST") == 0)
		return M_POST;
	return 0;
}

const struct route *route_find(const char *path, const char *method,
                               bool *allowed)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, path) == 0) {
			*allowed = (routes[i].methods & method_bit(method)) != 0;
			return &routes[i];
		}
	}
	*allowed = false;
	return NULL;
}

const char *route_allow(const struct route *r)
{
	switch (r->methods) {
	case M_GET: return "GET, HEAD";
	case M_POST: return "POST";
	default: return "GET, HEAD, POST";
	}
}
