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
#include "metrics.h"
#include "grants_int.h"
#include "strutil.h"
#include "validate.h"

/* After the time prefix (crypto_ordered_id): 80 bits per millisecond,
 * collision-free, and the tokens are signed anyway. */
#define JTI_BYTES 10
#define REFRESH_BYTES 32 /* 256 bits, per issue 3 and RFC 6749 10.10 */
#define FAMILY_BYTES 10 /* after the time prefix, as JTI_BYTES */

static void wait_free(struct issue_wait *w);

void token_response_clear(struct token_response *r)
{
	wait_free(r->pending); /* a wait never started */
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

/* A token issue from its submission to its result: owns the minted
 * tokens, copies of every string the store writes (so the request that
 * asked may unwind while its commit is under way: grants.h,
 * grants_issue_wait), and what the result needs. */
struct issue_wait {
	struct grants *g;
	struct store_issue is;
	struct store_token at;
	struct store_refresh rt;
	char rhash[2 * SHA256_LEN + 1];
	/* What the store writes, owned here (at, rt and is point to them). */
	char *jti, *kid, *family, *client_id, *subject, *username, *scope;
	char *refresh_scope, *sid, *amr, *retire_hash, *relink_hash;
	char *relink_from_jti, *revoke_jti, *consume_code_hash, *jkt;
	char *consume_device_hash;
	/* What the result needs. */
	char *secret_hash; /* the client's, as the request authenticated */
	const char *issued_token_type; /* static */
	bool *relink_lost; /* the synchronous caller's, else NULL */
	int64_t ttl;
	char *token, *refresh, *id_token; /* moved into the response */
	const char *grant_type;           /* static; for the metrics */
	/* Set on the writer thread, read after ready (grants_issue_wait). */
	enum store_rc rc;
	void (*ready)(void *arg);
	void *ready_arg;
	/* A wait that starts with a step that may block (issue_wait_step):
	 * the step, what it owns, and once run (grants_issue_run) its
	 * answer. */
	issue_step_fn step;
	void (*step_free)(void *arg);
	void *step_arg;
	bool stepped;
	struct oauth_result step_r;
	struct token_response step_out;
};

static char *dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void wait_free(struct issue_wait *w)
{
	if (w == NULL)
		return;
	crypto_free_str(w->token);
	crypto_free_str(w->refresh);
	crypto_free_str(w->id_token);
	crypto_wipe(w->rhash, sizeof(w->rhash));
	char *owned[] = {w->jti, w->kid, w->family, w->client_id, w->subject,
	                 w->username, w->scope, w->refresh_scope, w->sid,
	                 w->amr, w->retire_hash, w->relink_hash,
	                 w->relink_from_jti, w->revoke_jti,
	                 w->consume_code_hash, w->secret_hash, w->jkt,
	                 w->consume_device_hash};
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		free(owned[i]);
	if (w->step_free != NULL)
		w->step_free(w->step_arg);
	token_response_clear(&w->step_out);
	free(w);
}

struct issue_wait *issue_wait_step(struct grants *g, issue_step_fn step,
                                   void (*step_free)(void *arg), void *arg)
{
	struct issue_wait *w = xcalloc(1, sizeof(*w));
	w->g = g;
	w->step = step;
	w->step_free = step_free;
	w->step_arg = arg;
	return w;
}

bool grants_issue_blocks(const struct issue_wait *w)
{
	return w->step != NULL && !w->stepped;
}

void grants_issue_run(struct issue_wait *w)
{
	if (w->step == NULL) { /* a commit, waited for on this thread */
		w->rc = store_issue(w->g->store, &w->is);
		return;
	}
	w->step_r = w->step(w->step_arg, &w->step_out);
	w->stepped = true;
	/* What the step owned is of no more use; free it here, on the
	 * thread that may block, rather than on the caller's. */
	if (w->step_free != NULL)
		w->step_free(w->step_arg);
	w->step_free = NULL;
	w->step_arg = NULL;
}

/* The client changed while the request was answered (STORE_STALE:
 * nothing was written). Removed or given another secret: the request's
 * credentials are no longer good, so the answer of an unknown client (RFC
 * 6749 section 5.2). Changed otherwise (scopes, lifetimes, ...): the
 * credentials still are, and the same request asked again is answered
 * under the registration as it is now: the server does so once
 * (OAUTH_CLIENT_CHANGED), else a 503 that says to try again rather than
 * an invalid_client that a client would take for bad credentials. Read
 * again only on this rare path. */
static struct oauth_result client_changed(const struct issue_wait *w)
{
	client_cache_forget(w->g, w->client_id);
	struct store_client now = {0};
	enum store_rc rc = store_client_get(w->g->store, w->client_id, &now);
	bool disabled = rc == STORE_OK && now.disabled_at != 0;
	bool same_secret =
	    rc == STORE_OK &&
	    (now.secret_hash == NULL
	         ? w->secret_hash == NULL
	         : w->secret_hash != NULL &&
	               client_hash_live(&now, w->secret_hash));
	store_client_clear(&now);
	if (disabled)
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT, CLIENT_DISABLED);
	if (rc == STORE_NOT_FOUND || (rc == STORE_OK && !same_secret))
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT,
		                  "the client's registration changed while the "
		                  "request was answered; authenticate again");
	return OAUTH_FAIL(OAUTH_CLIENT_CHANGED,
	                  "the client's registration changed while the "
	                  "request was answered; try again");
}

