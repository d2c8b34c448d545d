#!/bin/sh
# Signs a person in from a machine without a browser (RFC 8628) with curl
# and jq. ISS is the issuer, CLIENT_ID a public client registered with
# --grant device-code, SCOPE what to ask for. The token response goes to
# stdout, what to tell the person to stderr.
set -eu
d=$(curl -fsS -d client_id="$CLIENT_ID" -d scope="$SCOPE" \
    "$ISS/device_authorization")
device_code=$(printf '%s' "$d" | jq -r .device_code)
interval=$(printf '%s' "$d" | jq -r .interval)
printf 'Open %s and enter the code %s\n' \
    "$(printf '%s' "$d" | jq -r .verification_uri)" \
    "$(printf '%s' "$d" | jq -r .user_code)" >&2
while :; do
    sleep "$interval"
    t=$(curl -sS -d grant_type=urn:ietf:params:oauth:grant-type:device_code \
        -d device_code="$device_code" -d client_id="$CLIENT_ID" "$ISS/token")
    case $(printf '%s' "$t" | jq -r '.error // "none"') in
    none) printf '%s\n' "$t"; exit 0 ;;
    authorization_pending) ;;
    slow_down) interval=$((interval + 5)) ;;
    *) printf 'sign-in failed: %s\n' "$t" >&2; exit 1 ;;
    esac
done
