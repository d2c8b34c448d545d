/*
 * grants_testing.h: what a test double may do to grants that no
 * production caller may (the test double's /_control/reset). Kept out of
 * grants.h so that the shared interface has no test-only operation, as
 * the store keeps its own in struct store_test_methods.
 */
#ifndef LK_GRANTS_TESTING_H
#define LK_GRANTS_TESTING_H

#include "grants.h"

/* Forgets every counted login and client authentication failure. */
void grants_forget_failures(struct grants *g);

/* Forgets every client record the token endpoint keeps (client_cache.c):
 * the test double changes what a client read returns (extra claims)
 * without a change the record's version would show. */
void grants_forget_clients(struct grants *g);

#endif
