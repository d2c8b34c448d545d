/*
 * api_clients.c: /admin/clients: list, add, show, update, remove, rotate
 * a secret, disable and enable; the same client description as the CLI
 * (`latchkey client show --json`) and the fixtures file.
 *
 * A body's members are the fixtures file's keys (client_field_defs, the
 * client spec's, whose rules and defaults the CLI applies too), plus
 * client_id and client_secret when adding; "grant_types", the name the
 * description uses, is taken for "grants". null asks for the server's
 * setting where a field has one (lifetimes, on_refresh, auto_approve_as,
 * issue_refresh_token). Secrets follow the CLI's rules: a generated one
 * is returned once and stored as a fast salted hash, a chosen one needs
 * 16 characters and is stored with Argon2id.
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

#define GENERATED_ID_BYTES 16
#define GRACE_MAX (90 * 86400) /* as the CLI's --grace */

/* The client's spec field a member names; CLIENT_F__MAX for none. */
static enum client_field field_of(const char *key)
{
	if (strcmp(key, "grant_types") == 0)
		return CLIENT_F_GRANTS;
	for (int f = 0; f < CLIENT_F__MAX; f++)
		if (strcmp(client_field_defs[f].key, key) == 0)
			return (enum client_field)f;
	return CLIENT_F__MAX;
}

/* The members a body may have: adding, also the id, secret and public. */
static void members(char *buf, size_t len, bool adding)
{
	snprintf(buf, len, "%s", adding ? "client_id client_secret" : "");
	for (int f = 0; f < CLIENT_F__MAX; f++)
		if (adding || f != CLIENT_F_PUBLIC) {
			size_t n = strlen(buf);
			snprintf(buf + n, len - n, "%s%s", n ? " " : "",
			         client_field_defs[f].key);
		}
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, " grant_types");
}

static bool refuse(struct api_req *r, const char *key, const char *want)
{
	api_error(r, OAUTH_INVALID_REQUEST, "member '%s' must be %s", key, want);
	return false;
}

/* Reads v into field f of c, checked by the spec's rule. false: answered
 * 400 naming the member. */
static bool read_field(struct api_req *r, struct store_client *c,
                       enum client_field f, const char *key, json_t *v)
{
	const struct client_field_def *d = &client_field_defs[f];
	struct client_value cv = {.n = 1};
	const char *one = NULL;
	const char **words = NULL;
	char *claims = NULL, *bad = NULL;
	cv.words = &one;
	switch (d->type) {
	case CLIENT_V_TEXT:
	case CLIENT_V_POLICY:
	case CLIENT_V_APPROVER:
		/* null: the server's setting (for the auth method, a
		 * secret by either method) */
		if (json_is_null(v) && (d->type != CLIENT_V_TEXT ||
		                        f == CLIENT_F_AUTH_METHOD ||
		                        f == CLIENT_F_JWKS_URI)) {
			cv.server_setting = true;
			break;
		}
		if (!json_is_string(v))
			return refuse(r, key, d->type == CLIENT_V_TEXT
			                          ? "a string"
			                          : "a string, or null for the "
			                            "server's setting");
		one = json_string_value(v);
		break;
	case CLIENT_V_WORDS: {
		size_t i;
		json_t *w;
		if (!json_is_array(v))
			return refuse(r, key, "an array of strings");
		words = xcalloc(json_array_size(v) + 1, sizeof(*words));
		json_array_foreach(v, i, w) {
			if (!json_is_string(w)) {
				free(words);
				return refuse(r, key, "an array of strings");
			}
			words[i] = json_string_value(w);
		}
		cv.words = words;
		cv.n = json_array_size(v);
		break;
	}
	case CLIENT_V_TTL:
		if (json_is_null(v)) {
			cv.server_setting = true;
			break;
		}
		if (!json_is_integer(v))
			return refuse(r, key, "a number of seconds, or null for "
			              "the server's setting");
		cv.seconds = json_integer_value(v);
		break;
	case CLIENT_V_BOOL:
		if (!json_is_boolean(v))
			return refuse(r, key, "true or false");
		cv.state = json_is_true(v) ? STORE_ON : STORE_OFF;
		break;
	case CLIENT_V_TRISTATE:
		if (!json_is_boolean(v) && !json_is_null(v))
			return refuse(r, key, "true, false, or null for the "
			              "server's setting");
		cv.state = json_is_null(v) ? STORE_DEFAULT
		           : json_is_true(v) ? STORE_ON : STORE_OFF;
		break;
	case CLIENT_V_CLAIMS: {
		const char *badname = NULL;
		const char *why = json_is_object(v) ? claims_check(v, &badname)
		                                    : "must be an object";
		if (why != NULL) {
			api_error(r, OAUTH_INVALID_REQUEST, "member '%s'%s%s%s: "
			          "%s", key, badname ? ", claim '" : "",
			          badname ? badname : "", badname ? "'" : "", why);
			return false;
		}
		claims = claims_dump(v);
		cv.words = (const char *const *)&claims;
		break;
	}
	case CLIENT_V_JWKS:
		if (json_is_null(v)) {
			cv.server_setting = true;
			break;
		}
		if (!json_is_object(v))
			return refuse(r, key, "a JWKS object, or null for none");
		claims = json_dumps(v, JSON_COMPACT);
		cv.words = (const char *const *)&claims;
		break;
	}
	/* 'default' is the CLI's word for the server's setting, not a user. */
	bool ok = !(f == CLIENT_F_AUTO_APPROVE && one != NULL &&
	            strcmp(one, "default") == 0) &&
	          client_spec_set(c, f, &cv, &bad);
	if (!ok)
		api_error(r, OAUTH_INVALID_REQUEST, "member '%s': invalid %s%s%s%s: "
		          "%s", key, d->what ? d->what : "value",
		          bad || one ? " '" : "", bad ? bad : one ? one : "",
		          bad || one ? "'" : "", d->rule ? d->rule : "");
	free(bad);
	free(words);
	free(claims);
	return ok;
}

