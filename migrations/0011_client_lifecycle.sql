-- 0011_client_lifecycle (SQLite): a client can be disabled and enabled
-- again without losing its registration or history, and a secret rotated
-- with a grace period keeps the previous secret's hash until the grace
-- ends, so a service can be redeployed with the new one without a failed
-- request (issue 17). PostgreSQL's is migrations/postgresql/ (BIGINT; a
-- STRICT SQLite table knows only INTEGER). Never edit once released.

-- 0: enabled; else the time (seconds since the epoch) it was disabled.
ALTER TABLE clients ADD COLUMN disabled_at INTEGER NOT NULL DEFAULT 0;
-- The hash of the secret before the last rotation (as secret_hash: a PHC
-- string, never the secret), accepted until previous_secret_expires_at.
ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_expires_at INTEGER NOT NULL
  DEFAULT 0;
