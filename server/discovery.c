/*
 * discovery.c: the discovery document, rendered once for both of its
 * paths: the RFC 8414 authorization server metadata (metadata_path) and
 * the OpenID Connect Discovery 1.0 configuration
 * (openid_configuration_path). RFC 8414 takes the OpenID Connect names
 * into its registry (section 2, and IANA's "OAuth Authorization Server
 * Metadata"), so one document is correct at both paths, and the two can
 * never disagree. The facts come from grants_metadata; the URLs are the
 * issuer plus each endpoint's path setting.
 */
#include <stdio.h>
#include <stdlib.h>

#include "server_int.h"
#include "strutil.h"

static json_t *str_array(const char *const *v)
{
	json_t *a = json_array();
	for (; v != NULL && *v != NULL; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *words_array(const char *list)
{
	json_t *a = json_array();
	size_t len;
	for (const char *w = words_next(list, &len); w; w = words_next(w + len, &len))
		json_array_append_new(a, json_stringn(w, len));
	return a;
}

/* The methods of md, and those of RFC 8705 that this server's TLS lets
 * clients use: tls_client_auth when tls_client_ca names their CAs,
 * self_signed_tls_client_auth when tls_client_certs takes any
 * certificate (with tls_client_ca alone the handshake names its CAs, and
 * many clients then send no self-signed one: server/tls_peer.c). */
static json_t *auth_methods(const struct lk_config *c,
                            const char *const *methods)
{
	json_t *a = str_array(methods);
	bool tls = c->tls_cert[0] != '\0';
	if (tls && c->tls_client_ca[0] != '\0')
		json_array_append_new(a, json_string("tls_client_auth"));
	if (tls && c->tls_client_certs)
		json_array_append_new(a,
		                      json_string("self_signed_tls_client_auth"));
	return a;
}

static json_t *endpoint(const char *issuer, const char *path)
{
	char *url = NULL;
	if (asprintf(&url, "%s%s", issuer, path) < 0)
		return NULL;
	json_t *s = json_string(url);
	free(url);
	return s;
}

/* Only what is implemented is listed (RFC 8414 section 2; Discovery 1.0
 * section 3 for the names it requires: issuer, authorization_endpoint,
 * token_endpoint, jwks_uri, response_types_supported,
 * subject_types_supported, id_token_signing_alg_values_supported). NULL
 * on no memory. */
static json_t *discovery_json(const struct srv *s, const struct site *site,
                              const struct grants_metadata *md)
{
	static const char *const code[] = {"code", NULL};
	static const char *const query[] = {"query", NULL};
	const char *iss = site->issuer;
	const struct lk_config *c = s->cfg;

	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "issuer", json_string(iss));
	json_object_set_new(o, "authorization_endpoint",
	                    endpoint(iss, c->authorize_path));
	json_object_set_new(o, "token_endpoint", endpoint(iss, c->token_path));
	json_object_set_new(o, "userinfo_endpoint",
	                    endpoint(iss, c->userinfo_path));
	json_object_set_new(o, "jwks_uri", endpoint(iss, c->jwks_path));
	json_object_set_new(o, "end_session_endpoint",
	                    endpoint(iss, c->end_session_path));
	json_object_set_new(o, "revocation_endpoint",
	                    endpoint(iss, c->revoke_path));
	json_object_set_new(o, "introspection_endpoint",
	                    endpoint(iss, c->introspect_path));
	/* RFC 8628 section 4 */
	json_object_set_new(o, "device_authorization_endpoint",
	                    endpoint(iss, c->device_authorization_path));
	json_object_set_new(o, "scopes_supported", words_array(md->scopes));
	json_object_set_new(o, "response_types_supported", str_array(code));
	json_object_set_new(o, "response_modes_supported", str_array(query));
	json_object_set_new(o, "grant_types_supported",
	                    str_array(md->grant_types));
	json_object_set_new(o, "subject_types_supported",
	                    str_array(md->subject_types));
	json_object_set_new(o, "id_token_signing_alg_values_supported",
	                    str_array(md->id_token_algs));
	json_object_set_new(o, "token_endpoint_auth_methods_supported",
	                    auth_methods(c, md->auth_methods));
	json_object_set_new(o, "revocation_endpoint_auth_methods_supported",
	                    auth_methods(c, md->auth_methods));
	json_object_set_new(o, "introspection_endpoint_auth_methods_supported",
	                    auth_methods(c, md->introspection_auth_methods));
	/* RFC 8705 section 3.3: the tokens of a client that authenticates
	 * with its certificate are bound to it. */
	if (c->tls_cert[0] != '\0' &&
	    (c->tls_client_certs || c->tls_client_ca[0] != '\0'))
		json_object_set_new(o, "tls_client_certificate_bound_access_"
		                    "tokens", json_true());
	/* RFC 8414 section 2: required when private_key_jwt is listed. */
	json_object_set_new(o, "token_endpoint_auth_signing_alg_values_supported",
	                    str_array(md->auth_signing_algs));
	json_object_set_new(o, "revocation_endpoint_auth_signing_alg_values_"
	                    "supported", str_array(md->auth_signing_algs));
	json_object_set_new(o, "introspection_endpoint_auth_signing_alg_values_"
	                    "supported", str_array(md->auth_signing_algs));
	/* RFC 9449 section 5.1: the algorithms a DPoP proof may use. */
	json_object_set_new(o, "dpop_signing_alg_values_supported",
	                    str_array(md->auth_signing_algs));
	json_object_set_new(o, "code_challenge_methods_supported",
	                    str_array(md->code_challenge_methods));
	json_object_set_new(o, "claims_supported", str_array(md->claims));
	json_object_set_new(o, "prompt_values_supported",
	                    str_array(md->prompt_values));
	/* Discovery 1.0 section 3: request_uri_parameter_supported defaults
	 * to true when left out, so the refusals are stated. */
	json_object_set_new(o, "request_parameter_supported", json_false());
	json_object_set_new(o, "request_uri_parameter_supported", json_false());
	json_object_set_new(o, "claims_parameter_supported", json_false());
	/* RFC 9207: every authorization response carries iss. */
	json_object_set_new(o, "authorization_response_iss_parameter_supported",
	                    json_true());
	return o;
}

/* Both discovery routes (routes.c). */
enum MHD_Result h_metadata(struct srv_req *rq)
{
	static const struct hdr cache[] = {{"Cache-Control", "public, max-age=300"},
	                                   {NULL, NULL}};
	struct grants_metadata md;

	struct oauth_result r = grants_metadata(rq->site->grants, &md);
	if (r.err != OAUTH_OK)
		return respond_error(rq, r, NULL);
	json_t *o = discovery_json(rq->srv, rq->site, &md);
	free(md.scopes);
	return respond_json(rq, 200, o, cache);
}
