-- 0009_openid (PostgreSQL): OpenID Connect. User claims; per-client ID token, logout
-- and claim settings; a public id (sid) and the authentication methods
-- (amr) of each browser session; and what an ID token must repeat that a
-- code or a refresh family carries: nonce (codes only), auth_time, sid,
-- amr (OpenID Connect Core sections 2, 3.1.3.6 and 12.2). As the SQLite
-- file migrations/0009_openid.sql. Never edit once
-- released.

-- A JSON object of the user's claims (email, name, groups, ...); which of
-- them a token carries is decided when it is issued (docs/openid-connect.md).
ALTER TABLE users ADD COLUMN claims TEXT NOT NULL DEFAULT '{}';

-- NULL: RS256, what OpenID Connect requires every provider to support.
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT
  CHECK (id_token_signed_response_alg IN ('RS256', 'ES256'));
ALTER TABLE clients ADD COLUMN require_nonce SMALLINT NOT NULL DEFAULT 0
  CHECK (require_nonce IN (0, 1));
-- Single-space separated, as redirect_uris.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL
  DEFAULT '';
ALTER TABLE clients ADD COLUMN logout_revokes_refresh_tokens SMALLINT
  NOT NULL DEFAULT 0 CHECK (logout_revokes_refresh_tokens IN (0, 1));
-- A JSON object of claims every access token of the client carries.
ALTER TABLE clients ADD COLUMN access_token_claims TEXT NOT NULL
  DEFAULT '{}';
-- Names of custom user claims released to the client, single-space
-- separated (the standard ones go by scope).
ALTER TABLE clients ADD COLUMN release_claims TEXT NOT NULL DEFAULT '';

-- Live sessions get a sid now, so that logout and session listings reach
-- them too: 122 random bits (a version 4 UUID, from a secure source).
ALTER TABLE sessions ADD COLUMN sid TEXT;
UPDATE sessions SET sid = replace(gen_random_uuid()::text, '-', '');
CREATE UNIQUE INDEX sessions_sid ON sessions (sid);
-- Space-separated RFC 8176 values; every session so far began with a
-- password.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';

ALTER TABLE authorization_codes ADD COLUMN nonce TEXT;
ALTER TABLE authorization_codes ADD COLUMN auth_time BIGINT;
ALTER TABLE authorization_codes ADD COLUMN sid TEXT;
ALTER TABLE authorization_codes ADD COLUMN amr TEXT;

-- Copied along each rotation, so a refreshed ID token repeats them.
ALTER TABLE refresh_tokens ADD COLUMN auth_time BIGINT;
ALTER TABLE refresh_tokens ADD COLUMN sid TEXT;
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT;
-- Logout may revoke the refresh tokens of a session (per client).
CREATE INDEX refresh_tokens_sid ON refresh_tokens (sid) WHERE sid IS NOT NULL;
