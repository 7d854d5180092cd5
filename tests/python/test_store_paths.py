"""Where a store lives: spellings of one database, folders, symlinks (issue 10, items 1-2, 4)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import pytest
import tokenkeep
from tokenkeep import InvalidArgument, StoreError


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_file_uri_spellings_are_one_database_with_one_key_and_feed(tmp_path, monkeypatch):
    """Item 1: file:/abs, file:rel and the plain path share the file, its pepper and its feed."""
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "t.db")
    with tokenkeep.TokenStore("file:" + db) as by_uri:
        assert mode(db) == 0o600
        assert mode(db + ".key") == 0o600
        issued = by_uri.create("alice", "ci", {"device"})
        with tokenkeep.TokenStore(db) as by_path, tokenkeep.TokenStore("file:t.db") as by_rel:
            assert by_path.check(issued.secret) and by_path.check(issued.secret)  # cached
            by_rel.revoke("alice", issued.info.id)
            assert not by_path.check(issued.secret)
            assert not by_uri.check(issued.secret)
    assert sorted(os.listdir(tmp_path)) == ["t.db", "t.db-tkfeed", "t.db.key"]


@pytest.mark.parametrize(
    "query", ["?mode=ro", "?mode=memory", "?immutable=1", "?vfs=unix-none", "#x"]
)
def test_file_uri_options_are_refused_as_invalid_path(tmp_path, monkeypatch, query):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgument, match="not supported"):
        tokenkeep.TokenStore("file:" + str(tmp_path / "t.db") + query)
    assert os.listdir(tmp_path) == []


def test_postgres_url_is_a_clear_store_error_without_the_password(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # before the fix these made a ./postgresql:/ tree
    monkeypatch.delenv("TOKENKEEP_PEPPER", raising=False)
    with pytest.raises(StoreError, match="PostgreSQL store needs its pepper") as e:
        tokenkeep.TokenStore("postgresql://svc:hunter2@db.example/tokens")
    assert "hunter2" not in str(e.value)
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL database 'tokens'") as e:
        tokenkeep.TokenStore("postgresql://svc:hunter2@/tokens?host=/nonexistent", pepper="ab" * 32)
    assert "hunter2" not in str(e.value)
    with pytest.raises(StoreError, match="PostgreSQL"):
        tokenkeep.TokenStore("host=/nonexistent dbname=tokens", pepper="ab" * 32)
    assert os.listdir(tmp_path) == []


def test_dangling_symlink_is_refused_and_its_target_not_created(tmp_path):
    """Item 2: SQLite used to create the symlink's target with the umask's mode (0644)."""
    link = tmp_path / "t.db"
    os.symlink(tmp_path / "elsewhere.db", link)
    with pytest.raises(InvalidArgument, match="symlink to a missing file") as e:
        tokenkeep.TokenStore(str(link))
    assert str(link) in str(e.value)
    assert sorted(os.listdir(tmp_path)) == ["t.db"]  # the link only


def test_missing_folder_is_a_store_error_naming_the_path_and_creates_nothing(tmp_path):
    """Item 4: a mistyped folder used to be created silently (an empty store)."""
    db = tmp_path / "typo" / "sub" / "t.db"
    with pytest.raises(StoreError, match="does not exist") as e:
        tokenkeep.TokenStore(str(db))
    assert str(db) in str(e.value) and "create_dirs=True" in str(e.value)
    assert os.listdir(tmp_path) == []
    with tokenkeep.TokenStore(str(db), create_dirs=True) as store:
        store.create("alice", "ci", {"device"})
    assert mode(tmp_path / "typo") == 0o700 and mode(tmp_path / "typo" / "sub") == 0o700


def test_the_default_location_is_created_for_a_first_time_user(tmp_path, monkeypatch):
    monkeypatch.delenv("TOKENKEEP_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with tokenkeep.TokenStore() as store:
        store.create("alice", "ci", {"device"})
    assert mode(tmp_path / "xdg" / "tokenkeep") == 0o700
    assert mode(tmp_path / "xdg" / "tokenkeep" / "tokens.db") == 0o600


def test_a_device_is_no_database_and_gets_no_journal_beside_it():
    """Item 4: opening /dev/null as root left /dev/null-journal (mode 0666)."""
    had_journal = os.path.exists("/dev/null-journal")
    try:
        with pytest.raises(StoreError, match="not a regular file"):
            tokenkeep.TokenStore("/dev/null")
        assert had_journal or not os.path.exists("/dev/null-journal")
    finally:
        if not had_journal and os.path.exists("/dev/null-journal"):
            os.unlink("/dev/null-journal")


def run_in_private_mounts(shell: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs `shell` as root in a private mount namespace (mounts vanish with it)."""
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-ec", shell],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PY=sys.executable),
    )


FULL_DISK_OPEN = textwrap.dedent(
    """
    import os, sys, tokenkeep
    mnt = sys.argv[1]
    try:
        tokenkeep.TokenStore(os.path.join(mnt, "a", "b", "t.db"), create_dirs=True)
    except tokenkeep.StoreError as e:
        print("StoreError:", e)
    print(sorted(os.listdir(mnt)))
    """
)


def test_a_failed_open_on_a_full_disk_leaves_nothing_behind(tmp_path):
    """Item 4: a full disk used to leave an empty database and its folders."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = tmp_path / "open.py"
    script.write_text(FULL_DISK_OPEN)
    r = run_in_private_mounts(
        f"mount -t tmpfs -o size=64k tmpfs {mnt}\n"
        f"dd if=/dev/zero of={mnt}/filler bs=4k count=1000 2>/dev/null || true\n"
        f'"$PY" {script} {mnt}\n'
    )
    assert r.returncode == 0, r.stderr
    assert "StoreError:" in r.stdout and "disk is full" in r.stdout, r.stdout
    assert r.stdout.strip().endswith("['filler']"), r.stdout


READ_ONLY_CHILD = textwrap.dedent(
    """
    import sys, tokenkeep
    db, secret = sys.argv[1], sys.stdin.read().strip()
    with tokenkeep.TokenStore(db, read_only=True) as store:
        print("verified", store.verify(secret, "device:read").name)
        print("listed", [t.name for t in store.list("alice")])
        print("audit", len(store.audit()))
    try:
        tokenkeep.TokenStore(db)
    except tokenkeep.StoreError as e:
        print("writable refused:", e)
    """
)


@pytest.mark.parametrize("leftover", [False, True])
def test_read_only_store_works_on_a_read_only_mount(tmp_path, leftover):
    """Item 6: read_only=True failed on a read-only file system. `leftover`: a -wal and -shm
    left by a writer that was killed (they exist, and cannot be written)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    db = str(folder / "t.db")
    with tokenkeep.TokenStore(db) as store:
        secret = store.create("alice", "ci", {"device"}).secret
        if leftover:
            subprocess.run(["cp", db + "-wal", db + "-shm", str(tmp_path)], check=True)
    if leftover:
        subprocess.run(
            ["cp", str(tmp_path / "t.db-wal"), str(tmp_path / "t.db-shm"), str(folder)], check=True
        )
    script = tmp_path / "child.py"
    script.write_text(READ_ONLY_CHILD)
    r = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-ec",
            f'mount --bind {folder} {folder}; mount -o remount,ro,bind {folder}; "$PY" {script} {db}',
        ],
        input=secret,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PY=sys.executable),
    )
    assert r.returncode == 0, r.stderr
    assert "verified ci" in r.stdout and "listed ['ci']" in r.stdout and "audit 1" in r.stdout, (
        r.stdout
    )
    assert "writable refused:" in r.stdout, r.stdout
