/*
 * sites.c: the issuers one server serves. The server's own (srv_new) is
 * the issuer at the root, or under issuer_path; the test double's
 * tenants add more (srv_add_site), each under its own path with its own
 * grants, store and clock. A site is what a request's handler works for:
 * routes.c gives each site its routes, and the router gives a request
 * its route's site, so no handler ever chooses between them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "server_int.h"
#include "strutil.h"

static void cookie_names(struct site *t)
{
	const char *pre = t->https ? "__Host-" : "";
	const char *dash = t->name[0] != '\0' ? "-" : "";
	snprintf(t->cookie_session, sizeof(t->cookie_session),
	         "%slk_session%s%s", pre, dash, t->name);
	snprintf(t->cookie_csrf, sizeof(t->cookie_csrf), "%slk_csrf%s%s", pre,
	         dash, t->name);
}

static void site_free(struct site *t)
{
	if (t == NULL)
		return;
	free(t->name);
	free(t->issuer);
	free(t->prefix);
	free(t->openid_path);
	free(t->resource_metadata_url);
	for (size_t i = 0; i < t->npaths; i++)
		free(t->paths[i]);
	free(t->paths);
	free(t->clock);
	free(t);
}

/* A site and its routes, or -1 with err (nothing kept). */
static int site_add(struct srv *s, const char *name, const char *prefix,
                    const char *issuer, struct grants *g, struct store *st,
                    bool own_clock, char *err, size_t errlen)
{
	if (s->nsites == MAX_SITES) {
		snprintf(err, errlen, "more than %d issuers in one server",
		         MAX_SITES - 1);
		return -1;
	}
	struct site *t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->issuer = xstrdup(issuer);
	t->prefix = xstrdup(prefix);
	t->grants = g;
	t->store = st;
	t->clock = own_clock ? xcalloc(1, sizeof(*t->clock)) : NULL;
	t->https = strncmp(issuer, "https://", 8) == 0;
	t->resource_metadata_url = resource_metadata_url(issuer,
	                                                 s->cfg->resource_path);
	cookie_names(t);
	size_t before = s->nroutes;
	s->sites[s->nsites++] = t;
	if (routes_init(s, t, s->cfg, err, errlen) != 0) {
		s->nroutes = before; /* its routes go with it */
		s->sites[--s->nsites] = NULL;
		site_free(t);
		return -1;
	}
	return 0;
}

int sites_init(struct srv *s, const char *issuer, struct grants *g,
               struct store *st, char *err, size_t errlen)
{
	return site_add(s, "", s->cfg->issuer_path, issuer, g, st, false, err,
	                errlen);
}

int srv_add_site(struct srv *s, const char *name, const char *prefix,
                 const char *issuer, struct grants *g, struct store *st,
                 char *err, size_t errlen)
{
	return site_add(s, name, prefix, issuer, g, st, true, err, errlen);
}

struct site *srv_site_at(struct srv *s, size_t i)
{
	return i < s->nsites ? s->sites[i] : NULL;
}

void sites_free(struct srv *s)
{
	for (size_t i = 0; i < s->nsites; i++)
		site_free(s->sites[i]);
	s->nsites = 0;
}
