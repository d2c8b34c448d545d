/*
 * user_json.c: a user as `latchkey user show --json` and the admin API
 * show it (store.h, store_user_json): never its password hash.
 */
#include <jansson.h>

#include "store.h"

json_t *store_user_json(const struct store_user *u)
{
	json_t *claims = claims_load(u->claims);
	return json_pack("{s:o, s:o, s:o, s:I, s:I}",
	                 "username", store_json_str(u->username),
	                 "user_id", store_json_str(u->user_id),
	                 "claims", claims != NULL ? claims : json_null(),
	                 "created_at", (json_int_t)u->created_at,
	                 "updated_at", (json_int_t)u->updated_at);
}
