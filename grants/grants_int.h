/*
 * grants_int.h: declarations shared inside grants/ only (as SQLite's
 * btreeInt.h). Nothing outside grants/ includes this file.
 */
#ifndef LK_GRANTS_INT_H
#define LK_GRANTS_INT_H

#include <pthread.h>

#include "crypto.h"
#include "grants.h"

/* ---- keyring.c: all keys' public halves, for verification and JWKS ----- */

struct keyring;
struct signer;
/* Rebuilds whenever the signer adopts a key, so that the JWKS never lags
 * behind the key tokens are signed with. grace (id_token_ttl): seconds a
 * retired key stays published after its retirement, for the tokens it
 * signed that are not recorded (ID tokens). */
struct keyring *keyring_new(struct store *s, struct signer *sg,
                            int64_t grace);
void keyring_free(struct keyring *kr);
/* The public key with this kid, if its algorithm is alg; the caller frees
 * it with EVP_PKEY_free. NULL when there is no such key. */
struct evp_pkey_st *keyring_public_key(struct keyring *kr, const char *kid,
                                       const char *alg);
/* Calls cb for each published key, as grants_jwks documents. */
int keyring_each_published(struct keyring *kr, grants_jwk_cb cb, void *arg);

/* ---- signer.c: each algorithm's current signing key, and JWT signing ---- */

struct signer;

struct json_t;
struct at_claims { /* RFC 9068 section 2.2; aud: space-separated */
	const char *iss, *sub, *aud, *client_id, *scope, *jti;
	int64_t iat, exp;
	/* More claims (issue.c: the client's access_token_claims and the
	 * user's released ones); never one of the above. NULL: none. */
	const struct json_t *extra;
};

/* Loads the current key of every algorithm, creating (compare-and-set:
 * one per algorithm however many instances start at once) the ones the
 * database lacks. alg is signing_alg, the access tokens' algorithm.
 * Returns 0, or -1 with err set. */
int signer_new(struct store *s, enum key_alg alg, struct signer **out,
               char *err, size_t errlen);
void signer_free(struct signer *sg);
/* Changes each time the signer adopts a new current key (any algorithm). */
unsigned signer_generation(struct signer *sg);
struct json_t;
/* Signs claims (a JSON object; the reference is stolen) as a JWS with the
 * current key of alg and the header {"alg", "kid", "typ"}: the ID tokens'
 * signer (typ "JWT"). *token and *kid are the caller's to free. 0, or -1
 * (no current key of alg, or signing failed). */
int signer_sign(struct signer *sg, enum key_alg alg, const char *typ,
                struct json_t *claims, char **token, char **kid);
/* Signs an access token (typ at+jwt, RFC 9068) with signing_alg's current
 * key: signer_sign. *token and *kid are the caller's to free. Returns 0,
 * or -1. */
int signer_mint(struct signer *sg, const struct at_claims *c, char **token,
                char **kid);
/* Whether the s half (32 bytes, big-endian) of an ES256 R||S signature is
 * at most n/2: signer_mint only makes such signatures, and token_verify
 * refuses the other spelling. */
bool es256_s_is_low(const unsigned char s[32]);

/* ---- verify.c: reading our own access tokens ---------------------------- */

struct at_claims_read {
	char *jti, *iss, *aud; /* aud space-separated; NULL when absent */
	char *jkt; /* cnf.jkt: the DPoP key it is bound to; NULL: none */
	char *x5t; /* cnf.x5t#S256: its TLS client certificate (RFC 8705) */
};
void at_claims_read_clear(struct at_claims_read *c);
/* 0 when token is a JWS signed by one of our keys with a jti; -1 for
 * anything else (malformed, foreign, altered). Fills out (caller clears). */
int token_verify(struct grants *g, const char *token, struct at_claims_read *out);
/* 0 when token is a compact JWS with header typ want_typ, signed by one of
 * our keys (found by kid, of the header's alg); *claims is then its
 * payload object (caller decrefs). -1 for anything else. Checks nothing
 * in the claims: what they must say is the caller's business. */
int jws_read(struct grants *g, const char *token, const char *want_typ,
             struct json_t **claims);

/* ---- authorize.c: redirect URIs, shared with logout.c -------------------- */

