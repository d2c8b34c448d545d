-- 0008_signing_keys_per_alg (SQLite): one current signing key per
-- algorithm instead of one in all. OpenID Connect signs ID tokens RS256 by
-- default while access tokens stay on signing_alg (ES256 by default), so
-- the server keeps a current key of each algorithm (shared/DECISIONS.md,
-- "OpenID Connect"). A database made before keeps its one current key;
-- the server adds the other algorithm's at start. The index is what makes
-- instances starting at once on one database add exactly one key per
-- algorithm: the loser's insert is refused. The PostgreSQL twin is
-- migrations/postgresql/ of the same name. Never edit once released.
DROP INDEX signing_keys_current;
CREATE UNIQUE INDEX signing_keys_current_alg
  ON signing_keys (alg) WHERE retired_at IS NULL;
