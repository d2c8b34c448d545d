/*
 * validate.c: the syntax rules of client and user settings (validate.h),
 * shared by the admin CLI and latchkeyd's fixtures file.
 *
 * Each rule cites where it comes from: RFC 3986 for ids and URIs, RFC 6749
 * for secrets, scopes, grant types and redirect URIs, migration 0002 for
 * the on_refresh policies, RFC 9068 for audiences and the user id prefix
 * that client ids may not take. Whether a client or user exists is not
 * checked here; that is the store's business.
 */
#include "validate.h"

#include <string.h>
#include <strings.h>

#include "strutil.h"

static bool all_chars(const char *s, size_t min, size_t max,
                      bool (*ok)(unsigned char c))
{
	size_t len = strlen(s);
	if (len < min || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!ok((unsigned char)s[i]))
			return false;
	return true;
}

/* RFC 3986 section 2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
 * Such an id needs no escaping in a URL, a form body or Basic auth. */
static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static bool vschar(unsigned char c) { return c >= 0x20 && c <= 0x7e; }
static bool visible(unsigned char c) { return c > 0x20 && c < 0x7f; }

bool valid_client_id_reserved(const char *id)
{
	return strncmp(id, VALID_USER_ID_PREFIX,
	               sizeof(VALID_USER_ID_PREFIX) - 1) == 0;
}

bool valid_client_id(const char *id)
{
	return all_chars(id, 1, VALID_CLIENT_ID_MAX, unreserved) &&
	       !valid_client_id_reserved(id);
}

bool valid_client_name(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > VALID_CLIENT_NAME_MAX || !utf8_valid(name, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		/* C0 controls, DEL, and C1 controls (U+0080-U+009F). */
		if (c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && (unsigned char)name[i + 1] < 0xa0))
			return false;
	}
	return true;
}

bool valid_secret(const char *secret)
{
	return all_chars(secret, 1, VALID_SECRET_MAX, vschar);
}

/* Issue 12: a secret a person picked may be short enough to guess online;
 * a generated one has 256 bits. */
bool valid_secret_chosen(const char *secret)
{
	return valid_secret(secret) &&
	       strlen(secret) >= VALID_SECRET_CHOSEN_MIN;
}

bool valid_audience(const char *aud)
{
	return all_chars(aud, 1, VALID_AUDIENCE_MAX, visible);
}

bool valid_scope(const char *scope)
{
	return scope_token_valid(scope, strlen(scope));
}

/* The grant types the server implements, by their RFC 6749 names. */
static const char *const grant_types[] = {
	"authorization_code", /* section 4.1 */
	"password",           /* section 4.3 */
	"client_credentials", /* section 4.4 */
	"refresh_token",      /* section 6 */
	VALID_GRANT_TOKEN_EXCHANGE, /* RFC 8693 */
	VALID_GRANT_DEVICE_CODE,    /* RFC 8628 */
	VALID_GRANT_JWT_BEARER,     /* RFC 7523 section 2.1 */
};

#define NGRANT_TYPES (sizeof(grant_types) / sizeof(grant_types[0]))

const char *valid_grant_type_urn(const char *name)
{
	/* The short names an operator types (DECISIONS: the CLI takes both,
	 * and prints the URNs). */
	if (strcmp(name, "token-exchange") == 0)
		return VALID_GRANT_TOKEN_EXCHANGE;
	if (strcmp(name, "device-code") == 0)
		return VALID_GRANT_DEVICE_CODE;
	if (strcmp(name, "jwt-bearer") == 0)
		return VALID_GRANT_JWT_BEARER;
	return name;
}

bool valid_grant_type(const char *grant)
{
	for (size_t i = 0; i < NGRANT_TYPES; i++)
		if (strcmp(grant, grant_types[i]) == 0)
			return true;
	return false;
}