/* Whether uri is one of registered (space-separated URIs): exactly, or,
 * for a loopback IP literal, with any port (RFC 8252 section 7.3). The
 * rule of redirect_uri and of post_logout_redirect_uri alike. */
bool redirect_uri_registered(const char *registered, const char *uri);
/* Whether a request parameter is UTF-8 without control characters and
 * at most max bytes (NULL passes): checked before a value reaches the
 * store, so SQLite and PostgreSQL (which cannot hold text that is not
 * UTF-8) answer alike. */
bool param_value_ok(const char *v, size_t max);
/* Appends name=value (value URL-encoded) to a URL that may already have a
 * query. */
void url_add_param(char **url, const char *name, const char *value);

/* ---- id_token_hint.c: an ID token sent back to us ----------------------- */

/* What an id_token_hint (/authorize, /logout) says, once it is known to be
 * an ID token this issuer signed (OpenID Connect Core 3.1.2.1: an expired
 * one is still a good hint). */
struct id_token_hint {
	char *sub;
	char *client_id; /* azp, else the single aud */
	char *sid;       /* NULL when the token had none */
	int64_t exp, auth_time;
};
void id_token_hint_clear(struct id_token_hint *h);
/* 0 and *out filled, or -1 when hint is not an ID token of ours (bad
 * signature, another issuer, no sub or audience). */
int id_token_hint_read(struct grants *g, const char *hint,
                       struct id_token_hint *out);

/* ---- claims.c: which of a user's claims a client sees ------------------- */

enum claims_dest {
	CLAIMS_ID_TOKEN,
	CLAIMS_USERINFO,
	CLAIMS_ACCESS_TOKEN,
};
/* The user's claims released to the client for the granted scope (space-
 * separated) into dest: into the ID token and userinfo, the standard
 * claims of the standard scopes (OpenID Connect Core 5.4: profile, email,
 * address, phone; profile also gives preferred_username, the username,
 * unless the user has one of their own) and the client's release_claims
 * (custom or standard, whatever the scope); into access tokens only the
 * client's release_claims. Never a claim
 * the server sets (valid_claim_reserved). A new object, empty when none;
 * NULL only when the user's stored claims are not a JSON object. */
struct json_t *claims_release(const struct store_client *cl,
                              const struct store_user *u, const char *scope,
                              enum claims_dest dest);

/* ---- id_token.c: OpenID Connect ID tokens -------------------------------- */

/* What an ID token says beyond the grant: who, for which scope, and the
 * login behind it. Borrowed. */
struct id_token_in {
	const struct store_user *user; /* sub (user_id) and the user's claims */
	const char *scope;             /* granted: which claims are released */
	const char *nonce;             /* as sent to /authorize; NULL: none */
	int64_t auth_time;             /* 0: unknown (then not sent) */
	const char *sid;               /* the login session's; NULL: none */
	const char *amr;               /* space-separated; NULL: none */
};
/* Whether the space-separated scope holds openid. */
bool scope_has_openid(const char *scope);
/* Core 3.1.3.6's at_hash of an access token; the caller frees. */
char *id_token_at_hash(const char *access_token);
/* The algorithm a client's ID tokens are signed with: its
 * id_token_signed_response_alg, else RS256. */
enum key_alg id_token_alg(const struct store_client *cl);
/* The ID token's claims (a new object): iss, sub, aud (the client id),
 * exp (now + id_token_ttl), iat, auth_time, nonce, at_hash (when
 * access_token is not NULL), sid, amr, and the user's released claims. */
struct json_t *id_token_claims(const struct grants *g,
                               const struct store_client *cl,
                               const struct id_token_in *in,
                               const char *access_token, int64_t now);
/* Signs id_token_claims with id_token_alg (typ "JWT"). *out is the
 * caller's to free. 0, or -1 (no key of that algorithm, signing failed). */
int id_token_mint(struct grants *g, const struct store_client *cl,
                  const struct id_token_in *in, const char *access_token,
                  int64_t now, char **out);

/* ---- client_assertion.c --------------------------------------------------- */

/* RFC 7523 section 2.2's client_assertion_type. */
#define CLIENT_ASSERTION_TYPE \
	"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
