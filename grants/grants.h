/*
 * grants.h: the OAuth 2.0 logic, with no HTTP in it.
 *
 * The server hands over typed requests (already parsed from forms and
 * headers) and renders what comes back. A token request flows through
 * client authentication, the grant table, and issuance; each step returns
 * struct oauth_result, whose error maps to the wire in oauth_err.c.
 *
 * Ownership: request structs are borrowed for the call; response structs
 * are filled by grants and released by the caller with their *_clear.
 */
#ifndef LK_GRANTS_H
#define LK_GRANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "keys.h"
#include "oauth_err.h"
#include "store.h"

struct grants_config {
	const char *issuer;       /* iss claim and metadata issuer */
	/* token_path, below the issuer: where the token endpoint is, an
	 * audience a client assertion may name (RFC 7523 section 3) */
	const char *token_path;
	/* aud of clients without audiences; NULL or "": the issuer */
	const char *audience;
	bool introspection_requires_flag; /* RFC 7662 section 4 */
	int64_t access_token_ttl; /* default when the client sets none */
	enum key_alg alg;         /* signing_alg: access tokens' algorithm */
	/* id_token_ttl: also how long a retired signing key stays in the
	 * JWKS after its retirement (ID tokens are not recorded). */
	int64_t id_token_ttl;
	int64_t jwks_max_age;          /* seconds verifiers cache the JWKS */
	int64_t key_rotation_interval; /* seconds; 0: no staged rotation */
	int64_t refresh_token_ttl;  /* default when the client sets none */
	bool issue_refresh_token;   /* with user grants; per-client override */
	bool rotate_refresh_tokens; /* RFC 9700 section 4.14.2 */
	const char *on_refresh;     /* "nothing" | "revoke" | "hook" */
	const char *on_refresh_hook;     /* program; NULL or "" for none */
	long on_refresh_hook_timeout_ms;
	bool require_pkce;      /* for confidential clients too */
	bool pkce_allow_plain;  /* code_challenge_method=plain */
	int64_t authorization_code_ttl; /* seconds */
	int64_t session_ttl;            /* seconds */
	int64_t device_code_ttl;        /* seconds (RFC 8628 expires_in) */
	int64_t device_poll_interval;   /* seconds (RFC 8628 interval) */
	const char *auto_approve_as;    /* NULL or "": off (tests only) */
	int login_max_failures;             /* per username and window */
	int login_max_failures_per_address; /* per client address and window */
	int64_t login_failure_window;       /* seconds */
	/* Per client id, per address, and window; 0: no limit. */
	int client_auth_max_failures;
	int client_auth_max_failures_per_address;
	int64_t client_auth_failure_window;       /* seconds */
	/* clients' jwks_uri (jwks_fetch.c) */
	bool jwks_uri_allow_private;
	long jwks_uri_timeout, jwks_uri_max_bytes, jwks_uri_cache_ttl;
	bool dpop_nonce; /* RFC 9449 section 8: proofs carry our nonce */
	/* Seconds an attempt's reservation counts at most when the store
	 * counts across instances (throttle_store.c): past the longest a
	 * request can hold one, so a dead process locks nothing for long. */
	int64_t throttle_pending_ttl;
};

/* Fills gc from latchkeyd's settings: the only way one is made, so every
 * default is the settings table's (core/config.c). issuer is the one
 * derived at start. Strings are borrowed from cfg and issuer until
 * grants_new returns (it copies them). A test that needs other values
 * starts from config_defaults and changes what it needs. */
void grants_config_from(struct grants_config *gc, const struct lk_config *cfg,
                        const char *issuer);

struct grants;

/* Loads (or, on first start, generates and stores) the signing key.
 * Returns 0, or -1 with err set. Free with grants_free. */
int grants_new(struct store *s, const struct grants_config *cfg,
               struct grants **out, char *err, size_t errlen);
void grants_free(struct grants *g);

