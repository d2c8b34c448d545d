-- 0017_trusted_issuers (PostgreSQL): the JWT bearer grant (RFC 7523 section
-- 2.1, issue 19). As the SQLite file migrations/
-- 0017_trusted_issuers.sql. Never edit once released.

-- Issuers whose JWTs a client may trade for a Latchkey access token
-- (`latchkey issuer add`): a workload platform such as a Kubernetes
-- cluster. Their public keys are registered (jwks, a JWKS document) or
-- fetched (jwks_uri), exactly one of the two. audience: the aud the
-- platform's tokens must carry (NULL: this server's issuer or token
-- endpoint, as RFC 7523 section 3 says). client_id: the one client whose
-- requests may carry them (the issuer's trust goes with the client).
CREATE TABLE trusted_issuers (
  issuer     TEXT PRIMARY KEY,
  client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  jwks       TEXT,
  jwks_uri   TEXT,
  audience   TEXT,
  created_at BIGINT NOT NULL,
  CHECK ((jwks IS NULL) <> (jwks_uri IS NULL))
);
CREATE INDEX trusted_issuers_client ON trusted_issuers (client_id);
