/*
 * admin_api.h: the admin HTTP API of latchkeyd (docs/admin-api.md): JSON
 * over clients, users, tokens, keys, consents, sessions and the audit
 * trail, on a listener of its own (admin_listen), never the public port.
 * A request authenticates with a Bearer access token of Latchkey's own
 * that carries latchkey:admin (grants_admin_token) and, when
 * admin_tls_client_ca is set, a client certificate that CA signed. Every
 * change is recorded in the audit trail, its actor the admin client.
 *
 * A module beside the server: it uses grants (the token check) and the
 * store, and nothing of server/; latchkeyd's main starts and stops it.
 */
#ifndef LK_ADMIN_API_H
#define LK_ADMIN_API_H

#include <stddef.h>

#include "config.h"
#include "grants.h"
#include "store.h"

struct admin_api;

/* Serves the admin API on cfg->admin_listen with its own threads. Returns
 * 0 with *out set and *port the bound port (*out NULL when admin_listen
 * is empty: off), or -1 with err set. cfg, g and st must outlive it. */
int admin_api_start(const struct lk_config *cfg, struct grants *g,
                    struct store *st, struct admin_api **out, int *port,
                    char *err, size_t errlen);

/* Stops serving (requests under way finish) and frees a. NULL: no-op. */
void admin_api_stop(struct admin_api *a);

#endif