/* Every spec member of r->in into c, then the spec's defaults and the
 * rules that span fields. false: answered 400. */
static bool read_spec(struct api_req *r, struct store_client *c)
{
	const char *k;
	json_t *v;
	if (json_object_get(r->in, "grants") != NULL &&
	    json_object_get(r->in, "grant_types") != NULL) {
		api_error(r, OAUTH_INVALID_REQUEST, "give grants or grant_types "
		          "(the same list), not both");
		return false;
	}
	json_object_foreach(r->in, k, v) {
		enum client_field f = field_of(k);
		if (f != CLIENT_F__MAX && !read_field(r, c, f, k, v))
			return false;
	}
	enum client_field where;
	const char *why = client_spec_finish(c, &where);
	if (why != NULL) {
		api_error(r, OAUTH_INVALID_REQUEST, "member '%s': %s",
		          client_field_defs[where].key, why);
		return false;
	}
	return true;
}

/* Records the change of client id: before (taken; NULL: added), after
 * (NULL: removed), extra changes to name (taken; NULL: none). */
static void audit_client(struct api_req *r, const char *action,
                         const char *id, json_t *before,
                         const struct store_client *after, json_t *extra)
{
	api_audit_change(r, action, "client", id, before,
	                 after != NULL ? client_spec_json(after, false, NULL)
	                               : NULL,
	                 extra);
}

/* The client named by the path; false having answered 404 or 503. */
static bool get_client(struct api_req *r, struct store_client *c)
{
	enum store_rc rc = store_client_get(r->api->st, r->args[0], c);
	if (rc == STORE_OK)
		return true;
	api_store_fail(r, rc, "reading the client", "client", r->args[0]);
	return false;
}

/* ---- the handlers ------------------------------------------------------- */

static int list_one(const struct store_client *c, void *arg)
{
	json_array_append_new(arg, client_spec_json(c, false, NULL));
	return 0;
}

enum MHD_Result api_clients_list(struct api_req *r)
{
	struct store_page p;
	int64_t matched;
	if (!api_query_only(r, "limit since") || !api_page(r, &p, &matched))
		return MHD_YES;
	json_t *rows = json_array();
	enum store_rc rc = store_client_page(r->api->st, &p, list_one, rows);
	return api_listing(r, rc, "clients", rows, matched, "listing clients");
}

/* A chosen secret: the CLI's rules without --allow-weak-secret. */
static bool secret_ok(struct api_req *r, const char *given)
{
	if (!valid_secret(given))
		return refuse(r, "client_secret", VALID_SECRET_RULE);
	if (!valid_secret_chosen(given))
		return refuse(r, "client_secret", VALID_SECRET_CHOSEN_RULE
		              "; leave it out for a generated one");
	return true;
}

