/*
 * health.c: /healthz and /readyz, and the log line that says why either
 * answers 503.
 *
 * A probe's 503 alone leaves an operator guessing (an old backup restored
 * under a running server, a newer `latchkey` that migrated it, a database
 * that stopped answering). Both endpoints share one check; its outcome is
 * kept in srv->health, and a log line is written when it changes, not at
 * every probe: a balancer polling every second would otherwise fill the
 * log with the same line.
 */
#include <stdio.h>

#include "log.h"
#include "server_int.h"
#include "version.h"

static const struct hdr no_store[] = {H_NO_STORE, {NULL, NULL}};

/* What the last check found; srv->health holds one of these. */
enum health {
	HEALTH_OK = 0,
	HEALTH_NO_ANSWER,
	HEALTH_OLDER,
	HEALTH_NEWER,
};

/* Reads the schema version, records the outcome, and logs a change. */
static enum health health_check(struct srv_req *rq, int *dbv)
{
	struct srv *srv = rq->srv;
	int binv = 0;
	char why[160];
	*dbv = 0;
	enum store_rc rc = store_schema_version(srv->sites[0]->store, dbv, &binv);
	enum health h = rc != STORE_OK ? HEALTH_NO_ANSWER
	                : *dbv < binv  ? HEALTH_OLDER
	                : *dbv > binv  ? HEALTH_NEWER
	                               : HEALTH_OK;
	if (atomic_exchange(&srv->health, (int)h) == (int)h)
		return h;
	switch (h) {
	case HEALTH_OK:
		log_info("health: the database answers again at schema version "
		         "%d; /healthz and /readyz answer 200", *dbv);
		return h;
	case HEALTH_NO_ANSWER:
		snprintf(why, sizeof(why), "the database does not answer (%s)",
		         store_rc_str(rc));
		break;
	case HEALTH_OLDER:
		if (*dbv == 0) {
			snprintf(why, sizeof(why), "the database records no "
			         "migration (schema version 0; this binary's is "
			         "%d)", binv);
			break;
		}
		snprintf(why, sizeof(why), "the database's schema version %d is "
		         "older than this binary's %d (restored from an old "
		         "backup? restart latchkeyd to migrate it)", *dbv, binv);
		break;
	case HEALTH_NEWER:
		snprintf(why, sizeof(why), "the database's schema version %d is "
		         "newer than this binary's %d (a newer latchkey migrated "
		         "it): upgrade this server", *dbv, binv);
		break;
	}
	log_warnx("health: /healthz and /readyz answer 503: %s", why);
	return h;
}

enum MHD_Result h_healthz(struct srv_req *rq)
{
	int dbv;
	if (health_check(rq, &dbv) != HEALTH_OK)
		return respond_error(rq, OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE,
		                                    "the database is not usable"),
		                     no_store);
	return respond_json(rq, 200, json_pack("{s:s, s:i, s:s, s:s}", "status",
	                                       "ok", "schema_version", dbv,
	                                       "version", LATCHKEY_VERSION,
	                                       "commit", latchkey_commit),
	                    no_store);
}

/* Readiness, for load balancers: may this instance get requests now? Only
 * when the database answers a question on every call (nothing cached) and
 * its schema is the binary's. Otherwise 503 temporarily_unavailable with
 * Retry-After (respond_error), so the balancer sends requests to another
 * instance until this one can serve them; /healthz keeps its own contract
 * (docs/operations.md, "Monitor"). */
enum MHD_Result h_readyz(struct srv_req *rq)
{
	int dbv;
	if (health_check(rq, &dbv) != HEALTH_OK)
		return respond_error(rq, OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE,
		                                    "the database does not answer"),
		                     no_store);
	return respond_json(rq, 200, json_pack("{s:s}", "status", "ready"),
	                    no_store);
}
