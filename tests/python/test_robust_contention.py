"""Contention between processes on one database file.

- A lock held by another process for longer than the busy timeout: every write fails with
  StoreError "database is busy ..." once the timeout has passed — never a hang, never a
  crash — and works again once the lock is gone.
- Normal contention: 8 processes mixing verify, create and revoke for
  TOKENKEEP_CONTENTION_SECONDS (5 in `make test`, 20 in `make soak`): no call fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
import tokenkeep
from tokenkeep import StoreError

pytestmark = pytest.mark.slow

PEPPER = "9a" * 32
SECONDS = float(os.environ.get("TOKENKEEP_CONTENTION_SECONDS", "5"))
WORKERS = 8

HOLDER = textwrap.dedent(
    """
    import sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    if sys.argv[2] == "exclusive":
        con.execute("PRAGMA locking_mode=EXCLUSIVE")
        con.execute("BEGIN EXCLUSIVE")
        con.execute("UPDATE settings SET value = value")  # hold the write lock for real
    else:
        con.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
    """
)


class LockHolder:
    """Another process holding the database's write lock (or, "exclusive", every lock)."""

    def __init__(self, path: str, mode: str, seconds: float = 60) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, path, mode, str(seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline() == "locked\n", self.proc.stderr.read()

    def release(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def timed(call):
    start = time.monotonic()
    try:
        call()
    except StoreError as e:
        return time.monotonic() - start, e
    return time.monotonic() - start, None


@pytest.mark.timeout(120)
def test_write_lock_held_past_the_busy_timeout_is_a_store_error_not_a_hang(db_path):
    timeout = 0.5
    with tokenkeep.TokenStore(db_path, pepper=PEPPER) as setup:
        live = setup.create("alice", "live", {"device"})
        other = setup.create("alice", "other", {"device"})
    with tokenkeep.TokenStore(db_path, pepper=PEPPER, busy_timeout=timeout) as store:
        holder = LockHolder(db_path, "immediate")
        try:
            calls = {
                "create": lambda: store.create("alice", "new", {"device"}),
                "update_scopes": lambda: store.update_scopes("alice", live.info.id, {"policy"}),
                "revoke": lambda: store.revoke("alice", live.info.id),
                "rotate": lambda: store.rotate("alice", other.info.id),
            }
            for name, call in calls.items():
                elapsed, error = timed(call)
                assert error is not None, f"{name} succeeded while another process held the lock"
                assert "database is busy" in str(error), str(error)
                assert str(int(timeout * 1000)) in str(error), (
                    "the message should say how long it waited"
                )
                assert live.secret not in str(error)
                assert timeout * 0.8 <= elapsed <= timeout + 3, f"{name} took {elapsed:.2f}s"
            # Readers are not blocked by a writer (WAL): verification still answers, and
            # within about one busy timeout even if it tries to record the use.
            start = time.monotonic()
            assert store.verify(live.secret, "device:write").name == "live"
            assert time.monotonic() - start <= timeout + 3
        finally:
            holder.release()
        # The lock is gone: the same calls now work, and nothing of the failed ones remains.
        assert [t.name for t in store.list("alice")] == ["other", "live"]
        assert store.update_scopes("alice", live.info.id, {"policy"}).scopes == {"policy"}
        store.revoke("alice", live.info.id)
        store.rotate("alice", other.info.id)
        assert store.create("alice", "new", {"device"}).info.name == "new"


@pytest.mark.timeout(120)
def test_database_locked_exclusively_gives_store_error_on_open_not_a_hang(db_path):
    """Another process holds every lock (locking_mode=EXCLUSIVE, as a backup tool or a
    careless sqlite3 shell can): opening the store fails with StoreError after about the busy
    timeout — even reading is impossible — and works once the lock is released."""
    timeout = 0.5
    with tokenkeep.TokenStore(db_path, pepper=PEPPER) as setup:
        live = setup.create("alice", "live", {"device"})
    holder = LockHolder(db_path, "exclusive")
    try:
        elapsed, error = timed(
            lambda: tokenkeep.TokenStore(db_path, pepper=PEPPER, busy_timeout=timeout)
        )
        assert error is not None, "the store opened a database another process holds exclusively"
        assert "database is busy" in str(error), str(error)
        assert timeout * 0.8 <= elapsed <= timeout + 3, f"open took {elapsed:.2f}s"
    finally:
        holder.release()
    with tokenkeep.TokenStore(db_path, pepper=PEPPER, busy_timeout=timeout) as store:
        assert store.verify(live.secret).name == "live"
        assert store.create("alice", "new", {"device"}).info.name == "new"


@pytest.mark.timeout(120)
def test_verify_does_not_wait_for_another_process_write_lock(db_path):
    """A web backend verifies on every request: a writer elsewhere (an admin's sqlite3 shell,
    a long purge) must not stall it for the busy timeout just to record last_used_at."""
    with tokenkeep.TokenStore(db_path, pepper=PEPPER, busy_timeout=5) as store:
        fresh = store.create(
            "alice", "fresh", {"device"}
        )  # never used: a verify wants to record it
        holder = LockHolder(db_path, "immediate")
        try:
            start = time.monotonic()
            assert store.verify(fresh.secret, "device:read").name == "fresh"
            assert store.check(fresh.secret, "device:write")
            assert time.monotonic() - start < 1.0, "verify waited on another process's write lock"
        finally:
            holder.release()


WORKER = textwrap.dedent(
    """
    import json, random, sys, time, traceback, tokenkeep
    path, pepper, me, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    rng = random.Random(me)
    store = tokenkeep.TokenStore(path, pepper=pepper)
    live, dead = [], []
    counts = {"calls": 0, "failed": 0, "verify": 0, "create": 0, "revoke": 0}
    failures = []
    deadline = time.monotonic() + seconds
    j = 0
    while time.monotonic() < deadline:
        j += 1
        r = rng.random()
        op = "create" if not live or r < 0.25 else "revoke" if r < 0.4 else "verify"
        counts["calls"] += 1
        counts[op] += 1
        try:
            if op == "create":
                t = store.create(me, f"t{j}", rng.choice([{"device"}, {"policy:read"}]))
                live.append((t.info.id, t.secret))
            elif op == "revoke":
                tid, secret = live.pop(rng.randrange(len(live)))
                store.revoke(me, tid)
                dead.append(secret)
            else:
                if dead and rng.random() < 0.2:
                    try:
                        store.verify(rng.choice(dead))
                        raise AssertionError("a revoked token verified")
                    except tokenkeep.RevokedToken:
                        pass
                else:
                    tid, secret = rng.choice(live)
                    assert store.verify(secret).id == tid
        except Exception:
            counts["failed"] += 1
            failures.append(traceback.format_exc(limit=3))
    print(json.dumps({"counts": counts, "failures": failures[:5]}))
    """
)


@pytest.mark.timeout(300)
def test_eight_processes_mixing_verify_create_revoke_never_fail(db_path):
    tokenkeep.TokenStore(db_path, pepper=PEPPER).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, db_path, PEPPER, f"w{i}", str(SECONDS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(WORKERS)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=SECONDS + 120)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    total = {k: sum(r["counts"][k] for r in results) for k in results[0]["counts"]}
    failures = [f for r in results for f in r["failures"]]
    print(
        f"\ncontention: {WORKERS} processes x {SECONDS:g}s: {total['calls']} calls "
        f"({total['verify']} verify, {total['create']} create, {total['revoke']} revoke), "
        f"{total['failed']} failed"
    )
    assert total["failed"] == 0, failures
    assert total["create"] >= WORKERS and total["revoke"] > 0 and total["verify"] > 0
    with tokenkeep.TokenStore(db_path, pepper=PEPPER) as store:
        audit = store.audit(limit=10**6)
        assert sum(1 for a in audit if a.action == "create") == total["create"]
        assert sum(1 for a in audit if a.action == "revoke") == total["revoke"]
