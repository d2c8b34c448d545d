/*
 * tenants.h: latchkeyd's tenants, for main.c (tenants.c).
 */
#ifndef LK_TENANTS_H
#define LK_TENANTS_H

#include <jansson.h>

#include "config.h"

struct srv;
struct tenants;

/* Opens the tenants of cfg's fixtures file, each with a database in dir
 * (--ephemeral's; NULL refuses tenants) and grants for base_issuer plus
 * its path. *out stays NULL when there are none. 0, or -1 (logged). */
int tenants_open(const struct lk_config *cfg, const char *dir,
                 const char *base_issuer, struct tenants **out);
/* Adds each as a site of s (srv_add_site); 0, or -1 (logged). */
int tenants_serve(struct tenants *ts, struct srv *s);
/* [{"name","issuer"}, ...] for the ready line; NULL for none. */
json_t *tenants_json(const struct tenants *ts);
/* After the server has stopped. NULL is a no-op. */
void tenants_close(struct tenants *ts);

#endif
