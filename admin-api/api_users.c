/*
 * api_users.c: /admin/users: list, add, show, update (password, claims)
 * and remove, as `latchkey user ...` does them: a password is stored with
 * Argon2id and never shown; a new password ends the user's browser
 * sessions; a removal revokes the user's tokens. A body's "claims" is the
 * whole set (an empty object clears them), checked as the CLI's --claim.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "clock.h"
#include "crypto.h"
#include "secret.h"
#include "strutil.h"
#include "validate.h"

/* The claims member, as stored in *text (caller frees); absent: NULL.
 * false: answered 400. */
static bool read_claims(struct api_req *r, char **text)
{
	json_t *v = json_object_get(r->in, "claims");
	const char *bad = NULL;
	*text = NULL;
	if (v == NULL)
		return true;
	const char *why = json_is_object(v) ? claims_check(v, &bad)
	                                    : "must be an object";
	if (why != NULL) {
		api_error(r, OAUTH_INVALID_REQUEST, "member 'claims'%s%s%s: %s",
		          bad ? ", claim '" : "", bad ? bad : "", bad ? "'" : "",
		          why);
		return false;
	}
	*text = claims_dump(v);
	return true;
}

/* The password member hashed in *hash (caller frees); absent: NULL.
 * false: answered 400 or 500. */
static bool read_password(struct api_req *r, char **hash)
{
	const char *pw = NULL;
	*hash = NULL;
	if (!api_in_str(r, "password", &pw))
		return false;
	if (pw == NULL)
		return true;
	if (!valid_password_length(strlen(pw))) {
		api_error(r, OAUTH_INVALID_REQUEST, "member 'password': %s",
		          VALID_PASSWORD_RULE);
		return false;
	}
	*hash = secret_hash_slow(pw);
	if (*hash == NULL)
		api_error(r, OAUTH_SERVER_ERROR, "cannot hash the password");
	return *hash != NULL;
}

static bool get_user(struct api_req *r, struct store_user *u)
{
	enum store_rc rc = store_user_get(r->api->st, r->args[0], u);
	if (rc == STORE_OK)
		return true;
	api_store_fail(r, rc, "reading the user", "user", r->args[0]);
	return false;
}

static int list_one(const struct store_user *u, void *arg)
{
	json_array_append_new(arg, store_user_json(u));
	return 0;
}

enum MHD_Result api_users_list(struct api_req *r)
{
	struct store_page p;
	int64_t matched;
	if (!api_query_only(r, "limit since") || !api_page(r, &p, &matched))
		return MHD_YES;
	json_t *rows = json_array();
	enum store_rc rc = store_user_page(r->api->st, &p, list_one, rows);
	return api_listing(r, rc, "users", rows, matched, "listing users");
}

enum MHD_Result api_users_add(struct api_req *r)
{
	const char *name = NULL;
	struct store_user u = {0};
	if (!api_query_only(r, "") ||
	    !api_body(r, "username password claims") ||
	    !api_in_str(r, "username", &name))
		return MHD_YES;
	if (name == NULL || !valid_username(name))
		return api_error(r, OAUTH_INVALID_REQUEST, "member 'username': "
		                 "%s", VALID_USERNAME_RULE);
	if (json_object_get(r->in, "password") == NULL)
		return api_error(r, OAUTH_INVALID_REQUEST, "member 'password' is "
		                 "required");
	enum MHD_Result res = MHD_YES;
	if (!read_claims(r, &u.claims) || !read_password(r, &u.password_hash))
		goto out;
	u.user_id = crypto_random_user_id();
	if (u.user_id == NULL) {
		res = api_error(r, OAUTH_SERVER_ERROR, "cannot generate a user id");
		goto out;
	}
	u.username = xstrdup(name);
	u.created_at = u.updated_at = clock_now();
	enum store_rc rc = store_user_add(r->api->st, &u);
	if (rc != STORE_OK) {
		res = api_store_fail(r, rc, "adding the user", "user", name);
		goto out;
	}
	api_audit_change(r, "user.add", "user", name, NULL, store_user_json(&u),
	                 json_pack("{s:{s:n, s:s}}", "password", "old", "new",
	                           "(set)"));
	res = api_json(r, 201, store_user_json(&u));
out:
	store_user_clear(&u);
	return res;
}

