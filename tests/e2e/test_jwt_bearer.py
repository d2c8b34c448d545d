"""Issue 19 section 3: the JWT bearer grant (RFC 7523 sections 2.1 and 3)
on the real latchkeyd, on both backends (e2e_test_jwt_bearer and
e2e_pg_test_jwt_bearer). The operator trusts an issuer (`latchkey issuer
add ISSUER --client ID --jwks FILE | --jwks-uri URL [--audience AUD]`);
the client it is trusted for, registered for `jwt-bearer`, trades a JWT
of that issuer (here shaped like
a Kubernetes service-account token, signed with PyJWT, and one signed by
authlib's AssertionSession, as a CI job would) for an access token whose
sub is the JWT's.

Hostile cases: an untrusted issuer, an issuer trusted for another
client, another key, a tampered payload, "none", HS256 keyed with the
public key, a crit header, another audience, no exp, expired, exp more
than a day ahead, nbf ahead, no sub, a sub shaped like our user ids or
naming one of our clients (an admin client's, which would pass for its
own token), a client without the grant, an issuer removed since. The same JWT works
again (no single use: a platform token is presented while it lives)."""
import hashlib
import hmac
import json
import os
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization

from lk_harness import LatchkeyTestCase, add_client, cli
from test_private_key_jwt import (JwksServer, ec_key, pem, public_jwk,
                                  rsa_key)

JB = "urn:ietf:params:oauth:grant-type:jwt-bearer"
K8S = "https://kubernetes.default.svc.cluster.local"
SA = "system:serviceaccount:payments:billing-worker"


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


