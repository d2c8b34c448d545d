-- 0019_tls_client_auth (PostgreSQL): TLS client certificates (RFC 8705,
-- issue 19). SQLite's is migrations/
-- 0019_tls_client_auth.sql. Never edit once released.

-- Section 2.1.2: what the certificate of a client of the tls_client_auth
-- method must name, one of the three (client_spec.c checks it): its
-- subject DN (RFC 4514, as the server prints it), a dNSName or a
-- uniformResourceIdentifier of its subjectAltName. A client of
-- self_signed_tls_client_auth registers its certificates in jwks (x5c)
-- instead. NULL: not this client's method.
ALTER TABLE clients ADD COLUMN tls_client_auth_subject_dn TEXT;
ALTER TABLE clients ADD COLUMN tls_client_auth_san_dns TEXT;
ALTER TABLE clients ADD COLUMN tls_client_auth_san_uri TEXT;
