/*
 * issue.c: turns a decided grant into tokens: mints the access token,
 * records it durably before anyone sees it (so it can be listed, revoked
 * and introspected), and fills the RFC 6749 section 5.1 response.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"

#define JTI_BYTES 16 /* 128 bits: unguessable and collision-free enough */

void token_response_clear(struct token_response *r)
{
	crypto_free_str(r->access_token);
	free(r->scope);
	crypto_free_str(r->refresh_token);
	memset(r, 0, sizeof(*r));
}

struct oauth_result token_issue(struct grants *g, const struct store_client *cl,
                                const char *subject, const char *scope,
                                struct token_response *out)
{
	int64_t now = clock_now();
	int64_t ttl = cl->access_token_ttl > 0 ? cl->access_token_ttl
	                                       : g->access_token_ttl;
	char *jti = crypto_random_token(JTI_BYTES);
	char *token = NULL, *kid = NULL;

	memset(out, 0, sizeof(*out));
	if (jti == NULL)
		return OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL);
	struct at_claims c = {
		.iss = g->issuer, .sub = subject, .aud = g->audience,
		.client_id = cl->client_id, .scope = scope, .jti = jti,
		.iat = now, .exp = now + ttl,
	};
	if (signer_mint(g->signer, &c, &token, &kid) != 0) {
		free(jti);
		return OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL);
	}
	struct store_token rec = {
		.jti = jti, .client_id = cl->client_id, .subject = (char *)subject,
		.scope = (char *)scope, .kid = kid, .issued_at = now,
		.expires_at = now + ttl,
	};
	enum store_rc rc = store_token_add(g->store, &rec);
	free(jti);
	free(kid);
	if (rc != STORE_OK) {
		/* Never hand out a token we could not record. */
		crypto_free_str(token);
		log_errx("recording an access token: %s", store_rc_str(rc));
		return OAUTH_FAIL(rc == STORE_BUSY || rc == STORE_IO
		                      ? OAUTH_TEMPORARILY_UNAVAILABLE
		                      : OAUTH_SERVER_ERROR, NULL);
	}
	out->access_token = token;
	out->token_type = "Bearer";
	out->expires_in = ttl;
	out->scope = xstrdup(scope ? scope : "");
	return OAUTH_RESULT_OK;
}
