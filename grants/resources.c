/*
 * resources.c: the resources a token request asks for (RFC 8707), and
 * what the resource registry (`latchkey resource add`) says of them.
 *
 * Whether a client may ask for a resource is its audiences list alone
 * (audience_allowed, shared/DECISIONS.md); anything else is
 * invalid_target. A registered resource then shapes the token: its aud
 * (the registered audience, else the identifier), its scopes (the
 * client's, less those the resource does not accept), and its lifetime
 * (in place of the server's default, never longer than a client's own).
 * A resource that is not registered gives an aud of its identifier, as
 * before the registry. Requests that name no resource get the client's
 * audiences as they are, without a registry lookup.
 */
#include <stdlib.h>
#include <string.h>

#include "grants_int.h"
#include "strutil.h"

/* Latchkey's own scopes (OpenID Connect Core section 5.4): they are about
 * the ID token and /userinfo, not the resource, so no resource's list
 * takes them away. */
static bool oidc_scope(const char *w, size_t len)
{
	return words_contains("openid profile email address phone", w, len);
}

/* What the registered resources of one request accept, together. */
struct shape {
	char *aud;      /* the token's aud values */
	char *accepts;  /* the union of their scope lists */
	bool any_scope; /* one of them accepts any scope */
	int64_t ttl;    /* the shortest lifetime of their own; 0: none */
};

static struct oauth_result add_target(const struct grants *g,
                                      const char *resource, struct shape *s)
{
	struct store_resource r = {0};
	enum store_rc rc = store_resource_get(g->store, resource, &r);
	const char *aud = resource;
	if (rc == STORE_NOT_FOUND)
		s->any_scope = true;
	else if (rc != STORE_OK)
		return oauth_from_store(rc, "resource lookup", OAUTH_RESULT_OK);
	else {
		if (r.audience != NULL)
			aud = r.audience;
		if (r.scopes == NULL)
			s->any_scope = true;
		else
			words_append(&s->accepts, r.scopes, strlen(r.scopes));
		if (r.access_token_ttl > 0 &&
		    (s->ttl == 0 || r.access_token_ttl < s->ttl))
			s->ttl = r.access_token_ttl;
	}
	if (!words_contains(s->aud, aud, strlen(aud)))
		words_append(&s->aud, aud, strlen(aud));
	store_resource_clear(&r);
	return OAUTH_RESULT_OK;
}

/* The client's scopes that some target accepts, and Latchkey's own;
 * NULL when the request asked for one of the others (which would else
 * be refused as not the client's). */
static char *accepted_scopes(const char *scopes, const char *accepts,
                             const char *scope_asked)
{
	char *out = xstrdup("");
	size_t len;
	for (const char *w = words_next(scopes, &len); w != NULL;
	     w = words_next(w + len, &len))
		if (oidc_scope(w, len) || words_contains(accepts, w, len))
			words_append(&out, w, len);
		else if (words_contains(scope_asked, w, len)) {
			free(out);
			return NULL;
		}
	return out;
}

struct oauth_result resources_narrow(const struct grants *g,
                                     const char *const *asked, size_t n,
                                     const char *scope_asked,
                                     struct store_client *cl)
{
	struct shape s = {0};
	struct oauth_result r = OAUTH_RESULT_OK;
	bool any = false;
	for (size_t i = 0; i < n && r.err == OAUTH_OK; i++) {
		if (asked[i] == NULL)
			continue;
		any = true;
		r = audience_allowed(g, cl, asked[i])
		        ? add_target(g, asked[i], &s)
		        : OAUTH_FAIL(OAUTH_INVALID_TARGET, NULL);
	}
	char *scopes = NULL;
	if (r.err == OAUTH_OK && any && !s.any_scope &&
	    (scopes = accepted_scopes(cl->scopes, s.accepts, scope_asked)) ==
	        NULL)
		r = OAUTH_FAIL(OAUTH_INVALID_SCOPE, "a requested scope is not one "
		               "the resource accepts");
	if (r.err == OAUTH_OK && any) {
		free(cl->audiences);
		cl->audiences = s.aud;
		s.aud = NULL;
		if (scopes != NULL) {
			free(cl->scopes);
			cl->scopes = scopes;
		}
		if (s.ttl > 0 && (cl->access_token_ttl == 0 ||
		                  s.ttl < cl->access_token_ttl))
			cl->access_token_ttl = s.ttl;
	}
	free(s.aud);
	free(s.accepts);
	return r;
}
