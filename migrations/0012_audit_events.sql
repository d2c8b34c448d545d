-- 0012_audit_events (SQLite): the audit trail (issue 17): one row per
-- change made to clients, users, keys, consents, sessions or tokens by
-- the admin CLI (or, later, the admin API): when, who (actor, and the
-- address for a remote one), what (action and object) and the fields
-- changed with their old and new values, never a secret or a hash.
-- Rows are kept for audit_retention and then purged. PostgreSQL's is
-- migrations/postgresql/0012_audit_events.sql. Never edit once released.

CREATE TABLE audit_events (
  id      INTEGER PRIMARY KEY,  -- the order events happened in
  at      INTEGER NOT NULL,     -- seconds since the epoch
  actor   TEXT NOT NULL,        -- "cli:USER", or an admin API client
  address TEXT,                 -- the actor's address; NULL for the CLI
  action  TEXT NOT NULL,        -- "client.disable", "user.remove", ...
  object  TEXT NOT NULL,        -- "client:ID", "user:NAME", "key:ALG", ...
  changes TEXT NOT NULL DEFAULT '{}' -- {"field": {"old": .., "new": ..}}
) STRICT;
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_object ON audit_events (object, at);
