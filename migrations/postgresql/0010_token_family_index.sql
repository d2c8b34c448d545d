-- 0010_token_family_index (PostgreSQL): the family index of access
-- tokens keeps only the tokens that have a family, as
-- migrations/0010_token_family_index.sql. `family_id = $1` and
-- `family_id IN (...)` imply `family_id IS NOT NULL` (the operators are
-- strict), so the planner still uses it for every lookup by family.
-- Never edit once released.

DROP INDEX access_tokens_family;
CREATE INDEX access_tokens_family ON access_tokens (family_id)
  WHERE family_id IS NOT NULL;
