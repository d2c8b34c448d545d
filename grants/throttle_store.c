/*
 * throttle_store.c: the throttle interface (throttle.h) over the store's
 * throttle table (store.h struct store_throttle_methods; on PostgreSQL
 * storage/pg_throttle.c), so that failed logins and client
 * authentications count across every instance on one database. Chosen
 * once at start (token_endpoint.c) when the store has the table; the
 * grants call throttle_reserve and friends as with the memory backend.
 *
 * Keys go to the store as a SHA-256 of their kind and value (the same in
 * every instance, so not keyed with a per-process secret), never as the
 * username, client id or address.
 *
 * Successes write nothing when they can (shared/DECISIONS.md: a failure
 * writes; success only reads). reserve reads the keys first:
 *  - at the hard limit, or slowed past soft: refused, nothing written;
 *  - every key clean (no failure, no reservation under way anywhere) and
 *    no attempt on them under way unwritten in this process, nor ended
 *    since the read (whose failure the read may have missed): the
 *    attempt goes ahead unwritten (ticket id 0). A success then writes
 *    nothing; a failure writes its count;
 *  - else the reservation is written, atomically against the limit, with
 *    this process's unwritten attempt on the key counted as well.
 * The trade-off (docs/security.md, docs/scale-out.md): while a key is
 * clean, each instance may have one unwritten attempt on it that the
 * others do not see, so across K instances at most hard + K - 1 secrets
 * are checked per key in a window (exactly hard with one instance).
 *
 * clean (a client's right generated secret, client_auth.c) remembers a
 * clean read for up to CLEAN_MS, so that a busy client costs no read
 * per request. Any attempt this process reserves or fails forgets every
 * remembered read, so this process's own failures count at once; another
 * instance's failures reach it within CLEAN_MS. Only a generated secret
 * (256 random bits, which nobody guesses) that is right is let in on a
 * remembered read: guesses, and every secret a person chose, take the
 * reading path of reserve.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "store.h"
#include "strutil.h"

/* This process's unwritten attempts, one per slot: a key whose slot is
 * taken (by it or, rarely, by another key) has its attempts written. */
#define LOCAL_SLOTS 1024

#define CLEAN_SLOTS 256
#define CLEAN_MS 1000

/* A clean read of a set of keys (their tags, in order), and when. */
struct clean_read {
	unsigned char tags[THROTTLE_MAX_KEYS][16];
	size_t n; /* 0: empty */
	int64_t read_ms; /* CLOCK_MONOTONIC */
	uint64_t gen;    /* store_throttle.gen when it was read */
};

struct store_throttle {
	struct throttle base; /* first, as throttle.h asks */
	struct store *store;
	int64_t pending_ttl;
	pthread_mutex_t mu;
	/* Bumped by every attempt this process reserves or fails: the clean
	 * reads of an older gen are forgotten. */
	uint64_t gen;
	struct clean_read clean[CLEAN_SLOTS];
	struct {
		unsigned char tag[16];
		bool busy;
		/* Counts the attempts of this process that ended on the slot:
		 * a read taken before one ended may miss its failure, so an
		 * attempt goes unwritten only if none ended since its read. */
		uint32_t ended;
	} local[LOCAL_SLOTS];
};

/* The per-key state of one call: the store's view and ours. */
struct keyset {
	size_t n;
	size_t idx[THROTTLE_MAX_KEYS]; /* into the caller's keys */
	char hex[THROTTLE_MAX_KEYS][33];
	struct store_throttle_key k[THROTTLE_MAX_KEYS];
};

static void tag_of(const struct throttle_key *k, unsigned char tag[16])
{
	unsigned char d[SHA256_LEN];
	static const char label[] = "latchkey throttle";
	size_t ll = sizeof(label), kl = strlen(k->kind), vl = strlen(k->value);
	char *buf = malloc(ll + kl + vl + 2);
	if (buf == NULL)
		abort();
	/* The NULs keep ("ab","c") from ("a","bc"). */
	memcpy(buf, label, ll);
	memcpy(buf + ll, k->kind, kl + 1);
	memcpy(buf + ll + kl + 1, k->value, vl + 1);
	sha256(buf, ll + kl + vl + 1, d);
	free(buf);
	memcpy(tag, d, 16);
}

