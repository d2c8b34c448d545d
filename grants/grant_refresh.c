/*
 * grant_refresh.c: RFC 6749 section 6, with rotation and reuse detection
 * (RFC 9700 section 4.14.2) and the on_refresh policy (modelled on
 * Grape::OAuth2's on_refresh).
 *
 * Every refresh token descends from one original grant: its family. With
 * rotation on, a refresh retires the presented token and returns a new
 * one. Presenting a retired token again means two parties hold it, so the
 * whole family (refresh and access tokens) is revoked. Concurrent refreshes
 * race in store_issue's compare-and-set: one wins, the others get
 * invalid_grant without revoking the family, since each held a token that
 * was live when it was sent.
 *
 * Without rotation (rotate_refresh_tokens=false, confidential clients
 * only) the token is kept and re-pointed ("relinked") at each new access
 * token, again by compare-and-set on the access token it pointed at when
 * read. A refresh that lost reads the token again and retries, so racing
 * refreshes all succeed as if they came one after another, and with
 * on_refresh=revoke each revokes exactly the access token it replaced:
 * one access token of the refresh token stays live.
 *
 * on_refresh=hook asks a program (refresh_hook.c) before anything is
 * written. It may block for seconds, so when the caller can wait
 * (token_request.may_pend) the grant answers OAUTH_PENDING after its
 * reads, with what it read kept in the wait (struct hook_wait), and only
 * the rest, the hook and then the issue, runs on the thread the caller
 * provides (grants_issue_run; server/offload.c).
 */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "clock.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"

static struct oauth_result reuse_detected(struct grants *g,
                                          const struct store_refresh *rt)
{
	int n = 0;
	enum store_rc rc = store_family_revoke(g->store, rt->family_id,
	                                       clock_now(), &n);
	metrics_inc(MET_REFRESH_REUSE);
	log_security("refresh token reuse: family %s of client %s revoked "
	             "(%d tokens)%s", rt->family_id, rt->client_id, n,
	             rc == STORE_OK ? "" : " FAILED");
	return OAUTH_FAIL(OAUTH_INVALID_GRANT, "the refresh token was already "
	                  "used; its grant is revoked");
}

/* A removed user's refresh tokens die with the user (the CLI revokes them
 * too; this covers a user removed some other way). */
static bool user_exists(struct grants *g, const char *user_id,
                        struct oauth_result *r)
{
	struct store_user u = {0};
	enum store_rc rc = store_user_get_by_id(g->store, user_id, &u);
	store_user_clear(&u);
	if (rc == STORE_OK)
		return true;
	*r = oauth_from_store(rc, "user lookup",
	                      OAUTH_FAIL(OAUTH_INVALID_GRANT,
	                                 "the user no longer exists"));
	return false;
}

static const char *policy_of(const struct grants *g,
                             const struct store_client *cl)
{
	return cl->on_refresh ? cl->on_refresh : g->on_refresh;
}

#define HOOK_REFUSED "the refresh was refused by the server's policy"

/* on_refresh=hook: the hook sees the refresh before anything is written
 * and may refuse it, leaving the presented token usable. */
static struct oauth_result ask_hook(struct grants *g,
                                    const char *scope_requested,
                                    const struct store_refresh *rt,
                                    const char *granted, bool *revoke_old)
{
	json_t *doc = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s, s:s?, s:s, s:I}",
	    "event", "on_refresh", "issuer", g->issuer,
	    "client_id", rt->client_id, "sub", rt->subject,
	    "username", rt->username, "scope_requested", scope_requested,
	    "scope_held", rt->scope, "scope_granted", granted,
	    "access_token_jti", rt->access_jti, "family_id", rt->family_id,
	    "time", (json_int_t)clock_now());
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (text == NULL)
		return OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL);
	enum hook_verdict v = hook_run(g->on_refresh_hook,
	                               g->on_refresh_hook_timeout_ms, text,
	                               strlen(text));
	free(text);
	metrics_inc(MET_HOOK_RUNS);
	if (v == HOOK_DENY)
		metrics_inc(MET_HOOK_FAILURES);
	*revoke_old = v == HOOK_ALLOW_REVOKE;
	return v == HOOK_DENY ? OAUTH_FAIL(OAUTH_INVALID_GRANT, HOOK_REFUSED)
	                      : OAUTH_RESULT_OK;
}

