/*
 * store.h: the storage interface. Everything Latchkey keeps (clients, users,
 * access- and refresh-token records, signing keys, authorization codes,
 * browser sessions, consents) is reached through struct store_ops, in the
 * shape of SQLite's sqlite3_vfs: one table of function pointers per entity
 * (clients, users, keys, tokens, refresh tokens and families, codes,
 * sessions, consents, upkeep, throttling), plus a separate table of what only tests
 * use. A second backend fills the same tables; nothing above this line
 * knows which one runs.
 *
 * Ownership: structs filled by a getter own their strings; release them
 * with the matching *_clear. Input structs are borrowed for the call only.
 * Callbacks of the *_list functions borrow the row until they return; a
 * non-zero return from a callback stops the listing.
 *
 * This module knows nothing about OAuth or HTTP: a scope here is a string.
 */
#ifndef LK_STORE_H
#define LK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_rc {
	STORE_OK = 0,
	STORE_NOT_FOUND,
	STORE_CONFLICT,     /* unique or foreign key violation */
	STORE_BUSY,         /* locked past the busy timeout */
	STORE_IO,           /* disk full, read-only, I/O error, corrupt */
	STORE_SCHEMA_NEWER, /* database migrated by a newer Latchkey */
	STORE_SCHEMA_EDITED,/* an applied migration differs from this binary's */
	STORE_INVALID,      /* the backend cannot open what it was given */
	STORE_UNAVAILABLE,  /* the database cannot be reached (a server
	                     * backend: down, restarting, unreachable) */
	STORE_BAD_VALUE,    /* a write carried a value the database cannot
	                     * hold (PostgreSQL: text that is not UTF-8);
	                     * nothing was written. A lookup by such a
	                     * value is STORE_NOT_FOUND instead. */
	STORE_STALE,        /* an issue's client changed or went since the
	                     * request read it (store_issue.client_version);
	                     * nothing was written */
};
const char *store_rc_str(enum store_rc rc);

struct store_client {
	char *client_id;
	char *name;
	char *secret_hash;   /* PHC string; NULL for public clients */
	bool is_public;
	char *grant_types;   /* space-separated */
	char *scopes;        /* space-separated; "" for none */
	char *redirect_uris; /* space-separated; "" for none */
	int64_t access_token_ttl;  /* 0: server default */
	int64_t refresh_token_ttl; /* 0: server default */
	int64_t created_at, updated_at;
	/* Since schema 2. Zero values mean "the server's setting". */
	enum store_tristate { STORE_DEFAULT = 0, STORE_ON, STORE_OFF }
	    issue_refresh_token;
	char *on_refresh; /* "nothing" | "revoke" | "hook" | NULL */
	/* Since schema 4. NULL: the server's setting; "": off for this
	 * client; else /authorize approves at once as this username. */
	char *auto_approve_as;
	/* Since schema 5. The aud values of its access tokens, space-
	 * separated; "" for none (the server's default). */
	char *audiences;
	/* Since schema 5. May call /introspect when the server requires the
	 * flag (introspection_requires_flag). */
	bool introspect;
	/* Since schema 7. Read only: bumped by the store on every xUpdate;
	 * an insert starts it at a random value, so that a client removed
	 * and added again under its id does not match a version read
	 * before; store_issue's client_version. */
	int64_t secret_version;
	/* Since schema 9 (OpenID Connect). NULL: RS256. */
	char *id_token_alg;            /* "RS256" | "ES256" | NULL */
	bool require_nonce;            /* /authorize must carry a nonce */
	char *post_logout_redirect_uris; /* space-separated; "" for none */
	bool logout_revokes_refresh_tokens;
	char *access_token_claims; /* JSON object text; NULL or "{}": none */
	char *release_claims;      /* custom user claim names, space-separated */
	/* Since schema 11 (issue 17). A disabled client authenticates
	 * nowhere (invalid_client) but keeps its record and history. */
	int64_t disabled_at; /* 0: enabled; else when it was disabled */
	/* The secret before the last rotation with a grace period, which
	 * authenticates too until previous_secret_expires_at (exclusive);
	 * NULL and 0 when none. */
	char *previous_secret_hash;
	int64_t previous_secret_expires_at;
	/* Since schema 13 (issue 17). Only an admin client may be granted
	 * the scope latchkey:admin, which the admin HTTP API requires. */
	bool is_admin;
	/* Since schema 14 (issue 19). The client's public keys, a JWKS
	 * document as JSON text (NULL: none), and RFC 7591's
	 * token_endpoint_auth_method (NULL: a secret by either method, or
	 * none for a public client; else "client_secret_basic",
	 * "client_secret_post" or "private_key_jwt"). */
	char *jwks;
	char *auth_method;
	char *jwks_uri; /* or where the keys are published; NULL: none */
	/* Since schema 15 (issue 19): /token requires a DPoP proof (RFC
	 * 9449; its dpop_bound_access_tokens). */
	bool require_dpop;
	/* Since schema 19 (issue 19): what the TLS client certificate of a
	 * tls_client_auth client names (RFC 8705 section 2.1.2), exactly
	 * one of them; NULL otherwise. */
	char *tls_subject_dn; /* RFC 4514, as GnuTLS prints a subject */
	char *tls_san_dns;    /* a subjectAltName dNSName */
	char *tls_san_uri;    /* a subjectAltName URI */
};
void store_client_clear(struct store_client *c);
/* A deep copy of src into dst (dst's old contents are not freed). */
void store_client_copy(struct store_client *dst, const struct store_client *src);

struct store_user {
	char *user_id; /* stable subject identifier */
	char *username;
	char *password_hash; /* Argon2id PHC string */
	int64_t created_at, updated_at;
	char *claims; /* since schema 9: JSON object text; NULL or "{}": none */
};
void store_user_clear(struct store_user *u);

/* The record of an issued access token (the token itself is not kept). */
struct store_token {
	char *jti;
	char *client_id;
	char *subject;
	char *scope;
	char *kid;
	int64_t issued_at, expires_at;
	int64_t revoked_at; /* 0: not revoked */
	char *family_id;    /* NULL when issued without a refresh token */
};
void store_token_clear(struct store_token *t);

/* A refresh token's record; the token itself is kept only as a hash. */
struct store_refresh {
	char *token_hash; /* hex SHA-256 of the token */
	char *family_id;
	char *client_id;
	char *subject;
	char *username;   /* NULL for client tokens */
	char *scope;
	char *access_jti; /* the access token issued together with it */
	int64_t issued_at, expires_at;
	int64_t retired_at; /* 0: live; else rotated out */
	int64_t revoked_at; /* 0: not revoked */
	/* Since schema 9: the login the family came from, repeated by each
	 * rotation, for refreshed ID tokens (OpenID Connect Core 12.2).
	 * 0 / NULL: none (not a browser login). */
	int64_t auth_time;
	char *sid;
	char *amr; /* space-separated */
	/* Since schema 15: the DPoP key (RFC 7638 thumbprint) a public
	 * client's refresh token is bound to (RFC 9449 section 5); NULL:
	 * none. */
	char *dpop_jkt;
};
void store_refresh_clear(struct store_refresh *r);

/* A token record's status at now: "revoked" (revoked_at set) wins, then
 * "rotated" (a retired refresh token; 0 for access tokens), then
 * "expired", else "active". Static strings. */
const char *store_token_status(int64_t revoked_at, int64_t retired_at,
                               int64_t expires_at, int64_t now);

/* An authorization code's record (RFC 6749 section 4.1.2); the code itself
 * is kept only as a hash. */
struct store_code {
	char *code_hash; /* hex SHA-256 of the code */
	char *client_id;
	char *subject;   /* the user's user_id */
	char *username;
	char *redirect_uri; /* as sent to /authorize; NULL when omitted */
	char *scope;
	char *code_challenge;        /* NULL: no PKCE */
	/* "S256" | "plain"; NULL exactly when code_challenge is (the table
	 * refuses one without the other). */
	char *code_challenge_method;
	int64_t issued_at, expires_at;
	int64_t used_at;  /* 0: not redeemed */
	char *family_id;  /* set when redeemed: the tokens it produced */
	char *resource;   /* since schema 5: RFC 8707 resource; NULL: none */
	/* Since schema 9 (OpenID Connect): the request's nonce (NULL: none)
	 * and the login session's auth_time, sid and amr (0 / NULL: none). */
	char *nonce;
	int64_t auth_time;
	char *sid;
	char *amr;
	/* Since schema 15: RFC 9449 section 10's dpop_jkt, the key the
	 * code's redemption must prove; NULL: none. */
	char *dpop_jkt;
};
void store_code_clear(struct store_code *c);

