/*
 * discovery.c: what verifiers and clients may learn about this server:
 * the published public keys (RFC 7517) and the facts behind the RFC 8414
 * metadata document. Rendering to JSON is the server's job.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "grants_int.h"
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
		"client_secret_basic", "client_secret_post", "none", NULL};
	static const char *const introspection_auth_methods[] = {
		"client_secret_basic", "client_secret_post", NULL};
	static const char *const s256[] = {"S256", NULL};
	static const char *const s256_plain[] = {"S256", "plain", NULL};

	memset(out, 0, sizeof(*out));
	out->grant_types = grants_supported();
	out->auth_methods = auth_methods;
	out->introspection_auth_methods = introspection_auth_methods;
	out->code_challenge_methods = g->pkce_allow_plain ? s256_plain : s256;
	enum store_rc rc = store_client_list(g->store, collect_scopes,
	                                     &out->scopes);
	if (rc != STORE_OK) {
		free(out->scopes);
		out->scopes = NULL;
		return oauth_from_store(rc, "listing scopes", OAUTH_RESULT_OK);
	}
	if (out->scopes == NULL)
		out->scopes = xstrdup("");
	return OAUTH_RESULT_OK;
}
