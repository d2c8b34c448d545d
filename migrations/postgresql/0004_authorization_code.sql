-- 0004_authorization_code (PostgreSQL): authorization codes (RFC 6749
-- section 4.1 with RFC 7636 PKCE), browser sessions, remembered consent, and
-- the per-client auto_approve_as setting, as
-- migrations/0004_authorization_code.sql. Never edit once released.

-- used_at and family_id are set in the transaction that redeems a code, so a
-- second redemption can find and revoke what it produced.
CREATE TABLE authorization_codes (
  code_hash      TEXT PRIMARY KEY,        -- hex SHA-256 of the code
  client_id      TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  subject        TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  username       TEXT NOT NULL,
  redirect_uri   TEXT,                    -- as sent to /authorize; NULL: omitted
  scope          TEXT NOT NULL DEFAULT '',
  code_challenge TEXT,                    -- NULL: no PKCE
  code_challenge_method TEXT CHECK (code_challenge_method IN ('S256', 'plain')),
  issued_at      BIGINT NOT NULL,
  expires_at     BIGINT NOT NULL,
  used_at        BIGINT,
  family_id      TEXT,                    -- tokens issued from it
  CHECK ((code_challenge IS NULL) = (code_challenge_method IS NULL))
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);
CREATE INDEX authorization_codes_client ON authorization_codes (client_id);
CREATE INDEX authorization_codes_subject ON authorization_codes (subject);

-- A browser's login. The cookie holds 256 random bits; only the hash is kept.
CREATE TABLE sessions (
  session_hash TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  auth_time    BIGINT NOT NULL,           -- when the password was checked
  expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Scopes a user has allowed a client.
CREATE TABLE consents (
  user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  scope      TEXT NOT NULL DEFAULT '',
  granted_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client ON consents (client_id);

-- For test suites only: /authorize approves every request of the client as
-- this username. NULL: the server's setting; '': off for this client.
ALTER TABLE clients ADD COLUMN auto_approve_as TEXT;
