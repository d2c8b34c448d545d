/*
 * cmd_token.c: `latchkey token list|revoke`, over the records of issued
 * access tokens (the tokens themselves are never stored).
 *
 * A token's status is derived here from its record at one `now`: revoked
 * (revoked_at set) wins over expired (exp passed), else active. Revoking
 * only marks the record; a resource server sees it through introspection.
 */
#include <stdio.h>

#include "cli.h"
#include "clock.h"

static const char *token_status(const struct store_token *t, int64_t now)
{
	if (t->revoked_at != 0)
		return "revoked";
	return t->expires_at <= now ? "expired" : "active";
}

struct token_listing {
	struct adm_listing l;
	int64_t now;
};

static int list_one(const struct store_token *t, void *arg)
{
	struct token_listing *tl = arg;
	char iat[ADM_TIME_LEN], exp[ADM_TIME_LEN];
	const char *status = token_status(t, tl->now);
	json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:s}",
	                      "jti", adm_json_str(t->jti),
	                      "client_id", adm_json_str(t->client_id),
	                      "sub", adm_json_str(t->subject),
	                      "scope", adm_json_str(t->scope),
	                      "kid", adm_json_str(t->kid),
	                      "iat", (json_int_t)t->issued_at,
	                      "exp", (json_int_t)t->expires_at,
	                      "revoked_at", adm_json_opt_int(t->revoked_at),
	                      "status", status);
	const char *cells[] = {
		t->jti,
		t->client_id,
		t->subject,
		t->scope,
		adm_time(t->issued_at, iat),
		adm_time(t->expires_at, exp),
		status,
	};
	adm_listing_add(&tl->l, o, cells);
	return 0;
}

int cmd_token_list(struct adm_ctx *ctx)
{
	static const char *const header[] = {
		"JTI", "CLIENT_ID", "SUBJECT", "SCOPE", "ISSUED", "EXPIRES",
		"STATUS",
	};
	struct token_listing tl = {.now = clock_now()};
	struct store_token_filter f = {
		.client_id = adm_str(ctx->args, OPT_CLIENT),
		.active_only = adm_has(ctx->args, OPT_ACTIVE),
		.now = tl.now,
	};
	if (f.client_id != NULL) {
		/* An unknown client is more likely a typo than a client
		 * without tokens: say so rather than print nothing. */
		struct store_client c = {0};
		int rc = adm_client_get(ctx->store, f.client_id, &c);
		store_client_clear(&c);
		if (rc != ADM_EXIT_OK)
			return rc;
	}
	adm_listing_init(&tl.l, ctx->json, 7, header);
	enum store_rc r = store_token_list(ctx->store, &f, list_one, &tl);
	adm_listing_end(&tl.l, r == STORE_OK);
	return r == STORE_OK ? ADM_EXIT_OK
			     : adm_store_fail(r, "listing tokens");
}

static int revoke_client(struct adm_ctx *ctx, const char *id)
{
	struct store_client c = {0};
	int n = 0;
	int rc = adm_client_get(ctx->store, id, &c);
	store_client_clear(&c);
	if (rc != ADM_EXIT_OK)
		return rc;
	enum store_rc r = store_token_revoke_client(ctx->store, id, clock_now(),
	                                            &n);
	if (r != STORE_OK)
		return adm_store_fail(r, "revoking the tokens");
	if (ctx->json)
		adm_json_print(json_pack("{s:o, s:i}", "client_id",
		                         adm_json_str(id), "revoked", n));
	else
		printf("revoked %d token(s) of client '%s'\n", n, id);
	return ADM_EXIT_OK;
}

/* Revokes first and looks second, so two admins revoking at once cannot
 * both report the change: a count of 0 means unknown or already revoked,
 * and the record says which. */
static int revoke_one(struct adm_ctx *ctx, const char *jti)
{
	struct store_token t = {0};
	int64_t now = clock_now();
	int n = 0;
	enum store_rc r = store_token_revoke(ctx->store, jti, now, &n);
	if (r != STORE_OK)
		return adm_store_fail(r, "revoking the token");
	if (n == 0) {
		r = store_token_get(ctx->store, jti, &t);
		if (r == STORE_NOT_FOUND)
			return adm_fail(ADM_EXIT_RUNTIME,
			                "token '%s' not found", jti);
		if (r != STORE_OK)
			return adm_store_fail(r, "reading the token");
		now = t.revoked_at;
		store_token_clear(&t);
	}
	char at[ADM_TIME_LEN];
	if (ctx->json)
		adm_json_print(json_pack("{s:o, s:I, s:b}", "jti",
		                         adm_json_str(jti), "revoked_at",
		                         (json_int_t)now, "already_revoked",
		                         n == 0));
	else if (n == 0)
		printf("token '%s' was already revoked at %s\n", jti,
		       adm_time(now, at));
	else
		printf("revoked token '%s'\n", jti);
	return ADM_EXIT_OK;
}

int cmd_token_revoke(struct adm_ctx *ctx)
{
	const char *client = adm_str(ctx->args, OPT_CLIENT);
	if (client != NULL && ctx->argc > 0)
		return adm_fail(ADM_EXIT_USAGE,
		                "give either a JTI or --client, not both");
	if (client != NULL)
		return revoke_client(ctx, client);
	if (ctx->argc == 0)
		return adm_fail(ADM_EXIT_USAGE,
		                "'token revoke' needs a JTI or --client ID");
	return revoke_one(ctx, ctx->argv[0]);
}
