/*
 * throttle.c: counts failed logins per key (a username, a client address)
 * in fixed windows, so online guessing stops after a few tries while a
 * real user is locked out for one window at most.
 *
 * A fixed table of keyed-hash slots: memory is bounded whatever an
 * attacker sends, and the per-process HMAC key means nobody can aim many
 * usernames at one slot. A flood of distinct keys can still push entries
 * out; the per-address limit is what bounds such a flood.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "strutil.h"

#define SLOTS 8192

struct slot {
	unsigned char tag[16];
	int64_t window_start;
	int failures;
};

struct throttle {
	pthread_mutex_t mu;
	unsigned char key[32];
	int64_t window;
	struct slot slots[SLOTS];
};

struct throttle *throttle_new(int64_t window_secs)
{
	struct throttle *t = xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	t->window = window_secs;
	if (crypto_random(t->key, sizeof(t->key)) != 0) {
		throttle_free(t);
		return NULL;
	}
	return t;
}

void throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static struct slot *find(struct throttle *t, const char *kind, const char *key,
                         unsigned char tag[16])
{
	unsigned char mac[SHA256_LEN];
	size_t kl = strlen(kind), vl = strlen(key);
	char *buf = malloc(kl + vl + 2);
	if (buf == NULL)
		abort();
	memcpy(buf, kind, kl);
	buf[kl] = '\0';
	memcpy(buf + kl + 1, key, vl + 1);
	hmac_sha256(t->key, sizeof(t->key), buf, kl + vl + 1, mac);
	free(buf);
	memcpy(tag, mac, 16);
	return &t->slots[((size_t)mac[16] << 8 | mac[17]) % SLOTS];
}

int throttle_failures(struct throttle *t, const char *kind, const char *key)
{
	unsigned char tag[16];
	int n = 0;
	if (key == NULL)
		return 0;
	pthread_mutex_lock(&t->mu);
	struct slot *s = find(t, kind, key, tag);
	int64_t age = clock_now() - s->window_start;
	/* A window that starts in the future (the test double's clock went
	 * back) is over, not endless. */
	if (memcmp(s->tag, tag, 16) == 0 && age >= 0 && age < t->window)
		n = s->failures;
	pthread_mutex_unlock(&t->mu);
	return n;
}

void throttle_fail(struct throttle *t, const char *kind, const char *key)
{
	unsigned char tag[16];
	if (key == NULL)
		return;
	int64_t now = clock_now();
	pthread_mutex_lock(&t->mu);
	struct slot *s = find(t, kind, key, tag);
	if (memcmp(s->tag, tag, 16) != 0 || now - s->window_start >= t->window ||
	    now < s->window_start) {
		memcpy(s->tag, tag, 16);
		s->window_start = now;
		s->failures = 0;
	}
	s->failures++;
	pthread_mutex_unlock(&t->mu);
}

void throttle_clear(struct throttle *t, const char *kind, const char *key)
{
	unsigned char tag[16];
	if (key == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	struct slot *s = find(t, kind, key, tag);
	if (memcmp(s->tag, tag, 16) == 0)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&t->mu);
}

void throttle_clear_all(struct throttle *t)
{
	pthread_mutex_lock(&t->mu);
	memset(t->slots, 0, sizeof(t->slots));
	pthread_mutex_unlock(&t->mu);
}
