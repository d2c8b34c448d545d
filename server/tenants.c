/*
 * tenants.c: latchkeyd's tenants (docs/test-double.md, "Several issuers
 * in one process"): the "tenants" of the fixtures file, each an issuer
 * of its own under its path, with its own database in --ephemeral's
 * directory (so its own keys, clients, users and tokens), its own grants
 * and, through its site, its own clock. main.c builds them before the
 * server and hands each to the server as a site (srv_add_site); they go
 * after the server has stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "strutil.h"
#include "tenants.h"
#include "testdouble.h"

struct tenant {
	char *name;
	char *issuer;
	char *prefix;
	struct store *st;
	struct grants *g;
};

struct tenants {
	struct tenant *v;
	size_t n;
};

static int open_one(struct tenant *t, const struct lk_config *cfg,
                    const char *dir, const char *base_issuer,
                    const struct fixture_tenant *ft)
{
	char err[512];
	char *db = NULL;
	t->name = xstrdup(ft->name);
	t->prefix = xstrdup(ft->path);
	if (asprintf(&db, "%s/tenant-%s.db", dir, ft->name) < 0 ||
	    asprintf(&t->issuer, "%s%s", base_issuer, ft->path) < 0)
		abort();
	int applied = 0, schema = 0;
	struct store_options so = {.durability = STORE_DURABILITY_NORMAL};
	enum store_rc rc = store_open_with(db, &so, &t->st, err, sizeof(err));
	if (rc == STORE_OK)
		rc = store_migrate(t->st, &applied, &schema, err, sizeof(err));
	free(db);
	if (rc != STORE_OK) {
		log_errx("tenant %s: database: %s", t->name, err);
		return -1;
	}
	if (fixtures_apply_tenant(t->st, cfg->fixtures, t->name, true, err,
	                          sizeof(err)) != 0) {
		log_errx("%s", err);
		return -1;
	}
	struct grants_config gc;
	grants_config_from(&gc, cfg, t->issuer);
	if (grants_new(t->st, &gc, &t->g, err, sizeof(err)) != 0) {
		log_errx("tenant %s: %s", t->name, err);
		return -1;
	}
	return 0;
}

int tenants_open(const struct lk_config *cfg, const char *dir,
                 const char *base_issuer, struct tenants **out)
{
	*out = NULL;
	if (cfg->fixtures[0] == '\0')
		return 0;
	char err[512];
	struct fixture_tenant *ft = NULL;
	size_t n = 0;
	if (fixtures_tenants(cfg->fixtures, &ft, &n, err, sizeof(err)) != 0) {
		log_errx("%s", err);
		return -1;
	}
	if (n == 0)
		return 0;
	if (dir == NULL) {
		log_errx("fixtures %s: tenants need --ephemeral (each is a "
		         "throwaway database of its own)", cfg->fixtures);
		fixtures_tenants_free(ft, n);
		return -1;
	}
	struct tenants *ts = xcalloc(1, sizeof(*ts));
	ts->v = xcalloc(n, sizeof(*ts->v));
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = open_one(&ts->v[i], cfg, dir, base_issuer, &ft[i]);
		ts->n = i + 1; /* freed by tenants_close, opened or not */
	}
	fixtures_tenants_free(ft, n);
	if (rc != 0) {
		tenants_close(ts);
		return -1;
	}
	*out = ts;
	return 0;
}

int tenants_serve(struct tenants *ts, struct srv *s)
{
	char err[512];
	for (size_t i = 0; ts != NULL && i < ts->n; i++) {
		struct tenant *t = &ts->v[i];
		if (srv_add_site(s, t->name, t->prefix, t->issuer, t->g, t->st, err,
		                 sizeof(err)) != 0) {
			log_errx("tenant %s: %s", t->name, err);
			return -1;
		}
		log_info("tenant %s: issuer %s", t->name, t->issuer);
	}
	return 0;
}

json_t *tenants_json(const struct tenants *ts)
{
	if (ts == NULL)
		return NULL;
	json_t *a = json_array();
	for (size_t i = 0; i < ts->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "name",
		                                   ts->v[i].name, "issuer",
		                                   ts->v[i].issuer));
	return a;
}

void tenants_close(struct tenants *ts)
{
	if (ts == NULL)
		return;
	for (size_t i = 0; i < ts->n; i++) {
		grants_free(ts->v[i].g);
		store_close(ts->v[i].st);
		free(ts->v[i].name);
		free(ts->v[i].issuer);
		free(ts->v[i].prefix);
	}
	free(ts->v);
	free(ts);
}
