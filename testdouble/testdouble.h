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

/* Installs the test double into s, built by srv_new and not yet started:
 * adds the /_control/ routes and wraps every route already there for
 * faults and delays. cfg, g, st and s must outlive it. Returns 0, or -1
 * with err set. testdouble_free undoes it, after srv_stop. */
int testdouble_install(struct srv *s, const struct lk_config *cfg,
                       struct grants *g, struct store *st,
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

/* fixtures_apply for a parsed file (root, borrowed); path names it in
 * messages (/_control/clients applies one entry so). */
struct json_t;
int fixtures_apply_json(struct store *st, const char *path,
                        const struct json_t *root, bool fast_hash, char *err,
                        size_t errlen);

#endif
