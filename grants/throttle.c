/*
 * throttle.c: the throttle interface's wrappers (throttle.h) and its
 * in-process backend, which counts failed attempts per key (a username, a
 * client id, a client address) in fixed windows, so online guessing stops
 * after a few tries while the owner of a key is held up for one window at
 * most.
 *
 * A fixed table of keyed-hash slots: memory is bounded whatever an
 * attacker sends, and the per-process HMAC key means nobody can aim many
 * keys at one bucket. A key may use any of the WAYS slots of its bucket,
 * and takes one from another key only when none is free: a slot is free
 * when it holds no failure in a live window and no reservation, which is
 * what every success leaves behind, so everyday traffic never costs a key
 * its count. A flood of failures on distinct keys can still fill a bucket
 * and push entries out (the one with the fewest failures and nothing under
 * way goes first); the per-address limit is what bounds such a flood. One
 * mutex guards the table; the hashes are computed before it is taken, so
 * it is held for a few comparisons.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "strutil.h"

/* ---- the wrappers ------------------------------------------------------- */

enum throttle_verdict throttle_reserve(struct throttle *t,
                                       const struct throttle_key *keys,
                                       size_t n, struct throttle_ticket *tk)
{
	memset(tk, 0, sizeof(*tk));
	tk->stopped_by = -1;
	if (n > THROTTLE_MAX_KEYS)
		n = THROTTLE_MAX_KEYS;
	tk->keys = keys;
	tk->n = n;
	enum throttle_verdict v = t->ops->reserve(t, keys, n, tk);
	tk->live = v == THROTTLE_GO;
	return v;
}

void throttle_commit(struct throttle *t, struct throttle_ticket *tk)
{
	if (tk == NULL || !tk->live)
		return;
	t->ops->commit(t, tk);
	tk->live = false;
}

void throttle_release(struct throttle *t, struct throttle_ticket *tk,
                      bool succeeded)
{
	if (tk == NULL || !tk->live)
		return;
	t->ops->release(t, tk, succeeded);
	tk->live = false;
}

bool throttle_clean(struct throttle *t, const struct throttle_key *keys,
                    size_t n)
{
	return t->ops->clean(t, keys, n);
}

void throttle_forget_all(struct throttle *t)
{
	t->ops->forget_all(t);
}

void throttle_free(struct throttle *t)
{
	if (t != NULL)
		t->ops->destroy(t);
}

/* ---- the memory backend ------------------------------------------------- */

#define SLOTS 8192
#define WAYS 8 /* the slots of a bucket, any of which a key may use */

struct slot {
	unsigned char tag[16];
	int64_t window_start; /* of the failures; 0: none counted */
	int64_t last_check;   /* when a reservation last went ahead */
	int failures;
	int pending;          /* reservations under way */
};

struct mem_throttle {
	struct throttle base; /* first, as throttle.h asks */
	pthread_mutex_t mu;
	unsigned char key[32];
	struct slot slots[SLOTS];
};

static void tag_of(const struct mem_throttle *m, const struct throttle_key *k,
                   unsigned char tag[16])
{
	unsigned char mac[SHA256_LEN];
	size_t kl = strlen(k->kind), vl = strlen(k->value);
	char *buf = malloc(kl + vl + 2);
	if (buf == NULL)
		abort();
	/* The NUL between kind and value keeps ("ab","c") from ("a","bc"). */
	memcpy(buf, k->kind, kl + 1);
	memcpy(buf + kl + 1, k->value, vl + 1);
	hmac_sha256(m->key, sizeof(m->key), buf, kl + vl + 1, mac);
	free(buf);
	memcpy(tag, mac, 16);
}

static struct slot *bucket_of(struct mem_throttle *m, const unsigned char *tag)
{
	size_t b = ((size_t)tag[14] << 8 | tag[15]) % (SLOTS / WAYS);
	return &m->slots[b * WAYS];
}

/* The slot that holds tag's count, or NULL. */
static struct slot *slot_find(struct mem_throttle *m, const unsigned char *tag)
{
	struct slot *b = bucket_of(m, tag);
	for (size_t w = 0; w < WAYS; w++)
		if (memcmp(b[w].tag, tag, 16) == 0)
			return &b[w];
	return NULL;
}

/* The slot's failures as of now: a window that has run out, or that
 * starts in the future (the test double's clock went back), is over. */
static int live_failures(struct mem_throttle *m, struct slot *s, int64_t now)
{
	if (s->window_start != 0 &&
	    (now - s->window_start >= m->base.window || now < s->window_start)) {
		s->window_start = 0;
		s->failures = 0;
	}
	return s->failures;
}

/* A slot of tag's bucket for tag, which has none: a free one, else the
 * one that costs least to lose (nothing under way, the fewest failures). */
static struct slot *slot_take(struct mem_throttle *m, const unsigned char *tag,
                              int64_t now)
{
	struct slot *b = bucket_of(m, tag), *victim = NULL;
	for (size_t w = 0; w < WAYS; w++) {
		struct slot *s = &b[w];
		if (live_failures(m, s, now) == 0 && s->pending == 0) {
			victim = s;
			break;
		}
		if (victim == NULL || (s->pending == 0) > (victim->pending == 0) ||
		    ((s->pending == 0) == (victim->pending == 0) &&
		     s->failures + s->pending < victim->failures + victim->pending))
			victim = s;
	}
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->tag, tag, 16);
	return victim;
}