/* Since schema 16: a device authorization request (RFC 8628). The device
 * code and the user code (normalized) are kept only as hashes. */
struct store_device {
	char *device_code_hash;
	char *user_code_hash;
	char *client_id;
	char *scope;
	int64_t issued_at, expires_at;
	int64_t poll_interval;  /* seconds; grows with slow_down */
	int64_t last_polled_at; /* 0: never polled */
	int64_t decided_at;     /* 0: nobody has decided yet */
	bool approved;
	/* Who approved, and their login (0 / NULL until approved). */
	char *user_id, *username;
	int64_t auth_time;
	char *sid, *amr;
	int64_t used_at;  /* 0: no tokens given yet */
	char *family_id;  /* set with used_at: the tokens it gave */
};
void store_device_clear(struct store_device *d);

/* Since schema 17: an issuer whose JWTs clients may trade for tokens
 * (RFC 7523 section 2.1, the JWT bearer grant). Exactly one of jwks and
 * jwks_uri is set. */
struct store_issuer {
	char *issuer;   /* its iss, compared exactly */
	char *client_id; /* the client whose requests may carry its JWTs */
	char *jwks;     /* a JWKS document; NULL: fetched from jwks_uri */
	char *jwks_uri;
	char *audience; /* the aud its tokens carry; NULL: ours */
	int64_t created_at;
};
void store_issuer_clear(struct store_issuer *i);
typedef int (*store_issuer_cb)(const struct store_issuer *i, void *arg);

/* Since schema 18: a resource of the registry (RFC 8707): what an API
 * wants of the tokens aimed at it. Which clients may ask for it is their
 * audiences list, not this record. */
struct store_resource {
	char *resource;   /* its identifier, the resource parameter's value */
	char *audience;   /* the aud its tokens carry; NULL: resource */
	char *scopes;     /* space-separated, those it accepts; NULL: any */
	int64_t access_token_ttl; /* 0: none of its own */
	int64_t created_at;
};
void store_resource_clear(struct store_resource *r);
typedef int (*store_resource_cb)(const struct store_resource *r,
                                 void *arg);

/* A browser session (the cookie is kept only as a hash). */
struct store_session {
	char *session_hash;
	char *user_id;
	int64_t auth_time; /* when the user last gave the password */
	int64_t expires_at;
	/* Since schema 9: the public id (OpenID Connect's sid claim) and the
	 * methods of the login (RFC 8176 values, space-separated). */
	char *sid;
	char *amr;
	char *username; /* filled by xList; xAdd ignores it */
};
void store_session_clear(struct store_session *s);

/* The scopes a user has allowed a client. */
struct store_consent {
	char *user_id;
	char *client_id;
	char *scope; /* space-separated */
	int64_t granted_at, updated_at;
	char *username; /* filled by the consent xGet and xList; xPut ignores it */
};
void store_consent_clear(struct store_consent *c);

/* One change in the audit trail (schema 12): who changed what, when, and
 * the fields it changed. Never a secret or a hash in any field. */
struct store_audit {
	int64_t id;    /* the store's; ids grow in the order events happened */
	int64_t at;
	char *actor;   /* "cli:USER", or an admin API client */
	char *address; /* the actor's address; NULL for the CLI */
	char *action;  /* "client.disable", "user.remove", ... */
	char *object;  /* "client:ID", "user:NAME", "key:ALG", ... */
	char *changes; /* JSON object text: {"field": {"old": .., "new": ..}} */
};
void store_audit_clear(struct store_audit *e);

/* Which audit events xList hands over: NULL fields match any. */
struct store_audit_filter {
	const struct store_page *page; /* NULL: every row */
	const char *object;
	const char *actor;
};

/* Everything one successful token response writes, in one transaction. */
struct store_issue {
	int64_t now;
	/* Retire this refresh token first; if it is no longer live (retired,
	 * revoked or expired at now) nothing is written and STORE_CONFLICT is
	 * returned: of concurrent refreshes, exactly one wins. NULL: none. */
	const char *retire_hash;
	/* Without rotation: keep this refresh token but point it at the new
	 * access token (relink_jti), under the same liveness condition, and
	 * only while it still points at relink_from_jti, the access token
	 * the caller read with it (NULL: it pointed at none). This is a
	 * compare-and-set: if another issue relinked the token in between,
	 * nothing is written and STORE_CONFLICT is returned, so each relink
	 * replaces exactly the access token its caller read, and a
	 * revoke_jti of relink_from_jti revokes exactly that one. Of N
	 * concurrent relinks that each revoke what they replace, the access
	 * tokens left live are one: the last winner's. */
	const char *relink_hash;
	const char *relink_jti;
	const char *relink_from_jti;
	const char *revoke_jti;            /* on_refresh=revoke; NULL: none */
	/* Redeem this authorization code first: set its used_at to now and
	 * its family_id to access->family_id, if it is unused and unexpired at
	 * now; else nothing is written and STORE_CONFLICT is returned (of
	 * concurrent redemptions, exactly one wins). NULL: none. */
	const char *consume_code_hash;
	/* Since schema 16: likewise a device code (RFC 8628), if it is
	 * approved, unused and unexpired at now; else STORE_CONFLICT. */
	const char *consume_device_hash;
	/* The secret_version of the client's row that the request
	 * authenticated against (client: access->client_id). Checked first,
	 * in the transaction: if the client was changed since (a rotated
	 * secret, on any instance) or removed, nothing is written and
	 * STORE_STALE is returned (never STORE_CONFLICT, which is the other
	 * checks'). A change of the client and an issue for it are ordered:
	 * the change either commits before the check or waits until the
	 * issue committed (SQLite: one writer; PostgreSQL: a per-client
	 * advisory lock, shared by issues, exclusive for a change, whose
	 * queue is fair so that a busy client cannot starve a rotation). */
	int64_t client_version;
	const struct store_token *access;  /* always */
	const struct store_refresh *refresh; /* NULL: no refresh token */
};

/* A window on a listing (the CLI's --since and --limit, docs/cli.md):
 * of the rows the listing would hand over, only those created at or
 * after since (0: every one; created is a record's issued_at, created_at
 * or granted_at), and of those only the newest limit (0: all), found by
 * the query itself, not by reading everything. The rows still come in
 * the listing's own order. With a limit, the backend sets *matched
 * (when not NULL) to how many rows passed since, before the limit, so
 * the caller can say how many it left out: a second scan, so leave it
 * NULL when the count goes unused. Both backends read it in the
 * statement that reads the rows, so it is of the same snapshot: matched
 * is never less than the rows handed over. NULL page: every row. */
struct store_page {
	int64_t since;
	int64_t limit;
	int64_t *matched;
};

struct store_token_filter {
	const struct store_page *page; /* NULL: every row */
	const char *client_id; /* NULL: every client */
	bool active_only;      /* unrevoked and unexpired at now */
	int64_t now;
	const char *subject;   /* NULL: every subject */
	const char *family_id; /* NULL: any family, or none */
};

/* Which refresh-token records the refresh table's xList hands over. */
struct store_refresh_filter {
	const struct store_page *page; /* NULL: every row */
	const char *client_id; /* NULL: every client */
	const char *subject;   /* NULL: every subject */
	const char *family_id; /* NULL: every family */
	bool active_only;      /* not retired, not revoked, unexpired at now */
	int64_t now;
};

/* The retired_at of a next key (xAddNext): not a time. It keeps the key
 * out of the "one current key per algorithm" index (retired_at IS NULL,
 * migration 0008) with no schema change, and every retired-key rule
 * (retired_at > a time) leaves it alone. */
#define STORE_KEY_NEXT (-1)

struct store_key {
	char *kid;
	char *alg;
	char *private_pem;
	int64_t created_at;
	int64_t retired_at; /* 0: the current signing key; STORE_KEY_NEXT: the
	                     * next one, published but not signing yet */
};
void store_key_clear(struct store_key *k);

