-- 0006_throttle (PostgreSQL): failed attempts at a secret (a password,
-- a client secret) counted in the database, so that every instance sees the
-- same counts (grants/throttle_store.c, storage/pg_throttle.c). SQLite has
-- one process and counts in memory (grants/throttle.c): no SQLite twin.
-- Never edit once released.
--
-- key_hash: hex of a SHA-256 of the key's kind and value, never the
-- username, client id or address itself. Failures count from window_start
-- (0: none) for the caller's window. pending holds the reservations under
-- way, each a ticket (expiry << 28 | 28 random bits): a reservation whose
-- process died stops counting at its expiry, so nothing a dead process
-- held locks a key for longer than that.
CREATE TABLE throttle (
  key_hash TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  last_check BIGINT NOT NULL DEFAULT 0,
  pending BIGINT[] NOT NULL DEFAULT '{}'
);

-- The failures still in their window at now.
CREATE FUNCTION lk_throttle_failures(ws BIGINT, f INTEGER, now BIGINT,
                                     win BIGINT) RETURNS INTEGER
  LANGUAGE sql IMMUTABLE AS
  'SELECT CASE WHEN ws <> 0 AND now >= ws AND now - ws < win
               THEN f ELSE 0 END';

-- The reservations not yet expired at now.
CREATE FUNCTION lk_throttle_live(p BIGINT[], now BIGINT) RETURNS BIGINT[]
  LANGUAGE sql IMMUTABLE AS
  'SELECT coalesce(array_agg(e), ''{}'') FROM unnest(p) e
    WHERE (e >> 28) > now';