static enum throttle_verdict mem_reserve(struct throttle *t,
                                         const struct throttle_key *keys,
                                         size_t n, struct throttle_ticket *tk)
{
	struct mem_throttle *m = (struct mem_throttle *)t;
	int64_t now = clock_now();
	for (size_t i = 0; i < n; i++)
		if (keys[i].value != NULL)
			tag_of(m, &keys[i], tk->handle[i]);

	pthread_mutex_lock(&m->mu);
	/* First every key is judged, then all are reserved: all or none. */
	for (size_t i = 0; i < n; i++) {
		if (keys[i].value == NULL)
			continue;
		struct slot *s = slot_find(m, tk->handle[i]);
		if (s == NULL)
			continue; /* no count yet: this key goes ahead */
		int failures = live_failures(m, s, now);
		enum throttle_verdict v = THROTTLE_GO;
		if (failures + s->pending >= keys[i].hard)
			v = THROTTLE_REFUSED;
		else if (keys[i].soft > 0 && failures >= keys[i].soft &&
		         (s->pending > 0 || s->last_check == now))
			v = THROTTLE_SLOWED;
		if (v != THROTTLE_GO) {
			pthread_mutex_unlock(&m->mu);
			tk->stopped_by = (int)i;
			return v;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (keys[i].value == NULL)
			continue;
		struct slot *s = slot_find(m, tk->handle[i]);
		if (s == NULL)
			s = slot_take(m, tk->handle[i], now);
		tk->had_failures[i] = s->failures > 0;
		s->pending++;
		s->last_check = now;
	}
	pthread_mutex_unlock(&m->mu);
	return THROTTLE_GO;
}

static bool mem_clean(struct throttle *t, const struct throttle_key *keys,
                      size_t n)
{
	struct mem_throttle *m = (struct mem_throttle *)t;
	int64_t now = clock_now();
	unsigned char tag[16];
	bool clean = true;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < n && clean; i++) {
		if (keys[i].value == NULL)
			continue;
		tag_of(m, &keys[i], tag);
		struct slot *s = slot_find(m, tag);
		clean = s == NULL ||
		        (live_failures(m, s, now) == 0 && s->pending == 0);
	}
	pthread_mutex_unlock(&m->mu);
	return clean;
}

/* The ticket's slot for key i, or NULL when another key took it over
 * meanwhile (then this key's count is lost, as with any eviction). */
static struct slot *ticket_slot(struct mem_throttle *m,
                                const struct throttle_ticket *tk, size_t i)
{
	if (tk->keys[i].value == NULL)
		return NULL;
	return slot_find(m, tk->handle[i]);
}

/* How an attempt ended, for settle. */
enum attempt_end { ATTEMPT_FAILED, ATTEMPT_SUCCEEDED, ATTEMPT_UNDECIDED };

/* Ends tk's attempt on each of its keys: its reservation is dropped, and
 * a failure counts (commit), or a success clears the keys that ask for
 * it (release); a slot with nothing left to remember is freed. */
static void settle(struct throttle *t, struct throttle_ticket *tk,
                   enum attempt_end end)
{
	struct mem_throttle *m = (struct mem_throttle *)t;
	int64_t now = clock_now();
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < tk->n; i++) {
		struct slot *s = ticket_slot(m, tk, i);
		if (s == NULL)
			continue;
		if (s->pending > 0)
			s->pending--;
		if (end == ATTEMPT_FAILED) {
			if (live_failures(m, s, now) == 0)
				s->window_start = now;
			s->failures++;
			continue;
		}
		if (end == ATTEMPT_SUCCEEDED && tk->keys[i].clear_on_success) {
			s->failures = 0;
			s->window_start = 0;
		}
		if (s->failures == 0 && s->pending == 0)
			memset(s, 0, sizeof(*s)); /* nothing left to remember */
	}
	pthread_mutex_unlock(&m->mu);
}

static void mem_commit(struct throttle *t, struct throttle_ticket *tk)
{
	settle(t, tk, ATTEMPT_FAILED);
}

static void mem_release(struct throttle *t, struct throttle_ticket *tk,
                        bool succeeded)
{
	settle(t, tk, succeeded ? ATTEMPT_SUCCEEDED : ATTEMPT_UNDECIDED);
}

static void mem_forget_all(struct throttle *t)
{
	struct mem_throttle *m = (struct mem_throttle *)t;
	pthread_mutex_lock(&m->mu);
	/* Reservations under way are kept: their commit or release still
	 * has to find them. */
	for (size_t i = 0; i < SLOTS; i++) {
		struct slot *s = &m->slots[i];
		s->failures = 0;
		s->window_start = 0;
		s->last_check = 0;
		if (s->pending == 0)
			memset(s, 0, sizeof(*s));
	}
	pthread_mutex_unlock(&m->mu);
}

static void mem_destroy(struct throttle *t)
{
	struct mem_throttle *m = (struct mem_throttle *)t;
	pthread_mutex_destroy(&m->mu);
	crypto_wipe(m->key, sizeof(m->key));
	free(m);
}

static const struct throttle_ops mem_ops = {
	.version = 2,
	.name = "memory",
	.reserve = mem_reserve,
	.commit = mem_commit,
	.release = mem_release,
	.forget_all = mem_forget_all,
	.destroy = mem_destroy,
	.clean = mem_clean,
};

struct throttle *throttle_memory_new(int64_t window_secs)
{
	struct mem_throttle *m = xcalloc(1, sizeof(*m));
	m->base.ops = &mem_ops;
	m->base.window = window_secs > 0 ? window_secs : 1;
	pthread_mutex_init(&m->mu, NULL);
	if (crypto_random(m->key, sizeof(m->key)) != 0) {
		mem_destroy(&m->base);
		return NULL;
	}
	return &m->base;
}
