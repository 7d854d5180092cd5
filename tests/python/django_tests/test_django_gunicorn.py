"""The test site under a real ``gunicorn --preload`` with two workers on 127.0.0.1: the store
opened in the master is replaced in each worker, a revoke made elsewhere is refused by the
next request, and the workers stop promptly (none hangs on the parent's store at exit)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import tokenkeep

from .answers import PROJECT

pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, secret: str):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def site_env(tmp_path):
    env = {
        **os.environ,
        "TOKENKEEP_TEST_DB": str(tmp_path / "tokens.db"),
        "TOKENKEEP_TEST_SITE_DB": str(tmp_path / "site.db"),
        "DJANGO_SETTINGS_MODULE": "testsite.settings",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=PROJECT, env=env, check=True, timeout=120)
    subprocess.run(
        [
            *manage,
            "shell",
            "-c",
            "from django.contrib.auth.models import User; User.objects.create_user('alice')",
        ],
        cwd=PROJECT,
        env=env,
        check=True,
        timeout=120,
    )
    return env


def test_gunicorn_preload_workers_serve_see_revokes_and_stop(site_env, tmp_path):
    with tokenkeep.TokenStore(site_env["TOKENKEEP_TEST_DB"]) as store:
        issued = store.create(owner="alice", name="g", scopes={"device:read"})
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--preload",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "testsite.wsgi:application",
            ],
            cwd=PROJECT,
            env=site_env,
        )
        try:
            url = f"http://127.0.0.1:{port}/api/devices"
            deadline = time.monotonic() + 60
            while True:
                try:
                    status, body = get(url, issued.secret)
                    break
                except OSError:
                    assert server.poll() is None and time.monotonic() < deadline, (
                        "gunicorn did not start"
                    )
                    time.sleep(0.2)
            assert status == 200 and b'"user":"alice"' in body
            for _ in range(20):  # whichever worker takes the connection
                assert get(url, issued.secret)[0] == 200
            store.revoke(owner="alice", token_id=issued.info.id)
            for _ in range(20):
                status, body = get(url, issued.secret)
                assert status == 401 and b"revoked" in body
        finally:
            server.terminate()
            code = server.wait(timeout=30)  # a worker stuck on the master's store would hang here
    assert code == 0
