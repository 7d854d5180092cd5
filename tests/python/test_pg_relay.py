"""One coherence channel per host (issue 20): worker processes that share a runtime folder
elect one relay, which alone LISTENs and holds the host's lease; the others read the host's
shared feed. Real processes on the real PostgreSQL (TOKENKEEP_TEST_PG; fails without it).

Each test's writer is another host (its own runtime folder) unless it says otherwise, so a
strict revoke waits for this host's acknowledgement, given by the relay.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from test_pg_nodes import _freeze
from tokenkeep import TokenStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the harness's helpers
from faults.hostfile import host_file_read  # noqa: E402

pytestmark = [pytest.mark.pg, pytest.mark.slow]

PEPPER = "ab" * 32
WORKER = os.path.join(os.path.dirname(__file__), "pg_relay_worker.py")
LEASE = 1.0


class Worker:
    def __init__(self, url: str, secrets: list[str], runtime_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        cfg = {
            "url": url,
            "pepper": PEPPER,
            "lease": LEASE,
            "secrets": secrets,
            "runtime_dir": str(runtime_dir),
        }
        self.proc.stdin.write(json.dumps(cfg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["ready"], line
        self.pid = int(line[1])

    def ask(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def verify(self) -> list[str]:
        return json.loads(self.ask("verify"))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            with_quit = self.proc.stdin
            try:
                with_quit.write("quit\n")
                with_quit.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def host(pg_url, tmp_path):
    """Tokens, a writer on another host, and a factory of workers sharing one runtime folder."""
    host_dir = tmp_path / "host"
    host_dir.mkdir(mode=0o700)
    writer_dir = tmp_path / "writer"
    writer_dir.mkdir(mode=0o700)
    workers: list[Worker] = []
    with TokenStore(pg_url, pepper=PEPPER, lease=LEASE, runtime_dir=writer_dir) as writer:
        issued = writer.create_many("alice", [(f"t{i}", {"device"}) for i in range(8)])

        class Host:
            dir = host_dir
            url = pg_url
            tokens = issued
            secrets = [t.secret for t in issued]

            @staticmethod
            def workers(n: int) -> list[Worker]:
                for _ in range(n):
                    workers.append(Worker(pg_url, Host.secrets, host_dir))
                return workers[-n:]

        Host.writer = writer
        try:
            yield Host
        finally:
            for w in workers:
                w.close()


def _listeners(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as c:
        return c.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tokenkeep listener'"
        ).fetchone()[0]


def _wait_for(what, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return got


def test_workers_on_one_host_hold_exactly_one_listen_connection(host, tmp_path):
    before = _listeners(host.url)  # the writer's own host (one listener)
    workers = host.workers(4)
    for w in workers:
        assert set(w.verify()) == {"ok"}
    assert _listeners(host.url) - before == 1
    relay = host_file_read(host.dir).relay_pid
    assert relay in {w.pid for w in workers}
    # The comparison: relay=False is today's per-process design, one listener per store.
    solo = [
        TokenStore(host.url, pepper=PEPPER, lease=LEASE, relay=False, runtime_dir=tmp_path)
        for _ in range(3)
    ]
    try:
        assert _listeners(host.url) - before == 1 + 3
    finally:
        for s in solo:
            s.close()


def _trusted(host) -> bool:
    """The host's deadline is fresh: its workers answer from their caches."""
    return host_file_read(host.dir).deadline_ns > time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def test_a_strict_revoke_is_refused_by_every_worker_on_its_next_verify(host):
    workers = host.workers(4)
    assert _trusted(host)  # so a stale cache would answer "ok"
    refused_late = 0
    for i in range(4):  # from the other host
        host.writer.revoke("alice", host.tokens[i].info.id)
        for w in workers:  # each verify started after the revoke returned
            refused_late += w.verify()[i] != "revoked"
    for i in range(4, 8):  # from a worker of this host: it applies its change to the host feed
        assert workers[i % 4].ask(f"revoke {i}").startswith("done")
        for w in workers:
            refused_late += w.verify()[i] != "revoked"
    assert refused_late == 0


def test_a_relay_killed_with_sigkill_is_replaced_and_verification_keeps_working(host):
    workers = host.workers(3)
    old = host_file_read(host.dir)
    relay = next(w for w in workers if w.pid == old.relay_pid)
    relay.proc.kill()
    relay.proc.wait(10)
    rest = [w for w in workers if w is not relay]
    new = _wait_for(lambda: (h := host_file_read(host.dir)).relay_terms > old.relay_terms and h)
    assert new.relay_pid in {w.pid for w in rest}
    assert new.node == old.node  # the host's row is taken over, not duplicated
    _wait_for(lambda: _listeners_of_host(host) == 1)
    _wait_for(lambda: _trusted(host))
    t0 = time.monotonic()
    host.writer.revoke("alice", host.tokens[0].info.id)
    took = time.monotonic() - t0
    for w in rest:
        outcomes = w.verify()
        assert outcomes[0] == "revoked"
        assert set(outcomes[1:]) == {"ok"}
    print(f"\nrelay {old.relay_pid} killed; {new.relay_pid} took over; revoke took {took:.3f} s")


def _listeners_of_host(host) -> int:
    """Listeners other than the writer's (the test's own host has exactly one)."""
    return _listeners(host.url) - 1


