/*
 * routes.c: which endpoints latchkeyd serves, as one table: the role of
 * each (its name in logs, metrics and faults), the setting that holds its
 * path, the methods it takes, its handler and its flags. The OAuth
 * endpoints' paths are settings, so Latchkey can stand where a client has
 * another provider's paths hard-coded; a path a standard derives from
 * the issuer (RFC 9728's metadata URL) is derived instead. The table is
 * turned into routes once at start (router.c keeps them).
 *
 * Flags (handler.h): R_CORS lets browser applications of the
 * cors_allowed_origins call the endpoint (cors.c). Give it only to an
 * endpoint that reads no cookie and renders no page. R_GET_ACTS: a GET
 * may act (issue a code, sign out), so HEAD is not taken. R_PROTECTED:
 * the resource the site's RFC 9728 metadata describes.
 */
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "origin.h"
#include "server_int.h"

struct endpoint {
	const char *name;
	size_t path_setting; /* offset of the path in struct lk_config */
	const char *fixed_path; /* or this, when no setting moves it: the
	                         * server's, at the root, never a site's */
	/* or this, for a path derived from the site (borrowed from it) */
	const char *(*derived_path)(const struct site *site);
	unsigned methods;
	handler_fn fn;
	unsigned flags; /* R_CORS, R_GET_ACTS, R_PROTECTED */
};

#define SETTING(field) offsetof(struct lk_config, field), NULL, NULL
#define FIXED(path) 0, path, NULL
#define DERIVED(fn) 0, NULL, fn

/* The RFC 8414 metadata and the OpenID Connect discovery document are
 * one document (h_metadata renders both), so they can never disagree;
 * when both paths are one, it is served there once. */
static const struct endpoint endpoints[] = {
	{"authorize", SETTING(authorize_path), M_GET | M_POST, h_authorize,
	 R_GET_ACTS},
	{"token", SETTING(token_path), M_POST, h_token, R_CORS},
	{"introspect", SETTING(introspect_path), M_POST, h_introspect, 0},
	{"revoke", SETTING(revoke_path), M_POST, h_revoke, R_CORS},
	{"jwks", SETTING(jwks_path), M_GET, h_jwks, R_CORS},
	{"metadata", SETTING(metadata_path), M_GET, h_metadata, R_CORS},
	{"openid_configuration", SETTING(openid_configuration_path), M_GET,
	 h_metadata, R_CORS},
	{"logout", SETTING(end_session_path), M_GET | M_POST, h_logout,
	 R_GET_ACTS},
	{"resource", SETTING(resource_path), M_GET | M_POST, h_resource,
	 R_PROTECTED},
	/* RFC 9728: /resource's metadata, at the well-known URL its
	 * identifier gives (resource_metadata.c); read by browser apps too. */
	{"resource_metadata", DERIVED(resource_metadata_path), M_GET,
	 h_resource_metadata, R_CORS},
	/* RFC 8628: a device's endpoint (devices have no browser: no CORS),
	 * and the person's page. */
	{"device_authorization", SETTING(device_authorization_path), M_POST,
	 h_device_authorization, 0},
	{"device", SETTING(device_path), M_GET | M_POST, h_device, 0},
	/* OpenID Connect Core 5.3; browser apps call it (R_CORS). */
	{"userinfo", SETTING(userinfo_path), M_GET | M_POST, h_userinfo, R_CORS},
	{"healthz", FIXED("/healthz"), M_GET, h_healthz, 0},
	{"readyz", FIXED("/readyz"), M_GET, h_readyz, 0},
	{"metrics", SETTING(metrics_path), M_GET, h_metrics, 0},
};

#define WELL_KNOWN_OPENID "/.well-known/openid-configuration"

/* Discovery 1.0 section 4: the document is at the issuer plus
 * /.well-known/openid-configuration, so by default its path is the
 * issuer's path plus that (http://h/realms/x: /realms/x/.well-known/...).
 * The caller frees. */
