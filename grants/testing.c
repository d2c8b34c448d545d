/*
 * testing.c: the operations of grants_testing.h, for the test double
 * only.
 */
#include "grants_int.h"
#include "grants_testing.h"

void grants_forget_failures(struct grants *g)
{
	throttle_forget_all(g->throttle);
	throttle_forget_all(g->client_throttle);
	known_logins_forget(g->known_logins);
}

void grants_forget_clients(struct grants *g)
{
	client_cache_forget_all(g);
}