/* Refresh tokens whose hook is running. One token gets one hook at a
 * time: parallel copies of a request would otherwise each take a thread
 * and a hook slot, and each run the hook for one refresh. */
struct hook_busy {
	char hash[2 * SHA256_LEN + 1];
	struct hook_busy *next;
};

static bool busy_has(struct grants *g, const char *hash)
{
	for (struct hook_busy *b = g->hook_busy; b != NULL; b = b->next)
		if (strcmp(b->hash, hash) == 0)
			return true;
	return false;
}

/* Marks hash busy; false when it already was. */
static bool busy_take(struct grants *g, const char *hash)
{
	pthread_mutex_lock(&g->hook_mu);
	bool free_ = !busy_has(g, hash);
	if (free_) {
		struct hook_busy *b = xcalloc(1, sizeof(*b));
		memcpy(b->hash, hash, sizeof(b->hash));
		b->next = g->hook_busy;
		g->hook_busy = b;
	}
	pthread_mutex_unlock(&g->hook_mu);
	return free_;
}

static void busy_give(struct grants *g, const char *hash)
{
	pthread_mutex_lock(&g->hook_mu);
	for (struct hook_busy **pp = &g->hook_busy; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->hash, hash) == 0) {
			struct hook_busy *b = *pp;
			*pp = b->next;
			free(b);
			break;
		}
	}
	pthread_mutex_unlock(&g->hook_mu);
}

#define HOOK_BUSY "a refresh with this token is already in progress"

/* Reads the refresh token's record into rt (the caller clears it) and
 * checks that this client may use it now. */
static struct oauth_result read_live(struct grants *g, const char *hash,
                                     const struct store_client *cl,
                                     struct store_refresh *rt)
{
	struct oauth_result r = OAUTH_RESULT_OK;
	enum store_rc rc = store_refresh_get(g->store, hash, rt);
	if (rc != STORE_OK)
		return oauth_from_store(rc, "refresh lookup",
		                        OAUTH_FAIL(OAUTH_INVALID_GRANT,
		                                   "unknown refresh token"));
	/* Section 6: bound to the client it was issued to. Not reuse: the
	 * token's holder did not present it. */
	if (strcmp(rt->client_id, cl->client_id) != 0)
		r = OAUTH_FAIL(OAUTH_INVALID_GRANT, "the refresh token was issued "
		               "to another client");
	else if (rt->revoked_at != 0)
		r = OAUTH_FAIL(OAUTH_INVALID_GRANT, "the refresh token is revoked");
	else if (rt->retired_at != 0)
		r = reuse_detected(g, rt);
	else if (rt->expires_at <= clock_now())
		r = OAUTH_FAIL(OAUTH_INVALID_GRANT, "the refresh token expired");
	else if (rt->username != NULL)
		(void)user_exists(g, rt->subject, &r); /* r says why not */
	return r;
}

/* RFC 9700 section 4.14.2: a public client's refresh token is bound to
 * nothing but itself, so rotation is what detects its theft. Only
 * confidential clients may keep theirs (rotate_refresh_tokens=false). */
static bool rotates(const struct grants *g, const struct store_client *cl)
{
	return g->rotate_refresh_tokens || cl->is_public;
}

/* OpenID Connect Core 12.2: a refresh of a family that holds openid
 * (granted at the start, and still one of the client's scopes) gets a new
 * ID token for the same user, with the login's auth_time, sid and amr as
 * the family kept them, and no nonce. */
static bool wants_id_token(const struct store_refresh *rt,
                           const struct store_client *cl, const char *scope)
{
	/* scope: what this refresh grants; a request that narrows it away
	 * from openid gets no ID token (as the code grant decides). */
	return rt->username != NULL && scope_has_openid(rt->scope) &&
	       scope_has_openid(cl->scopes) && scope_has_openid(scope);
}

static struct oauth_result id_token_for(struct grants *g,
                                        const struct store_refresh *rt,
                                        const char *scope,
                                        struct store_user *u,
                                        struct id_token_in *idt)
{
	enum store_rc rc = store_user_get_by_id(g->store, rt->subject, u);
	if (rc != STORE_OK)
		return oauth_from_store(rc, "user lookup",
		                        OAUTH_FAIL(OAUTH_INVALID_GRANT,
		                                   "the user no longer exists"));
	*idt = (struct id_token_in){
		.user = u, .scope = scope, .nonce = NULL,
		.auth_time = rt->auth_time, .sid = rt->sid, .amr = rt->amr,
	};
	return OAUTH_RESULT_OK;
}