enum MHD_Result api_clients_add(struct api_req *r)
{
	char allowed[1024];
	const char *id = NULL, *given = NULL;
	bool is_public = false;
	members(allowed, sizeof(allowed), true);
	if (!api_query_only(r, "") || !api_body(r, allowed) ||
	    !api_in_str(r, "client_id", &id) ||
	    !api_in_str(r, "client_secret", &given) ||
	    !api_in_bool(r, "public", &is_public))
		return MHD_YES;
	const char *rule = id != NULL ? client_spec_id_rule(id) : NULL;
	if (rule != NULL)
		return api_error(r, OAUTH_INVALID_REQUEST, "member 'client_id': "
		                 "%s", rule);
	if (is_public && given != NULL)
		return api_error(r, OAUTH_INVALID_REQUEST, "a public client has "
		                 "no secret");
	if (given != NULL && !secret_ok(r, given))
		return MHD_YES;

	struct store_client c = {0};
	char *secret = NULL;
	enum MHD_Result res = MHD_YES;
	c.client_id = id != NULL ? xstrdup(id)
	                         : crypto_random_id(GENERATED_ID_BYTES);
	if (c.client_id == NULL || !read_spec(r, &c))
		goto out;
	if (client_spec_secretless(&c) && given != NULL) {
		res = api_error(r, OAUTH_INVALID_REQUEST, "a client of %s has "
		                "no secret", c.auth_method);
		goto out;
	}
	if (!c.is_public && !client_spec_secretless(&c)) {
		secret = given != NULL ? xstrdup(given) : secret_generate();
		c.secret_hash = secret == NULL ? NULL
		                : given != NULL ? secret_hash_slow(secret)
		                                : secret_hash_fast(secret);
		if (c.secret_hash == NULL) {
			res = api_error(r, OAUTH_SERVER_ERROR, "cannot create the "
			                "client secret");
			goto out;
		}
	}
	c.created_at = c.updated_at = clock_now();
	enum store_rc rc = store_client_add(r->api->st, &c);
	if (rc != STORE_OK) {
		res = api_store_fail(r, rc, "adding the client", "client",
		                     c.client_id);
		goto out;
	}
	audit_client(r, "client.add", c.client_id, NULL, &c, NULL);
	/* The secret is shown once, when it was generated here. */
	res = api_json(r, 201, client_spec_json(&c, true,
	                                        given == NULL ? secret : NULL));
out:
	if (!r->responded)
		res = api_error(r, OAUTH_SERVER_ERROR, NULL);
	crypto_free_str(secret);
	store_client_clear(&c);
	return res;
}

enum MHD_Result api_client_get(struct api_req *r)
{
	struct store_client c = {0};
	if (!api_query_only(r, "") || !get_client(r, &c))
		return MHD_YES;
	enum MHD_Result res = api_json(r, 200, client_spec_json(&c, false, NULL));
	store_client_clear(&c);
	return res;
}

enum MHD_Result api_client_update(struct api_req *r)
{
	char allowed[1024];
	struct store_client c = {0};
	members(allowed, sizeof(allowed), false);
	if (!api_query_only(r, "") || !api_body(r, allowed))
		return MHD_YES;
	if (json_object_size(r->in) == 0)
		return api_error(r, OAUTH_INVALID_REQUEST, "nothing to update: "
		                 "give at least one of: %s", allowed);
	if (!get_client(r, &c))
		return MHD_YES;
	json_t *before = client_spec_json(&c, false, NULL);
	enum MHD_Result res = MHD_YES;
	if (read_spec(r, &c)) {
		c.updated_at = clock_now();
		enum store_rc rc = store_client_update(r->api->st, &c);
		if (rc != STORE_OK) {
			res = api_store_fail(r, rc, "updating the client",
			                     "client", c.client_id);
		} else {
			audit_client(r, "client.update", c.client_id, before, &c,
			             NULL);
			before = NULL;
			res = api_json(r, 200, client_spec_json(&c, false, NULL));
		}
	}
	json_decref(before);
	store_client_clear(&c);
	return res;
}

