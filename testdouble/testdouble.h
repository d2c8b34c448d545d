/*
 * testdouble.h: the test double (docs/test-double.md), a layer around
 * the server that exists only with --test-double (or --fixtures): the
 * /_control/ endpoints for loopback clients (clock, faults, reset,
 * tokens), injected faults and delays on the real endpoints, and the
 * fixtures file. It wraps the server's route handlers once, before the
 * server starts (server/handler.h); without it the production path has
 * nothing of it, not even a branch.
 */
#ifndef LK_TESTDOUBLE_H
#define LK_TESTDOUBLE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct grants;
struct srv;
struct store;
struct testdouble;

/* Installs the test double into s, built by srv_new (and its tenants
 * added, srv_add_site) and not yet started: for each site, adds its
 * /_control/ routes and wraps its routes for faults and delays. cfg and
 * s (and each site's grants and store) must outlive it. Returns 0, or -1
 * with err set, after which s must not be started (routes may point into
 * what was freed; srv_stop still frees it). testdouble_free undoes it,
 * after srv_stop. */
int testdouble_install(struct srv *s, const struct lk_config *cfg,
                       struct testdouble **out, char *err, size_t errlen);
/* NULL is a no-op. */
void testdouble_free(struct testdouble *td);

/* fixtures.c: applies the JSON fixtures file at path (docs/
 * configuration.md, "Fixtures"): its clients and users are added, or
 * replace the stored ones of the same client_id or username. Secrets and
 * passwords are hashed with one HMAC (fast_hash: for a throwaway test
 * database) or with Argon2id. The whole file is checked, and everything
 * hashed, before the first write. May be called again, from any thread.
 * Returns 0, or -1 with err naming the file, the entry and the field. */
int fixtures_apply(struct store *st, const char *path, bool fast_hash,
                   char *err, size_t errlen);

/* fixture_tenants.c: the tenants of the fixtures file at path
 * (docs/test-double.md, "Several issuers in one process"), checked:
 * each a name and the path its endpoints are served under. *out is n of
 * them (fixtures_tenants_free), none when the file has no "tenants".
 * Returns 0, or -1 with err. */
struct fixture_tenant {
	char *name;
	char *path;
};
int fixtures_tenants(const char *path, struct fixture_tenant **out,
                     size_t *n, char *err, size_t errlen);
void fixtures_tenants_free(struct fixture_tenant *t, size_t n);
/* fixtures_apply for one tenant's clients and users (tenant NULL: the
 * top level's, as fixtures_apply). */
int fixtures_apply_tenant(struct store *st, const char *path,
                          const char *tenant, bool fast_hash, char *err,
                          size_t errlen);

/* fixtures_apply for a parsed file (root, borrowed); path names it in
 * messages (/_control/clients applies one entry so). */
struct json_t;
int fixtures_apply_json(struct store *st, const char *path,
                        const struct json_t *root, bool fast_hash, char *err,
                        size_t errlen);

#endif