def test_a_stopped_relay_makes_its_workers_read_the_database_until_it_continues(host):
    workers = host.workers(3)
    relay_pid = host_file_read(host.dir).relay_pid
    relay = next(w for w in workers if w.pid == relay_pid)
    rest = [w for w in workers if w is not relay]
    _freeze(relay.proc)
    stopped = time.monotonic()
    try:
        _wait_for(lambda: not _trusted(host))
        lapsed = time.monotonic() - stopped
        assert lapsed <= LEASE  # the last renewal was at most L/4 before the stop, plus 0.9 L
        time.sleep(LEASE)  # and the host's lease row has expired too
        t0 = time.monotonic()
        host.writer.revoke("alice", host.tokens[0].info.id)  # waits out the host's lease
        took = time.monotonic() - t0
        for w in rest:  # not trusting their caches: they read the database, which answers
            outcomes = w.verify()
            assert outcomes[0] == "revoked"
            assert set(outcomes[1:]) == {"ok"}
        assert not _trusted(host)
    finally:
        relay.proc.send_signal(signal.SIGCONT)
    # Resumed: the relay renews, the host trusts again, and changes reach every worker.
    _wait_for(lambda: _trusted(host))
    t1 = time.monotonic()
    host.writer.revoke("alice", host.tokens[1].info.id)
    after = time.monotonic() - t1
    for w in workers:
        outcomes = w.verify()
        assert outcomes[:2] == ["revoked", "revoked"]
        assert set(outcomes[2:]) == {"ok"}
    assert host_file_read(host.dir).relay_pid == relay_pid
    assert after < LEASE  # acknowledged by the relay, not waited out
    print(
        f"\nrelay stopped: its host stopped trusting after {lapsed:.3f} s; revoke meanwhile "
        f"{took:.3f} s; after SIGCONT {after:.3f} s"
    )


def test_the_last_store_of_a_host_deletes_its_lease_row(pg_url, tmp_path):
    with TokenStore(pg_url, pepper=PEPPER, runtime_dir=tmp_path) as a:
        b = TokenStore(pg_url, pepper=PEPPER, runtime_dir=tmp_path)
        row = host_file_read(tmp_path).node
        a.close()  # the relay leaves; b stays: the row stays, and b's thread takes it over
        with psycopg.connect(pg_url, autocommit=True) as c:
            count = "SELECT count(*) FROM tokenkeep_nodes WHERE node = %s AND lease_until > now()"
            assert c.execute(count, (row,)).fetchone()[0] == 1
            _wait_for(lambda: host_file_read(tmp_path).relay_terms == 2)
            b.close()  # the last one: writers need not wait for this host any more
            assert c.execute(count, (row,)).fetchone()[0] == 0


def test_relay_and_runtime_dir_are_checked_before_anything_opens(pg_url, tmp_path):
    from tokenkeep import InvalidArgument, StoreError

    with pytest.raises(InvalidArgument):
        TokenStore(pg_url, pepper=PEPPER, relay="yes")
    with pytest.raises(InvalidArgument):
        TokenStore(pg_url, pepper=PEPPER, runtime_dir=7)
    open_to_all = tmp_path / "shared"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)  # anyone could plant or replace the host's files
    with pytest.raises(StoreError, match="writable by group or others"):
        TokenStore(pg_url, pepper=PEPPER, runtime_dir=open_to_all)
    # relay=False never touches a runtime folder.
    with TokenStore(pg_url, pepper=PEPPER, relay=False, runtime_dir=open_to_all) as solo:
        assert solo.create("alice", "x", {"device"}).secret
    assert list(open_to_all.iterdir()) == []


def test_a_child_forked_from_the_relay_takes_over_when_its_parent_closes(pg_url, tmp_path):
    """gunicorn --preload: the master opened the store (the host's relay) and forked. The
    child's copy of the relay lock is closed at the fork, so once the master's store closes the
    child becomes the relay, trusts its cache again, and refuses a revoke made elsewhere."""
    from tokenkeep import RevokedToken

    def host_dir_file():
        return host_file_read(tmp_path)

    writer = TokenStore(pg_url, pepper=PEPPER, lease=LEASE, relay=False)
    secret = writer.create("alice", "w", {"device"}).secret
    store = TokenStore(pg_url, pepper=PEPPER, lease=LEASE, runtime_dir=tmp_path)
    store.verify(secret)
    from_parent, to_child = os.pipe()
    from_child, to_parent = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only os-level calls and the store; never returns to pytest
        code = 1
        try:
            os.close(to_child)
            os.close(from_child)
            os.read(from_parent, 1)  # the parent's store is closed
            deadline = time.monotonic() + 5
            while True:
                store.verify(secret)  # a miss or an unstable host makes it a relay candidate
                h = host_dir_file()
                now = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
                if h.relay_pid == os.getpid() and h.deadline_ns > now:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no takeover: {h}")
                time.sleep(0.01)
            os.write(to_parent, b"r")
            os.read(from_parent, 1)  # revoked by the writer, which has returned
            try:
                store.verify(secret)
            except RevokedToken:
                code = 0
        finally:
            os._exit(code)
    os.close(from_parent)
    os.close(to_parent)
    store.close()  # the master's store: the child takes the relay over
    os.write(to_child, b"c")
    assert os.read(from_child, 1) == b"r", "the child did not take the relay over"
    writer.revoke("alice", writer.verify(secret).id)
    os.write(to_child, b"v")
    _, status = os.waitpid(pid, 0)
    writer.close()
    assert os.waitstatus_to_exitcode(status) == 0, "the child accepted the revoked token"