/* An assertion's exp may be at most this far ahead (seconds): an hour,
 * the default of libraries that sign them (authlib); its jti is kept
 * that long. Times are compared with this much leeway for clocks. */
#define CLIENT_ASSERTION_MAX_LIFETIME 3600
#define CLIENT_ASSERTION_LEEWAY 30

/* The sub of an assertion, unverified (the client to look up when no
 * client_id was sent), or NULL; the caller frees. */
char *client_assertion_subject(const char *assertion);

/* Checks a private_key_jwt client's assertion and records its jti: OK,
 * invalid_client with why, or a store failure's error. */
struct oauth_result client_assertion_check(struct grants *g,
                                           const struct store_client *cl,
                                           const char *assertion);

/* Shared with the JWT bearer grant (grant_jwt_bearer.c). Whether one of
 * the signer's keys (the JWKS document jwks, else the one at jwks_uri),
 * the one named by the header's kid when it names one, verifies j (text
 * is the whole JWS) with alg; *why when no keys could be had. */
struct jws;
bool jws_signed_by_keys(struct grants *g, const char *jwks,
                        const char *jwks_uri, const struct jws *j,
                        const char *text, const char *alg, const char **why);
/* Whether a JWT's aud (a string, or an array of strings) names a or b
 * (b may be NULL). */
struct json_t;
bool jwt_aud_names(const struct json_t *aud, const char *a, const char *b);

/* ---- jwks_fetch.c: clients' keys published at a jwks_uri ----------------- */

struct jwks_fetcher;
struct jwks_fetcher *jwks_fetcher_new(const struct grants_config *gc);
void jwks_fetcher_free(struct jwks_fetcher *f);
/* The JWKS document at uri (caller frees): the cached one while it is
 * fresh, unless again (a kid was missing) asks for a new fetch; NULL with
 * *why (a static phrase) when there is none to be had. May block for up to
 * jwks_uri_timeout. */
char *jwks_fetch(struct jwks_fetcher *f, const char *uri, bool again,
                 const char **why);

/* ---- client_auth.c -------------------------------------------------------- */

/* Whether hash (a stored secret hash, not a secret) still authenticates
 * cl: its current one, or the previous one while its grace lasts. */
bool client_hash_live(const struct store_client *cl, const char *hash);

/* The invalid_client description of a disabled client (client_auth.c). */
#define CLIENT_DISABLED "the client is disabled"
#define CLIENT_AUTH_THROTTLED \
	"too many failed client authentications; try again later"

struct secret_cache;
struct secret_cache *secret_cache_new(void);
void secret_cache_free(struct secret_cache *sc);

/* Authenticates the client (RFC 6749 section 2.3): exactly one method,
 * Basic or body, or client_id alone for a public client. On success *out
 * holds the client (caller clears). */
struct oauth_result client_authenticate(struct grants *g,
                                        const struct client_creds *cr,
                                        struct store_client *out);
/* The same from a record up to a second old (client_cache.c), for the
 * token endpoint only: *cached says whether the answer came from it
 * (then the issue's version check, or a fresh read, decides: see
 * client_cache.c). */
struct oauth_result client_authenticate_cached(struct grants *g,
                                               const struct client_creds *cr,
                                               struct store_client *out,
                                               bool *cached);

/* ---- client_cache.c ----------------------------------------------------- */

struct client_cache;
struct client_cache *client_cache_new(void);
void client_cache_free(struct client_cache *cc);
/* store_client_get through the cache; *cached: out came from it. */
enum store_rc client_cache_get(struct grants *g, const char *id,
                               struct store_client *out, bool *cached);
/* Drops id's entry: its record changed, or a decision needs a fresh one. */
void client_cache_forget(struct grants *g, const char *id);
void client_cache_forget_all(struct grants *g);

/* ---- introspect.c -------------------------------------------------------- */

/* The record of access token jti when it is live (unrevoked, unexpired
 * at now, its client enabled): STORE_OK with *rec filled (caller
 * clears); STORE_NOT_FOUND when unknown, revoked, expired or its client
 * disabled; else the store's failure. The one
 * liveness check of introspection, /resource and /userinfo. */
enum store_rc access_token_live(struct grants *g, const char *jti,
                                struct store_token *rec);

