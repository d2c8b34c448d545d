/*
 * claim_spec.c: a set of claims as a person writes it: a user's claims
 * (`latchkey user add|update --claim`, the fixtures' users[].claims, the
 * test double's /_control/claims) and a client's access-token claims
 * (`--access-token-claim`, the fixtures' access_token_claims). One place
 * says what a claim may be (its name by core's rule, valid_claim_name;
 * the type of the standard claims whose type OpenID Connect Core section
 * 5.1 fixes; the size of the whole set), how KEY=VALUE reads, and how a
 * set is stored (a JSON object's compact text). Which claims a client
 * sees is grants/claims.c's rule, not this file's.
 *
 * Why storage: the CLI may use storage and core only, and the fixtures
 * and the test double reach storage too (as client_spec.c).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store.h"
#include "strutil.h"
#include "validate.h"

/* Core section 5.1: these standard claims are not strings. Every other
 * standard claim is a string, and a client library may choke on another
 * type, so those are checked too. */
static const struct {
	const char *name;
	json_type type;
	const char *rule;
} typed[] = {
	{"email_verified", JSON_TRUE, "true or false"},
	{"phone_number_verified", JSON_TRUE, "true or false"},
	{"address", JSON_OBJECT, "a JSON object (OpenID Connect Core 5.1.1)"},
	{"updated_at", JSON_INTEGER, "a whole number of seconds since the epoch"},
};

static const char *const strings[] = {
	"name", "family_name", "given_name", "middle_name", "nickname",
	"preferred_username", "profile", "picture", "website", "email",
	"gender", "birthdate", "zoneinfo", "locale", "phone_number", NULL,
};

static bool is_string_claim(const char *name)
{
	for (size_t i = 0; strings[i] != NULL; i++)
		if (strcmp(name, strings[i]) == 0)
			return true;
	return false;
}

static bool type_is(const json_t *v, json_type t)
{
	if (t == JSON_TRUE)
		return json_is_boolean(v);
	return json_typeof(v) == t;
}

const char *claim_check(const char *name, const json_t *value)
{
	if (!valid_claim_name(name))
		return VALID_CLAIM_NAME_RULE;
	for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++)
		if (strcmp(name, typed[i].name) == 0)
			return type_is(value, typed[i].type) ? NULL : typed[i].rule;
	if (is_string_claim(name) && !json_is_string(value))
		return "a string (a standard claim of OpenID Connect Core 5.1)";
	return NULL;
}

const char *claims_check(const json_t *obj, const char **bad)
{
	const char *name;
	json_t *v;
	*bad = NULL;
	if (!json_is_object(obj))
		return "a JSON object of claims";
	json_object_foreach((json_t *)obj, name, v) {
		const char *why = claim_check(name, v);
		if (why != NULL) {
			*bad = name;
			return why;
		}
	}
	char *text = json_dumps(obj, JSON_COMPACT);
	size_t len = text != NULL ? strlen(text) : CLAIMS_TEXT_MAX + 1;
	free(text);
	return len <= CLAIMS_TEXT_MAX ? NULL : CLAIMS_TEXT_RULE;
}

const char *claim_parse(const char *arg, char **name, json_t **value)
{
	const char *eq = strchr(arg, '=');
	*name = NULL;
	*value = NULL;
	if (eq == NULL || eq == arg)
		return "KEY=VALUE, with a claim name before the '='";
	*name = strndup(arg, (size_t)(eq - arg));
	if (*name == NULL)
		abort();
	/* JSON when it reads as JSON (true, 42, ["ops"], {"a":1}, "x"),
	 * else the text itself: email=ada@example.com needs no quotes. */
	*value = json_loads(eq + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	                    NULL);
	if (*value == NULL)
		*value = json_string(eq + 1);
	if (*value == NULL) {
		free(*name);
		*name = NULL;
		return "the value is not valid UTF-8";
	}
	const char *why = claim_check(*name, *value);
	/* 5551234 read as a number for a claim that is a string: say how
	 * to keep it text. */
	if (why != NULL && valid_claim_name(*name) && is_string_claim(*name))
		why = "a string (a standard claim of OpenID Connect Core 5.1); "
		      "this value reads as JSON, so quote it: "
		      "--claim 'KEY=\"VALUE\"'";
	if (why != NULL) {
		json_decref(*value);
		*value = NULL;
	}
	return why;
}

json_t *claims_load(const char *text)
{
	json_t *o = json_loads(text != NULL && *text != '\0' ? text : "{}",
	                       JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(o))
		return o;
	json_decref(o);
	return NULL;
}

char *claims_dump(const json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	if (s == NULL)
		abort();
	return s;
}
