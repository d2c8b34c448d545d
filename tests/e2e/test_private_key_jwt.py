"""Issue 19 section 1: private_key_jwt (RFC 7523 sections 2.2 and 3, RFC
7521 section 4.2). A client registered with its public keys (`latchkey
client add --jwks FILE --token-endpoint-auth-method private_key_jwt`, or
the fixtures' and admin API's `jwks`) authenticates at /token,
/introspect and /revoke with an assertion it signs; each assertion is
accepted once, also after a restart (the used jti is in the database:
run on both backends as e2e_pg_test_private_key_jwt).

Hostile cases: a replay, another audience, iss or sub not the client,
the key of another client, "none", HS256 keyed with the public key, a
crit header, a tampered payload, exp missing, expired or too far ahead,
nbf in the future, no jti, a secret for a key client, an assertion beside
a Basic header. Authlib signs the assertions of one test, as a service
using it would."""
import hashlib
import hmac
import json
import os
import time
import urllib.parse
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from lk_harness import LatchkeyTestCase, add_client, basic, cli

TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_jwk(key, kid):
    alg = ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) \
        else RSAAlgorithm
    j = json.loads(alg.to_jwk(key.public_key()))
    j["kid"] = kid
    return j


def pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class AssertionBase(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.key = ec_key()
        self.rsa = rsa_key()
        self.other = ec_key()
        self.jwks = self.write_jwks("svc.jwks", {"keys": [
            public_jwk(self.key, "ec-1"), public_jwk(self.rsa, "rsa-1")]})
        c = add_client(self.db, "svc", "--id", "svc", "--jwks", self.jwks,
                       "--token-endpoint-auth-method", "private_key_jwt",
                       "--scope", "read", "--introspect")
        self.assertNotIn("client_secret", {k for k, v in c.items() if v})
        self.assertEqual(c["token_endpoint_auth_method"], "private_key_jwt")
        add_client(self.db, "peer", "--id", "peer",
                   "--token-endpoint-auth-method", "private_key_jwt",
                   "--jwks", self.write_jwks("peer.jwks", {"keys": [
                       public_jwk(self.other, "peer-1")]}))

    def write_jwks(self, name, doc):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def assertion(self, key=None, alg="ES256", kid="ec-1", drop=(),
                  headers=None, **claims):
        now = int(time.time())
        c = {"iss": "svc", "sub": "svc", "aud": self.s.issuer + "/token",
             "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
        c.update(claims)
        for k in drop:
            c.pop(k)
        h = {"kid": kid} if kid else {}
        h.update(headers or {})
        return jwt.encode(c, pem(key or self.key), algorithm=alg, headers=h)

    def post(self, path, form, headers=None):
        h = dict(FORM)
        h.update(headers or {})
        return self.s.request("POST", path, urllib.parse.urlencode(form), h)

    def token(self, a, **extra):
        form = {"grant_type": "client_credentials",
                "client_assertion_type": TYPE, "client_assertion": a}
        form.update(extra)
        return self.post("/token", form)

    def assertRefused(self, r, why, status=401, code="invalid_client"):
        self.assertOAuthError(r, status, code)
        self.assertIn(why, r.json()["error_description"])


class PrivateKeyJwtTest(AssertionBase):
    def setUp(self):
        super().setUp()
        self.s = self.start()

    def test_an_assertion_gets_a_token_once(self):
        a = self.assertion()
        r = self.token(a, scope="read")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        body = r.json()
        self.assertEqual((body["token_type"], body["scope"]),
                         ("Bearer", "read"))
        claims = jwt.decode(body["access_token"],
                            options={"verify_signature": False})
        self.assertEqual((claims["client_id"], claims["sub"]),
                         ("svc", "svc"))
        # RFC 7523 section 3, item 7: the same jti is refused.
        self.assertRefused(self.token(a), "already used")
        # The audience may also be the issuer; client_id is optional,
        # and when sent it must be the assertion's.
        self.assertEqual(self.token(self.assertion(aud=self.s.issuer),
                                    client_id="svc").status, 200)
        # peer's keys are the ones tried, and none signed it.
        self.assertRefused(self.token(self.assertion(), client_id="peer"),
                           "matches none of the client's keys")

    def test_rsa_keys_sign_rs256_and_ps256(self):
        for alg in ("RS256", "PS256"):
            with self.subTest(alg=alg):
                r = self.token(self.assertion(self.rsa, alg, "rsa-1"))
                self.assertEqual(r.status, 200, r.body)
        # Without a kid, every key that fits the algorithm is tried.
        r = self.token(self.assertion(self.rsa, "RS256", None))
        self.assertEqual(r.status, 200, r.body)
        # The RSA key never checks an ES256 signature, nor the reverse.
        self.assertRefused(self.token(self.assertion(self.key, "ES256",
                                                     "rsa-1")),
                           "matches none of the client's keys")

    def test_introspect_and_revoke_take_assertions(self):
        tok = self.token(self.assertion()).json()["access_token"]
        r = self.post("/introspect", {"token": tok,
                                      "client_assertion_type": TYPE,
                                      "client_assertion": self.assertion()})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json()["active"], r.json()["client_id"]),
                         (True, "svc"))
        r = self.post("/revoke", {"token": tok,
                                  "client_assertion_type": TYPE,
                                  "client_assertion": self.assertion()})
        self.assertEqual(r.status, 200, r.body)
        r = self.post("/introspect", {"token": tok,
                                      "client_assertion_type": TYPE,
                                      "client_assertion": self.assertion()})
        self.assertEqual(r.json(), {"active": False})

    def test_hostile_assertions(self):
        now = int(time.time())
        public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)
        good = self.assertion()
        head, body, sig = good.split(".")
        claims = json.loads(jwt.utils.base64url_decode(body))
        claims["scope"] = "admin"
        tampered = ".".join([head, jwt.utils.base64url_encode(
            json.dumps(claims).encode()).decode(), sig])
        unsigned = jwt.encode({"iss": "svc", "sub": "svc",
                               "aud": self.s.issuer, "exp": now + 60,
                               "jti": "x"}, None, algorithm="none")
        # PyJWT refuses to make this one: by hand.
        b64 = lambda o: jwt.utils.base64url_encode(  # noqa: E731
            json.dumps(o).encode()).decode()
        signing = b64({"alg": "HS256", "kid": "ec-1"}) + "." + b64({
            "iss": "svc", "sub": "svc", "aud": self.s.issuer,
            "exp": now + 60, "jti": "hs"})
        hs256 = signing + "." + jwt.utils.base64url_encode(hmac.new(
            public_pem, signing.encode(), hashlib.sha256).digest()).decode()
        cases = [
            (self.assertion(aud="https://elsewhere.example/token"),
             "aud must be the issuer or the token endpoint"),
            (self.assertion(aud=[self.s.issuer + "/introspect"]),
             "aud must be the issuer or the token endpoint"),
            (self.assertion(iss="peer"), "iss and sub"),
            # sub names the client looked up: peer's keys did not sign it
            (self.assertion(sub="peer"), "matches none"),
            # peer's key, claiming to be svc: svc's keys do not match it
            (self.assertion(self.other, kid="peer-1"), "matches none"),
            (self.assertion(self.other, kid="ec-1"), "matches none"),
            (unsigned, "not a signed JWT"),  # no signature at all
            (hs256, "alg must be RS256, PS256 or ES256"),
            (tampered, "matches none"),
            (self.assertion(headers={"crit": ["exp"]}), "crit"),
            (self.assertion(drop=("exp",)), "needs an exp"),
            (self.assertion(exp=now - 120), "has expired"),
            (self.assertion(exp=now + 7200), "too far ahead"),
            (self.assertion(nbf=now + 600), "not valid yet"),
            (self.assertion(iat=now + 600), "not valid yet"),
            (self.assertion(drop=("jti",)), "needs a jti"),
            (self.assertion(jti="j" * 257), "needs a jti"),
            ("not.a.jwt", "not a signed JWT"),
        ]
        for a, why in cases:
            with self.subTest(why=why, a=a[:40]):
                self.assertRefused(self.token(a), why)
        # A token was issued for none of them; the good one still works.
        self.assertEqual(self.token(good).status, 200)

    def test_the_type_and_other_methods(self):
        a = self.assertion()
        self.assertRefused(self.token(a, client_assertion_type="urn:x"),
                           "client_assertion_type must be")
        r = self.post("/token", {"grant_type": "client_credentials",
                                 "client_assertion": a})
        self.assertOAuthError(r, 400, "invalid_request")
        r = self.post("/token", {"grant_type": "client_credentials",
                                 "client_assertion_type": TYPE,
                                 "client_assertion": a},
                      {"Authorization": basic("svc", "x" * 43)})
        self.assertOAuthError(r, 400, "invalid_request")
        # A key client has no secret to guess: refused before any check.
        r = self.post("/token", {"grant_type": "client_credentials"},
                      {"Authorization": basic("svc", "x" * 43)})
        self.assertRefused(r, "signed assertion (private_key_jwt)")
        # Unknown clients and clients without keys get no assertion in.
        other = add_client(self.db, "sec", "--id", "sec")
        self.assertEqual(other["token_endpoint_auth_method"], None)
        self.assertOAuthError(self.token(self.assertion(iss="sec",
                                                        sub="sec")),
                              401, "invalid_client")
        self.assertOAuthError(self.token(self.assertion(iss="nobody",
                                                        sub="nobody")),
                              401, "invalid_client")
        # The assertion refused above was not used up by the refusals.
        self.assertEqual(self.token(a).status, 200)

    def test_authlib_signs_assertions_the_server_takes(self):
        from authlib.integrations.requests_client import OAuth2Session
        from authlib.oauth2.rfc7523 import PrivateKeyJWT
        url = self.s.issuer + "/token"
        session = OAuth2Session("svc", pem(self.key).decode(),
                                token_endpoint_auth_method=PrivateKeyJWT(
                                    url, alg="ES256"),
                                scope="read")
        for _ in range(2):  # a new assertion each time
            tok = session.fetch_token(url, grant_type="client_credentials")
            self.assertEqual(tok["scope"], "read")
            claims = jwt.decode(tok["access_token"],
                                options={"verify_signature": False})
            self.assertEqual(claims["client_id"], "svc")


