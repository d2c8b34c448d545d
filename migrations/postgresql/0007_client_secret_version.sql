-- 0007_client_secret_version (PostgreSQL): the counter of
-- migrations/0007_client_secret_version.sql (SQLite), bumped on every
-- change of a client's row and checked, under a share lock, by the
-- transaction that records an issue's tokens. Never edit once released.
ALTER TABLE clients ADD COLUMN secret_version BIGINT NOT NULL DEFAULT 0;
