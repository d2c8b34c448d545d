#!/usr/bin/python3
"""A common requests.Session that renews its client credentials token
10 seconds before it expires.

Import OauthSession from it, or run it to GET API_URL twice with one token.
The one change from the usual version: a token endpoint error raises at once
(raise_for_status) instead of as a KeyError on "access_token".
"""
import json
import os
import time

import requests


class OauthSession(requests.Session):
    def __init__(self, client_id, client_secret, token_url, **kwargs):
        super(OauthSession, self).__init__(**kwargs)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_url = token_url
        self._access_token: None | str = None
        self._expires_at = None

    def issue_token(self):
        response = super(OauthSession, self).request(
            "POST",
            self.token_url,
            data={
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "grant_type": "client_credentials",
            },
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        response.raise_for_status()
        token = response.json()
        self._access_token = token["access_token"]
        self._expires_at = round(time.time()) + token["expires_in"]

    def expires_in(self):
        if self._expires_at is None:
            return 0
        return self._expires_at - time.time()

    def request(self, method, url, headers=None, **kwargs):
        if self.expires_in() < 10:
            self.issue_token()
        headers = headers or {}
        headers["Authorization"] = "Bearer %s" % self._access_token
        return super(OauthSession, self).request(method, url, headers=headers,
                                                 **kwargs)


if __name__ == "__main__":
    session = OauthSession(
        client_id=os.environ.get("CLIENT_ID", "svc"),
        client_secret=os.environ.get("CLIENT_SECRET", "svc-secret"),
        token_url=os.environ.get(
            "TOKEN_ENDPOINT", "http://127.0.0.1:8080"
            "/users-auth/protocol/openid-connect/token"),
    )
    for _ in range(2):
        r = session.get(os.environ.get("API_URL",
                                       "http://127.0.0.1:8080/resource"),
                        headers={"Accept": "application/json"})
        print(json.dumps({"status": r.status_code, "body": r.json()}))
