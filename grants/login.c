/*
 * login.c: checks a username and password, for the password grant and the
 * login page of /authorize alike.
 *
 * A wrong username and a wrong password get the same answer after the same
 * Argon2id work (a dummy hash for unknown users). Failures are counted per
 * username and per client address. Each attempt is reserved in the
 * throttle before Argon2id runs (throttle.h), so at most
 * login_max_failures passwords are ever checked per username in a window,
 * however many arrive at once; past the limit an attempt is refused
 * before any Argon2id run, so guessing costs us nothing. Addresses the
 * user signed in from are exempt from the per-username count (below).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "metrics.h"
#include "secret.h"
#include "strutil.h"

/* ---- known addresses ------------------------------------------------------
 * The per-username limit is a hard one, so anyone who knows a username
 * could keep its user out, window after window. An address from which
 * the user signed in within KNOWN_TTL is exempt from the per-username
 * count and has a count of its own (the same limit): strangers cannot
 * lock a user out of the places they usually sign in from, and gain no
 * guesses by it (their addresses are not known for that user). A fixed
 * keyed-hash table, as throttle.c's: memory stays bounded, and an evicted
 * entry only means the per-username count applies again. */

#define KNOWN_SLOTS 4096
#define KNOWN_TTL (30 * 86400)

struct known_logins {
	pthread_mutex_t mu;
	unsigned char key[32];
	struct {
		unsigned char tag[16];
		int64_t until;
	} slots[KNOWN_SLOTS];
};

struct known_logins *known_logins_new(void)
{
	struct known_logins *k = xcalloc(1, sizeof(*k));
	pthread_mutex_init(&k->mu, NULL);
	if (crypto_random(k->key, sizeof(k->key)) != 0) {
		known_logins_free(k);
		return NULL;
	}
	return k;
}

void known_logins_free(struct known_logins *k)
{
	if (k == NULL)
		return;
	pthread_mutex_destroy(&k->mu);
	crypto_wipe(k, sizeof(*k));
	free(k);
}

void known_logins_forget(struct known_logins *k)
{
	pthread_mutex_lock(&k->mu);
	memset(k->slots, 0, sizeof(k->slots));
	pthread_mutex_unlock(&k->mu);
}

/* pair: "ADDRESS USERNAME" (an address has no spaces). */
static size_t known_slot(const struct known_logins *k, const char *pair,
                         unsigned char tag[16])
{
	unsigned char mac[SHA256_LEN];
	hmac_sha256(k->key, sizeof(k->key), pair, strlen(pair), mac);
	memcpy(tag, mac, 16);
	return ((size_t)mac[16] << 8 | mac[17]) % KNOWN_SLOTS;
}

static bool known_has(struct known_logins *k, const char *pair)
{
	unsigned char tag[16];
	size_t i = known_slot(k, pair, tag);
	int64_t now = clock_now();
	pthread_mutex_lock(&k->mu);
	bool hit = memcmp(k->slots[i].tag, tag, 16) == 0 &&
	           k->slots[i].until > now && k->slots[i].until - now <= KNOWN_TTL;
	pthread_mutex_unlock(&k->mu);
	return hit;
}

static void known_add(struct known_logins *k, const char *pair)
{
	unsigned char tag[16];
	size_t i = known_slot(k, pair, tag);
	pthread_mutex_lock(&k->mu);
	memcpy(k->slots[i].tag, tag, 16);
	k->slots[i].until = clock_now() + KNOWN_TTL;
	pthread_mutex_unlock(&k->mu);
}

/* ---- the login ------------------------------------------------------------ */

/* Reserves the attempt on keys, checks the password, and ends the
 * reservation as the check went. */
static struct oauth_result login_checked(struct grants *g,
                                         const struct throttle_key keys[2],
                                         struct throttle_ticket *tk,
                                         const char *username,
                                         const char *password,
                                         const char *client_id,
                                         struct store_user *u)
{
	enum throttle_verdict v = throttle_reserve(g->throttle, keys, 2, tk);
	if (v == THROTTLE_UNAVAILABLE)
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	if (v != THROTTLE_GO) {
		log_security("login throttled for a %s (user %.128s, client %s)",
		             tk->stopped_by == 0 ? "username" : "client address",
		             username, client_id);
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, LOGIN_THROTTLED);
	}
	enum store_rc rc = store_user_get(g->store, username, u);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		throttle_release(g->throttle, tk, false);
		return oauth_from_store(rc, "user lookup", OAUTH_RESULT_OK);
	}
	if (!kdf_slot_take(g)) {
		throttle_release(g->throttle, tk, false);
		store_user_clear(u);
		return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	}
	bool ok;
	if (rc == STORE_NOT_FOUND) {
		secret_burn_equal_time(password);
		ok = false;
	} else {
		ok = secret_verify(u->password_hash, password) == SECRET_OK;
	}
	kdf_slot_give(g);
	if (!ok) {
		store_user_clear(u);
		throttle_commit(g->throttle, tk);
		metrics_inc(MET_LOGIN_FAILURES);
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, LOGIN_WRONG);
	}
	throttle_release(g->throttle, tk, true);
	return OAUTH_RESULT_OK;
}

struct oauth_result user_login(struct grants *g, const char *username,
                               const char *password, const char *remote_addr,
                               const char *client_id, struct store_user *u)
{
	const char *addr = remote_addr && remote_addr[0] ? remote_addr : NULL;
	char *pair = NULL;
	if (addr != NULL && asprintf(&pair, "%s %s", addr, username) < 0)
		abort();
	bool known = pair != NULL && known_has(g->known_logins, pair);
	/* The attempt is reserved before Argon2id runs (defect 7 of issue
	 * 12): with the check after the hash, 40 concurrent attempts all
	 * passed a limit of 5. A success forgets the username's failures,
	 * never the address's (one account of one's own must not reset an
	 * address that guesses at others). */
	const struct throttle_key keys[] = {
		known ? (struct throttle_key){"known", pair, 0,
		                              g->login_max_failures, true}
		      : (struct throttle_key){"user", username, 0,
		                              g->login_max_failures, true},
		{"addr", addr, 0, g->login_max_failures_per_address, false},
	};
	struct throttle_ticket tk;
	struct oauth_result r = login_checked(g, keys, &tk, username, password,
	                                      client_id, u);
	if (r.err == OAUTH_OK && pair != NULL)
		known_add(g->known_logins, pair);
	free(pair);
	return r;
}
