-- 0002_refresh_tokens: refresh tokens, their families, and the per-client
-- refresh settings. Never edit once released.

-- A refresh token is 256 random bits, so an unsalted SHA-256 is enough to
-- keep it secret at rest and still find it by hash.
CREATE TABLE refresh_tokens (
  token_hash  TEXT PRIMARY KEY,           -- hex SHA-256 of the token
  family_id   TEXT NOT NULL,              -- shared by every rotation of one grant
  client_id   TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  subject     TEXT NOT NULL,
  username    TEXT,                       -- NULL for client tokens
  scope       TEXT NOT NULL DEFAULT '',
  access_jti  TEXT,                       -- the access token issued with it
  issued_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  retired_at  INTEGER,                    -- rotated out (presenting it again is reuse)
  revoked_at  INTEGER
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id, expires_at);
CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject);

ALTER TABLE access_tokens ADD COLUMN family_id TEXT;  -- NULL: no refresh token
CREATE INDEX access_tokens_family ON access_tokens (family_id);

ALTER TABLE clients ADD COLUMN issue_refresh_token INTEGER
  CHECK (issue_refresh_token IN (0, 1));  -- NULL: server default
ALTER TABLE clients ADD COLUMN on_refresh TEXT
  CHECK (on_refresh IN ('nothing', 'revoke', 'hook'));  -- NULL: server default