/* Without rotation, concurrent refreshes of one token each relink it by
 * compare-and-set; one that lost reads the token again and retries, as if
 * it had come after the winner. Each try after a loss follows a win of
 * another request, so N racing refreshes need at most N tries each; the
 * bound only stops a storm. */
#define RELINK_TRIES 32

/* Issues the new pair (rotation) or the new access token (relink). With
 * revoke_old, the access token the refresh token pointed at is revoked in
 * the same transaction: exactly the one this refresh replaces. */
static struct oauth_result refresh_issue(struct grants *g,
                                         const struct store_client *cl,
                                         struct store_refresh *rt,
                                         const char *hash, const char *scope,
                                         bool revoke_old, bool may_pend,
                                         const char *jkt, const char *x5t,
                                         struct token_response *out)
{
	bool rotate = rotates(g, cl);
	for (int tries = 1;; tries++) {
		bool lost = false;
		struct store_user u = {0};
		struct id_token_in idt = {0};
		struct oauth_result r = OAUTH_RESULT_OK;
		if (wants_id_token(rt, cl, scope))
			r = id_token_for(g, rt, scope, &u, &idt);
		if (r.err != OAUTH_OK)
			return r;
		struct issue_opts o = {
			.subject = rt->subject, .username = rt->username,
			.scope = scope, .refresh_scope = rt->scope,
			.with_refresh = rotate, .family_id = rt->family_id,
			.retire_hash = rotate ? hash : NULL,
			.relink_hash = rotate ? NULL : hash,
			.relink_from_jti = rotate ? NULL : rt->access_jti,
			.revoke_jti = revoke_old ? rt->access_jti : NULL,
			.relink_lost = rotate ? NULL : &lost,
			.may_pend = may_pend, .auth_time = rt->auth_time,
			.sid = rt->sid, .amr = rt->amr,
			.id_token = idt.user != NULL ? &idt : NULL,
			.dpop_jkt = jkt, .tls_x5t = x5t,
		};
		r = token_issue(g, cl, &o, out);
		store_user_clear(&u);
		if (!lost)
			return r;
		if (tries == RELINK_TRIES) {
			log_warnx("refresh of client %s: relinking lost %d races in "
			          "a row", cl->client_id, tries);
			return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
		}
		store_refresh_clear(rt);
		r = read_live(g, hash, cl, rt);
		if (r.err != OAUTH_OK)
			return r;
	}
}

/* A refresh that waits for its hook: what the grant read, kept so that
 * only the hook and the issue run when the wait is taken up. The token is
 * marked busy (one hook at a time) from the grant's reads until the step
 * has run or the wait is freed unrun. */
struct hook_wait {
	struct grants *g;
	struct store_client cl;
	struct store_refresh rt;
	char hash[2 * SHA256_LEN + 1];
	char *scope;           /* what the refresh grants */
	char *scope_requested; /* as the request said; NULL: none */
	bool (*client_gone)(void *arg);
	void *client_gone_arg;
	bool held; /* hash is marked busy */
	char *jkt; /* the request's DPoP key; NULL: none */
	char *x5t; /* its TLS client certificate (RFC 8705); NULL: none */
};

static void hook_wait_free(void *arg)
{
	struct hook_wait *h = arg;
	if (h->held)
		busy_give(h->g, h->hash);
	store_client_clear(&h->cl);
	store_refresh_clear(&h->rt);
	crypto_wipe(h->hash, sizeof(h->hash));
	free(h->scope);
	free(h->scope_requested);
	free(h->jkt);
	free(h->x5t);
	free(h);
}

/* The hook, then the issue. The issue is waited for here, so that the
 * refresh token stays busy until its record is committed. */