/* oauth_store.c: the one mapping from a storage result to an OAuth
 * result (DECISIONS "Store interface"), for grants/ and for whatever else
 * answers a client after a store call (the test double's controls).
 * STORE_OK is OAUTH_RESULT_OK; STORE_NOT_FOUND is not_found, the caller's
 * choice (what a missing record means depends on what was asked);
 * STORE_UNAVAILABLE, STORE_BUSY and STORE_IO are 503
 * temporarily_unavailable; STORE_BAD_VALUE is invalid_request; anything
 * else is 500 server_error. Logs a failure other than not found as
 * "what: reason". */
struct oauth_result oauth_from_store(enum store_rc rc, const char *what,
                                     struct oauth_result not_found);
/* The same mapping for a write (an add or a put), where nothing can be
 * missing: STORE_NOT_FOUND would be a store breaking its contract, so it
 * is 500 server_error and logged, never a success to carry on from. */
struct oauth_result oauth_from_store_write(enum store_rc rc, const char *what);

/* Client credentials as the request presented them (RFC 6749 section
 * 2.3.1). Strings are already percent-decoded; NULL means absent. */
/* RFC 8705: the certificate a client presented in latchkeyd's own TLS
 * handshake, as the server read it (server/tls_peer.c owns the strings;
 * grants only read them). */
struct tls_client_cert {
	char *x5t;        /* base64url SHA-256 of its DER: cnf's x5t#S256 */
	bool chain_ok;    /* chains to tls_client_ca, and valid now */
	char *subject_dn; /* RFC 4514, most specific first; NULL: none */
	char *san_dns;    /* its subjectAltName dNSNames, space-separated */
	char *san_uri;    /* its subjectAltName URIs, space-separated */
};

struct client_creds {
	bool basic; /* an Authorization: Basic header was sent */
	const char *basic_id, *basic_secret;
	const char *form_id, *form_secret; /* client_id, client_secret */
	/* RFC 7521 section 4.2: client_assertion_type, client_assertion */
	const char *assertion_type, *assertion;
	const char *remote_addr; /* for throttling failures; may be NULL */
	/* RFC 8705: the TLS client certificate; NULL: none */
	const struct tls_client_cert *tls_cert;
};

/* grants_int.h: a DPoP proof's jti, recorded once per request. */
struct dpop_spend;
struct token_request {
	struct client_creds creds;
	const char *grant_type;
	const char *scope;
	const char *username, *password; /* password grant */
	const char *refresh_token;       /* refresh_token grant */
	const char *code, *redirect_uri, *code_verifier; /* authorization_code */
	const char *device_code;         /* RFC 8628 */
	const char *assertion;           /* RFC 7523 section 2.1 */
	const char *resource;            /* RFC 8707; NULL: none */
	/* token exchange (RFC 8693) */
	const char *subject_token, *subject_token_type;
	const char *actor_token, *actor_token_type;
	const char *requested_token_type, *audience;
	const char *remote_addr;         /* for throttling; may be NULL */
	/* RFC 9449: the DPoP header (NULL: none), and whether it came more
	 * than once. Checked before anything else, its jti spent once the
	 * client has authenticated: a request with a proof is never run
	 * again. */
	const char *dpop_proof;
	bool dpop_repeated;
	/* Set by grants_token, not the caller: the checked proof's key
	 * thumbprint, which the tokens are bound to (NULL: none), and its
	 * jti's use, recorded once the client is authenticated. */
	const char *dpop_jkt;
	struct dpop_spend *dpop_spend;
	/* Set by grants_token too: the x5t#S256 of the TLS client
	 * certificate the client authenticated with (RFC 8705), which its
	 * access tokens are bound to (NULL: none). */
	const char *tls_x5t;
	/* The caller can wait without holding a thread: then grants_token
	 * may return OAUTH_PENDING having written nothing, for the commit
	 * that records the tokens (grants_issue_wait) or for a step that
	 * may block for seconds, the on_refresh hook (grants_issue_run).
	 * When false, grants_token does all of it on the calling thread. */
	bool may_pend;
	/* Whether the client has closed its connection (NULL: never asked).
	 * Checked after a slow hook, before anything is issued. */
	bool (*client_gone)(void *arg);
	void *client_gone_arg;
};

