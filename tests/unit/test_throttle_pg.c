/*
 * test_throttle_pg.c: failed attempts counted in PostgreSQL
 * (storage/pg_throttle.c, grants/throttle_store.c) against the ctest
 * cluster (LK_TEST_PG; skipped without it). Two store handles stand for
 * two processes: reservations made at once through both never exceed the
 * limit; a dead process's reservation stops counting at its expiry; a
 * success on a clean key writes nothing; a failure counts in every
 * process; reserve is all or none.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "clock.h"
#include "grants_int.h"
#include "store.h"
#include "unit_util.h"

#define THREADS 32
#define HARD 5

struct fx {
	char *name, *uri;
	struct store *a, *b; /* two "processes" */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->uri = ut_pg_create(&f->name);
	f->a = ut_store_open_target(f->uri);
	f->b = ut_store_open_target(f->uri);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->a);
	store_close(f->b);
	ut_pg_drop(f->name);
	free(f->name);
	free(f->uri);
	free(f);
	return 0;
}

static long rows(const struct fx *f, const char *sql)
{
	PGconn *c = PQconnectdb(f->uri);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PGresult *r = PQexec(c, sql);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	long n = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return n;
}

static int64_t ticket(int64_t expiry, int n)
{
	return expiry << 28 | (int64_t)(n + 1);
}

/* ---- the store's table, from two handles at once --------------------- */

struct race {
	struct fx *f;
	pthread_barrier_t start;
	pthread_mutex_t mu;
	int go, n;
	struct throttle *t[2]; /* NULL: the store's methods directly */
};

static void *store_racer(void *arg)
{
	struct race *r = arg;
	pthread_mutex_lock(&r->mu);
	int me = r->n++;
	pthread_mutex_unlock(&r->mu);
	struct store *s = me % 2 ? r->f->b : r->f->a;
	const struct store_throttle_key k[] = {{"00aa", 0, HARD, 0, true}};
	bool had = false, slowed = false;
	int stopped = -1;
	pthread_barrier_wait(&r->start);
	enum store_rc rc = store_throttle_reserve(s, k, 1, 1000, 300,
	                                          ticket(1060, me), &had,
	                                          &stopped, &slowed);
	if (rc == STORE_OK) {
		pthread_mutex_lock(&r->mu);
		r->go++;
		pthread_mutex_unlock(&r->mu);
	} else {
		assert_int_equal(rc, STORE_CONFLICT);
		assert_int_equal(stopped, 0);
	}
	store_thread_end(s);
	return NULL;
}

static void test_reserve_limit_across_handles(void **state)
{
	struct fx *f = *state;
	struct race r = {.f = f};
	pthread_barrier_init(&r.start, NULL, THREADS);
	pthread_mutex_init(&r.mu, NULL);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, store_racer, &r);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(r.go, HARD);
	struct store_throttle_state st;
	const struct store_throttle_key k[] = {{"00aa", 0, HARD, 0, true}};
	assert_int_equal(store_throttle_peek(f->b, k, 1, 1000, 300, &st),
	                 STORE_OK);
	assert_int_equal(st.pending, HARD);
	assert_int_equal(st.failures, 0);
	/* The "processes" die without a word: their reservations stop
	 * counting at their expiry (1060), not never. */
	assert_int_equal(store_throttle_peek(f->a, k, 1, 1060, 300, &st),
	                 STORE_OK);
	assert_int_equal(st.pending, 0);
	bool had = true, slowed = false;
	int stopped = -1;
	assert_int_equal(store_throttle_reserve(f->a, k, 1, 1060, 300,
	                                        ticket(1120, 99), &had,
	                                        &stopped, &slowed),
	                 STORE_OK);
	assert_false(had);
	pthread_barrier_destroy(&r.start);
	pthread_mutex_destroy(&r.mu);
}

static void test_commit_release_all_or_none(void **state)
{
	struct fx *f = *state;
	const struct store_throttle_key k[] = {{"0001", 0, 2, 0, true},
	                                       {"0002", 0, 1, 0, false}};
	bool had[2] = {false, false}, slowed = false;
	int stopped = -1;
	/* A failure on both keys (written without a reservation). */
	assert_int_equal(store_throttle_commit(f->a, k, 2, 500, 300, 0),
	                 STORE_OK);
	/* The second key is at its limit: neither is reserved. */
	assert_int_equal(store_throttle_reserve(f->b, k, 2, 501, 300,
	                                        ticket(560, 1), had, &stopped,
	                                        &slowed),
	                 STORE_CONFLICT);
	assert_int_equal(stopped, 1);
	assert_false(slowed);
	struct store_throttle_state st[2];
	assert_int_equal(store_throttle_peek(f->a, k, 2, 501, 300, st),
	                 STORE_OK);
	assert_int_equal(st[0].failures, 1);
	assert_int_equal(st[0].pending, 0);
	assert_int_equal(st[1].failures, 1);
	/* The first alone goes; a success forgets its failures, and the row
	 * with nothing left goes too. */
	assert_int_equal(store_throttle_reserve(f->b, k, 1, 502, 300,
	                                        ticket(560, 2), had, &stopped,
	                                        &slowed),
	                 STORE_OK);
	assert_true(had[0]);
	assert_int_equal(store_throttle_release(f->a, k, 1, 502, 300,
	                                        ticket(560, 2), true),
	                 STORE_OK);
	assert_int_equal(rows(f, "SELECT count(*) FROM throttle WHERE "
	                         "key_hash='0001'"), 0);
	/* The window ends, counted from the first failure. */
	assert_int_equal(store_throttle_peek(f->a, k, 2, 800, 300, st),
	                 STORE_OK);
	assert_int_equal(st[1].failures, 0);
}

