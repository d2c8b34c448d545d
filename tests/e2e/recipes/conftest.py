"""pytest fixtures for a suite that tests against Latchkey: put this file
(as conftest.py) and latchkey_double.py beside your tests.

    def test_refreshes_once(lk):            # lk: a fresh server state
        client = MyClient(lk.issuer, "app", "app-secret")
        client.call_api_twice()
        refreshes = [r for r in lk.requests(endpoint="token")
                     if r["grant_type"] == "refresh_token"]
        assert len(refreshes) == 1

One server for the whole session (started in milliseconds, stopped at
the end, and by itself if pytest is killed); each test gets it reset.
LATCHKEY_FIXTURES names the fixtures file (default: fixtures.json beside
this file); LATCHKEYD the binary.
"""
import os

import pytest

from latchkey_double import latchkey_double

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def latchkey():
    """The server of the session (a latchkey_double.Double)."""
    fixtures = os.environ.get("LATCHKEY_FIXTURES",
                              os.path.join(HERE, "fixtures.json"))
    with latchkey_double(fixtures) as lk:
        yield lk


@pytest.fixture
def lk(latchkey):
    """The session's server, reset for this test: no tokens, faults,
    clock moves or journal of earlier tests."""
    latchkey.reset()
    for tenant in latchkey.tenants.values():
        tenant.reset()
    return latchkey
