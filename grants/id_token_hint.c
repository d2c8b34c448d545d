/*
 * id_token_hint.c: reads an ID token a relying party sends back as a hint
 * (/authorize's id_token_hint, /logout's): our signature, our issuer, and
 * who it names. Expiry is not checked: OpenID Connect Core 3.1.2.1 and
 * RP-Initiated Logout 1.0 section 2 let an expired ID token serve as a
 * hint, and a hint only names a user; it grants nothing.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "grants_int.h"
#include "strutil.h"

void id_token_hint_clear(struct id_token_hint *h)
{
	free(h->sub);
	free(h->client_id);
	free(h->sid);
	memset(h, 0, sizeof(*h));
}

static char *str_claim(json_t *o, const char *name)
{
	const char *v = json_string_value(json_object_get(o, name));
	return v != NULL && v[0] != '\0' ? xstrdup(v) : NULL;
}

/* azp when present (Core 2), else aud when it names exactly one client. */
static char *audience_of(json_t *body)
{
	char *azp = str_claim(body, "azp");
	if (azp != NULL)
		return azp;
	json_t *aud = json_object_get(body, "aud");
	if (json_is_array(aud) && json_array_size(aud) == 1)
		aud = json_array_get(aud, 0);
	const char *v = json_string_value(aud);
	return v != NULL && v[0] != '\0' ? xstrdup(v) : NULL;
}

int id_token_hint_read(struct grants *g, const char *hint,
                       struct id_token_hint *out)
{
	json_t *body = NULL;
	memset(out, 0, sizeof(*out));
	if (hint == NULL || jws_read(g, hint, "JWT", &body) != 0)
		return -1;
	const char *iss = json_string_value(json_object_get(body, "iss"));
	if (iss != NULL && strcmp(iss, g->issuer) == 0) {
		out->sub = str_claim(body, "sub");
		out->client_id = audience_of(body);
		out->sid = str_claim(body, "sid");
		out->exp = json_integer_value(json_object_get(body, "exp"));
		out->auth_time =
		    json_integer_value(json_object_get(body, "auth_time"));
	}
	json_decref(body);
	if (out->sub == NULL || out->client_id == NULL) {
		id_token_hint_clear(out);
		return -1;
	}
	return 0;
}