/* The issue's result, once the store has it: the tokens minted before
 * it, handed out only if their records were committed. */
static struct oauth_result issue_recorded(struct issue_wait *w,
                                          struct token_response *out)
{
	enum store_rc rc = w->rc;
	if (rc == STORE_STALE)
		return client_changed(w);
	if (rc == STORE_CONFLICT && (w->retire_hash || w->relink_hash ||
	                             w->consume_code_hash ||
	                             w->consume_device_hash)) {
		/* Another request used this refresh token or code first. */
		if (w->relink_hash != NULL && w->relink_lost != NULL)
			*w->relink_lost = true;
		return OAUTH_FAIL(OAUTH_INVALID_GRANT,
		                  w->consume_code_hash
		                      ? "the authorization code was already used"
		                  : w->consume_device_hash
		                      ? "the device code was already used"
		                      : "the refresh token was already used");
	}
	if (rc == STORE_CONFLICT) {
		/* Nothing else was checked and the client was there: a jti
		 * collided (2^-128), or a foreign key failed in a way the
		 * client check rules out. Not the client's fault, and not
		 * worth a 500: the answer of a client to authenticate again. */
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT, NULL);
	}
	/* Never hand out a token we could not record. */
	struct oauth_result r = oauth_from_store(rc, "recording issued tokens",
	                                         OAUTH_FAIL(OAUTH_SERVER_ERROR,
	                                                    NULL));
	if (r.err != OAUTH_OK)
		return r;
	out->access_token = w->token;
	out->token_type = w->jkt != NULL ? "DPoP" : "Bearer";
	out->expires_in = w->ttl;
	out->scope = xstrdup(w->scope ? w->scope : "");
	out->refresh_token = w->refresh;
	out->id_token = w->id_token;
	out->issued_token_type = w->issued_token_type;
	w->token = w->refresh = w->id_token = NULL;
	return OAUTH_RESULT_OK;
}

/* store_issue_done of a pending issue: on the store's writer thread. */
static void wait_done(enum store_rc rc, void *arg)
{
	struct issue_wait *w = arg;
	w->rc = rc;
	w->ready(w->ready_arg); /* w is the caller's again from here */
}

void grants_issue_wait(struct issue_wait *w, void (*ready)(void *arg),
                       void *arg)
{
	w->ready = ready;
	w->ready_arg = arg;
	store_issue_submit(w->g->store, &w->is, wait_done, w);
}

