"""Several processes on one database: coherence, contention, crashes, file hygiene."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
import tokenkeep
from tokenkeep import InsufficientScope, RevokedToken, StoreError


def run_child(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter with tokenkeep importable; fails the test on error."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_revoke_in_another_process_is_seen_by_the_next_verify(db_path):
    with tokenkeep.TokenStore(db_path) as store:
        issued = store.create("alice", "ci", {"device"})
        assert store.verify(issued.secret, "device:read").name == "ci"
        run_child(
            """
            import sys, tokenkeep
            tokenkeep.TokenStore(sys.argv[1]).revoke("alice", sys.argv[2])
            """,
            db_path,
            issued.info.id,
        )
        with pytest.raises(RevokedToken):
            store.verify(issued.secret, "device:read")


def test_scope_edit_in_another_process_is_seen_by_the_next_verify(db_path):
    with tokenkeep.TokenStore(db_path) as store:
        issued = store.create("alice", "ci", {"device"})
        assert store.check(issued.secret, "device:write")
        run_child(
            """
            import sys, tokenkeep
            tokenkeep.TokenStore(sys.argv[1]).update_scopes("alice", sys.argv[2], {"device:read"})
            """,
            db_path,
            issued.info.id,
        )
        with pytest.raises(InsufficientScope):
            store.verify(issued.secret, "device:write")
        assert store.verify(issued.secret, "device:read").scopes == {"device:read"}


@pytest.mark.slow
def test_four_processes_creating_concurrently_lose_nothing(db_path):
    tokenkeep.TokenStore(db_path).close()  # create schema and key file first
    code = textwrap.dedent(
        """
        import sys, tokenkeep
        store = tokenkeep.TokenStore(sys.argv[1])
        me = sys.argv[2]
        for j in range(150):
            issued = store.create("owner-" + me, f"t{j}", {"device:read"})
            print(issued.info.id, issued.secret, flush=True)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, db_path, str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err
    with tokenkeep.TokenStore(db_path) as store:
        for i, (out, _) in enumerate(outputs):
            lines = out.split()
            assert len(lines) == 300
            assert len(store.list(f"owner-{i}")) == 150
            for secret in lines[1::2]:
                assert store.check(secret, "device:read")


@pytest.mark.slow
def test_kill_9_during_creates_loses_no_returned_create(db_path):
    tokenkeep.TokenStore(db_path).close()
    code = textwrap.dedent(
        """
        import sys, tokenkeep
        store = tokenkeep.TokenStore(sys.argv[1])
        j = 0
        while True:
            issued = store.create("crash", f"t{j}", {"device"})
            print(issued.info.id, issued.secret, flush=True)
            j += 1
        """
    )
    for round_ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", code, db_path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        acknowledged = []
        while len(acknowledged) < 40 + 17 * round_:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            acknowledged.append(line.split())
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
        acknowledged += [line.split() for line in rest.splitlines() if len(line.split()) == 2]

        con = sqlite3.connect(db_path)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        with tokenkeep.TokenStore(db_path) as store:
            live = {t.id for t in store.list("crash")}
            for token_id, secret in acknowledged:
                assert token_id in live
                assert store.check(secret, "device")
        # The next round continues with fresh names.
        with tokenkeep.TokenStore(db_path) as store:
            ids = [t.id for t in store.list("crash")]
            store.revoke_many("crash", ids)


def test_database_wal_and_key_files_are_private(db_path):
    with tokenkeep.TokenStore(db_path) as store:
        store.create("alice", "ci", {"device"})
        for suffix in ("", ".key", "-wal", "-shm"):
            path = db_path + suffix
            assert os.path.exists(path), suffix
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, suffix


def test_database_bytes_contain_no_secret(db_path):
    secrets = []
    with tokenkeep.TokenStore(db_path) as store:
        for i in range(20):
            secrets.append(store.create("alice", f"t{i}", {"device"}).secret)
        rotated = store.rotate("alice", store.list("alice")[0].id)
        secrets.append(rotated.secret)
        for s in secrets[:5]:
            store.check(s)
        blobs = b""
        for suffix in ("", "-wal", "-shm", ".key"):
            if os.path.exists(db_path + suffix):
                with open(db_path + suffix, "rb") as f:
                    blobs += f.read()
    assert len(blobs) > 4096
    for s in secrets:
        secret_part = s[3 + 11 : 3 + 11 + 43]
        assert s.encode() not in blobs
        assert secret_part.encode() not in blobs
        assert secret_part[:16].encode() not in blobs