class ReplayAcrossRestartTest(AssertionBase):
    """The used jti is in the database, not the process: another
    instance (here, the same database after a restart) refuses it."""

    def test_replay_after_restart(self):
        self.s = self.start("--issuer", "https://auth.example.test")
        a = self.assertion()
        self.assertEqual(self.token(a).status, 200)
        self.assertEqual(self.s.stop(), 0)
        self.servers.remove(self.s)
        self.s = self.start("--issuer", "https://auth.example.test")
        self.assertRefused(self.token(a), "already used")


class RegistrationTest(LatchkeyTestCase):
    """What `client add|update --jwks` and the fixtures accept."""

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def refused(self, args, message):
        p = cli(self.db, *args, check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stderr.splitlines()[0], "latchkey: " + message)
        self.assertEqual(p.stdout, "")

    def test_refusals(self):
        key = ec_key()
        priv = json.loads(ECAlgorithm.to_jwk(key))  # has "d"
        small = public_jwk(rsa_key(1024), "small")
        good = public_jwk(key, "k")
        cases = [
            ("{}", 'a JWKS document is a JSON object with a "keys" array'),
            ('{"keys": []}', "a JWKS document must hold 1 to 16 keys"),
            (json.dumps({"keys": [good] * 17}),
             "a JWKS document must hold 1 to 16 keys"),
            (json.dumps({"keys": [priv]}), "a key holds a private member: "
             "register the public key only"),
            (json.dumps({"keys": [small]}), "an RSA key must have 2048 bits "
             "or more (RFC 7518 section 3.3)"),
            (json.dumps({"keys": [dict(good, use="enc")]}),
             "a key's \"use\" must be \"sig\""),
            (json.dumps({"keys": [dict(good, crv="P-384")]}),
             "an EC key must be on P-256 (crv \"P-256\")"),
            (json.dumps({"keys": [dict(good, x=good["y"])]}),
             "the EC key is not a point on P-256"),
            (json.dumps({"keys": [good, good]}),
             "two keys have the same \"kid\""),
            (json.dumps({"keys": [dict(good, alg="HS256")]}),
             "a key's \"alg\" must be RS256, PS256 or ES256"),
        ]
        for text, why in cases:
            with self.subTest(why=why):
                self.refused(["client", "add", "x", "--jwks",
                              self.write("k.json", text)],
                             "invalid --jwks: " + why)
        self.refused(["client", "add", "x", "--token-endpoint-auth-method",
                      "private_key_jwt"],
                     "private_key_jwt needs the client's public keys (jwks "
                     "or jwks_uri)")
        self.refused(["client", "add", "x", "--token-endpoint-auth-method",
                      "client_secret_jwt"],
                     "invalid token endpoint auth method "
                     "'client_secret_jwt': client_secret_basic, "
                     "client_secret_post, private_key_jwt, tls_client_auth "
                     "or self_signed_tls_client_auth")
        jwks = self.write("ok.json", json.dumps({"keys": [good]}))
        self.refused(["client", "add", "x", "--public", "--jwks", jwks],
                     "a public client authenticates with its client_id "
                     "only: no token_endpoint_auth_method, jwks, jwks_uri "
                     "or tls_client_auth_*")
        self.refused(["client", "add", "x", "--jwks", jwks,
                      "--token-endpoint-auth-method", "private_key_jwt",
                      "--secret", "a-long-enough-secret"],
                     "--secret and private_key_jwt exclude each other: the "
                     "client signs with its keys")
        self.assertEqual(json.loads(cli(self.db, "client", "list",
                                        "--json").stdout), [])

    def test_update_to_keys_and_back(self):
        key = ec_key()
        c = add_client(self.db, "svc", "--id", "svc")
        jwks = self.write("ok.json", json.dumps({"keys": [public_jwk(key,
                                                                     "k")]}))
        cli(self.db, "client", "update", "svc", "--jwks", jwks,
            "--token-endpoint-auth-method", "private_key_jwt")
        shown = json.loads(cli(self.db, "client", "show", "svc",
                               "--json").stdout)
        self.assertEqual(shown["token_endpoint_auth_method"],
                         "private_key_jwt")
        self.assertEqual(shown["jwks"]["keys"][0]["kid"], "k")
        p = cli(self.db, "client", "rotate-secret", "svc", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("authenticates with its keys (private_key_jwt)",
                      p.stderr)
        s = self.start()
        r = s.token({"grant_type": "client_credentials"},
                    auth=(c["client_id"], c["client_secret"]))
        self.assertOAuthError(r, 401, "invalid_client")
        # Back to a secret: the old one is gone; a rotation makes one.
        cli(self.db, "client", "update", "svc",
            "--token-endpoint-auth-method", "default", "--jwks", "")
        new = json.loads(cli(self.db, "client", "rotate-secret", "svc",
                             "--json").stdout)["client_secret"]
        self.assertOAuthError(s.token({"grant_type": "client_credentials"},
                                      auth=(c["client_id"],
                                            c["client_secret"])),
                              401, "invalid_client")
        self.assertEqual(s.token({"grant_type": "client_credentials"},
                                 auth=("svc", new)).status, 200)

    def test_secret_method_restrictions(self):
        b = add_client(self.db, "b", "--id", "b",
                       "--token-endpoint-auth-method", "client_secret_basic")
        p = add_client(self.db, "p", "--id", "p",
                       "--token-endpoint-auth-method", "client_secret_post")
        s = self.start()
        cc = {"grant_type": "client_credentials"}
        self.assertEqual(s.token(cc, auth=("b", b["client_secret"])).status,
                         200)
        r = s.token(dict(cc, client_id="b", client_secret=b["client_secret"]))
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertIn("HTTP Basic", r.json()["error_description"])
        self.assertEqual(s.token(dict(cc, client_id="p",
                                      client_secret=p["client_secret"])
                                 ).status, 200)
        r = s.token(cc, auth=("p", p["client_secret"]))
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertIn("form body", r.json()["error_description"])

    def test_fixtures_register_keys(self):
        key = ec_key()
        self.write_fixtures({"clients": [{
            "client_id": "svc", "token_endpoint_auth_method":
            "private_key_jwt", "jwks": {"keys": [public_jwk(key, "k")]},
            "grants": ["client_credentials"]}]})
        s = self.start_double()
        now = int(time.time())
        a = jwt.encode({"iss": "svc", "sub": "svc", "aud": s.issuer,
                        "exp": now + 60, "jti": "one"}, pem(key),
                       algorithm="ES256", headers={"kid": "k"})
        r = s.request("POST", "/token", urllib.parse.urlencode({
            "grant_type": "client_credentials",
            "client_assertion_type": TYPE, "client_assertion": a}), FORM)
        self.assertEqual(r.status, 200, r.body)
        # A secret beside keys, and keys that are no JWKS, are refused.
        for entry, why in (
                ({"client_secret": "a-long-enough-secret"},
                 "a private_key_jwt client has no secret"),
                ({"jwks": {"keys": "no"}},
                 'invalid JWKS: a JWKS document is a JSON object with a '
                 '"keys" array')):
            c = {"client_id": "svc", "token_endpoint_auth_method":
                 "private_key_jwt", "jwks": {"keys": [public_jwk(key, "k")]}}
            c.update(entry)
            self.write_fixtures({"clients": [c]})
            p = self.start_double_fails()
            self.assertIn(why, p)

    def start_double_fails(self):
        import subprocess
        from lk_harness import LATCHKEYD
        p = subprocess.run([LATCHKEYD, "--ephemeral", "--fixtures",
                            self.fixtures, "--test-double", "--listen",
                            "127.0.0.1:0"], capture_output=True, text=True,
                           timeout=60)
        self.assertNotEqual(p.returncode, 0)
        return p.stderr


class JwksServer:
    """A JWKS published over HTTP on loopback, as a client would; counts
    the fetches, and has paths that misbehave."""

    def __init__(self, doc):
        import http.server
        import threading
        self.doc, self.fetches = doc, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches.append(self.path)
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/jwks")
                    self.end_headers()
                    return
                if self.path == "/slow":
                    time.sleep(2.5)
                body = (json.dumps(outer.doc) if self.path != "/big"
                        else json.dumps({"keys": [], "pad": "x" * 5000}))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever,
                         daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class JwksUriTest(AssertionBase):
    """A client whose keys are fetched from its jwks_uri, under the rule
    against calling internal addresses (docs/service-auth.md)."""

    def setUp(self):
        super().setUp()
        self.pub = JwksServer({"keys": [public_jwk(self.key, "ec-1")]})
        self.addCleanup(self.pub.close)
        for cid, path in (("web", "/jwks"), ("slow", "/slow"),
                          ("big", "/big"), ("moved", "/redirect")):
            add_client(self.db, cid, "--id", cid, "--jwks-uri",
                       self.pub.url + path,
                       "--token-endpoint-auth-method", "private_key_jwt")

    def for_client(self, cid, key=None, kid="ec-1"):
        return self.assertion(key, kid=kid, iss=cid, sub=cid)

    def test_fetched_cached_and_fetched_again_for_a_new_key(self):
        self.s = self.start("--jwks-uri-allow-private", "true",
                            "--jwks-uri-timeout", "1",
                            "--jwks-uri-max-bytes", "4096")
        for _ in range(3):
            r = self.token(self.for_client("web"))
            self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.pub.fetches, ["/jwks"])  # cached
        # The client adds a key and signs with it: fetched again at once.
        new = ec_key()
        self.pub.doc = {"keys": [public_jwk(self.key, "ec-1"),
                                 public_jwk(new, "ec-2")]}
        r = self.token(self.for_client("web", new, "ec-2"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.pub.fetches, ["/jwks", "/jwks"])
        # An unknown kid right after does not fetch again (10 s apart).
        self.assertRefused(self.token(self.for_client("web", new, "ec-3")),
                           "matches none")
        self.assertEqual(len(self.pub.fetches), 2)
        # Misbehaving publishers: too slow, too big, a redirect.
        for cid, why in (("slow", "did not answer within jwks_uri_timeout"),
                         ("big", "larger than jwks_uri_max_bytes"),
                         ("moved", "did not answer 200")):
            with self.subTest(cid=cid):
                self.assertRefused(self.token(self.for_client(cid)), why)
        self.assertNotIn("/jwks", self.pub.fetches[2:])  # no redirect

    def test_no_proxy_from_the_environment(self):
        """A proxy would resolve the name itself, past the check: the
        fetch never goes through one, whatever the environment says."""
        proxy = JwksServer({"keys": []})
        self.addCleanup(proxy.close)
        env = {k: proxy.url for k in ("http_proxy", "https_proxy",
                                      "HTTPS_PROXY", "ALL_PROXY",
                                      "all_proxy")}
        env.update({"no_proxy": "", "NO_PROXY": ""})
        self.s = self.start("--jwks-uri-allow-private", "true", env=env)
        r = self.token(self.for_client("web"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.pub.fetches, ["/jwks"])
        self.assertEqual(proxy.fetches, [])

    def test_internal_addresses_are_refused_by_default(self):
        # https to loopback, by literal and by name, and plain http.
        port = self.pub.httpd.server_address[1]
        for cid, url in (("lit", "https://127.0.0.1:%d/jwks" % port),
                         ("v6", "https://[::1]:%d/jwks" % port),
                         ("name", "https://localhost:%d/jwks" % port),
                         ("meta", "https://169.254.169.254/jwks")):
            add_client(self.db, cid, "--id", cid, "--jwks-uri", url,
                       "--token-endpoint-auth-method", "private_key_jwt")
        self.s = self.start()
        for cid in ("lit", "v6", "name", "meta"):
            with self.subTest(cid=cid):
                r = self.token(self.for_client(cid))
                self.assertRefused(r, "names only loopback, link-local or "
                                      "private addresses")
        self.assertRefused(self.token(self.for_client("web")),
                           "must be https")
        # Nothing was asked of the address.
        self.assertEqual(self.pub.fetches, [])

    def test_registration_rules(self):
        self.s = self.start()
        for args, why in (
                (["--jwks-uri", "ftp://keys.example/jwks"],
                 "invalid JWKS URI 'ftp://keys.example/jwks': an http or "
                 "https URL without a fragment"),
                (["--jwks-uri", "https://keys.example/jwks", "--jwks",
                  self.jwks], "give the client's keys as jwks or as "
                 "jwks_uri, not both")):
            with self.subTest(args=args):
                p = cli(self.db, "client", "add", "x", *args, check=False)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(p.stderr.splitlines()[0],
                                 "latchkey: " + why)
        shown = json.loads(cli(self.db, "client", "show", "web",
                               "--json").stdout)
        self.assertEqual((shown["jwks"], shown["jwks_uri"]),
                         (None, self.pub.url + "/jwks"))
