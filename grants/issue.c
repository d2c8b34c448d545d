/*
 * issue.c: turns a decided grant into tokens: mints the access token (and
 * a refresh token when asked), records all of it in one transaction before
 * anyone sees it, and fills the RFC 6749 section 5.1 response.
 *
 * An access token carries, besides the claims of RFC 9068, the client's
 * access_token_claims and, when it is issued to a user, the user's claims
 * the client's release_claims name (claims.c; docs/openid-connect.md,
 * "Claims"); never in place of a claim the server sets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "strutil.h"
#include "validate.h"

#define JTI_BYTES 16     /* 128 bits: unguessable and collision-free */
#define REFRESH_BYTES 32 /* 256 bits, per issue 3 and RFC 6749 10.10 */
#define FAMILY_BYTES 16

void token_response_clear(struct token_response *r)
{
	crypto_free_str(r->access_token);
	free(r->scope);
	crypto_free_str(r->refresh_token);
	crypto_free_str(r->id_token);
	memset(r, 0, sizeof(*r));
}

void token_hash(const char *token, char out[2 * SHA256_LEN + 1])
{
	sha256_hex(token, out);
}

bool refresh_enabled(const struct grants *g, const struct store_client *cl)
{
	static const char rt[] = "refresh_token";
	if (!words_contains(cl->grant_types, rt, sizeof(rt) - 1))
		return false;
	if (cl->issue_refresh_token != STORE_DEFAULT)
		return cl->issue_refresh_token == STORE_ON;
	return g->issue_refresh_token;
}

/* What runs once the store has the issue's result (store_issue_submit):
 * the tokens minted before it, handed out only if their records were
 * committed. */
struct issue_cont {
	struct grants *g;
	const struct store_client *cl; /* as the request authenticated */
	const struct issue_opts *o;
	int64_t ttl;
	char **token, **refresh, **id_token; /* moved into out on success */
	struct token_response *out;
	struct oauth_result r;
};

/* The client changed while the request was answered (STORE_STALE:
 * nothing was written). Removed or given another secret: the request's
 * credentials are no longer good, so the answer of an unknown client (RFC
 * 6749 section 5.2). Changed otherwise (scopes, lifetimes, ...): the
 * credentials still are, and the same request asked again is answered
 * under the registration as it is now, so a 503 that says to try again
 * rather than an invalid_client that a client would take for bad
 * credentials. Read again only on this rare path. */
static struct oauth_result client_changed(const struct issue_cont *k)
{
	struct store_client now = {0};
	enum store_rc rc = store_client_get(k->g->store, k->cl->client_id, &now);
	bool same_secret =
	    rc == STORE_OK &&
	    (now.secret_hash == NULL
	         ? k->cl->secret_hash == NULL
	         : k->cl->secret_hash != NULL &&
	               strcmp(now.secret_hash, k->cl->secret_hash) == 0);
	store_client_clear(&now);
	if (rc == STORE_NOT_FOUND || (rc == STORE_OK && !same_secret))
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT,
		                  "the client's registration changed while the "
		                  "request was answered; authenticate again");
	return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE,
	                  "the client's registration changed while the "
	                  "request was answered; try again");
}

static void issue_recorded(enum store_rc rc, void *arg)
{
	struct issue_cont *k = arg;
	const struct issue_opts *o = k->o;
	if (rc == STORE_STALE) {
		k->r = client_changed(k);
		return;
	}
	if (rc == STORE_CONFLICT && (o->retire_hash || o->relink_hash ||
	                             o->consume_code_hash)) {
		/* Another request used this refresh token or code first. */
		if (o->relink_hash != NULL && o->relink_lost != NULL)
			*o->relink_lost = true;
		k->r = OAUTH_FAIL(OAUTH_INVALID_GRANT, o->consume_code_hash
		                  ? "the authorization code was already used"
		                  : "the refresh token was already used");
		return;
	}
	if (rc == STORE_CONFLICT) {
		/* Nothing else was checked and the client was there: a jti
		 * collided (2^-128), or a foreign key failed in a way the
		 * client check rules out. Not the client's fault, and not
		 * worth a 500: the answer of a client to authenticate again. */
		k->r = OAUTH_FAIL(OAUTH_INVALID_CLIENT, NULL);
		return;
	}
	/* Never hand out a token we could not record. */
	k->r = oauth_from_store(rc, "recording issued tokens", OAUTH_FAIL(
	                        OAUTH_SERVER_ERROR, NULL));
	if (k->r.err != OAUTH_OK)
		return;
	k->out->access_token = *k->token;
	k->out->token_type = "Bearer";
	k->out->expires_in = k->ttl;
	k->out->scope = xstrdup(o->scope ? o->scope : "");
	k->out->refresh_token = *k->refresh;
	k->out->id_token = *k->id_token;
	*k->token = *k->refresh = *k->id_token = NULL;
}

/* Copies the members of from into to, skipping the claims the server
 * sets (a stored set is checked when written; this holds whatever the
 * database says). */
static void add_claims(json_t *to, json_t *from)
{
	const char *name;
	json_t *v;
	json_object_foreach(from, name, v) {
		if (!valid_claim_reserved(name))
			json_object_set(to, name, v);
	}
}

/* The extra claims of an access token (at_claims.extra) into *extra: a
 * new object, or NULL for none. The user is read only when the client
 * names claims to release, so most tokens cost no read; a user's claim
 * wins over a client's claim of the same name (it is the more specific).
 * A user removed meanwhile gives none; a failed read is the store's
 * answer (503). */