enum MHD_Result api_client_remove(struct api_req *r)
{
	struct store_client c = {0};
	if (!api_query_only(r, "") || !api_body(r, "") || !get_client(r, &c))
		return MHD_YES;
	json_t *before = client_spec_json(&c, false, NULL);
	store_client_clear(&c);
	enum store_rc rc = store_client_remove(r->api->st, r->args[0]);
	if (rc != STORE_OK) {
		json_decref(before);
		return api_store_fail(r, rc, "removing the client", "client",
		                      r->args[0]);
	}
	audit_client(r, "client.remove", r->args[0], before, NULL, NULL);
	return api_json(r, 204, NULL);
}

enum MHD_Result api_client_rotate_secret(struct api_req *r)
{
	int64_t grace = 0;
	struct store_client c = {0};
	if (!api_query_only(r, "") || !api_body(r, "grace") ||
	    !api_in_int(r, "grace", &grace))
		return MHD_YES;
	if (grace < 0 || grace > GRACE_MAX)
		return api_error(r, OAUTH_INVALID_REQUEST, "member 'grace' must "
		                 "be seconds from 0 to %d (90 days)", GRACE_MAX);
	if (!get_client(r, &c))
		return MHD_YES;
	enum MHD_Result res;
	char *secret = NULL, *hash = NULL;
	if (c.is_public || client_spec_secretless(&c)) {
		res = api_error(r, OAUTH_CONFLICT, "client '%.200s' %s: it has no "
		                "secret to rotate", c.client_id,
		                c.is_public ? "is public"
		                : client_spec_uses_keys(&c)
		                    ? "authenticates with its keys"
		                    : "authenticates with a TLS client "
		                      "certificate");
		store_client_clear(&c);
		return res;
	}
	json_t *before = client_spec_json(&c, false, NULL);
	secret = secret_generate();
	hash = secret != NULL ? secret_hash_fast(secret) : NULL;
	if (hash == NULL) {
		json_decref(before);
		crypto_free_str(secret);
		store_client_clear(&c);
		return api_error(r, OAUTH_SERVER_ERROR, "cannot create the "
		                 "client secret");
	}
	/* As the CLI: the secret replaced keeps working through the grace. */
	client_spec_rotate_secret(&c, hash, clock_now(), grace);
	enum store_rc rc = store_client_update(r->api->st, &c);
	if (rc != STORE_OK) {
		json_decref(before);
		res = api_store_fail(r, rc, "storing the new secret", "client",
		                     c.client_id);
	} else {
		audit_client(r, "client.rotate_secret", c.client_id, before, &c,
		             json_pack("{s:{s:s, s:s}}", "client_secret", "old",
		                       "(replaced)", "new", "(generated)"));
		res = api_json(r, 200, json_pack(
		    "{s:o, s:s, s:o}", "client_id", store_json_str(c.client_id),
		    "client_secret", secret, "previous_secret_expires_at",
		    grace > 0 ? json_integer(c.previous_secret_expires_at)
		              : json_null()));
	}
	crypto_free_str(secret);
	store_client_clear(&c);
	return res;
}

/* disable (on) or enable (!on): a second disable keeps the first's time. */
static enum MHD_Result set_disabled(struct api_req *r, bool on)
{
	struct store_client c = {0};
	if (!api_query_only(r, "") || !api_body(r, "") || !get_client(r, &c))
		return MHD_YES;
	bool changed = (c.disabled_at != 0) != on;
	enum MHD_Result res = MHD_YES;
	if (changed) {
		json_t *before = client_spec_json(&c, false, NULL);
		c.updated_at = clock_now();
		c.disabled_at = on ? c.updated_at : 0;
		enum store_rc rc = store_client_update(r->api->st, &c);
		if (rc != STORE_OK) {
			json_decref(before);
			res = api_store_fail(r, rc, on ? "disabling the client"
			                               : "enabling the client",
			                     "client", c.client_id);
		} else {
			audit_client(r, on ? "client.disable" : "client.enable",
			             c.client_id, before, &c, NULL);
		}
	}
	if (!r->responded)
		res = api_json(r, 200, client_spec_json(&c, false, NULL));
	store_client_clear(&c);
	return res;
}

enum MHD_Result api_client_disable(struct api_req *r)
{
	return set_disabled(r, true);
}

enum MHD_Result api_client_enable(struct api_req *r)
{
	return set_disabled(r, false);
}
