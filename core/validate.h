/*
 * validate.h: the rules every client and user setting must follow, wherever
 * it comes from: the admin CLI's options (admin-cli/) or latchkeyd's
 * fixtures file (testdouble/fixtures.c). One definition, so a value the CLI
 * refuses is refused by the fixtures file too, with the same words.
 *
 * Each check takes a borrowed string and returns whether it is acceptable;
 * nothing here allocates. The syntax of the caller (the CLI's 'default'
 * word, JSON types) stays with the caller. The VALID_*_RULE strings say
 * what an acceptable value looks like, for error messages.
 */
#ifndef LK_VALIDATE_H
#define LK_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VALID_CLIENT_ID_MAX 128
#define VALID_CLIENT_NAME_MAX 256
#define VALID_SECRET_MAX 512
/* A secret the operator chooses (`client add --secret`) needs this many
 * characters unless --allow-weak-secret; fixtures only warn. */
#define VALID_SECRET_CHOSEN_MIN 16
#define VALID_AUDIENCE_MAX 2048
/* What every user_id starts with (`latchkey user add`, fixtures): the sub
 * of a user's tokens. Client ids may not start with it, so the sub of a
 * client's tokens (its id) never equals a user's (RFC 9068 section 5). */
#define VALID_USER_ID_PREFIX "u_"
#define VALID_REDIRECT_URI_MAX 2048
#define VALID_USERNAME_MAX 128
#define VALID_PASSWORD_MIN 8
#define VALID_PASSWORD_MAX 1024
#define VALID_TTL_MAX 31536000 /* one year, in seconds */
#define VALID_CLAIM_NAME_MAX 128

/* Two steps, so the macro's value is quoted rather than its name. */
#define VALID_STR_(x) #x
#define VALID_STR(x) VALID_STR_(x)

#define VALID_CLIENT_ID_RULE \
	"1 to " VALID_STR(VALID_CLIENT_ID_MAX) " characters of " \
	"A-Z a-z 0-9 . _ ~ -"
#define VALID_CLIENT_ID_RESERVED_RULE \
	"ids starting with " VALID_USER_ID_PREFIX " are reserved for users " \
	"(the sub of their tokens; RFC 9068 section 5)"
#define VALID_CLIENT_NAME_RULE \
	"1 to " VALID_STR(VALID_CLIENT_NAME_MAX) " bytes of UTF-8 without " \
	"control characters"
#define VALID_SECRET_RULE \
	"1 to " VALID_STR(VALID_SECRET_MAX) " printable ASCII characters"
#define VALID_SECRET_CHOSEN_RULE \
	"a chosen secret needs at least " VALID_STR(VALID_SECRET_CHOSEN_MIN) \
	" characters"
#define VALID_AUDIENCE_RULE \
	"1 to " VALID_STR(VALID_AUDIENCE_MAX) " printable ASCII characters " \
	"without spaces (a URI such as https://api.example, or a name)"
#define VALID_SCOPE_RULE \
	"a scope is printable ASCII without space, '\"' or '\\' " \
	"(RFC 6749 section 3.3)"
#define VALID_GRANT_TYPE_RULE \
	"known grant types are authorization_code, client_credentials, " \
	"password, refresh_token, token-exchange (" \
	VALID_GRANT_TOKEN_EXCHANGE "), device-code (" \
	VALID_GRANT_DEVICE_CODE ") and jwt-bearer (" \
	VALID_GRANT_JWT_BEARER ")"
/* RFC 8693's grant, and what a short name stands for ("token-exchange"
 * is the URN; any other name is itself). */
#define VALID_GRANT_TOKEN_EXCHANGE \
	"urn:ietf:params:oauth:grant-type:token-exchange"
/* RFC 7523 section 2.1's grant ("jwt-bearer"). */
#define VALID_GRANT_JWT_BEARER \
	"urn:ietf:params:oauth:grant-type:jwt-bearer"
/* RFC 8628's grant ("device-code"). */
#define VALID_GRANT_DEVICE_CODE \
	"urn:ietf:params:oauth:grant-type:device_code"
const char *valid_grant_type_urn(const char *name);
#define VALID_REDIRECT_URI_RULE \
	"an absolute URI (scheme:...) without fragment, spaces or non-ASCII " \
	"characters; http and https URIs need //host"
#define VALID_TTL_RULE \
	"a whole number of seconds from 1 to " VALID_STR(VALID_TTL_MAX)
