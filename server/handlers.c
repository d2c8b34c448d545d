/*
 * handlers.c: one function per endpoint. Each reads what its request holds
 * into the typed structs of grants.h, calls grants, and renders the result.
 * None of them decides anything OAuth: that is grants/.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics.h"
#include "crypto.h"
#include "log.h"
#include "server_int.h"
#include "strutil.h"


static const struct hdr no_store[] = {H_NO_STORE, {NULL, NULL}};

static json_t *token_json(const struct token_response *t)
{
	json_t *o = json_pack("{s:s, s:s, s:I}", "access_token", t->access_token,
	                      "token_type", t->token_type, "expires_in",
	                      (json_int_t)t->expires_in);
	/* Section 5.1: scope is required when it differs from the request;
	 * sending it always spares clients the comparison. */
	if (o != NULL && t->scope != NULL && t->scope[0] != '\0')
		json_object_set_new(o, "scope", json_string(t->scope));
	if (o != NULL && t->refresh_token != NULL)
		json_object_set_new(o, "refresh_token", json_string(t->refresh_token));
	if (o != NULL && t->id_token != NULL) /* OpenID Connect Core 3.1.3.3 */
		json_object_set_new(o, "id_token", json_string(t->id_token));
	if (o != NULL && t->issued_token_type != NULL) /* RFC 8693 2.2.1 */
		json_object_set_new(o, "issued_token_type",
		                    json_string(t->issued_token_type));
	return o;
}

void form_req_free(struct form_req *fr)
{
	crypto_free_str(fr->bid);
	crypto_free_str(fr->bsecret);
	tls_peer_clear(&fr->cert);
	form_free(&fr->f);
}

struct oauth_result form_req_read(struct srv_req *rq, struct form_req *fr)
{
	memset(fr, 0, sizeof(*fr));
	if (!form_content_type(req_header(rq, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "Content-Type must be "
		                  "application/x-www-form-urlencoded");
	const struct lk_config *cfg = rq->srv->cfg;
	switch (form_parse(rq->body, rq->body_len, (size_t)cfg->max_params,
	                   &fr->f)) {
	case FORM_OK:
		break;
	case FORM_MALFORMED:
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "the form body is "
		                  "malformed (bad percent-encoding or an empty "
		                  "name)");
	case FORM_TOO_MANY:
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "too many parameters");
	}
	if (form_repeated(&fr->f) != NULL)
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "a parameter is repeated");
	/* A token too long to be ours is only an unknown token: RFC 7662
	 * says inactive, RFC 7009 says 200 (verify.c bounds its length).
	 * Tokens and assertions carry claims: their readers bound them
	 * (verify.c, client_assertion.c, grant_jwt_bearer.c). */
	if (form_too_long(&fr->f, (size_t)cfg->max_param_length,
	                  "token subject_token actor_token client_assertion "
	                  "assertion") !=
	    NULL)
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "a parameter is longer "
		                  "than max_param_length");
	enum basic_rc b = basic_auth_parse(
	    req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION), &fr->bid, &fr->bsecret);
	if (b == BASIC_MALFORMED)
		return OAUTH_FAIL(OAUTH_INVALID_CLIENT, "the Basic credentials are "
		                  "malformed");
	fr->creds = (struct client_creds){
		.basic = b == BASIC_OK, .basic_id = fr->bid,
		.basic_secret = fr->bsecret,
		.form_id = form_param(&fr->f, "client_id"),
		.form_secret = form_param(&fr->f, "client_secret"),
		.assertion_type = form_param(&fr->f, "client_assertion_type"),
		.assertion = form_param(&fr->f, "client_assertion"),
		.remote_addr = rq->remote_addr,
		.tls_cert = tls_peer_cert(rq, &fr->cert) ? &fr->cert : NULL,
	};
	return OAUTH_RESULT_OK;
}

/* grants_issue_wait's ready: on the store's writer thread, so it only
 * hands the request back to MHD. */
static void token_ready(void *arg)
{
	req_resume(arg);
}

/* offload.c's work: the step that may block (the on_refresh hook, then
 * the issue), on a thread of its own. */
static void token_step(struct srv_req *rq)
{
	grants_issue_run(rq->issue);
}

static enum MHD_Result token_committed(struct srv_req *rq);

/* Suspends a token request on its wait (rq->issue): for its commit, or
 * for a step that runs on a thread of offload.c. Either way the answer is
 * token_committed's. */
