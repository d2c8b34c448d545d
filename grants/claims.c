/*
 * claims.c: the one rule for which of a user's claims a client sees, in
 * an ID token, at userinfo or in an access token (docs/openid-connect.md,
 * "Claims"). Standard claims go by scope, as OpenID Connect Core section
 * 5.4 says; a custom claim (roles, groups, tenant) goes only to clients
 * that name it in their release_claims, so that adding a claim to a user
 * never leaks it to every client that asks for profile.
 *
 * The rule in one sentence: a client gets a user's claim when it names
 * the claim in release_claims (in ID tokens, at userinfo and in access
 * tokens, whatever the scope), or when the claim is a standard one whose
 * scope was granted (in ID tokens and at userinfo only). Naming a
 * standard claim in release_claims is how an access token gets email.
 */
#include <jansson.h>
#include <string.h>

#include "grants_int.h"
#include "strutil.h"
#include "validate.h"

struct std_scope {
	const char *scope;
	const char *const *claims;
};

static const char *const profile_claims[] = {
	"name", "family_name", "given_name", "middle_name", "nickname",
	"preferred_username", "profile", "picture", "website", "gender",
	"birthdate", "zoneinfo", "locale", "updated_at", NULL,
};
static const char *const email_claims[] = {"email", "email_verified", NULL};
static const char *const address_claims[] = {"address", NULL};
static const char *const phone_claims[] = {
	"phone_number", "phone_number_verified", NULL,
};
static const struct std_scope std_scopes[] = {
	{"profile", profile_claims},
	{"email", email_claims},
	{"address", address_claims},
	{"phone", phone_claims},
};
#define NSTD (sizeof(std_scopes) / sizeof(std_scopes[0]))

static bool in_list(const char *const *list, const char *name)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

static bool has_word(const char *list, const char *w)
{
	return list != NULL && words_contains(list, w, strlen(w));
}

/* Whether name is a standard claim, released (if at all) by its scope. */
static bool is_standard(const char *name)
{
	for (size_t i = 0; i < NSTD; i++)
		if (in_list(std_scopes[i].claims, name))
			return true;
	return false;
}

static bool std_released(const char *name, const char *scope)
{
	for (size_t i = 0; i < NSTD; i++)
		if (has_word(scope, std_scopes[i].scope) &&
		    in_list(std_scopes[i].claims, name))
			return true;
	return false;
}

json_t *claims_release(const struct store_client *cl,
                       const struct store_user *u, const char *scope,
                       enum claims_dest dest)
{
	const char *text = u->claims && u->claims[0] ? u->claims : "{}";
	json_t *all = json_loads(text, 0, NULL);
	if (!json_is_object(all)) {
		json_decref(all);
		return NULL;
	}
	json_t *out = json_object();
	const char *name;
	json_t *v;
	json_object_foreach(all, name, v) {
		if (valid_claim_reserved(name))
			continue;
		bool give = has_word(cl->release_claims, name) ||
		            (dest != CLAIMS_ACCESS_TOKEN && is_standard(name) &&
		             std_released(name, scope));
		if (give)
			json_object_set(out, name, v);
	}
	if (dest != CLAIMS_ACCESS_TOKEN && has_word(scope, "profile") &&
	    json_object_get(out, "preferred_username") == NULL &&
	    u->username != NULL)
		json_object_set_new(out, "preferred_username",
		                    json_string(u->username));
	json_decref(all);
	return out;
}
