/*
 * token_endpoint.c: the grant table and the one path every token request
 * takes (RFC 6749 section 3.2): check the request, authenticate the client
 * once, look the grant up, check its flags once, run it. Also owns the
 * grants context's lifetime.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"
#include "validate.h"

#define GRANT_F_CONFIDENTIAL 0x1 /* only clients that can keep a secret */
/* The grant narrows the client to its resources itself: a code's
 * resource was chosen at /authorize, and token exchange has audience
 * beside resource. The others are narrowed here (resources_narrow). */
#define GRANT_F_OWN_RESOURCE 0x2

struct grant_def {
	const char *name;
	unsigned flags;
	grant_fn run;
};

/* Later grants are rows here, not branches in the dispatcher. */
static const struct grant_def grant_table[] = {
	{"authorization_code", GRANT_F_OWN_RESOURCE, grant_authorization_code},
	{"client_credentials", GRANT_F_CONFIDENTIAL, grant_client_credentials},
	{"password", 0, grant_password},
	{"refresh_token", 0, grant_refresh_token},
	{VALID_GRANT_TOKEN_EXCHANGE, GRANT_F_CONFIDENTIAL | GRANT_F_OWN_RESOURCE,
	 grant_token_exchange},
	{VALID_GRANT_DEVICE_CODE, 0, grant_device_code},
	{VALID_GRANT_JWT_BEARER, 0, grant_jwt_bearer},
};
#define NGRANTS (sizeof(grant_table) / sizeof(grant_table[0]))

static const struct grant_def *grant_find(const char *name)
{
	for (size_t i = 0; i < NGRANTS; i++)
		if (strcmp(grant_table[i].name, name) == 0)
			return &grant_table[i];
	return NULL;
}

static const char *grant_names[NGRANTS + 1];
static pthread_once_t grant_names_once = PTHREAD_ONCE_INIT;

static void grant_names_init(void)
{
	for (size_t i = 0; i < NGRANTS; i++)
		grant_names[i] = grant_table[i].name;
}

const char *const *grants_supported(void)
{
	pthread_once(&grant_names_once, grant_names_init);
	return grant_names;
}

/* Errors a grant may have decided from a client record that changed
 * since it was cached; a fresh read decides again. None of them follows
 * a write, so deciding again repeats nothing. */
static bool record_may_decide(enum oauth_err e)
{
	/* Not invalid_dpop_proof: a replayed proof is one too (grants_token
	 * decides it again only when no proof was sent). */
	return e == OAUTH_INVALID_SCOPE || e == OAUTH_UNAUTHORIZED_CLIENT ||
	       e == OAUTH_INVALID_TARGET || e == OAUTH_CLIENT_CHANGED;
}

/* One pass: authenticate (from the cache when use_cache), check, run. */
static struct oauth_result token_pass(struct grants *g,
                                      const struct token_request *rq,
                                      struct token_response *out,
                                      bool use_cache, bool *cached)
{
	struct store_client cl;
	bool cut = false;
	struct oauth_result r =
	    use_cache ? client_authenticate_cached(g, &rq->creds, &cl, cached)
	              : client_authenticate(g, &rq->creds, &cl);
	if (r.err != OAUTH_OK)
		return r;
	/* A proof's jti is written only for an authenticated client: anyone
	 * can make a proof, and a write should cost more than that. */
	if (rq->dpop_spend != NULL &&
	    (r = dpop_spend(g, rq->dpop_spend)).err != OAUTH_OK) {
		store_client_clear(&cl);
		return r;
	}

	const struct grant_def *def = grant_find(rq->grant_type);
	size_t glen = strlen(rq->grant_type);
	if (def == NULL)
		r = OAUTH_FAIL(OAUTH_UNSUPPORTED_GRANT_TYPE, NULL);
	else if (cl.require_dpop && rq->dpop_jkt == NULL)
		r = OAUTH_FAIL(OAUTH_INVALID_DPOP_PROOF,
		               "this client must send a DPoP proof (the DPoP "
		               "header)");
	else if (!words_contains(cl.grant_types, rq->grant_type, glen) ||
	         ((def->flags & GRANT_F_CONFIDENTIAL) && cl.is_public))
		r = OAUTH_FAIL(OAUTH_UNAUTHORIZED_CLIENT, NULL);
	else if (!(def->flags & GRANT_F_OWN_RESOURCE))
		/* RFC 8707 section 2: this request's tokens are for the
		 * resource it names, and for that one alone. */
		r = resources_narrow(g, &rq->resource, 1, rq->scope, &cl, &cut);
	/* RFC 8705 section 3: the tokens of a client that authenticated
	 * with its certificate are bound to it. */
	struct token_request bound = *rq;
	if (client_spec_uses_cert(&cl) && rq->creds.tls_cert != NULL)
		bound.tls_x5t = rq->creds.tls_cert->x5t;
	if (r.err == OAUTH_OK)
		r = resources_scope_result(def->run(g, &bound, &cl, out), cut);
	store_client_clear(&cl);
	if (r.err == OAUTH_OK)
		grants_issued(def->name);
	else if (r.err == OAUTH_PENDING)
		grants_issue_set_grant(out->pending, def->name);
	return r;
}