static enum MHD_Result token_wait(struct srv_req *rq)
{
	/* Counted before the check, as srv_stop closes before it waits for
	 * the count: a wait either is counted in time or sees the close. */
	atomic_fetch_add(&rq->srv->issues_waiting, 1);
	if (atomic_load(&rq->srv->issues_closed)) {
		/* The daemon is about to stop and no connection may stay
		 * suspended: answered here, the commit waited for on this
		 * thread; a hook's refresh refused, as offload.c does once
		 * the stop has begun. */
		if (!grants_issue_blocks(rq->issue)) {
			grants_issue_run(rq->issue);
			return token_committed(rq);
		}
		token_abandoned(rq);
		return respond_error(rq, OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE,
		                                    "the server is stopping"),
		                     no_store);
	}
	if (!grants_issue_blocks(rq->issue)) {
		/* Suspended first: ready may come at once. */
		req_suspend(rq, token_committed);
		grants_issue_wait(rq->issue, token_ready, rq);
		return MHD_YES;
	}
	if (offload_start(rq, token_step, token_committed))
		return MHD_YES;
	token_abandoned(rq);
	return respond_error(rq, OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE,
	                                    "too many refreshes are waiting "
	                                    "for the on_refresh hook; retry "
	                                    "shortly"),
	                     no_store);
}

/* The continuation of a token request that waited (token_wait): its
 * answer, on MHD's thread. */
static enum MHD_Result token_committed(struct srv_req *rq)
{
	struct token_response out;
	struct issue_wait *w = rq->issue;
	rq->issue = NULL;
	atomic_fetch_sub(&rq->srv->issues_waiting, 1);
	struct oauth_result r = grants_issue_result(w, &out);
	/* Not with a client assertion or a DPoP proof: its one use is
	 * spent. */
	if (r.err == OAUTH_CLIENT_CHANGED && !rq->token_rerun &&
	    !rq->token_once) {
		/* Nothing was written: the request again, once, on a fresh
		 * read of the client (grants_token's rule for a synchronous
		 * issue). */
		rq->token_rerun = true;
		free(rq->client_id);
		free(rq->grant_type);
		rq->client_id = rq->grant_type = NULL;
		return h_token(rq);
	}
	struct hdr room[5];
	char *nonce;
	const struct hdr *hdrs = with_dpop_nonce(rq, no_store, room, 5, &nonce);
	enum MHD_Result ret = r.err == OAUTH_OK
	                          ? respond_json(rq, 200, token_json(&out), hdrs)
	                          : respond_error(rq, r, hdrs);
	free(nonce);
	token_response_clear(&out);
	return ret;
}

void token_abandoned(struct srv_req *rq)
{
	if (rq->issue == NULL)
		return;
	/* Only after ready (a suspended connection ends only once
	 * resumed): the store is done with it. */
	grants_issue_free(rq->issue);
	rq->issue = NULL;
	atomic_fetch_sub(&rq->srv->issues_waiting, 1);
}

enum MHD_Result h_token(struct srv_req *rq)
{
	struct form_req fr;
	struct token_response out = {0};
	enum MHD_Result ret;

	struct oauth_result r = form_req_read(rq, &fr);
	bool dpop_repeated = false;
	if (r.err == OAUTH_OK) {
		struct token_request tr = {
			.creds = fr.creds,
			.grant_type = form_param(&fr.f, "grant_type"),
			.scope = form_param(&fr.f, "scope"),
			.username = form_param(&fr.f, "username"),
			.password = form_param(&fr.f, "password"),
			.refresh_token = form_param(&fr.f, "refresh_token"),
			.subject_token = form_param(&fr.f, "subject_token"),
			.subject_token_type = form_param(&fr.f,
			                                 "subject_token_type"),
			.actor_token = form_param(&fr.f, "actor_token"),
			.actor_token_type = form_param(&fr.f, "actor_token_type"),
			.requested_token_type = form_param(&fr.f,
			                                   "requested_token_type"),
			.audience = form_param(&fr.f, "audience"),
			.code = form_param(&fr.f, "code"),
			.redirect_uri = form_param(&fr.f, "redirect_uri"),
			.code_verifier = form_param(&fr.f, "code_verifier"),
			.device_code = form_param(&fr.f, "device_code"),
			.assertion = form_param(&fr.f, "assertion"),
			.resource = form_param(&fr.f, "resource"),
			.remote_addr = rq->remote_addr,
			.dpop_proof = req_header_once(rq, "DPoP",
			                              &dpop_repeated),
			.dpop_repeated = dpop_repeated,
			.may_pend = true,
			.client_gone = req_client_gone, .client_gone_arg = rq,
		};
		rq->grant_type = xstrdup(tr.grant_type);
		rq->token_once = tr.creds.assertion != NULL ||
		                 tr.dpop_proof != NULL || tr.dpop_repeated;
		r = grants_token(rq->site->grants, &tr, &out, &rq->client_id);
	}
	if (r.err == OAUTH_PENDING) {
		/* The connection waits without a worker; its answer is
		 * token_committed's. The wait is the rq's from here. */
		form_req_free(&fr);
		rq->issue = out.pending;
		out.pending = NULL;
		return token_wait(rq);
	}
	struct hdr room[5];
	char *nonce;
	const struct hdr *hdrs = with_dpop_nonce(rq, no_store, room, 5, &nonce);
	ret = r.err == OAUTH_OK ? respond_json(rq, 200, token_json(&out), hdrs)
	                        : respond_error(rq, r, hdrs);
	free(nonce);
	token_response_clear(&out);
	form_req_free(&fr);
	return ret;
}