/* What one store_purge deleted. */
struct store_purge_counts {
	int64_t access_tokens;  /* access-token records */
	int64_t refresh_tokens; /* refresh-token records */
	int64_t codes;          /* authorization codes */
	int64_t sessions;       /* browser sessions */
	int64_t throttle_keys;  /* throttle rows (PostgreSQL) past every
	                         * window and reservation */
	/* clients whose previous secret's grace had ended: its hash is
	 * cleared (the client stays) */
	int64_t previous_secrets;
	int64_t used_jtis; /* one-time ids (xJtiUse) past their expiry */
	/* device codes (RFC 8628), STORE_PURGE_CODE_GRACE past theirs */
	int64_t device_codes;
};

/* The longest failure window a throttle may be given (the settings
 * login_failure_window and client_auth_failure_window are bounded by
 * it): the purge deletes a throttle row once this long has passed since
 * its window began and its reservations have expired, whichever window
 * the server runs with. */
#define STORE_THROTTLE_WINDOW_MAX 86400

/* Authorization codes are kept this long past their expiry, so a replay
 * that comes late still finds the family to revoke (RFC 6749 section
 * 4.1.2). */
#define STORE_PURGE_CODE_GRACE 86400

/* What store_backup made. */
struct store_backup_info {
	int64_t pages;     /* database pages copied */
	int64_t bytes;     /* size of the file made */
};

typedef int (*store_client_cb)(const struct store_client *c, void *arg);
typedef int (*store_user_cb)(const struct store_user *u, void *arg);
typedef int (*store_token_cb)(const struct store_token *t, void *arg);
typedef int (*store_key_cb)(const struct store_key *k, void *arg);
typedef int (*store_consent_cb)(const struct store_consent *c, void *arg);
typedef int (*store_audit_cb)(const struct store_audit *e, void *arg);
typedef int (*store_refresh_cb)(const struct store_refresh *r, void *arg);
typedef int (*store_session_cb)(const struct store_session *se, void *arg);

struct store;

/* The completion of a submitted issue (store_issue_submit): called exactly
 * once, with the issue's result; when and where: the token table's xIssue. */
typedef void (*store_issue_done)(enum store_rc rc, void *arg);

/* ---- the methods, one table per entity ------------------------------------
 * A backend fills one table of each kind below and points struct store_ops
 * at them, as SQLite's sqlite3_vfs points at its sqlite3_io_methods. Every
 * slot of the production tables must be filled; the test-double table is
 * optional. Methods are named for what they do within their table (a
 * client's xAdd, a token's xRevoke); the wrappers further down keep the
 * names callers know (store_client_add, store_token_revoke). */

/* The database as a whole: its life, its schema and its threads. */
struct store_db_methods {
	void (*xClose)(struct store *s);
	/* Applies pending migrations; *applied counts them, *schema is the
	 * resulting version. On failure err names the reason. */
	enum store_rc (*xMigrate)(struct store *s, int *applied, int *schema,
	                          char *err, size_t errlen);
	/* Schema version of the database and of this binary, without changes. */
	enum store_rc (*xSchemaVersion)(struct store *s, int *db, int *binary);
	/* The calling thread will not use the store again: release what the
	 * backend keeps for it (SQLite: its connection). For threads that
	 * end before the store is closed. */
	void (*xThreadEnd)(struct store *s);
};

struct store_client_methods {
	enum store_rc (*xAdd)(struct store *s, const struct store_client *c);
	enum store_rc (*xGet)(struct store *s, const char *client_id,
	                      struct store_client *out);
	/* Replaces every mutable field of an existing client. */
	enum store_rc (*xUpdate)(struct store *s, const struct store_client *c);
	/* Removes the client and, with it, its token records. */
	enum store_rc (*xRemove)(struct store *s, const char *client_id);
	/* In client_id order; page: store_page. */
	enum store_rc (*xList)(struct store *s, const struct store_page *page,
	                       store_client_cb cb, void *arg);
};

struct store_user_methods {
	enum store_rc (*xAdd)(struct store *s, const struct store_user *u);
	enum store_rc (*xGet)(struct store *s, const char *username,
	                      struct store_user *out);
	enum store_rc (*xGetById)(struct store *s, const char *user_id,
	                          struct store_user *out);
	enum store_rc (*xSetPassword)(struct store *s, const char *username,
	                              const char *password_hash, int64_t now);
	/* Replaces the user's claims (a JSON object's text). */
	enum store_rc (*xSetClaims)(struct store *s, const char *username,
	                            const char *claims, int64_t now);
	enum store_rc (*xRemove)(struct store *s, const char *username);
	/* In username order; page: store_page. */
	enum store_rc (*xList)(struct store *s, const struct store_page *page,
	                       store_user_cb cb, void *arg);
};

struct store_key_methods {
	/* Adds a key as the current one of its algorithm (k->alg) and
	 * retires the previous current key of that algorithm, in one
	 * transaction; the other algorithm's current key stays current. */
	enum store_rc (*xAddCurrent)(struct store *s, const struct store_key *k);
	/* The same as a compare-and-set, for the server's own key changes:
	 * adds k as current of its algorithm only when that algorithm's
	 * current key is still `expected` (NULL: only when it has none, the
	 * first key of that algorithm). STORE_CONFLICT, with nothing
	 * written, when another process changed that algorithm's current
	 * key first: read it with xCurrent. Instances started at once on
	 * one database so create one key per algorithm. */
	enum store_rc (*xReplaceCurrent)(struct store *s, const char *expected,
	                                 const struct store_key *k);
	/* The current key of algorithm alg ("ES256", "RS256");
	 * STORE_NOT_FOUND when it has none. */
	enum store_rc (*xCurrent)(struct store *s, const char *alg,
	                          struct store_key *out);
	/* Every key, or (published_only) the keys a verifier may still
	 * need at now: each algorithm's current key, a retired key that
	 * still has an unexpired access-token record, and a retired key
	 * retired less than grace seconds ago (it may have signed a token
	 * that is not recorded, an ID token, living up to grace). Current
	 * first, then newest. page (store_page) applies to the full list
	 * only; NULL: all. */
	enum store_rc (*xList)(struct store *s, bool published_only,
	                       int64_t now, int64_t grace,
	                       const struct store_page *page,
	                       store_key_cb cb, void *arg);
	/* Staged rotation (issue 17): a "next" key is published (the JWKS,
	 * the published list) but signs nothing until promoted; its
	 * retired_at reads STORE_KEY_NEXT. xAddNext stores k as its
	 * algorithm's next key, in one transaction retiring (at
	 * k->created_at) a next key already there, or with only_if_none
	 * refusing with STORE_CONFLICT when there is one (the schedule of
	 * several instances). */
	enum store_rc (*xAddNext)(struct store *s, const struct store_key *k,
	                          bool only_if_none);
	/* The next key of alg; STORE_NOT_FOUND when it has none. */
	enum store_rc (*xNext)(struct store *s, const char *alg,
	                       struct store_key *out);
	/* Makes alg's next key (expected: only if it is that kid; NULL:
	 * whichever) its current key and retires the current one at now, in
	 * one transaction. STORE_NOT_FOUND, with nothing written, when alg
	 * has no (such) next key. */
	enum store_rc (*xPromote)(struct store *s, const char *alg,
	                          const char *expected, int64_t now);
};

/* Access-token records, and the issue that writes them. */
struct store_token_methods {
	/* Runs the writes of is (struct store_issue) in one transaction and
	 * calls done with the result, exactly once: STORE_OK once they are
	 * committed (how durably: enum store_durability). Both backends
	 * queue is for their writer thread and return at once; done runs on
	 * that thread once the commit that holds is is over, so is, all it
	 * points to and arg must live until then (store_issue waits for
	 * it). A failed commit gives every issue in it the error. */
	void (*xIssue)(struct store *s, const struct store_issue *is,
	               store_issue_done done, void *arg);
	enum store_rc (*xGet)(struct store *s, const char *jti,
	                      struct store_token *out);
	enum store_rc (*xList)(struct store *s, const struct store_token_filter *f,
	                       store_token_cb cb, void *arg);
	/* Revokes unrevoked tokens by jti, or all of a client's (its refresh
	 * tokens too, in one transaction); *count says how many changed (0
	 * for unknown or already revoked). */
	enum store_rc (*xRevoke)(struct store *s, const char *jti, int64_t now,
	                         int *count);
	enum store_rc (*xRevokeClient)(struct store *s, const char *client_id,
	                               int64_t now, int *count);
	/* Revokes every unrevoked refresh and access token whose subject is
	 * subject (for a user: its user_id), in one transaction; *count is
	 * the number of tokens changed. */
	enum store_rc (*xRevokeSubject)(struct store *s, const char *subject,
	                                int64_t now, int *count);
};

