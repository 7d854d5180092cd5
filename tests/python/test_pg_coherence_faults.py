"""Strict revocation under the faults of issue 18: a server crash right after a lease
renewal, nodes with different leases, a link cut silently. Each test counts violations (a
successful verification of the old state that STARTED after the change returned) or the
fact the protocol relies on, and asserts zero. Needs TOKENKEEP_TEST_PG (fails without it).
"""

from __future__ import annotations

import os
import signal
import time

import psycopg
from test_pg_nodes import PEPPER, _server, _start_node
from tokenkeep import TokenStore


def _postmaster_pid() -> int:
    with open(os.path.join(os.environ["TOKENKEEP_TEST_PG_DIR"], "data", "postmaster.pid")) as f:
        return int(f.readline())


def _crash_server() -> None:
    """SIGQUIT to the postmaster (what `pg_ctl -m immediate stop` sends), at once, and wait
    until it is gone: shared memory, and any WAL not yet written, are lost."""
    pid = _postmaster_pid()
    os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + 30
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, "the server did not stop after SIGQUIT"
        time.sleep(0.01)


def _lease_of(db, node_pid: int):
    row = db.execute(
        "SELECT lease_until FROM tokenkeep_nodes WHERE node LIKE %s", (f"{node_pid}-%",)
    ).fetchone()
    return row[0] if row else None


def test_a_lease_renewal_the_node_acted_on_survives_a_server_crash(pg_url, tmp_path):
    """The node trusts its cache until sent + 0.9 L once its renewal committed; writers stop
    waiting for it when its lease_until passes. If a crash can take lease_until back to the
    renewal before, a writer stops waiting while the node still trusts (issue 18, problem 1).
    Each trial: a renewal becomes visible, the server is killed within a millisecond, and the
    node is frozen so it cannot renew again before the row is read back after recovery."""
    with TokenStore(pg_url, pepper=PEPPER, lease=1.0) as writer:
        secret = writer.create("alice", "ci", {"device"}).secret
    trials, backwards = 4, []
    for trial in range(trials):
        node = _start_node(pg_url, [secret], tmp_path / f"node{trial}.json", seconds=60, lease=1.0)
        try:
            with psycopg.connect(pg_url, autocommit=True) as db:
                first = _lease_of(db, node.pid)
                deadline = time.monotonic() + 10
                while (seen := _lease_of(db, node.pid)) == first:
                    assert time.monotonic() < deadline, "the node never renewed its lease"
            node.send_signal(signal.SIGSTOP)  # no renewal after recovery can hide a lost one
            _crash_server()  # within a millisecond of the renewal becoming visible
            _server("start")
            with psycopg.connect(pg_url, autocommit=True) as db:
                after = _lease_of(db, node.pid)
            if after is None or after < seen:
                backwards.append(None if after is None else (seen - after).total_seconds())
        finally:
            node.send_signal(signal.SIGCONT)
            node.kill()
            node.wait(timeout=30)
    print(f"\n{trials} crashes right after a renewal: lease_until went back by {backwards} s")
    assert backwards == []
