-- 0016_device_codes (PostgreSQL): device authorization (RFC 8628, issue 19).
-- As the SQLite file migrations/0016_device_codes.sql. Never edit
-- once released.

-- One row per device authorization request. The device code and the
-- user code are kept only as hashes (the user code normalized: upper
-- case, without separators). A row is pending until a person decides
-- (decided_at set; approved 1 or 0, and who: user_id, username, and the
-- login's auth_time, sid and amr); the device's polls record when they
-- came (last_polled_at) and slow down the device code's poll_interval
-- (section 3.5); the poll that gets tokens sets used_at and family_id in
-- the issue's transaction, so a device code gives tokens once.
CREATE TABLE device_codes (
  device_code_hash TEXT PRIMARY KEY,
  user_code_hash   TEXT NOT NULL UNIQUE,
  client_id        TEXT NOT NULL REFERENCES clients(client_id)
                     ON DELETE CASCADE,
  scope            TEXT NOT NULL,
  issued_at        BIGINT NOT NULL,
  expires_at       BIGINT NOT NULL,
  poll_interval    BIGINT NOT NULL,
  last_polled_at   BIGINT,
  decided_at       BIGINT,
  approved         SMALLINT NOT NULL DEFAULT 0 CHECK (approved IN (0, 1)),
  user_id          TEXT REFERENCES users(user_id) ON DELETE CASCADE,
  username         TEXT,
  auth_time        BIGINT,
  sid              TEXT,
  amr              TEXT,
  used_at          BIGINT,
  family_id        TEXT
);
CREATE INDEX device_codes_expires ON device_codes (expires_at);
-- Removing a client or a user deletes its device codes (the cascades).
CREATE INDEX device_codes_client ON device_codes (client_id);
CREATE INDEX device_codes_user ON device_codes (user_id);