/* RFC 9449 section 4.3: a DPoP header is checked before anything else,
 * for POST at the token endpoint's URL; its jti is spent by token_pass
 * once the client has authenticated (*sp, once per request). OK with
 * *jkt NULL when there is none. */
static struct oauth_result token_dpop(struct grants *g,
                                      const struct token_request *rq,
                                      char **jkt, struct dpop_spend *sp)
{
	*jkt = NULL;
	if (rq->dpop_proof == NULL && !rq->dpop_repeated)
		return OAUTH_RESULT_OK;
	struct dpop_check c = {.proof = rq->dpop_proof,
	                       .repeated = rq->dpop_repeated, .htm = "POST",
	                       .htu = g->token_endpoint};
	return dpop_proof_check(g, &c, OAUTH_INVALID_DPOP_PROOF, jkt, sp);
}

struct oauth_result grants_token(struct grants *g,
                                 const struct token_request *request,
                                 struct token_response *out, char **client_id)
{
	const char *claimed = request->creds.basic ? request->creds.basic_id
	                                           : request->creds.form_id;

	memset(out, 0, sizeof(*out));
	*client_id = xstrdup(claimed);
	if (request->grant_type == NULL || request->grant_type[0] == '\0')
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "grant_type is required");
	char *jkt;
	struct dpop_spend spend;
	struct oauth_result r = token_dpop(g, request, &jkt, &spend);
	if (r.err != OAUTH_OK)
		return r;
	struct token_request bound = *request;
	bound.dpop_jkt = jkt;
	bound.dpop_spend = jkt != NULL ? &spend : NULL;
	const struct token_request *rq = &bound;

	/* The client record from the cache (client_cache.c); an error it
	 * may have decided is decided again on a fresh read, and so is a
	 * registration that changed under a synchronous issue. Only when
	 * the caller can wait: otherwise the pass may have run the
	 * on_refresh hook, which must not run twice for one request. */
	bool cached = false;
	r = token_pass(g, rq, out, rq->may_pend, &cached);
	/* Not with an assertion: its jti was used by the first pass. A
	 * DPoP proof's jti was too, and dpop_spend answers the second pass
	 * as it answered the first. invalid_dpop_proof is decided again
	 * only without a proof: then it is require_dpop's, from the record. */
	if (rq->may_pend &&
	    (record_may_decide(r.err) ||
	     (r.err == OAUTH_INVALID_DPOP_PROOF && rq->dpop_spend == NULL)) &&
	    rq->creds.assertion == NULL &&
	    (cached || r.err == OAUTH_CLIENT_CHANGED)) {
		if (claimed != NULL)
			client_cache_forget(g, claimed);
		token_response_clear(out);
		r = token_pass(g, rq, out, false, &cached);
	}
	free(jkt);
	return r;
}

static int warn_client(const struct store_client *c, void *arg)
{
	(void)arg;
	if (c->auto_approve_as != NULL && c->auto_approve_as[0] != '\0')
		log_warnx("client %s has auto_approve_as=%s: /authorize approves "
		          "its requests as that user without asking (for tests "
		          "only)", c->client_id, c->auto_approve_as);
	/* Registered before the prefix was reserved: it keeps working, but
	 * its tokens' sub could one day equal a user's (RFC 9068 section
	 * 5). */
	if (valid_client_id_reserved(c->client_id))
		log_warnx("client %s: its id starts with " VALID_USER_ID_PREFIX
		          ", the prefix of user ids, so the sub of its tokens "
		          "may equal a user's; register it again under another "
		          "id", c->client_id);
	return 0;
}

/* auto_approve_as turns the authorization endpoint into a rubber stamp:
 * say so loudly at every start. Clients with a reserved id are named at
 * every start too. */
static void warn_auto_approve(struct grants *g)
{
	if (g->auto_approve_as != NULL)
		log_warnx("auto_approve_as=%s: /authorize approves every request "
		          "as that user without asking (for tests only)",
		          g->auto_approve_as);
	store_client_list(g->store, warn_client, NULL);
}

int grants_new(struct store *s, const struct grants_config *cfg,
               struct grants **out, char *err, size_t errlen)
{
	struct grants *g = xcalloc(1, sizeof(*g));