static struct oauth_result at_extra(struct grants *g,
                                    const struct store_client *cl,
                                    const struct issue_opts *o,
                                    json_t **extra)
{
	json_t *fixed = claims_load(cl->access_token_claims);
	*extra = json_object();
	if (fixed != NULL)
		add_claims(*extra, fixed);
	json_decref(fixed);
	bool to_user = o->subject != NULL &&
	               strcmp(o->subject, cl->client_id) != 0;
	if (to_user && cl->release_claims != NULL && *cl->release_claims) {
		struct store_user u = {0};
		enum store_rc rc = store_user_get_by_id(g->store, o->subject, &u);
		json_t *mine = rc == STORE_OK
		                   ? claims_release(cl, &u, o->scope,
		                                    CLAIMS_ACCESS_TOKEN)
		                   : NULL;
		store_user_clear(&u);
		if (mine != NULL)
			add_claims(*extra, mine);
		json_decref(mine);
		if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
			json_decref(*extra);
			*extra = NULL;
			return oauth_from_store(rc, "user claims lookup",
			                        OAUTH_RESULT_OK);
		}
	}
	if (json_object_size(*extra) == 0) {
		json_decref(*extra);
		*extra = NULL;
	}
	return OAUTH_RESULT_OK;
}

struct oauth_result token_issue(struct grants *g, const struct store_client *cl,
                                const struct issue_opts *o,
                                struct token_response *out)
{
	json_t *extra = NULL;
	int64_t now = clock_now();
	int64_t ttl = cl->access_token_ttl > 0 ? cl->access_token_ttl
	                                       : g->access_token_ttl;
	int64_t rttl = cl->refresh_token_ttl > 0 ? cl->refresh_token_ttl
	                                         : g->refresh_token_ttl;
	char *jti = crypto_random_id(JTI_BYTES);
	char *family = NULL, *refresh = NULL, *token = NULL, *kid = NULL;
	char *id_token = NULL;
	char rhash[2 * SHA256_LEN + 1];
	struct oauth_result r = OAUTH_RESULT_OK;

	memset(out, 0, sizeof(*out));
	/* A code's tokens share a family even without a refresh token, so a
	 * replayed code can revoke them all. */
	if (o->with_refresh || o->relink_hash != NULL ||
	    o->consume_code_hash != NULL)
		family = o->family_id ? xstrdup(o->family_id)
		                      : crypto_random_id(FAMILY_BYTES);
	if (o->with_refresh) {
		refresh = crypto_random_token(REFRESH_BYTES);
		if (refresh != NULL)
			token_hash(refresh, rhash);
	}
	if (jti == NULL || (o->with_refresh && (family == NULL || refresh == NULL))) {
		r = OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL);
		goto out;
	}
	r = at_extra(g, cl, o, &extra);
	if (r.err != OAUTH_OK)
		goto out;
	struct at_claims c = {
		.iss = g->issuer, .sub = o->subject,
		.aud = client_audiences(g, cl),
		.client_id = cl->client_id, .scope = o->scope, .jti = jti,
		.iat = now, .exp = now + ttl, .extra = extra,
	};
	if (signer_mint(g->signer, &c, &token, &kid) != 0) {
		r = OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL);
		goto out;
	}
	/* Before anything is recorded: a code is not spent on a response
	 * that cannot carry its ID token. */
	if (o->id_token != NULL &&
	    id_token_mint(g, cl, o->id_token, token, now, &id_token) != 0) {
		r = OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL);
		goto out;
	}
	struct store_token at = {
		.jti = jti, .client_id = cl->client_id, .subject = (char *)o->subject,
		.scope = (char *)o->scope, .kid = kid, .issued_at = now,
		.expires_at = now + ttl, .family_id = family,
	};
	struct store_refresh rt = {
		.token_hash = rhash, .family_id = family, .client_id = cl->client_id,
		.subject = (char *)o->subject, .username = (char *)o->username,
		.scope = (char *)(o->refresh_scope ? o->refresh_scope : o->scope),
		.access_jti = jti, .issued_at = now,
		.expires_at = now + rttl, .auth_time = o->auth_time,
		.sid = (char *)o->sid, .amr = (char *)o->amr,
	};
	struct store_issue is = {
		.now = now, .retire_hash = o->retire_hash,
		.relink_hash = o->relink_hash, .relink_jti = jti,
		.relink_from_jti = o->relink_from_jti,
		.revoke_jti = o->revoke_jti,
		.consume_code_hash = o->consume_code_hash,
		.client_version = cl->secret_version, .access = &at,
		.refresh = o->with_refresh ? &rt : NULL,
	};
	struct issue_cont k = {
		.g = g, .cl = cl, .o = o, .ttl = ttl, .token = &token, .refresh = &refresh,
		.id_token = &id_token, .out = out,
	};
	/* The completion runs before this returns (store.h, xIssue), so k
	 * and is may live on this stack. */
	store_issue_submit(g->store, &is, issue_recorded, &k);
	r = k.r;
out:
	json_decref(extra);
	crypto_free_str(token);
	crypto_free_str(refresh);
	crypto_free_str(id_token);
	crypto_wipe(rhash, sizeof(rhash));
	free(jti);
	free(kid);
	free(family);
	return r;
}
