/*
 * housekeeping.c: latchkeyd's scheduled chores. Every purge_interval
 * seconds (0: never), store_purge deletes the expired token records, codes
 * and sessions (the rules are in store.h), so the database stops growing
 * with every token issued. Every TRIM_SECS, malloc_trim hands freed heap
 * back to the system: each Argon2id check takes 19 MiB, which glibc keeps
 * in the worker thread's arena after free (about 20 MB a worker, for
 * good). Keeping it while logins go on is what makes them fast (a fresh
 * mapping per check costs its page faults: 93 logins per second became
 * 10 on the 2-core bench machine); giving it back seconds after they stop
 * is what brings the server back to its idle size.
 *
 * Owns one thread, its mutex and condition variable. The thread sleeps on
 * the condition variable against CLOCK_MONOTONIC, so a wall-clock jump
 * neither fires a purge early nor holds one off; the purge itself asks
 * clock_now(), the clock tokens are stamped with (which the test double
 * can move). housekeeping_stop wakes it and joins it. A purge that is
 * under way is let finish: it works in short transactions, so this costs
 * a shutdown little even with a large backlog.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "strutil.h"

#define TRIM_SECS 5
#define TICK_SECS 1

struct housekeeping {
	struct store *st;
	long interval; /* seconds between purges; 0: none */
	long audit_retention; /* seconds audit events are kept; 0: forever */
	void (*tick)(void *arg); /* every TICK_SECS; NULL: none */
	void *tick_arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	bool stopping; /* under mu */
};

/* One purge, and one line about it when it deleted something. */
static void purge_once(struct store *st, long audit_retention)
{
	struct store_purge_counts c;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	enum store_rc r = store_purge(st, clock_now(), &c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	            (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	long long total = (long long)(c.access_tokens + c.refresh_tokens +
	                              c.codes + c.sessions + c.throttle_keys +
	                              c.previous_secrets + c.used_jtis +
	                              c.device_codes);
	/* Throttle rows exist on PostgreSQL only, and secrets past their
	 * grace are rare: each named only when some went. */
	char throttle[128] = "";
	if (c.throttle_keys > 0)
		snprintf(throttle, sizeof(throttle), ", %lld throttle key(s)",
		         (long long)c.throttle_keys);
	if (c.previous_secrets > 0)
		snprintf(throttle + strlen(throttle),
		         sizeof(throttle) - strlen(throttle),
		         ", %lld expired previous secret(s)",
		         (long long)c.previous_secrets);
	if (c.used_jtis > 0)
		snprintf(throttle + strlen(throttle),
		         sizeof(throttle) - strlen(throttle),
		         ", %lld used assertion id(s)", (long long)c.used_jtis);
	if (c.device_codes > 0)
		snprintf(throttle + strlen(throttle),
		         sizeof(throttle) - strlen(throttle),
		         ", %lld device code(s)", (long long)c.device_codes);
	if (r != STORE_OK)
		log_errx("purge failed after %lld record(s): %s; retrying in "
		         "one interval", total, store_rc_str(r));
	else if (total > 0)
		log_info("purged %lld access token(s), %lld refresh token(s), "
		         "%lld authorization code(s), %lld session(s)%s in %.0f "
		         "ms", (long long)c.access_tokens,
		         (long long)c.refresh_tokens, (long long)c.codes,
		         (long long)c.sessions, throttle, ms);
	else
		log_debug("purge: nothing had expired (%.0f ms)", ms);
	if (r != STORE_OK || audit_retention <= 0)
		return;
	int64_t audit = 0;
	r = store_audit_purge(st, clock_now() - audit_retention, &audit);
	if (r != STORE_OK)
		log_errx("purging audit events failed after %lld: %s; retrying "
		         "in one interval", (long long)audit, store_rc_str(r));
	else if (audit > 0)
		log_info("purged %lld audit event(s) older than audit_retention "
		         "(%ld s)", (long long)audit, audit_retention);
}

static void *run(void *arg)
{
	struct housekeeping *h = arg;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	time_t next_purge = now.tv_sec + h->interval;
	time_t next_trim = now.tv_sec + TRIM_SECS;
	time_t next_tick = now.tv_sec + TICK_SECS;
	pthread_mutex_lock(&h->mu);
	while (!h->stopping) {
		struct timespec until = {.tv_sec = next_trim};
		if (h->interval > 0 && next_purge < until.tv_sec)
			until.tv_sec = next_purge;
		if (h->tick != NULL && next_tick < until.tv_sec)
			until.tv_sec = next_tick;
		int rc = 0;
		while (!h->stopping && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&h->wake, &h->mu, &until);
		if (h->stopping)
			break;
		pthread_mutex_unlock(&h->mu);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (h->interval > 0 && now.tv_sec >= next_purge) {
			purge_once(h->st, h->audit_retention);
			clock_gettime(CLOCK_MONOTONIC, &now);
			next_purge = now.tv_sec + h->interval;
		}
		if (h->tick != NULL && now.tv_sec >= next_tick) {
			h->tick(h->tick_arg);
			clock_gettime(CLOCK_MONOTONIC, &now);
			next_tick = now.tv_sec + TICK_SECS;
		}
		if (now.tv_sec >= next_trim) {
			malloc_trim(0);
			next_trim = now.tv_sec + TRIM_SECS;
		}
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	/* This thread's connection goes now, before the store does. */
	store_thread_end(h->st);
	return NULL;
}

struct housekeeping *housekeeping_start(struct store *st, long interval,
                                        long audit_retention,
                                        void (*tick)(void *arg),
                                        void *tick_arg, char *err,
                                        size_t errlen)
{
	struct housekeeping *h = xcalloc(1, sizeof(*h));
	pthread_condattr_t ca;
	h->st = st;
	h->interval = interval;
	h->audit_retention = audit_retention;
	h->tick = tick;
	h->tick_arg = tick_arg;
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&h->thread, NULL, run, h);
	if (rc != 0) {
		snprintf(err, errlen, "housekeeping thread: %s", strerror(rc));
		pthread_cond_destroy(&h->wake);
		pthread_mutex_destroy(&h->mu);
		free(h);
		return NULL;
	}
	return h;
}

void housekeeping_stop(struct housekeeping *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
