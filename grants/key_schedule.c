/*
 * key_schedule.c: the staged rotation of the signing keys that
 * key_rotation_interval turns on (issue 17): publish a next key, wait
 * until every verifier's cached JWKS has it (KEY_PUBLISH_LEAD of
 * jwks_max_age), then promote it, and so on every interval.
 *
 * Times come from the keys themselves (created_at of the current and the
 * next key), so the schedule survives restarts and is the same on every
 * instance; the store's compare-and-set (only_if_none, an expected kid)
 * lets several instances run it at once with one outcome. A key a person
 * rotated with the CLI simply starts a new interval.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"

/* The audit trail's record of what the schedule did (its actor is the
 * server, not a person). */
static void audit(struct grants *g, const char *action, const char *alg,
                  const char *field, const char *old, const char *new_kid)
{
	char object[64];
	snprintf(object, sizeof(object), "key:%s", alg);
	char *text;
	enum store_rc r = store_audit_record(
	    g->store, clock_now(), "latchkeyd:key_rotation_interval", NULL,
	    action, object,
	    json_pack("{s:{s:s?, s:s}}", field, "old", old, "new", new_kid),
	    &text);
	if (r != STORE_OK)
		log_warnx("%s %s was done, but the audit trail could not record "
		          "it: %s", action, object, store_rc_str(r));
	free(text);
}

/* After a failed write, the schedule waits this long before the next
 * try, rather than generating keys every second against a database that
 * does not take them. */
#define RETRY_AFTER_FAILURE 60

static void publish(struct grants *g, enum key_alg alg, int64_t now)
{
	struct store_key k = {.alg = (char *)key_alg_name(alg),
	                      .created_at = now};
	if (key_make(alg, &k.kid, &k.private_pem) != 0) {
		log_errx("key rotation: cannot generate a %s key", k.alg);
		return;
	}
	enum store_rc r = store_key_add_next(g->store, &k, true);
	if (r == STORE_OK) {
		log_info("key rotation: published the next %s key %s; it signs "
		         "from %lld s on", k.alg, k.kid,
		         (long long)KEY_PUBLISH_LEAD(g->jwks_max_age));
		audit(g, "key.add_next", k.alg, "next_kid", NULL, k.kid);
	} else if (r != STORE_CONFLICT) { /* conflict: another instance did */
		log_warnx("key rotation: storing the next %s key: %s; trying "
		          "again in %d s", k.alg, store_rc_str(r),
		          RETRY_AFTER_FAILURE);
		g->key_schedule_quiet_until = now + RETRY_AFTER_FAILURE;
	}
	free(k.kid);
	crypto_free_str(k.private_pem);
}

static void step(struct grants *g, enum key_alg alg, int64_t now)
{
	const char *name = key_alg_name(alg);
	int64_t lead = KEY_PUBLISH_LEAD(g->jwks_max_age);
	struct store_key cur = {0}, next = {0};
	if (store_key_current(g->store, name, &cur) != STORE_OK)
		return; /* none yet: the signer makes one at start */
	enum store_rc r = store_key_next(g->store, name, &next);
	int64_t due = cur.created_at + g->key_rotation_interval;
	if (r == STORE_NOT_FOUND && now >= due - lead) {
		publish(g, alg, now);
	} else if (r == STORE_OK && now >= next.created_at + lead &&
	           now >= due) {
		r = store_key_promote(g->store, name, next.kid, now);
		if (r == STORE_OK) {
			log_info("key rotation: the %s key %s is current; %s is "
			         "retired", name, next.kid, cur.kid);
			audit(g, "key.rotate", name, "current_kid", cur.kid,
			      next.kid);
		} else if (r != STORE_NOT_FOUND) {
			log_warnx("key rotation: promoting the %s key %s: %s; "
			          "trying again in %d s", name, next.kid,
			          store_rc_str(r), RETRY_AFTER_FAILURE);
			g->key_schedule_quiet_until = now + RETRY_AFTER_FAILURE;
		}
	}
	store_key_clear(&cur);
	store_key_clear(&next);
}

void grants_key_schedule(struct grants *g)
{
	int64_t now = clock_now();
	/* One thread calls this (housekeeping): the field needs no lock. */
	if (g->key_rotation_interval <= 0 || now < g->key_schedule_quiet_until)
		return;
	for (int a = 0; a < KEY_ALG_COUNT; a++)
		step(g, (enum key_alg)a, now);
}
