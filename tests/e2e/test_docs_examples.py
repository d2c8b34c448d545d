"""docs/endpoints.md checked against the real server.

The page sets up a server in one `sh` block (`latchkey ...` lines and one
`latchkeyd` line); every other `sh` block is one `curl` command followed
by an `http` block with the answer it gets. This file runs the set-up (the
real CLI, the real latchkeyd on a free port), runs each curl command with
the real curl (`-i` added, the port replaced), and compares status, the
headers the doc shows (the port replaced in them too), and the JSON body:
the same keys, and the same values except where the doc writes `...` or
the value differs on every run (tokens, ids, times, keys).

Then each row of the error tables (`| request | status | error |`, and
`/resource`'s `| request | answer |`) is checked with requests of this
file's own, one or more per row: status, `error`, and every header the row
names. A row without requests here, or requests here without their row,
fails the test, so the tables and the checks move together.

curl is a test dependency (scripts/install-deps.sh): when it is missing
the test fails, it never skips.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import urllib.parse

from lk_harness import (LATCHKEY, LATEST_SCHEMA, LatchkeyTestCase, Response,
                        basic, cli)

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "docs", "endpoints.md")
DOC_BASE = "http://127.0.0.1:8080"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# Values that differ on every run: only their JSON type is compared.
VARYING = {"access_token", "refresh_token", "jti", "exp", "iat", "kid",
           "x", "y", "n", "e", "sub",
           "commit"}  # the source commit of the build


def blocks(text):
    """The fenced blocks of a Markdown page: (lang, body, line, heading)."""
    out, heading, lang, body, start = [], None, None, [], 0
    for i, line in enumerate(text.splitlines(), 1):
        if lang is None and line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("```"):
            if lang is None:
                lang, body, start = line[3:].strip(), [], i
            else:
                out.append((lang, "\n".join(body), start, heading))
                lang = None
        elif lang is not None:
            body.append(line)
    return out


def tables(text):
    """The tables of a Markdown page: (the "## " heading above, header
    cells, rows)."""
    out, heading, cur = [], None, None
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        if line.startswith("|"):
            cells = [c.strip() for c in
                     re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if cur is None:
                cur = (heading, cells, [])
                out.append(cur)
            elif not all(set(c) <= set("- :") for c in cells):
                cur[2].append(cells)
        else:
            cur = None
    return out


def parse_http(text):
    """An `http` block or curl -i output: (status, {name: value}, body)."""
    text = text.replace("\r\n", "\n")
    while True:
        head, _, body = text.partition("\n\n")
        lines = head.split("\n")
        status = int(lines[0].split()[1])
        if status >= 200:
            break
        text = body  # a 100 Continue before the answer
    hdrs = {}
    for ln in filter(None, lines[1:]):
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def header_matches(spec, actual):
    """spec is a header value from the doc; '...' stands for anything."""
    if actual is None:
        return False
    pos = 0
    for part in spec.split("..."):
        part = part.strip().strip(",").strip()
        if not part:
            continue
        pos = actual.find(part, pos)
        if pos < 0:
            return False
        pos += len(part)
    return True


class DocsExamplesTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        if shutil.which("curl") is None:
            self.fail("curl is not installed (scripts/install-deps.sh)")
        with open(DOC) as f:
            self.text = f.read()
        self.blocks = blocks(self.text)
        self.secrets = {}
        self.s = self.set_up_as_the_doc_says()
        self.base = "http://127.0.0.1:%d" % self.s.port
        # For the "a public client" rows.
        cli(self.db, "client", "add", "pub", "--id", "pub", "--public")

    # -- the set-up block ---------------------------------------------------

    def set_up_as_the_doc_says(self):
        [setup] = [b for lang, b, _, _ in self.blocks
                   if lang == "sh" and "latchkeyd " in b]
        bindir = os.path.join(self.dir, "bin")
        os.mkdir(bindir)
        os.symlink(os.path.abspath(LATCHKEY) if os.sep in LATCHKEY
                   else shutil.which(LATCHKEY),
                   os.path.join(bindir, "latchkey"))
        env = dict(os.environ, LATCHKEY_DB=self.db,
                   PATH=bindir + os.pathsep + os.environ["PATH"])
        server_args = None
        for line in setup.splitlines():
            words = shlex.split(line, comments=True)
            if not words:
                continue
            if words[0] == "latchkeyd":
                args = words[1:]
                i = args.index("--listen")  # the harness picks the port
                server_args = args[:i] + args[i + 2:]
                continue
            add = "latchkey client add" in line
            p = subprocess.run(["bash", "-c", line + (" --json" if add else
                                                      "")],
                               env=env, capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 0, f"{line}: {p.stderr}")
            if add:
                c = json.loads(p.stdout)
                self.secrets[c["client_id"]] = c["client_secret"]
        self.assertIsNotNone(server_args, "no latchkeyd line in the set-up")
        self.assertIn("svc", self.secrets)
        return self.start(*server_args)

    def fresh_token(self, client="svc", scope="read"):
        r = self.s.token({"grant_type": "client_credentials",
                          "scope": scope},
                         auth=(client, self.secrets[client]))
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    # -- the curl examples --------------------------------------------------

    def run_curl(self, command):
        command = command.replace(DOC_BASE, self.base)
        # -u ID:SECRET: the secret `client add` printed for ID.
        command = re.sub(r"-u (\S+?):SECRET\b",
                         lambda m: "-u %s:%s" % (m.group(1),
                                                 self.secrets[m.group(1)]),
                         command)
        self.assertTrue(command.startswith("curl "), command)
        self.assertNotRegex(command, r" -(o|w|I) ", "keep examples plain")
        env = dict(os.environ, ACCESS_TOKEN=self.fresh_token())
        p = subprocess.run(["bash", "-c", "curl -i " + command[5:]],
                           env=env, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return parse_http(p.stdout)

    def assertJsonLike(self, doc, got, path="body"):
        if isinstance(doc, dict):
            self.assertIsInstance(got, dict, path)
            self.assertEqual(sorted(doc), sorted(got), path)
            for k in doc:
                if k in VARYING:
                    self.assertIsInstance(got[k], type(doc[k]), path + "." + k)
                else:
                    self.assertJsonLike(doc[k], got[k], path + "." + k)
        elif isinstance(doc, list):
            self.assertIsInstance(got, list, path)
            self.assertEqual(len(doc), len(got), path)
            for i, (d, g) in enumerate(zip(doc, got)):
                self.assertJsonLike(d, g, "%s[%d]" % (path, i))
        elif isinstance(doc, str) and "..." in doc:
            self.assertIsInstance(got, str, path)
        elif isinstance(doc, str):
            self.assertEqual(doc.replace(DOC_BASE, self.base), got, path)
        else:
            self.assertEqual(doc, got, path)

    def examples(self):
        out = []
        for i, (lang, body, line, heading) in enumerate(self.blocks):
            if lang != "sh" or "curl " not in body:
                continue
            self.assertLess(i + 1, len(self.blocks),
                            f"line {line}: a curl example without its answer")
            nlang, answer, _, _ = self.blocks[i + 1]
            self.assertEqual(nlang, "http",
                             f"line {line}: a curl example must be followed "
                             "by an http block with its answer")
            command = " ".join(ln.rstrip("\\").strip()
                               for ln in body.splitlines())
            out.append((line, heading, command, answer))
        return out

    def test_every_curl_example_gets_the_answer_shown(self):
        examples = self.examples()
        self.assertGreaterEqual(len(examples), 15)
        for line, heading, command, answer in examples:
            with self.subTest(line=line, section=heading):
                want_status, want_hdrs, want_body = parse_http(answer)
                status, hdrs, body = self.run_curl(command)
                self.assertEqual(status, want_status, body)
                for name, value in want_hdrs.items():
                    value = value.replace(DOC_BASE, self.base)
                    self.assertTrue(header_matches(value, hdrs.get(name)),
                                    f"{name}: {hdrs.get(name)!r}, doc says "
                                    f"{value!r}")
                if want_body.strip() == "":
                    self.assertEqual(body, "")
                    continue
                got = json.loads(body)
                want = json.loads(want_body)
                if "error" in want:  # the code; descriptions are prose
                    self.assertEqual(got.get("error"), want["error"], body)
                    self.assertIsInstance(got.get("error_description"), str)
                else:
                    self.assertJsonLike(want, got)

    def test_healthz_example_shows_this_schema(self):
        # Whoever adds a migration updates the example: this says so.
        [answer] = [a for _, h, c, a in self.examples() if "healthz" in c]
        self.assertEqual(json.loads(parse_http(answer)[2])["schema_version"],
                         LATEST_SCHEMA, "docs/endpoints.md /healthz example")

    # -- the error tables ---------------------------------------------------

    def post(self, path, form, auth=None, headers=None):
        h = dict(FORM)
        if auth is not None:
            h["Authorization"] = basic(*auth)
        h.update(headers or {})
        body = form if isinstance(form, (str, bytes)) else \
            urllib.parse.urlencode(form)
        return self.s.request("POST", path, body=body, headers=h)

    def raw(self, data):
        """Sends raw bytes; the one answer, read until the server closes."""
        status, hdrs, body = parse_http(self.s.raw(data).decode())
        return Response(status, hdrs, body.encode())

    def cases(self):
        """(endpoint, status, error, k) -> requests that must get the
        answer of the k-th row (from 0) of that endpoint with that status
        and error; error is None for rows without one."""
        svc = ("svc", self.secrets["svc"])
        app = ("app", self.secrets["app"])
        api = ("api", self.secrets["api"])
        cc = {"grant_type": "client_credentials"}
        tok = lambda: self.fresh_token()  # noqa: E731
        n = len("grant_type=client_credentials")
        head = ("POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Authorization: %s\r\nContent-Type: "
                "application/x-www-form-urlencoded\r\n" % basic(*svc))
        body = "grant_type=client_credentials"
        return {
            ("token", 401, "invalid_client", 0): [
                lambda: self.post("/token", cc, auth=("svc", "wrong")),
                lambda: self.post("/token", cc, auth=("nobody", "x")),
                lambda: self.post("/token", cc),
                lambda: self.post("/token", cc,
                                  headers={"Authorization": "Basic !!"}),
            ],
            ("token", 400, "invalid_request", 0): [
                lambda: self.post("/token", {"scope": "read"}, auth=svc),
                lambda: self.post("/token", "grant_type=client_credentials"
                                  "&grant_type=client_credentials",
                                  auth=svc),
                lambda: self.post("/token", "grant_type=%ZZ", auth=svc),
                lambda: self.post("/token", "grant_type=a%00b", auth=svc),
                lambda: self.post("/token", body, auth=svc, headers={
                    "Content-Type": "application/json"}),
                lambda: self.post("/token", {**cc, "client_secret": "x"},
                                  auth=svc),
                lambda: self.post("/token", {**cc, "client_id": "app"},
                                  auth=svc),
                lambda: self.post("/token", "&".join(
                    "p%d=x" % i for i in range(33)), auth=svc),
            ],
            # The framing row (RFC 9112 section 6.3), on the wire.
            ("token", 400, "invalid_request", 1): [
                lambda: self.raw((head + "Content-Length: %d\r\n"
                                  "Content-Length: %d\r\n\r\n%s"
                                  % (n, n, body)).encode()),
                lambda: self.raw((head + "Content-Length: 5\r\nTransfer-"
                                  "Encoding: chunked\r\n\r\n%x\r\n%s\r\n0"
                                  "\r\n\r\n" % (n, body)).encode()),
            ],
            ("token", 400, "unsupported_grant_type", 0): [
                lambda: self.post("/token", {"grant_type": "implicit"},
                                  auth=svc),
            ],
            ("token", 400, "unauthorized_client", 0): [
                lambda: self.post("/token", {"grant_type": "password",
                                             "username": "dave",
                                             "password": "x"}, auth=svc),
                lambda: self.post("/token", cc, auth=app),
            ],
            ("token", 400, "invalid_scope", 0): [
                lambda s=s: self.post("/token", {**cc, "scope": s},
                                      auth=svc)
                for s in ("admin", " ", " read", "read ", "read  write",
                          'a"b', "a\\b", "l\u00e9")
            ],
            ("token", 400, "invalid_target", 0): [
                lambda r=r: self.post("/token", {**cc, "resource": r},
                                      auth=svc)
                for r in ("https://elsewhere.example",
                          "https://api.internal/", "urn:x")
            ],
            ("token", 400, "invalid_dpop_proof", 0): [
                lambda: self.post("/token", cc, auth=svc,
                                  headers={"DPoP": "not.a.proof"}),
                lambda: self.post("/token", cc, auth=svc,
                                  headers={"DPoP": ""}),
            ],
            ("token", 413, "request_too_large", 0): [
                lambda: self.post("/token", "x=" + "a" * 20000, auth=svc),
                lambda: self.s.request(
                    "POST", "/token", body=b"x=" + b"a" * 20000,
                    headers={**FORM, "Transfer-Encoding": "chunked",
                             "Authorization": basic(*svc)}),
            ],
            ("token", 405, "method_not_allowed", 0): [
                lambda: self.s.request("GET", "/token"),
            ],
            ("introspect", 401, "invalid_client", 0): [
                lambda: self.post("/introspect", {"token": tok()}),
                lambda: self.post("/introspect", {"token": tok()},
                                  auth=("api", "wrong")),
                lambda: self.post("/introspect", {"token": tok(),
                                                  "client_id": "pub"}),
            ],
            ("introspect", 400, "invalid_request", 0): [
                lambda: self.post("/introspect", {}, auth=api),
                lambda: self.post("/introspect", "token=a&token=b",
                                  auth=api),
                lambda: self.post("/introspect", "token=%ZZ", auth=api),
            ],
            ("revoke", 401, "invalid_client", 0): [
                lambda: self.post("/revoke", {"token": tok()}),
                lambda: self.post("/revoke", {"token": tok()},
                                  auth=("svc", "wrong")),
            ],
            ("revoke", 400, "invalid_request", 0): [
                lambda: self.post("/revoke", {}, auth=svc),
            ],
            ("revoke", 400, "unauthorized_client", 0): [
                lambda: self.post("/revoke", {"token": tok()}, auth=api),
            ],
            ("resource", 200, None, 0): [
                lambda: self.s.request("GET", "/resource", headers={
                    "Authorization": "Bearer " + tok()}),
            ],
            ("resource", 401, None, 0): [
                lambda: self.s.request("GET", "/resource"),
            ],
            ("resource", 400, "invalid_request", 0): [
                lambda a=a: self.s.request("GET", "/resource", headers={
                    "Authorization": a})
                for a in ("Basic abc", "Bearer", "Bearer a b",
                          "Bearer\t" + "abc")
            ],
            ("resource", 401, "invalid_token", 0): [
                lambda: self.s.request("GET", "/resource", headers={
                    "Authorization": "Bearer nope"}),
                lambda: self.s.request("GET", "/resource", headers={
                    "Authorization": "Bearer " + tok()[:-2] + "xx"}),
            ],
            ("resource", 401, "invalid_token", 1): [
                lambda: self.s.request("GET", "/resource", headers={
                    "Authorization": "DPoP " + tok(), "DPoP": "x"}),
            ],
            ("resource", 403, "insufficient_scope", 0): [
                lambda: self.s.request("GET", "/resource?scope=a%20b",
                                       headers={"Authorization":
                                                "Bearer " + tok()}),
            ],
        }

    # Rows that need a broken database or a busy machine: covered elsewhere.
    NOT_RUN_HERE = {
        ("token", 503, "temporarily_unavailable", 0):
            "test_disk_faults.py and test_limits.py",
        # The throttled row needs a clock moved through a window.
        ("token", 401, "invalid_client", 1): "test_client_auth_throttle.py",
        # A nonce needs dpop_nonce on, and a refused proof at a resource
        # a token bound to a key: the DPoP tests make both.
        ("token", 400, "use_dpop_nonce", 0): "test_dpop.py DPoPNonceTest",
        ("resource", 401, "invalid_dpop_proof", 0):
            "test_dpop.py test_hostile_proofs_at_a_resource",
        # The device grant's answers need a device client and a person's
        # decision, with the clock moved: the device tests make them.
        ("token", 400, "authorization_pending", 0):
            "test_device.py test_the_whole_flow_approved_through_the_test_double",
        ("token", 400, "slow_down", 0): "test_device.py test_slow_down",
        ("token", 400, "expired_token", 0):
            "test_device.py test_expired_token",
        ("token", 400, "access_denied", 0):
            "test_device.py test_access_denied",
        ("token", 400, "invalid_grant", 0):
            "test_device.py test_invalid_grant_for_unknown_and_foreign_codes",
        ("device_authorization", 401, "invalid_client", 0):
            "test_device.py test_invalid_client",
        ("device_authorization", 400, "unauthorized_client", 0):
            "test_device.py test_unauthorized_client",
        ("device_authorization", 400, "invalid_scope", 0):
            "test_device.py test_bad_requests",
        ("device_authorization", 400, "invalid_request", 0):
            "test_device.py test_bad_requests",
        ("token", 400, "invalid_grant", 1):
            "test_jwt_bearer.py test_hostile_assertions",
        # Needs introspection_requires_flag, which this server is without.
        ("introspect", 403, "unauthorized_client", 0):
            "test_introspect_revoke.py IntrospectFlagTest",
    }

    def table_rows(self):
        """(key, header specs, row text) per row; the key as in cases."""
        out, seen = [], {}
        for heading, cols, rows in tables(self.text):
            m = re.search(r"/(\w+)", heading or "")
            if m is None or cols[0] != "request":
                continue
            endpoint = m.group(1)
            if cols[1:] == ["status", "`error`"]:
                pass
            elif cols[1:] != ["answer"]:
                continue
            for cells in rows:
                answer = cells[1]
                status = int(re.search(r"\d{3}", answer).group(0))
                if len(cells) == 3:
                    error = cells[2].strip("`")
                else:
                    m = re.search(r'error="(\w+)"', answer)
                    error = m.group(1) if m else None
                specs = re.findall(r"`([\w-]+):\s*([^`]*)`", answer)
                if "+ `WWW-Authenticate`" in answer:
                    specs.append(("WWW-Authenticate", ""))
                k = (endpoint, status, error)
                seen[k] = seen.get(k, -1) + 1
                out.append((k + (seen[k],), specs, cells[0]))
        return out

    def test_every_error_table_row(self):
        cases = self.cases()
        rows = self.table_rows()
        self.assertGreaterEqual(len(rows), 15)
        keys = set()
        for key, specs, text in rows:
            _, status, error, _ = key
            keys.add(key)
            if key in self.NOT_RUN_HERE:
                continue
            self.assertTrue(key in cases,
                            f"no requests here for the row {text!r} {key}")
            for i, send in enumerate(cases[key]):
                with self.subTest(row=key, case=i):
                    r = send()
                    self.assertEqual(r.status, status, r.body)
                    if error is not None:
                        self.assertEqual(r.json()["error"], error, r.body)
                    for name, value in specs:
                        value = value.replace(DOC_BASE, self.base)
                        got = r.headers.get(name.lower())
                        self.assertTrue(header_matches(value, got),
                                        f"{name}: {got!r}, doc says "
                                        f"{value!r}")
        # Requests here for a row the page no longer has.
        self.assertEqual(set(cases) - keys, set())
        # Every 401 names its scheme (RFC 6749 section 5.2, RFC 6750 3).
        self.assertTrue(all(k[1] != 401 or any(n == "WWW-Authenticate"
                                               for n, _ in sp)
                            for k, sp, _ in rows))