/* Authenticates a /introspect or /revoke caller and checks that a token
 * was sent. On success cl is filled (caller clears). */
struct oauth_result token_ref_auth(struct grants *g,
                                   const struct token_ref_request *rq,
                                   struct store_client *cl, char **client_id);

/* Argon2id runs share one slot per CPU (see client_auth.c). take waits a
 * bounded time and returns false when every slot stayed busy. */
bool kdf_slot_take(struct grants *g);
void kdf_slot_give(struct grants *g);

/* ---- throttle.c: failed attempts, reserved before the check ---------- */

#include "throttle.h"

/* ---- login.c: username and password ------------------------------------ */

/* Where each user signed in lately (exempt from the per-username count). */
struct known_logins;
struct known_logins *known_logins_new(void);
void known_logins_free(struct known_logins *k);
void known_logins_forget(struct known_logins *k);

#define LOGIN_WRONG "the username or password is wrong"
#define LOGIN_THROTTLED "too many failed attempts; try again later"

/* Checks a user's password, throttled per username and address. On
 * success *u holds the user (caller clears); else invalid_grant with
 * LOGIN_WRONG or LOGIN_THROTTLED, or temporarily_unavailable. */
struct oauth_result user_login(struct grants *g, const char *username,
                               const char *password, const char *remote_addr,
                               const char *client_id, struct store_user *u);

/* ---- session.c: the browser's login (/authorize and the device page) ---- */

struct browser_login {
	struct store_user user; /* signed in when user.user_id is set */
	int64_t auth_time;      /* the session's (OpenID Connect's) */
	char *sid, *amr;        /* NULL: no session behind it */
};
void browser_login_clear(struct browser_login *l);
/* The session of the cookie's value: STORE_OK with *l filled, or
 * STORE_NOT_FOUND (no cookie, or no live session of it: the caller ends
 * the cookie when there was one), or the store's failure. */
enum store_rc session_read(struct grants *g, const char *cookie,
                           struct browser_login *l);
/* A login of l->user just succeeded: a new session, whose cookie value
 * is *cookie (caller frees with crypto_free_str; set even when the
 * result is an error, once the session is recorded), with l's auth_time,
 * sid and amr now the new session's; the session l had before, if any,
 * is ended. */
struct oauth_result session_start(struct grants *g, struct browser_login *l,
                                  char **cookie);
/* A login form came back: its username and password (either NULL: not
 * filled in), checked by user_login for client_id from remote_addr. */
struct login_form {
	const char *username, *password, *remote_addr, *client_id;
};
enum login_outcome {
	LOGIN_SIGNED_IN, /* l is the user, in a new session (session_start) */
	LOGIN_ASK_AGAIN, /* the login page again, with *message */
	LOGIN_BROKEN,    /* no session could be started: *r says why */
};
/* l->user is cleared first; *cookie as session_start's (set, to be sent,
 * also with LOGIN_BROKEN once a session was recorded). */
enum login_outcome session_login(struct grants *g, struct browser_login *l,
                                 const struct login_form *f, char **cookie,
                                 const char **message, struct oauth_result *r);

/* ---- scope.c -------------------------------------------------------------- */

/* Decides the granted scope (RFC 6749 section 3.3): the requested scopes if
 * all are allowed, or every allowed scope when none was requested.
 * *granted is the caller's to free. */
struct oauth_result scope_grant(const char *requested, const char *allowed,
                                char **granted);

/* RFC 6749 section 6 (a refresh) and 4.1.3 (a code exchange): the scope a
 * grant made earlier yields now. held is what the grant holds (the refresh
 * family's or the code's scope); requested may narrow it (NULL: all of
 * it), and a requested scope outside held is invalid_scope; allowed is the
 * client's scopes now, so a scope taken from the client since is dropped.
 * When nothing is left of a grant that held some scope: invalid_scope if
 * scope was requested, else invalid_grant. *granted is the caller's to
 * free. */
/* The description of scope_regrant's invalid_grant when nothing the
 * grant holds is still allowed. */
#define SCOPE_GRANT_GONE \
	"the scopes of this grant are no longer allowed for this client"
