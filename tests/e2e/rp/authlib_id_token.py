#!/usr/bin/python3
"""authlib_id_token.py: Python authlib (Debian's python3-authlib) with
Latchkey as the OpenID Provider. The authorization code flow with a nonce
and PKCE (S256) through authlib's OAuth2Session, and the ID token
validated with authlib's JWT against the keys of the provider's JWKS:
the RS256 signature, iss, aud, exp, iat, nonce and at_hash.

Import it for validate_id_token(), or run it against the test double with
a client whose auto_approve_as names a user (docs/test-double.md), so that
/authorize answers with the redirect at once. It prints the validated
claims and the userinfo answer as one JSON object.

  ISSUER=http://127.0.0.1:8080 CLIENT_ID=web \\
  REDIRECT_URI=http://127.0.0.1:3000/callback ./authlib_id_token.py

CLIENT_SECRET is for a confidential client; without it the client is
public (PKCE only).
"""
import json
import os

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.oidc.core import CodeIDToken


def discover(issuer):
    r = requests.get(issuer + "/.well-known/openid-configuration", timeout=10)
    r.raise_for_status()
    return r.json()


def validate_id_token(config, client_id, token, nonce):
    """The claims of token["id_token"] once validated; raises
    authlib.jose.errors.JoseError when a check fails."""
    r = requests.get(config["jwks_uri"], timeout=10)
    r.raise_for_status()
    keys = JsonWebKey.import_key_set(r.json())
    claims = JsonWebToken(["RS256"]).decode(
        token["id_token"], keys, claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": config["issuer"]},
                        "aud": {"essential": True, "value": client_id},
                        "nonce": {"essential": True, "value": nonce}},
        claims_params={"client_id": client_id, "nonce": nonce,
                       "access_token": token["access_token"]})
    claims.validate(leeway=30)
    return claims


def sign_in(config, client_id, client_secret, redirect_uri,
            scope="openid email profile"):
    """The code flow; returns (session, token, nonce)."""
    session = OAuth2Session(
        client_id, client_secret, scope=scope, redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=("client_secret_basic" if client_secret
                                    else "none"))
    nonce, verifier = generate_token(20), generate_token(48)
    url, state = session.create_authorization_url(
        config["authorization_endpoint"], nonce=nonce, code_verifier=verifier)
    # auto_approve_as: the redirect with the code comes back at once.
    r = requests.get(url, allow_redirects=False, timeout=10)
    if "Location" not in r.headers:
        raise RuntimeError(f"/authorize answered {r.status_code}, "
                           "not a redirect")
    token = session.fetch_token(config["token_endpoint"], state=state,
                                authorization_response=r.headers["Location"],
                                code_verifier=verifier)
    return session, token, nonce


def main():
    env = os.environ
    config = discover(env["ISSUER"])
    session, token, nonce = sign_in(config, env["CLIENT_ID"],
                                    env.get("CLIENT_SECRET"),
                                    env["REDIRECT_URI"])
    claims = validate_id_token(config, env["CLIENT_ID"], token, nonce)
    userinfo = session.get(config["userinfo_endpoint"], timeout=10)
    userinfo.raise_for_status()
    print(json.dumps({"header": claims.header, "claims": claims,
                      "nonce": nonce, "userinfo": userinfo.json()}))


if __name__ == "__main__":
    main()
