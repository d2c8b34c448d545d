/*
 * client_spec.c: a client as a user describes it. The one place that
 * knows which fields an operator may set, what each must be (core's
 * rules, validate.h), what is filled in when left out, and how a stored
 * client reads as JSON. `latchkey client add|update|show` and the test
 * double's --fixtures file are thin front-ends over it: each reads its
 * own syntax (options and the word 'default'; JSON keys and types) into
 * a struct client_value, hands it to client_spec_set with the field it
 * names, and words the refusal in its own dialect.
 *
 * Why storage: the CLI may depend on storage and core only, and the test
 * double (which sits above server) uses storage too; a client spec is a
 * description of storage's own record, struct store_client, so this is
 * the lowest module both reach. It uses core (the rules) and jansson
 * (the JSON), never grants or server.
 *
 * Ownership: client_spec_set replaces a field with a copy of the value;
 * the strings of struct client_value stay the caller's.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "crypto.h"
#include "jws.h"
#include "store.h"
#include "strutil.h"
#include "validate.h"

/* An approver is a username, or "" for off. */
static bool valid_approver(const char *s)
{
	return *s == '\0' || valid_username(s);
}

/* RFC 7591's token_endpoint_auth_method, of those a confidential client
 * may be given ("none" is a public client: --public). */
static bool valid_auth_method(const char *s)
{
	return strcmp(s, "client_secret_basic") == 0 ||
	       strcmp(s, "client_secret_post") == 0 ||
	       strcmp(s, "private_key_jwt") == 0 ||
	       strcmp(s, "tls_client_auth") == 0 ||
	       strcmp(s, "self_signed_tls_client_auth") == 0;
}

/* RFC 8705 section 2.1.2: a subject DN (RFC 4514) or a subjectAltName,
 * compared exactly with what the certificate holds: printable ASCII,
 * spaces allowed inside a DN. */
static bool valid_cert_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 1024 || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static bool valid_san_dns(const char *s)
{
	return valid_cert_name(s) && strchr(s, ' ') == NULL;
}

/* Where a client publishes its keys: an https URL (http for a server
 * that allows private addresses is checked when fetching, not here). */
static bool valid_jwks_uri(const char *s)
{
	return valid_redirect_uri(s) && (strncasecmp(s, "https://", 8) == 0 ||
	                                 strncasecmp(s, "http://", 7) == 0);
}

/* OpenID Connect Dynamic Client Registration's
 * id_token_signed_response_alg, of the algorithms Latchkey signs with. */
static bool valid_id_token_alg(const char *s)
{
	return strcmp(s, "RS256") == 0 || strcmp(s, "ES256") == 0;
}