/* Refresh-token records and the families they form. */
struct store_refresh_methods {
	enum store_rc (*xGet)(struct store *s, const char *token_hash,
	                      struct store_refresh *out);
	/* Refresh-token records matching f, oldest first (issued_at, then
	 * insertion order). */
	enum store_rc (*xList)(struct store *s,
	                       const struct store_refresh_filter *f,
	                       store_refresh_cb cb, void *arg);
	/* Revokes every refresh and access token of a family; *count is the
	 * number of tokens changed. */
	enum store_rc (*xFamilyRevoke)(struct store *s, const char *family_id,
	                               int64_t now, int *count);
	/* Revokes every family of client_id with a refresh token of the
	 * login session sid (its refresh and access tokens), in one
	 * transaction; other clients' families of the session stay (each
	 * client chooses with its logout_revokes_refresh_tokens); *count is
	 * the number of tokens changed. */
	enum store_rc (*xRevokeSid)(struct store *s, const char *sid,
	                            const char *client_id, int64_t now,
	                            int *count);
};

struct store_code_methods {
	/* Records a new code (used_at and family_id as given, normally unset).
	 * STORE_CONFLICT: the hash is taken, or the client or user is unknown. */
	enum store_rc (*xAdd)(struct store *s, const struct store_code *c);
	/* The record whatever its state (used, expired), so a second
	 * redemption can be recognized; STORE_NOT_FOUND when unknown or
	 * purged. Codes are redeemed only through the token table's xIssue. */
	enum store_rc (*xGet)(struct store *s, const char *code_hash,
	                      struct store_code *out);
	/* Records that the one-time value named by jti_hash (hex, at most 64
	 * characters: a hash of the kind, the client and the jti) was used,
	 * until expires_at. STORE_CONFLICT: it was already used and its row
	 * has not expired at now (a replay); a row expired at now is taken
	 * over. Since schema 14: client assertions (RFC 7523). */
	enum store_rc (*xJtiUse)(struct store *s, const char *jti_hash,
	                         int64_t expires_at, int64_t now);
	/* Since schema 16: device codes (RFC 8628). xDeviceAdd records a
	 * pending one; STORE_CONFLICT when either hash is taken (the caller
	 * draws another user code) or the client is unknown. Device codes
	 * are redeemed only through an issue (consume_device_hash). */
	enum store_rc (*xDeviceAdd)(struct store *s,
	                            const struct store_device *d);
	/* By the device code's hash, whatever its state. */
	enum store_rc (*xDeviceGet)(struct store *s, const char *hash,
	                            struct store_device *out);
	/* By the user code's hash: only one pending and unexpired at now
	 * (STORE_NOT_FOUND otherwise). */
	enum store_rc (*xDeviceByUser)(struct store *s, const char *hash,
	                               int64_t now, struct store_device *out);
	/* Records the decision d (decided_at, approved, user_id, username,
	 * auth_time, sid, amr) on the pending, unexpired device code of the
	 * user code hash user_hash; STORE_NOT_FOUND, with nothing written,
	 * when there is none (decided meanwhile, expired, unknown). */
	enum store_rc (*xDeviceDecide)(struct store *s, const char *user_hash,
	                               int64_t now,
	                               const struct store_device *d);
	/* A poll: sets last_polled_at to now and poll_interval to interval,
	 * only if last_polled_at is still was (0: never polled); else
	 * STORE_CONFLICT (another poll came in between), nothing written. */
	enum store_rc (*xDevicePoll)(struct store *s, const char *hash,
	                             int64_t was, int64_t now,
	                             int64_t interval);
};

struct store_session_methods {
	/* STORE_CONFLICT: the hash is taken or the user is unknown. */
	enum store_rc (*xAdd)(struct store *s, const struct store_session *se);
	/* STORE_NOT_FOUND for unknown and for expired at now alike. */
	enum store_rc (*xGet)(struct store *s, const char *session_hash,
	                      int64_t now, struct store_session *out);
	/* Ends every browser session of a user (a new password, or signing
	 * the user out everywhere); *count is how many there were. */
	enum store_rc (*xEndUser)(struct store *s, const char *user_id,
	                          int *count);
	/* Ends the session whose public id is sid; *count is 0 or 1. */
	enum store_rc (*xEnd)(struct store *s, const char *sid, int *count);
	/* Sessions unexpired at now, of one user (user_id; NULL: all), by
	 * auth_time then sid, with username filled; page: store_page. */
	enum store_rc (*xList)(struct store *s, const char *user_id,
	                       int64_t now, const struct store_page *page,
	                       store_session_cb cb, void *arg);
};

struct store_consent_methods {
	enum store_rc (*xGet)(struct store *s, const char *user_id,
	                      const char *client_id, struct store_consent *out);
	/* Inserts, or replaces the scope of, the (user, client) consent: a new
	 * row takes c's granted_at and updated_at, an existing one keeps its
	 * granted_at and takes c's scope and updated_at. STORE_CONFLICT: the
	 * user or the client is unknown. */
	enum store_rc (*xPut)(struct store *s, const struct store_consent *c);
	/* Consents of a user and/or a client (NULL: any), by client_id then
	 * username. */
	enum store_rc (*xList)(struct store *s, const char *user_id,
	                       const char *client_id,
	                       const struct store_page *page,
	                       store_consent_cb cb, void *arg);
	/* Removes a user's consent for one client (client_id) or for all
	 * (NULL); *count says how many went. */
	enum store_rc (*xRevoke)(struct store *s, const char *user_id,
	                         const char *client_id, int *count);
};

/* The resource registry (schema 18). */
struct store_resource_methods {
	/* STORE_CONFLICT: one of that identifier exists. */
	enum store_rc (*xAdd)(struct store *s, const struct store_resource *r);
	enum store_rc (*xGet)(struct store *s, const char *resource,
	                      struct store_resource *out);
	/* By identifier; page: store_page (created is created_at). */
	enum store_rc (*xList)(struct store *s, const struct store_page *page,
	                       store_resource_cb cb, void *arg);
	/* *count: rows removed (0 or 1). */
	enum store_rc (*xRemove)(struct store *s, const char *resource,
	                         int *count);
};

/* Trusted issuers of the JWT bearer grant (schema 17). */
struct store_issuer_methods {
	/* STORE_CONFLICT: one of that issuer exists, or the client is
	 * unknown. */
	enum store_rc (*xAdd)(struct store *s, const struct store_issuer *i);
	enum store_rc (*xGet)(struct store *s, const char *issuer,
	                      struct store_issuer *out);
	/* By issuer; page: store_page (created is created_at). */
	enum store_rc (*xList)(struct store *s, const struct store_page *page,
	                       store_issuer_cb cb, void *arg);
	/* *count is 0 or 1. */
	enum store_rc (*xRemove)(struct store *s, const char *issuer,
	                         int *count);
};

/* The audit trail (schema 12). */
struct store_audit_methods {
	/* Appends e (its id is the store's). */
	enum store_rc (*xAdd)(struct store *s, const struct store_audit *e);
	/* The events f selects, oldest first (a page: the newest
	 * page->limit of them, still oldest first). */
	enum store_rc (*xList)(struct store *s,
	                       const struct store_audit_filter *f,
	                       store_audit_cb cb, void *arg);
	/* Deletes the events from before `before`, in short transactions;
	 * *count says how many went. */
	enum store_rc (*xPurge)(struct store *s, int64_t before,
	                        int64_t *count);
};

/* Housekeeping: the one purge, and backups. */
struct store_upkeep_methods {
	/* Deletes what can no longer matter at now, by the rules of
	 * store_purge (below), in short transactions. *out counts what
	 * went, also when a later batch fails. The only purge: the server's
	 * housekeeping and `latchkey purge` both run it. */
	enum store_rc (*xPurge)(struct store *s, int64_t now,
	                        struct store_purge_counts *out);
	/* Copies the database, while it is in use, to a new file (see
	 * store_backup). NULL: the backend has its own tool for that, and
	 * store_backup says so. */
	enum store_rc (*xBackup)(struct store *s, const char *dest,
	                         bool replace, struct store_backup_info *out,
	                         char *err, size_t errlen);
};

