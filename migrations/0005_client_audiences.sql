-- 0005_client_audiences: per-client audiences and the introspection flag,
-- and the resource an authorization code was asked for. Never edit once
-- released.

-- The aud values of the client's access tokens (RFC 9068 section 2.2),
-- single-space separated like the other lists; '' for none: the server's
-- audience setting, else the issuer. A token request's resource parameter
-- (RFC 8707) may narrow it to one of them.
ALTER TABLE clients ADD COLUMN audiences TEXT NOT NULL DEFAULT '';

-- Whether the client may call /introspect when the server's
-- introspection_requires_flag is on (RFC 7662 section 4: limit it to
-- authorized resource servers). Existing clients start without it.
ALTER TABLE clients ADD COLUMN introspect INTEGER NOT NULL DEFAULT 0
  CHECK (introspect IN (0, 1));

-- The resource (RFC 8707) sent to /authorize, checked and used as the
-- tokens' aud when the code is redeemed. NULL: none was sent.
ALTER TABLE authorization_codes ADD COLUMN resource TEXT;
