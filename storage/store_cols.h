/*
 * store_cols.h: the columns each table's records are read and written
 * with, in the order both backends' statements list them (the read_*
 * functions of sqlite_*.c and pg_*.c take the columns by position), so
 * SQLite and PostgreSQL read the same record the same way. Shared inside
 * storage/ only.
 */
#ifndef LK_STORE_COLS_H
#define LK_STORE_COLS_H

#define CLIENT_COLS "client_id, name, secret_hash, is_public, grant_types, " \
                    "scopes, redirect_uris, access_token_ttl, "              \
                    "refresh_token_ttl, created_at, updated_at, "              \
                    "issue_refresh_token, on_refresh, auto_approve_as, "   \
                    "audiences, introspect, id_token_signed_response_alg, " \
                    "require_nonce, post_logout_redirect_uris, "           \
                    "logout_revokes_refresh_tokens, access_token_claims, " \
                    "release_claims, disabled_at, previous_secret_hash, "  \
                    "previous_secret_expires_at, is_admin, jwks, "    \
                    "token_endpoint_auth_method, jwks_uri, require_dpop, " \
                    "tls_client_auth_subject_dn, tls_client_auth_san_dns, " \
                    "tls_client_auth_san_uri"
#define USER_COLS "user_id, username, password_hash, created_at, " \
                  "updated_at, claims"
#define TOKEN_COLS "jti, client_id, subject, scope, kid, issued_at, " \
                   "expires_at, revoked_at, family_id"
#define RT_COLS "token_hash, family_id, client_id, subject, username, scope, " \
                "access_jti, issued_at, expires_at, retired_at, revoked_at, " \
                "auth_time, sid, amr, dpop_jkt"
#define KEY_COLS "kid, alg, private_pem, created_at, retired_at"
#define CODE_COLS "code_hash, client_id, subject, username, redirect_uri, " \
                  "scope, code_challenge, code_challenge_method, "         \
                  "issued_at, expires_at, used_at, family_id, resource, "  \
                  "nonce, auth_time, sid, amr, dpop_jkt"
#define DEVICE_COLS "device_code_hash, user_code_hash, client_id, scope, " \
                    "issued_at, expires_at, poll_interval, "               \
                    "last_polled_at, decided_at, approved, user_id, "      \
                    "username, auth_time, sid, amr, used_at, family_id"
#define ISSUER_COLS "issuer, client_id, jwks, jwks_uri, audience, created_at"
#define RESOURCE_COLS "resource, audience, scopes, access_token_ttl, created_at"
#define AUDIT_COLS "id, at, actor, address, action, object, changes"
#define SESSION_COLS "session_hash, user_id, auth_time, expires_at, sid, amr"
/* A consent comes with its user's name, for listings. */
#define CONSENT_COLS "c.user_id, c.client_id, c.scope, c.granted_at, "      \
                     "c.updated_at, u.username"
#define CONSENT_JOIN "consents c JOIN users u ON u.user_id=c.user_id"
#define CONSENT_SELECT "SELECT " CONSENT_COLS " FROM " CONSENT_JOIN

#endif
