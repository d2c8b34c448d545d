/*
 * metrics.c: the counters behind metrics.h and their text exposition.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"
#include "version.h"

/* The label sets. A value outside its set is counted as "other". */
static const char *const endpoints[] = {
	"token", "authorize", "introspect", "revoke", "jwks", "metadata",
	"openid_configuration", "logout", "resource", "healthz", "readyz",
	"metrics", "clock", "faults", "reset", "tokens", "userinfo", "claims",
	"device_authorization", "device", "resource_metadata", "other"};
#define N_ENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

static const int statuses[] = {200, 204, 302, 303, 400, 401, 403, 404, 405,
                               408, 413, 414, 415, 429, 431, 500, 503, 0};
#define N_STATUSES (sizeof(statuses) / sizeof(statuses[0]) + 1) /* + other */

static const char *const grant_types[] = {
	"client_credentials", "password", "authorization_code", "refresh_token",
	"urn:ietf:params:oauth:grant-type:token-exchange",
	"urn:ietf:params:oauth:grant-type:device_code",
	"urn:ietf:params:oauth:grant-type:jwt-bearer"};
#define N_GRANTS (sizeof(grant_types) / sizeof(grant_types[0]))

/* Upper bounds in seconds; the last slot is +Inf. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                 5,      10};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]) + 1)

/* Group commit batch sizes (issues per commit): le 1, 2, 4, ... 64. */
static const int batch_buckets[] = {1, 2, 4, 8, 16, 32, 64};
#define N_BATCH_BUCKETS (sizeof(batch_buckets) / sizeof(batch_buckets[0]) + 1)

static atomic_ulong counters[MET__MAX];
static atomic_ulong batches[N_BATCH_BUCKETS]; /* not cumulative */
static atomic_ulong batch_items;
static atomic_ulong tokens[N_GRANTS];
static atomic_ulong requests[N_ENDPOINTS][N_STATUSES];
static atomic_ulong hist[N_ENDPOINTS][N_BUCKETS]; /* not cumulative */
static atomic_ulong hist_sum_us[N_ENDPOINTS];

void metrics_inc(enum metric m)
{
	if (m < MET__MAX)
		atomic_fetch_add_explicit(&counters[m], 1, memory_order_relaxed);
}

void metrics_token_issued(const char *grant_type)
{
	for (size_t i = 0; grant_type != NULL && i < N_GRANTS; i++)
		if (strcmp(grant_type, grant_types[i]) == 0)
			atomic_fetch_add_explicit(&tokens[i], 1, memory_order_relaxed);
}

static size_t endpoint_index(const char *name)
{
	for (size_t i = 0; name != NULL && i + 1 < N_ENDPOINTS; i++)
		if (strcmp(name, endpoints[i]) == 0)
			return i;
	return N_ENDPOINTS - 1;
}

static size_t status_index(int status)
{
	for (size_t i = 0; i + 1 < N_STATUSES; i++)
		if (statuses[i] == status)
			return i;
	return N_STATUSES - 1;
}