const struct client_field_def client_field_defs[CLIENT_F__MAX] = {
	[CLIENT_F_NAME] = {"name", CLIENT_V_TEXT, "client name",
	                   VALID_CLIENT_NAME_RULE, valid_client_name, false},
	[CLIENT_F_PUBLIC] = {"public", CLIENT_V_BOOL, NULL, NULL, NULL, false},
	[CLIENT_F_GRANTS] = {"grants", CLIENT_V_WORDS, "grant type",
	                     VALID_GRANT_TYPE_RULE, valid_grant_type, true},
	[CLIENT_F_SCOPES] = {"scopes", CLIENT_V_WORDS, "scope",
	                     VALID_SCOPE_RULE, valid_scope, false},
	[CLIENT_F_REDIRECT_URIS] = {"redirect_uris", CLIENT_V_WORDS,
	                            "redirect URI", VALID_REDIRECT_URI_RULE,
	                            valid_redirect_uri, false},
	[CLIENT_F_ACCESS_TTL] = {"access_token_ttl", CLIENT_V_TTL,
	                         "access-token lifetime", VALID_TTL_RULE, NULL,
	                         false},
	[CLIENT_F_REFRESH_TTL] = {"refresh_token_ttl", CLIENT_V_TTL,
	                          "refresh-token lifetime", VALID_TTL_RULE,
	                          NULL, false},
	[CLIENT_F_ON_REFRESH] = {"on_refresh", CLIENT_V_POLICY,
	                         "on-refresh policy", VALID_ON_REFRESH_RULE,
	                         NULL, false},
	[CLIENT_F_ISSUE_REFRESH] = {"issue_refresh_token", CLIENT_V_TRISTATE,
	                            NULL, NULL, NULL, false},
	[CLIENT_F_AUTO_APPROVE] = {"auto_approve_as", CLIENT_V_APPROVER, "user",
	                           VALID_USERNAME_RULE, valid_approver, false},
	[CLIENT_F_AUDIENCES] = {"audiences", CLIENT_V_WORDS, "audience",
	                        VALID_AUDIENCE_RULE, valid_audience, false},
	[CLIENT_F_INTROSPECT] = {"introspect", CLIENT_V_BOOL, NULL, NULL, NULL,
	                         false},
	/* ---- OpenID Connect claims (docs/openid-connect.md, "Claims") */
	[CLIENT_F_ACCESS_TOKEN_CLAIMS] = {"access_token_claims", CLIENT_V_CLAIMS,
	                                  "access-token claim",
	                                  VALID_CLAIM_NAME_RULE, NULL, false},
	[CLIENT_F_RELEASE_CLAIMS] = {"release_claims", CLIENT_V_WORDS,
	                             "claim name", VALID_CLAIM_NAME_RULE,
	                             valid_claim_name, false},
	/* OpenID Connect: ID tokens */
	[CLIENT_F_ID_TOKEN_ALG] = {"id_token_signed_response_alg",
	                           CLIENT_V_TEXT, "ID-token algorithm",
	                           "RS256 or ES256", valid_id_token_alg, true},
	[CLIENT_F_REQUIRE_NONCE] = {"require_nonce", CLIENT_V_BOOL, NULL, NULL,
	                            NULL, false},
	/* RP-Initiated Logout 1.0: where /logout may send the browser back
	 * (the redirect URIs' rule), and whether a logout revokes the refresh
	 * tokens of the ended session. */
	[CLIENT_F_POST_LOGOUT_URIS] = {"post_logout_redirect_uris",
	                               CLIENT_V_WORDS,
	                               "post-logout redirect URI",
	                               VALID_REDIRECT_URI_RULE,
	                               valid_redirect_uri, false},
	[CLIENT_F_LOGOUT_REVOKES] = {"logout_revokes_refresh_tokens",
	                             CLIENT_V_BOOL, NULL, NULL, NULL, false},
	/* issue 17: the only clients that may hold latchkey:admin */
	[CLIENT_F_ADMIN] = {"admin", CLIENT_V_BOOL, NULL, NULL, NULL, false},
	/* issue 19: a client that signs its own assertions (RFC 7523) */
	[CLIENT_F_JWKS] = {"jwks", CLIENT_V_JWKS, "JWKS",
	                   "a JSON object whose \"keys\" hold 1 to 16 public "
	                   "RSA (2048 to 4096 bits) or P-256 keys", NULL, false},
	[CLIENT_F_AUTH_METHOD] = {"token_endpoint_auth_method", CLIENT_V_TEXT,
	                          "token endpoint auth method",
	                          "client_secret_basic, client_secret_post, "
	                          "private_key_jwt, tls_client_auth or "
	                          "self_signed_tls_client_auth",
	                          valid_auth_method, true},
	[CLIENT_F_JWKS_URI] = {"jwks_uri", CLIENT_V_TEXT, "JWKS URI",
	                       "an http or https URL without a fragment",
	                       valid_jwks_uri, false},
	/* issue 19: DPoP-bound tokens only (RFC 9449 section 5.2) */
	[CLIENT_F_REQUIRE_DPOP] = {"require_dpop", CLIENT_V_BOOL, NULL, NULL,
	                           NULL, false},
	/* issue 19: what a tls_client_auth client's certificate names (RFC
	 * 8705 section 2.1.2) */
	[CLIENT_F_TLS_SUBJECT_DN] = {"tls_client_auth_subject_dn",
	                             CLIENT_V_TEXT, "certificate subject DN",
	                             "an RFC 4514 distinguished name, 1 to 1024 "
	                             "printable ASCII characters",
	                             valid_cert_name, false},
	[CLIENT_F_TLS_SAN_DNS] = {"tls_client_auth_san_dns", CLIENT_V_TEXT,
	                          "certificate DNS name",
	                          "a DNS name, 1 to 1024 printable ASCII "
	                          "characters without spaces",
	                          valid_san_dns, false},
	[CLIENT_F_TLS_SAN_URI] = {"tls_client_auth_san_uri", CLIENT_V_TEXT,
	                          "certificate URI",
	                          "a URI, 1 to 1024 printable ASCII characters "
	                          "without spaces",
	                          valid_san_dns, false},
};

