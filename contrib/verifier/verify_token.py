#!/usr/bin/python3
"""A resource server's check of a Latchkey access token (RFC 9068), as an
API team should write it: a sample, with only Debian's python3-jwt.

    from verify_token import Verifier
    v = Verifier("https://auth.example.com", audience="https://api.example.com")
    claims = v.verify(token, required_scope="invoices:read")  # or raises

What it checks, and why (docs/operations.md, "Verify tokens in an API"):
- the header: typ "at+jwt" (RFC 9068 2.1: not an ID token), alg in an
  allow-list (never "none", never HS256 with a public key);
- the signature, with the key /jwks.json publishes under the token's kid;
  the JWKS cached for its Cache-Control max-age, and fetched again at
  most every 10 s on an unknown kid (a key rotated at once);
- iss exactly the issuer, aud containing this API, exp and iat present,
  with LEEWAY seconds for clocks that differ a little (not more: a
  token's life is short);
- the scope the call needs.
A token that passes is valid until its exp even if revoked: an API that
must see revocations at once asks /introspect instead.
"""
import json
import re
import time
import urllib.request

import jwt

LEEWAY = 30              # seconds of clock skew tolerated
REFETCH_ON_MISS = 10     # at most one JWKS fetch per this many seconds
ALGORITHMS = ["ES256", "RS256"]


class Verifier:
    def __init__(self, issuer, audience, jwks_url=None, leeway=LEEWAY):
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url or issuer.rstrip("/") + "/jwks.json"
        self.leeway = leeway
        self.keys, self.fresh_until, self.fetched_at = {}, 0.0, 0.0

    def _fetch(self):
        with urllib.request.urlopen(self.jwks_url, timeout=5) as r:
            body = json.load(r)
            m = re.search(r"max-age=(\d+)", r.headers.get("Cache-Control",
                                                          ""))
        self.keys = {k["kid"]: k for k in body["keys"]}
        self.fetched_at = time.monotonic()
        self.fresh_until = self.fetched_at + (int(m[1]) if m else 60)

    def _key(self, kid):
        if time.monotonic() >= self.fresh_until:
            self._fetch()
        if kid not in self.keys and \
                time.monotonic() - self.fetched_at >= REFETCH_ON_MISS:
            self._fetch()
        if kid not in self.keys:
            raise jwt.InvalidTokenError(f"unknown kid {kid!r}")
        return jwt.PyJWK(self.keys[kid]).key

    def verify(self, token, required_scope=None):
        header = jwt.get_unverified_header(token)
        if header.get("typ", "").lower() != "at+jwt":
            raise jwt.InvalidTokenError("not an access token (typ)")
        if header.get("alg") not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError(header.get("alg"))
        claims = jwt.decode(
            token, self._key(header.get("kid")), algorithms=ALGORITHMS,
            audience=self.audience, issuer=self.issuer, leeway=self.leeway,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        if required_scope is not None and \
                required_scope not in claims.get("scope", "").split():
            raise jwt.InvalidTokenError(f"scope {required_scope} missing")
        return claims


if __name__ == "__main__":
    import sys
    issuer, audience, token = sys.argv[1:4]
    print(json.dumps(Verifier(issuer, audience).verify(token), indent=2))