static char *default_openid_path(const char *issuer)
{
	char *p = NULL;
	if (asprintf(&p, "%s" WELL_KNOWN_OPENID,
	             issuer + origin_prefix_len(issuer)) < 0)
		abort();
	return p;
}

/* Where e is served for site: its setting under the site's prefix (the
 * default discovery path and a derived path come from the issuer, which
 * has the prefix already). A new string in *own (kept in the site's
 * paths), or NULL for a fixed or derived path or the site's openid_path. */
static const char *endpoint_path(struct site *site, const struct lk_config *cfg,
                                 const struct endpoint *e, char **own)
{
	*own = NULL;
	if (e->fixed_path != NULL)
		return e->fixed_path;
	if (e->derived_path != NULL)
		return e->derived_path(site);
	const char *p = *(char *const *)((const char *)cfg + e->path_setting);
	if (p[0] == '\0') { /* only openid_configuration_path (config.c) */
		site->openid_path = default_openid_path(site->issuer);
		return site->openid_path;
	}
	if (asprintf(own, "%s%s", site->prefix, p) < 0)
		abort();
	return *own;
}

/* The route already at path, or NULL. */
static struct route *route_on(struct srv *s, const char *path)
{
	struct route *r;
	for (size_t i = 0; (r = srv_route_at(s, i)) != NULL; i++)
		if (strcmp(r->path, path) == 0)
			return r;
	return NULL;
}

/* Adds e on path for site. A path made for the route (own) is kept in
 * the site's list of paths, which the routes borrow. */
static int add(struct srv *s, struct site *site, const struct endpoint *e,
               const char *path, char *err, size_t errlen)
{
	struct route r = {.name = e->name, .path = path, .methods = e->methods,
	                  .fn = e->fn, .arg = NULL, .admit = NULL,
	                  .flags = e->flags, .site = site};
	return srv_route_add(s, &r, err, errlen);
}

/* A path for site's routes to borrow until the server is freed. */
static const char *keep(struct site *site, char *path)
{
	if (path == NULL)
		return NULL;
	char **more = realloc(site->paths,
	                      (site->npaths + 1) * sizeof(*site->paths));
	if (more == NULL)
		abort();
	site->paths = more;
	site->paths[site->npaths++] = path;
	return path;
}

int routes_init(struct srv *s, struct site *site, const struct lk_config *cfg,
                char *err, size_t errlen)
{
	const struct endpoint *openid = NULL;
	bool own_site = site == s->sites[0];
	for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
		const struct endpoint *e = &endpoints[i];
		if (e->fixed_path != NULL && !own_site)
			continue; /* /healthz, /readyz: the server's alone */
		if (strcmp(e->name, "metrics") == 0 && !own_site)
			continue;
		char *own;
		const char *path = endpoint_path(site, cfg, e, &own);
		keep(site, own);
		if (strcmp(e->name, "openid_configuration") == 0)
			openid = e;
		/* The discovery documents at one path are served once. */
		const struct route *there = route_on(s, path);
		if (e->fn == h_metadata && there != NULL && there->fn == e->fn &&
		    there->site == site) {
			log_info("the OpenID Connect discovery path is "
			         "metadata_path (%s): the one document is served "
			         "there", path);
			continue;
		}
		if (add(s, site, e, path, err, errlen) != 0)
			return -1;
	}
	/* Behind a reverse proxy that strips the issuer's path, the
	 * discovery request arrives without it: by default the document is
	 * served there too, unless that path is some endpoint's. A site
	 * with a prefix is served under it, so its document is there. */
	char *plain = NULL;
	if (asprintf(&plain, "%s" WELL_KNOWN_OPENID, site->prefix) < 0)
		abort();
	keep(site, plain);
	if (openid != NULL && site->openid_path != NULL &&
	    route_on(s, plain) == NULL &&
	    add(s, site, openid, plain, err, errlen) != 0)
		return -1;
	return 0;
}