/* ---- words -------------------------------------------------------------- */

/* Adds one word unless it is already there; false when valid refuses it. */
static bool collect_one(const char *w, size_t len,
                        bool (*valid)(const char *word), char **list,
                        char **bad)
{
	char *word = strndup(w, len);
	if (word == NULL)
		abort();
	if (!valid(word)) {
		*bad = word;
		return false;
	}
	if (!words_contains(*list, w, len))
		words_append(list, w, len);
	free(word);
	return true;
}

bool client_words_collect(const char *const *v, size_t n, int how,
                          bool (*valid)(const char *word), char **list,
                          char **bad)
{
	char *out = xstrdup("");
	bool ok = true;
	*bad = NULL;
	for (size_t i = 0; i < n && ok; i++) {
		size_t len;
		if (!(how & CLIENT_WORDS_SPLIT)) {
			if (*v[i] != '\0' || !(how & CLIENT_WORDS_SKIP_EMPTY))
				ok = collect_one(v[i], strlen(v[i]), valid, &out,
				                 bad);
			continue;
		}
		for (const char *w = words_next(v[i], &len); w != NULL && ok;
		     w = words_next(w + len, &len))
			ok = collect_one(w, len, valid, &out, bad);
	}
	if (!ok) {
		free(out);
		out = NULL;
	}
	*list = out;
	return ok;
}

/* ---- setting a field ---------------------------------------------------- */

/* The string member of c that field f is, or NULL for the others. */
static char **text_slot(struct store_client *c, enum client_field f)
{
	switch (f) {
	case CLIENT_F_NAME: return &c->name;
	case CLIENT_F_GRANTS: return &c->grant_types;
	case CLIENT_F_SCOPES: return &c->scopes;
	case CLIENT_F_REDIRECT_URIS: return &c->redirect_uris;
	case CLIENT_F_ON_REFRESH: return &c->on_refresh;
	case CLIENT_F_AUTO_APPROVE: return &c->auto_approve_as;
	case CLIENT_F_AUDIENCES: return &c->audiences;
	case CLIENT_F_ACCESS_TOKEN_CLAIMS: return &c->access_token_claims;
	case CLIENT_F_RELEASE_CLAIMS: return &c->release_claims;
	case CLIENT_F_POST_LOGOUT_URIS: return &c->post_logout_redirect_uris;
	case CLIENT_F_ID_TOKEN_ALG: return &c->id_token_alg;
	case CLIENT_F_JWKS: return &c->jwks;
	case CLIENT_F_AUTH_METHOD: return &c->auth_method;
	case CLIENT_F_JWKS_URI: return &c->jwks_uri;
	case CLIENT_F_TLS_SUBJECT_DN: return &c->tls_subject_dn;
	case CLIENT_F_TLS_SAN_DNS: return &c->tls_san_dns;
	case CLIENT_F_TLS_SAN_URI: return &c->tls_san_uri;
	default: return NULL;
	}
}

