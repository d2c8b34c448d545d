-- 0008_signing_keys_per_alg (PostgreSQL): one current signing key per
-- algorithm, as migrations/0008_signing_keys_per_alg.sql (SQLite) says
-- why. A database made before keeps its one current key; the server adds
-- the other algorithm's at start, and this index refuses a second
-- current key of one algorithm (instances starting at once add one).
-- Never edit once released.
DROP INDEX signing_keys_current;
CREATE UNIQUE INDEX signing_keys_current_alg
  ON signing_keys (alg) WHERE retired_at IS NULL;
