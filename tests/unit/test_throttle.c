/*
 * test_throttle.c: grants/throttle.c, the memory backend of throttle.h.
 * Reservations count against the limit while under way, so threads that
 * reserve at once never get more than the limit of checks (issue 12,
 * defect 7); commit counts a failure, release forgets a success's key;
 * the slowdown lets one check per second through; windows end; reserve
 * is all or none.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "grants_int.h"

#define THREADS 32

struct race {
	struct throttle *t;
	const struct throttle_key *keys;
	size_t nkeys;
	pthread_barrier_t start, reserved;
	pthread_mutex_t mu;
	int go;
};

/* Every thread reserves at the same moment, waits until all have, and
 * only then ends its reservation as a failure: the worst case for a
 * check-then-count throttle. */
static void *racer(void *arg)
{
	struct race *r = arg;
	struct throttle_ticket tk;
	pthread_barrier_wait(&r->start);
	enum throttle_verdict v = throttle_reserve(r->t, r->keys, r->nkeys, &tk);
	pthread_barrier_wait(&r->reserved);
	if (v == THROTTLE_GO) {
		pthread_mutex_lock(&r->mu);
		r->go++;
		pthread_mutex_unlock(&r->mu);
		throttle_commit(r->t, &tk);
	}
	return NULL;
}

static int race(struct throttle *t, const struct throttle_key *keys, size_t n)
{
	struct race r = {.t = t, .keys = keys, .nkeys = n};
	pthread_t th[THREADS];
	pthread_barrier_init(&r.start, NULL, THREADS);
	pthread_barrier_init(&r.reserved, NULL, THREADS);
	pthread_mutex_init(&r.mu, NULL);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, racer, &r), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.reserved);
	pthread_mutex_destroy(&r.mu);
	return r.go;
}

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

static void test_concurrent_reservations_stop_at_the_limit(void **state)
{
	(void)state;
	struct throttle *t = throttle_memory_new(300);
	const struct throttle_key k[] = {{"user", "dave", 0, 5, true}};
	assert_int_equal(race(t, k, 1), 5);
	/* All five failed: the next is refused, even the right secret. */
	assert_int_equal(try_once(t, k, 1, false), THROTTLE_REFUSED);
	/* Another key is not affected. */
	const struct throttle_key other[] = {{"user", "erin", 0, 5, true}};
	assert_int_equal(try_once(t, other, 1, true), THROTTLE_GO);
	throttle_free(t);
}

static void test_release_uncounted_and_success_clears(void **state)
{
	(void)state;
	struct throttle *t = throttle_memory_new(300);
	const struct throttle_key k[] = {{"user", "dave", 0, 3, true},
	                                 {"addr", "192.0.2.1", 0, 100, false}};
	struct throttle_ticket tk;
	/* A reservation counts while under way, and a release without a
	 * verdict gives it back. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(try_once(t, k, 2, true), THROTTLE_GO);
	assert_int_equal(throttle_reserve(t, k, 2, &tk), THROTTLE_GO);
	assert_int_equal(try_once(t, k, 2, true), THROTTLE_REFUSED);
	assert_int_equal(tk.had_failures[0], true);
	throttle_release(t, &tk, false);
	/* A success forgets the username's failures, not the address's. */
	assert_int_equal(try_once(t, k, 2, false), THROTTLE_GO);
	for (int i = 0; i < 3; i++)
		assert_int_equal(try_once(t, k, 2, true), THROTTLE_GO);
	assert_int_equal(try_once(t, k, 2, true), THROTTLE_REFUSED);
	const struct throttle_key addr[] = {{"addr", "192.0.2.1", 0, 5, false}};
	assert_int_equal(try_once(t, addr, 1, true), THROTTLE_REFUSED);
	throttle_free(t);
}

/* throttle_clean: true while no key has a failure in its window or an
 * attempt under way, false from the first failure until a success clears
 * it or the window ends; it reserves nothing. */
static void test_clean(void **state)
{
	(void)state;
	struct throttle *t = throttle_memory_new(300);
	const struct throttle_key k[] = {{"client", "app", 0, 2, true},
	                                 {"caddr", NULL, 0, 100, false}};
	struct throttle_ticket tk;
	clock_reset();
	assert_true(throttle_clean(t, k, 2));
	for (int i = 0; i < 5; i++)
		assert_true(throttle_clean(t, k, 2)); /* nothing reserved */
	assert_int_equal(throttle_reserve(t, k, 2, &tk), THROTTLE_GO);
	assert_false(throttle_clean(t, k, 2)); /* an attempt under way */
	throttle_commit(t, &tk);
	assert_false(throttle_clean(t, k, 2));
	assert_int_equal(try_once(t, k, 2, false), THROTTLE_GO); /* clears */
	assert_true(throttle_clean(t, k, 2));
	assert_int_equal(try_once(t, k, 2, true), THROTTLE_GO);
	assert_false(throttle_clean(t, k, 2));
	clock_advance(300);
	assert_true(throttle_clean(t, k, 2));
	clock_reset();
	throttle_free(t);
}

