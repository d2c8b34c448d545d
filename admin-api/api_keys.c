/*
 * api_keys.c: /admin/keys: the signing keys (never a private key), and
 * the staged rotation as `latchkey key add --next` and `key rotate` do
 * it (storage/key_rotate.c, one rule for both): POST /admin/keys with
 * {"next": true} publishes a next key that signs nothing yet; POST
 * /admin/keys/rotate promotes it (else makes and activates a new key at
 * once). Without "alg", both algorithms, signing_alg's first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "clock.h"
#include "keys.h"
#include "strutil.h"

struct key_rows {
	json_t *rows;
	char *published; /* space-separated kids */
};

static int collect_published(const struct store_key *k, void *arg)
{
	words_append(arg, k->kid, strlen(k->kid));
	return 0;
}

static int list_one(const struct store_key *k, void *arg)
{
	struct key_rows *kr = arg;
	bool next = k->retired_at == STORE_KEY_NEXT;
	json_array_append_new(kr->rows, json_pack(
	    "{s:o, s:o, s:I, s:o, s:s, s:b}", "kid", store_json_str(k->kid),
	    "alg", store_json_str(k->alg), "created_at",
	    (json_int_t)k->created_at, "retired_at",
	    store_json_opt_int(next ? 0 : k->retired_at), "status",
	    next ? "next" : k->retired_at ? "retired" : "current", "published",
	    words_contains(kr->published, k->kid, strlen(k->kid))));
	return 0;
}

enum MHD_Result api_keys_list(struct api_req *r)
{
	struct store_page p;
	int64_t matched;
	if (!api_query_only(r, "limit since") || !api_page(r, &p, &matched))
		return MHD_YES;
	struct key_rows kr = {.rows = json_array()};
	enum store_rc rc = store_key_list(
	    r->api->st, true, clock_now(),
	    KEY_PUBLISH_GRACE(r->api->cfg->id_token_ttl), collect_published,
	    &kr.published);
	if (rc == STORE_OK)
		rc = store_key_page(r->api->st, &p, list_one, &kr);
	free(kr.published);
	return api_listing(r, rc, "keys", kr.rows, matched, "listing keys");
}

/* The algorithms of the body's "alg" (one), else both, signing_alg's
 * first. 0: answered 400. */
static size_t algs_of(struct api_req *r, const char *algs[KEY_ALG_COUNT])
{
	const char *name = NULL;
	enum key_alg one, at;
	if (!api_in_str(r, "alg", &name))
		return 0;
	if (name != NULL && key_alg_parse(name, &one) != 0) {
		api_error(r, OAUTH_INVALID_REQUEST, "member 'alg' must be ES256 "
		          "or RS256");
		return 0;
	}
	if (name != NULL) {
		algs[0] = key_alg_name(one);
		return 1;
	}
	key_alg_parse(r->api->cfg->signing_alg, &at); /* config.c checked */
	size_t n = 0;
	algs[n++] = key_alg_name(at);
	for (int a = 0; a < KEY_ALG_COUNT; a++)
		if ((enum key_alg)a != at)
			algs[n++] = key_alg_name((enum key_alg)a);
	return n;
}

static void audit_key(struct api_req *r, const char *action, const char *alg,
                      const char *field, const char *old, const char *new_kid)
{
	char object[64];
	api_audit(r, action, api_object(object, sizeof(object), "key", alg),
	          json_pack("{s:{s:s?, s:s}}", field, "old", old, "new",
	                    new_kid));
}

/* A failure of one algorithm's step after others were made: those stay
 * made (and audited), and the answer says what failed. */
static enum MHD_Result step_failed(struct api_req *r, enum store_rc rc,
                                   const char *alg)
{
	if (rc == STORE_CONFLICT)
		return api_error(r, OAUTH_CONFLICT, "the next %s key was promoted "
		                 "or replaced meanwhile", alg);
	if (rc == STORE_INVALID)
		return api_error(r, OAUTH_SERVER_ERROR, "cannot generate a %s key",
		                 alg);
	return api_store_fail(r, rc, "rotating the keys", "key", alg);
}

enum MHD_Result api_keys_add(struct api_req *r)
{
	const char *algs[KEY_ALG_COUNT];
	bool next = false;
	if (!api_query_only(r, "") || !api_body(r, "next alg") ||
	    !api_in_bool(r, "next", &next))
		return MHD_YES;
	if (!next)
		return api_error(r, OAUTH_INVALID_REQUEST, "give \"next\": true "
		                 "(to make and use a new key at once: POST "
		                 "/admin/keys/rotate)");
	size_t n = algs_of(r, algs);
	if (n == 0)
		return MHD_YES;
	json_t *keys = json_array();
	for (size_t i = 0; i < n; i++) {
		struct store_key k = {0};
		char *old = NULL;
		enum store_rc rc = store_key_publish_next(r->api->st, algs[i],
		                                          clock_now(), &k, &old);
		if (rc == STORE_OK) {
			audit_key(r, "key.add_next", k.alg, "next_kid", old, k.kid);
			json_array_append_new(keys, json_pack(
			    "{s:s, s:s, s:I, s:o}", "kid", k.kid, "alg", k.alg,
			    "created_at", (json_int_t)k.created_at,
			    "replaced_next_kid", store_json_str(old)));
		}
		store_key_clear(&k);
		free(old);
		if (rc != STORE_OK) {
			json_decref(keys);
			return step_failed(r, rc, algs[i]);
		}
	}
	return api_json(r, 201, json_pack("{s:o}", "keys", keys));
}

enum MHD_Result api_keys_rotate(struct api_req *r)
{
	const char *algs[KEY_ALG_COUNT];
	if (!api_query_only(r, "") || !api_body(r, "alg"))
		return MHD_YES;
	size_t n = algs_of(r, algs);
	if (n == 0)
		return MHD_YES;
	json_t *keys = json_array();
	for (size_t i = 0; i < n; i++) {
		struct store_key k = {0};
		char *previous = NULL;
		bool promoted = false;
		enum store_rc rc = store_key_rotate(r->api->st, algs[i],
		                                    clock_now(), &k, &previous,
		                                    &promoted);
		if (rc == STORE_OK) {
			audit_key(r, "key.rotate", k.alg, "current_kid", previous,
			          k.kid);
			json_array_append_new(keys, json_pack(
			    "{s:s, s:s, s:I, s:o, s:b}", "kid", k.kid, "alg", k.alg,
			    "created_at", (json_int_t)k.created_at, "previous_kid",
			    store_json_str(previous), "promoted", promoted));
		}
		store_key_clear(&k);
		free(previous);
		if (rc != STORE_OK) {
			json_decref(keys);
			return step_failed(r, rc, algs[i]);
		}
	}
	return api_json(r, 200, json_pack("{s:o}", "keys", keys));
}