json_t *introspection_json(const struct introspection *in)
{
	/* RFC 7662 section 2.2: an inactive token is only "active": false. */
	if (!in->active)
		return json_pack("{s:b}", "active", 0);
	json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:s}",
	    "active", 1, "client_id", in->client_id, "sub", in->sub,
	    "token_type", in->token_type,
	    "exp", (json_int_t)in->exp, "iat", (json_int_t)in->iat,
	    "iss", in->iss ? in->iss : "");
	if (o != NULL && in->scope != NULL && in->scope[0] != '\0')
		json_object_set_new(o, "scope", json_string(in->scope));
	if (o != NULL && in->jti != NULL)
		json_object_set_new(o, "jti", json_string(in->jti));
	if (o != NULL && in->aud != NULL)
		json_object_set_new(o, "aud", aud_to_json(in->aud));
	if (o != NULL && in->username != NULL)
		json_object_set_new(o, "username", json_string(in->username));
	/* cnf: RFC 9449 section 6.2 (jkt), RFC 8705 section 3.2
	 * (x5t#S256) */
	if (o != NULL && (in->jkt != NULL || in->x5t != NULL)) {
		json_t *cnf = json_object();
		if (in->jkt != NULL)
			json_object_set_new(cnf, "jkt", json_string(in->jkt));
		if (in->x5t != NULL)
			json_object_set_new(cnf, "x5t#S256", json_string(in->x5t));
		json_object_set_new(o, "cnf", cnf);
	}
	return o;
}

enum MHD_Result h_introspect(struct srv_req *rq)
{
	struct form_req fr;
	struct introspection out = {0};

	struct oauth_result r = form_req_read(rq, &fr);
	if (r.err == OAUTH_OK) {
		struct token_ref_request tr = {
			.creds = fr.creds, .token = form_param(&fr.f, "token"),
			.token_type_hint = form_param(&fr.f, "token_type_hint"),
		};
		r = grants_introspect(rq->site->grants, &tr, &out, &rq->client_id);
	}
	enum MHD_Result ret =
	    r.err == OAUTH_OK
	        ? respond_json(rq, 200, introspection_json(&out), no_store)
	        : respond_error(rq, r, no_store);
	introspection_clear(&out);
	form_req_free(&fr);
	return ret;
}

enum MHD_Result h_revoke(struct srv_req *rq)
{
	struct form_req fr;

	struct oauth_result r = form_req_read(rq, &fr);
	if (r.err == OAUTH_OK) {
		struct token_ref_request tr = {
			.creds = fr.creds, .token = form_param(&fr.f, "token"),
			.token_type_hint = form_param(&fr.f, "token_type_hint"),
		};
		r = grants_revoke(rq->site->grants, &tr, &rq->client_id);
	}
	/* RFC 7009 section 2.2: 200, and the body is not for the client. */
	enum MHD_Result ret = r.err == OAUTH_OK
	                          ? respond_empty(rq, 200, no_store)
	                          : respond_error(rq, r, no_store);
	form_req_free(&fr);
	return ret;
}

static int add_jwk(const char *kid, const char *alg, const struct key_jwk *k,
                   void *arg)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "kty", k->kty, "kid", kid,
	                      "use", "sig", "alg", alg);
	if (o == NULL)
		return -1;
	if (k->crv != NULL) {
		json_object_set_new(o, "crv", json_string(k->crv));
		json_object_set_new(o, "x", json_string(k->x));
		json_object_set_new(o, "y", json_string(k->y));
	} else {
		json_object_set_new(o, "n", json_string(k->n));
		json_object_set_new(o, "e", json_string(k->e));
	}
	json_array_append_new(arg, o);
	return 0;
}

enum MHD_Result h_jwks(struct srv_req *rq)
{
	/* Short cache (jwks_max_age, 60 s by default): verifiers refetch on
	 * an unknown kid anyway, and a rotated key should reach them soon; a
	 * staged rotation publishes a key longer than this before using it. */
	const struct hdr cache[] = {{"Cache-Control", rq->srv->jwks_cache},
	                            {NULL, NULL}};
	json_t *keys = json_array();
	if (grants_jwks(rq->site->grants, add_jwk, keys) != 0) {
		json_decref(keys);
		return respond_error(rq, OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE,
		                                    NULL), NULL);
	}
	return respond_json(rq, 200, json_pack("{s:o}", "keys", keys), cache);
}

/* Prometheus scrapes this; see metrics.h for what is counted. */
enum MHD_Result h_metrics(struct srv_req *rq)
{
	static const struct hdr no_cache[] = {{"Cache-Control", "no-store"},
	                                      {NULL, NULL}};
	size_t len = 0;
	char *text = metrics_render(&len);
	return respond_text(rq, 200, text, len,
	                    "text/plain; version=0.0.4; charset=utf-8", no_cache);
}