struct token_response {
	char *access_token;
	const char *token_type; /* static */
	int64_t expires_in;
	char *scope;            /* granted scope; "" when none */
	char *refresh_token;    /* NULL when none is issued */
	char *id_token;         /* OpenID Connect; NULL when none is issued */
	const char *issued_token_type; /* RFC 8693; static; NULL: none */
	/* OAUTH_PENDING: the issue, minted and waiting to be recorded. */
	struct issue_wait *pending;
};
void token_response_clear(struct token_response *r);

/* grants_token returned OAUTH_PENDING with out->pending, a wait; nothing
 * is written yet. It is one of two kinds, and grants_issue_blocks tells
 * which:
 * - The tokens are minted and wait for their commit (false).
 *   grants_issue_wait submits their records and returns at once;
 *   ready(arg) is called exactly once, on another thread, when the
 *   commit that holds them is over, and must only hand w back to the
 *   caller's thread. Until ready, w belongs to the store.
 * - A step that may block for seconds comes first (true): the on_refresh
 *   hook, with what the grant has read kept in w. The caller runs
 *   grants_issue_run(w) on a thread that may block; it runs only the
 *   rest (the hook, then the issue, waited for there) and returns.
 * grants_issue_run also completes a wait of the first kind on the calling
 * thread, waiting for its commit there (a caller that cannot suspend).
 * Either way the caller then calls grants_issue_result: the response (or
 * the error: tokens whose records were not committed are never handed
 * out), and w is freed. */
struct issue_wait;
bool grants_issue_blocks(const struct issue_wait *w);
void grants_issue_run(struct issue_wait *w);
void grants_issue_wait(struct issue_wait *w, void (*ready)(void *arg),
                       void *arg);
struct oauth_result grants_issue_result(struct issue_wait *w,
                                        struct token_response *out);
/* Frees w after ready without a result: its client went away. */
void grants_issue_free(struct issue_wait *w);

/* POST /token. On return *client_id (caller frees, may be NULL) names the
 * client the request claimed to be, for the access log only. */
struct oauth_result grants_token(struct grants *g, const struct token_request *rq,
                                 struct token_response *out, char **client_id);

/* GET or POST /authorize (RFC 6749 section 4.1.1, RFC 7636): one call per
 * request, whether it is a new authorization request or the login or
 * consent form posting back. Every OAuth parameter travels with the forms,
 * so each call checks the whole request again. */
struct authz_request {
	const char *response_type, *client_id, *redirect_uri, *scope, *state;
	const char *code_challenge, *code_challenge_method;
	const char *prompt, *login_hint;
	const char *resource; /* RFC 8707; NULL: none */
	const char *dpop_jkt; /* RFC 9449 section 10; NULL: none */
	/* OpenID Connect Core 3.1.2.1 (NULL: absent). acr_values, display
	 * and ui_locales are accepted and ignored, so not here. request and
	 * request_uri are only answered as unsupported (6.1, 6.2). */
	const char *nonce, *max_age, *id_token_hint;
	const char *request, *request_uri;
	/* The first parameter sent more than once, or NULL (section 3.1). */
	const char *repeated;
	bool client_or_uri_repeated; /* client_id or redirect_uri, then */
	const char *session;     /* the session cookie's value, or NULL */
	const char *remote_addr; /* for login throttling; may be NULL */
	/* From the forms, already checked against CSRF by the caller: NULL
	 * (a plain request), "login" (with username and password), "allow"
	 * or "deny" (consent). */
	const char *action;
	const char *username, *password;
};