struct oauth_result scope_regrant(const char *requested, const char *held,
                                  const char *allowed, char **granted);

/* ---- audience.c: the aud claim ------------------------------------------ */

struct json_t;
/* The aud values a client's access tokens carry, space-separated and
 * borrowed (RFC 9068 section 2.2 makes aud required): the client's
 * audiences, else the audience setting, else the issuer
 * (shared/DECISIONS.md). */
const char *client_audiences(const struct grants *g,
                             const struct store_client *cl);
/* Whether resource (RFC 8707) is one of client_audiences: the only
 * resources the client may ask for; anything else is invalid_target. */
bool audience_allowed(const struct grants *g, const struct store_client *cl,
                      const char *resource);
/* resources.c: narrows *cl (a copy the caller owns) to the resources a
 * token is for: those a request asks for (asked[0..n), NULL entries
 * skipped), each of which must be one of its audiences (else
 * invalid_target), or else the client's own audiences. The registry
 * gives the aud, the scopes and the lifetime of the token. scope_asked
 * (NULL: none) naming a scope of the client that they do not accept is
 * invalid_scope. *cut: the registry took scopes away. A store failure is
 * its 503. */
struct oauth_result resources_narrow(const struct grants *g,
                                     const char *const *asked, size_t n,
                                     const char *scope_asked,
                                     struct store_client *cl, bool *cut);
/* A grant's result r, with scope_regrant's SCOPE_GRANT_GONE made
 * invalid_scope when the registry cut the scopes (cut): the grant itself
 * is still good for another resource. */
struct oauth_result resources_scope_result(struct oauth_result r, bool cut);
/* The aud claim (a string or an array of strings) as a space-separated
 * list the caller frees; NULL when absent or of another shape. */
char *aud_from_json(const struct json_t *claim);

/* ---- issue.c -------------------------------------------------------------- */

/* What a grant decided; token_issue turns it into tokens. */
struct issue_opts {
	const char *subject;
	const char *username;    /* NULL for client tokens */
	const char *scope;
	/* The new refresh token's scope when it differs from the access
	 * token's: RFC 6749 section 6 keeps a rotated token's scope whole
	 * even when the request narrowed the access token's. NULL: scope. */
	const char *refresh_scope;
	bool with_refresh;       /* mint a refresh token too */
	const char *family_id;   /* continue this family; NULL: a new one */
	const char *retire_hash; /* refresh being rotated out; NULL: none */
	const char *relink_hash; /* refresh kept (no rotation); NULL: none */
	/* The access token relink_hash pointed at when read: the relink is a
	 * compare-and-set on it (store.h, struct store_issue). */
	const char *relink_from_jti;
	const char *revoke_jti;  /* on_refresh=revoke; NULL: none */
	const char *consume_code_hash; /* code being redeemed; NULL: none */
	const char *consume_device_hash; /* RFC 8628 device code; NULL: none */
	/* The browser login behind the grant (OpenID Connect's auth_time,
	 * sid, amr), kept with the refresh family so that a refreshed ID
	 * token repeats them. 0 / NULL: none. */
	int64_t auth_time;
	const char *sid, *amr;
	/* OpenID Connect: mint an ID token with the access token (its
	 * auth_time, sid and amr are the ones above); NULL: none. */
	const struct id_token_in *id_token;
	/* Set to true when the relink lost its compare-and-set (the refresh
	 * token was relinked by another request since it was read); NULL
	 * when the caller does not ask. */
	bool *relink_lost;
	/* Token exchange (RFC 8693): the act claim (NULL: none) and the
	 * response's issued_token_type (static; NULL: none). */
	const struct json_t *act;
	const char *issued_token_type;
	int64_t expires_max; /* the access token expires by then; 0: no cap */
	/* RFC 9449: the thumbprint of the DPoP key the access token is bound
	 * to (cnf.jkt, token_type DPoP), and a public client's refresh token
	 * too (section 5); NULL: a Bearer token. */
	const char *dpop_jkt;
	/* RFC 8705 section 3: the x5t#S256 of the TLS client certificate
	 * the access token is bound to (cnf, still a Bearer token); NULL:
	 * none. */
	const char *tls_x5t;
	/* The caller can wait for the commit without holding a thread
	 * (token_request.may_pend): then, unless relink_lost is asked for,
	 * token_issue writes nothing yet and returns OAUTH_PENDING with
	 * out->pending (grants.h, grants_issue_wait). */
	bool may_pend;
};

