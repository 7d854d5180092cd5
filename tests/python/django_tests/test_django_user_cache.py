"""The default TokenAuthentication serves the owner's user from a per-process cache (issue 23),
and a change of the user made in one process is seen by the very next request of another:
two worker processes of the test site (user_worker.py) on one site database and one token
store (SQLite, and PostgreSQL, where a node's cache is kept coherent by the lease protocol)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tokenkeep

from .answers import PROJECT

pytestmark = pytest.mark.server

PEPPER = "3c" * 32
WORKER = Path(__file__).with_name("user_worker.py")
ROUNDS = 15


class Worker:
    """One process of the site, answering one JSON command per line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.p = subprocess.Popen(
            [sys.executable, str(WORKER)],
            cwd=PROJECT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __call__(self, op: str, **args) -> dict:
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, f"worker died ({self.p.poll()})"
        return json.loads(line)

    def close(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.close()
        self.p.wait(timeout=30)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "tokens.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def workers(store_url, tmp_path):
    env = {
        **os.environ,
        "TOKENKEEP_TEST_DB": store_url,
        "TOKENKEEP_TEST_SITE_DB": str(tmp_path / "site.db"),
        "TOKENKEEP_PEPPER": PEPPER,
        "DJANGO_SETTINGS_MODULE": "testsite.settings",
    }
    manage = [sys.executable, "manage.py", "migrate", "-v0"]
    subprocess.run(manage, cwd=PROJECT, env=env, check=True, timeout=120)
    a, b = Worker(env), Worker(env)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


@pytest.fixture
def secret(store_url, workers) -> str:
    workers[0]("create", username="alice")
    with tokenkeep.TokenStore(store_url, pepper=PEPPER) as store:
        return store.create(owner="alice", name="w", scopes={"device:read"}).secret


def warm(worker: Worker, secret: str) -> dict:
    """Requests until one is served from the user cache (no query at all): the answer, or
    the last one after 5. (The first one queries; so may one after the token's first use
    is persisted, which renews its snapshot, about a second later.)"""
    for _ in range(5):
        answer = worker("get", secret=secret)
        assert answer["status"] == 200 and answer["user"] == "alice", answer
        if answer["queries"] == 0:
            break
    return answer


def test_a_user_deactivated_in_one_process_is_refused_by_the_next_request_of_another(
    workers, secret
):
    a, b = workers
    answered, cached = [], 0
    for _ in range(ROUNDS):
        a("save", username="alice", is_active=True)
        hit = warm(b, secret)
        cached += hit["status"] == 200 and hit["queries"] == 0
        a("save", username="alice", is_active=False)  # Model.save in process A
        answered.append(b("get", secret=secret)["status"])  # B's very next request
    assert cached == ROUNDS  # B really served alice from its cache before each change
    assert answered == [401] * ROUNDS


def test_a_rename_or_a_deletion_in_one_process_is_seen_by_the_next_request_of_another(
    workers, secret
):
    a, b = workers
    answered = []
    for _ in range(ROUNDS):
        assert warm(b, secret)["queries"] == 0
        a("save", username="alice", new_username="alice2")
        answered.append(b("get", secret=secret)["status"])
        a("save", username="alice2", new_username="alice")
    assert warm(b, secret)["queries"] == 0
    a("delete", username="alice")
    answered.append(b("get", secret=secret)["status"])
    assert answered == [401] * (ROUNDS + 1)


def test_a_change_without_a_signal_is_announced_by_user_changed(workers, secret):
    """The control: QuerySet.update() sends no signal, so B keeps serving its cached user
    (the tests above would fail without the announcement); user_changed() announces it."""
    a, b = workers
    assert warm(b, secret)["queries"] == 0
    a("update", username="alice", is_active=False)
    stale = b("get", secret=secret)
    assert stale["status"] == 200 and stale["queries"] == 0
    assert a("changed", username="alice") == {"announced": 1}
    assert b("get", secret=secret)["status"] == 401