/* Failed attempts at a secret, counted where every instance sees them
 * (grants/throttle_store.c implements grants' throttle.h on it). A key is
 * named by a hash (never a username or address); failures count in fixed
 * windows from a key's first failure; a reservation is a ticket with an
 * expiry, so a process that dies holding one locks nothing past it. Times
 * are the caller's (Latchkey's clock), never the database's. NULL table:
 * the backend has no shared throttling (SQLite: one process, grants
 * count in memory). */
struct store_throttle_key {
	const char *hash; /* hex; at most 64 characters */
	int soft;         /* as throttle.h's struct throttle_key */
	int hard;
	int local;        /* attempts this process has under way unwritten */
	bool clear_on_success;
};

/* A key's state as read at now. */
struct store_throttle_state {
	int failures;       /* in the live window */
	int pending;        /* unexpired reservations */
	int64_t last_check; /* when a reservation last went ahead */
};

/* A reservation's ticket: (expiry << 28) | 28 random bits, never 0; it
 * stops counting at its expiry whether or not it was ever dropped. */
struct store_throttle_methods {
	/* Reads the keys' states (a key with no row: all zero), one read. */
	enum store_rc (*xPeek)(struct store *s,
	                       const struct store_throttle_key *keys, size_t n,
	                       int64_t now, int64_t window,
	                       struct store_throttle_state *out);
	/* All keys or none, atomically across processes: adds ticket to
	 * each key's reservations when its failures + reservations + local
	 * stay under hard (and, past soft, none is under way and none went
	 * ahead this second). STORE_OK with had_failures[i] set for keys
	 * that had failures; STORE_CONFLICT with *stopped the key that
	 * refused and *slowed whether only soft did. */
	enum store_rc (*xReserve)(struct store *s,
	                          const struct store_throttle_key *keys,
	                          size_t n, int64_t now, int64_t window,
	                          int64_t ticket, bool *had_failures,
	                          int *stopped, bool *slowed);
	/* The attempt failed: drops ticket (0: none was written) and counts
	 * one failure on every key, starting its window if none runs. */
	enum store_rc (*xCommit)(struct store *s,
	                         const struct store_throttle_key *keys, size_t n,
	                         int64_t now, int64_t window, int64_t ticket);
	/* Drops ticket uncounted; succeeded: keys marked clear_on_success
	 * forget their failures. A key left with nothing is deleted. */
	enum store_rc (*xRelease)(struct store *s,
	                          const struct store_throttle_key *keys,
	                          size_t n, int64_t now, int64_t window,
	                          int64_t ticket, bool succeeded);
};

/* What only the test double (--test-double's /_control/reset) calls:
 * a table apart, so the production tables hold only what the server's
 * grants and the CLI use. No method here exists for tests alone: tests
 * seed through the methods above (a token through xIssue). */
struct store_test_methods {
	/* Deletes every token record, refresh token, code, session and
	 * consent, and the throttle table's counts where the backend keeps
	 * them, in one transaction (the test double's reset). Clients,
	 * users and keys stay. */
	enum store_rc (*xResetTokens)(struct store *s);
};

/* ---- copying a whole deployment (latchkey copy) ----------------------------
 * The tables a copy moves are named once, in storage/copy.c's catalogue
 * (store_copy_tables): columns, their types, the order of the tables (so
 * foreign keys hold as rows arrive) and of the rows. A backend only reads
 * and writes rows of a catalogue table as typed values; store_copy drives
 * both sides, so the CLI never learns which backends run. */
enum store_col_type { STORE_COL_INT, STORE_COL_TEXT };

struct store_copy_column {
	const char *name;
	enum store_col_type type;
};

/* Columns of one catalogue table at most (a backend's row buffer). */
#define STORE_COPY_MAX_COLS 40

struct store_copy_table {
	const char *name;
	const struct store_copy_column *cols;
	int ncols; /* at most STORE_COPY_MAX_COLS */
	/* ORDER BY of the read; NULL: the backend's insertion order (SQLite's
	 * rowid, PostgreSQL's identity column seq), which the writes keep. */
	const char *order_by;
};

/* A value of a column: SQL NULL, or of the column's type. */
struct store_value {
	bool null;
	int64_t i;        /* STORE_COL_INT */
	const char *text; /* STORE_COL_TEXT; borrowed for the callback */
};

/* Gets a row (t->ncols values) of a read; non-zero stops the read. */
typedef int (*store_row_cb)(const struct store_value *row, void *arg);

/* One side of a copy: a read snapshot or a write transaction. Each
 * backend embeds it as the first member of its own. */
struct store_copy {
	struct store *s;
	bool write;
	/* The first line of the database's own message about the last
	 * failure, or "": store_copy adds it to its message. */
	char why[256];
};

struct store_copy_methods {
	/* Opens one consistent read snapshot (write false) or one write
	 * transaction (write true) on a connection of its own; err says why
	 * not. Closed by xEnd in every case. */
	enum store_rc (*xBegin)(struct store *s, bool write,
	                        struct store_copy **out, char *err,
	                        size_t errlen);
	/* Rows of t in the snapshot or transaction. */
	enum store_rc (*xCount)(struct store_copy *c,
	                        const struct store_copy_table *t, int64_t *n);
	/* Streams t's rows in t's order (a read snapshot only). */
	enum store_rc (*xRead)(struct store_copy *c,
	                       const struct store_copy_table *t, store_row_cb cb,
	                       void *arg);
	/* Writes rows into t, in the order given, in batches: xWriteStart,
	 * xWriteRow per row, xWriteEnd (a write transaction only). */
	enum store_rc (*xWriteStart)(struct store_copy *c,
	                             const struct store_copy_table *t);
	enum store_rc (*xWriteRow)(struct store_copy *c,
	                           const struct store_value *row);
	enum store_rc (*xWriteEnd)(struct store_copy *c);
	/* Commits (commit, on a write transaction) or rolls back, and frees
	 * c; err says why a commit failed. */
	enum store_rc (*xEnd)(struct store_copy *c, bool commit, char *err,
	                      size_t errlen);
};

/* Grows with the interface. 1 to 6: one flat table, grown by appending.
 * 7: the methods grouped by entity, xIssue with a completion,
 * xPurgeExpired folded into xPurge, the test-only methods in struct
 * store_test_methods. 8: xReplaceCurrent for keys, and the throttle
 * table (NULL: none). 9: the copy table (latchkey copy reads and writes
 * whole tables through it, so it works between any two backends), and
 * store_purge_counts.throttle_keys. 10: xTokenAdd and xSessionRemove
 * gone (only tests called them). 11: the listings take a store_page
 * (the token and refresh filters carry one). 12: keys per algorithm
 * (migration 0008): xCurrent takes the algorithm, xAddCurrent and
 * xReplaceCurrent retire only the same algorithm's key, and the
 * published list takes a grace for unrecorded (ID) tokens. 13: OpenID
 * Connect (schema 9): a user's xSetClaims, the session's xEnd and xList,
 * the refresh table's xRevokeSid, and the new record fields. 14: xIssue
 * completes on the backend's writer thread, after it returns. 15: the
 * audit table. 16: staged key rotation (xAddNext, xNext, xPromote). 17:
 * the code table's xJtiUse and the client's jwks and auth_method. 18:
 * device codes (the code table's xDevice methods, consume_device_hash,
 * store_purge_counts.device_codes). 19: the issuer table. 20: the
 * resource table. 21: the client's tls_client_auth names. */
#define STORE_OPS_VERSION 21

struct store_ops {
	int version;      /* STORE_OPS_VERSION; store_open refuses another */
	const char *name; /* "sqlite" */
	const struct store_db_methods *db;
	const struct store_client_methods *client;
	const struct store_user_methods *user;
	const struct store_key_methods *key;
	const struct store_token_methods *token;
	const struct store_refresh_methods *refresh;
	const struct store_code_methods *code;
	const struct store_session_methods *session;
	const struct store_consent_methods *consent;
	const struct store_upkeep_methods *upkeep;
	const struct store_test_methods *test; /* NULL: none */
	const struct store_throttle_methods *throttle; /* NULL: none */
	const struct store_copy_methods *copy;
	const struct store_audit_methods *audit;
	const struct store_issuer_methods *issuer;
	const struct store_resource_methods *resource;
};