class JwtBearerBase(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.k8s_key = rsa_key()
        jwks = os.path.join(self.dir, "k8s.jwks")
        with open(jwks, "w") as f:
            json.dump({"keys": [public_jwk(self.k8s_key, "k8s-1")]}, f)
        w = add_client(self.db, "Workloads", "--id", "workloads",
                       "--grant", "jwt-bearer", "--scope", "read write")
        self.assertEqual(w["grant_types"], [JB])
        self.workloads = ("workloads", w["client_secret"])
        self.jwks = jwks
        self.issuer_add(K8S, "--jwks", jwks, "--client", "workloads")

    def issuer_add(self, *args):
        p = cli(self.db, "issuer", "add", *args, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def sa_token(self, key=None, kid="k8s-1", alg="RS256", header=None,
                 drop=(), **over):
        """A projected service-account token as the kubelet writes it."""
        now = int(time.time())
        c = {"iss": K8S, "sub": SA, "aud": [self.s.issuer],
             "exp": now + 3600, "iat": now, "nbf": now,
             "kubernetes.io": {"namespace": "payments",
                               "serviceaccount": {"name": "billing-worker",
                                                  "uid": str(uuid.uuid4())}}}
        c.update(over)
        for k in drop:
            c.pop(k)
        h = {"kid": kid}
        h.update(header or {})
        return jwt.encode(c, pem(key or self.k8s_key), algorithm=alg,
                          headers=h)

    def grant(self, assertion, auth=None, **form):
        body = {"grant_type": JB, "assertion": assertion}
        body.update(form)
        return self.s.token(body, auth=auth or self.workloads)

    def assertRefused(self, r, why):
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn(why, r.json()["error_description"])


class JwtBearerTest(JwtBearerBase):
    def setUp(self):
        super().setUp()
        self.s = self.start()

    def test_a_service_account_token_becomes_an_access_token(self):
        t = self.sa_token()
        for _ in range(2):  # presented again while it lives: still fine
            r = self.grant(t, scope="read")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.headers["cache-control"], "no-store")
            body = r.json()
            self.assertEqual(sorted(body), ["access_token", "expires_in",
                                            "scope", "token_type"])
            self.assertEqual((body["token_type"], body["scope"]),
                             ("Bearer", "read"))
            at = claims(body["access_token"])
            self.assertEqual((at["sub"], at["client_id"], at["iss"]),
                             (SA, "workloads", self.s.issuer))
        api = add_client(self.db, "api", "--id", "api")
        info = self.s.introspect(body["access_token"],
                                 ("api", api["client_secret"]))
        self.assertEqual((info["active"], info["sub"], info["client_id"]),
                         (True, SA, "workloads"))
        self.assertNotIn("username", info)
        # The token endpoint as aud, and a plain string aud, do too.
        for aud in (self.s.issuer + "/token", self.s.issuer):
            with self.subTest(aud=aud):
                r = self.grant(self.sa_token(aud=aud))
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["scope"], "read write")

    def test_a_public_client_and_the_client_an_issuer_is_for(self):
        add_client(self.db, "Jobs", "--id", "jobs", "--public", "--grant",
                   "jwt-bearer", "--scope", "read")
        # The cluster's issuer is trusted for workloads, not for jobs.
        r = self.s.token({"grant_type": JB, "assertion": self.sa_token(),
                          "client_id": "jobs"})
        self.assertRefused(r, "not trusted for this client")
        self.issuer_add("https://jobs.example", "--jwks", self.jwks,
                        "--client", "jobs")
        r = self.s.token({"grant_type": JB, "client_id": "jobs",
                          "assertion": self.sa_token(
                              iss="https://jobs.example")})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(claims(r.json()["access_token"])["client_id"],
                         "jobs")

    def test_the_token_expires_with_the_assertion(self):
        r = self.grant(self.sa_token(exp=int(time.time()) + 100))
        self.assertEqual(r.status, 200, r.body)
        self.assertLessEqual(r.json()["expires_in"], 100)
        self.assertLessEqual(claims(r.json()["access_token"])["exp"],
                             int(time.time()) + 100)

    def test_a_sub_naming_an_admin_client_is_refused(self):
        add_client(self.db, "ops", "--id", "ops", "--admin", "--scope",
                   "latchkey:admin")
        r = self.grant(self.sa_token(sub="ops"))
        self.assertRefused(r, "client id")
        self.assertRefused(self.grant(self.sa_token(sub="workloads")),
                           "client id")

    def test_hostile_assertions(self):
        other = rsa_key()
        good = self.sa_token()
        head, payload, sig = good.split(".")
        forged_payload = jwt.utils.base64url_encode(json.dumps(
            dict(claims(good), sub="system:serviceaccount:kube-system:"
                 "admin")).encode()).decode()
        cases = [
            (self.sa_token(iss="https://evil.example"), "not a trusted"),
            (self.sa_token(key=other), "matches none"),
            (self.sa_token(kid="nope"), "matches none"),
            (head + "." + forged_payload + "." + sig, "matches none"),
            (jwt.encode({"iss": K8S, "sub": SA, "aud": self.s.issuer,
                         "exp": int(time.time()) + 60}, None,
                        algorithm="none"), "not a signed JWT"),
            (self.sa_token(header={"crit": ["x"], "x": 1}), "crit"),
            (self.sa_token(aud="https://someone-else"), "aud must be"),
            (self.sa_token(drop=("exp",)), "needs an exp"),
            (self.sa_token(exp=int(time.time()) - 120), "expired"),
            (self.sa_token(exp=int(time.time()) + 86400 + 600),
             "too far ahead"),
            (self.sa_token(nbf=int(time.time()) + 600), "not valid yet"),
            (self.sa_token(drop=("sub",)), "needs a sub"),
            (self.sa_token(sub="x" * 256), "needs a sub"),
            (self.sa_token(sub="u_0123456789abcdef"), "user ids"),
            ("not-a-jwt", "not a signed JWT"),
        ]
        for assertion, why in cases:
            with self.subTest(why=why):
                self.assertRefused(self.grant(assertion), why)
        # HS256 with the public key's PEM as the secret.
        h = jwt.utils.base64url_encode(json.dumps(
            {"alg": "HS256", "typ": "JWT", "kid": "k8s-1"}).encode())
        p = jwt.utils.base64url_encode(json.dumps(
            claims(good)).encode())
        secret = self.k8s_key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)
        mac = hmac.new(secret, h + b"." + p, hashlib.sha256).digest()
        hs = (h + b"." + p + b"." +
              jwt.utils.base64url_encode(mac)).decode()
        self.assertRefused(self.grant(hs), "alg must be")
        # No assertion at all.
        r = self.s.token({"grant_type": JB}, auth=self.workloads)
        self.assertOAuthError(r, 400, "invalid_request")
        # A scope the client may not have.
        self.assertOAuthError(self.grant(good, scope="admin"), 400,
                              "invalid_scope")

    def test_the_client_needs_the_grant(self):
        svc = add_client(self.db, "svc", "--id", "svc")
        r = self.grant(self.sa_token(), auth=("svc", svc["client_secret"]))
        self.assertOAuthError(r, 400, "unauthorized_client")
        r = self.grant(self.sa_token(), auth=("workloads", "wrong"))
        self.assertOAuthError(r, 401, "invalid_client")

    def test_an_issuer_removed_is_no_longer_trusted(self):
        t = self.sa_token()
        self.assertEqual(self.grant(t).status, 200)
        p = cli(self.db, "issuer", "remove", K8S)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "removed issuer %s\n" % K8S)
        self.assertRefused(self.grant(t), "not a trusted")
        p = cli(self.db, "issuer", "remove", K8S, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no trusted issuer", p.stderr)

    def test_a_registered_audience(self):
        jwks = os.path.join(self.dir, "ci.jwks")
        ci = ec_key()
        with open(jwks, "w") as f:
            json.dump({"keys": [public_jwk(ci, "ci-1")]}, f)
        self.issuer_add("https://ci.example", "--jwks", jwks, "--audience",
                        "latchkey", "--client", "workloads")
        now = int(time.time())
        c = {"iss": "https://ci.example", "sub": "repo:acme/app:ref:main",
             "exp": now + 300}
        ok = jwt.encode(dict(c, aud="latchkey"), pem(ci), algorithm="ES256",
                        headers={"kid": "ci-1"})
        r = self.grant(ok)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(claims(r.json()["access_token"])["sub"],
                         "repo:acme/app:ref:main")
        # With an audience registered, our issuer is not enough.
        ours = jwt.encode(dict(c, aud=self.s.issuer), pem(ci),
                          algorithm="ES256", headers={"kid": "ci-1"})
        self.assertRefused(self.grant(ours), "registered for its issuer")

    def test_authlib_assertion_session(self):
        """authlib's AssertionSession signs RFC 7523 section 2.1 grants
        itself (iss, sub, aud the token endpoint, exp): a CI job's way."""
        from authlib.integrations.requests_client import AssertionSession
        ci = rsa_key()
        jwks = os.path.join(self.dir, "authlib.jwks")
        with open(jwks, "w") as f:
            json.dump({"keys": [public_jwk(ci, "job-1")]}, f)
        self.issuer_add("https://jobs.example", "--jwks", jwks, "--client",
                        "workloads")
        import requests
        session = AssertionSession(
            token_endpoint=self.s.issuer + "/token",
            issuer="https://jobs.example", subject="job:nightly-backup",
            key=pem(ci).decode(), header={"alg": "RS256", "kid": "job-1"},
            scope="read")
        session.auth = requests.auth.HTTPBasicAuth(*self.workloads)
        tok = session.refresh_token()
        self.assertEqual((tok["token_type"], tok["scope"]),
                         ("Bearer", "read"))
        at = claims(tok["access_token"])
        self.assertEqual((at["sub"], at["client_id"]),
                         ("job:nightly-backup", "workloads"))

    def test_discovery_lists_the_grant(self):
        md = self.s.get_json("/.well-known/oauth-authorization-server")
        self.assertIn(JB, md["grant_types_supported"])


class JwtBearerTestDoubleTest(JwtBearerBase):
    """The test double gives users any id (fixtures' and /_control/users'
    "sub"): a JWT naming one is refused all the same."""

    def test_a_sub_naming_a_user_is_refused(self):
        self.s = self.start("--test-double")
        r = self.s.request("POST", "/_control/users", headers={
            "Content-Type": "application/json"}, body=json.dumps(
            {"username": "erin", "password": "erin-password-1",
             "sub": "erin-1"}))
        self.assertEqual(r.status, 201, r.body)
        self.assertRefused(self.grant(self.sa_token(sub="erin-1")),
                           "user id")
        r = self.grant(self.sa_token(sub="erin-2"))
        self.assertEqual(r.status, 200, r.body)


class JwtBearerJwksUriTest(JwtBearerBase):
    """An issuer whose keys are fetched (a cluster's
    /openid/v1/jwks), under the jwks_uri rules of clients."""

    def test_keys_fetched_from_the_issuer(self):
        cluster = ec_key()
        pub = JwksServer({"keys": [public_jwk(cluster, "c-1")]})
        self.addCleanup(pub.close)
        self.issuer_add("https://eks.example/id/ABC", "--jwks-uri",
                        pub.url + "/jwks", "--client", "workloads")
        self.s = self.start("--jwks-uri-allow-private", "true")
        t = self.sa_token(key=cluster, kid="c-1", alg="ES256",
                          iss="https://eks.example/id/ABC")
        for _ in range(2):
            r = self.grant(t)
            self.assertEqual(r.status, 200, r.body)
        self.assertEqual(pub.fetches, ["/jwks"])  # cached
        # Without jwks_uri_allow_private a loopback address is refused.
        self.s.stop()
        self.s = self.start()
        self.assertRefused(self.grant(t), "private")


class IssuerCliTest(LatchkeyTestCase):
    def test_add_list_remove_and_refusals(self):
        jwks = os.path.join(self.dir, "k.jwks")
        with open(jwks, "w") as f:
            json.dump({"keys": [public_jwk(rsa_key(), "r1")]}, f)
        add_client(self.db, "w", "--id", "w", "--grant", "jwt-bearer")
        p = cli(self.db, "issuer", "add", "https://a.example", "--jwks",
                jwks, "--client", "w")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "trusted issuer https://a.example "
                         "(keys: registered)\n")
        p = cli(self.db, "issuer", "add", "https://b.example",
                "--jwks-uri", "https://b.example/keys", "--audience", "lk",
                "--client", "w", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        b = json.loads(p.stdout)
        self.assertEqual((b["issuer"], b["client_id"], b["jwks"],
                          b["jwks_uri"], b["audience"]),
                         ("https://b.example", "w", None,
                          "https://b.example/keys", "lk"))
        rows = json.loads(cli(self.db, "issuer", "list", "--json").stdout)
        self.assertEqual([r["issuer"] for r in rows],
                         ["https://a.example", "https://b.example"])
        self.assertEqual(rows[0]["jwks"]["keys"][0]["kid"], "r1")
        self.assertEqual(sorted(rows[0]), ["audience", "client_id",
                                           "created_at", "issuer", "jwks",
                                           "jwks_uri"])
        text = cli(self.db, "issuer", "list").stdout.splitlines()
        self.assertEqual(text[0].split(), ["ISSUER", "CLIENT_ID", "KEYS",
                                           "AUDIENCE", "CREATED"])
        self.assertEqual(text[1].split()[:4], ["https://a.example", "w",
                                               "registered", "(this"])
        for args, why in (
                (["https://a.example", "--jwks", jwks], "already trusted"),
                (["https://c.example"], "needs the issuer's public keys"),
                (["https://c.example", "--jwks", jwks, "--jwks-uri",
                  "https://c.example/k"], "needs the issuer's public keys"),
                (["https://c.example", "--jwks-uri", "ftp://x/k"],
                 "invalid --jwks-uri"),
                (["has space", "--jwks", jwks], "invalid issuer"),
                (["https://c.example", "--jwks", "/nonexistent"],
                 "--jwks /nonexistent"),
                (["https://c.example", "--jwks-uri", "https://c/k",
                  "--audience", "a", "--audience", "b"],
                 "invalid --audience")):
            with self.subTest(args=args):
                p = cli(self.db, "issuer", "add", *args, "--client", "w",
                        check=False)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(why, p.stderr)
                self.assertEqual(p.stdout, "")
        for args, why in ((["https://d.example", "--jwks", jwks],
                           "needs --client ID"),
                          (["https://d.example", "--jwks", jwks, "--client",
                            "nobody"], "client 'nobody' not found")):
            with self.subTest(args=args):
                p = cli(self.db, "issuer", "add", *args, check=False)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(why, p.stderr)
        p = cli(self.db, "issuer", "remove", "https://b.example", "--json")
        self.assertEqual(json.loads(p.stdout),
                         {"issuer": "https://b.example", "removed": True})
        audit = json.loads(cli(self.db, "audit", "list", "--json").stdout)
        self.assertEqual([(e["action"], e["object"]) for e in audit
                          if e["object"].startswith("issuer:")],
                         [("issuer.add", "issuer:https://a.example"),
                          ("issuer.add", "issuer:https://b.example"),
                          ("issuer.remove", "issuer:https://b.example")])
        # Short grant name in, URN out.
        c = add_client(self.db, "w2", "--id", "w2", "--grant", "jwt-bearer")
        self.assertEqual(c["grant_types"], [JB])
        # Removing the client removes the trust in its issuers.
        cli(self.db, "client", "remove", "w")
        self.assertEqual(json.loads(cli(self.db, "issuer", "list",
                                        "--json").stdout), [])
