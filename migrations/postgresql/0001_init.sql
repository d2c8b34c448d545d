-- 0001_init (PostgreSQL): clients, users, signing keys and access-token
-- records; the same tables, columns and constraints as migrations/0001_init.sql
-- (SQLite). Never edit this file once released: add a new numbered migration.
-- Times are epoch seconds (BIGINT) from Latchkey's clock; flags are 0/1
-- SMALLINTs as on SQLite. Lists are single-space separated.

CREATE TABLE clients (
  client_id         TEXT PRIMARY KEY,
  name              TEXT NOT NULL,
  secret_hash       TEXT,                 -- PHC string; NULL for public clients
  is_public         SMALLINT NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),
  grant_types       TEXT NOT NULL,
  scopes            TEXT NOT NULL DEFAULT '',
  redirect_uris     TEXT NOT NULL DEFAULT '',
  access_token_ttl  BIGINT,               -- NULL: server default
  refresh_token_ttl BIGINT,               -- NULL: server default
  created_at        BIGINT NOT NULL,
  updated_at        BIGINT NOT NULL,
  CHECK (is_public = 1 OR secret_hash IS NOT NULL)
);

CREATE TABLE users (
  user_id       TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,            -- Argon2id PHC string
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);

CREATE TABLE signing_keys (
  kid         TEXT PRIMARY KEY,           -- RFC 7638 thumbprint
  alg         TEXT NOT NULL,
  private_pem TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  retired_at  BIGINT                      -- NULL: the current key
);
-- At most one current key.
CREATE UNIQUE INDEX signing_keys_current
  ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

CREATE TABLE access_tokens (
  jti        TEXT PRIMARY KEY,
  client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  subject    TEXT NOT NULL,
  scope      TEXT NOT NULL DEFAULT '',
  kid        TEXT NOT NULL REFERENCES signing_keys (kid),
  issued_at  BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX access_tokens_client ON access_tokens (client_id, expires_at);
-- Keeps a retired key's "still needed" check an index lookup.
CREATE INDEX access_tokens_kid ON access_tokens (kid, expires_at);