#define VALID_ON_REFRESH_RULE "one of nothing, revoke, hook"
#define VALID_CLAIM_NAME_RULE \
	"a claim name is 1 to " VALID_STR(VALID_CLAIM_NAME_MAX) " printable " \
	"ASCII characters without spaces, and not one the server sets " \
	"(iss, sub, aud, exp, iat, nbf, jti, auth_time, nonce, acr, amr, " \
	"azp, at_hash, c_hash, sid, client_id, scope, cnf, act, may_act)"
#define VALID_USERNAME_RULE \
	"1 to " VALID_STR(VALID_USERNAME_MAX) " printable ASCII characters " \
	"without spaces"
#define VALID_PASSWORD_RULE \
	"the password must be " VALID_STR(VALID_PASSWORD_MIN) " to " \
	VALID_STR(VALID_PASSWORD_MAX) " bytes long"

/* 1-128 characters of [A-Za-z0-9._~-] (RFC 3986 unreserved), not
 * starting with VALID_USER_ID_PREFIX. */
bool valid_client_id(const char *id);
/* Whether id starts with VALID_USER_ID_PREFIX, for the message that says
 * why valid_client_id refused it. Ids already stored keep working. */
bool valid_client_id_reserved(const char *id);
/* 1-256 bytes of UTF-8 without control characters (C0, DEL, C1). */
bool valid_client_name(const char *name);
/* 1-512 characters of %x20-7E (RFC 6749 appendix A.2, VSCHAR). */
bool valid_secret(const char *secret);
/* A valid_secret of at least VALID_SECRET_CHOSEN_MIN characters. */
bool valid_secret_chosen(const char *secret);
/* One aud value (RFC 9068 section 2.2, RFC 7519 section 4.1.3): 1-2048
 * characters of %x21-7E, so a list of them is space-separated like the
 * other lists. */
bool valid_audience(const char *aud);
/* One RFC 6749 section 3.3 scope-token. */
bool valid_scope(const char *scope);
/* One of the grant types Latchkey implements, by its exact name. */
bool valid_grant_type(const char *grant);
/* An absolute URI without fragment (RFC 6749 section 3.1.2); http and
 * https URIs need an authority with a host. */
bool valid_redirect_uri(const char *uri);
/* 1-128 characters of printable ASCII other than space. */
bool valid_username(const char *username);
/* A path an issuer's endpoints are served under (issuer_path, a
 * tenant's path): "/" and up to 200 characters of printable ASCII
 * without '?', '#' or '%', not ending in '/', never /_control/ or under
 * it. */
bool valid_prefix_path(const char *p);
#define VALID_PREFIX_PATH_RULE                                              \
	"a path starts with '/', does not end with one, and holds at most "    \
	"200 characters of printable ASCII without '?', '#' or '%' (and not "  \
	"/_control)"
/* VALID_PASSWORD_MIN..VALID_PASSWORD_MAX bytes. */
bool valid_password_length(size_t len);
/* A lifetime of 1..VALID_TTL_MAX seconds. */
bool valid_ttl(int64_t seconds);
/* The on_refresh policy named s ("nothing", "revoke", "hook"; exact,
 * lowercase) as a static string, or NULL when s names none. */
const char *valid_on_refresh(const char *s);
/* NULL when a client of this type may have these grant types (a space-
 * separated list), else why not, as a static sentence: at least one is
 * needed, and RFC 6749 section 4.4 keeps client_credentials for
 * confidential clients. */
const char *valid_grants_check(bool is_public, const char *grant_types);
/* NULL when a client of this type may have the introspect flag, else why
 * not: a public client cannot authenticate to /introspect (RFC 7662
 * section 2.1). */
const char *valid_introspect_check(bool is_public, bool introspect);

/* A claim a user or a client may be given (user claims, a client's
 * access-token claims): printable ASCII, and none of the names the server
 * itself sets in tokens (valid_claim_reserved). */
bool valid_claim_name(const char *name);
/* Whether the server sets this claim itself (JWT, RFC 9068, OpenID
 * Connect Core): never taken from a user's or a client's claims. */
bool valid_claim_reserved(const char *name);

/* An X-Request-Id a proxy or client set is kept when it could not
 * disturb a log line or a header: 1 to max characters of letters,
 * digits and "-_.:+/=@" (UUIDs, hex, base64, W3C trace ids). */
bool valid_request_id(const char *id, size_t max);

#endif
