"""The page under several worker processes and across restarts (issue 10 item 11).

The CSRF key is derived from the store's pepper, so a form rendered by one uvicorn worker is
accepted by another, and a form left open across a restart still posts. Before, each process
drew a random key: under ``--workers 2`` most posts were refused as "This form has expired".
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.server

APP = """
import os
import tokenkeep
from tokenkeep.web.admin import create_app

store = tokenkeep.TokenStore(os.environ["TK_TEST_DB"])
app = create_app(store, current_user=lambda request: request.headers.get("x-user"))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path, port: int, workers: int) -> subprocess.Popen:
    (tmp_path / "workers_app.py").write_text(APP)
    env = {**os.environ, "TK_TEST_DB": str(tmp_path / "tokens.db")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "workers_app:app",
            "--app-dir",
            str(tmp_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(
                    f"http://127.0.0.1:{port}/profile/access-tokens", headers={"x-user": "alice"}
                ).status_code
                == 200
            ):
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("uvicorn did not come up")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def _form(port: int):
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"x-user": "alice"}) as c:
        r = c.get("/profile/access-tokens")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text).group(1)
        return dict(c.cookies), token


def _post(port: int, cookies, token, name):
    # A new client per post: a new connection, which either worker may accept.
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"x-user": "alice"}, cookies=cookies
    ) as c:
        data = {"csrf_token": token, "name": name, "scopes": ["device"], "expiry": "30"}
        return c.post("/profile/access-tokens", data=data).status_code


def test_forms_post_to_any_worker_and_survive_a_restart(tmp_path):
    port = _free_port()
    proc = _serve(tmp_path, port, workers=2)
    try:
        cookies, token = _form(port)
        statuses = [_post(port, cookies, token, f"t{i}") for i in range(40)]
        assert statuses.count(403) == 0, statuses
        assert set(statuses) <= {200, 201, 303}, statuses
    finally:
        _stop(proc)
    proc = _serve(tmp_path, port, workers=1)  # a restart: the same form, still open
    try:
        assert _post(port, cookies, token, "after-restart") != 403
    finally:
        _stop(proc)
    import tokenkeep

    with tokenkeep.TokenStore(str(tmp_path / "tokens.db")) as s:
        assert len(s.list("alice")) == 41


def test_the_csrf_key_comes_from_the_pepper(tmp_path):
    import tokenkeep

    db = str(tmp_path / "t.db")
    with tokenkeep.TokenStore(db) as a, tokenkeep.TokenStore(db) as b:
        assert a._subkey("csrf") == b._subkey("csrf")
        assert len(a._subkey("csrf")) == 32
        assert a._subkey("csrf") != a._subkey("other")
    with (
        tokenkeep.TokenStore(":memory:", pepper="ab" * 32) as c,
        tokenkeep.TokenStore(":memory:", pepper="cd" * 32) as d,
    ):
        assert c._subkey("csrf") != d._subkey("csrf")
    with pytest.raises(tokenkeep.InvalidArgument):
        tokenkeep.TokenStore(":memory:")._subkey("much-too-long")
