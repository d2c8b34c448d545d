/*
 * id_token.c: OpenID Connect ID tokens (Core sections 2 and 3.1.3.6):
 * which claims one carries and how it is signed. token_issue calls it
 * between minting the access token and recording the grant, so an ID
 * token that cannot be made fails the request before a code is spent.
 *
 * aud is always exactly the client id, so azp is never needed (Core 2
 * makes it matter only when aud holds another party) and is not sent.
 * The ID token is not recorded: it grants nothing, and its lifetime
 * (id_token_ttl) only bounds how long a relying party may accept it.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"

bool scope_has_openid(const char *scope)
{
	return scope != NULL && words_contains(scope, "openid", 6);
}

char *id_token_at_hash(const char *access_token)
{
	unsigned char d[SHA256_LEN];
	/* Core 3.1.3.6: the hash of the alg's JWS hash function (SHA-256 for
	 * both RS256 and ES256) over the token's ASCII, left half, base64url
	 * without padding. */
	sha256(access_token, strlen(access_token), d);
	return b64_encode(d, SHA256_LEN / 2, true);
}

/* amr is stored space-separated; the claim is a JSON array (Core 2). */
static json_t *amr_array(const char *amr)
{
	json_t *a = json_array();
	size_t len;
	for (const char *w = words_next(amr, &len); w;
	     w = words_next(w + len, &len))
		json_array_append_new(a, json_stringn(w, len));
	return a;
}

enum key_alg id_token_alg(const struct store_client *cl)
{
	enum key_alg alg = KEY_ALG_RS256; /* Core 3.1.3.7: the default */
	if (cl->id_token_alg != NULL && cl->id_token_alg[0] != '\0')
		key_alg_parse(cl->id_token_alg, &alg);
	return alg;
}

json_t *id_token_claims(const struct grants *g, const struct store_client *cl,
                        const struct id_token_in *in,
                        const char *access_token, int64_t now)
{
	/* The user's released claims first: the ones the server sets below
	 * win (claims_release never gives them, and this makes sure). */
	json_t *c = claims_release(cl, in->user, in->scope, CLAIMS_ID_TOKEN);
	if (c == NULL) {
		log_errx("user %s: stored claims are not a JSON object",
		         in->user->user_id);
		c = json_object();
	}
	json_object_set_new(c, "iss", json_string(g->issuer));
	json_object_set_new(c, "sub", json_string(in->user->user_id));
	json_object_set_new(c, "aud", json_string(cl->client_id));
	json_object_set_new(c, "exp", json_integer(now + g->id_token_ttl));
	json_object_set_new(c, "iat", json_integer(now));
	if (in->auth_time > 0)
		json_object_set_new(c, "auth_time", json_integer(in->auth_time));
	if (in->nonce != NULL)
		json_object_set_new(c, "nonce", json_string(in->nonce));
	if (access_token != NULL) {
		char *h = id_token_at_hash(access_token);
		json_object_set_new(c, "at_hash", json_string(h));
		free(h);
	}
	if (in->sid != NULL && in->sid[0] != '\0')
		json_object_set_new(c, "sid", json_string(in->sid));
	if (in->amr != NULL && in->amr[0] != '\0')
		json_object_set_new(c, "amr", amr_array(in->amr));
	return c;
}

int id_token_mint(struct grants *g, const struct store_client *cl,
                  const struct id_token_in *in, const char *access_token,
                  int64_t now, char **out)
{
	char *kid = NULL;
	*out = NULL;
	json_t *c = id_token_claims(g, cl, in, access_token, now);
	if (signer_sign(g->signer, id_token_alg(cl), "JWT", c, out, &kid) != 0)
		return -1;
	free(kid);
	return 0;
}