enum authz_outcome {
	AUTHZ_ERROR_PAGE, /* tell the user (error's status); never redirect */
	AUTHZ_REDIRECT,   /* to redirect: a code or an error for the client */
	AUTHZ_LOGIN,      /* show the login page */
	AUTHZ_CONSENT,    /* show the consent page */
};

struct authz_result {
	enum authz_outcome outcome;
	enum oauth_err error; /* AUTHZ_ERROR_PAGE: its status and log code */
	const char *message;  /* error page, or an error on the login page */
	char *redirect;       /* AUTHZ_REDIRECT: the whole URL */
	char *client_name;    /* pages */
	char *scope;          /* consent page: the scopes asked for */
	char *username;       /* consent page: who is signed in */
	char *new_session;    /* a session cookie value to set, or NULL */
	bool end_session;     /* the presented session cookie is no good */
	int64_t session_ttl;  /* for the cookie's Max-Age */
	char *client_id;      /* for the access log; may be NULL */
};
void authz_result_clear(struct authz_result *r);

void grants_authorize(struct grants *g, const struct authz_request *rq,
                      struct authz_result *out);

/* Device authorization (RFC 8628; device.c). POST
 * device_authorization_path: the client authenticates as at /token and
 * must be registered for the device_code grant. */
struct device_auth_request {
	struct client_creds creds;
	const char *scope; /* NULL: the client's scopes */
};

struct device_auth_response {
	char *device_code;
	char *user_code; /* for people: "BCDF-GHJK" */
	int64_t expires_in, interval;
};
void device_auth_response_clear(struct device_auth_response *r);

struct oauth_result grants_device_authorization(
    struct grants *g, const struct device_auth_request *rq,
    struct device_auth_response *out, char **client_id);

/* GET|POST device_path: the page where a person enters a user code,
 * signs in and allows or denies (section 3.3). One call per request. */
struct device_page_request {
	const char *user_code; /* as typed; NULL: none */
	/* From the forms, already checked against CSRF by the caller: NULL
	 * (the page asked for), "code" (a user code entered), "login" (with
	 * username and password), "allow" or "deny". */
	const char *action;
	const char *username, *password;
	const char *session;     /* the session cookie's value, or NULL */
	const char *remote_addr; /* for throttling; may be NULL */
};

enum device_outcome {
	DEVICE_ERROR_PAGE, /* error's status, message */
	DEVICE_ENTER,      /* the page asking for the user code */
	DEVICE_LOGIN,      /* the login page, carrying the user code */
	DEVICE_CONSENT,    /* allow or deny, showing the user code */
	DEVICE_DONE,       /* decided (approved says how) */
};

struct device_page_result {
	enum device_outcome outcome;
	enum oauth_err error;
	const char *message; /* error page, or an error line on a form */
	/* DEVICE_ENTER: what to fill in (as typed; NULL: nothing); else the
	 * user code found, in its printed form */
	char *user_code;
	char *client_name, *scope, *username; /* login and consent pages */
	bool approved;       /* DEVICE_DONE */
	char *new_session;   /* a session cookie value to set, or NULL */
	bool end_session;    /* the presented session cookie is no good */
	int64_t session_ttl; /* for the cookie's Max-Age */
	char *client_id;     /* for the access log; may be NULL */
};
void device_page_result_clear(struct device_page_result *r);

void grants_device_page(struct grants *g, const struct device_page_request *rq,
                        struct device_page_result *out);

/* The test double's approval without a browser (/_control/device):
 * decides the pending user code as username, now. *client_id (caller
 * frees) names the device code's client. invalid_request (with why)
 * for an unknown, expired or decided user code or an unknown user. */
struct oauth_result grants_device_decide(struct grants *g,
                                         const char *user_code,
                                         const char *username, bool allow,
                                         char **client_id);

/* GET|POST end_session_path: RP-Initiated Logout 1.0 (logout.c). */
struct logout_request {
	const char *id_token_hint, *client_id, *post_logout_redirect_uri;
	const char *state;
	/* The first parameter sent more than once, or NULL. */
	const char *repeated;
	const char *session; /* the session cookie's value, or NULL */
	/* The person confirmed on the logout page (the caller has checked
	 * the form's CSRF guard). */
	bool confirmed;
};

