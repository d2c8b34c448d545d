-- 0014_client_keys (SQLite): clients that authenticate with a key they
-- never share (RFC 7523 private_key_jwt, issue 19), and the assertion ids
-- already used, so that an assertion is accepted once. PostgreSQL's is
-- migrations/postgresql/0014_client_keys.sql. Never edit once released.

-- The client's public keys, a JWKS document as JSON text; NULL: none.
ALTER TABLE clients ADD COLUMN jwks TEXT;
-- Or where they are published (fetched, checked and cached); NULL: none.
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
-- RFC 7591's token_endpoint_auth_method: client_secret_basic,
-- client_secret_post or private_key_jwt. NULL: a confidential client's
-- secret by either method (every client before this), or none for a
-- public client.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT;

-- jti_hash: hex SHA-256 of a kind, the client id and the jti, never the
-- jti itself. A row is kept until expires_at, the assertion's own expiry:
-- after it the assertion is refused for its exp anyway.
CREATE TABLE used_jtis (
  jti_hash TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE INDEX used_jtis_expires ON used_jtis (expires_at);
