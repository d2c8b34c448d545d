-- 0013_client_admin (PostgreSQL): a client marked admin (`latchkey client
-- add --admin`) is the only kind that may be granted the scope
-- latchkey:admin, which the admin HTTP API (admin_listen) requires
-- (issue 17). As the SQLite file migrations/0013_client_admin.sql. Never
-- edit once released.

-- 1: may hold latchkey:admin; 0: may not (every client before this).
ALTER TABLE clients ADD COLUMN is_admin SMALLINT NOT NULL DEFAULT 0;