/* The bool member of c that field f is, or NULL for the others. */
static bool *bool_slot(struct store_client *c, enum client_field f)
{
	switch (f) {
	case CLIENT_F_PUBLIC: return &c->is_public;
	case CLIENT_F_INTROSPECT: return &c->introspect;
	case CLIENT_F_REQUIRE_NONCE: return &c->require_nonce;
	case CLIENT_F_LOGOUT_REVOKES: return &c->logout_revokes_refresh_tokens;
	case CLIENT_F_ADMIN: return &c->is_admin;
	case CLIENT_F_REQUIRE_DPOP: return &c->require_dpop;
	default: return NULL;
	}
}

static void replace(char **slot, char *value)
{
	free(*slot);
	*slot = value;
}

/* One string, or the server's setting: NULL in the store. The policy
 * is stored by its canonical static name. */
static bool set_text(struct store_client *c, enum client_field f,
                     const struct client_value *v, char **bad)
{
	const struct client_field_def *d = &client_field_defs[f];
	if (v->server_setting) {
		replace(text_slot(c, f), NULL);
		return true;
	}
	const char *s = v->words[0];
	bool ok = d->type == CLIENT_V_POLICY ? valid_on_refresh(s) != NULL
	                                      : d->valid(s);
	if (!ok) {
		*bad = xstrdup(s);
		return false;
	}
	replace(text_slot(c, f), xstrdup(d->type == CLIENT_V_POLICY
	                                     ? valid_on_refresh(s)
	                                     : s));
	return true;
}

/* A whole set of claims, as JSON text; *bad names the claim refused
 * (or is the text, when it is no object of claims). Stored as
 * claims_dump writes it. */
static bool set_claims(struct store_client *c, enum client_field f,
                       const struct client_value *v, char **bad)
{
	json_t *o = claims_load(v->words[0]);
	const char *name = NULL;
	if (o == NULL || claims_check(o, &name) != NULL) {
		*bad = xstrdup(name != NULL ? name : v->words[0]);
		json_decref(o);
		return false;
	}
	replace(text_slot(c, f), claims_dump(o));
	json_decref(o);
	return true;
}

/* Grant types, a short name stored as its URN (valid_grant_type_urn):
 * `--grant token-exchange` and the URN are the same grant. No front-end
 * splits grant lists (each word is its own value). */
static bool set_grants(struct store_client *c, const struct client_value *v,
                       char **bad)
{
	const char **words = xcalloc(v->n + 1, sizeof(*words));
	char *list = NULL;
	for (size_t i = 0; i < v->n; i++)
		words[i] = valid_grant_type_urn(v->words[i]);
	bool ok = client_words_collect(words, v->n, v->how, valid_grant_type,
	                               &list, bad);
	if (ok)
		replace(&c->grant_types, list);
	free(words);
	return ok;
}

/* A JWKS document, or none (server_setting, or ""); stored compact. */
static bool set_jwks(struct store_client *c, const struct client_value *v,
                     char **bad)
{
	if (v->server_setting || v->words[0][0] == '\0') {
		replace(&c->jwks, NULL);
		return true;
	}
	const char *why = jwks_check(v->words[0]);
	if (why != NULL) {
		*bad = xstrdup(why);
		return false;
	}
	json_t *doc = json_loads(v->words[0], 0, NULL);
	replace(&c->jwks, json_dumps(doc, JSON_COMPACT));
	json_decref(doc);
	return c->jwks != NULL;
}

bool client_spec_uses_keys(const struct store_client *c)
{
	return c->auth_method != NULL &&
	       strcmp(c->auth_method, "private_key_jwt") == 0;
}

bool client_spec_uses_cert(const struct store_client *c)
{
	return c->auth_method != NULL &&
	       (strcmp(c->auth_method, "tls_client_auth") == 0 ||
	        strcmp(c->auth_method, "self_signed_tls_client_auth") == 0);
}