void grants_issued(const char *grant_type)
{
	metrics_token_issued(grant_type);
	if (strcmp(grant_type, "refresh_token") == 0)
		metrics_inc(MET_REFRESH);
}

/* The result into out, and w freed. */
static struct oauth_result wait_result(struct issue_wait *w,
                                       struct token_response *out)
{
	memset(out, 0, sizeof(*out));
	struct oauth_result r;
	if (w->stepped) { /* the step's own answer */
		r = w->step_r;
		*out = w->step_out;
		memset(&w->step_out, 0, sizeof(w->step_out));
	} else {
		r = issue_recorded(w, out);
	}
	wait_free(w);
	return r;
}

struct oauth_result grants_issue_result(struct issue_wait *w,
                                        struct token_response *out)
{
	const char *grant_type = w->grant_type;
	struct oauth_result r = wait_result(w, out);
	if (r.err == OAUTH_OK && grant_type != NULL)
		grants_issued(grant_type);
	return r;
}

void grants_issue_free(struct issue_wait *w)
{
	wait_free(w);
}

void grants_issue_set_grant(struct issue_wait *w, const char *grant_type)
{
	w->grant_type = grant_type;
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

/* Copies what o and cl say into w, pointing the records at the copies. */
static void wait_fill(struct issue_wait *w, const struct store_client *cl,
                      const struct issue_opts *o, int64_t now, int64_t rttl)
{
	w->client_id = xstrdup(cl->client_id);
	w->secret_hash = dup_or_null(cl->secret_hash);
	w->issued_token_type = o->issued_token_type;
	w->subject = dup_or_null(o->subject);
	w->username = dup_or_null(o->username);
	w->scope = dup_or_null(o->scope);
	w->refresh_scope = dup_or_null(o->refresh_scope ? o->refresh_scope
	                                                : o->scope);
	w->sid = dup_or_null(o->sid);
	w->amr = dup_or_null(o->amr);
	w->retire_hash = dup_or_null(o->retire_hash);
	w->relink_hash = dup_or_null(o->relink_hash);
	w->relink_from_jti = dup_or_null(o->relink_from_jti);
	w->revoke_jti = dup_or_null(o->revoke_jti);
	w->consume_code_hash = dup_or_null(o->consume_code_hash);
	w->consume_device_hash = dup_or_null(o->consume_device_hash);
	w->jkt = dup_or_null(o->dpop_jkt);
	w->relink_lost = o->relink_lost;
	w->at = (struct store_token){
		.jti = w->jti, .client_id = w->client_id, .subject = w->subject,
		.scope = w->scope, .kid = w->kid, .issued_at = now,
		.expires_at = now + w->ttl, .family_id = w->family,
	};
	w->rt = (struct store_refresh){
		.token_hash = w->rhash, .family_id = w->family,
		.client_id = w->client_id, .subject = w->subject,
		.username = w->username, .scope = w->refresh_scope,
		.access_jti = w->jti, .issued_at = now, .expires_at = now + rttl,
		.auth_time = o->auth_time, .sid = w->sid, .amr = w->amr,
		.dpop_jkt = cl->is_public ? w->jkt : NULL,
	};
	w->is = (struct store_issue){
		.now = now, .retire_hash = w->retire_hash,
		.relink_hash = w->relink_hash, .relink_jti = w->jti,
		.relink_from_jti = w->relink_from_jti,
		.revoke_jti = w->revoke_jti,
		.consume_code_hash = w->consume_code_hash,
		.consume_device_hash = w->consume_device_hash,
		.client_version = cl->secret_version, .access = &w->at,
		.refresh = o->with_refresh ? &w->rt : NULL,
	};
}

struct oauth_result token_issue(struct grants *g, const struct store_client *cl,
                                const struct issue_opts *o,
                                struct token_response *out)
{
	json_t *extra = NULL;
	int64_t now = clock_now();
	int64_t rttl = cl->refresh_token_ttl > 0 ? cl->refresh_token_ttl
	                                         : g->refresh_token_ttl;
	struct issue_wait *w = xcalloc(1, sizeof(*w));
	struct oauth_result r = OAUTH_RESULT_OK;

	memset(out, 0, sizeof(*out));
	w->g = g;
	w->ttl = cl->access_token_ttl > 0 ? cl->access_token_ttl
	                                  : g->access_token_ttl;
	if (o->expires_max != 0 && o->expires_max <= now) {
		/* what it was exchanged from expired meanwhile */
		r = OAUTH_FAIL(OAUTH_INVALID_REQUEST, "the subject token has "
		               "expired");
		goto out;
	}
	if (o->expires_max != 0 && now + w->ttl > o->expires_max)
		w->ttl = o->expires_max - now;
	w->jti = crypto_ordered_id(JTI_BYTES);
	/* A code's tokens share a family even without a refresh token, so a
	 * replayed code can revoke them all. */
	if (o->with_refresh || o->relink_hash != NULL ||
	    o->consume_code_hash != NULL || o->consume_device_hash != NULL ||
	    o->family_id != NULL)
		w->family = o->family_id ? xstrdup(o->family_id)
		                         : crypto_ordered_id(FAMILY_BYTES);
	if (o->with_refresh) {
		w->refresh = crypto_random_token(REFRESH_BYTES);
		if (w->refresh != NULL)
			token_hash(w->refresh, w->rhash);
	}
	if (w->jti == NULL ||
	    (o->with_refresh && (w->family == NULL || w->refresh == NULL))) {
		r = OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL);
		goto out;
	}
	r = at_extra(g, cl, o, &extra);
	if (r.err != OAUTH_OK)
		goto out;
	if (o->act != NULL) { /* a reserved name: no stored claim has it */
		if (extra == NULL)
			extra = json_object();
		json_object_set(extra, "act", (json_t *)o->act);
	}
	/* cnf (RFC 7800; reserved too): the DPoP key's thumbprint (RFC
	 * 9449 section 6.1) and the TLS client certificate's (RFC 8705
	 * section 3.1), either or both. */
	if (o->dpop_jkt != NULL || o->tls_x5t != NULL) {
		if (extra == NULL)
			extra = json_object();
		json_t *cnf = json_object();
		if (o->dpop_jkt != NULL)
			json_object_set_new(cnf, "jkt", json_string(o->dpop_jkt));
		if (o->tls_x5t != NULL)
			json_object_set_new(cnf, "x5t#S256",
			                    json_string(o->tls_x5t));
		json_object_set_new(extra, "cnf", cnf);
	}
	struct at_claims c = {
		.iss = g->issuer, .sub = o->subject,
		.aud = client_audiences(g, cl),
		.client_id = cl->client_id, .scope = o->scope, .jti = w->jti,
		.iat = now, .exp = now + w->ttl, .extra = extra,
	};
	if (signer_mint(g->signer, &c, &w->token, &w->kid) != 0) {
		r = OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL);
		goto out;
	}
	/* Before anything is recorded: a code is not spent on a response
	 * that cannot carry its ID token. */
	if (o->id_token != NULL &&
	    id_token_mint(g, cl, o->id_token, w->token, now, &w->id_token) != 0) {
		r = OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL);
		goto out;
	}
	wait_fill(w, cl, o, now, rttl);
	json_decref(extra);
	if (o->may_pend && o->relink_lost == NULL) {
		/* The caller waits (grants_issue_wait); nothing is written
		 * until it says so. */
		out->pending = w;
		return OAUTH_FAIL(OAUTH_PENDING, NULL);
	}
	w->rc = store_issue(g->store, &w->is);
	return wait_result(w, out);
out:
	json_decref(extra);
	wait_free(w);
	return r;
}
