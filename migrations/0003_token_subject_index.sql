-- 0003_token_subject_index: finds a subject's access tokens by index, so
-- revoking everything of one user (`latchkey token revoke --user`) does not
-- scan every token ever issued. Never edit once released.

CREATE INDEX access_tokens_subject ON access_tokens (subject);
