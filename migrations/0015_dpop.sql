-- 0015_dpop (SQLite): sender-constrained tokens (RFC 9449 DPoP, issue
-- 19). PostgreSQL's is migrations/postgresql/0015_dpop.sql. Never edit
-- once released.

-- RFC 9449 section 5.2's dpop_bound_access_tokens: the token endpoint
-- refuses this client's requests without a DPoP proof.
ALTER TABLE clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0
  CHECK (require_dpop IN (0, 1));

-- The key a public client's refresh token is bound to (section 5): the
-- RFC 7638 thumbprint of the proof's key when it was issued; a refresh
-- must be proved with the same key. NULL: not bound. Access tokens carry
-- theirs in the signed token (cnf.jkt), not here.
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;

-- Section 10: the key an authorization code was asked for with
-- (dpop_jkt at /authorize); its redemption must prove that key. NULL:
-- none.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
