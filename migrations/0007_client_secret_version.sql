-- 0007_client_secret_version (SQLite): a counter bumped on every change of
-- a client's row (a rotated secret, a narrowed scope, ...). An issue
-- records its tokens only while the counter still has the value the
-- request authenticated against, in the same transaction, so no token is
-- issued for a rotated-out secret or a removed client, whichever process
-- changed it (shared/DECISIONS.md, "Removed clients and rotated
-- secrets"). The PostgreSQL twin is migrations/postgresql/ of the same
-- name (a STRICT table here takes INTEGER, not BIGINT). Never edit once
-- released.
ALTER TABLE clients ADD COLUMN secret_version INTEGER NOT NULL DEFAULT 0;