/* ---- throttle.h over the store ---------------------------------------- */

static enum throttle_verdict try_once(struct throttle *t,
                                      const struct throttle_key *k, size_t n,
                                      bool fail)
{
	struct throttle_ticket tk;
	enum throttle_verdict v = throttle_reserve(t, k, n, &tk);
	if (v == THROTTLE_GO && fail)
		throttle_commit(t, &tk);
	else if (v == THROTTLE_GO)
		throttle_release(t, &tk, true);
	return v;
}

static void test_success_writes_nothing_failures_shared(void **state)
{
	struct fx *f = *state;
	struct throttle *ta = throttle_store_new(f->a, 300, 60);
	struct throttle *tb = throttle_store_new(f->b, 300, 60);
	const struct throttle_key k[] = {{"user", "dave", 0, 3, true},
	                                 {"addr", "192.0.2.1", 0, 100, false}};
	clock_reset();
	/* A clean key: a success reads, and writes nothing. */
	assert_int_equal(try_once(ta, k, 2, false), THROTTLE_GO);
	assert_int_equal(rows(f, "SELECT count(*) FROM throttle"), 0);
	/* Failures through either process count for both, and neither
	 * the username nor the address is stored as such. */
	assert_int_equal(try_once(ta, k, 2, true), THROTTLE_GO);
	assert_int_equal(try_once(tb, k, 2, true), THROTTLE_GO);
	assert_int_equal(rows(f, "SELECT count(*) FROM throttle WHERE "
	                         "key_hash !~ '^[0-9a-f]{32}$'"), 0);
	assert_int_equal(rows(f, "SELECT count(*) FROM throttle"), 2);
	assert_int_equal(try_once(ta, k, 2, true), THROTTLE_GO);
	assert_int_equal(try_once(tb, k, 2, false), THROTTLE_REFUSED);
	assert_int_equal(try_once(ta, k, 2, false), THROTTLE_REFUSED);
	/* The window ends: the right password goes, and forgets the
	 * username's failures (a write: it had some), not the address's. */
	clock_advance(300);
	assert_int_equal(try_once(tb, k, 2, true), THROTTLE_GO);
	assert_int_equal(try_once(tb, k, 2, false), THROTTLE_GO);
	assert_int_equal(rows(f, "SELECT count(*) FROM throttle"), 1);
	clock_reset();
	throttle_free(ta);
	throttle_free(tb);
}

/* throttle_clean reads only, and sees the other process's failures. */
static void test_clean_reads_only(void **state)
{
	struct fx *f = *state;
	struct throttle *ta = throttle_store_new(f->a, 300, 60);
	struct throttle *tb = throttle_store_new(f->b, 300, 60);
	const struct throttle_key k[] = {{"client", "app", 0, 3, true}};
	struct throttle_ticket tk;
	clock_reset();
	assert_true(throttle_clean(ta, k, 1));
	/* Two attempts under way in one process: the second is written. */
	assert_int_equal(throttle_reserve(ta, k, 1, &tk), THROTTLE_GO);
	struct throttle_ticket tk2;
	assert_int_equal(throttle_reserve(ta, k, 1, &tk2), THROTTLE_GO);
	assert_int_equal(rows(f, "SELECT count(*) FROM throttle"), 1);
	assert_false(throttle_clean(tb, k, 1)); /* the written one */
	throttle_release(ta, &tk, true);
	throttle_release(ta, &tk2, true);
	assert_int_equal(rows(f, "SELECT count(*) FROM throttle"), 0);
	for (int i = 0; i < 5; i++)
		assert_true(throttle_clean(tb, k, 1)); /* reads only */
	assert_int_equal(rows(f, "SELECT count(*) FROM throttle"), 0);
	assert_int_equal(try_once(tb, k, 1, true), THROTTLE_GO);
	assert_false(throttle_clean(ta, k, 1));
	assert_int_equal(rows(f, "SELECT count(*) FROM throttle"), 1);
	assert_int_equal(try_once(ta, k, 1, false), THROTTLE_GO); /* clears */
	assert_true(throttle_clean(tb, k, 1));
	clock_reset();
	throttle_free(ta);
	throttle_free(tb);
}

