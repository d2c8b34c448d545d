/*
 * routes.c: which endpoints latchkeyd serves, as one table: the role of
 * each (its name in logs, metrics and faults), the setting that holds its
 * path, the methods it takes and its handler. The OAuth endpoints' paths
 * are settings, so Latchkey can stand where a client has another
 * provider's paths hard-coded; the table is turned into routes once at
 * start (router.c keeps them).
 */
#include <stddef.h>

#include "server_int.h"

struct endpoint {
	const char *name;
	size_t path_setting; /* offset of the path in struct lk_config */
	const char *fixed_path; /* or this, when no setting moves it */
	unsigned methods;
	handler_fn fn;
};

#define SETTING(field) offsetof(struct lk_config, field), NULL
#define FIXED(path) 0, path

static const struct endpoint endpoints[] = {
	{"authorize", SETTING(authorize_path), M_GET | M_POST, h_authorize},
	{"token", SETTING(token_path), M_POST, h_token},
	{"introspect", SETTING(introspect_path), M_POST, h_introspect},
	{"revoke", SETTING(revoke_path), M_POST, h_revoke},
	{"jwks", SETTING(jwks_path), M_GET, h_jwks},
	{"metadata", SETTING(metadata_path), M_GET, h_metadata},
	{"resource", SETTING(resource_path), M_GET | M_POST, h_resource},
	/* OpenID Connect Core 5.3. After the CORS merge: opt in here (browser
	 * apps call userinfo; DECISIONS.md "OpenID Connect", CORS). */
	{"userinfo", SETTING(userinfo_path), M_GET | M_POST, h_userinfo},
	{"healthz", FIXED("/healthz"), M_GET, h_healthz},
	{"readyz", FIXED("/readyz"), M_GET, h_readyz},
	{"metrics", SETTING(metrics_path), M_GET, h_metrics},
};

int routes_init(struct srv *s, const struct lk_config *cfg, char *err,
                size_t errlen)
{
	for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
		const struct endpoint *e = &endpoints[i];
		const char *path =
		    e->fixed_path != NULL
		        ? e->fixed_path
		        : *(char *const *)((const char *)cfg + e->path_setting);
		struct route r = {.name = e->name, .path = path,
		                  .methods = e->methods, .fn = e->fn};
		if (srv_route_add(s, &r, err, errlen) != 0)
			return -1;
	}
	return 0;
}
