"""RFC 9728 protected resource metadata for /resource (issue 19): the
document at the well-known URL its resource identifier gives (the issuer
plus resource_path, with /.well-known/oauth-protected-resource between
host and path), its keys and values, a custom resource_path, an issuer
with a path (issuer_path, and an issuer URL a proxy serves under a path),
the test double's tenants, HEAD, 405, CORS, the metrics label, a path
another endpoint holds; and resource_metadata in /resource's Bearer and
DPoP challenges (section 5.1), never in /userinfo's. oauth4webapi 3.x
(tests/node/resource_discovery.mjs) discovers the resource from its URL
alone, as a client of RFC 9728 does. The document reads no database, but
the challenges and the token come from one, so this runs on both
backends; the tenants are the test double's (SQLite only: lk_harness
SQLITE_ONLY)."""
import json
import os
import re
import shutil
import subprocess
import time

from lk_harness import (LATCHKEYD, LatchkeyTestCase, add_client,
                        skip_or_fail)
from test_dpop import ALGS, Key
from test_test_double_tenants import TenantBase

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "..", "node")
WK = "/.well-known/oauth-protected-resource"
APP = "http://app.test:3000"
KEYS = {"resource", "authorization_servers", "bearer_methods_supported",
        "dpop_signing_alg_values_supported", "resource_name",
        "dpop_bound_access_tokens_required"}


def origin(url):
    return re.match(r"^https?://[^/]+", url).group(0)


def metadata_url(resource):
    """RFC 9728 section 3.1, computed here independently of the server."""
    o = origin(resource)
    return o + WK + resource[len(o):]


def challenge_metadata(www):
    """The resource_metadata of one challenge, or None."""
    m = re.search(r'(?:^|[ ,])resource_metadata="([^"]*)"', www)
    return m.group(1) if m else None


class ResourceMetadataTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        c = add_client(self.db, "svc", "--id", "svc", "--grant",
                       "client_credentials", "--scope", "read")
        self.auth = ("svc", c["client_secret"])

    def assertDocument(self, s, resource, issuer):
        """The document is at resource's well-known path of s, describes
        resource, and names issuer."""
        path = metadata_url(resource)[len(origin(resource)):]
        r = s.request("GET", path)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(r.headers["cache-control"], "public, max-age=300")
        md = r.json()
        self.assertEqual(set(md), KEYS)
        # Section 3.3: exactly the identifier the URL was made from.
        self.assertEqual(md["resource"], resource)
        self.assertEqual(md["authorization_servers"], [issuer])
        return md

    def test_document(self):
        s = self.start()
        self.assertEqual(metadata_url(s.issuer + "/resource"),
                         s.issuer + WK + "/resource")
        md = self.assertDocument(s, s.issuer + "/resource", s.issuer)
        # Only the Authorization header: /resource reads no form body and
        # no access_token query parameter.
        self.assertEqual(md["bearer_methods_supported"], ["header"])
        self.assertIs(md["dpop_bound_access_tokens_required"], False)
        self.assertIsInstance(md["resource_name"], str)
        self.assertNotIn("scopes_supported", md)
        # The algorithms a DPoP proof may use: the AS metadata's list,
        # and the DPoP challenge's.
        asm = s.get_json("/.well-known/oauth-authorization-server")
        self.assertEqual(md["dpop_signing_alg_values_supported"],
                         asm["dpop_signing_alg_values_supported"])
        self.assertEqual(ALGS, 'DPoP algs="%s"' % " ".join(
            md["dpop_signing_alg_values_supported"]))
        # The authorization server metadata is left as it was.
        self.assertFalse([k for k in asm if "resource" in k], asm)

    def test_the_document_describes_what_resource_does(self):
        s = self.start()
        at = s.token({"grant_type": "client_credentials"},
                     auth=self.auth).json()["access_token"]
        ok = s.request("GET", "/resource",
                       headers={"Authorization": "Bearer " + at})
        self.assertEqual(ok.status, 200, ok.body)
        # A token in the query or a form body is not taken ("header" only).
        r = s.request("GET", "/resource?access_token=" + at)
        self.assertEqual(r.status, 401)
        r = s.request("POST", "/resource", body="access_token=" + at,
                      headers={"Content-Type":
                               "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 401)

    def test_head_and_other_methods(self):
        s = self.start()
        r = s.request("HEAD", WK + "/resource")
        self.assertEqual((r.status, r.body), (200, b""))
        for method in ("POST", "PUT", "DELETE"):
            with self.subTest(method=method):
                r = s.request(method, WK + "/resource")
                self.assertOAuthError(r, 405, "method_not_allowed")
                self.assertEqual(r.headers["allow"], "GET, HEAD")
        # Nothing below or beside it.
        for path in (WK, WK + "/", WK + "/resource/x", WK + "/token"):
            with self.subTest(path=path):
                self.assertEqual(s.request("GET", path).status, 404)

    def test_custom_resource_path(self):
        s = self.start("--resource-path", "/api/me")
        self.assertDocument(s, s.issuer + "/api/me", s.issuer)
        self.assertEqual(s.request("GET", WK + "/resource").status, 404)
        r = s.request("GET", "/api/me")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.headers["www-authenticate"],
                         'Bearer realm="latchkey", resource_metadata="%s"'
                         % (s.issuer + WK + "/api/me"))

    def test_issuer_path(self):
        """issuer_path: the identifier's path is the issuer's plus
        resource_path, so the document is at the root's well-known path
        followed by both, not under the issuer's path."""
        s = self.start("--issuer-path", "/realms/x")
        base = "http://127.0.0.1:%d" % s.port
        self.assertEqual(s.issuer, base + "/realms/x")
        self.assertDocument(s, s.issuer + "/resource", s.issuer)
        self.assertEqual(s.request("GET", WK + "/realms/x/resource").status,
                         200)
        for path in ("/realms/x" + WK + "/resource", WK + "/resource"):
            with self.subTest(path=path):
                self.assertEqual(s.request("GET", path).status, 404)
        r = s.request("GET", "/realms/x/resource")
        self.assertEqual(challenge_metadata(r.headers["www-authenticate"]),
                         base + WK + "/realms/x/resource")

    def test_issuer_with_a_path_behind_a_proxy(self):
        """An issuer URL with a path latchkeyd does not serve under (a
        proxy maps it): the identifier and URLs are the public ones; the
        document is served at the public URL's path, for the proxy to
        forward as it is."""
        iss = "https://auth.example.test/auth"
        s = self.start("--issuer", iss)
        md = self.assertDocument(s, iss + "/resource", iss)
        self.assertEqual(md["resource"], "https://auth.example.test/auth/"
                                         "resource")
        r = s.request("GET", "/resource")
        self.assertEqual(
            challenge_metadata(r.headers["www-authenticate"]),
            "https://auth.example.test" + WK + "/auth/resource")

    def test_path_taken_by_another_endpoint(self):
        p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0", "--db",
                            self.db, "--jwks-path", WK + "/resource"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("share the path", p.stderr)
        self.assertIn("resource_metadata", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_cors(self):
        s = self.start("--cors-allowed-origins", APP)
        r = s.request("GET", WK + "/resource", headers={"Origin": APP})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("access-control-allow-origin"), APP)
        self.assertEqual(r.headers.get("vary"), "Origin")
        r = s.request("OPTIONS", WK + "/resource", headers={
            "Origin": APP, "Access-Control-Request-Method": "GET"})
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(r.headers.get("access-control-allow-origin"), APP)
        self.assertEqual(r.headers.get("access-control-allow-methods"),
                         "GET, HEAD, OPTIONS")
        r = s.request("GET", WK + "/resource",
                      headers={"Origin": "http://evil.test"})
        self.assertEqual(r.status, 200)
        self.assertNotIn("access-control-allow-origin", r.headers)
        # Without the setting: no CORS, and no OPTIONS.
        plain = self.start()
        r = plain.request("GET", WK + "/resource", headers={"Origin": APP})
        self.assertNotIn("access-control-allow-origin", r.headers)
        self.assertEqual(plain.request("OPTIONS", WK + "/resource").status,
                         405)

    def test_metrics_label(self):
        s = self.start()
        for _ in range(2):
            self.assertEqual(s.request("GET", WK + "/resource").status, 200)
        want = ('latchkey_http_requests_total{endpoint="resource_metadata",'
                'status="200"} 2')
        deadline = time.monotonic() + 10
        while True:
            text = s.request("GET", "/metrics").body.decode()
            if want in text.splitlines() or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertIn(want, text.splitlines())

    # ---- section 5.1: the challenges ------------------------------------

    def test_bearer_challenges_name_the_metadata(self):
        s = self.start()
        url = s.issuer + WK + "/resource"
        tail = ', resource_metadata="%s"' % url
        r = s.request("GET", "/resource")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.headers["www-authenticate"],
                         'Bearer realm="latchkey"' + tail)
        r = s.request("GET", "/resource",
                      headers={"Authorization": "Bearer nope"})
        self.assertEqual(r.status, 401)
        www = r.headers["www-authenticate"]
        self.assertTrue(www.startswith(
            'Bearer realm="latchkey", error="invalid_token", '
            'error_description="'), www)
        self.assertTrue(www.endswith(tail), www)
        # Every other answer with a challenge keeps its parameters too.
        r = s.request("GET", "/resource", headers={"Authorization": "Bearer"})
        self.assertEqual(r.status, 400)
        self.assertIn('error="invalid_request"', r.headers["www-authenticate"])
        self.assertTrue(r.headers["www-authenticate"].endswith(tail))
        at = s.token({"grant_type": "client_credentials"},
                     auth=self.auth).json()["access_token"]
        r = s.request("GET", "/resource?scope=write",
                      headers={"Authorization": "Bearer " + at})
        self.assertEqual(r.status, 403)
        self.assertEqual(
            r.headers["www-authenticate"],
            'Bearer realm="latchkey", error="insufficient_scope", '
            'error_description="the access token lacks a scope this '
            'request needs", scope="write"' + tail)
        # A success has no challenge.
        r = s.request("GET", "/resource",
                      headers={"Authorization": "Bearer " + at})
        self.assertEqual(r.status, 200)
        self.assertNotIn("www-authenticate", r.headers)
        # The 405 of /resource names no scheme.
        r = s.request("PUT", "/resource")
        self.assertEqual(r.status, 405)
        self.assertNotIn("www-authenticate", r.headers)

    def test_dpop_challenges_name_the_metadata(self):
        s = self.start()
        url = s.issuer + WK + "/resource"
        key = Key()
        r = s.token({"grant_type": "client_credentials"}, auth=self.auth,
                    headers={"DPoP": key.proof("POST", s.issuer + "/token")})
        self.assertEqual(r.status, 200, r.body)
        at = r.json()["access_token"]
        # A bound token without its proof, and a made-up one.
        for auth in ("DPoP " + at, "DPoP nope"):
            with self.subTest(auth=auth[:10]):
                r = s.request("GET", "/resource",
                              headers={"Authorization": auth})
                self.assertEqual(r.status, 401, r.body)
                www = r.headers["www-authenticate"]
                self.assertTrue(www.startswith(ALGS + ', error="'), www)
                self.assertEqual(challenge_metadata(www), url)
        # A bound token sent as Bearer: the DPoP challenge, with it.
        r = s.request("GET", "/resource",
                      headers={"Authorization": "Bearer " + at})
        self.assertEqual(r.status, 401, r.body)
        self.assertEqual(challenge_metadata(r.headers["www-authenticate"]),
                         url)
        # With its proof: 200.
        r = s.request("GET", "/resource", headers={
            "Authorization": "DPoP " + at,
            "DPoP": key.proof("GET", s.issuer + "/resource", token=at)})
        self.assertEqual(r.status, 200, r.body)

    def test_not_in_other_endpoints_challenges(self):
        """/userinfo takes tokens too, but it is not the resource the
        metadata describes; client authentication's Basic challenge is
        left alone."""
        s = self.start()
        for auth in (None, "Bearer nope", "DPoP nope"):
            with self.subTest(auth=auth):
                h = {"Authorization": auth} if auth else {}
                r = s.request("GET", "/userinfo", headers=h)
                self.assertEqual(r.status, 401, r.body)
                self.assertIsNone(
                    challenge_metadata(r.headers["www-authenticate"]))
        r = s.token({"grant_type": "client_credentials"},
                    auth=("svc", "wrong"))
        self.assertEqual(r.status, 401)
        self.assertTrue(r.headers["www-authenticate"].startswith("Basic "))
        self.assertNotIn("resource_metadata", r.headers["www-authenticate"])

    # ---- a real client: oauth4webapi 3.x -----------------------------------

    def node_client(self, resource, *args):
        if shutil.which("node") is None or not os.path.isdir(os.path.join(
                NODE_DIR, "node_modules", "oauth4webapi")):
            skip_or_fail(self, "node or oauth4webapi 3.x not installed "
                         "(scripts/install-test-deps.sh)")
        p = subprocess.run(
            ["node", os.path.join(NODE_DIR, "resource_discovery.mjs")],
            env=dict(os.environ, RESOURCE=resource, CLIENT_ID=self.auth[0],
                     CLIENT_SECRET=self.auth[1]),
            capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def assertDiscovered(self, out, resource, issuer):
        url = metadata_url(resource)
        self.assertEqual(out["refused"]["status"], 401)
        [bearer] = out["refused"]["challenges"]
        self.assertEqual(bearer["scheme"], "bearer")
        self.assertEqual(bearer["parameters"]["resource_metadata"], url)
        self.assertEqual(bearer["parameters"]["error"], "invalid_token")
        # oauth4webapi's own derivation of the well-known URL found it.
        self.assertEqual(out["metadata_url"], url)
        self.assertEqual(out["metadata"]["resource"], resource)
        self.assertEqual(out["metadata"]["authorization_servers"], [issuer])
        self.assertEqual(out["alg"], "ES256")
        self.assertEqual(out["token_type"].lower(), "dpop")
        self.assertEqual(out["resource_status"], 200)
        body = out["resource"]
        self.assertEqual((body["active"], body["client_id"], body["iss"]),
                         (True, "svc", issuer))
        self.assertIn("jkt", body["cnf"])

    def test_oauth4webapi_discovers_the_resource(self):
        s = self.start()
        resource = s.issuer + "/resource"
        self.assertDiscovered(self.node_client(resource), resource, s.issuer)

    def test_oauth4webapi_with_an_issuer_path(self):
        s = self.start("--issuer-path", "/realms/x", "--resource-path",
                       "/api/me")
        resource = s.issuer + "/api/me"
        self.assertDiscovered(self.node_client(resource), resource, s.issuer)


class TenantsResourceMetadataTest(TenantBase):
    """Each tenant of the test double has its own /resource, so its own
    metadata, naming its own issuer; an injected 401 at a resource is the
    challenge the resource would send, resource_metadata included."""

    def test_each_tenant_its_own_document(self):
        s = self.double()
        base = "http://127.0.0.1:%d" % s.port
        for name, path in (("", ""), ("a", "/realms/a"), ("b", "/realms/b")):
            with self.subTest(tenant=name):
                iss = base + path
                r = s.request("GET", WK + path + "/resource")
                self.assertEqual(r.status, 200, r.body)
                md = r.json()
                self.assertEqual(set(md), KEYS)
                self.assertEqual(md["resource"], iss + "/resource")
                self.assertEqual(md["authorization_servers"], [iss])
                r = s.request("GET", path + "/resource")
                self.assertEqual(r.status, 401)
                self.assertEqual(
                    challenge_metadata(r.headers["www-authenticate"]),
                    base + WK + path + "/resource")
        # A tenant's token at its own resource; another's is refused with
        # that other resource's metadata.
        at = self.cc(s, "a", "a-secret")
        self.assertEqual(self.resource(s, "a", at).status, 200)
        r = self.resource(s, "b", at)
        self.assertEqual(r.status, 401)
        self.assertEqual(challenge_metadata(r.headers["www-authenticate"]),
                         base + WK + "/realms/b/resource")

    def test_injected_401_names_the_metadata(self):
        s = self.double()
        base = "http://127.0.0.1:%d" % s.port
        r = s.request("POST", "/realms/a/_control/faults",
                      body="endpoint=resource&status=401",
                      headers={"Content-Type":
                               "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 200, r.body)
        r = self.resource(s, "a", "x")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.headers["www-authenticate"],
                         'Bearer realm="latchkey", error="invalid_token", '
                         'resource_metadata="%s"'
                         % (base + WK + "/realms/a/resource"))
