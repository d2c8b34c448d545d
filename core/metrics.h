/*
 * metrics.h: the process's counters and latency histograms, rendered for
 * GET /metrics in the Prometheus text format (version 0.0.4).
 *
 * Every series is a fixed slot updated with relaxed atomics: recording
 * never takes a lock and never allocates, so it can sit on the hot path.
 * Labels come from closed sets (endpoint role names, status codes, grant
 * types), so no request can grow the number of series.
 */
#ifndef LK_METRICS_H
#define LK_METRICS_H

#include <stddef.h>

enum metric {
	MET_REFRESH,          /* refresh_token grants that issued tokens */
	MET_REFRESH_REUSE,    /* retired refresh tokens presented again */
	MET_HOOK_RUNS,        /* on_refresh hook processes run */
	MET_HOOK_FAILURES,    /* ... that failed, timed out or did not start */
	MET_DB_ERRORS,        /* database I/O or busy errors */
	MET_DB_ROUND_TRIPS,   /* PostgreSQL: requests sent that waited for
	                       * the server's answer (storage/pg_conn.c) */
	MET_LOGIN_FAILURES,   /* wrong username or password (counted ones) */
	MET_CLIENT_AUTH_FAILURES, /* unknown client or wrong secret */
	MET_DPOP_PROOF_FAILURES,  /* DPoP proofs refused (RFC 9449) */
	MET__MAX
};

void metrics_inc(enum metric m);
/* A grant that issued tokens (grant_type as on the wire). */
void metrics_token_issued(const char *grant_type);
/* One finished HTTP request. endpoint: the route's role name ("token"),
 * NULL when no route matched. status 0: the client left first. */
void metrics_request(const char *endpoint, int status, double ms);
/* One group commit of n token issues (storage/commit_queue.c). */
void metrics_commit_batch(int n);
/* When latchkeyd serves TLS: its certificate's notAfter (seconds since
 * the epoch), for an alert before it expires; 0 (the default) leaves the
 * series out. */
void metrics_set_cert_expiry(long long not_after);
/* The whole exposition, NUL-terminated; the caller frees it. */
char *metrics_render(size_t *len);

#endif