/* A wait that first runs a step that may block (the on_refresh hook),
 * on a thread the caller provides (grants.h, grants_issue_run): step
 * gets arg and answers as grants_token would, synchronously (never
 * OAUTH_PENDING); step_free(arg) frees what the grant left it, run or
 * not. */
typedef struct oauth_result (*issue_step_fn)(void *arg,
                                             struct token_response *out);
struct issue_wait *issue_wait_step(struct grants *g, issue_step_fn step,
                                   void (*step_free)(void *arg), void *arg);

/* Mints the access token (and refresh token), records everything in one
 * transaction, fills out. A retire/relink that lost a race to another
 * request gives invalid_grant and writes nothing (and a lost relink sets
 * *relink_lost, so the caller may read the token again and retry). */
struct oauth_result token_issue(struct grants *g, const struct store_client *cl,
                                const struct issue_opts *o,
                                struct token_response *out);

/* A pending issue's grant type (static), for the metrics of its result. */
void grants_issue_set_grant(struct issue_wait *w, const char *grant_type);
/* Counts tokens issued by a grant. */
void grants_issued(const char *grant_type);

/* Hex SHA-256 of a refresh token, authorization code or session cookie
 * (256 random bits each): how it is stored and found. */
void token_hash(const char *token, char out[2 * SHA256_LEN + 1]);

/* ---- refresh_hook.c: the on_refresh=hook program ------------------------ */

enum hook_verdict {
	HOOK_DENY = 0,
	HOOK_ALLOW,
	HOOK_ALLOW_REVOKE, /* allowed, and the old access token is revoked */
};
/* Runs the hook at path with input on its stdin; blocks up to timeout_ms
 * (then kills it: denied). Anything but exit status 0 denies. */
enum hook_verdict hook_run(const char *path, long timeout_ms,
                           const char *input, size_t len);

/* ---- authorize.c ---------------------------------------------------------- */

/* RFC 7636 sections 4.1 and 4.2: 43 to 128 characters of [A-Za-z0-9-._~],
 * for a code_verifier and a code_challenge alike. */
bool pkce_value_ok(const char *v);

/* ---- one function per grant (grant_*.c) ----------------------------------- */

typedef struct oauth_result (*grant_fn)(struct grants *g,
                                        const struct token_request *rq,
                                        const struct store_client *cl,
                                        struct token_response *out);

struct oauth_result grant_password(struct grants *g,
                                   const struct token_request *rq,
                                   const struct store_client *cl,
                                   struct token_response *out);

struct oauth_result grant_refresh_token(struct grants *g,
                                        const struct token_request *rq,
                                        const struct store_client *cl,
                                        struct token_response *out);

/* RFC 7523 section 2.1 (grant_jwt_bearer.c). */
struct oauth_result grant_jwt_bearer(struct grants *g,
                                     const struct token_request *rq,
                                     const struct store_client *cl,
                                     struct token_response *out);
/* RFC 8628 (device.c). */
struct oauth_result grant_device_code(struct grants *g,
                                      const struct token_request *rq,
                                      const struct store_client *cl,
                                      struct token_response *out);
/* RFC 8693 (grant_token_exchange.c). */
struct oauth_result grant_token_exchange(struct grants *g,
                                         const struct token_request *rq,
                                         const struct store_client *cl,
                                         struct token_response *out);

struct oauth_result grant_authorization_code(struct grants *g,
                                             const struct token_request *rq,
                                             const struct store_client *cl,
                                             struct token_response *out);

struct oauth_result grant_client_credentials(struct grants *g,
                                             const struct token_request *rq,
                                             const struct store_client *cl,
                                             struct token_response *out);

/* ---- dpop.c: DPoP proofs (RFC 9449) -------------------------------------- */

/* How old a proof may be (its iat), besides CLIENT_ASSERTION_LEEWAY. */
#define DPOP_MAX_AGE 60

/* A proof to check, all borrowed: the DPoP header (NULL: none) and
 * whether it was sent more than once; the request's method and the
 * endpoint's URL; the access token it must name (ath), NULL at the token
 * endpoint. */
