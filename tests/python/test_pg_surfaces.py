"""The surfaces on a postgresql:// URL (issue 9): the Access Token page in-process, and
`tokenkeep serve` as a user runs it, in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import tokenkeep
from starlette.testclient import TestClient
from test_admin_page import BASE, csrf_of, new_token_of, user_from_header
from tokenkeep.web.admin import create_app

PEPPER = "5a" * 32


def test_the_access_token_page_on_a_postgresql_store(pg_url):
    with (
        tokenkeep.TokenStore(pg_url, pepper=PEPPER) as store,
        tokenkeep.TokenStore(pg_url, pepper=PEPPER) as other,
    ):
        client = TestClient(
            create_app(store, current_user=user_from_header), base_url=BASE, follow_redirects=False
        )
        client.headers["X-User"] = "alice"
        token = csrf_of(client.get("/profile/access-tokens"))
        made = client.post(
            "/profile/access-tokens",
            data={"csrf_token": token, "name": "ci", "scopes": ["device"], "expiry": "30"},
        )
        assert made.status_code == 200
        secret = new_token_of(made)
        info = other.verify(secret, "device:write")  # another node of the same database
        assert info.name == "ci"
        edited = client.post(
            f"/profile/access-tokens/{info.id}/scopes",
            data={"csrf_token": token, "scopes": ["policy:read"]},
        )
        assert edited.status_code == 303
        assert not other.check(secret, "device:read") and other.check(secret, "policy:read")
        revoked = client.post(
            f"/profile/access-tokens/{info.id}/revoke", data={"csrf_token": token}
        )
        assert revoked.status_code == 303
        assert not other.check(secret)
        assert [e.action for e in other.audit("alice")][:3] == ["revoke", "update_scopes", "create"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tokenkeep_serve_on_a_postgresql_url(pg_url):
    with tokenkeep.TokenStore(pg_url, pepper=PEPPER) as store:
        store.create("alice", "made-elsewhere", scopes=["device"])
    port = _free_port()
    env = dict(os.environ, TOKENKEEP_PEPPER=PEPPER, TOKENKEEP_DB=pg_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenkeep", "serve", "--user", "alice", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/profile/access-tokens", timeout=5
                ) as r:
                    assert r.status == 200
                    body = r.read().decode()
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.2)
        assert body is not None, "the page never answered"
        assert "made-elsewhere" in body  # the token made through the library, listed by the page
    finally:
        proc.terminate()
        proc.wait(timeout=15)
