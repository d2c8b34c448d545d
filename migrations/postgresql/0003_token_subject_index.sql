-- 0003_token_subject_index (PostgreSQL): finds a subject's access tokens by
-- index, as migrations/0003_token_subject_index.sql. Never edit once released.

CREATE INDEX access_tokens_subject ON access_tokens (subject);
