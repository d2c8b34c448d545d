/*
 * token_json.c: a token record as JSON, for `latchkey token list --json`
 * and the test double's GET /_control/tokens. One function per kind of
 * record builds the members both answers share; the view adds what only
 * one of them has. Both are public interfaces, so each keeps its members:
 *
 *   access, both:     jti client_id sub scope iat exp (family_id)
 *   access, RECORD:   kid revoked_at status; family_id null when unset
 *   access, CONTROL:  revoked (a boolean); family_id only when set
 *   refresh, both:    family_id client_id sub scope iat exp status
 *                     (username)
 *   refresh, RECORD:  access_jti retired_at revoked_at; username null
 *   refresh, CONTROL: username only when set
 *
 * A record's status is store_token_status at the caller's now. Token
 * hashes never leave the store through here. In storage for the reason
 * client_spec.c gives: both front-ends reach it.
 */
#include <jansson.h>

#include "store.h"

/* An optional member: null in the record view, absent in the control's. */
static void set_opt_str(json_t *o, const char *key, const char *v,
                        enum token_json_view view)
{
	if (v != NULL || view == TOKEN_JSON_RECORD)
		json_object_set_new(o, key, store_json_str(v));
}

/* What both kinds of record have: an id, the members every record's JSON
 * has, and one member that is optional (left out of the control's view
 * when unset). */
struct record {
	const char *id_key, *id; /* "jti" */
	const char *client_id, *subject, *scope;
	int64_t iat, exp, revoked_at, retired_at;
	const char *opt_key, *opt; /* "family_id" */
	bool control_status; /* the control's view has "status" too */
};

static json_t *record_json(const struct record *r, int64_t now,
                           enum token_json_view view)
{
	json_t *o = json_object();
	json_object_set_new(o, r->id_key, store_json_str(r->id));
	json_object_set_new(o, "client_id", store_json_str(r->client_id));
	json_object_set_new(o, "sub", store_json_str(r->subject));
	json_object_set_new(o, "scope", store_json_str(r->scope));
	json_object_set_new(o, "iat", json_integer(r->iat));
	json_object_set_new(o, "exp", json_integer(r->exp));
	set_opt_str(o, r->opt_key, r->opt, view);
	if (view == TOKEN_JSON_RECORD || r->control_status)
		json_object_set_new(o, "status", json_string(store_token_status(
		                                     r->revoked_at, r->retired_at,
		                                     r->exp, now)));
	return o;
}

json_t *token_json_access(const struct store_token *t, int64_t now,
                          enum token_json_view view)
{
	const struct record rec = {
		"jti", t->jti, t->client_id, t->subject, t->scope,
		t->issued_at, t->expires_at, t->revoked_at, 0,
		"family_id", t->family_id, false,
	};
	json_t *o = record_json(&rec, now, view);
	if (view == TOKEN_JSON_CONTROL) {
		json_object_set_new(o, "revoked", json_boolean(t->revoked_at));
		return o;
	}
	json_object_set_new(o, "kid", store_json_str(t->kid));
	json_object_set_new(o, "revoked_at", store_json_opt_int(t->revoked_at));
	return o;
}

json_t *token_json_refresh(const struct store_refresh *r, int64_t now,
                           enum token_json_view view)
{
	const struct record rec = {
		"family_id", r->family_id, r->client_id, r->subject, r->scope,
		r->issued_at, r->expires_at, r->revoked_at, r->retired_at,
		"username", r->username, true,
	};
	json_t *o = record_json(&rec, now, view);
	if (view == TOKEN_JSON_CONTROL)
		return o;
	json_object_set_new(o, "access_jti", store_json_str(r->access_jti));
	json_object_set_new(o, "retired_at", store_json_opt_int(r->retired_at));
	json_object_set_new(o, "revoked_at", store_json_opt_int(r->revoked_at));
	return o;
}
