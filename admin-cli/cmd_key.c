/*
 * cmd_key.c: `latchkey key list|add|rotate`, the keys that sign tokens:
 * one current key per algorithm (ES256 and RS256, migration 0008); access
 * tokens use signing_alg's, ID tokens the client's choice.
 *
 * A staged rotation (issue 17): `key add --next` publishes a next key
 * that signs nothing; `key rotate` promotes it when there is one, so
 * verifiers that cache the JWKS already know the key when tokens signed
 * with it arrive. Without a next key, `key rotate` makes and activates a
 * new key at once, as before.
 *
 * Rotation only adds keys: for each algorithm rotated the store makes the
 * new key current and retires that algorithm's previous one in one
 * transaction. Which retired keys the server still publishes (those with
 * an unexpired access token, and those retired less than id_token_ttl
 * ago) is the store's published query, given the id_token_ttl of the
 * CLI's settings as the server gives its own; `key list` shows its
 * answer. Private keys are never printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "crypto.h"
#include "keys.h"
#include "strutil.h"

/* ---- list --------------------------------------------------------------- */

struct key_listing {
	struct adm_listing l;
	char *published; /* space-separated kids of the published keys */
};

static int collect_published(const struct store_key *k, void *arg)
{
	words_append(arg, k->kid, strlen(k->kid));
	return 0;
}

static int list_one(const struct store_key *k, void *arg)
{
	struct key_listing *kl = arg;
	char created[ADM_TIME_LEN], retired[ADM_TIME_LEN];
	bool next = k->retired_at == STORE_KEY_NEXT;
	const char *status = next ? "next"
	                     : k->retired_at ? "retired" : "current";
	bool published = words_contains(kl->published, k->kid, strlen(k->kid));
	json_t *o = json_pack("{s:o, s:o, s:I, s:o, s:s, s:b}",
	                      "kid", adm_json_str(k->kid),
	                      "alg", adm_json_str(k->alg),
	                      "created_at", (json_int_t)k->created_at,
	                      "retired_at",
	                      store_json_opt_int(next ? 0 : k->retired_at),
	                      "status", status,
	                      "published", published);
	const char *cells[] = {
		k->kid, k->alg, adm_time(k->created_at, created),
		k->retired_at && !next ? adm_time(k->retired_at, retired) : NULL,
		status,
		published ? "yes" : "no",
	};
	adm_listing_add(&kl->l, o, cells);
	return 0;
}

int cmd_key_list(struct adm_ctx *ctx)
{
	static const char *const header[] = {
		"KID", "ALG", "CREATED", "RETIRED", "STATUS", "PUBLISHED",
	};
	struct key_listing kl = {.published = NULL};
	int rc = adm_listing_init(&kl.l, ctx, 6, header);
	if (rc != ADM_EXIT_OK)
		return rc;
	enum store_rc r = store_key_list(ctx->store, true, clock_now(),
	                                 KEY_PUBLISH_GRACE(ctx->cfg->id_token_ttl),
	                                 collect_published, &kl.published);
	if (r == STORE_OK)
		r = store_key_page(ctx->store, &kl.l.page, list_one, &kl);
	rc = adm_listing_done(&kl.l, r, "listing keys");
	free(kl.published);
	return rc;
}

/* ---- rotate ------------------------------------------------------------- */

/* One algorithm's rotation: its new current key, and the key it
 * retired (the store's rule, storage/key_rotate.c, shared with the admin
 * API). */
struct rotated {
	struct store_key k;
	char *previous_kid; /* NULL: the algorithm had no current key */
	bool promoted;      /* k was the published next key */
};

static int rotate_one(struct store *s, enum key_alg alg, struct rotated *out)
{
	const char *name = key_alg_name(alg);
	enum store_rc r = store_key_rotate(s, name, clock_now(), &out->k,
	                                   &out->previous_kid, &out->promoted);
	if (r == STORE_CONFLICT)
		return adm_fail(ADM_EXIT_RUNTIME, "the next %s key %s was "
		                "promoted or replaced meanwhile: run 'key list'",
		                name, out->k.kid);
	if (r == STORE_INVALID)
		return adm_fail(ADM_EXIT_RUNTIME, "cannot generate a %s key",
		                name);
	if (r != STORE_OK)
		return adm_store_fail(r, "rotating the key");
	return ADM_EXIT_OK;
}

static json_t *rotated_json(const struct rotated *ro)
{
	return json_pack("{s:s, s:s, s:I, s:o, s:b}", "kid", ro->k.kid, "alg",
	                 ro->k.alg, "created_at", (json_int_t)ro->k.created_at,
	                 "previous_kid", adm_json_str(ro->previous_kid),
	                 "promoted", ro->promoted);
}

/* --json: the top-level fields are those of the access-token key (the
 * signing_alg of the CLI's settings) when it was rotated, else of the one
 * key rotated (--alg naming the other algorithm); "keys" lists every key
 * rotated, in the order rotated. */
static void print_json(const struct rotated *ro, size_t n, size_t top)
{
	json_t *o = rotated_json(&ro[top]), *keys = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(keys, rotated_json(&ro[i]));
	json_object_set_new(o, "keys", keys);
	adm_json_print(o);
}

