/*
 * cmd_consent.c: `latchkey consent list|revoke`, over the consents the
 * server remembers: the scopes a user has allowed a client at /authorize,
 * so that the consent page is not shown again for them.
 *
 * The server writes consents; this file only shows and removes them.
 * Removing one makes the server ask the user again at the client's next
 * authorization request. It leaves tokens already issued alone: those are
 * `token revoke`'s.
 */
#include <stdio.h>

#include "cli.h"

static int list_one(const struct store_consent *c, void *arg)
{
	char granted[ADM_TIME_LEN], updated[ADM_TIME_LEN];
	json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:I, s:I}",
	                      "username", adm_json_str(c->username),
	                      "user_id", adm_json_str(c->user_id),
	                      "client_id", adm_json_str(c->client_id),
	                      "scope", adm_json_str(c->scope),
	                      "granted_at", (json_int_t)c->granted_at,
	                      "updated_at", (json_int_t)c->updated_at);
	const char *cells[] = {
		c->username,
		c->client_id,
		c->scope,
		adm_time(c->granted_at, granted),
		adm_time(c->updated_at, updated),
	};
	adm_listing_add(arg, o, cells);
	return 0;
}

int cmd_consent_list(struct adm_ctx *ctx)
{
	static const char *const header[] = {
		"USERNAME", "CLIENT_ID", "SCOPE", "GRANTED", "UPDATED",
	};
	struct store_user u = {0};
	struct adm_listing l;
	int rc = adm_listing_init(&l, ctx, 5, header);
	if (rc != ADM_EXIT_OK)
		return rc;
	rc = adm_filter_lookup(ctx, &u);
	if (rc != ADM_EXIT_OK)
		adm_listing_end(&l, false); /* the lookup said why */
	else
		rc = adm_listing_done(&l, store_consent_page(ctx->store,
		                              u.user_id,
		                              adm_str(ctx->args, OPT_CLIENT),
		                              &l.page, list_one, &l),
		                      "listing consents");
	store_user_clear(&u);
	return rc;
}

/* --user is required rather than optional: forgetting every user's
 * consent for a client at once is not something to do by leaving out an
 * option. */
int cmd_consent_revoke(struct adm_ctx *ctx)
{
	const char *username = adm_str(ctx->args, OPT_USER);
	const char *client_id = adm_str(ctx->args, OPT_CLIENT);
	struct store_user u = {0};
	int n = 0;
	if (username == NULL)
		return adm_fail(ADM_EXIT_USAGE,
		                "'consent revoke' needs --user NAME");
	int rc = adm_filter_lookup(ctx, &u);
	if (rc == ADM_EXIT_OK) {
		enum store_rc r = store_consent_revoke(ctx->store, u.user_id,
		                                       client_id, &n);
		if (r != STORE_OK)
			rc = adm_store_fail(r, "revoking the consents");
	}
	if (rc == ADM_EXIT_OK && ctx->json)
		adm_json_print(json_pack("{s:o, s:o, s:i}",
		                         "username", adm_json_str(username),
		                         "client_id", adm_json_str(client_id),
		                         "revoked", n));
	else if (rc == ADM_EXIT_OK)
		printf("revoked %d consent(s) of user '%s'\n", n, username);
	if (rc == ADM_EXIT_OK && n > 0) {
		char object[300];
		snprintf(object, sizeof(object), "user:%s", username);
		rc = adm_audit(ctx, "consent.revoke", object,
		               json_pack("{s:{s:o, s:n}, s:{s:n, s:i}}",
		                         "consent_client", "old",
		                         client_id != NULL
		                             ? json_string(client_id)
		                             : json_string("(all)"),
		                         "new", "revoked", "old", "new", n));
	}
	store_user_clear(&u);
	return rc;
}
