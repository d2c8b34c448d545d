-- 0018_resources (PostgreSQL): the resource registry (RFC 8707, issue 19).
-- SQLite's is migrations/0018_resources.sql. Never edit
-- once released.

-- Resources registered by the operator (`latchkey resource add`): an API
-- that tokens may be aimed at with the resource parameter. Which clients
-- may ask for it is their audiences list (shared/DECISIONS.md); a row
-- here adds what the API wants of its tokens. audience: the aud its
-- tokens carry (NULL: the resource identifier itself). scopes: the
-- space-separated scopes it accepts, the others being left out of its
-- tokens (NULL: any). access_token_ttl: its tokens' lifetime in seconds,
-- in place of the server's default and never longer than a client's own
-- (NULL: no lifetime of its own).
CREATE TABLE resources (
  resource         TEXT PRIMARY KEY,
  audience         TEXT,
  scopes           TEXT,
  access_token_ttl BIGINT,
  created_at       BIGINT NOT NULL,
  CHECK (access_token_ttl IS NULL OR access_token_ttl > 0)
);