/* Each backend embeds this as its first member. */
struct store {
	const struct store_ops *ops;
};

/* Opens a store. A plain path or "sqlite:PATH" selects SQLite (the file is
 * created with mode 0600 when missing); a postgresql:// or postgres:// URI
 * selects PostgreSQL (STORE_UNAVAILABLE when the server cannot be reached,
 * so that trying again later may work; STORE_INVALID when the URI cannot
 * be read or the server refused the connection: authentication, no such
 * database or role). Free with store_close. */
enum store_rc store_open(const char *target, struct store **out, char *err,
                         size_t errlen);

/* How much of the last commits a crash may cost (the durability setting,
 * docs/configuration.md). */
enum store_durability {
	/* WAL with synchronous=NORMAL: a commit survives a crash of the
	 * process; a power cut or kernel crash may lose the last ones. */
	STORE_DURABILITY_NORMAL = 0,
	/* synchronous=FULL: every commit waits for the WAL to reach the disk
	 * (an fsync), so it also survives a power cut. */
	STORE_DURABILITY_FULL,
};

/* What store_open_with may be told; all zeroes is store_open's default. */
struct store_options {
	enum store_durability durability; /* SQLite */
	/* PostgreSQL (db_pool_size, db_connect_timeout, db_statement_timeout
	 * in docs/configuration.md). 0: that setting's default, from the
	 * settings table (core/config.c), the one place it is written; a
	 * negative statement_timeout: none. */
	int pool_size;
	int connect_timeout;   /* seconds */
	int statement_timeout; /* seconds */
};
#define STORE_PG_POOL_MAX 64

/* True when target names a PostgreSQL database (postgresql:// or
 * postgres://, as libpq reads URIs); else it is a SQLite file. */
bool store_target_is_pg(const char *target);

/* Copies target into out (NUL-terminated, truncated to outlen) with any
 * password replaced by "***": the user:password@ of a URI and a
 * password= parameter. Every message or log line that shows a --db value
 * goes through this. */
void store_target_redact(const char *target, char *out, size_t outlen);

/* store_open with options (NULL: the defaults). */
enum store_rc store_open_with(const char *target,
                              const struct store_options *o,
                              struct store **out, char *err, size_t errlen);
void store_close(struct store *s);

/* Thin wrappers, so callers never touch ops directly. */
enum store_rc store_migrate(struct store *s, int *applied, int *schema,
                            char *err, size_t errlen);
enum store_rc store_schema_version(struct store *s, int *db, int *binary);
enum store_rc store_client_add(struct store *s, const struct store_client *c);
enum store_rc store_client_get(struct store *s, const char *id,
                               struct store_client *out);
enum store_rc store_client_update(struct store *s, const struct store_client *c);
enum store_rc store_client_remove(struct store *s, const char *id);
enum store_rc store_client_list(struct store *s, store_client_cb cb, void *arg);
/* The listings through a store_page (NULL: the plain listing). */
enum store_rc store_client_page(struct store *s, const struct store_page *p,
                                store_client_cb cb, void *arg);
enum store_rc store_user_page(struct store *s, const struct store_page *p,
                              store_user_cb cb, void *arg);
enum store_rc store_key_page(struct store *s, const struct store_page *p,
                             store_key_cb cb, void *arg);
enum store_rc store_consent_page(struct store *s, const char *user_id,
                                 const char *client_id,
                                 const struct store_page *p,
                                 store_consent_cb cb, void *arg);
enum store_rc store_user_add(struct store *s, const struct store_user *u);
enum store_rc store_user_get(struct store *s, const char *username,
                             struct store_user *out);
enum store_rc store_user_set_password(struct store *s, const char *username,
                                      const char *hash, int64_t now);
enum store_rc store_user_set_claims(struct store *s, const char *username,
                                    const char *claims, int64_t now);
enum store_rc store_user_remove(struct store *s, const char *username);
enum store_rc store_user_list(struct store *s, store_user_cb cb, void *arg);
enum store_rc store_token_get(struct store *s, const char *jti,
                              struct store_token *out);
enum store_rc store_token_list(struct store *s, const struct store_token_filter *f,
                               store_token_cb cb, void *arg);
enum store_rc store_token_revoke(struct store *s, const char *jti, int64_t now,
                                 int *count);
enum store_rc store_token_revoke_client(struct store *s, const char *client_id,
                                        int64_t now, int *count);
enum store_rc store_key_add_current(struct store *s, const struct store_key *k);
enum store_rc store_key_replace_current(struct store *s, const char *expected,
                                        const struct store_key *k);
enum store_rc store_key_add_next(struct store *s, const struct store_key *k,
                                 bool only_if_none);
enum store_rc store_key_next(struct store *s, const char *alg,
                             struct store_key *out);
enum store_rc store_key_promote(struct store *s, const char *alg,
                                const char *expected, int64_t now);
enum store_rc store_key_current(struct store *s, const char *alg,
                               struct store_key *out);
/* xList without a page; grace: see xList (0 for the full list). */
enum store_rc store_key_list(struct store *s, bool published_only, int64_t now,
                             int64_t grace, store_key_cb cb, void *arg);
/* key_rotate.c: the staged rotation as a person asks for it (the CLI
 * and the admin API). publish_next makes a key of alg ("ES256") and
 * publishes it as the next key, replacing an earlier next key (its kid
 * in *replaced_kid, caller frees; NULL: none). rotate makes alg's next
 * key current when there is one (*promoted), else a new key made now;
 * the key it retired in *previous_kid (caller frees; NULL: none).
 * STORE_CONFLICT: the next key was promoted or replaced meanwhile;
 * STORE_INVALID: no key could be made. out: store_key_clear it. */
enum store_rc store_key_publish_next(struct store *s, const char *alg,
                                     int64_t now, struct store_key *out,
                                     char **replaced_kid);
enum store_rc store_key_rotate(struct store *s, const char *alg, int64_t now,
                               struct store_key *out, char **previous_kid,
                               bool *promoted);
/* Submits an issue (the token table's xIssue): done(rc, arg) is called
 * exactly once, on the backend's writer thread, usually after this has
 * returned. */
void store_issue_submit(struct store *s, const struct store_issue *is,
                        store_issue_done done, void *arg);
/* The same, waiting for the completion: returns its result. */
enum store_rc store_issue(struct store *s, const struct store_issue *is);
enum store_rc store_refresh_get(struct store *s, const char *token_hash,
                                struct store_refresh *out);
enum store_rc store_user_get_by_id(struct store *s, const char *user_id,
                                  struct store_user *out);
void store_thread_end(struct store *s);
enum store_rc store_family_revoke(struct store *s, const char *family_id,
                                  int64_t now, int *count);
enum store_rc store_refresh_list(struct store *s,
                                 const struct store_refresh_filter *f,
                                 store_refresh_cb cb, void *arg);
enum store_rc store_subject_revoke(struct store *s, const char *subject,
                                   int64_t now, int *count);
enum store_rc store_code_add(struct store *s, const struct store_code *c);
enum store_rc store_code_get(struct store *s, const char *code_hash,
                             struct store_code *out);
enum store_rc store_jti_use(struct store *s, const char *jti_hash,
                            int64_t expires_at, int64_t now);
enum store_rc store_issuer_add(struct store *s, const struct store_issuer *i);
enum store_rc store_issuer_get(struct store *s, const char *issuer,
                               struct store_issuer *out);
enum store_rc store_issuer_list(struct store *s, const struct store_page *page,
                                store_issuer_cb cb, void *arg);
enum store_rc store_issuer_remove(struct store *s, const char *issuer,
                                  int *count);
enum store_rc store_resource_add(struct store *s,
                                 const struct store_resource *r);
enum store_rc store_resource_get(struct store *s, const char *resource,
                                 struct store_resource *out);
enum store_rc store_resource_list(struct store *s,
                                  const struct store_page *page,
                                  store_resource_cb cb, void *arg);
enum store_rc store_resource_remove(struct store *s, const char *resource,
                                    int *count);
enum store_rc store_device_add(struct store *s, const struct store_device *d);
enum store_rc store_device_get(struct store *s, const char *hash,
                               struct store_device *out);
enum store_rc store_device_by_user(struct store *s, const char *hash,
                                   int64_t now, struct store_device *out);
enum store_rc store_device_decide(struct store *s, const char *user_hash,
                                  int64_t now, const struct store_device *d);
