/*
 * cmd_issuer.c: `latchkey issuer add|list|remove`, the issuers whose JWTs
 * clients may trade for tokens with the JWT bearer grant (RFC 7523
 * section 2.1): a Kubernetes cluster's service-account tokens, a CI
 * system's OIDC tokens. Each is trusted for one client (--client), whose
 * token requests may carry its JWTs, and has its public keys, registered
 * (--jwks) or fetched by the server (--jwks-uri), and optionally the aud
 * its tokens carry (--audience; else they must name this server's issuer
 * or token endpoint).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "clock.h"
#include "jws.h"
#include "strutil.h"
#include "validate.h"

static json_t *issuer_json(const struct store_issuer *i)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:I}", "issuer", i->issuer,
	                 "client_id", i->client_id, "jwks", i->jwks != NULL ? json_loads(i->jwks, 0, NULL)
	                                         : json_null(),
	                 "jwks_uri", adm_json_str(i->jwks_uri),
	                 "audience", adm_json_str(i->audience),
	                 "created_at", (json_int_t)i->created_at);
}

/* The keys of `issuer add`: exactly one of --jwks and --jwks-uri, as
 * JWKS text (normalized) or an http(s) URL. */
static int read_keys(const struct adm_ctx *ctx, struct store_issuer *i)
{
	const char *file = adm_str(ctx->args, OPT_JWKS);
	const char *uri = adm_str(ctx->args, OPT_JWKS_URI);
	if ((file == NULL) == (uri == NULL) ||
	    (file != NULL && file[0] == '\0') || (uri != NULL && uri[0] == '\0'))
		return adm_fail(ADM_EXIT_USAGE, "'issuer add' needs the issuer's "
		                "public keys: --jwks FILE or --jwks-uri URL (one "
		                "of them)");
	if (uri != NULL) {
		if (!valid_redirect_uri(uri) ||
		    (strncasecmp(uri, "https://", 8) != 0 &&
		     strncasecmp(uri, "http://", 7) != 0))
			return adm_fail(ADM_EXIT_USAGE, "invalid --jwks-uri '%s': "
			                "an http or https URL", uri);
		i->jwks_uri = xstrdup(uri);
		return ADM_EXIT_OK;
	}
	char *text = NULL;
	int rc = adm_read_jwks_file(file, &text);
	if (rc != ADM_EXIT_OK)
		return rc;
	const char *why = jwks_check(text);
	json_t *doc = why == NULL ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (doc == NULL)
		return adm_fail(ADM_EXIT_USAGE, "invalid --jwks: %s",
		                why != NULL ? why : "not JSON");
	i->jwks = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return ADM_EXIT_OK;
}

int cmd_issuer_add(struct adm_ctx *ctx)
{
	const char *iss = ctx->argv[0];
	const char *aud = adm_str(ctx->args, OPT_AUDIENCE);
	const char *client = adm_str(ctx->args, OPT_CLIENT);
	struct store_issuer i = {.created_at = clock_now()};
	if (client == NULL)
		return adm_fail(ADM_EXIT_USAGE, "'issuer add' needs --client ID: "
		                "the client whose token requests may carry the "
		                "issuer's JWTs");
	/* An issuer is compared exactly with a JWT's iss: any printable
	 * ASCII without spaces (a URL, or a name some platforms use). */
	if (!valid_audience(iss))
		return adm_fail(ADM_EXIT_USAGE, "invalid issuer '%s': %s", iss,
		                VALID_AUDIENCE_RULE);
	if (aud != NULL && (ctx->args->opt[OPT_AUDIENCE].n > 1 ||
	                    !valid_audience(aud)))
		return adm_fail(ADM_EXIT_USAGE, "invalid --audience '%s': one "
		                "audience, %s", aud, VALID_AUDIENCE_RULE);
	struct store_client cl;
	int rc = adm_client_get(ctx->store, client, &cl);
	if (rc != ADM_EXIT_OK)
		return rc;
	store_client_clear(&cl);
	rc = read_keys(ctx, &i);
	if (rc != ADM_EXIT_OK) {
		store_issuer_clear(&i);
		return rc;
	}
	i.issuer = xstrdup(iss);
	i.client_id = xstrdup(client);
	i.audience = aud != NULL ? xstrdup(aud) : NULL;
	enum store_rc r = store_issuer_add(ctx->store, &i);
	if (r == STORE_CONFLICT)
		rc = adm_fail(ADM_EXIT_RUNTIME, "issuer '%s' is already "
		              "trusted (remove it first to change it)", iss);
	else if (r != STORE_OK)
		rc = adm_store_fail(r, "adding the issuer");
	if (rc == ADM_EXIT_OK) {
		json_t *o = issuer_json(&i);
		char object[VALID_AUDIENCE_MAX + 16];
		snprintf(object, sizeof(object), "issuer:%s", iss);
		rc = adm_audit(ctx, "issuer.add", object,
		               adm_changes(NULL, json_deep_copy(o)));
		if (ctx->json)
			adm_json_print(o);
		else {
			printf("trusted issuer %s (keys: %s)\n", iss,
			       i.jwks != NULL ? "registered" : i.jwks_uri);
			json_decref(o);
		}
	}
	store_issuer_clear(&i);
	return rc;
}

static int list_one(const struct store_issuer *i, void *arg)
{
	char created[ADM_TIME_LEN];
	const char *cells[] = {
		i->issuer,
		i->client_id,
		i->jwks != NULL ? "registered" : i->jwks_uri,
		i->audience != NULL ? i->audience : "(this server)",
		adm_time(i->created_at, created),
	};
	adm_listing_add(arg, issuer_json(i), cells);
	return 0;
}

int cmd_issuer_list(struct adm_ctx *ctx)
{
	static const char *const header[] = {
		"ISSUER", "CLIENT_ID", "KEYS", "AUDIENCE", "CREATED",
	};
	struct adm_listing l;
	int rc = adm_listing_init(&l, ctx, 5, header);
	if (rc != ADM_EXIT_OK)
		return rc;
	return adm_listing_done(&l, store_issuer_list(ctx->store, &l.page,
	                                              list_one, &l),
	                        "listing issuers");
}

int cmd_issuer_remove(struct adm_ctx *ctx)
{
	const char *iss = ctx->argv[0];
	struct store_issuer i = {0};
	int n = 0;
	enum store_rc r = store_issuer_get(ctx->store, iss, &i);
	if (r == STORE_OK)
		r = store_issuer_remove(ctx->store, iss, &n);
	if (r == STORE_OK && n == 0)
		r = STORE_NOT_FOUND;
	int rc = ADM_EXIT_OK;
	if (r == STORE_NOT_FOUND)
		rc = adm_fail(ADM_EXIT_RUNTIME, "no trusted issuer '%s'", iss);
	else if (r != STORE_OK)
		rc = adm_store_fail(r, "removing the issuer");
	if (rc == ADM_EXIT_OK) {
		char object[VALID_AUDIENCE_MAX + 16];
		snprintf(object, sizeof(object), "issuer:%s", iss);
		rc = adm_audit(ctx, "issuer.remove", object,
		               adm_changes(issuer_json(&i), NULL));
		if (ctx->json)
			adm_json_print(json_pack("{s:s, s:b}", "issuer", iss,
			                         "removed", 1));
		else
			printf("removed issuer %s\n", iss);
	}
	store_issuer_clear(&i);
	return rc;
}