static bool alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* RFC 3986 section 3.2: authority = [ userinfo "@" ] host [ ":" port ]. */
static bool authority_has_host(const char *auth, size_t len)
{
	const char *end = auth + len;
	const char *at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	const char *host = at != NULL ? at + 1 : auth;
	const char *host_end;
	if (host < end && *host == '[') { /* IP-literal */
		host_end = memchr(host, ']', (size_t)(end - host));
		if (host_end == NULL || host_end == host + 1)
			return false;
		host_end++;
	} else {
		host_end = memchr(host, ':', (size_t)(end - host));
		if (host_end == NULL)
			host_end = end;
		if (host_end == host)
			return false;
	}
	if (host_end == end)
		return true;
	if (*host_end != ':')
		return false;
	for (const char *p = host_end + 1; p < end; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

bool valid_redirect_uri(const char *uri)
{
	size_t len = strlen(uri);
	if (len == 0 || len > VALID_REDIRECT_URI_MAX)
		return false;
	/* Printable ASCII without space: RFC 3986 has no raw whitespace,
	 * control or non-ASCII characters. The fragment is excluded by RFC
	 * 6749 section 3.1.2. */
	for (size_t i = 0; i < len; i++)
		if (!visible((unsigned char)uri[i]) || uri[i] == '#')
			return false;
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	size_t s = 0;
	if (!alpha((unsigned char)uri[0]))
		return false;
	while (alpha((unsigned char)uri[s]) ||
	       (uri[s] >= '0' && uri[s] <= '9') || uri[s] == '+' ||
	       uri[s] == '-' || uri[s] == '.')
		s++;
	if (uri[s] != ':' || uri[s + 1] == '\0')
		return false;
	bool web = (s == 4 && strncasecmp(uri, "http", 4) == 0) ||
	           (s == 5 && strncasecmp(uri, "https", 5) == 0);
	if (!web)
		return true;
	const char *rest = uri + s + 1;
	if (strncmp(rest, "//", 2) != 0)
		return false;
	rest += 2;
	return authority_has_host(rest, strcspn(rest, "/?"));
}

bool valid_username(const char *username)
{
	return all_chars(username, 1, VALID_USERNAME_MAX, visible);
}

bool valid_password_length(size_t len)
{
	return len >= VALID_PASSWORD_MIN && len <= VALID_PASSWORD_MAX;
}

bool valid_ttl(int64_t seconds)
{
	return seconds >= 1 && seconds <= VALID_TTL_MAX;
}

/* What a refresh may do to the access token issued with the refresh token
 * (the values the clients.on_refresh column allows, migration 0002). */
static const char *const on_refresh_policies[] = {"nothing", "revoke", "hook"};

const char *valid_on_refresh(const char *s)
{
	for (size_t i = 0; i < sizeof(on_refresh_policies) /
	                           sizeof(on_refresh_policies[0]); i++)
		if (strcmp(s, on_refresh_policies[i]) == 0)
			return on_refresh_policies[i];
	return NULL;
}

const char *valid_grants_check(bool is_public, const char *grant_type_list)
{
	static const char cc[] = "client_credentials";
	if (words_count(grant_type_list) == 0)
		return "a client needs at least one grant type";
	if (is_public && words_contains(grant_type_list, cc, sizeof(cc) - 1))
		return "a public client cannot use the client_credentials "
		       "grant (RFC 6749 section 4.4: confidential clients "
		       "only)";
	if (is_public && words_contains(grant_type_list,
	                                VALID_GRANT_TOKEN_EXCHANGE,
	                                sizeof(VALID_GRANT_TOKEN_EXCHANGE) - 1))
		return "a public client cannot exchange tokens: the grant "
		       "acts for a service that authenticates";
	return NULL;
}

const char *valid_introspect_check(bool is_public, bool introspect)
{
	if (is_public && introspect)
		return "a public client cannot introspect (RFC 7662 section "
		       "2.1: the caller authenticates as a confidential "
		       "client)";
	return NULL;
}

bool valid_claim_reserved(const char *name)
{
	static const char *const reserved[] = {
		"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time",
		"nonce", "acr", "amr", "azp", "at_hash", "c_hash", "sid",
		"client_id", "scope", "cnf", "act", "may_act", NULL,
	};
	for (size_t i = 0; reserved[i] != NULL; i++)
		if (strcmp(name, reserved[i]) == 0)
			return true;
	return false;
}

bool valid_claim_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > VALID_CLAIM_NAME_MAX || valid_claim_reserved(name))
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f)
			return false;
	return true;
}

bool valid_request_id(const char *id, size_t max)
{
	size_t n = strlen(id);
	return n > 0 && n <= max &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                  "0123456789-_.:+/=@") == n;
}

bool valid_prefix_path(const char *p)
{
	size_t n = strlen(p);
	if (n < 2 || n > 200 || p[0] != '/' || p[n - 1] == '/' ||
	    strcmp(p, "/_control") == 0 || strncmp(p, "/_control/", 10) == 0)
		return false;
	for (const char *q = p; *q; q++)
		if (*q <= 0x20 || *q >= 0x7f || *q == '?' || *q == '#' ||
		    *q == '%')
			return false;
	return true;
}