void metrics_request(const char *endpoint, int status, double ms)
{
	size_t e = endpoint_index(endpoint);
	size_t b = 0;
	double secs = ms / 1000.0;
	while (b + 1 < N_BUCKETS && secs > buckets[b])
		b++;
	atomic_fetch_add_explicit(&requests[e][status_index(status)], 1,
	                          memory_order_relaxed);
	atomic_fetch_add_explicit(&hist[e][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hist_sum_us[e],
	                          (unsigned long)(ms > 0 ? ms * 1000.0 : 0),
	                          memory_order_relaxed);
}

void metrics_commit_batch(int n)
{
	size_t b = 0;
	while (b + 1 < N_BATCH_BUCKETS && n > batch_buckets[b])
		b++;
	atomic_fetch_add_explicit(&batches[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&batch_items, (unsigned long)n,
	                          memory_order_relaxed);
}

static unsigned long get(atomic_ulong *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		o->cap = 2 * o->cap + (size_t)n;
		char *grown = realloc(o->p, o->cap);
		if (grown == NULL)
			abort(); /* as xcalloc does */
		o->p = grown;
	}
}

static void counter(struct out *o, const char *name, const char *help,
                    unsigned long v)
{
	put(o, "# HELP %s %s\n# TYPE %s counter\n%s %lu\n", name, help, name,
	    name, v);
}

static atomic_llong cert_expiry;

void metrics_set_cert_expiry(long long not_after)
{
	atomic_store_explicit(&cert_expiry, not_after, memory_order_relaxed);
}

char *metrics_render(size_t *len)
{
	struct out o = {.p = xcalloc(1, 4096), .cap = 4096};

	/* Prometheus's convention for what is running: a constant 1 whose
	 * labels say it, so a dashboard can join on the version. */
	put(&o, "# HELP latchkey_build_info The version and source commit of "
	        "latchkeyd running.\n"
	        "# TYPE latchkey_build_info gauge\n"
	        "latchkey_build_info{version=\"%s\",commit=\"%s\"} 1\n",
	        LATCHKEY_VERSION, latchkey_commit);

	put(&o, "# HELP latchkey_http_requests_total HTTP requests answered, "
	        "by endpoint and status (0: the client left first).\n"
	        "# TYPE latchkey_http_requests_total counter\n");
	for (size_t e = 0; e < N_ENDPOINTS; e++)
		for (size_t s = 0; s < N_STATUSES; s++) {
			unsigned long v = get(&requests[e][s]);
			if (v == 0)
				continue;
			if (s + 1 < N_STATUSES)
				put(&o, "latchkey_http_requests_total{endpoint=\"%s\","
				        "status=\"%d\"} %lu\n", endpoints[e],
				    statuses[s], v);
			else
				put(&o, "latchkey_http_requests_total{endpoint=\"%s\","
				        "status=\"other\"} %lu\n", endpoints[e], v);
		}

	put(&o, "# HELP latchkey_http_request_duration_seconds Time from a "
	        "request's first byte to its response, by endpoint.\n"
	        "# TYPE latchkey_http_request_duration_seconds histogram\n");
	for (size_t e = 0; e < N_ENDPOINTS; e++) {
		unsigned long cum = 0;
		for (size_t b = 0; b < N_BUCKETS; b++)
			cum += get(&hist[e][b]);
		if (cum == 0)
			continue;
		cum = 0;
		for (size_t b = 0; b < N_BUCKETS; b++) {
			cum += get(&hist[e][b]);
			if (b + 1 < N_BUCKETS)
				put(&o, "latchkey_http_request_duration_seconds_bucket"
				        "{endpoint=\"%s\",le=\"%g\"} %lu\n",
				    endpoints[e], buckets[b], cum);
			else
				put(&o, "latchkey_http_request_duration_seconds_bucket"
				        "{endpoint=\"%s\",le=\"+Inf\"} %lu\n",
				    endpoints[e], cum);
		}
		put(&o, "latchkey_http_request_duration_seconds_sum"
		        "{endpoint=\"%s\"} %.6f\n", endpoints[e],
		    (double)get(&hist_sum_us[e]) / 1e6);
		put(&o, "latchkey_http_request_duration_seconds_count"
		        "{endpoint=\"%s\"} %lu\n", endpoints[e], cum);
	}

	put(&o, "# HELP latchkey_tokens_issued_total Token responses, by "
	        "grant type.\n# TYPE latchkey_tokens_issued_total counter\n");
	for (size_t i = 0; i < N_GRANTS; i++)
		put(&o, "latchkey_tokens_issued_total{grant_type=\"%s\"} %lu\n",
		    grant_types[i], get(&tokens[i]));

	put(&o, "# HELP latchkey_commit_batch_size Token issues committed "
	        "together, per commit (group commit).\n"
	        "# TYPE latchkey_commit_batch_size histogram\n");
	unsigned long bcum = 0;
	for (size_t b = 0; b < N_BATCH_BUCKETS; b++) {
		bcum += get(&batches[b]);
		if (b + 1 < N_BATCH_BUCKETS)
			put(&o, "latchkey_commit_batch_size_bucket{le=\"%d\"} %lu\n",
			    batch_buckets[b], bcum);
		else
			put(&o, "latchkey_commit_batch_size_bucket{le=\"+Inf\"} "
			        "%lu\n", bcum);
	}
	put(&o, "latchkey_commit_batch_size_sum %lu\n"
	        "latchkey_commit_batch_size_count %lu\n", get(&batch_items), bcum);

	counter(&o, "latchkey_refreshes_total",
	        "Refresh token grants that issued tokens.",
	        get(&counters[MET_REFRESH]));
	counter(&o, "latchkey_refresh_reuse_detected_total",
	        "Retired refresh tokens presented again (their family is "
	        "revoked).", get(&counters[MET_REFRESH_REUSE]));
	counter(&o, "latchkey_hook_runs_total",
	        "on_refresh hook processes run.", get(&counters[MET_HOOK_RUNS]));
	counter(&o, "latchkey_hook_failures_total",
	        "on_refresh hooks that failed, timed out or did not start.",
	        get(&counters[MET_HOOK_FAILURES]));
	counter(&o, "latchkey_database_errors_total",
	        "Database operations that failed with an I/O or busy error.",
	        get(&counters[MET_DB_ERRORS]));
	counter(&o, "latchkey_login_failures_total",
	        "Failed logins (password grant and login page): unknown "
	        "user or wrong password.", get(&counters[MET_LOGIN_FAILURES]));
	counter(&o, "latchkey_client_auth_failures_total",
	        "Failed client authentications: unknown client or wrong "
	        "secret.", get(&counters[MET_CLIENT_AUTH_FAILURES]));
	counter(&o, "latchkey_dpop_proof_failures_total",
	        "DPoP proofs refused (RFC 9449): malformed, replayed, stale, "
	        "for another URL or method, or by another key than the "
	        "token's.", get(&counters[MET_DPOP_PROOF_FAILURES]));
	long long expiry = atomic_load_explicit(&cert_expiry,
	                                        memory_order_relaxed);
	if (expiry != 0)
		put(&o, "# HELP latchkey_tls_certificate_expiry_timestamp_seconds "
		        "When the certificate latchkeyd serves (tls_cert) "
		        "expires.\n"
		        "# TYPE latchkey_tls_certificate_expiry_timestamp_seconds "
		        "gauge\n"
		        "latchkey_tls_certificate_expiry_timestamp_seconds %lld\n",
		    expiry);
	counter(&o, "latchkey_db_round_trips_total",
	        "PostgreSQL round trips: statements, prepares and pipeline "
	        "syncs that waited for the server (0 on SQLite).",
	        get(&counters[MET_DB_ROUND_TRIPS]));
	*len = o.len;
	return o.p;
}