/* The algorithms --alg names (one), else both, signing_alg's first. */
static size_t algs_of(const struct adm_ctx *ctx, enum key_alg *at_alg,
                      enum key_alg algs[KEY_ALG_COUNT], int *rc)
{
	const char *name = adm_str(ctx->args, OPT_ALG);
	enum key_alg one;
	size_t n = 0;
	*rc = ADM_EXIT_OK;
	*at_alg = KEY_ALG_ES256;
	if (name != NULL && key_alg_parse(name, &one) != 0) {
		*rc = adm_fail(ADM_EXIT_USAGE,
		               "unknown --alg '%s': ES256 or RS256", name);
		return 0;
	}
	key_alg_parse(ctx->cfg->signing_alg, at_alg); /* config.c checked */
	if (name != NULL) {
		algs[n++] = one;
	} else {
		algs[n++] = *at_alg;
		for (int a = 0; a < KEY_ALG_COUNT; a++)
			if ((enum key_alg)a != *at_alg)
				algs[n++] = (enum key_alg)a;
	}
	return n;
}

int cmd_key_add(struct adm_ctx *ctx)
{
	enum key_alg at_alg, algs[KEY_ALG_COUNT];
	int rc;
	if (!adm_has(ctx->args, OPT_NEXT))
		return adm_fail(ADM_EXIT_USAGE, "'key add' needs --next (to "
		                "make and use a new key at once: 'key rotate')");
	size_t n = algs_of(ctx, &at_alg, algs, &rc);
	json_t *keys = json_array();
	for (size_t i = 0; i < n && rc == ADM_EXIT_OK; i++) {
		struct store_key k = {0};
		char *old = NULL;
		const char *name = key_alg_name(algs[i]);
		enum store_rc r = store_key_publish_next(ctx->store, name,
		                                         clock_now(), &k, &old);
		if (r == STORE_INVALID)
			rc = adm_fail(ADM_EXIT_RUNTIME, "cannot generate a %s "
			              "key", name);
		else if (r != STORE_OK)
			rc = adm_store_fail(r, "storing the next key");
		if (rc == ADM_EXIT_OK) {
			char at[ADM_TIME_LEN];
			json_array_append_new(keys, json_pack(
			    "{s:s, s:s, s:I, s:o}", "kid", k.kid, "alg", k.alg,
			    "created_at", (json_int_t)k.created_at,
			    "replaced_next_kid", adm_json_str(old)));
			if (!ctx->json)
				printf("published next key %s (%s) at %s; it "
				       "signs nothing until 'key rotate'%s%s\n",
				       k.kid, k.alg, adm_time(k.created_at, at),
				       old ? "; replaces next key " : "",
				       old ? old : "");
			char object[160];
			snprintf(object, sizeof(object), "key:%s", k.alg);
			rc = adm_audit(ctx, "key.add_next", object,
			               json_pack("{s:{s:o, s:s}}", "next_kid",
			                         "old", adm_json_str(old),
			                         "new", k.kid));
		}
		store_key_clear(&k);
		free(old);
	}
	if (ctx->json && json_array_size(keys) > 0)
		adm_json_print(json_pack("{s:O}", "keys", keys));
	json_decref(keys);
	return rc;
}

int cmd_key_rotate(struct adm_ctx *ctx)
{
	enum key_alg at_alg;
	struct rotated ro[KEY_ALG_COUNT];
	enum key_alg algs[KEY_ALG_COUNT];
	size_t top = 0;
	int rc;

	/* Without --alg, both: the access-token key first. */
	size_t n = algs_of(ctx, &at_alg, algs, &rc);
	if (rc != ADM_EXIT_OK)
		return rc;
	memset(ro, 0, sizeof(ro));
	size_t done = 0;
	for (; done < n && rc == ADM_EXIT_OK; done++)
		rc = rotate_one(ctx->store, algs[done], &ro[done]);
	/* A failure after a first success leaves that rotation in place: say
	 * what was done before the error. */
	size_t ok = rc == ADM_EXIT_OK ? done : done - 1;
	for (size_t i = 0; i < ok; i++)
		if (algs[i] == at_alg)
			top = i;
	char when[ADM_TIME_LEN];
	if (ctx->json) {
		if (rc == ADM_EXIT_OK)
			print_json(ro, ok, top);
	} else {
		for (size_t i = 0; i < ok; i++) {
			if (ro[i].promoted)
				printf("promoted the next key %s (%s), "
				       "published since %s\n", ro[i].k.kid,
				       ro[i].k.alg,
				       adm_time(ro[i].k.created_at, when));
			else
				printf("new signing key %s (%s)\n",
				       ro[i].k.kid, ro[i].k.alg);
			if (ro[i].previous_kid != NULL)
				printf("retired key %s: the server publishes "
				       "it until the tokens it signed have "
				       "expired, and for id_token_ttl\n",
				       ro[i].previous_kid);
		}
	}
	/* Each rotation that was made is recorded, even after a failure. */
	for (size_t i = 0; i < ok; i++) {
		char object[160];
		snprintf(object, sizeof(object), "key:%s", ro[i].k.alg);
		int arc = adm_audit(ctx, "key.rotate", object,
		                    json_pack("{s:{s:o, s:s}}", "current_kid",
		                              "old",
		                              adm_json_str(ro[i].previous_kid),
		                              "new", ro[i].k.kid));
		if (rc == ADM_EXIT_OK)
			rc = arc;
	}
	for (size_t i = 0; i < done; i++) {
		store_key_clear(&ro[i].k);
		free(ro[i].previous_kid);
	}
	return rc;
}
