/*
 * discovery.c: what verifiers and clients may learn about this server:
 * the published public keys (RFC 7517) and the facts behind the discovery
 * document (RFC 8414 metadata, which is also the OpenID Connect Discovery
 * 1.0 document). Rendering to JSON is the server's job.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "grants_int.h"
#include "jws.h"
#include "strutil.h"

int grants_jwks(struct grants *g, grants_jwk_cb cb, void *arg)
{
	return keyring_each_published(g->keyring, cb, arg);
}

static int collect_scopes(const struct store_client *c, void *arg)
{
	char **all = arg;
	size_t len;
	for (const char *w = words_next(c->scopes, &len); w;
	     w = words_next(w + len, &len))
		if (!words_contains(*all, w, len))
			words_append(all, w, len);
	return 0;
}

struct oauth_result grants_metadata(struct grants *g,
                                    struct grants_metadata *out)
{
	/* "none": a public client sends its client_id alone. Introspection
	 * is for confidential clients only. */
	static const char *const auth_methods[] = {
		"client_secret_basic", "client_secret_post", "private_key_jwt",
		"none", NULL};
	static const char *const introspection_auth_methods[] = {
		"client_secret_basic", "client_secret_post", "private_key_jwt",
		NULL};
	static const char *const auth_signing_algs[] = {JWS_FOREIGN_ALGS,
	                                                NULL};
	static const char *const s256[] = {"S256", NULL};
	static const char *const s256_plain[] = {"S256", "plain", NULL};
	/* Discovery 1.0 section 3: sub is the same for every client. */
	static const char *const subject_types[] = {"public", NULL};
	/* Core section 15.1 requires RS256; ES256 per client. */
	static const char *const id_token_algs[] = {"RS256", "ES256", NULL};
	/* The ID token's own claims (Core sections 2 and 3.1.3.6), then the
	 * standard claims of Core section 5.1 the scopes profile, email,
	 * address and phone release (section 5.4). */
	static const char *const claims[] = {
		"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce",
		"at_hash", "sid", "amr",
		"name", "family_name", "given_name", "middle_name", "nickname",
		"preferred_username", "profile", "picture", "website", "gender",
		"birthdate", "zoneinfo", "locale", "updated_at",
		"email", "email_verified", "address",
		"phone_number", "phone_number_verified", NULL};
	/* Core section 3.1.2.1's prompt values (and the OpenID Connect
	 * Prompt Create metadata name that lists them). */
	static const char *const prompts[] = {"none", "login", "consent",
	                                      "select_account", NULL};

	memset(out, 0, sizeof(*out));
	out->subject_types = subject_types;
	out->id_token_algs = id_token_algs;
	out->claims = claims;
	out->prompt_values = prompts;
	/* Core section 5.4: the scopes every OpenID Provider answers, before
	 * those of the registered clients. */
	out->scopes = xstrdup("openid profile email address phone");
	out->grant_types = grants_supported();
	out->auth_methods = auth_methods;
	out->introspection_auth_methods = introspection_auth_methods;
	out->auth_signing_algs = auth_signing_algs;
	out->code_challenge_methods = g->pkce_allow_plain ? s256_plain : s256;
	enum store_rc rc = store_client_list(g->store, collect_scopes,
	                                     &out->scopes);
	if (rc != STORE_OK) {
		free(out->scopes);
		out->scopes = NULL;
		return oauth_from_store(rc, "listing scopes", OAUTH_RESULT_OK);
	}
	return OAUTH_RESULT_OK;
}
