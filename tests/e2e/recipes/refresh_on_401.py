#!/usr/bin/python3
"""Refresh when the API answers 401, then retry once, storing the whole
token response (a strategy common in CRM integrations), in Python.

Usage: refresh_on_401.py CONFIG_FILE URL

CONFIG_FILE is the component's configuration, a JSON object:

    {"token_endpoint": "...", "client_id": "...", "client_secret": "...",
     "oauth": {the whole token response of the last login or refresh}}

GETs URL with oauth.access_token. On a 401 it refreshes with
oauth.refresh_token, replaces "oauth" with the whole new token response
(the server may rotate the refresh token, and then only the new one works),
writes CONFIG_FILE back, and sends the request again. A second 401 is an
error, not a loop. Prints the API's JSON answer on stdout; on failure, the
reason on stderr and exit status 1.
"""
import json
import os
import sys

import requests


class AuthorizationError(Exception):
    """The API answered 401 Unauthorized."""


def log(msg):
    print("refresh_on_401: " + msg, file=sys.stderr)


def send_request(url, configuration):
    r = requests.get(url, headers={
        "Authorization": "Bearer " + configuration["oauth"]["access_token"],
        "Accept": "application/json"})
    if r.status_code == 401:
        raise AuthorizationError(r.headers.get("WWW-Authenticate", ""))
    r.raise_for_status()
    return r.json()


def refresh_tokens(configuration):
    log("about to refresh tokens")
    oauth = configuration.get("oauth") or {}
    if "refresh_token" not in oauth:
        raise RuntimeError("no refresh token: log in first")
    r = requests.post(configuration["token_endpoint"], data={
        "grant_type": "refresh_token",
        "client_id": configuration["client_id"],
        "client_secret": configuration["client_secret"],
        "refresh_token": oauth["refresh_token"]})
    if r.status_code != 200:
        raise RuntimeError("refresh failed: %d %s" % (r.status_code, r.text))
    new_oauth = r.json()
    # RFC 6749 section 6: a server that does not rotate sends no new
    # refresh token, and the old one stays good.
    new_oauth.setdefault("refresh_token", oauth["refresh_token"])
    configuration["oauth"] = new_oauth


def emit_update_keys(path, configuration):
    """Stores the configuration with the new tokens: written aside and
    renamed, so a crash leaves the old file or the new one, never half."""
    log("storing updated keys")
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(configuration, f)
    os.replace(tmp, path)


def send_request_and_refresh_tokens_if_required(url, path, configuration):
    try:
        return send_request(url, configuration)
    except AuthorizationError:
        refresh_tokens(configuration)
        emit_update_keys(path, configuration)
        log("sending the original request with the refreshed access_token")
        try:
            return send_request(url, configuration)
        except AuthorizationError as e:
            raise RuntimeError("still 401 after a refresh: %s" % e) from e


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    path, url = argv[1], argv[2]
    with open(path) as f:
        configuration = json.load(f)
    try:
        answer = send_request_and_refresh_tokens_if_required(
            url, path, configuration)
    except (RuntimeError, requests.RequestException) as e:
        log(str(e))
        return 1
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