bool client_spec_secretless(const struct store_client *c)
{
	return client_spec_uses_keys(c) || client_spec_uses_cert(c);
}

/* How many of the names a tls_client_auth certificate is matched on. */
static int cert_names(const struct store_client *c)
{
	return (c->tls_subject_dn != NULL) + (c->tls_san_dns != NULL) +
	       (c->tls_san_uri != NULL);
}

bool client_spec_set(struct store_client *c, enum client_field f,
                     const struct client_value *v, char **bad)
{
	const struct client_field_def *d = &client_field_defs[f];
	char *list;
	*bad = NULL;
	switch (d->type) {
	case CLIENT_V_TEXT:
	case CLIENT_V_POLICY:
	case CLIENT_V_APPROVER:
		return set_text(c, f, v, bad);
	case CLIENT_V_WORDS:
		if (f == CLIENT_F_GRANTS)
			return set_grants(c, v, bad);
		if (!client_words_collect(v->words, v->n, v->how, d->valid,
		                          &list, bad))
			return false;
		replace(text_slot(c, f), list);
		return true;
	case CLIENT_V_TTL:
		if (!v->server_setting && !valid_ttl(v->seconds))
			return false;
		*(f == CLIENT_F_ACCESS_TTL ? &c->access_token_ttl
		                           : &c->refresh_token_ttl) =
		    v->server_setting ? 0 : v->seconds;
		return true;
	case CLIENT_V_BOOL:
		*bool_slot(c, f) = v->state == STORE_ON;
		return true;
	case CLIENT_V_TRISTATE:
		c->issue_refresh_token = v->state;
		return true;
	case CLIENT_V_CLAIMS:
		return set_claims(c, f, v, bad);
	case CLIENT_V_JWKS:
		return set_jwks(c, v, bad);
	}
	return false;
}

const char *client_spec_id_rule(const char *id)
{
	/* The user id prefix gets its own rule: valid_client_id refuses it
	 * too, but its rule would not say why. */
	if (valid_client_id_reserved(id))
		return VALID_CLIENT_ID_RESERVED_RULE;
	return valid_client_id(id) ? NULL : VALID_CLIENT_ID_RULE;
}

static void default_text(char **slot, const char *value)
{
	if (*slot == NULL)
		*slot = xstrdup(value);
}

/* The scope latchkey:admin (CLIENT_ADMIN_SCOPE) is in the scopes of an
 * admin client and of no other, whatever the list given: the flag is what
 * an operator sets, and a scope list replaced later cannot drop it or
 * smuggle it in. */
static void admin_scope(struct store_client *c)
{
	static const char word[] = CLIENT_ADMIN_SCOPE;
	char *out = xstrdup("");
	size_t len;
	for (const char *w = words_next(c->scopes, &len); w != NULL;
	     w = words_next(w + len, &len))
		if (len != sizeof(word) - 1 || memcmp(w, word, len) != 0)
			words_append(&out, w, len);
	if (c->is_admin)
		words_append(&out, word, sizeof(word) - 1);
	free(c->scopes);
	c->scopes = out;
}