	*out = NULL;
	pthread_mutex_init(&g->hook_mu, NULL);
	pthread_mutex_init(&g->nonce_mu, NULL);
	g->dpop_nonce = cfg->dpop_nonce;
	g->store = s;
	g->issuer = xstrdup(cfg->issuer);
	if (asprintf(&g->token_endpoint, "%s%s", cfg->issuer,
	             cfg->token_path ? cfg->token_path : "/token") < 0)
		abort();
	g->audience = cfg->audience && cfg->audience[0] ? xstrdup(cfg->audience)
	                                                : NULL;
	g->introspection_requires_flag = cfg->introspection_requires_flag;
	/* One aud value: lists of them are space-separated (client_audiences). */
	if (g->audience != NULL && !valid_audience(g->audience)) {
		snprintf(err, errlen, "setting 'audience': '%s' is not one "
		         "audience: " VALID_AUDIENCE_RULE, g->audience);
		grants_free(g);
		return -1;
	}
	/* RFC 9068 section 2.2 makes aud required; without the setting it
	 * is the issuer, which operators upgrading may not expect. */
	if (g->audience == NULL)
		log_info("audience is not set: access tokens of clients without "
		         "audiences of their own carry aud %s (the issuer)",
		         g->issuer);
	g->access_token_ttl = cfg->access_token_ttl;
	g->refresh_token_ttl = cfg->refresh_token_ttl;
	g->issue_refresh_token = cfg->issue_refresh_token;
	g->rotate_refresh_tokens = cfg->rotate_refresh_tokens;
	g->on_refresh = xstrdup(cfg->on_refresh);
	g->on_refresh_hook = cfg->on_refresh_hook && cfg->on_refresh_hook[0]
	                         ? xstrdup(cfg->on_refresh_hook)
	                         : NULL;
	g->on_refresh_hook_timeout_ms = cfg->on_refresh_hook_timeout_ms;
	g->login_max_failures = cfg->login_max_failures;
	g->login_max_failures_per_address = cfg->login_max_failures_per_address;
	g->require_pkce = cfg->require_pkce;
	g->pkce_allow_plain = cfg->pkce_allow_plain;
	g->authorization_code_ttl = cfg->authorization_code_ttl;
	g->session_ttl = cfg->session_ttl;
	g->device_code_ttl = cfg->device_code_ttl;
	g->device_poll_interval = cfg->device_poll_interval;
	g->id_token_ttl = cfg->id_token_ttl;
	g->jwks_max_age = cfg->jwks_max_age;
	g->key_rotation_interval = cfg->key_rotation_interval;
	g->auto_approve_as = cfg->auto_approve_as && cfg->auto_approve_as[0]
	                         ? xstrdup(cfg->auto_approve_as)
	                         : NULL;
	g->secret_cache = secret_cache_new();
	g->jwks_fetcher = jwks_fetcher_new(cfg);
	g->client_cache = client_cache_new();
	g->client_auth_max_failures = cfg->client_auth_max_failures;
	g->client_auth_max_failures_per_address =
	    cfg->client_auth_max_failures_per_address;
	/* Chosen once: counts in the database when the store keeps them
	 * for every instance (PostgreSQL), else in this process (SQLite:
	 * one process). The grants call both alike. */
	if (store_has_throttle(s) && cfg->throttle_pending_ttl <= 0) {
		/* Only a config not made by grants_config_from gets here. */
		snprintf(err, errlen, "throttle_pending_ttl must be positive");
		grants_free(g);
		return -1;
	}
	if (store_has_throttle(s)) {
		g->throttle = throttle_store_new(s, cfg->login_failure_window,
		                                 cfg->throttle_pending_ttl);
		g->client_throttle = throttle_store_new(
		    s, cfg->client_auth_failure_window, cfg->throttle_pending_ttl);
	} else {
		g->throttle = throttle_memory_new(cfg->login_failure_window);
		g->client_throttle =
		    throttle_memory_new(cfg->client_auth_failure_window);
	}
	g->known_logins = known_logins_new();
	if (g->secret_cache == NULL || g->throttle == NULL ||
	    g->client_throttle == NULL || g->known_logins == NULL) {
		snprintf(err, errlen, "no randomness for the secret cache key");
		grants_free(g);
		return -1;
	}
	if (signer_new(s, cfg->alg, &g->signer, err, errlen) != 0) {
		grants_free(g);
		return -1;
	}
	g->keyring = keyring_new(s, g->signer, KEY_PUBLISH_GRACE(g->id_token_ttl));
	warn_auto_approve(g);
	/* RFC 9700 section 4.14.2: rotation is how a stolen public client's
	 * refresh token is caught, so the setting cannot turn it off for
	 * them (grant_refresh.c); an operator who turned it off is told. */
	if (!g->rotate_refresh_tokens)
		log_info("rotate_refresh_tokens=false: refresh tokens of "
		         "confidential clients do not rotate; public clients' "
		         "always do");
	*out = g;
	return 0;
}

void grants_free(struct grants *g)
{
	if (g == NULL)
		return;
	signer_free(g->signer);
	keyring_free(g->keyring);
	secret_cache_free(g->secret_cache);
	jwks_fetcher_free(g->jwks_fetcher);
	client_cache_free(g->client_cache);
	throttle_free(g->throttle);
	throttle_free(g->client_throttle);
	known_logins_free(g->known_logins);
	free(g->issuer);
	free(g->token_endpoint);
	free(g->auto_approve_as);
	pthread_mutex_destroy(&g->hook_mu);
	pthread_mutex_destroy(&g->nonce_mu);
	free(g->nonce);
	free(g->audience);
	free(g->on_refresh);
	free(g->on_refresh_hook);
	free(g);
}
