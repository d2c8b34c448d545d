"""Starts latchkeyd as a test double for a test (or a whole suite) and
stops it afterwards: a private database, fixed clients and users from a
fixtures file, port 0, the /_control/ endpoints on. The server is tied
to this process: it stops by itself if this process dies, even by
SIGKILL (--exit-on-stdin-close, --exit-with-parent).

    with latchkey_double("fixtures.json") as lk:
        requests.post(lk.issuer + "/token", ...)
        lk.post("clock", advance=3600)
        lk.get("tokens", client_id="svc")["access_tokens"]
        lk.requests(endpoint="token")  # the request journal

LATCHKEYD names the binary (default: latchkeyd on PATH).
"""
import contextlib
import json
import os
import select
import subprocess
import urllib.parse
import urllib.request

LATCHKEYD = os.environ.get("LATCHKEYD", "latchkeyd")


class Double:
    def __init__(self, ready, issuer=None):
        self.ready = ready
        self.issuer = issuer or ready["issuer"]  # http://127.0.0.1:PORT
        self.port = ready["port"]
        self.db = ready["db"]  # for `latchkey --db` on this server
        # With tenants in the fixtures: one Double per tenant, by name.
        self.tenants = {t["name"]: Double(ready, t["issuer"])
                        for t in ready.get("tenants", []) if issuer is None}

    def get(self, name, **query):
        """GET /_control/NAME; its JSON answer."""
        q = "?" + urllib.parse.urlencode(query) if query else ""
        with urllib.request.urlopen(self.issuer + "/_control/" + name + q) as r:
            return json.load(r)

    def post(self, name, **form):
        """POST /_control/NAME with a form; its JSON answer."""
        body = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(self.issuer + "/_control/" + name,
                                    body) as r:
            return json.load(r)

    def put(self, kind, entry):
        """Adds or replaces a client or user ("clients", "users") with the
        keys of a fixtures entry; its JSON answer."""
        req = urllib.request.Request(
            self.issuer + "/_control/" + kind, json.dumps(entry).encode(),
            {"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def requests(self, **query):
        """The journal: what the server received (endpoint=, client_id=)."""
        return self.get("requests", **query)["requests"]

    def reset(self):
        """Tokens, faults, clock moves and the journal gone; fixtures
        applied again."""
        return self.post("reset")


@contextlib.contextmanager
def latchkey_double(fixtures=None, *flags, log=None, timeout=10):
    """Yields a Double once latchkeyd has printed its ready line; stops it
    (SIGTERM, which removes its database) when the block ends. log is a
    file for the server's log lines (default: this process's stderr)."""
    args = [LATCHKEYD, "--ephemeral", "--test-double",
            "--exit-on-stdin-close", "--exit-with-parent",
            "--listen", "127.0.0.1:0", *flags]
    if fixtures is not None:
        args += ["--fixtures", fixtures]
    # Our end of its stdin closes when this process ends, however it ends.
    proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=log)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else b""
        if not line:
            raise RuntimeError("latchkeyd did not start (exit status %s)"
                               % proc.poll())
        yield Double(json.loads(line))
    finally:
        proc.terminate()
        proc.wait(timeout)
        proc.stdout.close()
        proc.stdin.close()