const char *client_spec_finish(struct store_client *c,
                               enum client_field *where)
{
	if (c->client_id != NULL)
		default_text(&c->name, c->client_id);
	/* RFC 6749 section 4.4 rules client_credentials out for public
	 * clients, so each kind gets a default it can use. */
	default_text(&c->grant_types, c->is_public
	                                  ? "authorization_code refresh_token"
	                                  : "client_credentials");
	default_text(&c->scopes, "");
	default_text(&c->redirect_uris, "");
	default_text(&c->audiences, "");
	default_text(&c->access_token_claims, "{}");
	default_text(&c->release_claims, "");
	default_text(&c->post_logout_redirect_uris, "");
	admin_scope(c);
	*where = CLIENT_F_GRANTS;
	const char *why = valid_grants_check(c->is_public, c->grant_types);
	if (why != NULL)
		return why;
	*where = CLIENT_F_ADMIN;
	if (c->is_admin && c->is_public)
		return "an admin client must be confidential: the admin API "
		       "takes only tokens it got with its own secret";
	if (client_spec_secretless(c)) {
		crypto_free_str(c->secret_hash);
		crypto_free_str(c->previous_secret_hash);
		c->secret_hash = xstrdup(CLIENT_NO_SECRET);
		c->previous_secret_hash = NULL;
		c->previous_secret_expires_at = 0;
	}
	*where = CLIENT_F_AUTH_METHOD;
	if (c->is_public && (c->auth_method != NULL || c->jwks != NULL ||
	                     c->jwks_uri != NULL || cert_names(c) > 0))
		return "a public client authenticates with its client_id only: "
		       "no token_endpoint_auth_method, jwks, jwks_uri or "
		       "tls_client_auth_*";
	*where = CLIENT_F_JWKS_URI;
	/* OpenID Connect Dynamic Client Registration section 2: not both */
	if (c->jwks != NULL && c->jwks_uri != NULL)
		return "give the client's keys as jwks or as jwks_uri, not both";
	*where = CLIENT_F_AUTH_METHOD;
	if (client_spec_uses_keys(c) && c->jwks == NULL && c->jwks_uri == NULL)
		return "private_key_jwt needs the client's public keys (jwks "
		       "or jwks_uri)";
	bool pki = c->auth_method != NULL &&
	           strcmp(c->auth_method, "tls_client_auth") == 0;
	if (client_spec_uses_cert(c) && !pki &&
	    (c->jwks_uri == NULL
	         ? c->jwks == NULL || !jwks_has_cert(c->jwks, NULL)
	         : false))
		return "self_signed_tls_client_auth needs the client's "
		       "certificates: keys with x5c in jwks, or a jwks_uri";
	*where = CLIENT_F_ADMIN;
	if (c->is_admin && client_spec_uses_cert(c))
		return "an admin client cannot authenticate with a TLS client "
		       "certificate: its tokens would be bound to it, and the "
		       "admin API takes no bound tokens";
	*where = CLIENT_F_TLS_SUBJECT_DN;
	if (pki && cert_names(c) != 1)
		return "tls_client_auth needs exactly one of "
		       "tls_client_auth_subject_dn, tls_client_auth_san_dns and "
		       "tls_client_auth_san_uri";
	if (!pki && cert_names(c) > 0)
		return "tls_client_auth_* names the certificate of a "
		       "tls_client_auth client only";
	*where = CLIENT_F_INTROSPECT;
	return valid_introspect_check(c->is_public, c->introspect);
}

void client_spec_rotate_secret(struct store_client *c, char *new_hash,
                               int64_t now, int64_t grace)
{
	crypto_free_str(c->previous_secret_hash);
	c->previous_secret_hash = NULL;
	c->previous_secret_expires_at = 0;
	if (grace > 0) {
		c->previous_secret_hash = c->secret_hash;
		c->previous_secret_expires_at = now + grace;
	} else {
		crypto_free_str(c->secret_hash);
	}
	c->secret_hash = new_hash;
	c->updated_at = now;
}

/* ---- as JSON ------------------------------------------------------------ */

json_t *store_json_str(const char *s)
{
	json_t *j = s != NULL ? json_string(s) : NULL;
	return j != NULL ? j : json_null();
}

json_t *store_json_opt_int(int64_t v)
{
	return v != 0 ? json_integer(v) : json_null();
}

json_t *store_json_words(const char *list)
{
	json_t *arr = json_array();
	size_t len;
	for (const char *w = words_next(list, &len); w != NULL;
	     w = words_next(w + len, &len))
		json_array_append_new(arr, json_stringn(w, len));
	return arr;
}

