/*
 * oauth_err.c: the error table (see oauth_err.h).
 *
 * Codes and statuses follow RFC 6749 section 5.2 (token endpoint: 400, and
 * 401 for invalid_client), RFC 6749 section 4.1.2.1, RFC 6750 section 3.1
 * (a protected resource: 400, 401, 403, each with a Bearer challenge),
 * RFC 7009 section 2.2.1, RFC 8707 section 2, RFC 9449 sections 5 and 7.1
 * (DPoP) and OpenID Connect Core
 * section 3.1.2.6. The table is sized by the
 * enum; a code without a row reads as zero and falls back to server_error
 * instead of past the end.
 */
#include "oauth_err.h"

#include <stddef.h>

static const struct oauth_err_info rows[OAUTH__COUNT] = {
	[OAUTH_OK] = {NULL, 200, NULL, OAUTH_CHALLENGE_NONE},
	[OAUTH_INVALID_REQUEST] = {"invalid_request", 400,
	    "The request is missing a parameter, repeats one, or is malformed.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_INVALID_CLIENT] = {"invalid_client", 401,
	    "Client authentication failed.", OAUTH_CHALLENGE_BASIC},
	[OAUTH_INVALID_GRANT] = {"invalid_grant", 400,
	    "The grant is invalid, expired, revoked or was issued to another "
	    "client.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_UNAUTHORIZED_CLIENT] = {"unauthorized_client", 400,
	    "The client is not allowed to use this grant type.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_UNSUPPORTED_GRANT_TYPE] = {"unsupported_grant_type", 400,
	    "The grant type is not supported by this server.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_INVALID_SCOPE] = {"invalid_scope", 400,
	    "The requested scope is invalid, unknown, or exceeds what the "
	    "client may request.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_SERVER_ERROR] = {"server_error", 500,
	    "The server could not complete the request.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_TEMPORARILY_UNAVAILABLE] = {"temporarily_unavailable", 503,
	    "The server is temporarily unable to handle the request.",
	    OAUTH_CHALLENGE_NONE},
	/* Sent in a redirect, where the status plays no part. */
	[OAUTH_ACCESS_DENIED] = {"access_denied", 400,
	    "The user or the server denied the request.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_UNSUPPORTED_RESPONSE_TYPE] = {"unsupported_response_type", 400,
	    "Only response_type=code is supported.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_LOGIN_REQUIRED] = {"login_required", 400,
	    "The user must sign in, and prompt=none forbids asking.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_CONSENT_REQUIRED] = {"consent_required", 400,
	    "The user must consent, and prompt=none forbids asking.",
	    OAUTH_CHALLENGE_NONE},
	/* OpenID Connect Core section 3.1.2.6: request objects (sections 6.1
	 * and 6.2) are not supported. */
	[OAUTH_REQUEST_NOT_SUPPORTED] = {"request_not_supported", 400,
	    "The request parameter (a request object) is not supported.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_REQUEST_URI_NOT_SUPPORTED] = {"request_uri_not_supported", 400,
	    "The request_uri parameter is not supported.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_UNSUPPORTED_TOKEN_TYPE] = {"unsupported_token_type", 400,
	    "The server does not support revoking this type of token.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_INVALID_TARGET] = {"invalid_target", 400,
	    "The requested resource is not an audience of this client.",
	    OAUTH_CHALLENGE_NONE},
	/* The client authenticated (so not 401 invalid_client) but may not
	 * use the endpoint: 403, as RFC 7662 section 2.3 answers a caller
	 * with insufficient authorization. */
	[OAUTH_ENDPOINT_FORBIDDEN] = {"unauthorized_client", 403,
	    "The client is not allowed to use this endpoint.",
	    OAUTH_CHALLENGE_NONE},
	/* Section 3.1: a request with no token gets the challenge alone,
	 * "SHOULD NOT include an error code". */
	[OAUTH_BEARER_MISSING] = {NULL, 401, NULL, OAUTH_CHALLENGE_BEARER},
	[OAUTH_BEARER_INVALID_REQUEST] = {"invalid_request", 400,
	    "The request is missing a parameter, repeats one, or is malformed.",
	    OAUTH_CHALLENGE_BEARER},
	[OAUTH_INVALID_TOKEN] = {"invalid_token", 401,
	    "the access token is expired, revoked or not valid",
	    OAUTH_CHALLENGE_BEARER},
	[OAUTH_INSUFFICIENT_SCOPE] = {"insufficient_scope", 403,
	    "the access token lacks a scope this request needs",
	    OAUTH_CHALLENGE_BEARER},
	[OAUTH_INVALID_DPOP_PROOF] = {"invalid_dpop_proof", 400,
	    "The DPoP proof is missing, malformed, replayed, stale, or not "
	    "for this request.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_DPOP_PROOF_REFUSED] = {"invalid_dpop_proof", 401,
	    "The DPoP proof is missing, malformed, replayed, stale, or not "
	    "for this request.",
	    OAUTH_CHALLENGE_DPOP},
	[OAUTH_DPOP_INVALID_TOKEN] = {"invalid_token", 401,
	    "The access token is invalid, expired or revoked.",
	    OAUTH_CHALLENGE_DPOP},
	[OAUTH_DPOP_INSUFFICIENT_SCOPE] = {"insufficient_scope", 403,
	    "the access token lacks a scope this request needs",
	    OAUTH_CHALLENGE_DPOP},
	[OAUTH_USE_DPOP_NONCE] = {"use_dpop_nonce", 400,
	    "The DPoP proof must carry the nonce of the DPoP-Nonce header.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_DPOP_USE_NONCE] = {"use_dpop_nonce", 401,
	    "The DPoP proof must carry the nonce of the DPoP-Nonce header.",
	    OAUTH_CHALLENGE_DPOP},
	[OAUTH_AUTHORIZATION_PENDING] = {"authorization_pending", 400,
	    "The person has not yet entered the user code and decided; poll "
	    "again after the interval.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_SLOW_DOWN] = {"slow_down", 400,
	    "Polled sooner than the interval: wait 5 seconds more between "
	    "polls from now on.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_EXPIRED_TOKEN] = {"expired_token", 400,
	    "The device code expired; start a new device authorization.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_NOT_FOUND] = {"not_found", 404, "No such endpoint.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405,
	    "This endpoint does not accept that method.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_REQUEST_TOO_LARGE] = {"request_too_large", 413,
	    "The request body is larger than this server accepts.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_CONFLICT] = {"conflict", 409,
	    "The object exists already, or changed meanwhile.",
	    OAUTH_CHALLENGE_NONE},
	/* If it ever leaked to the wire, it would read as a server error. */
	[OAUTH_PENDING] = {"server_error", 500,
	    "The server could not complete the request.",
	    OAUTH_CHALLENGE_NONE},
	[OAUTH_CLIENT_CHANGED] = {"temporarily_unavailable", 503,
	    "The server is temporarily unable to handle the request.",
	    OAUTH_CHALLENGE_NONE},
};

const struct oauth_err_info *oauth_err_info(enum oauth_err e)
{
	if ((unsigned)e >= OAUTH__COUNT || rows[e].http_status == 0)
		return &rows[OAUTH_SERVER_ERROR];
	return &rows[e];
}

enum oauth_err oauth_err_dpop(enum oauth_err e)
{
	switch (e) {
	case OAUTH_INVALID_TOKEN: return OAUTH_DPOP_INVALID_TOKEN;
	case OAUTH_INSUFFICIENT_SCOPE: return OAUTH_DPOP_INSUFFICIENT_SCOPE;
	default: return e;
	}
}