enum MHD_Result api_user_get(struct api_req *r)
{
	struct store_user u = {0};
	if (!api_query_only(r, "") || !get_user(r, &u))
		return MHD_YES;
	enum MHD_Result res = api_json(r, 200, store_user_json(&u));
	store_user_clear(&u);
	return res;
}

enum MHD_Result api_user_update(struct api_req *r)
{
	struct store_user u = {0};
	char *claims = NULL, *hash = NULL;
	const char *name = r->args[0];
	if (!api_query_only(r, "") || !api_body(r, "password claims"))
		return MHD_YES;
	if (json_object_size(r->in) == 0)
		return api_error(r, OAUTH_INVALID_REQUEST, "nothing to update: "
		                 "give password, claims or both");
	if (!get_user(r, &u))
		return MHD_YES;
	json_t *before = store_user_json(&u), *extra = json_object();
	int64_t now = clock_now();
	int ended = 0;
	bool changed = false;
	enum store_rc rc = STORE_OK;
	if (!read_claims(r, &claims) || !read_password(r, &hash))
		goto out;
	if (claims != NULL) {
		rc = store_user_set_claims(r->api->st, name, claims, now);
		changed = rc == STORE_OK;
	}
	if (rc == STORE_OK && hash != NULL) {
		rc = store_user_set_password(r->api->st, name, hash, now);
		if (rc == STORE_OK) {
			changed = true;
			json_object_set_new(extra, "password", json_pack(
			    "{s:s, s:s}", "old", "(replaced)", "new", "(set)"));
			/* As `user passwd`: whoever knew the old password
			 * must not stay signed in at /authorize. */
			rc = store_sessions_end_user(r->api->st, u.user_id,
			                             &ended);
		}
		if (rc == STORE_OK)
			json_object_set_new(extra, "sessions_ended", json_pack(
			    "{s:n, s:i}", "old", "new", ended));
	}
	/* What was made is recorded, also when a later step failed. */
	store_user_clear(&u);
	if (changed) {
		enum store_rc got = store_user_get(r->api->st, name, &u);
		api_audit_change(r, "user.update", "user", name,
		                 got == STORE_OK ? before : NULL,
		                 got == STORE_OK ? store_user_json(&u) : NULL,
		                 extra);
		if (got != STORE_OK)
			json_decref(before);
		before = extra = NULL;
		if (rc == STORE_OK)
			rc = got;
	}
	if (rc != STORE_OK) {
		api_store_fail(r, rc, "updating the user", "user", name);
		goto out;
	}
	api_json(r, 200, store_user_json(&u));
out:
	json_decref(before);
	json_decref(extra);
	free(claims);
	crypto_free_str(hash);
	store_user_clear(&u);
	return MHD_YES;
}

enum MHD_Result api_user_remove(struct api_req *r)
{
	struct store_user u = {0};
	const char *name = r->args[0];
	int n = 0;
	if (!api_query_only(r, "") || !api_body(r, "") || !get_user(r, &u))
		return MHD_YES;
	/* Its tokens, then the user, then the tokens issued in between:
	 * a failure part way leaves no live token of a user that can no
	 * longer be named (the CLI removes first; a retry here finds the
	 * user while its tokens may still be live). */
	json_t *before = store_user_json(&u);
	int again = 0;
	enum store_rc rc = store_subject_revoke(r->api->st, u.user_id,
	                                        clock_now(), &n);
	bool removed = rc == STORE_OK &&
	               (rc = store_user_remove(r->api->st, name)) == STORE_OK;
	if (removed)
		rc = store_subject_revoke(r->api->st, u.user_id, clock_now(),
		                          &again);
	store_user_clear(&u);
	/* What was made is recorded, also when a later step failed. */
	json_t *count = json_pack("{s:{s:n, s:i}}", "revoked_tokens", "old",
	                          "new", n + again);
	if (removed)
		api_audit_change(r, "user.remove", "user", name, before, NULL,
		                 count);
	else if (n > 0)
		api_audit_change(r, "token.revoke", "user", name, NULL, NULL,
		                 count);
	else
		json_decref(count);
	if (!removed)
		json_decref(before);
	if (rc != STORE_OK)
		return api_store_fail(r, rc, "removing the user and its tokens",
		                      "user", name);
	return api_json(r, 204, NULL);
}
