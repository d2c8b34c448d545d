/*
 * router.c: the route table and its lookup. Paths are exact (no
 * patterns), so a lookup is a short scan. Which endpoints exist is
 * routes.c's table; a layer around the server (the test double) adds
 * its own routes and wraps handlers here, once, before the server starts.
 */
#include <stdio.h>
#include <string.h>

#include "origin.h"
#include "server_int.h"

static unsigned method_bit(const char *m)
{
	if (strcmp(m, "GET") == 0)
		return M_GET;
	if (strcmp(m, "HEAD") == 0)
		return M_HEAD;
	if (strcmp(m, "POST") == 0)
		return M_POST;
	if (strcmp(m, "OPTIONS") == 0)
		return M_OPTIONS;
	return 0;
}

/* A GET route answers HEAD too (MHD sends no body), except R_GET_ACTS
 * ones (/authorize, /logout): a HEAD there would act, and a link checker
 * would get codes issued or people signed out. An
 * R_CORS route answers OPTIONS (the CORS preflight) while CORS is on. */
int srv_route_add(struct srv *s, const struct route *r, char *err,
                  size_t errlen)
{
	for (size_t k = 0; k < s->nroutes; k++) {
		if (strcmp(r->path, s->routes[k].path) == 0) {
			snprintf(err, errlen, "two endpoints share the path "
			         "'%.200s' (%s and %s): give one of them another "
			         "path", r->path, s->routes[k].name, r->name);
			return -1;
		}
	}
	if (s->nroutes == MAX_ROUTES) {
		snprintf(err, errlen, "more than %d endpoints", MAX_ROUTES);
		return -1;
	}
	struct route *n = &s->routes[s->nroutes++];
	*n = *r;
	if (n->site == NULL)
		n->site = s->sites[0];
	if ((n->methods & M_GET) && !(n->flags & R_GET_ACTS))
		n->methods |= M_HEAD;
	if ((n->flags & R_CORS) && !origin_list_empty(s->cors))
		n->methods |= M_OPTIONS;
	return 0;
}

struct route *srv_route_at(struct srv *s, size_t i)
{
	return i < s->nroutes ? &s->routes[i] : NULL;
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
	static const char *const allow[16] = {
		[M_GET] = "GET",
		[M_POST] = "POST",
		[M_GET | M_POST] = "GET, POST",
		[M_GET | M_HEAD] = "GET, HEAD",
		[M_GET | M_HEAD | M_POST] = "GET, HEAD, POST",
		[M_POST | M_OPTIONS] = "POST, OPTIONS",
		[M_GET | M_HEAD | M_OPTIONS] = "GET, HEAD, OPTIONS",
		[M_GET | M_HEAD | M_POST | M_OPTIONS] = "GET, HEAD, POST, OPTIONS",
	};
	const char *a = allow[r->methods & 15];
	return a != NULL ? a : "";
}
