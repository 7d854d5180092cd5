"""Issue 20's done-when: 60 worker processes on one host, each its own TokenStore (relay=True:
one LISTEN for the host) on one server at max_connections = 100 (PostgreSQL's default; a server
of the test's own, tests/faults/own_server.py), all open and verify from two threads; strict
revokes and narrowings return and every worker refuses the token on its next verification
(probed, and counted by every verifying thread: violations); 10 s after warm-up the server sees
at most 30 connections from them. Runs tests/faults/fleet.py in a subprocess (it forks the
workers). Before the relay, 12 of 60 workers failed to open ("sorry, too many clients") and the
48 others held 48 connections when idle."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.pg, pytest.mark.slow]

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_sixty_workers_on_one_host_fit_a_default_server_and_refuse_a_revoked_token(tmp_path):
    out = tmp_path / "fleet.json"
    run = subprocess.run(
        [sys.executable, "-m", "faults.fleet", "--hosts", "1", "--per-host", "60"]
        + ["--threads", "2", "--changes", "6", "--idle-at", "10", "--max-connections", "100"]
        + ["--designs", "relay", "--json", str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "tests")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.exists(), run.stdout + run.stderr
    [r] = json.loads(out.read_text())
    summary = run.stdout
    assert r["design"] == "relay", summary
    assert r["opened"] == 60, (r["open_failures"], summary)
    assert r["changes"] == 6 and r["writer_errors"] == 0, summary
    # Every worker, probed after each change returned, refused the token: 6 x 60 probes.
    assert r["probes"] == {"refused": 360, "ok": 0, "other": 0}, (r["probe_errors"], summary)
    assert r["violations"] == 0, summary
    assert r["verify_errors"] == 0, summary
    assert r["verifications"] > 60 * 2 * 100, summary
    assert r["idle"] <= 30, summary
    assert run.returncode == 0, summary