static size_t slot_of(const unsigned char *tag)
{
	return ((size_t)tag[0] << 8 | tag[1]) % LOCAL_SLOTS;
}

/* The keys of tk that have a value, as the store sees them. */
static void keyset_of(const struct throttle_ticket *tk, struct keyset *ks)
{
	memset(ks, 0, sizeof(*ks));
	for (size_t i = 0; i < tk->n; i++) {
		if (tk->keys[i].value == NULL)
			continue;
		size_t j = ks->n++;
		ks->idx[j] = i;
		for (size_t b = 0; b < 16; b++)
			snprintf(ks->hex[j] + 2 * b, 3, "%02x", tk->handle[i][b]);
		ks->k[j] = (struct store_throttle_key){
		    ks->hex[j], tk->keys[i].soft, tk->keys[i].hard, 0,
		    tk->keys[i].clear_on_success};
	}
}

/* Under mu: the ended counts of the keys' slots, before a read. */
static void local_ended(const struct store_throttle *t,
                        const struct throttle_ticket *tk,
                        const struct keyset *ks, uint32_t *ended)
{
	for (size_t j = 0; j < ks->n; j++)
		ended[j] = t->local[slot_of(tk->handle[ks->idx[j]])].ended;
}

/* Under mu: takes every key's local slot, or none when one is taken or
 * an attempt on it ended since the read (ended, from local_ended). */
static bool local_take_all(struct store_throttle *t,
                           const struct throttle_ticket *tk,
                           const struct keyset *ks, const uint32_t *ended)
{
	for (size_t j = 0; j < ks->n; j++) {
		size_t s = slot_of(tk->handle[ks->idx[j]]);
		if (t->local[s].busy || t->local[s].ended != ended[j])
			return false;
	}
	for (size_t j = 0; j < ks->n; j++) {
		const unsigned char *tag = tk->handle[ks->idx[j]];
		memcpy(t->local[slot_of(tag)].tag, tag, 16);
		t->local[slot_of(tag)].busy = true;
	}
	return true;
}

/* An attempt ended: its slots are free (unwritten: it held them), and
 * the reads taken before now are stale for them. */
static void local_end_all(struct store_throttle *t,
                          const struct throttle_ticket *tk,
                          const struct keyset *ks, bool held)
{
	pthread_mutex_lock(&t->mu);
	for (size_t j = 0; j < ks->n; j++) {
		size_t s = slot_of(tk->handle[ks->idx[j]]);
		if (held)
			t->local[s].busy = false;
		t->local[s].ended++;
	}
	pthread_mutex_unlock(&t->mu);
}

/* Every remembered clean read is forgotten, and so is any read under
 * way (its gen is older). */
static void forget_clean(struct store_throttle *t)
{
	pthread_mutex_lock(&t->mu);
	t->gen++;
	pthread_mutex_unlock(&t->mu);
}

/* The verdict the read alone gives for key j, as throttle.c judges. */
static enum throttle_verdict judged(const struct store_throttle_key *k,
                                    const struct store_throttle_state *st,
                                    int64_t now)
{
	if (st->failures + st->pending >= k->hard)
		return THROTTLE_REFUSED;
	if (k->soft > 0 && st->failures >= k->soft &&
	    (st->pending > 0 || st->last_check == now))
		return THROTTLE_SLOWED;
	return THROTTLE_GO;
}

static int64_t new_ticket(const struct store_throttle *t, int64_t now)
{
	uint32_t r = 0;
	if (crypto_random(&r, sizeof(r)) != 0)
		r = (uint32_t)rand();
	r = (r & 0x0fffffffu) | 1u; /* never 0: 0 is "none written" */
	return (int64_t)((uint64_t)(now + t->pending_ttl) << 28 | r);
}