enum store_rc store_device_poll(struct store *s, const char *hash,
                                int64_t was, int64_t now, int64_t interval);
enum store_rc store_session_add(struct store *s,
                                const struct store_session *se);
enum store_rc store_session_get(struct store *s, const char *session_hash,
                                int64_t now, struct store_session *out);
enum store_rc store_consent_get(struct store *s, const char *user_id,
                                const char *client_id,
                                struct store_consent *out);
enum store_rc store_consent_put(struct store *s,
                                const struct store_consent *c);
enum store_rc store_consent_list(struct store *s, const char *user_id,
                                 const char *client_id, store_consent_cb cb,
                                 void *arg);
enum store_rc store_consent_revoke(struct store *s, const char *user_id,
                                   const char *client_id, int *count);
enum store_rc store_audit_add(struct store *s, const struct store_audit *e);
enum store_rc store_audit_list(struct store *s,
                               const struct store_audit_filter *f,
                               store_audit_cb cb, void *arg);
enum store_rc store_audit_purge(struct store *s, int64_t before,
                                int64_t *count);
enum store_rc store_session_end(struct store *s, const char *sid, int *count);
enum store_rc store_session_list(struct store *s, const char *user_id,
                                 int64_t now, const struct store_page *p,
                                 store_session_cb cb, void *arg);
enum store_rc store_refresh_revoke_sid(struct store *s, const char *sid,
                                       const char *client_id, int64_t now,
                                       int *count);
enum store_rc store_sessions_end_user(struct store *s, const char *user_id,
                                      int *count);

/* Housekeeping: deletes, as of now,
 *  - access-token records that have expired, revoked or not: an expired
 *    JWT is refused on its exp alone, and the keys still published are
 *    those with an unexpired token;
 *  - refresh-token records of a family once every refresh token of the
 *    family has expired. Until then its rotated-out (retired) and revoked
 *    tokens stay, however old, so presenting any of them again is still
 *    seen as reuse and revokes the family (RFC 9700 section 4.14.2);
 *  - authorization codes expired more than STORE_PURGE_CODE_GRACE ago;
 *  - sessions that have expired;
 *  - throttle rows (a backend with a throttle table) whose failure
 *    window began STORE_THROTTLE_WINDOW_MAX or more ago (or never) and
 *    whose reservations have all expired at now.
 * Works in batches of short write transactions, so requests are held up
 * for one batch at most. Safe to run while the server runs, and again. */
enum store_rc store_purge(struct store *s, int64_t now,
                          struct store_purge_counts *out);

/* Online backup: copies the database, consistent as of the moment the
 * copy starts, to dest while others keep reading and writing it. The copy
 * is written aside (dest.partial-XXXXXX, mode 0600), checked with
 * PRAGMA integrity_check, synced, and only then given the name dest;
 * a failure leaves no dest behind. An existing dest is replaced only
 * with replace (never the database itself, nor its -wal or -shm).
 * STORE_CONFLICT: dest exists; STORE_IO: it could not be written or did
 * not check out; err says which. */
enum store_rc store_backup(struct store *s, const char *dest, bool replace,
                           struct store_backup_info *out, char *err,
                           size_t errlen);

/* The catalogue of a copy (storage/copy.c): the tables it moves, in an
 * order in which foreign keys hold, and the tables it leaves out on
 * purpose, each with why. */
extern const struct store_copy_table store_copy_tables[];
extern const size_t store_copy_ntables;
struct store_copy_exclusion {
	const char *table;  /* a table, or "table.column" */
	const char *reason;
};
extern const struct store_copy_exclusion store_copy_excluded[];
extern const size_t store_copy_nexcluded;

/* Copies every catalogue table of from into to: from is read in one
 * snapshot, to is written in one transaction that commits only when it
 * held no row in any catalogue table before and holds as many rows of
 * each as from did. Both must be at this binary's schema version (migrate
 * to first). counts[i] receives the rows of store_copy_tables[i]. Stored
 * hashes are copied as they are. STORE_CONFLICT: to was not empty;
 * STORE_SCHEMA_NEWER: either was migrated further than this binary;
 * else the failing side's result; err says which table and why, and
 * nothing was written to to. */
enum store_rc store_copy(struct store *from, struct store *to,
                         int64_t *counts, char *err, size_t errlen);

/* The test-double table (struct store_test_methods); STORE_INVALID when
 * the backend has none. */
enum store_rc store_reset_tokens(struct store *s);

/* The throttle table (struct store_throttle_methods): whether the backend
 * has one, and its wrappers (STORE_INVALID without one). */
bool store_has_throttle(struct store *s);
enum store_rc store_throttle_peek(struct store *s,
                                  const struct store_throttle_key *keys,
                                  size_t n, int64_t now, int64_t window,
                                  struct store_throttle_state *out);
enum store_rc store_throttle_reserve(struct store *s,
                                     const struct store_throttle_key *keys,
                                     size_t n, int64_t now, int64_t window,
                                     int64_t ticket, bool *had_failures,
                                     int *stopped, bool *slowed);
enum store_rc store_throttle_commit(struct store *s,
                                    const struct store_throttle_key *keys,
                                    size_t n, int64_t now, int64_t window,
                                    int64_t ticket);
enum store_rc store_throttle_release(struct store *s,
                                     const struct store_throttle_key *keys,
                                     size_t n, int64_t now, int64_t window,
                                     int64_t ticket, bool succeeded);

/* SQLite and libpq, as built and as running (core/version.h, which is
 * not included here: it is only for binaries, with CMake's version). */
struct version_libs;
void store_libs(struct version_libs *v);

/* ---- records as people write and read them ---------------------------------
 * One description of a client (client_spec.c) and of a token record
 * (token_json.c), shared by the admin CLI and the test double's fixtures
 * and controls. They live here because both front-ends need them and the
 * CLI may depend on storage and core only; they describe storage's own
 * records, with core's rules (validate.h). JSON is jansson's json_t
 * (declared by its struct tag, so this header needs no jansson.h); each
 * returns a new reference the caller owns. The syntax of the front-ends
 * (option names, the words 'default', JSON types) and the wording of
 * their messages stay with them. */
struct json_t;

/* The settable fields of a client, named by the fixtures file's keys
 * (client_field_defs[f].key); the CLI's options map onto them. */
enum client_field {
	CLIENT_F_NAME = 0,
	CLIENT_F_PUBLIC,
	CLIENT_F_GRANTS,
	CLIENT_F_SCOPES,
	CLIENT_F_REDIRECT_URIS,
	CLIENT_F_ACCESS_TTL,
	CLIENT_F_REFRESH_TTL,
	CLIENT_F_ON_REFRESH,
	CLIENT_F_ISSUE_REFRESH,
	CLIENT_F_AUTO_APPROVE,
	CLIENT_F_AUDIENCES,
	CLIENT_F_INTROSPECT,
	/* OpenID Connect claims (docs/openid-connect.md, "Claims"). */
	CLIENT_F_ACCESS_TOKEN_CLAIMS,
	CLIENT_F_RELEASE_CLAIMS,
	/* OpenID Connect: ID tokens */
	CLIENT_F_ID_TOKEN_ALG,
	CLIENT_F_REQUIRE_NONCE,
	CLIENT_F_POST_LOGOUT_URIS,
	CLIENT_F_LOGOUT_REVOKES,
	/* issue 17: may be granted latchkey:admin (the admin HTTP API) */
	CLIENT_F_ADMIN,
	/* issue 19: keys instead of a secret (RFC 7523 private_key_jwt) */
	CLIENT_F_JWKS,
	CLIENT_F_AUTH_METHOD,
	CLIENT_F_JWKS_URI,
	CLIENT_F_REQUIRE_DPOP, /* RFC 9449 (issue 19) */
	/* RFC 8705 (issue 19): a tls_client_auth certificate's names */
	CLIENT_F_TLS_SUBJECT_DN,
	CLIENT_F_TLS_SAN_DNS,
	CLIENT_F_TLS_SAN_URI,
	CLIENT_F__MAX
};

