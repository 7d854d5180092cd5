"""A client that is not Python: curl, in a subprocess, against `tokenkeep serve --api` on
loopback, with the calls the README shows. Secrets reach curl through files (-H @file,
--data-urlencode token@file), never through its argv."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import tokenkeep

pytestmark = pytest.mark.server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def api(tmp_path):
    """`tokenkeep serve --api` on a fresh database; yields (base URL, db path, folder)."""
    assert shutil.which("curl"), "curl is missing: make setup installs it (mk/oauth.mk)"
    db = str(tmp_path / "tokens.db")
    with tokenkeep.TokenStore(db):
        pass
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENKEEP_")}
    log = open(tmp_path / "server.log", "w+")  # noqa: SIM115  (closed in finally)
    server = subprocess.Popen(
        [sys.executable, "-m", "tokenkeep", "--db", db, "serve", "--api", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "tokenkeep serve --api exited"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "tokenkeep serve --api did not start"
                time.sleep(0.1)
        yield base, db, tmp_path, log
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def _write(path, text: str) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return str(path)


def _curl(*args: str) -> tuple[int, dict[str, str], str]:
    """Runs curl; returns (status, headers lower-cased, body)."""
    p = subprocess.run(
        ["curl", "-sS", "-D", "-", *args], capture_output=True, timeout=30, check=True
    )
    head, _, body = p.stdout.decode().partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body


def test_curl_introspects_and_revokes_through_serve_api(api):
    base, db, folder, log = api
    with tokenkeep.TokenStore(db) as store:
        svc = store.create_service_token("curl")
        user = store.create("alice", "ci", {"device:read"})
    header = _write(folder / "service.header", f"Authorization: Bearer {svc.secret}\n")
    token = _write(folder / "user.token", user.secret + "\n")  # as `tokenkeep create > file`
    introspect, revoke = base + "/oauth/introspect", base + "/oauth/revoke"

    status, headers, body = _curl(
        "-H", "@" + header, "--data-urlencode", "token@" + token, introspect
    )
    assert status == 200 and headers.get("cache-control") == "no-store", (status, headers)
    answer = json.loads(body)
    assert (answer["active"], answer["username"], answer["scope"]) == (True, "alice", "device:read")

    status, headers, body = _curl("--data-urlencode", "token@" + token, introspect)  # no caller
    assert status == 401 and headers["www-authenticate"] == "Bearer"
    user_header = _write(folder / "user.header", f"Authorization: Bearer {user.secret}\n")
    status, headers, body = _curl(
        "-H", "@" + user_header, "--data-urlencode", "token@" + token, introspect
    )
    assert status == 401 and json.loads(body)["error"] == "invalid_token"

    # HTTP Basic (client_id = the service token's id), from a curl config file, not argv.
    basic = _write(folder / "basic.curlrc", f'user = "{svc.info.id}:{svc.secret}"\n')
    status, _, body = _curl("-K", basic, "--data-urlencode", "token@" + token, introspect)
    assert status == 200 and json.loads(body)["active"] is True

    status, _, body = _curl("-H", "@" + header, "--data-urlencode", "token@" + token, revoke)
    assert (status, body) == (200, "")
    status, _, body = _curl("-H", "@" + header, "--data-urlencode", "token@" + token, introspect)
    assert (status, json.loads(body)) == (200, {"active": False})
    status, _, body = _curl("-H", "@" + header, "--data-urlencode", "token=tk_unknown", revoke)
    assert (status, body) == (200, "")
    status, headers, _ = _curl("-H", "@" + header, introspect + "?x=1", "-X", "GET")
    assert status == 405

    log.flush()
    log.seek(0)
    served = log.read()
    assert "POST /oauth/introspect" in served  # uvicorn's access log is on
    assert svc.secret not in served and user.secret not in served
    with tokenkeep.TokenStore(db) as store:
        event = store.audit("alice", limit=1)[0]
    assert event.action == "revoke" and event.actor == f"service:curl ({svc.info.id})"