static enum throttle_verdict st_reserve(struct throttle *base,
                                        const struct throttle_key *keys,
                                        size_t n, struct throttle_ticket *tk)
{
	struct store_throttle *t = (struct store_throttle *)base;
	int64_t now = clock_now();
	for (size_t i = 0; i < n; i++)
		if (keys[i].value != NULL)
			tag_of(&keys[i], tk->handle[i]);
	struct keyset ks;
	keyset_of(tk, &ks);
	if (ks.n == 0)
		return THROTTLE_GO;
	uint32_t ended[THROTTLE_MAX_KEYS];
	pthread_mutex_lock(&t->mu);
	t->gen++; /* an attempt begins: remembered clean reads may not hold */
	local_ended(t, tk, &ks, ended);
	pthread_mutex_unlock(&t->mu);
	struct store_throttle_state st[THROTTLE_MAX_KEYS];
	if (store_throttle_peek(t->store, ks.k, ks.n, now, base->window, st) !=
	    STORE_OK)
		return THROTTLE_UNAVAILABLE;
	bool clean = true;
	for (size_t j = 0; j < ks.n; j++) {
		enum throttle_verdict v = judged(&ks.k[j], &st[j], now);
		if (v != THROTTLE_GO) {
			tk->stopped_by = (int)ks.idx[j];
			return v;
		}
		clean = clean && st[j].failures == 0 && st[j].pending == 0;
	}
	pthread_mutex_lock(&t->mu);
	if (clean && local_take_all(t, tk, &ks, ended)) {
		pthread_mutex_unlock(&t->mu);
		return THROTTLE_GO; /* unwritten: tk->id stays 0 */
	}
	for (size_t j = 0; j < ks.n; j++) {
		const unsigned char *tag = tk->handle[ks.idx[j]];
		size_t s = slot_of(tag);
		ks.k[j].local = t->local[s].busy &&
		                memcmp(t->local[s].tag, tag, 16) == 0;
	}
	pthread_mutex_unlock(&t->mu);
	int64_t id = new_ticket(t, now);
	bool had[THROTTLE_MAX_KEYS] = {false};
	int stopped = -1;
	bool slowed = false;
	enum store_rc rc = store_throttle_reserve(t->store, ks.k, ks.n, now,
	                                          base->window, id, had,
	                                          &stopped, &slowed);
	forget_clean(t); /* after the write, as in st_commit */
	if (rc == STORE_CONFLICT && stopped >= 0) {
		tk->stopped_by = (int)ks.idx[stopped];
		return slowed ? THROTTLE_SLOWED : THROTTLE_REFUSED;
	}
	if (rc != STORE_OK)
		return THROTTLE_UNAVAILABLE;
	for (size_t j = 0; j < ks.n; j++)
		tk->had_failures[ks.idx[j]] = had[j];
	tk->id = id;
	return THROTTLE_GO;
}

static void st_commit(struct throttle *base, struct throttle_ticket *tk)
{
	struct store_throttle *t = (struct store_throttle *)base;
	struct keyset ks;
	keyset_of(tk, &ks);
	if (ks.n == 0)
		return;
	enum store_rc rc = store_throttle_commit(t->store, ks.k, ks.n,
	                                         clock_now(), base->window,
	                                         tk->id);
	forget_clean(t); /* after the write: a read before it saw none */
	/* The local slot is given back only once the failure is written, so
	 * this process's next attempt on the key reads it; an attempt whose
	 * read came before is written (local_take_all). */
	local_end_all(t, tk, &ks, tk->id == 0);
	if (rc != STORE_OK)
		log_warnx("a failed attempt could not be counted: %s",
		          store_rc_str(rc));
}

static void st_release(struct throttle *base, struct throttle_ticket *tk,
                       bool succeeded)
{
	struct store_throttle *t = (struct store_throttle *)base;
	struct keyset ks;
	keyset_of(tk, &ks);
	if (ks.n == 0)
		return;
	if (tk->id == 0) { /* nothing was written, and nothing to forget */
		local_end_all(t, tk, &ks, true);
		return;
	}
	enum store_rc rc = store_throttle_release(t->store, ks.k, ks.n,
	                                          clock_now(), base->window,
	                                          tk->id, succeeded);
	local_end_all(t, tk, &ks, false);
	if (rc != STORE_OK) /* the reservation ends at its expiry instead */
		log_warnx("a reservation could not be released: %s",
		          store_rc_str(rc));
}