json_t *client_spec_json(const struct store_client *c, bool with_secret,
                         const char *secret)
{
	json_t *o = json_object();
	json_object_set_new(o, "client_id", store_json_str(c->client_id));
	if (with_secret)
		json_object_set_new(o, "client_secret", store_json_str(secret));
	json_object_set_new(o, "name", store_json_str(c->name));
	json_object_set_new(o, "public", json_boolean(c->is_public));
	json_object_set_new(o, "grant_types", store_json_words(c->grant_types));
	json_object_set_new(o, "scopes", store_json_words(c->scopes));
	json_object_set_new(o, "redirect_uris", store_json_words(c->redirect_uris));
	json_object_set_new(o, "access_token_ttl",
	                    store_json_opt_int(c->access_token_ttl));
	json_object_set_new(o, "refresh_token_ttl",
	                    store_json_opt_int(c->refresh_token_ttl));
	json_object_set_new(o, "issue_refresh_token",
	                    c->issue_refresh_token == STORE_DEFAULT
	                        ? json_null()
	                        : json_boolean(c->issue_refresh_token ==
	                                       STORE_ON));
	json_object_set_new(o, "on_refresh", store_json_str(c->on_refresh));
	json_object_set_new(o, "auto_approve_as",
	                    store_json_str(c->auto_approve_as));
	json_object_set_new(o, "audiences", store_json_words(c->audiences));
	json_object_set_new(o, "introspect", json_boolean(c->introspect));
	/* ---- OpenID Connect claims */
	json_t *atc = claims_load(c->access_token_claims);
	json_object_set_new(o, "access_token_claims",
	                    atc != NULL ? atc : json_object());
	json_object_set_new(o, "release_claims", store_json_words(c->release_claims));
	/* OpenID Connect: the algorithm in effect (none stored: RS256). */
	json_object_set_new(o, "id_token_signed_response_alg",
	                    json_string(c->id_token_alg != NULL &&
	                                        c->id_token_alg[0] != '\0'
	                                    ? c->id_token_alg
	                                    : "RS256"));
	json_object_set_new(o, "require_nonce", json_boolean(c->require_nonce));
	json_object_set_new(o, "post_logout_redirect_uris",
	                    store_json_words(c->post_logout_redirect_uris));
	json_object_set_new(o, "logout_revokes_refresh_tokens",
	                    json_boolean(c->logout_revokes_refresh_tokens));
	json_object_set_new(o, "created_at", json_integer(c->created_at));
	json_object_set_new(o, "updated_at", json_integer(c->updated_at));
	/* ---- issue 17: the disabled state and a secret's grace period */
	json_object_set_new(o, "admin", json_boolean(c->is_admin));
	json_object_set_new(o, "disabled", json_boolean(c->disabled_at != 0));
	json_object_set_new(o, "disabled_at", store_json_opt_int(c->disabled_at));
	json_object_set_new(o, "previous_secret_expires_at",
	                    c->previous_secret_hash != NULL
	                        ? store_json_opt_int(c->previous_secret_expires_at)
	                        : json_null());
	/* ---- issue 19: how it authenticates; null: a secret, either way */
	json_object_set_new(o, "token_endpoint_auth_method",
	                    store_json_str(c->is_public ? "none"
	                                                : c->auth_method));
	json_t *jwks = c->jwks != NULL ? json_loads(c->jwks, 0, NULL) : NULL;
	json_object_set_new(o, "jwks", jwks != NULL ? jwks : json_null());
	json_object_set_new(o, "jwks_uri", store_json_str(c->jwks_uri));
	json_object_set_new(o, "require_dpop", json_boolean(c->require_dpop));
	json_object_set_new(o, "tls_client_auth_subject_dn",
	                    store_json_str(c->tls_subject_dn));
	json_object_set_new(o, "tls_client_auth_san_dns",
	                    store_json_str(c->tls_san_dns));
	json_object_set_new(o, "tls_client_auth_san_uri",
	                    store_json_str(c->tls_san_uri));
	return o;
}