struct dpop_check {
	const char *proof;
	bool repeated;
	const char *htm, *htu;
	const char *access_token;
};
/* The one use of a proof's jti, to record (dpop_spend). */
struct dpop_spend {
	char hash[2 * SHA256_LEN + 1];
	int64_t expires_at;
	enum oauth_err refusal;
	bool done;
	struct oauth_result result; /* the first call's, once done */
};
/* OK with *jkt (caller frees) the thumbprint of the proof's key and its
 * jti spent, or, with later, ready to spend by dpop_spend(later); else
 * refusal (the endpoint's kind of invalid_dpop_proof) with why,
 * use_dpop_nonce, or 503 when the database could not record the jti. */
struct oauth_result dpop_proof_check(struct grants *g,
                                     const struct dpop_check *c,
                                     enum oauth_err refusal, char **jkt,
                                     struct dpop_spend *later);
/* Records the proof's use once (again: the first call's answer, nothing
 * written); a replay is its refusal. */
struct oauth_result dpop_spend(struct grants *g, struct dpop_spend *sp);
/* introspect.c: dpop_binding_check, then RFC 8705 section 3's rule for
 * a token bound to a TLS client certificate (x5t, NULL: unbound): only
 * over a connection that presented it (p->tls_x5t), else invalid_token. */
struct presented_token;
struct oauth_result binding_check(struct grants *g,
                                  const struct presented_token *p,
                                  const char *jkt, const char *x5t);
/* A resource's rule for a token bound to bound_jkt (NULL: unbound)
 * presented as p (grants.h, grants_check_presented). */
struct oauth_result dpop_binding_check(struct grants *g,
                                       const struct presented_token *p,
                                       const char *bound_jkt);

/* ---- token_endpoint.c --------------------------------------------------- */

/* Names of the grants this server implements, NULL-terminated. */
const char *const *grants_supported(void);

/* ---- the context ---------------------------------------------------------- */

struct grants {
	struct store *store;
	char *issuer;
	char *token_endpoint; /* issuer + token_path (client_assertion.c) */
	char *audience; /* NULL: none set (the issuer is the default aud) */
	bool introspection_requires_flag;
	int64_t access_token_ttl;
	struct signer *signer;
	struct keyring *keyring;
	struct secret_cache *secret_cache;
	struct jwks_fetcher *jwks_fetcher; /* clients' jwks_uri */
	/* DPoP nonces (dpop.c), when dpop_nonce is on: the current one,
	 * minted at nonce_at, under nonce_mu. */
	bool dpop_nonce;
	pthread_mutex_t nonce_mu;
	char *nonce;
	int64_t nonce_at;
	struct client_cache *client_cache; /* the token endpoint's */
	struct throttle *throttle; /* logins (login.c) */
	struct known_logins *known_logins; /* login.c */
	int login_max_failures;
	int login_max_failures_per_address;
	struct throttle *client_throttle; /* client secrets (client_auth.c) */
	int client_auth_max_failures;
	int client_auth_max_failures_per_address;
	int64_t refresh_token_ttl;
	bool issue_refresh_token;
	bool rotate_refresh_tokens;
	char *on_refresh;
	char *on_refresh_hook; /* NULL: none configured */
	long on_refresh_hook_timeout_ms;
	pthread_mutex_t hook_mu;      /* guards hook_busy */
	struct hook_busy *hook_busy;  /* grant_refresh.c */
	bool require_pkce;
	bool pkce_allow_plain;
	int64_t authorization_code_ttl;
	int64_t session_ttl;
	int64_t device_code_ttl, device_poll_interval; /* device.c */
	int64_t id_token_ttl;
	int64_t jwks_max_age;          /* key_schedule.c */
	int64_t key_rotation_interval; /* key_schedule.c; 0: off */
	int64_t key_schedule_quiet_until; /* key_schedule.c: after a failure */
	char *auto_approve_as; /* NULL: off */
};


/* Whether this client gets refresh tokens from user grants: the client's
 * override or the server's setting, and only if it may use them. */
bool refresh_enabled(const struct grants *g, const struct store_client *cl);

#endif