static struct oauth_result hook_step(void *arg, struct token_response *out)
{
	struct hook_wait *h = arg;
	bool revoke_old = false;
	struct oauth_result r = ask_hook(h->g, h->scope_requested, &h->rt,
	                                 h->scope, &revoke_old);
	/* A client that gave up while the hook ran would never see the new
	 * pair, and its retry with the old token would read as reuse and
	 * cost the user the whole family. Issue nothing instead. */
	if (r.err == OAUTH_OK && h->client_gone != NULL &&
	    h->client_gone(h->client_gone_arg)) {
		log_info("client %s went away during the on_refresh hook; "
		         "nothing issued", h->rt.client_id);
		r = OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	}
	if (r.err == OAUTH_OK)
		r = refresh_issue(h->g, &h->cl, &h->rt, h->hash, h->scope,
		                  revoke_old, false, h->jkt, h->x5t, out);
	busy_give(h->g, h->hash);
	h->held = false;
	/* Not answered again from a fresh read, as grants_token does: that
	 * would ask the hook a second time. Nothing was written. */
	if (r.err == OAUTH_CLIENT_CHANGED)
		r = OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE,
		               "the client's registration changed while the "
		               "request was answered; try again");
	return r;
}

/* on_refresh=hook, after the reads and before anything is written. Takes
 * what *rt and *scope own. */
static struct oauth_result hook_refresh(struct grants *g,
                                        const struct token_request *rq,
                                        const struct store_client *cl,
                                        struct store_refresh *rt,
                                        const char *hash, char **scope,
                                        struct token_response *out)
{
	if (g->on_refresh_hook == NULL) {
		log_errx("client %s has on_refresh=hook but on_refresh_hook is "
		         "not set; refresh denied", rt->client_id);
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, HOOK_REFUSED);
	}
	if (!busy_take(g, hash))
		return OAUTH_FAIL(OAUTH_INVALID_GRANT, HOOK_BUSY);
	struct hook_wait *h = xcalloc(1, sizeof(*h));
	h->g = g;
	h->held = true;
	store_client_copy(&h->cl, cl);
	h->rt = *rt;
	memset(rt, 0, sizeof(*rt));
	memcpy(h->hash, hash, sizeof(h->hash));
	h->scope = *scope;
	*scope = NULL;
	h->scope_requested = xstrdup(rq->scope);
	h->jkt = rq->dpop_jkt != NULL ? xstrdup(rq->dpop_jkt) : NULL;
	h->x5t = rq->tls_x5t != NULL ? xstrdup(rq->tls_x5t) : NULL;
	h->client_gone = rq->client_gone;
	h->client_gone_arg = rq->client_gone_arg;
	if (rq->may_pend) {
		out->pending = issue_wait_step(g, hook_step, hook_wait_free, h);
		return OAUTH_FAIL(OAUTH_PENDING, NULL);
	}
	struct oauth_result r = hook_step(h, out);
	hook_wait_free(h);
	return r;
}

struct oauth_result grant_refresh_token(struct grants *g,
                                        const struct token_request *rq,
                                        const struct store_client *cl,
                                        struct token_response *out)
{
	struct store_refresh rt = {0};
	char hash[2 * SHA256_LEN + 1];
	char *scope = NULL;
	struct oauth_result r;

	if (rq->refresh_token == NULL)
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "refresh_token is required");
	token_hash(rq->refresh_token, hash);
	r = read_live(g, hash, cl, &rt);
	/* RFC 9449 section 5: a public client's refresh token bound to a
	 * key is used only with a proof by that key. */
	if (r.err == OAUTH_OK && rt.dpop_jkt != NULL &&
	    (rq->dpop_jkt == NULL || strcmp(rt.dpop_jkt, rq->dpop_jkt) != 0))
		r = OAUTH_FAIL(OAUTH_INVALID_GRANT,
		               "the refresh token is bound to a DPoP key: send a "
		               "proof signed with that key");
	/* Section 6: narrowed, never widened; and only what the client may
	 * still have (a scope taken from the client must not live on
	 * through its refresh tokens). */
	if (r.err == OAUTH_OK)
		r = scope_regrant(rq->scope, rt.scope, cl->scopes, &scope);
	if (r.err != OAUTH_OK)
		goto out;

	const char *policy = policy_of(g, cl);
	if (strcmp(policy, "hook") == 0)
		r = hook_refresh(g, rq, cl, &rt, hash, &scope, out);
	else
		r = refresh_issue(g, cl, &rt, hash, scope,
		                  strcmp(policy, "revoke") == 0, rq->may_pend,
		                  rq->dpop_jkt, rq->tls_x5t, out);
out:
	crypto_wipe(hash, sizeof(hash));
	store_refresh_clear(&rt);
	free(scope);
	return r;
}
