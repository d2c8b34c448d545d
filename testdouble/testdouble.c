/*
 * testdouble.c: installs the test double into a server that has not
 * started yet, once for each of its sites (the server's own issuer and
 * the tenants of the fixtures, server/sites.c). Every production route's
 * handler is wrapped (wrapped below): an armed fault of its site answers
 * instead of it, or delays it (control.c, delay.c); each site gets its
 * /_control/ routes under its prefix, for loopback clients only
 * (loopback.c); each site's store reads are wrapped to merge the claims
 * set at runtime (claims.c); every answer goes to its site's journal
 * (journal.c). Without --test-double none of this is installed and the
 * server's routes call their handlers directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"
#include "testdouble_int.h"

/* The production handler, with td_serving set while it runs. */
static enum MHD_Result serve(struct srv_req *rq)
{
	const struct wrapped *w = rq->route->arg;
	td_serving = w->td;
	enum MHD_Result r = w->fn(rq);
	td_serving = NULL;
	return r;
}

static enum MHD_Result wrapped(struct srv_req *rq)
{
	const struct wrapped *w = rq->route->arg;
	long delay_ms = 0;
	enum MHD_Result ret;
	if (fault_fire(w->td, rq, &delay_ms, &ret))
		return ret;
	/* A stall must not hold up the worker. */
	if (delay_ms > 0 && delays_hold(&w->td->all->delays, rq, delay_ms, serve))
		return MHD_YES;
	return serve(rq);
}

static const struct {
	const char *name, *path;
	unsigned methods;
	handler_fn fn;
} controls[] = {
	{"clock", "/_control/clock", M_GET | M_POST, h_control_clock},
	{"faults", "/_control/faults", M_GET | M_POST, h_control_faults},
	{"reset", "/_control/reset", M_POST, h_control_reset},
	{"tokens", "/_control/tokens", M_GET, h_control_tokens},
	{"claims", "/_control/claims", M_GET | M_POST, h_control_claims},
	{"requests", "/_control/requests", M_GET | M_POST, h_control_requests},
	{"clients", "/_control/clients", M_GET | M_POST, h_control_clients},
	{"users", "/_control/users", M_GET | M_POST, h_control_users},
	{"device_control", "/_control/device", M_POST, h_control_device},
};
#define NCONTROLS (sizeof(controls) / sizeof(controls[0]))

/* The production routes' handlers do not read their route's arg, so the
 * wrapper may take it. Only td's site's routes are td's. */
static void wrap_routes(struct td_site *td, struct srv *s)
{
	struct route *r;
	size_t n = 0;
	for (size_t i = 0; (r = srv_route_at(s, i)) != NULL; i++)
		n += r->site == td->site;
	td->routes = xcalloc(n + 1, sizeof(*td->routes));
	for (size_t i = 0; (r = srv_route_at(s, i)) != NULL; i++) {
		if (r->site != td->site)
			continue;
		td->routes[td->nroutes] = (struct wrapped){
		    .td = td, .route = r, .fn = r->fn};
		r->fn = wrapped;
		r->arg = &td->routes[td->nroutes++];
	}
}

/* The control routes of td's site, under its prefix. Their paths live
 * as long as td (paths[]). */
static int add_controls(struct td_site *td, struct srv *s, char **paths,
                        char *err, size_t errlen)
{
	for (size_t i = 0; i < NCONTROLS; i++) {
		if (asprintf(&paths[i], "%s%s", td->site->prefix,
		             controls[i].path) < 0)
			abort();
		struct route r = {.name = controls[i].name, .path = paths[i],
		                  .methods = controls[i].methods,
		                  .fn = controls[i].fn, .arg = td,
		                  .admit = loopback, .flags = 0,
		                  .site = td->site};
		if (srv_route_add(s, &r, err, errlen) != 0)
			return -1;
	}
	return 0;
}

struct td_control_paths {
	char *p[NCONTROLS];
};

static void td_site_free(struct td_site *td)
{
	if (td == NULL)
		return;
	faults_free(td);
	claim_extras_free(td);
	journal_free(td);
	pthread_mutex_destroy(&td->fault_mu);
	struct td_control_paths *cp = td->control_paths;
	for (size_t i = 0; cp != NULL && i < NCONTROLS; i++)
		free(cp->p[i]);
	free(cp);
	free(td->routes);
	free(td);
}

static int site_install(struct testdouble *all, struct srv *s,
                        const struct lk_config *cfg, struct site *site,
                        char *err, size_t errlen)
{
	struct td_site *td = xcalloc(1, sizeof(*td));
	td->all = all;
	td->cfg = cfg;
	td->site = site;
	td->tenant = site->name[0] != '\0' ? site->name : NULL;
	td->grants = site->grants;
	td->store = site->store;
	pthread_mutex_init(&td->fault_mu, NULL);
	journal_init(td);
	all->sites[all->nsites++] = td;
	struct td_control_paths *cp = xcalloc(1, sizeof(*cp));
	td->control_paths = cp;
	if (claim_extras_install(td, err, errlen) != 0)
		return -1;
	wrap_routes(td, s);
	return add_controls(td, s, cp->p, err, errlen);
}

int testdouble_install(struct srv *s, const struct lk_config *cfg,
                       struct testdouble **out, char *err, size_t errlen)
{
	struct testdouble *td = xcalloc(1, sizeof(*td));
	if (delays_start(&td->delays, err, errlen) != 0) {
		free(td);
		return -1;
	}
	/* Before any route is wrapped. */
	if (srv_on_stop(s, delays_cut, &td->delays) != 0 ||
	    srv_on_answer(s, journal_note, td) != 0) {
		snprintf(err, errlen, "test double: the server's stop or answer "
		         "hook is taken");
		testdouble_free(td);
		return -1;
	}
	struct site *site;
	for (size_t i = 0; (site = srv_site_at(s, i)) != NULL; i++) {
		if (i == TD_MAX_SITES ||
		    site_install(td, s, cfg, site, err, errlen) != 0) {
			if (i == TD_MAX_SITES)
				snprintf(err, errlen, "test double: too many sites");
			testdouble_free(td);
			return -1;
		}
	}
	*out = td;
	return 0;
}

void testdouble_free(struct testdouble *td)
{
	if (td == NULL)
		return;
	delays_stop(&td->delays);
	for (size_t i = 0; i < td->nsites; i++)
		td_site_free(td->sites[i]);
	free(td);
}
