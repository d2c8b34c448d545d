"""Issue 19 section 2: sender-constrained tokens with DPoP (RFC 9449). A
proof at /token binds the access token to the proof's key (cnf.jkt,
token_type DPoP) and, for a public client, the refresh token; /resource,
/userinfo and /introspect understand bound tokens (section 7.1), with
DPoP challenges; a client registered with --require-dpop gets nothing
without a proof. Run on both backends (e2e_pg_test_dpop): a proof's jti
is spent in the database, as an assertion's is.

Hostile cases: a replayed proof (at /token and at a resource), wrong htm,
an htu built from the Host header or naming another endpoint, a stale or
future iat, no jti, typ or alg wrong, none and HS256, a private key in
the header, a signature by another key than the header's, two DPoP
headers, a bound token sent as Bearer, a proof by another key, a wrong or
missing ath, a public client's bound refresh token used without its key.
node openid-client drives one test as a service using it would
(clients/dpop_openid_client.js)."""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.parse
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from lk_harness import LatchkeyTestCase, add_client, basic, cli, skip_or_fail

HERE = os.path.dirname(os.path.abspath(__file__))
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ALGS = 'DPoP algs="RS256 PS256 ES256"'


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    """A client's DPoP key pair, and proofs signed with it."""

    def __init__(self, kind="ec"):
        if kind == "ec":
            self.priv = ec.generate_private_key(ec.SECP256R1())
            self.alg = "ES256"
            self.jwk = json.loads(ECAlgorithm.to_jwk(self.priv.public_key()))
        else:
            self.priv = rsa.generate_private_key(public_exponent=65537,
                                                 key_size=2048)
            self.alg = "PS256"
            self.jwk = json.loads(RSAAlgorithm.to_jwk(
                self.priv.public_key()))
        self.pem = self.priv.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())

    def thumbprint(self):
        """RFC 7638, computed here independently of the server."""
        names = ("e", "kty", "n") if self.jwk["kty"] == "RSA" \
            else ("crv", "kty", "x", "y")
        doc = json.dumps({k: self.jwk[k] for k in names},
                         separators=(",", ":"), sort_keys=True)
        return b64u(hashlib.sha256(doc.encode()).digest())

    def proof(self, htm, htu, token=None, header=None, drop=(), **claims):
        c = {"jti": str(uuid.uuid4()), "htm": htm, "htu": htu,
             "iat": int(time.time())}
        if token is not None:
            c["ath"] = b64u(hashlib.sha256(token.encode()).digest())
        c.update(claims)
        for k in drop:
            c.pop(k)
        h = {"typ": "dpop+jwt", "jwk": self.jwk}
        h.update(header or {})
        return jwt.encode(c, self.pem, algorithm=self.alg, headers=h)


class DPoPTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.svc = add_client(self.db, "svc", "--id", "svc", "--grant",
                              "client_credentials", "--scope", "read",
                              "--introspect")
        self.auth = ("svc", self.svc["client_secret"])
        self.key = Key()
        self.s = self.start()
        self.iss = self.s.issuer

    def token(self, proof=None, form=None, auth=True, headers=None):
        h = {}
        if proof is not None:
            h["DPoP"] = proof
        h.update(headers or {})
        return self.s.token(form or {"grant_type": "client_credentials"},
                            auth=self.auth if auth else None, headers=h)

    def bound_token(self, key=None):
        key = key or self.key
        r = self.token(key.proof("POST", self.iss + "/token"))
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def resource(self, token, scheme="DPoP", proof=None, method="GET"):
        h = {"Authorization": f"{scheme} {token}"}
        if proof is not None:
            h["DPoP"] = proof
        return self.s.request(method, "/resource", headers=h)

    def assertChallenge(self, r, code, why=None):
        self.assertEqual(r.status, 401, r.body)
        self.assertEqual(r.json()["error"], code, r.body)
        www = r.headers["www-authenticate"]
        self.assertTrue(www.startswith(ALGS + f', error="{code}"'), www)
        if why is not None:
            self.assertIn(why, r.json()["error_description"])

    def test_a_bound_token_and_its_use(self):
        r = self.token(self.key.proof("POST", self.iss + "/token"))
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(body["token_type"], "DPoP")
        self.assertEqual(r.headers["cache-control"], "no-store")
        at = body["access_token"]
        claims = jwt.decode(at, options={"verify_signature": False})
        self.assertEqual(claims["cnf"], {"jkt": self.key.thumbprint()})

        # Section 7.1: the DPoP scheme, a proof naming the token (ath).
        r = self.resource(at, proof=self.key.proof(
            "GET", self.iss + "/resource", at))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["cnf"], {"jkt": self.key.thumbprint()})
        self.assertEqual(r.json()["token_type"], "DPoP")
        # htu is compared without query and fragment (4.3, item 9).
        r = self.s.request("GET", "/resource?scope=read", headers={
            "Authorization": "DPoP " + at, "DPoP": self.key.proof(
                "GET", self.iss + "/resource?x=1#f", at)})
        self.assertEqual(r.status, 200, r.body)

        # Section 6.2: introspection says what the token is bound to.
        i = self.s.introspect(at, self.auth)
        self.assertEqual((i["active"], i["token_type"], i["cnf"]),
                         (True, "DPoP", {"jkt": self.key.thumbprint()}))

        # A stolen bound token is useless: as Bearer, or with a proof by
        # another key.
        self.assertChallenge(self.resource(at, "Bearer"), "invalid_token",
                             "bound to a key")
        thief = Key()
        self.assertChallenge(self.resource(at, proof=thief.proof(
            "GET", self.iss + "/resource", at)), "invalid_dpop_proof",
            "another key")

    def test_hostile_proofs_at_a_resource(self):
        at = self.bound_token()
        url = self.iss + "/resource"
        p = self.key.proof("GET", url, at)
        self.assertEqual(self.resource(at, proof=p).status, 200)
        cases = [
            ("replayed", p, "already used"),
            ("none", None, "required"),
            ("no ath", self.key.proof("GET", url), "ath"),
            ("ath of another token",
             self.key.proof("GET", url, self.bound_token()), "ath"),
            ("POST for GET", self.key.proof("POST", url, at), "htm"),
            ("another endpoint", self.key.proof(
                "GET", self.iss + "/userinfo", at), "htu"),
            ("stale", self.key.proof("GET", url, at,
                                     iat=int(time.time()) - 300), "old"),
        ]
        for name, proof, why in cases:
            with self.subTest(name):
                self.assertChallenge(self.resource(at, proof=proof),
                                     "invalid_dpop_proof", why)
        # An unbound token under the DPoP scheme.
        plain = self.token().json()["access_token"]
        self.assertChallenge(self.resource(plain, proof=self.key.proof(
            "GET", url, plain)), "invalid_token", "not bound")
        # And a Bearer token as Bearer still works.
        self.assertEqual(self.resource(plain, "Bearer").status, 200)

    def test_hostile_proofs_at_the_token_endpoint(self):
        url = self.iss + "/token"
        other = Key("rsa")
        forged = self.key.proof("POST", url, header={"jwk": other.jwk})
        signed = self.key.proof("POST", url)
        self.assertEqual(self.token(signed).status, 200)
        private = dict(self.key.jwk)
        private["d"] = b64u(b"\x01" * 32)
        hs = jwt.encode({"jti": "x", "htm": "POST", "htu": url,
                         "iat": int(time.time())}, "secret",
                        algorithm="HS256",
                        headers={"typ": "dpop+jwt", "jwk": self.key.jwk})
        none = (b64u(json.dumps({"typ": "dpop+jwt", "alg": "none",
                                 "jwk": self.key.jwk}).encode()) + "." +
                b64u(json.dumps({"jti": "y", "htm": "POST", "htu": url,
                                 "iat": int(time.time())}).encode()) + ".")
        host = "http://localhost:%d/token" % self.s.port
        cases = [
            ("replayed", signed, "already used"),
            ("GET", self.key.proof("GET", url), "htm"),
            ("the Host header's URL", self.key.proof("POST", host), "htu"),
            ("another endpoint", self.key.proof("POST", self.iss +
                                                "/introspect"), "htu"),
            ("future", self.key.proof("POST", url,
                                      iat=int(time.time()) + 600),
             "future"),
            ("no iat", self.key.proof("POST", url, drop=("iat",)), "iat"),
            ("no jti", self.key.proof("POST", url, drop=("jti",)), "jti"),
            ("typ JWT", self.key.proof("POST", url, header={"typ": "JWT"}),
             "typ"),
            ("another key's jwk", forged, "signature"),
            ("a private jwk", self.key.proof("POST", url,
                                             header={"jwk": private}),
             "public key"),
            ("HS256", hs, "alg"),
            ("none", none, "not a signed JWT"),
            ("not a JWT", "not.a.jwt", "not a signed JWT"),
        ]
        for name, proof, why in cases:
            with self.subTest(name):
                r = self.token(proof)
                self.assertOAuthError(r, 400, "invalid_dpop_proof")
                self.assertIn(why, r.json()["error_description"])
                self.assertNotIn("www-authenticate", r.headers)
        # Two DPoP headers (section 4.3, item 1), sent as they are.
        body = "grant_type=client_credentials"
        raw = self.s.raw((
            "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {basic(*self.auth)}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"DPoP: {self.key.proof('POST', url)}\r\n"
            f"DPoP: {self.key.proof('POST', url)}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            + body).encode())
        self.assertTrue(raw.startswith(b"HTTP/1.1 400"), raw[:200])
        self.assertIn(b"not several", raw)
        # Nothing was issued for any of them; the metric counts them.
        m = self.s.request("GET", "/metrics").body.decode()
        line = [x for x in m.splitlines()
                if x.startswith("latchkey_dpop_proof_failures_total ")]
        self.assertEqual(line, ["latchkey_dpop_proof_failures_total 14"])

    def test_a_proof_is_spent_only_for_an_authenticated_client(self):
        proof = self.key.proof("POST", self.iss + "/token")
        r = self.s.token({"grant_type": "client_credentials"},
                         auth=("svc", "not-the-secret"),
                         headers={"DPoP": proof})
        self.assertOAuthError(r, 401, "invalid_client")
        # Nothing was written for the refused request: the same proof
        # still works once, for the real client.
        self.assertEqual(self.token(proof).status, 200)
        self.assertOAuthError(self.token(proof), 400, "invalid_dpop_proof")

    def test_a_bound_token_is_exchanged_only_with_its_key(self):
        add_client(self.db, "gw", "--id", "gw", "--secret",
                   "gw-secret-1234567", "--grant", "token-exchange",
                   "--audience", "https://orders", "--scope", "read")
        at = self.bound_token()
        self.auth = ("gw", "gw-secret-1234567")
        form = {"grant_type":
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": at, "audience": "https://orders",
                "subject_token_type":
                "urn:ietf:params:oauth:token-type:access_token"}
        # Stolen, it cannot be laundered into a Bearer token ...
        for name, proof in (("no proof", None), ("another key", Key().proof(
                "POST", self.iss + "/token"))):
            with self.subTest(name):
                r = self.token(proof, form)
                self.assertOAuthError(r, 400, "invalid_request")
                self.assertIn("DPoP proof by its key",
                              r.json()["error_description"])
        # ... and with its key, the exchanged token is bound to it too.
        r = self.token(self.key.proof("POST", self.iss + "/token"), form)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["token_type"], "DPoP")
        claims = jwt.decode(r.json()["access_token"],
                            options={"verify_signature": False})
        self.assertEqual(claims["cnf"]["jkt"], self.key.thumbprint())

    def test_scope_refusal_under_the_dpop_scheme(self):
        at = self.bound_token()
        r = self.s.request("GET", "/resource?scope=write", headers={
            "Authorization": "DPoP " + at, "DPoP": self.key.proof(
                "GET", self.iss + "/resource", at)})
        self.assertEqual(r.status, 403, r.body)
        self.assertTrue(r.headers["www-authenticate"].startswith(
            ALGS + ', error="insufficient_scope"'), r.headers)

    def test_a_code_bound_with_dpop_jkt(self):
        """Section 10: dpop_jkt at /authorize binds the code to a key."""
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")
        add_client(self.db, "native", "--id", "native", "--public",
                   "--grant", "authorization_code", "--scope", "read",
                   "--redirect-uri", "http://127.0.0.1:5000/cb",
                   "--auto-approve-as", "dave")
        verifier = b64u(os.urandom(32))
        challenge = b64u(hashlib.sha256(verifier.encode()).digest())

        def code(jkt):
            q = urllib.parse.urlencode({
                "response_type": "code", "client_id": "native",
                "redirect_uri": "http://127.0.0.1:5000/cb", "scope": "read",
                "code_challenge": challenge, "dpop_jkt": jkt,
                "code_challenge_method": "S256", "state": "s"})
            r = self.s.request("GET", "/authorize?" + q)
            loc = r.headers.get("location", "")
            return urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)

        self.assertEqual(code("short")["error"], ["invalid_request"])
        c = code(self.key.thumbprint())["code"][0]
        self.auth = None
        form = {"grant_type": "authorization_code", "code": c,
                "client_id": "native", "code_verifier": verifier,
                "redirect_uri": "http://127.0.0.1:5000/cb"}
        url = self.iss + "/token"
        for name, proof in (("no proof", None),
                            ("another key", Key().proof("POST", url))):
            with self.subTest(name):
                r = self.token(proof, form, auth=False)
                self.assertOAuthError(r, 400, "invalid_dpop_proof")
                self.assertIn("dpop_jkt", r.json()["error_description"])
        # The refusals did not use the code up.
        r = self.token(self.key.proof("POST", url), form, auth=False)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["token_type"], "DPoP")

    def test_a_client_that_requires_dpop(self):
        c = add_client(self.db, "strict", "--id", "strict", "--grant",
                       "client_credentials", "--require-dpop")
        self.assertIs(c["require_dpop"], True)
        self.auth = ("strict", c["client_secret"])
        r = self.token()
        self.assertOAuthError(r, 400, "invalid_dpop_proof")
        self.assertIn("must send a DPoP proof", r.json()["error_description"])
        self.assertEqual(self.token(self.key.proof(
            "POST", self.iss + "/token")).json()["token_type"], "DPoP")
        show = cli(self.db, "client", "show", "strict").stdout
        self.assertEqual(show.strip().splitlines()[-1].split(),
                         ["require_dpop", "yes"])
        cli(self.db, "client", "update", "strict", "--no-require-dpop")
        time.sleep(1.1)  # the client cache holds a record for 1 s
        self.assertEqual(self.token().json()["token_type"], "Bearer")
        p = cli(self.db, "client", "update", "strict", "--require-dpop",
                "--no-require-dpop", check=False)
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_a_public_clients_refresh_token_is_bound(self):
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")
        add_client(self.db, "app", "--id", "app", "--public", "--grant",
                   "password", "--grant", "refresh_token", "--scope",
                   "openid read")
        self.auth = None
        url = self.iss + "/token"

        def grant(form, key=None):
            form = dict(form, client_id="app")
            return self.token(key.proof("POST", url) if key else None,
                              form, auth=False)

        r = grant({"grant_type": "password", "username": "dave",
                   "password": "dave-password-1", "scope": "openid read"},
                  self.key)
        self.assertEqual(r.status, 200, r.body)
        rt = r.json()["refresh_token"]
        at = r.json()["access_token"]
        # /userinfo takes the bound token with the DPoP scheme only.
        u = self.s.request("GET", "/userinfo", headers={
            "Authorization": "DPoP " + at,
            "DPoP": self.key.proof("GET", self.iss + "/userinfo", at)})
        self.assertEqual(u.status, 200, u.body)
        self.assertIn("sub", u.json())
        u = self.s.request("GET", "/userinfo",
                           headers={"Authorization": "Bearer " + at})
        self.assertChallenge(u, "invalid_token", "bound to a key")

        refresh = {"grant_type": "refresh_token", "refresh_token": rt}
        for name, key in (("no proof", None), ("another key", Key())):
            with self.subTest(name):
                r = grant(refresh, key)
                self.assertOAuthError(r, 400, "invalid_grant")
                self.assertIn("bound to a DPoP key",
                              r.json()["error_description"])
        r = grant(refresh, self.key)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["token_type"], "DPoP")
        # The rotated token is bound to the same key.
        r = grant({"grant_type": "refresh_token",
                   "refresh_token": r.json()["refresh_token"]})
        self.assertOAuthError(r, 400, "invalid_grant")

    def test_a_confidential_clients_refresh_token_is_not_bound(self):
        add_client(self.db, "web", "--id", "web", "--secret",
                   "web-secret-123456", "--grant", "client_credentials",
                   "--grant", "refresh_token", "--issue-refresh-token")
        self.auth = ("web", "web-secret-123456")
        r = self.token(self.key.proof("POST", self.iss + "/token"))
        self.assertEqual(r.status, 200, r.body)
        # Its refresh token is bound to its client authentication
        # (section 5): without a proof, the new access token is Bearer.
        r = self.token(form={"grant_type": "refresh_token",
                             "refresh_token": r.json()["refresh_token"]})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["token_type"], "Bearer")

    def test_openid_client_binds_and_uses_tokens(self):
        """node openid-client 5.x's DPoP support, as a service uses it."""
        if shutil.which("node") is None or subprocess.run(
                ["node", "-e", "require('openid-client')"],
                env=dict(os.environ, NODE_PATH=os.path.join(
                    HERE, "..", "node", "node_modules")),
                capture_output=True).returncode != 0:
            skip_or_fail(self, "node or openid-client 5.x not installed "
                               "(scripts/install-test-deps.sh)")
        p = subprocess.run(
            ["node", os.path.join(HERE, "clients", "dpop_openid_client.js")],
            env=dict(os.environ, ISSUER=self.iss, CLIENT_ID="svc",
                     CLIENT_SECRET=self.svc["client_secret"],
                     NODE_PATH=os.path.join(HERE, "..", "node",
                                            "node_modules")),
            capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["token_type"], "DPoP")
        self.assertEqual(out["resource"]["cnf"]["jkt"], out["jkt"])
        self.assertEqual(out["resource"]["client_id"], "svc")
        self.assertEqual(out["bearer_status"], 401)
        self.assertTrue(out["bearer_challenge"].startswith("DPoP "))