/* Nothing of this process's to forget: the counts are in the database,
 * and the test double's reset (the only caller) deletes them there, with
 * the tokens (store_reset_tokens), for every instance at once. */
static void st_forget_all(struct throttle *base)
{
	(void)base;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The keys' tags in order, and the clean_read slot they map to. */
static size_t clean_slot(const struct throttle_ticket *tk,
                         const struct keyset *ks,
                         unsigned char tags[THROTTLE_MAX_KEYS][16])
{
	uint32_t h = 2166136261u; /* FNV-1a over the tags' first bytes */
	for (size_t j = 0; j < ks->n; j++) {
		memcpy(tags[j], tk->handle[ks->idx[j]], 16);
		for (size_t b = 0; b < 4; b++)
			h = (h ^ tags[j][b]) * 16777619u;
	}
	return h % CLEAN_SLOTS;
}

/* A read (store_throttle_peek) unless a clean one of the same keys is
 * remembered; never a write. */
static bool st_clean(struct throttle *base, const struct throttle_key *keys,
                     size_t n)
{
	struct store_throttle *t = (struct store_throttle *)base;
	int64_t now = clock_now();
	struct throttle_ticket tk = {.keys = keys, .n = n};
	for (size_t i = 0; i < n; i++)
		if (keys[i].value != NULL)
			tag_of(&keys[i], tk.handle[i]);
	struct keyset ks;
	keyset_of(&tk, &ks);
	if (ks.n == 0)
		return true;
	unsigned char tags[THROTTLE_MAX_KEYS][16];
	struct clean_read *cr = &t->clean[clean_slot(&tk, &ks, tags)];
	int64_t ms = mono_ms();
	pthread_mutex_lock(&t->mu);
	bool known = cr->n == ks.n && cr->gen == t->gen &&
	             ms - cr->read_ms < CLEAN_MS &&
	             memcmp(cr->tags, tags, ks.n * 16) == 0;
	uint64_t gen = t->gen;
	pthread_mutex_unlock(&t->mu);
	if (known)
		return true;
	struct store_throttle_state st[THROTTLE_MAX_KEYS];
	if (store_throttle_peek(t->store, ks.k, ks.n, now, base->window, st) !=
	    STORE_OK)
		return false;
	for (size_t j = 0; j < ks.n; j++)
		if (st[j].failures != 0 || st[j].pending != 0)
			return false;
	pthread_mutex_lock(&t->mu);
	if (t->gen == gen) { /* no attempt began or failed since the read */
		memcpy(cr->tags, tags, ks.n * 16);
		cr->n = ks.n;
		cr->read_ms = ms;
		cr->gen = gen;
	}
	pthread_mutex_unlock(&t->mu);
	return true;
}

static void st_destroy(struct throttle *base)
{
	struct store_throttle *t = (struct store_throttle *)base;
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static const struct throttle_ops store_ops = {
	.version = 2,
	.name = "store",
	.reserve = st_reserve,
	.commit = st_commit,
	.release = st_release,
	.forget_all = st_forget_all,
	.destroy = st_destroy,
	.clean = st_clean,
};

struct throttle *throttle_store_new(struct store *s, int64_t window_secs,
                                    int64_t pending_ttl)
{
	/* No default of its own: the settings table is where defaults live
	 * (grants_config_from derives the value from its timeouts), and a
	 * reservation that counts for no time would throttle nothing. */
	if (pending_ttl <= 0)
		return NULL;
	struct store_throttle *t = xcalloc(1, sizeof(*t));
	t->base.ops = &store_ops;
	t->base.window = window_secs > 0 ? window_secs : 1;
	t->store = s;
	t->pending_ttl = pending_ttl;
	pthread_mutex_init(&t->mu, NULL);
	return &t->base;
}