def test_reopening_keeps_everything_verifiable(db_path):
    with tokenkeep.TokenStore(db_path) as store:
        issued = [
            store.create("alice", f"t{i}", {"device:read"}, expires_in=timedelta(days=i + 1))
            for i in range(10)
        ]
    with tokenkeep.TokenStore(db_path) as store:
        for i in issued:
            assert store.verify(i.secret, "device:read").id == i.info.id
        assert len(store.list("alice")) == 10


def test_read_only_database_file_gives_store_error_and_changes_nothing(db_path):
    """The file is 0444; the child drops every capability, so even root cannot write it."""
    with tokenkeep.TokenStore(db_path) as store:
        issued = store.create("alice", "x", {"device"})
    os.chmod(db_path, 0o444)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            os.chmod(db_path + suffix, 0o444)
    code = textwrap.dedent(
        """
        import sys, tokenkeep
        try:
            store = tokenkeep.TokenStore(sys.argv[1])
            store.create("alice", "y", {"device"})
        except tokenkeep.StoreError as e:
            print("StoreError:", e)
        else:
            print("no error")
        """
    )
    proc = subprocess.run(
        ["setpriv", "--inh-caps=-all", "--bounding-set=-all", sys.executable, "-c", code, db_path],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("StoreError:"), proc.stdout + proc.stderr
    assert "read-only" in proc.stdout or "readonly" in proc.stdout or "ermission" in proc.stdout
    assert issued.secret not in proc.stdout
    os.chmod(db_path, 0o600)
    with tokenkeep.TokenStore(db_path) as store:
        assert [t.name for t in store.list("alice")] == ["x"]


def test_store_error_names_the_reason_for_an_unwritable_directory(tmp_path):
    path = os.path.join(tmp_path, "file-not-dir")
    open(path, "w").close()
    with pytest.raises(StoreError):
        tokenkeep.TokenStore(os.path.join(path, "tokens.db"))


def test_a_store_opened_through_a_symlink_shares_key_and_feed(tmp_path):
    real = str(tmp_path / "real.db")
    link = str(tmp_path / "link.db")
    with tokenkeep.TokenStore(real) as a:
        issued = a.create("alice", "x", {"device"})
        os.symlink(real, link)
        with tokenkeep.TokenStore(link) as b:  # same pepper (key file), same change feed
            assert b.check(issued.secret)
            assert b.check(issued.secret)  # cached now
            a.revoke("alice", issued.info.id)
            assert not b.check(issued.secret)
    assert not os.path.exists(link + ".key") and not os.path.exists(link + "-tkfeed")


@pytest.mark.slow
def test_closing_while_other_threads_verify_never_crashes(tmp_path):
    """close() races verifications that read the database and fail (the error path needs the
    engine after the GIL was released); run in a child so a crash fails this test."""
    code = textwrap.dedent(
        """
        import os, sys, threading, tokenkeep
        for _ in range(30):
            s = tokenkeep.TokenStore(sys.argv[1], cache_size=0)
            tok = s.create("alice", "t", {"device"}).secret
            def work():
                for _ in range(200):
                    try:
                        s.verify(tok, "policy")
                    except (tokenkeep.InsufficientScope, tokenkeep.StoreError):
                        pass
            threads = [threading.Thread(target=work) for _ in range(2)]
            for t in threads: t.start()
            s.close()
            for t in threads: t.join()
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(sys.argv[1] + suffix):
                    os.remove(sys.argv[1] + suffix)
        print("survived")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "race.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "survived"


ONE_SQLITE = os.path.join(os.path.dirname(__file__), "..", "wheel", "one_sqlite.py")


def test_closing_a_store_keeps_the_locks_of_pythons_sqlite3_in_the_same_process():
    """One SQLite per process (ARCHITECTURE, "SQLite"): a sqlite3 connection's write lock
    survives a tokenkeep store opening and closing the same file, as another process sees.
    tests/wheel/check_wheel.sh runs the same script on the wheel, and on a wheel with SQLite
    bundled, where it fails."""
    r = subprocess.run([sys.executable, ONE_SQLITE], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok: one SQLite in the process"), r.stdout
