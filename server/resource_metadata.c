/*
 * resource_metadata.c: the RFC 9728 protected resource metadata of
 * /resource (resource.c), one document per site. It owns the document's
 * URL, which RFC 9728 section 3.1 derives from the resource identifier
 * (the issuer plus resource_path, as DPoP's htu is): the origin, then
 * /.well-known/oauth-protected-resource, then the identifier's path. So
 * the path needs no setting of its own: it moves with the issuer,
 * issuer_path, a tenant's path and resource_path, and a setting could
 * only put the document where clients do not look for it. routes.c
 * serves it; respond.c names it in /resource's challenges (R_PROTECTED,
 * section 5.1).
 *
 * The document states what /resource does, nothing more: tokens in the
 * Authorization header only (it reads no form body and no access_token
 * query parameter), Bearer, DPoP-bound or bound to a TLS client
 * certificate (when latchkeyd asks for them), proofs signed with the
 * algorithms the authorization server metadata lists for DPoP. No
 * scopes_supported: /resource takes a token of any scope (a ?scope= query
 * asks for ones), so a list would name nothing it requires.
 */
#include <stdio.h>
#include <stdlib.h>

#include "jws.h"
#include "origin.h"
#include "server_int.h"

#define WELL_KNOWN_RESOURCE "/.well-known/oauth-protected-resource"

char *resource_metadata_url(const char *issuer, const char *resource_path)
{
	size_t origin = origin_prefix_len(issuer);
	char *url = NULL;
	if (asprintf(&url, "%.*s" WELL_KNOWN_RESOURCE "%s%s", (int)origin,
	             issuer, issuer + origin, resource_path) < 0)
		abort();
	return url;
}

const char *resource_metadata_path(const struct site *site)
{
	const char *url = site->resource_metadata_url;
	return url + origin_prefix_len(url);
}

/* The resource identifier (RFC 9728 section 3.3: the metadata's resource
 * must be it exactly). The caller frees. */
static char *resource_identifier(const struct srv_req *rq)
{
	char *id = NULL;
	if (asprintf(&id, "%s%s", rq->site->issuer,
	             rq->srv->cfg->resource_path) < 0)
		abort();
	return id;
}

/* RFC 9728 section 2. NULL on no memory. */
static json_t *resource_metadata_json(const struct srv_req *rq)
{
	/* RFC 9449 section 5.1's list in the AS metadata is built from the
	 * same macro (grants/discovery.c), so the two cannot differ. */
	static const char *const dpop_algs[] = {JWS_FOREIGN_ALGS, NULL};
	json_t *o = json_object();
	json_t *algs = json_array();
	char *id = resource_identifier(rq);
	if (o == NULL || algs == NULL) {
		json_decref(o);
		json_decref(algs);
		free(id);
		return NULL;
	}
	for (const char *const *a = dpop_algs; *a != NULL; a++)
		json_array_append_new(algs, json_string(*a));
	json_object_set_new(o, "resource", json_string(id));
	json_object_set_new(o, "authorization_servers",
	                    json_pack("[s]", rq->site->issuer));
	json_object_set_new(o, "bearer_methods_supported",
	                    json_pack("[s]", "header"));
	json_object_set_new(o, "dpop_signing_alg_values_supported", algs);
	/* A DPoP-bound token must come with a proof, but a Bearer token
	 * is taken too. */
	json_object_set_new(o, "dpop_bound_access_tokens_required",
	                    json_false());
	json_object_set_new(o, "resource_name",
	                    json_string("Latchkey token claims (/resource)"));
	/* RFC 8705 tokens: /resource checks their binding whenever the
	 * server asks for client certificates (left out, it reads false). */
	const struct lk_config *c = rq->srv->cfg;
	if (c->tls_cert[0] != '\0' &&
	    (c->tls_client_certs || c->tls_client_ca[0] != '\0'))
		json_object_set_new(o, "tls_client_certificate_bound_access_"
		                    "tokens", json_true());
	free(id);
	return o;
}

/* GET (and HEAD) on the metadata path (routes.c). The same for every
 * request of a site, and it reads no database: cached like the
 * authorization server metadata (discovery.c). */
enum MHD_Result h_resource_metadata(struct srv_req *rq)
{
	static const struct hdr cache[] = {{"Cache-Control", "public, max-age=300"},
	                                   {NULL, NULL}};
	return respond_json(rq, 200, resource_metadata_json(rq), cache);
}