class DPoPIssuerPortTest(LatchkeyTestCase):
    def test_a_default_port_in_the_issuer(self):
        """RFC 3986 section 6.2.3: an issuer spelled with :443 takes
        proofs whose htu a URL library wrote without it, and the other
        way round."""
        c = add_client(self.db, "svc", "--id", "svc", "--grant",
                       "client_credentials")
        s = self.start("--issuer", "https://AS.example.test:443")
        key = Key()
        for htu in ("https://as.example.test/token",
                    "https://as.example.test:443/token",
                    "HTTPS://as.EXAMPLE.test/token"):
            with self.subTest(htu):
                r = s.token({"grant_type": "client_credentials"},
                            auth=("svc", c["client_secret"]),
                            headers={"DPoP": key.proof("POST", htu)})
                self.assertEqual(r.status, 200, r.body)
        for htu in ("https://as.example.test:8443/token",
                    "http://as.example.test/token",
                    "https://as.example.test/Token"):
            with self.subTest(htu):
                r = s.token({"grant_type": "client_credentials"},
                            auth=("svc", c["client_secret"]),
                            headers={"DPoP": key.proof("POST", htu)})
                self.assertOAuthError(r, 400, "invalid_dpop_proof")


class DPoPNonceTest(LatchkeyTestCase):
    """dpop_nonce (section 8): proofs carry a nonce the server gave, and
    every instance on the database takes the others' nonces."""

    def setUp(self):
        super().setUp()
        c = add_client(self.db, "svc", "--id", "svc", "--grant",
                       "client_credentials", "--scope", "read")
        self.secret = c["client_secret"]
        self.key = Key()
        self.a = self.start("--dpop-nonce", "true")
        self.b = self.start("--dpop-nonce", "true")

    def token(self, s, proof):
        return s.token({"grant_type": "client_credentials"},
                       auth=("svc", self.secret), headers={"DPoP": proof})

    def test_the_nonce_dance_across_instances(self):
        url = self.a.issuer + "/token"
        first = self.key.proof("POST", url)
        r = self.token(self.a, first)
        self.assertOAuthError(r, 400, "use_dpop_nonce")
        nonce = r.headers["dpop-nonce"]
        self.assertEqual(nonce.count("."), 2, nonce)
        # The refusal did not spend the jti: the same proof, once the
        # nonce is in it, is another proof anyway; and a forged or
        # absent nonce is asked again.
        for bad in ("made-up", nonce[:-4] + "AAAA"):
            with self.subTest(bad):
                r = self.token(self.a, self.key.proof("POST", url,
                                                      nonce=bad))
                self.assertOAuthError(r, 400, "use_dpop_nonce")
        # b takes a's nonce: one server to the client.
        r = self.token(self.b, self.key.proof("POST", self.b.issuer +
                                              "/token", nonce=nonce))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["token_type"], "DPoP")
        self.assertIn("dpop-nonce", r.headers)
        at = r.json()["access_token"]

        # At a resource: 401 with a DPoP challenge, then with the nonce.
        res = self.a.issuer + "/resource"
        r = self.a.request("GET", "/resource", headers={
            "Authorization": "DPoP " + at,
            "DPoP": self.key.proof("GET", res, at)})
        self.assertEqual(r.status, 401, r.body)
        self.assertEqual(r.json()["error"], "use_dpop_nonce")
        self.assertTrue(r.headers["www-authenticate"].startswith(
            ALGS + ', error="use_dpop_nonce"'), r.headers)
        fresh = r.headers["dpop-nonce"]
        r = self.a.request("GET", "/resource", headers={
            "Authorization": "DPoP " + at,
            "DPoP": self.key.proof("GET", res, at, nonce=fresh)})
        self.assertEqual(r.status, 200, r.body)
        # Asking for a nonce is no failure; the forged ones are not
        # counted either (they were asked a nonce, not refused).
        m = self.a.request("GET", "/metrics").body.decode()
        self.assertIn("latchkey_dpop_proof_failures_total 0\n", m)

    def test_openid_client_follows_the_nonce(self):
        node_modules = os.path.join(HERE, "..", "node", "node_modules")
        if shutil.which("node") is None or subprocess.run(
                ["node", "-e", "require('openid-client')"],
                env=dict(os.environ, NODE_PATH=node_modules),
                capture_output=True).returncode != 0:
            skip_or_fail(self, "node or openid-client 5.x not installed "
                               "(scripts/install-test-deps.sh)")
        p = subprocess.run(
            ["node", os.path.join(HERE, "clients", "dpop_openid_client.js")],
            env=dict(os.environ, ISSUER=self.a.issuer, CLIENT_ID="svc",
                     CLIENT_SECRET=self.secret, NODE_PATH=node_modules),
            capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual((out["token_type"], out["resource_status"]),
                         ("DPoP", 200))
        self.assertEqual(out["resource"]["cnf"]["jkt"], out["jkt"])
