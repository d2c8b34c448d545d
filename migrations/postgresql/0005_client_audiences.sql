-- 0005_client_audiences (PostgreSQL): per-client audiences and the
-- introspection flag, and the resource an authorization code was asked for,
-- as migrations/0005_client_audiences.sql. Never edit once released.

ALTER TABLE clients ADD COLUMN audiences TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN introspect SMALLINT NOT NULL DEFAULT 0
  CHECK (introspect IN (0, 1));
ALTER TABLE authorization_codes ADD COLUMN resource TEXT;
