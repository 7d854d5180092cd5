"""Inputs that once escaped as tracebacks or created files: each is now one line on stderr,
a non-zero exit code, and nothing new on disk."""

from __future__ import annotations

import os
import subprocess
import sys

import tokenkeep


def run(*args: bytes, stdin: bytes = b"", env_extra=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TOKENKEEP_DB", "TOKENKEEP_TOKEN")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"tokenkeep", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=60,
    )


def one_line_error(p: subprocess.CompletedProcess) -> str:
    err = p.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert err.startswith("tokenkeep: error:") and err.count("\n") == 1, err
    return err


def test_read_commands_on_a_missing_database_fail_and_create_nothing(tmp_path):
    db = os.fsencode(tmp_path / "typo.db")
    token = tokenkeep.TokenStore(str(tmp_path / "real.db")).create("alice", "x", "device").secret
    for args in ([b"list"], [b"show", b"x"], [b"expiring"], [b"audit"]):
        p = run(b"--db", db, b"--owner", b"alice", *args)
        assert p.returncode == 1 and "no token database" in one_line_error(p)
    p = run(b"--db", db, b"verify", stdin=token.encode())
    assert p.returncode == 1 and "no token database" in one_line_error(p)
    assert token not in p.stderr.decode()
    assert sorted(os.listdir(tmp_path)) == sorted(
        n for n in os.listdir(tmp_path) if n.startswith("real.db")
    )


def test_absurd_durations_and_limits_are_usage_errors(tmp_path):
    db = os.fsencode(tmp_path / "t.db")
    for args in (
        [b"create", b"--name", b"x", b"--scope", b"device", b"--expires-in", b"999999999999d"],
        [b"create", b"--name", b"x", b"--scope", b"device", b"--expires-in", b"999999998d"],
    ):
        p = run(b"--db", db, b"--owner", b"alice", *args)
        assert p.returncode == 2, p
        one_line_error(p)
    tokenkeep.TokenStore(str(tmp_path / "t.db")).close()
    for args in (
        [b"expiring", b"--within", b"999999998d"],
        [b"purge", b"--older-than", b"999999998d", b"--yes"],
        [b"audit", b"--limit", b"99999999999999999999"],
    ):
        p = run(b"--db", db, b"--owner", b"alice", *args)
        assert p.returncode in (1, 2), p
        one_line_error(p)


def test_undecodable_arguments_are_usage_errors(tmp_path):
    db = os.fsencode(tmp_path / "t.db")
    with tokenkeep.TokenStore(str(tmp_path / "t.db")) as store:
        store.create("alice", "x", "device")
    for args in (
        [b"--owner", b"\xff", b"list"],
        [b"--owner", b"alice", b"show", b"\xff"],
        [b"--owner", b"alice", b"create", b"--name", b"\xff", b"--scope", b"device"],
        [b"--owner", b"alice", b"edit", b"x", b"--scope", b"\xff"],
    ):
        p = run(b"--db", db, *args)
        assert p.returncode in (2, 7), p  # usage error, or "no token with that id or name"
        one_line_error(p)
    with tokenkeep.TokenStore(str(tmp_path / "t.db")) as store:
        assert [t.name for t in store.list("alice")] == ["x"]
        assert store.list("alice")[0].scopes == {"device"}
