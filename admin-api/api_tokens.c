/*
 * api_tokens.c: /admin/tokens (the records of issued access tokens, or
 * with ?type=refresh of refresh tokens: never a token itself, never a
 * hash) and POST /admin/tokens/revoke, which revokes one access token by
 * jti, or everything of a client, a refresh-token family or a user (whose
 * browser sessions end too), as `latchkey token revoke` does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "clock.h"

struct token_rows {
	json_t *rows;
	int64_t now;
};

static int list_access(const struct store_token *t, void *arg)
{
	struct token_rows *tr = arg;
	json_array_append_new(tr->rows,
	                      token_json_access(t, tr->now, TOKEN_JSON_RECORD));
	return 0;
}

static int list_refresh(const struct store_refresh *t, void *arg)
{
	struct token_rows *tr = arg;
	json_array_append_new(tr->rows,
	                      token_json_refresh(t, tr->now, TOKEN_JSON_RECORD));
	return 0;
}

enum MHD_Result api_tokens_list(struct api_req *r)
{
	struct store_page p;
	int64_t matched;
	struct store_user u = {0};
	if (!api_query_only(r, "limit since client user family active type") ||
	    !api_page(r, &p, &matched))
		return MHD_YES;
	const char *active = api_query(r, "active"), *type = api_query(r, "type");
	if (active != NULL && strcmp(active, "true") != 0 &&
	    strcmp(active, "false") != 0)
		return api_error(r, OAUTH_INVALID_REQUEST, "active must be true "
		                 "or false");
	if (type != NULL && strcmp(type, "access") != 0 &&
	    strcmp(type, "refresh") != 0)
		return api_error(r, OAUTH_INVALID_REQUEST, "type must be access "
		                 "or refresh");
	/* A user's tokens carry its user_id as their subject. */
	if (!api_user_lookup(r, api_query(r, "user"), &u))
		return MHD_YES;
	struct token_rows tr = {.rows = json_array(), .now = clock_now()};
	bool active_only = active != NULL && strcmp(active, "true") == 0;
	enum store_rc rc;
	if (type != NULL && strcmp(type, "refresh") == 0) {
		struct store_refresh_filter f = {
			.page = &p, .client_id = api_query(r, "client"),
			.subject = u.user_id, .family_id = api_query(r, "family"),
			.active_only = active_only, .now = tr.now};
		rc = store_refresh_list(r->api->st, &f, list_refresh, &tr);
	} else {
		struct store_token_filter f = {
			.page = &p, .client_id = api_query(r, "client"),
			.subject = u.user_id, .family_id = api_query(r, "family"),
			.active_only = active_only, .now = tr.now};
		rc = store_token_list(r->api->st, &f, list_access, &tr);
	}
	store_user_clear(&u);
	return api_listing(r, rc, "tokens", tr.rows, matched, "listing tokens");
}

static int found_one(const struct store_refresh *t, void *arg)
{
	(void)t;
	*(bool *)arg = true;
	return 1;
}

/* The revocation of target (the member given) named value: the count
 * revoked in *n, browser sessions ended in *ended. */
static enum store_rc revoke_target(struct api_req *r, const char *target,
                                   const char *value, int64_t now, int *n,
                                   int *ended)
{
	struct store *st = r->api->st;
	if (strcmp(target, "jti") == 0)
		return store_token_revoke(st, value, now, n);
	if (strcmp(target, "client_id") == 0) {
		struct store_client c = {0};
		enum store_rc rc = store_client_get(st, value, &c);
		store_client_clear(&c);
		return rc == STORE_OK ? store_token_revoke_client(st, value, now, n)
		                      : rc;
	}
	if (strcmp(target, "family_id") == 0) {
		/* A family exists while a refresh token of it does. */
		struct store_refresh_filter f = {.family_id = value};
		bool found = false;
		enum store_rc rc = store_refresh_list(st, &f, found_one, &found);
		if (rc == STORE_OK && !found)
			rc = STORE_NOT_FOUND;
		return rc == STORE_OK ? store_family_revoke(st, value, now, n) : rc;
	}
	/* username: its tokens, and its browser sessions at /authorize (else
	 * a session could fetch new codes at once). */
	struct store_user u = {0};
	enum store_rc rc = store_user_get(st, value, &u);
	if (rc == STORE_OK)
		rc = store_subject_revoke(st, u.user_id, now, n);
	if (rc == STORE_OK)
		rc = store_sessions_end_user(st, u.user_id, ended);
	store_user_clear(&u);
	return rc;
}

enum MHD_Result api_tokens_revoke(struct api_req *r)
{
	static const char *const targets[] = {"jti", "client_id", "family_id",
	                                      "username"};
	static const char *const kinds[] = {"token", "client", "family", "user"};
	if (!api_query_only(r, "") ||
	    !api_body(r, "jti client_id family_id username"))
		return MHD_YES;
	size_t given = 0, which = 0;
	for (size_t i = 0; i < 4; i++)
		if (json_object_get(r->in, targets[i]) != NULL) {
			given++;
			which = i;
		}
	const char *value = NULL;
	if (given != 1 || !api_in_str(r, targets[which], &value))
		return r->responded
		           ? MHD_YES
		           : api_error(r, OAUTH_INVALID_REQUEST, "give exactly "
		                       "one of jti, client_id, family_id and "
		                       "username");
	int64_t now = clock_now();
	int n = 0, ended = 0;
	enum store_rc rc = revoke_target(r, targets[which], value, now, &n,
	                                 &ended);
	if (rc == STORE_OK && which == 0 && n == 0) {
		/* Revoked first, looked at second: 0 is unknown or already
		 * revoked, and the record says which. */
		struct store_token t = {0};
		rc = store_token_get(r->api->st, value, &t);
		store_token_clear(&t);
	}
	if (n > 0 || ended > 0) {
		/* The CLI's record of the same revocation; what was made is
		 * recorded, also when a later step failed. */
		char object[320];
		json_t *ch = json_pack("{s:{s:n, s:i}}", "revoked_tokens", "old",
		                       "new", n);
		if (ended > 0)
			json_object_set_new(ch, "sessions_ended",
			                    json_pack("{s:n, s:i}", "old", "new",
			                              ended));
		api_audit(r, "token.revoke",
		          api_object(object, sizeof(object), kinds[which], value),
		          ch);
	}
	if (rc != STORE_OK)
		return api_store_fail(r, rc, "revoking tokens", kinds[which],
		                      value);
	return api_json(r, 200, json_pack("{s:s, s:s, s:i, s:i}", "target",
	                                   targets[which], "value", value,
	                                   "revoked", n, "sessions_ended",
	                                   ended));
}
