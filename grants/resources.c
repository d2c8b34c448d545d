/*
 * resources.c: the resources a token is for (RFC 8707), and what the
 * resource registry (`latchkey resource add`) says of them.
 *
 * Whether a client may ask for a resource is its audiences list alone
 * (audience_allowed, shared/DECISIONS.md); anything else is
 * invalid_target. A token is for the resources its request names, else
 * for the client's own audiences; each of them that is registered shapes
 * it: its aud (the registered audience, else the identifier), its scopes
 * (the client's, less those any of them does not accept: the token is
 * good at every one of its audiences, so it must suit each) and its
 * lifetime (the shortest of theirs, in place of the server's default,
 * never longer than a client's own or than the default when one of them
 * has no lifetime of its own). Neither the audience setting nor the
 * issuer, a client's default aud, is looked up: a client without
 * audiences of its own costs no lookup.
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

/* What the targets of one token want of it, together. */
struct shape {
	char *aud;     /* the token's aud values */
	char *scopes;  /* the client's scopes every target accepts */
	int64_t ttl;   /* the shortest lifetime of their own; 0: none */
	bool default_ttl; /* a target without a lifetime of its own */
};

/* s->scopes less the scopes accepts lacks (Latchkey's own stay). */
static void keep_accepted(struct shape *s, const char *accepts)
{
	char *out = xstrdup("");
	size_t len;
	for (const char *w = words_next(s->scopes, &len); w != NULL;
	     w = words_next(w + len, &len))
		if (oidc_scope(w, len) || words_contains(accepts, w, len))
			words_append(&out, w, len);
	free(s->scopes);
	s->scopes = out;
}

static struct oauth_result add_target(const struct grants *g,
                                      const char *resource, struct shape *s)
{
	struct store_resource r = {0};
	enum store_rc rc = store_resource_get(g->store, resource, &r);
	const char *aud = resource;
	if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		return oauth_from_store(rc, "resource lookup", OAUTH_RESULT_OK);
	if (rc == STORE_OK && r.audience != NULL)
		aud = r.audience;
	if (rc == STORE_OK && r.scopes != NULL)
		keep_accepted(s, r.scopes);
	if (rc == STORE_OK && r.access_token_ttl > 0) {
		if (s->ttl == 0 || r.access_token_ttl < s->ttl)
			s->ttl = r.access_token_ttl;
	} else
		s->default_ttl = true;
	if (!words_contains(s->aud, aud, strlen(aud)))
		words_append(&s->aud, aud, strlen(aud));
	store_resource_clear(&r);
	return OAUTH_RESULT_OK;
}

/* Whether scope_asked names a scope the client has but s cut away. */
static bool asks_cut(const char *scope_asked, const char *client_scopes,
                     const char *kept)
{
	size_t len;
	for (const char *w = words_next(scope_asked, &len); w != NULL;
	     w = words_next(w + len, &len))
		if (words_contains(client_scopes, w, len) &&
		    !words_contains(kept, w, len))
			return true;
	return false;
}

/* Every target's shape folded into *s (s->scopes starts as the
 * client's). */
static struct oauth_result add_targets(const struct grants *g,
                                       const struct store_client *cl,
                                       const char *const *asked, size_t n,
                                       bool *any, struct shape *s)
{
	struct oauth_result r = OAUTH_RESULT_OK;
	*any = false;
	for (size_t i = 0; i < n && r.err == OAUTH_OK; i++) {
		if (asked[i] == NULL)
			continue;
		*any = true;
		r = audience_allowed(g, cl, asked[i])
		        ? add_target(g, asked[i], s)
		        : OAUTH_FAIL(OAUTH_INVALID_TARGET, NULL);
	}
	if (*any || cl->audiences == NULL)
		return r;
	/* None asked: the client's own audiences, each a target. */
	size_t len;
	for (const char *w = words_next(cl->audiences, &len);
	     w != NULL && r.err == OAUTH_OK; w = words_next(w + len, &len)) {
		char *one = strndup(w, len);
		if (one == NULL)
			abort();
		r = add_target(g, one, s);
		free(one);
		*any = true;
	}
	return r;
}

struct oauth_result resources_narrow(const struct grants *g,
                                     const char *const *asked, size_t n,
                                     const char *scope_asked,
                                     struct store_client *cl, bool *cut)
{
	struct shape s = {.scopes = xstrdup(cl->scopes ? cl->scopes : "")};
	bool any;
	*cut = false;
	struct oauth_result r = add_targets(g, cl, asked, n, &any, &s);
	if (r.err == OAUTH_OK && any &&
	    asks_cut(scope_asked, cl->scopes, s.scopes))
		r = OAUTH_FAIL(OAUTH_INVALID_SCOPE, "a requested scope is not one "
		               "the resource accepts");
	if (r.err == OAUTH_OK && any) {
		*cut = words_count(s.scopes) != words_count(cl->scopes);
		free(cl->audiences);
		cl->audiences = s.aud;
		free(cl->scopes);
		cl->scopes = s.scopes;
		s.aud = s.scopes = NULL;
		/* A target without a lifetime of its own keeps the default in
		 * the race: a registered one never lengthens it. */
		int64_t ttl = s.ttl;
		int64_t dflt = cl->access_token_ttl > 0 ? cl->access_token_ttl
		                                        : g->access_token_ttl;
		if (ttl > 0 && s.default_ttl && dflt < ttl)
			ttl = dflt;
		if (ttl > 0 && (cl->access_token_ttl == 0 ||
		                ttl < cl->access_token_ttl))
			cl->access_token_ttl = ttl;
	}
	free(s.aud);
	free(s.scopes);
	return r;
}

struct oauth_result resources_scope_result(struct oauth_result r, bool cut)
{
	/* scope_regrant's "no longer allowed" would tell the client its
	 * grant is gone (invalid_grant), when only this resource refuses
	 * its scopes: the same grant still works for another. */
	if (cut && r.err == OAUTH_INVALID_GRANT && r.description != NULL &&
	    strcmp(r.description, SCOPE_GRANT_GONE) == 0)
		return OAUTH_FAIL(OAUTH_INVALID_SCOPE, "none of the grant's "
		                  "scopes is one the resource accepts");
	return r;
}
