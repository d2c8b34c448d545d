"""A full run of every grant and endpoint against the real latchkeyd, at
log level debug, then a search for every secret the run used: client
secrets (generated and chosen), passwords (right and wrong), access and
refresh tokens, authorization codes and PKCE verifiers. None may appear in
the server's log, in /metrics, or in the CLI's output after `client add`;
and the database may hold none of the secrets, refresh tokens or codes in
the clear (only their hashes)."""
import base64
import hashlib
import http.client
import json
import secrets
import subprocess
import urllib.parse

import lk_db
from lk_harness import LATCHKEY, LatchkeyTestCase, add_client, basic, cli


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(
        verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class SecretsStaySecretTest(LatchkeyTestCase):
    def test_full_run(self):
        used = []  # every secret value this run handles
        svc = add_client(self.db, "svc", "--scope", "read")
        chosen = "chosen-secret-" + secrets.token_hex(8)
        api = add_client(self.db, "api", "--secret", chosen)
        app = add_client(self.db, "app", "--grant", "password", "--grant",
                         "refresh_token", "--scope", "read")
        web = add_client(self.db, "web", "--public", "--redirect-uri",
                         "https://app.example/cb", "--scope", "read",
                         "--auto-approve-as", "dave")
        password = "dave-password-" + secrets.token_hex(6)
        wrong = "wrong-password-" + secrets.token_hex(6)
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin=password + "\n")
        used += [svc["client_secret"], app["client_secret"], chosen,
                 password, wrong]
        ops = add_client(self.db, "ops", "--admin")
        used.append(ops["client_secret"])
        s = self.start("--log-level", "debug", "--admin-listen",
                       "127.0.0.1:0")
        A = (svc["client_id"], svc["client_secret"])
        P = (app["client_id"], app["client_secret"])
        I = (api["client_id"], chosen)

        at = s.token({"grant_type": "client_credentials"}, auth=A).json()
        used.append(at["access_token"])
        # Wrong secrets and passwords are logged as failures, not values.
        self.assertEqual(s.token({"grant_type": "client_credentials"},
                                 auth=(A[0], wrong)).status, 401)
        self.assertEqual(s.token({"grant_type": "password", "username":
                                  "dave", "password": wrong},
                                 auth=P).status, 400)
        t0 = s.token({"grant_type": "password", "username": "dave",
                      "password": password}, auth=P).json()
        t1 = s.token({"grant_type": "refresh_token",
                      "refresh_token": t0["refresh_token"]}, auth=P).json()
        reuse = s.token({"grant_type": "refresh_token",
                         "refresh_token": t0["refresh_token"]}, auth=P)
        self.assertEqual(reuse.status, 400)  # logged as a security event
        used += [t0["access_token"], t0["refresh_token"],
                 t1["access_token"], t1["refresh_token"]]

        verifier, challenge = pkce()
        q = urllib.parse.urlencode({
            "response_type": "code", "client_id": web["client_id"],
            "redirect_uri": "https://app.example/cb", "scope": "read",
            "state": "st", "code_challenge": challenge,
            "code_challenge_method": "S256"})
        r = s.request("GET", "/authorize?" + q)
        self.assertEqual(r.status, 302, r.body)
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(
            r.headers["location"]).query)["code"][0]
        t2 = s.token({"grant_type": "authorization_code", "code": code,
                      "redirect_uri": "https://app.example/cb",
                      "client_id": web["client_id"],
                      "code_verifier": verifier}).json()
        self.assertIn("access_token", t2)
        used += [code, verifier, t2["access_token"], t2["refresh_token"]]

        self.assertTrue(s.introspect(t2["access_token"], I)["active"])
        # The reuse revoked the whole family, t1 included.
        self.assertFalse(s.introspect(t1["access_token"], I)["active"])
        self.assertEqual(s.introspect("not-a-token." + wrong, I),
                         {"active": False})
        r = s.request("GET", "/resource", headers={
            "Authorization": "Bearer " + t2["access_token"]})
        self.assertEqual(r.status, 200, r.body)
        replay = s.token({"grant_type": "authorization_code", "code": code,
                          "redirect_uri": "https://app.example/cb",
                          "client_id": web["client_id"],
                          "code_verifier": verifier})
        self.assertEqual(replay.status, 400)  # revokes t2's family
        r = s.request("POST", "/revoke",
                      urllib.parse.urlencode({"token": at["access_token"]}),
                      {"Content-Type": "application/x-www-form-urlencoded",
                       "Authorization": basic(*A)})
        self.assertEqual(r.status, 200, r.body)
        # The admin API: secrets and passwords it is given or makes.
        adm = s.token({"grant_type": "client_credentials"},
                      auth=(ops["client_id"], ops["client_secret"])).json()
        used.append(adm["access_token"])

        def admin(method, path, body):
            c = http.client.HTTPConnection("127.0.0.1",
                                           s.ready["admin_port"], timeout=30)
            c.request(method, path, json.dumps(body),
                      {"Authorization": "Bearer " + adm["access_token"],
                       "Content-Type": "application/json"})
            r = c.getresponse()
            out = (r.status, json.loads(r.read() or b"null"))
            c.close()
            return out
        api_password = "erin-password-" + secrets.token_hex(6)
        api_password2 = "erin-password2-" + secrets.token_hex(6)
        api_chosen = "api-chosen-" + secrets.token_hex(8)
        self.assertEqual(admin("POST", "/admin/users",
                               {"username": "erin",
                                "password": api_password})[0], 201)
        self.assertEqual(admin("PATCH", "/admin/users/erin",
                               {"password": api_password2})[0], 200)
        st, made = admin("POST", "/admin/clients",
                         {"client_id": "svc2", "client_secret": api_chosen})
        self.assertEqual((st, made["client_secret"]), (201, None))
        st, made = admin("POST", "/admin/clients", {"client_id": "svc3"})
        self.assertEqual(st, 201)
        st, rot = admin("POST", "/admin/clients/svc3/rotate-secret",
                        {"grace": 60})
        self.assertEqual(st, 200)
        api_secrets = [api_password, api_password2, api_chosen,
                       made["client_secret"], rot["client_secret"]]
        used += api_secrets
        metrics = s.request("GET", "/metrics").body.decode()

        # What the operator sees afterwards.
        outs = []
        for args in (["client", "list", "--json"], ["client", "show",
                     svc["client_id"], "--json"], ["token", "list", "--json"],
                     ["token", "list", "--refresh", "--json"],
                     ["user", "list", "--json"],
                     ["audit", "list", "--json"]):
            p = subprocess.run([LATCHKEY, "--db", self.db, *args],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            outs.append(p.stdout + p.stderr)
        self.assertEqual(s.stop(), 0)
        log = s.log_text()
        self.assertIn("security", log)  # the reuse was logged...
        self.assertIn("request", log)   # ...and so was every request
        db_bytes = lk_db.db_bytes(self.db)

        for v in used:
            self.assertGreaterEqual(len(v), 16)
            self.assertNotIn(v, log, "a secret reached the log")
            self.assertNotIn(v, metrics, "a secret reached /metrics")
            for o in outs:
                self.assertNotIn(v, o, "a secret reached the CLI output")
        # Secrets, passwords, refresh tokens and codes: hashes only. (Access
        # tokens are JWTs anyone holding them can read; their record keeps
        # the jti, not the token.)
        for v in [svc["client_secret"], app["client_secret"], chosen,
                  password, t0["refresh_token"], t1["refresh_token"],
                  t2["refresh_token"], code, verifier,
                  at["access_token"], t2["access_token"],
                  ops["client_secret"], adm["access_token"], *api_secrets]:
            self.assertNotIn(v.encode(), db_bytes,
                             "a secret is stored in the clear")

