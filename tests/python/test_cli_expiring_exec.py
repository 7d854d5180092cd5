"""`tokenkeep expiring --exec CMD`: once per token, fields in the environment, never the secret."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tokenkeep import TokenStore

# Each run appends its environment, as JSON, to a file: what CMD saw, in order.
RECORD = (
    'python3 -c "import json, os, sys; print(json.dumps({k: v for k, v in os.environ.items() '
    'if k.startswith(\'TOKENKEEP_TOKEN_\')}))" >> "$OUT"'
)


def tk(db: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tokenkeep", "--db", str(db), "--owner", "alice", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.slow
def test_exec_runs_once_per_expiring_token_with_its_fields_and_never_the_secret(
    tmp_path, monkeypatch
):
    import os

    db, out = tmp_path / "t.db", tmp_path / "runs.jsonl"
    with TokenStore(str(db)) as store:
        soon = store.create(
            "alice", "deploy", {"device:read", "policy"}, expires_in=timedelta(days=2)
        )
        sooner = store.create("bob", "bob-ci", {"device"}, expires_in=timedelta(days=1))
        store.create("alice", "later", {"device"}, expires_in=timedelta(days=30))
    env = {**os.environ, "OUT": str(out), "TOKENKEEP_TOKEN_ID": "stale-from-caller"}

    r = tk(db, "expiring", "--within", "7d", "--all-owners", "--exec", RECORD, env=env)
    assert r.returncode == 0, r.stderr
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [run["TOKENKEEP_TOKEN_NAME"] for run in runs] == ["bob-ci", "deploy"]  # soonest first
    first, second = runs[1], soon.info
    assert first["TOKENKEEP_TOKEN_ID"] == second.id
    assert first["TOKENKEEP_TOKEN_OWNER"] == "alice"
    assert first["TOKENKEEP_TOKEN_SCOPES"] == "device:read policy"
    assert datetime.fromisoformat(first["TOKENKEEP_TOKEN_EXPIRES_AT"]) == second.expires_at
    assert first["TOKENKEEP_TOKEN_LAST_USED_AT"] == ""
    assert 2 * 86400 - 120 < int(first["TOKENKEEP_TOKEN_EXPIRES_IN_SECONDS"]) <= 2 * 86400
    everything = out.read_text() + r.stdout + r.stderr
    assert soon.secret not in everything and sooner.secret not in everything

    # Without --all-owners only the caller's; none within an hour runs nothing and exits 0.
    out.unlink()
    assert tk(db, "expiring", "--within", "7d", "--exec", RECORD, env=env).returncode == 0
    assert [json.loads(x)["TOKENKEEP_TOKEN_NAME"] for x in out.read_text().splitlines()] == [
        "deploy"
    ]
    out.unlink()
    assert tk(db, "expiring", "--within", "1h", "--exec", RECORD, env=env).returncode == 0
    assert not out.exists()


def test_exec_failure_is_exit_1_after_trying_every_token(tmp_path):
    import os

    db, out = tmp_path / "t.db", tmp_path / "seen"
    with TokenStore(str(db)) as store:
        a = store.create("alice", "a", {"device"}, expires_in=timedelta(days=1))
        store.create("alice", "b", {"device"}, expires_in=timedelta(days=2))
    cmd = 'echo "$TOKENKEEP_TOKEN_NAME" >> "$OUT"; test "$TOKENKEEP_TOKEN_NAME" != a'
    r = tk(db, "expiring", "--exec", cmd, env={**os.environ, "OUT": str(out)})
    assert r.returncode == 1
    assert out.read_text().split() == ["a", "b"]
    assert r.stderr.strip() == f"tokenkeep: --exec failed (status 1) for token {a.info.id} (alice)"


def test_cron_and_systemd_examples_are_valid(tmp_path):
    docs = Path(__file__).resolve().parents[2] / "docs" / "expiry"
    line = [
        x
        for x in (docs / "tokenkeep-expiring.cron").read_text().splitlines()
        if x.strip() and not x.startswith("#") and "=" not in x.split()[0]
    ]
    assert len(line) == 1
    fields = line[0].split(None, 6)
    assert (
        len(fields) == 7
        and fields[5] == "root"
        and "expiring --within 7d --all-owners --exec" in fields[6]
    )
    assert "%" not in fields[6]  # cron would turn it into a newline
    service = (docs / "tokenkeep-expiring.service").read_text()
    exec_start = next(x for x in service.splitlines() if x.startswith("ExecStart="))
    # systemd would expand a single-$ TOKENKEEP_TOKEN_* itself (to nothing) before CMD runs.
    assert "$$TOKENKEEP_TOKEN_NAME" in exec_start and " $TOKENKEEP_TOKEN" not in exec_start
    for f in ("tokenkeep-expiring.service", "tokenkeep-expiring.timer"):
        (tmp_path / f).write_text((docs / f).read_text())
    r = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / "tokenkeep-expiring.timer")],
        capture_output=True,
        text=True,
    )
    # verify checks both units (the timer names the service); only a missing binary may differ.
    problems = [x for x in r.stderr.splitlines() if "/usr/local/bin/tokenkeep" not in x]
    assert r.returncode == 0 or not problems, r.stderr
    assert problems == [], r.stderr
