/*
 * api_sessions.c: /admin/consents (what users approved at /authorize)
 * and /admin/sessions (browser sessions at /authorize, by their public
 * sid), listed and revoked as `latchkey consent|session ...` do. A
 * consent revoked is asked for again at the next /authorize; a session
 * ended signs the browser out (its tokens stay, as with the CLI).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "clock.h"

static int consent_one(const struct store_consent *c, void *arg)
{
	json_array_append_new(arg, json_pack(
	    "{s:o, s:o, s:o, s:o, s:I, s:I}",
	    "username", store_json_str(c->username),
	    "user_id", store_json_str(c->user_id),
	    "client_id", store_json_str(c->client_id),
	    "scope", store_json_str(c->scope),
	    "granted_at", (json_int_t)c->granted_at,
	    "updated_at", (json_int_t)c->updated_at));
	return 0;
}

enum MHD_Result api_consents_list(struct api_req *r)
{
	struct store_page p;
	int64_t matched;
	struct store_user u = {0};
	if (!api_query_only(r, "limit since user client") ||
	    !api_page(r, &p, &matched) ||
	    !api_user_lookup(r, api_query(r, "user"), &u))
		return MHD_YES;
	json_t *rows = json_array();
	enum store_rc rc = store_consent_page(r->api->st, u.user_id,
	                                      api_query(r, "client"), &p,
	                                      consent_one, rows);
	store_user_clear(&u);
	return api_listing(r, rc, "consents", rows, matched,
	                   "listing consents");
}

enum MHD_Result api_consent_revoke(struct api_req *r)
{
	const char *name = r->args[0], *client_id = r->args[1];
	struct store_user u = {0};
	int n = 0;
	if (!api_query_only(r, "") || !api_body(r, "") ||
	    !api_user_lookup(r, name, &u))
		return MHD_YES;
	enum store_rc rc = store_consent_revoke(r->api->st, u.user_id,
	                                        client_id, &n);
	store_user_clear(&u);
	if (rc == STORE_OK && n == 0)
		return api_error(r, OAUTH_NOT_FOUND, "user '%.100s' has no "
		                 "consent for client '%.100s'", name, client_id);
	if (rc != STORE_OK)
		return api_store_fail(r, rc, "revoking the consent", "user", name);
	char object[300];
	api_audit(r, "consent.revoke", api_object(object, sizeof(object),
	                                          "user", name),
	          json_pack("{s:{s:s, s:n}, s:{s:n, s:i}}", "consent_client",
	                    "old", client_id, "new", "revoked", "old", "new",
	                    n));
	return api_json(r, 204, NULL);
}

static int session_one(const struct store_session *se, void *arg)
{
	json_array_append_new(arg, json_pack(
	    "{s:o, s:o, s:o, s:I, s:I, s:o}",
	    "sid", store_json_str(se->sid),
	    "username", store_json_str(se->username),
	    "user_id", store_json_str(se->user_id),
	    "auth_time", (json_int_t)se->auth_time,
	    "expires_at", (json_int_t)se->expires_at,
	    "amr", store_json_words(se->amr)));
	return 0;
}

enum MHD_Result api_sessions_list(struct api_req *r)
{
	struct store_page p;
	int64_t matched;
	struct store_user u = {0};
	if (!api_query_only(r, "limit since user") ||
	    !api_page(r, &p, &matched) ||
	    !api_user_lookup(r, api_query(r, "user"), &u))
		return MHD_YES;
	json_t *rows = json_array();
	enum store_rc rc = store_session_list(r->api->st, u.user_id,
	                                      clock_now(), &p, session_one,
	                                      rows);
	store_user_clear(&u);
	return api_listing(r, rc, "sessions", rows, matched,
	                   "listing sessions");
}

enum MHD_Result api_session_end(struct api_req *r)
{
	const char *sid = r->args[0];
	int n = 0;
	if (!api_query_only(r, "") || !api_body(r, ""))
		return MHD_YES;
	enum store_rc rc = store_session_end(r->api->st, sid, &n);
	if (rc == STORE_OK && n == 0)
		rc = STORE_NOT_FOUND;
	if (rc != STORE_OK)
		return api_store_fail(r, rc, "ending the session", "session", sid);
	char object[300];
	api_audit(r, "session.revoke",
	          api_object(object, sizeof(object), "session", sid),
	          json_pack("{s:{s:n, s:i}}", "sessions_ended", "old", "new",
	                    n));
	return api_json(r, 204, NULL);
}
