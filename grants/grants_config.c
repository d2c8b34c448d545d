/*
 * grants_config.c: the grants' settings, read from latchkeyd's.
 *
 * Every value comes from struct lk_config, whose defaults are written once,
 * in core/config.c's settings table; nothing here or in grants_new falls
 * back to a number of its own. What the grants need in another type (an
 * algorithm, a bool, an int) is converted here, once.
 */
#include "grants.h"

#include <string.h>

void grants_config_from(struct grants_config *gc, const struct lk_config *c,
                        const char *issuer)
{
	enum key_alg alg = KEY_ALG_ES256;
	key_alg_parse(c->signing_alg, &alg); /* config.c allows no other */
	memset(gc, 0, sizeof(*gc));
	gc->issuer = issuer;
	gc->token_path = c->token_path;
	gc->audience = c->audience;
	gc->introspection_requires_flag = c->introspection_requires_flag != 0;
	gc->access_token_ttl = c->access_token_ttl;
	gc->alg = alg;
	gc->id_token_ttl = c->id_token_ttl;
	gc->jwks_max_age = c->jwks_max_age;
	gc->key_rotation_interval = c->key_rotation_interval;
	gc->refresh_token_ttl = c->refresh_token_ttl;
	gc->issue_refresh_token = c->issue_refresh_token != 0;
	gc->rotate_refresh_tokens = c->rotate_refresh_tokens != 0;
	gc->on_refresh = c->on_refresh;
	gc->on_refresh_hook = c->on_refresh_hook;
	gc->on_refresh_hook_timeout_ms = c->on_refresh_hook_timeout_ms;
	gc->require_pkce = c->require_pkce != 0;
	gc->pkce_allow_plain = c->pkce_allow_plain != 0;
	gc->authorization_code_ttl = c->authorization_code_ttl;
	gc->session_ttl = c->session_ttl;
	gc->device_code_ttl = c->device_code_ttl;
	gc->device_poll_interval = c->device_poll_interval;
	gc->auto_approve_as = c->auto_approve_as;
	gc->login_max_failures = (int)c->login_max_failures;
	gc->login_max_failures_per_address =
	    (int)c->login_max_failures_per_address;
	gc->login_failure_window = c->login_failure_window;
	gc->client_auth_max_failures = (int)c->client_auth_max_failures;
	gc->client_auth_max_failures_per_address =
	    (int)c->client_auth_max_failures_per_address;
	gc->client_auth_failure_window = c->client_auth_failure_window;
	gc->jwks_uri_allow_private = c->jwks_uri_allow_private != 0;
	gc->jwks_uri_timeout = c->jwks_uri_timeout;
	gc->jwks_uri_max_bytes = c->jwks_uri_max_bytes;
	gc->jwks_uri_cache_ttl = c->jwks_uri_cache_ttl;
	gc->dpop_nonce = c->dpop_nonce != 0;
	/* A request holds a reservation while it is read, looked up and
	 * hashed: a few seconds past those timeouts. */
	gc->throttle_pending_ttl =
	    c->idle_timeout + 2 * c->db_statement_timeout + 5;
}
