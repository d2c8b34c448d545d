-- 0010_token_family_index (SQLite): the family index of
-- access tokens keeps only the tokens that have a family (refresh and
-- authorization code grants). A client_credentials token has none, and
-- now writes one index fewer when it is recorded (issue 16). Every lookup
-- by family (`family_id = ...`, `family_id IN (...)`) implies
-- `family_id IS NOT NULL`, so both databases still use the index for it.
-- Never edit once released.

DROP INDEX access_tokens_family;
CREATE INDEX access_tokens_family ON access_tokens (family_id)
  WHERE family_id IS NOT NULL;