/* What a field holds, so a front-end knows what to read for it. */
enum client_value_type {
	CLIENT_V_TEXT,     /* one string (name) */
	CLIENT_V_WORDS,    /* a list of words (grants, scopes, ...) */
	CLIENT_V_TTL,      /* seconds; 0: the server's setting */
	CLIENT_V_POLICY,   /* on_refresh; none: the server's setting */
	CLIENT_V_APPROVER, /* a username, "" for off; none: the server's */
	CLIENT_V_BOOL,     /* on or off */
	CLIENT_V_TRISTATE, /* on, off or the server's setting */
	CLIENT_V_CLAIMS,   /* a whole JSON object of claims, as text in
	                    * words[0] (claim_spec.c checks it) */
	CLIENT_V_JWKS,     /* a JWKS document as text in words[0] (core's
	                    * jwks_check); a refusal's *bad is why */
};

struct client_field_def {
	const char *key;           /* "grants": the fixtures file's key */
	enum client_value_type type;
	const char *what;          /* "grant type", for "invalid WHAT 'x'" */
	const char *rule;          /* what a valid value (or word) is */
	bool (*valid)(const char *s); /* TEXT, WORDS, APPROVER */
	/* The words come from a fixed list (grant types): one outside it is
	 * unknown rather than malformed. */
	bool closed;
};
extern const struct client_field_def client_field_defs[CLIENT_F__MAX];

/* How a list of values becomes words (client_words_collect). */
enum {
	CLIENT_WORDS_SPLIT = 1 << 0,      /* a value may hold several words,
	                                   * space-separated */
	CLIENT_WORDS_SKIP_EMPTY = 1 << 1, /* "" adds no word (`--scope ''`
	                                   * asks for an empty list) */
};

/* Joins n values into one space-separated list in *list (caller frees;
 * "" for none), each word once in the order first given, as the store
 * keeps lists. Returns true, or false with *bad a copy of the first
 * word valid refuses (caller frees) and *list NULL. */
bool client_words_collect(const char *const *v, size_t n, int how,
                          bool (*valid)(const char *word), char **list,
                          char **bad);

/* One value for a field, in the field's type. */
struct client_value {
	/* TTL, POLICY, APPROVER: the server's setting (the rest is unread) */
	bool server_setting;
	const char *const *words; /* WORDS: n words; TEXT, POLICY,
	                           * APPROVER: words[0] */
	size_t n;
	int how;                  /* WORDS: CLIENT_WORDS_* */
	int64_t seconds;          /* TTL */
	enum store_tristate state; /* BOOL (STORE_ON or STORE_OFF),
	                            * TRISTATE */
};

/* Sets field f of c to v after checking it by core's rule. Returns true,
 * or false with c unchanged and *bad (caller frees) a copy of the value
 * or word refused (NULL for a lifetime: the number is v->seconds). */
bool client_spec_set(struct store_client *c, enum client_field f,
                     const struct client_value *v, char **bad);

/* The scope the admin HTTP API requires; client_spec_finish keeps it in
 * the scopes of an admin client (is_admin) and out of every other's. */
#define CLIENT_ADMIN_SCOPE "latchkey:admin"

/* Whether c authenticates with a signed assertion (private_key_jwt)
 * rather than a secret: it has no secret then, and its secret_hash is
 * CLIENT_NO_SECRET (the schema wants one for every confidential client;
 * that text is no PHC string, so nothing ever matches it). */
bool client_spec_uses_keys(const struct store_client *c);
/* Whether c authenticates with a TLS client certificate (RFC 8705:
 * tls_client_auth or self_signed_tls_client_auth). */
bool client_spec_uses_cert(const struct store_client *c);
/* Either: c has no secret, and its secret_hash is CLIENT_NO_SECRET. */
bool client_spec_secretless(const struct store_client *c);
#define CLIENT_NO_SECRET "!private_key_jwt"

/* NULL when id may name a new client, else the rule it breaks. */
const char *client_spec_id_rule(const char *id);

/* Fills what the user left out with the defaults of `latchkey client
 * add` (the name is the id; a confidential client gets
 * client_credentials and a public one authorization_code and
 * refresh_token; empty lists), puts CLIENT_ADMIN_SCOPE in or out of the
 * scopes by is_admin, then checks the rules that span fields.
 * Returns NULL, or why not as a static sentence with *where the field
 * to blame. */
const char *client_spec_finish(struct store_client *c,
                               enum client_field *where);

/* Gives c the secret whose hash is new_hash (taken), as of now: with
 * grace > 0 the secret it replaces keeps working until now + grace; one
 * still in an earlier grace stops now (two secrets at most). The CLI's
 * `client rotate-secret` and the admin API's. */
void client_spec_rotate_secret(struct store_client *c, char *new_hash,
                               int64_t now, int64_t grace);

/* The client as JSON: `latchkey client show --json`'s object. With
 * with_secret, a client_secret member follows client_id: secret, or null
 * for a public client. */
struct json_t *client_spec_json(const struct store_client *c,
                                bool with_secret, const char *secret);

/* A JSON string for s; null when s is NULL or not valid UTF-8. */
struct json_t *store_json_str(const char *s);
/* A JSON integer for v, or null for 0: the store's "unset" (a lifetime
 * left to the server's setting, a record not yet revoked or retired). */
struct json_t *store_json_opt_int(int64_t v);
/* A JSON array of the words of a space-separated list (the store's lists:
 * scopes, URIs, amr); [] for NULL or "". */
struct json_t *store_json_words(const char *list);

/* ---- claims (claim_spec.c): a user's, or a client's access-token claims.
 * Stored as a JSON object's compact text; NULL or "" reads as {}. */
#define CLAIMS_TEXT_MAX 16384
#define CLAIMS_TEXT_RULE "the claims take at most 16384 bytes as JSON"
/* NULL when value may be the claim name: the name by valid_claim_name
 * (no claim the server sets itself), a standard claim of OpenID Connect
 * Core 5.1 of its type (email_verified a boolean, address an object,
 * updated_at a number, the others strings); else the rule broken. */
const char *claim_check(const char *name, const struct json_t *value);
/* claim_check for every member of obj, and CLAIMS_TEXT_MAX. NULL, or the
 * rule broken with *bad the claim's name (borrowed from obj; NULL when
 * the set as a whole is refused). */
const char *claims_check(const struct json_t *obj, const char **bad);
/* Reads KEY=VALUE: the value is JSON when it parses as JSON (true, 42,
 * ["ops"]), else the text as a string. NULL with *name (caller frees)
 * and *value (a new reference) set; else the rule broken, with *name
 * set when the name was read (caller frees) and *value NULL. */
const char *claim_parse(const char *arg, char **name, struct json_t **value);
/* The stored text as a new object; NULL when it is not a JSON object. */
struct json_t *claims_load(const char *text);
/* The object as stored: compact, keys sorted. The caller frees. */
char *claims_dump(const struct json_t *obj);
/* A user as `latchkey user show --json` and the admin API show it:
 * username, user_id, claims, created_at, updated_at (never the hash). */
struct json_t *store_user_json(const struct store_user *u);

/* The "changes" of an audit event (audit_changes.c): the fields whose
 * values differ between before and after (JSON objects of a record,
 * without secrets; either NULL for an add or a removal), as
 * {"field": {"old": .., "new": ..}}; updated_at left out. Takes both. */
struct json_t *store_audit_changes(struct json_t *before,
                                   struct json_t *after);
/* Records one change made, at `at` by actor (from address; NULL for
 * none): changes (taken; NULL: none named) are stored as compact JSON
 * text, also left in *text for the caller's log line (caller frees).
 * The one writer of the audit trail: the CLI, the admin API and the key
 * schedule. */
enum store_rc store_audit_record(struct store *s, int64_t at,
                                 const char *actor, const char *address,
                                 const char *action, const char *object,
                                 struct json_t *changes, char **text);
/* An event as `latchkey audit list --json` and GET /admin/audit-events
 * show it: id, at, actor, address, action, object, changes (an object). */
struct json_t *store_audit_json(const struct store_audit *e);

/* Which members a token record's JSON has (token_json.c). */
enum token_json_view {
	/* `latchkey token list --json`: every column, null where unset,
	 * and the status at now. */
	TOKEN_JSON_RECORD,
	/* The test double's GET /_control/tokens: an access token's
	 * revoked as a boolean, unset members left out. */
	TOKEN_JSON_CONTROL,
};
struct json_t *token_json_access(const struct store_token *t, int64_t now,
                                 enum token_json_view view);
struct json_t *token_json_refresh(const struct store_refresh *r, int64_t now,
                                  enum token_json_view view);

#endif