static void *throttle_racer(void *arg)
{
	struct race *r = arg;
	pthread_mutex_lock(&r->mu);
	int me = r->n++;
	pthread_mutex_unlock(&r->mu);
	struct throttle *t = r->t[me % 2];
	const struct throttle_key k[] = {{"client", "app", 0, HARD, true}};
	struct throttle_ticket tk;
	pthread_barrier_wait(&r->start);
	enum throttle_verdict v = throttle_reserve(t, k, 1, &tk);
	if (v == THROTTLE_GO) {
		pthread_mutex_lock(&r->mu);
		r->go++;
		pthread_mutex_unlock(&r->mu);
		throttle_commit(t, &tk);
	}
	store_thread_end(me % 2 ? r->f->b : r->f->a);
	return NULL;
}

/* A clean read is remembered (throttle_store.c, CLEAN_MS): this
 * process's own attempts forget it at once, another process's failure
 * reaches it within CLEAN_MS. */
static void test_clean_remembered(void **state)
{
	struct fx *f = *state;
	struct throttle *ta = throttle_store_new(f->a, 300, 60);
	struct throttle *tb = throttle_store_new(f->b, 300, 60);
	const struct throttle_key k[] = {{"client", "app", 0, 3, true}};
	clock_reset();
	assert_true(throttle_clean(ta, k, 1));
	assert_true(throttle_clean(tb, k, 1));
	assert_int_equal(try_once(tb, k, 1, true), THROTTLE_GO); /* fails */
	assert_int_equal(rows(f, "SELECT count(*) FROM throttle"), 1);
	assert_false(throttle_clean(tb, k, 1)); /* its own: at once */
	usleep(1100 * 1000);
	assert_false(throttle_clean(ta, k, 1)); /* the other's: by CLEAN_MS */
	assert_int_equal(try_once(ta, k, 1, false), THROTTLE_GO); /* clears */
	assert_true(throttle_clean(ta, k, 1));
	assert_int_equal(try_once(ta, k, 1, true), THROTTLE_GO); /* fails */
	assert_false(throttle_clean(ta, k, 1)); /* its own: at once */
	clock_reset();
	throttle_free(ta);
	throttle_free(tb);
}

/* The worst case of the no-write success: every attempt at once on a
 * clean key, all failing. Each process may have one unwritten attempt
 * the other does not see (throttle_store.c): at most HARD + 1 with two. */
static void test_checks_bounded_across_processes(void **state)
{
	struct fx *f = *state;
	struct race r = {.f = f};
	r.t[0] = throttle_store_new(f->a, 300, 60);
	r.t[1] = throttle_store_new(f->b, 300, 60);
	clock_reset();
	pthread_barrier_init(&r.start, NULL, THREADS);
	pthread_mutex_init(&r.mu, NULL);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, throttle_racer, &r);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_true(r.go >= 1);
	assert_true(r.go <= HARD + 1);
	/* Now it has failures: every process refuses, exactly at HARD. */
	const struct throttle_key k[] = {{"client", "app", 0, HARD, true}};
	for (int i = r.go; i < HARD; i++)
		assert_int_equal(try_once(r.t[i % 2], k, 1, true), THROTTLE_GO);
	assert_int_equal(try_once(r.t[0], k, 1, false), THROTTLE_REFUSED);
	assert_int_equal(try_once(r.t[1], k, 1, false), THROTTLE_REFUSED);
	pthread_barrier_destroy(&r.start);
	pthread_mutex_destroy(&r.mu);
	throttle_free(r.t[0]);
	throttle_free(r.t[1]);
}

static void test_slowdown_across_processes(void **state)
{
	struct fx *f = *state;
	struct throttle *ta = throttle_store_new(f->a, 300, 60);
	struct throttle *tb = throttle_store_new(f->b, 300, 60);
	const struct throttle_key k[] = {{"client", "slow", 2, 4, true}};
	clock_reset();
	assert_int_equal(try_once(ta, k, 1, true), THROTTLE_GO);
	clock_advance(1);
	assert_int_equal(try_once(tb, k, 1, true), THROTTLE_GO);
	clock_advance(1);
	/* Past soft: one check per second, whichever process asks. */
	assert_int_equal(try_once(ta, k, 1, true), THROTTLE_GO);
	assert_int_equal(try_once(tb, k, 1, true), THROTTLE_SLOWED);
	clock_advance(1);
	assert_int_equal(try_once(tb, k, 1, true), THROTTLE_GO);
	clock_advance(1);
	assert_int_equal(try_once(ta, k, 1, false), THROTTLE_REFUSED);
	clock_reset();
	throttle_free(ta);
	throttle_free(tb);
}

int main(void)
{
	if (ut_pg_uri() == NULL) {
		printf("LK_TEST_PG unset: PostgreSQL throttle tests skipped\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reserve_limit_across_handles,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_release_all_or_none,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_success_writes_nothing_failures_shared, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clean_reads_only, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_clean_remembered, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_checks_bounded_across_processes,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slowdown_across_processes,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests_name("throttle_pg", tests, NULL, NULL);
}