enum logout_outcome {
	LOGOUT_ERROR_PAGE, /* tell the person (error's status); never redirect */
	LOGOUT_CONFIRM,    /* ask the person: no valid id_token_hint of
	                    * the browser's own session */
	LOGOUT_REDIRECT,   /* signed out: to the post_logout_redirect_uri */
	LOGOUT_DONE,       /* signed out: say so */
};

struct logout_result {
	enum logout_outcome outcome;
	enum oauth_err error; /* LOGOUT_ERROR_PAGE: its status and log code */
	const char *message;  /* LOGOUT_ERROR_PAGE */
	char *redirect;       /* LOGOUT_REDIRECT: the URI with state */
	char *client_name;    /* the pages: the client named, or NULL */
	/* Clear the session cookie: its session was ended, or was not live
	 * (never while it is left running). */
	bool end_cookie;
	/* The client named (client_id or the hint's): the access log, and
	 * the confirmation form's client_id; may be NULL. */
	char *client_id;
};
void logout_result_clear(struct logout_result *r);

void grants_logout(struct grants *g, const struct logout_request *rq,
                   struct logout_result *out);

/* POST /introspect (RFC 7662) and POST /revoke (RFC 7009). */
struct token_ref_request {
	struct client_creds creds;
	const char *token;
	const char *token_type_hint; /* a hint only; unknown values ignored */
};

struct introspection {
	bool active; /* when false, nothing else is set or sent */
	char *client_id, *scope, *sub, *iss, *jti;
	char *aud; /* space-separated; NULL when none */
	char *username; /* for tokens issued to a user */
	const char *token_type; /* static */
	int64_t exp, iat;
	char *jkt; /* RFC 9449: the key a DPoP-bound token is bound to */
	char *x5t; /* RFC 8705: the certificate a token is bound to */
};
void introspection_clear(struct introspection *i);

/* Only confidential clients may introspect, and with
 * introspection_requires_flag only those with the introspect flag (else
 * 403 unauthorized_client); any of our tokens may be asked about
 * (resource servers introspect other clients' tokens). */
struct oauth_result grants_introspect(struct grants *g,
                                      const struct token_ref_request *rq,
                                      struct introspection *out,
                                      char **client_id);

/* What a resource server learns of a Bearer access token (RFC 6750): the
 * same as introspection, for access tokens only, without a client.
 * OAUTH_TEMPORARILY_UNAVAILABLE (out inactive) when the database could
 * not be asked: a live token is never reported inactive for that. */
struct oauth_result grants_check_bearer(struct grants *g, const char *token,
                                        struct introspection *out);

/* How an access token came to a protected resource: RFC 6750's Bearer
 * scheme, or RFC 9449's DPoP scheme with a proof of the key the token is
 * bound to, for this method (htm) at this URL (htu, derived from the
 * issuer). All borrowed. */
struct presented_token {
	const char *token;
	bool dpop;          /* Authorization: DPoP */
	const char *proof;  /* the DPoP header; NULL: none */
	bool proof_repeated;
	const char *htm, *htu;
	/* RFC 8705 section 3: the x5t#S256 of the connection's TLS client
	 * certificate; NULL: none. A token bound to one needs it. */
	const char *tls_x5t;
};

/* RFC 9449 section 8: the nonce to send in a DPoP-Nonce header (new;
 * caller frees), or NULL when dpop_nonce is off. */
char *grants_dpop_nonce(struct grants *g);

/* grants_check_bearer, then the binding (RFC 9449 section 7.1): a
 * DPoP-bound token only with the DPoP scheme and a proof by its key
 * naming it (ath), an unbound one only as Bearer. A refusal is 401
 * invalid_token or invalid_dpop_proof with a DPoP challenge. */
