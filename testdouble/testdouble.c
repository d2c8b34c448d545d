/*
 * testdouble.c: installs the test double into a server that has not
 * started yet. Every production route's handler is wrapped (wrapped
 * below): an armed fault answers instead of it, or delays it
 * (control.c, delay.c); the /_control/ routes are added, for loopback
 * clients only (loopback.c); the store's user and client reads are
 * wrapped to merge the claims set at runtime (claims.c). Without --test-double none of this is
 * installed and the server's routes call their handlers directly.
 */
#include <stdio.h>
#include <stdlib.h>

#include "strutil.h"
#include "testdouble_int.h"

static enum MHD_Result wrapped(struct srv_req *rq)
{
	const struct wrapped *w = rq->route->arg;
	long delay_ms = 0;
	enum MHD_Result ret;
	if (fault_fire(w->td, rq, &delay_ms, &ret))
		return ret;
	/* A stall must not hold up the worker. */
	if (delay_ms > 0 && delays_hold(&w->td->delays, rq, delay_ms, w->fn))
		return MHD_YES;
	return w->fn(rq);
}

static const struct route controls[] = {
	{"clock", "/_control/clock", M_GET | M_POST, h_control_clock, NULL,
	 loopback, 0},
	{"faults", "/_control/faults", M_GET | M_POST, h_control_faults, NULL,
	 loopback, 0},
	{"reset", "/_control/reset", M_POST, h_control_reset, NULL, loopback,
	 0},
	{"tokens", "/_control/tokens", M_GET, h_control_tokens, NULL, loopback,
	 0},
	{"claims", "/_control/claims", M_GET | M_POST, h_control_claims, NULL,
	 loopback, 0},
	{"requests", "/_control/requests", M_GET | M_POST, h_control_requests,
	 NULL, loopback, 0},
	{"clients", "/_control/clients", M_GET | M_POST, h_control_clients,
	 NULL, loopback, 0},
	{"users", "/_control/users", M_GET | M_POST, h_control_users, NULL,
	 loopback, 0},
};

/* The production routes' handlers do not read their route's arg, so the
 * wrapper may take it. */
static void wrap_routes(struct testdouble *td, struct srv *s)
{
	struct route *r;
	while (srv_route_at(s, td->nroutes) != NULL)
		td->nroutes++;
	td->routes = xcalloc(td->nroutes, sizeof(*td->routes));
	for (size_t i = 0; (r = srv_route_at(s, i)) != NULL; i++) {
		td->routes[i] = (struct wrapped){.td = td, .route = r, .fn = r->fn};
		r->fn = wrapped;
		r->arg = &td->routes[i];
	}
}

int testdouble_install(struct srv *s, const struct lk_config *cfg,
                       struct grants *g, struct store *st,
                       struct testdouble **out, char *err, size_t errlen)
{
	struct testdouble *td = xcalloc(1, sizeof(*td));
	td->cfg = cfg;
	td->grants = g;
	td->store = st;
	pthread_mutex_init(&td->fault_mu, NULL);
	if (delays_start(&td->delays, err, errlen) != 0) {
		pthread_mutex_destroy(&td->fault_mu);
		free(td);
		return -1;
	}
	/* Before any route is wrapped, so that a refusal leaves the server
	 * as it was. */
	if (srv_on_stop(s, delays_cut, &td->delays) != 0) {
		snprintf(err, errlen, "test double: the server's stop hook "
		         "is taken");
		testdouble_free(td);
		return -1;
	}
	if (claim_extras_install(td, err, errlen) != 0 ||
	    journal_install(td, s, err, errlen) != 0) {
		testdouble_free(td);
		return -1;
	}
	wrap_routes(td, s);
	for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
		struct route r = controls[i];
		r.arg = td;
		if (srv_route_add(s, &r, err, errlen) != 0) {
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
	faults_free(td);
	claim_extras_free(td);
	journal_free(td);
	pthread_mutex_destroy(&td->fault_mu);
	free(td->routes);
	free(td);
}
