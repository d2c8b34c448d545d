/*
 * oauth_err.h: the one result type of Latchkey's request handling.
 *
 * Every step of a request returns enum oauth_err; oauth_err.c maps each
 * value to its wire error code, HTTP status and default description in a
 * single table. HTTP-level refusals (404, 405, 413) are in the same enum so
 * every error leaves through the same path.
 */
#ifndef LK_OAUTH_ERR_H
#define LK_OAUTH_ERR_H

enum oauth_err {
	OAUTH_OK = 0,
	/* RFC 6749 section 5.2 */
	OAUTH_INVALID_REQUEST,
	OAUTH_INVALID_CLIENT,
	OAUTH_INVALID_GRANT,
	OAUTH_UNAUTHORIZED_CLIENT,
	OAUTH_UNSUPPORTED_GRANT_TYPE,
	OAUTH_INVALID_SCOPE,
	/* RFC 6749 section 4.1.2.1 */
	OAUTH_SERVER_ERROR,
	OAUTH_TEMPORARILY_UNAVAILABLE,
	OAUTH_ACCESS_DENIED,
	OAUTH_UNSUPPORTED_RESPONSE_TYPE,
	/* OpenID Connect Core section 3.1.2.6, for prompt=none */
	OAUTH_LOGIN_REQUIRED,
	OAUTH_CONSENT_REQUIRED,
	OAUTH_REQUEST_NOT_SUPPORTED,     /* the request parameter (6.1) */
	OAUTH_REQUEST_URI_NOT_SUPPORTED, /* the request_uri parameter (6.2) */
	/* RFC 7009 section 2.2.1 */
	OAUTH_UNSUPPORTED_TOKEN_TYPE,
	/* RFC 8707 section 2 */
	OAUTH_INVALID_TARGET,
	/* An authenticated client without the right to this endpoint
	 * (RFC 7662 section 4: introspection for authorized resource servers
	 * only) */
	OAUTH_ENDPOINT_FORBIDDEN,
	/* RFC 6750 section 3.1, at a protected resource: each answer carries
	 * a Bearer challenge. BEARER_MISSING is a request with no token at
	 * all, which gets the challenge and no error code. */
	OAUTH_BEARER_MISSING,
	OAUTH_BEARER_INVALID_REQUEST,
	OAUTH_INVALID_TOKEN,
	OAUTH_INSUFFICIENT_SCOPE,
	/* RFC 9449: a DPoP proof refused at the token endpoint (400), and
	 * at a protected resource, where the answer carries a DPoP
	 * challenge: a proof refused, or a token sent with the wrong scheme
	 * (a bound token as Bearer, an unbound one as DPoP). */
	OAUTH_INVALID_DPOP_PROOF,
	OAUTH_DPOP_PROOF_REFUSED,
	OAUTH_DPOP_INVALID_TOKEN,
	OAUTH_DPOP_INSUFFICIENT_SCOPE,
	/* RFC 9449 section 8 (dpop_nonce on): the proof lacks our current
	 * nonce; the answer carries a DPoP-Nonce header. At the token
	 * endpoint (400), and at a resource (401, DPoP challenge). */
	OAUTH_USE_DPOP_NONCE,
	OAUTH_DPOP_USE_NONCE,
	/* RFC 8628 section 3.5, a device's poll at the token endpoint */
	OAUTH_AUTHORIZATION_PENDING,
	OAUTH_SLOW_DOWN,
	OAUTH_EXPIRED_TOKEN,
	/* HTTP-level, with a JSON body in the same shape */
	OAUTH_NOT_FOUND,
	OAUTH_METHOD_NOT_ALLOWED,
	OAUTH_REQUEST_TOO_LARGE,
	/* The admin API: the object exists already, or changed meanwhile */
	OAUTH_CONFLICT,
	/* Internal, never sent: the tokens wait for their commit
	 * (token_response.pending, grants_issue_wait). */
	OAUTH_PENDING,
	/* The client's registration changed while the request was answered
	 * (nothing was written): answered again from a fresh read, once;
	 * sent as temporarily_unavailable if it happens again. */
	OAUTH_CLIENT_CHANGED,
	OAUTH__COUNT
};

/* The WWW-Authenticate challenge an answer carries: the scheme the
 * client should authenticate with next (RFC 6749 section 5.2, RFC 6750
 * section 3). */
enum oauth_challenge {
	OAUTH_CHALLENGE_NONE = 0,
	OAUTH_CHALLENGE_BASIC,  /* the token endpoint's client authentication */
	OAUTH_CHALLENGE_BEARER, /* a protected resource's access token */
	OAUTH_CHALLENGE_DPOP,   /* ... bound to a key (RFC 9449 section 7.1) */
};

struct oauth_err_info {
	const char *code;        /* the "error" member; NULL: none is sent */
	int http_status;
	const char *description; /* default "error_description" */
	enum oauth_challenge challenge;
};

const struct oauth_err_info *oauth_err_info(enum oauth_err e);
/* The same refusal at a resource for a token sent with the DPoP scheme
 * (RFC 9449 section 7.1): its challenge is DPoP's. */
enum oauth_err oauth_err_dpop(enum oauth_err e);

/* A result with an optional, static, user-safe description that overrides
 * the table's default. Never internal detail: that goes to the log. */
struct oauth_result {
	enum oauth_err err;
	const char *description;
	/* OAUTH_INSUFFICIENT_SCOPE: the scope the request needs, named in
	 * the challenge (RFC 6750 section 3); borrowed, valid until the
	 * answer is rendered. NULL otherwise. */
	const char *scope;
};

#define OAUTH_RESULT_OK ((struct oauth_result){.err = OAUTH_OK})
#define OAUTH_FAIL(e, d) ((struct oauth_result){.err = (e), .description = (d)})

#endif
