/*
 * cmd_resource.c: `latchkey resource add|list|remove`, the resource
 * registry (RFC 8707): APIs that token requests may name with the
 * resource parameter, with what each wants of its tokens: the aud they
 * carry (--audience; else the identifier), the scopes it accepts
 * (--scope; else any) and their lifetime (--access-token-ttl). Which
 * clients may ask for a resource is their --audience list, not this
 * registry (shared/DECISIONS.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "strutil.h"
#include "validate.h"

static json_t *resource_json(const struct store_resource *r)
{
	return json_pack("{s:s, s:o, s:o, s:o, s:I}", "resource", r->resource,
	                 "audience", adm_json_str(r->audience), "scopes",
	                 r->scopes != NULL ? store_json_words(r->scopes)
	                                   : json_null(),
	                 "access_token_ttl",
	                 r->access_token_ttl > 0
	                     ? json_integer(r->access_token_ttl)
	                     : json_null(),
	                 "created_at", (json_int_t)r->created_at);
}

/* --scope, repeatable: the scopes the resource accepts, or '' for none
 * but Latchkey's own (openid and the OpenID Connect claim scopes). */
static int read_scopes(const struct adm_optval *ov, char **out)
{
	*out = NULL;
	if (ov->n == 0)
		return ADM_EXIT_OK;
	*out = xstrdup("");
	for (size_t i = 0; i < ov->n; i++) {
		if (ov->v[i][0] == '\0' && ov->n == 1)
			break;
		if (!valid_scope(ov->v[i])) {
			free(*out);
			*out = NULL;
			return adm_fail(ADM_EXIT_USAGE, "invalid --scope '%s': one "
			                "scope token (RFC 6749 section 3.3)",
			                ov->v[i]);
		}
		if (!words_contains(*out, ov->v[i], strlen(ov->v[i])))
			words_append(out, ov->v[i], strlen(ov->v[i]));
	}
	return ADM_EXIT_OK;
}

static int read_resource(const struct adm_ctx *ctx, struct store_resource *r)
{
	const char *id = ctx->argv[0];
	const char *aud = adm_str(ctx->args, OPT_AUDIENCE);
	const char *ttl = adm_str(ctx->args, OPT_ACCESS_TOKEN_TTL);
	/* Its identifier is compared exactly with the resource parameter and
	 * with clients' audiences; RFC 8707 section 2 forbids a fragment. */
	if (!valid_audience(id) || strchr(id, '#') != NULL)
		return adm_fail(ADM_EXIT_USAGE, "invalid resource '%s': %s, "
		                "without a fragment ('#')", id,
		                VALID_AUDIENCE_RULE);
	if (aud != NULL && (ctx->args->opt[OPT_AUDIENCE].n > 1 ||
	                    !valid_audience(aud)))
		return adm_fail(ADM_EXIT_USAGE, "invalid --audience '%s': one "
		                "audience, %s", aud, VALID_AUDIENCE_RULE);
	/* 'default' (the option's word for the server's setting, as at
	 * client add) is no lifetime of its own. */
	if (ttl != NULL && adm_ttl_parse(ttl, &r->access_token_ttl) != 0)
		return adm_fail(ADM_EXIT_USAGE, "invalid --access-token-ttl '%s': "
		                "seconds, 1 to %d, or 'default'", ttl,
		                VALID_TTL_MAX);
	int rc = read_scopes(&ctx->args->opt[OPT_SCOPE], &r->scopes);
	if (rc != ADM_EXIT_OK)
		return rc;
	r->resource = xstrdup(id);
	r->audience = aud != NULL ? xstrdup(aud) : NULL;
	return ADM_EXIT_OK;
}

static void object_name(const char *resource, char *buf, size_t len)
{
	snprintf(buf, len, "resource:%s", resource);
}

int cmd_resource_add(struct adm_ctx *ctx)
{
	struct store_resource r = {.created_at = clock_now()};
	int rc = read_resource(ctx, &r);
	enum store_rc s = rc == ADM_EXIT_OK ? store_resource_add(ctx->store, &r)
	                                    : STORE_OK;
	if (s == STORE_CONFLICT)
		rc = adm_fail(ADM_EXIT_RUNTIME, "resource '%s' is already "
		              "registered (remove it first to change it)",
		              r.resource);
	else if (s != STORE_OK)
		rc = adm_store_fail(s, "adding the resource");
	if (rc == ADM_EXIT_OK) {
		json_t *o = resource_json(&r);
		char object[VALID_AUDIENCE_MAX + 16];
		object_name(r.resource, object, sizeof(object));
		rc = adm_audit(ctx, "resource.add", object,
		               adm_changes(NULL, json_deep_copy(o)));
		if (ctx->json)
			adm_json_print(o);
		else {
			printf("registered resource %s (aud %s)\n", r.resource,
			       r.audience != NULL ? r.audience : r.resource);
			json_decref(o);
		}
	}
	store_resource_clear(&r);
	return rc;
}

static int list_one(const struct store_resource *r, void *arg)
{
	char created[ADM_TIME_LEN], ttl[24];
	if (r->access_token_ttl > 0)
		snprintf(ttl, sizeof(ttl), "%lld", (long long)r->access_token_ttl);
	else
		snprintf(ttl, sizeof(ttl), "default");
	const char *cells[] = {
		r->resource,
		r->audience != NULL ? r->audience : r->resource,
		r->scopes == NULL ? "(any)" : r->scopes[0] ? r->scopes : "(none)",
		ttl,
		adm_time(r->created_at, created),
	};
	adm_listing_add(arg, resource_json(r), cells);
	return 0;
}

int cmd_resource_list(struct adm_ctx *ctx)
{
	static const char *const header[] = {
		"RESOURCE", "AUD", "SCOPES", "ACCESS_TTL", "CREATED",
	};
	struct adm_listing l;
	int rc = adm_listing_init(&l, ctx, 5, header);
	if (rc != ADM_EXIT_OK)
		return rc;
	return adm_listing_done(&l, store_resource_list(ctx->store, &l.page,
	                                                list_one, &l),
	                        "listing resources");
}

int cmd_resource_remove(struct adm_ctx *ctx)
{
	const char *id = ctx->argv[0];
	struct store_resource r = {0};
	int n = 0;
	enum store_rc s = store_resource_get(ctx->store, id, &r);
	if (s == STORE_OK)
		s = store_resource_remove(ctx->store, id, &n);
	if (s == STORE_OK && n == 0)
		s = STORE_NOT_FOUND;
	int rc = ADM_EXIT_OK;
	if (s == STORE_NOT_FOUND)
		rc = adm_fail(ADM_EXIT_RUNTIME, "no registered resource '%s'", id);
	else if (s != STORE_OK)
		rc = adm_store_fail(s, "removing the resource");
	if (rc == ADM_EXIT_OK) {
		char object[VALID_AUDIENCE_MAX + 16];
		object_name(id, object, sizeof(object));
		rc = adm_audit(ctx, "resource.remove", object,
		               adm_changes(resource_json(&r), NULL));
		if (ctx->json)
			adm_json_print(json_pack("{s:s, s:b}", "resource", id,
			                         "removed", 1));
		else
			printf("removed resource %s\n", id);
	}
	store_resource_clear(&r);
	return rc;
}
