/*
 * discovery.c: what verifiers and clients may learn about this server:
 * the published public keys (RFC 7517) and the facts behind the RFC 8414
 * metadata document. Rendering to JSON is the server's job.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"

struct jwks_walk {
	grants_jwk_cb cb;
	void *arg;
	bool failed;
};

static int each_key(const struct store_key *k, void *arg)
{
	struct jwks_walk *w = arg;
	struct key_jwk jwk;
	enum key_alg alg;

	if (key_alg_parse(k->alg, &alg) != 0 ||
	    key_public_jwk(k->private_pem, alg, &jwk) != 0) {
		log_errx("signing key %s cannot be published", k->kid);
		return 0; /* skip it; publish the others */
	}
	int rc = w->cb(k->kid, k->alg, &jwk, w->arg);
	key_jwk_clear(&jwk);
	w->failed = rc != 0;
	return rc; /* a callback failure stops the walk: no partial key set */
}

int grants_jwks(struct grants *g, grants_jwk_cb cb, void *arg)
{
	struct jwks_walk w = {cb, arg, false};
	enum store_rc rc = store_key_list(g->store, true, clock_now(), each_key, &w);
	return rc == STORE_OK && !w.failed ? 0 : -1;
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

int grants_metadata(struct grants *g, struct grants_metadata *out)
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
	if (store_client_list(g->store, collect_scopes, &out->scopes) != STORE_OK) {
		free(out->scopes);
		out->scopes = NULL;
		return -1;
	}
	if (out->scopes == NULL)
		out->scopes = xstrdup("");
	return 0;
}