static void test_all_or_none(void **state)
{
	(void)state;
	struct throttle *t = throttle_memory_new(300);
	const struct throttle_key a[] = {{"addr", "192.0.2.1", 0, 1, false}};
	assert_int_equal(try_once(t, a, 1, true), THROTTLE_GO);
	/* The address refuses: the username must not be charged. */
	const struct throttle_key both[] = {{"user", "dave", 0, 1, true},
	                                    {"addr", "192.0.2.1", 0, 1, false}};
	struct throttle_ticket tk;
	assert_int_equal(throttle_reserve(t, both, 2, &tk), THROTTLE_REFUSED);
	assert_int_equal(tk.stopped_by, 1);
	const struct throttle_key u[] = {{"user", "dave", 0, 1, true}};
	assert_int_equal(try_once(t, u, 1, true), THROTTLE_GO);
	/* A key without a value is skipped. */
	const struct throttle_key none[] = {{"addr", NULL, 0, 1, false}};
	assert_int_equal(try_once(t, none, 1, true), THROTTLE_GO);
	assert_int_equal(try_once(t, none, 1, true), THROTTLE_GO);
	throttle_free(t);
}

static void test_slowdown_one_check_per_second(void **state)
{
	(void)state;
	struct throttle *t = throttle_memory_new(300);
	const struct throttle_key k[] = {{"client", "app", 2, 4, true}};
	clock_reset();
	assert_int_equal(try_once(t, k, 1, true), THROTTLE_GO);
	clock_advance(1);
	assert_int_equal(try_once(t, k, 1, true), THROTTLE_GO);
	/* Two failures: past soft. One check now, no second this second. */
	clock_advance(1);
	assert_int_equal(try_once(t, k, 1, true), THROTTLE_GO);
	assert_int_equal(try_once(t, k, 1, true), THROTTLE_SLOWED);
	clock_advance(1);
	/* While one check is under way no other starts. */
	struct throttle_ticket tk;
	assert_int_equal(throttle_reserve(t, k, 1, &tk), THROTTLE_GO);
	clock_advance(1);
	assert_int_equal(try_once(t, k, 1, true), THROTTLE_REFUSED);
	throttle_commit(t, &tk);
	clock_advance(1);
	assert_int_equal(try_once(t, k, 1, false), THROTTLE_REFUSED);
	/* The window ends, counted from the first failure. */
	clock_advance(300);
	assert_int_equal(try_once(t, k, 1, false), THROTTLE_GO);
	assert_int_equal(try_once(t, k, 1, true), THROTTLE_GO);
	clock_reset();
	throttle_free(t);
}

static void test_forget_all_keeps_reservations(void **state)
{
	(void)state;
	struct throttle *t = throttle_memory_new(300);
	const struct throttle_key k[] = {{"user", "dave", 0, 2, true}};
	struct throttle_ticket tk;
	assert_int_equal(try_once(t, k, 1, true), THROTTLE_GO);
	assert_int_equal(throttle_reserve(t, k, 1, &tk), THROTTLE_GO);
	throttle_forget_all(t);
	/* The failure is gone; the reservation under way still counts. */
	assert_int_equal(try_once(t, k, 1, true), THROTTLE_GO);
	assert_int_equal(try_once(t, k, 1, true), THROTTLE_REFUSED);
	throttle_commit(t, &tk);
	throttle_free(t);
}

/* Successful attempts on other keys (everyday traffic: every login and
 * every client authentication reserves its keys) must not push out a key
 * that has failures or a reservation under way: with one slot per hash,
 * each of them took over whatever slot its key hashed to, so on a busy
 * server a guesser's count (and the concurrency bound) vanished within
 * seconds, long before its window ended. */
static void test_other_keys_successes_keep_counts(void **state)
{
	(void)state;
	struct throttle *t = throttle_memory_new(300);
	const struct throttle_key k[] = {{"user", "dave", 0, 3, true},
	                                 {"addr", "192.0.2.1", 0, 3, false}};
	const struct throttle_key held[] = {{"user", "erin", 0, 1, true}};
	struct throttle_ticket tk;
	for (int i = 0; i < 3; i++)
		assert_int_equal(try_once(t, k, 2, true), THROTTLE_GO);
	assert_int_equal(throttle_reserve(t, held, 1, &tk), THROTTLE_GO);
	char user[32], addr[32];
	for (int i = 0; i < 60000; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		snprintf(addr, sizeof(addr), "198.51.%d.%d", i / 256 % 256, i % 256);
		const struct throttle_key other[] = {
		    {"user", user, 0, 5, true}, {"addr", addr, 0, 20, false}};
		assert_int_equal(try_once(t, other, 2, false), THROTTLE_GO);
	}
	const struct throttle_key user_only[] = {{"user", "dave", 0, 3, true}};
	const struct throttle_key addr_only[] = {{"addr", "192.0.2.1", 0, 3,
	                                          false}};
	assert_int_equal(try_once(t, user_only, 1, false), THROTTLE_REFUSED);
	assert_int_equal(try_once(t, addr_only, 1, false), THROTTLE_REFUSED);
	/* erin's reservation still counts: a second check is refused. */
	assert_int_equal(try_once(t, held, 1, true), THROTTLE_REFUSED);
	throttle_commit(t, &tk);
	throttle_free(t);
}

/* The store backend has no default of its own for how long a reservation
 * counts (the settings give it): 0 is refused, before the store is used. */
static void test_store_backend_refuses_no_pending_ttl(void **state)
{
	(void)state;
	assert_null(throttle_store_new(NULL, 300, 0));
	assert_null(throttle_store_new(NULL, 300, -1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_concurrent_reservations_stop_at_the_limit),
	    cmocka_unit_test(test_release_uncounted_and_success_clears),
	    cmocka_unit_test(test_all_or_none),
	    cmocka_unit_test(test_clean),
	    cmocka_unit_test(test_slowdown_one_check_per_second),
	    cmocka_unit_test(test_forget_all_keeps_reservations),
	    cmocka_unit_test(test_other_keys_successes_keep_counts),
	    cmocka_unit_test(test_store_backend_refuses_no_pending_ttl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