struct oauth_result grants_check_presented(struct grants *g,
                                           const struct presented_token *p,
                                           struct introspection *out);

/* admin_auth.c: whether a Bearer access token may call the admin HTTP
 * API: ours, live, with the scope latchkey:admin, and its client now
 * enabled and admin. On success *client_id (caller frees) is that client,
 * the actor of the changes it makes. 401 invalid_token, 403
 * insufficient_scope (naming latchkey:admin), or 503. */
struct oauth_result grants_admin_token(struct grants *g, const char *token,
                                       char **client_id);

/* userinfo.c: OpenID Connect Core 5.3, the UserInfo endpoint. The
 * claims of the user a Bearer access token was issued to, as its client
 * and scopes release them (docs/openid-connect.md, "Claims"), with sub.
 * *claims is a new object (caller decrefs) on success, else NULL;
 * *client_id (caller frees; may be NULL) names the token's client, for
 * the access log. 401 invalid_token for a token that is not ours,
 * expired, revoked, issued to a client (client_credentials) or to a
 * user or client removed since; 403 insufficient_scope (scope "openid")
 * without openid; 503 when the database could not be asked. */
struct json_t;
struct oauth_result grants_userinfo(struct grants *g,
                                    const struct presented_token *p,
                                    struct json_t **claims,
                                    char **client_id);

/* Revokes a token issued to the authenticated client; a refresh token
 * takes its whole family (refresh and access tokens) with it. An unknown, invalid
 * or already revoked token is success (RFC 7009 section 2.2). */
struct oauth_result grants_revoke(struct grants *g,
                                  const struct token_ref_request *rq,
                                  char **client_id);

/* The public keys verifiers need: each algorithm's current key (ES256
 * and RS256), retired ones that signed a still-unexpired access token,
 * and retired ones retired less than id_token_ttl ago (ID tokens are not
 * recorded). cb is called once per key; a non-zero
 * return stops the walk and makes grants_jwks return -1. */
typedef int (*grants_jwk_cb)(const char *kid, const char *alg,
                             const struct key_jwk *jwk, void *arg);
int grants_jwks(struct grants *g, grants_jwk_cb cb, void *arg);

/* key_schedule.c: one step of the staged rotation key_rotation_interval
 * asks for (nothing when it is 0): for each algorithm, publish a next key
 * when the current one is due within KEY_PUBLISH_LEAD, and promote it
 * once it has been published that long and the current one is due. Safe
 * to run on every instance of one database (compare-and-set). Meant to be
 * called every second or so, off the request threads. */
void grants_key_schedule(struct grants *g);

/* Facts for the discovery document (RFC 8414 metadata and OpenID
 * Connect Discovery 1.0, one document). Arrays are static and
 * NULL-terminated; scopes (the OpenID Connect scopes, then every scope
 * some client may request, space-separated) is the caller's to free. A
 * store failure is the result oauth_from_store gives, with nothing to
 * free. */
struct grants_metadata {
	const char *const *grant_types;
	const char *const *auth_methods; /* token and revocation endpoints */
	const char *const *introspection_auth_methods;
	/* what a private_key_jwt assertion may be signed with, at every
	 * endpoint that authenticates clients */
	const char *const *auth_signing_algs;
	const char *const *code_challenge_methods;
	char *scopes;
	const char *const *subject_types;
	const char *const *id_token_algs;
	const char *const *claims;        /* that ID tokens and userinfo carry */
	const char *const *prompt_values; /* OpenID Connect Prompt Create */
};
struct oauth_result grants_metadata(struct grants *g,
                                    struct grants_metadata *out);

/* audience.c: a space-separated list of aud values as the claim: a string
 * for one, an array for several (RFC 7519 section 4.1.3); NULL for none.
 * A new reference. The token and the introspection response (the
 * server's) render aud the same way through it. */
struct json_t;
struct json_t *aud_to_json(const char *list);

#endif
