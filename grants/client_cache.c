/*
 * client_cache.c: the client records the token endpoint authenticates
 * with, kept at most CLIENT_CACHE_MS, so that a busy client costs no read
 * transaction per token request.
 *
 * Why a stale record cannot issue a token (shared/DECISIONS.md, "Removed
 * clients and rotated secrets"): the transaction that records a token
 * checks the client's secret_version, which every change bumps, against
 * the version of the record the request used. A record changed since it
 * was read gives STORE_STALE and writes nothing; the entry is forgotten
 * and the request answered again from a fresh read (grants_token). The
 * cache serves only successes: a secret that does not match a cached
 * record, and grant errors that depend on the record (scope, grant type,
 * audience), are decided again on a fresh read. Introspection and
 * revocation read the database every time.
 *
 * Entries are copies, in a fixed table indexed by a hash of the client
 * id (a collision only costs a read); the age is measured on the
 * monotonic clock, not Latchkey's clock, which the test double moves.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grants_int.h"
#include "strutil.h"

#define CLIENT_CACHE_SLOTS 256
#define CLIENT_CACHE_MS 1000

struct slot {
	struct store_client c; /* c.client_id NULL: empty */
	int64_t read_ms;
	/* Bumped by every forget: a read that began before one is not
	 * kept (it may be older than what made the forget). */
	uint64_t gen;
};

struct client_cache {
	pthread_mutex_t mu;
	struct slot slots[CLIENT_CACHE_SLOTS];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t slot_of(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % CLIENT_CACHE_SLOTS;
}

struct client_cache *client_cache_new(void)
{
	struct client_cache *cc = xcalloc(1, sizeof(*cc));
	pthread_mutex_init(&cc->mu, NULL);
	return cc;
}

void client_cache_free(struct client_cache *cc)
{
	if (cc == NULL)
		return;
	for (size_t i = 0; i < CLIENT_CACHE_SLOTS; i++)
		store_client_clear(&cc->slots[i].c);
	pthread_mutex_destroy(&cc->mu);
	free(cc);
}

enum store_rc client_cache_get(struct grants *g, const char *id,
                               struct store_client *out, bool *cached)
{
	struct client_cache *cc = g->client_cache;
	struct slot *sl = &cc->slots[slot_of(id)];
	int64_t now = now_ms();

	pthread_mutex_lock(&cc->mu);
	*cached = sl->c.client_id != NULL && strcmp(sl->c.client_id, id) == 0 &&
	          now - sl->read_ms < CLIENT_CACHE_MS;
	if (*cached)
		store_client_copy(out, &sl->c);
	uint64_t gen = sl->gen;
	pthread_mutex_unlock(&cc->mu);
	if (*cached)
		return STORE_OK;

	enum store_rc rc = store_client_get(g->store, id, out);
	if (rc != STORE_OK)
		return rc;
	struct store_client copy;
	store_client_copy(&copy, out);
	pthread_mutex_lock(&cc->mu);
	bool keep = sl->gen == gen;
	if (keep) {
		store_client_clear(&sl->c);
		sl->c = copy;
		sl->read_ms = now;
	}
	pthread_mutex_unlock(&cc->mu);
	if (!keep)
		store_client_clear(&copy);
	return STORE_OK;
}

void client_cache_forget(struct grants *g, const char *id)
{
	struct client_cache *cc = g->client_cache;
	struct slot *sl = &cc->slots[slot_of(id)];
	pthread_mutex_lock(&cc->mu);
	if (sl->c.client_id != NULL && strcmp(sl->c.client_id, id) == 0)
		store_client_clear(&sl->c);
	sl->gen++;
	pthread_mutex_unlock(&cc->mu);
}

void client_cache_forget_all(struct grants *g)
{
	struct client_cache *cc = g->client_cache;
	pthread_mutex_lock(&cc->mu);
	for (size_t i = 0; i < CLIENT_CACHE_SLOTS; i++) {
		store_client_clear(&cc->slots[i].c);
		cc->slots[i].gen++;
	}
	pthread_mutex_unlock(&cc->mu);
}
