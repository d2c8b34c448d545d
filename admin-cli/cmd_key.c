/*
 * cmd_key.c: `latchkey key list|rotate`, the keys that sign access tokens.
 *
 * Rotation only adds a key: the store makes it current and retires the
 * previous one in one transaction. Which retired keys the server still
 * publishes (those with an unexpired token) is the store's published
 * query; `key list` shows its answer. Private keys are never printed.
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
	const char *status = k->retired_at ? "retired" : "current";
	bool published = words_contains(kl->published, k->kid, strlen(k->kid));
	json_t *o = json_pack("{s:o, s:o, s:I, s:o, s:s, s:b}",
	                      "kid", adm_json_str(k->kid),
	                      "alg", adm_json_str(k->alg),
	                      "created_at", (json_int_t)k->created_at,
	                      "retired_at", store_json_opt_int(k->retired_at),
	                      "status", status,
	                      "published", published);
	const char *cells[] = {
		k->kid, k->alg, adm_time(k->created_at, created),
		k->retired_at ? adm_time(k->retired_at, retired) : NULL, status,
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
	                                 collect_published, &kl.published);
	if (r == STORE_OK)
		r = store_key_page(ctx->store, &kl.l.page, list_one, &kl);
	rc = adm_listing_done(&kl.l, r, "listing keys");
	free(kl.published);
	return rc;
}

/* ---- rotate ------------------------------------------------------------- */

/* A new key of alg in *k (store_key_clear it), its kid the RFC 7638
 * thumbprint of the public key, as the server's JWKS names it. */
static int new_key(enum key_alg alg, struct store_key *k)
{
	struct key_jwk jwk = {0};
	char *pem = NULL;
	if (key_generate(alg, &pem) != 0 ||
	    key_public_jwk(pem, alg, &jwk) != 0) {
		crypto_free_str(pem);
		key_jwk_clear(&jwk);
		return adm_fail(ADM_EXIT_RUNTIME, "cannot generate a %s key",
		                key_alg_name(alg));
	}
	k->kid = xstrdup(jwk.thumbprint);
	k->alg = xstrdup(key_alg_name(alg));
	k->private_pem = pem;
	k->created_at = clock_now();
	key_jwk_clear(&jwk);
	return ADM_EXIT_OK;
}

int cmd_key_rotate(struct adm_ctx *ctx)
{
	const char *name = adm_str(ctx->args, OPT_ALG);
	enum key_alg alg = KEY_ALG_ES256;
	struct store_key prev = {0}, k = {0};

	if (name != NULL && key_alg_parse(name, &alg) != 0)
		return adm_fail(ADM_EXIT_USAGE,
		                "unknown --alg '%s': ES256 or RS256", name);
	enum store_rc r = store_key_current(ctx->store, &prev);
	if (r != STORE_OK && r != STORE_NOT_FOUND)
		return adm_store_fail(r, "reading the current key");

	int rc = new_key(alg, &k);
	if (rc == ADM_EXIT_OK) {
		r = store_key_add_current(ctx->store, &k);
		if (r != STORE_OK)
			rc = adm_store_fail(r, "storing the new key");
	}
	if (rc == ADM_EXIT_OK && ctx->json) {
		json_t *was = adm_json_str(prev.kid);
		adm_json_print(json_pack("{s:s, s:s, s:I, s:o}", "kid", k.kid,
		                         "alg", k.alg, "created_at",
		                         (json_int_t)k.created_at,
		                         "previous_kid", was));
	} else if (rc == ADM_EXIT_OK) {
		printf("new signing key %s (%s)\n", k.kid, k.alg);
		if (prev.kid != NULL)
			printf("retired key %s: the server publishes it until "
			       "the tokens it signed have expired\n", prev.kid);
	}
	store_key_clear(&prev);
	store_key_clear(&k);
	return rc;
}
