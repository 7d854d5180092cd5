"""The files beside a database: loose or planted key and feed files (issue 10, item 5)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest
import tokenkeep
from tokenkeep import StoreError

SCRATCH_UID = 54321  # no such user: a file "planted by someone else" (the tests run as root)


@pytest.fixture
def made(db_path):
    """A store with its key and feed files, closed again."""
    with tokenkeep.TokenStore(db_path) as store:
        store.create("alice", "ci", {"device"})
    return db_path


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_a_key_file_others_can_access_is_refused_like_ssh(made, loose):
    key = made + ".key"
    os.chmod(key, loose)
    with pytest.raises(StoreError) as e:
        tokenkeep.TokenStore(made)
    assert str(e.value) == (
        f"key file {key} has mode {loose:04o}; it must not be accessible by group or others (chmod 600 {key})"
    )
    os.chmod(key, 0o600)
    tokenkeep.TokenStore(made).close()


@pytest.mark.parametrize(("suffix", "what"), [(".key", "key file"), ("-tkfeed", "change feed")])
@pytest.mark.parametrize("read_only", [False, True])
def test_a_key_or_feed_file_owned_by_another_user_is_refused(made, suffix, what, read_only):
    path = made + suffix
    os.chown(path, SCRATCH_UID, SCRATCH_UID)
    with pytest.raises(StoreError, match=f"{what} {path} is owned by uid {SCRATCH_UID}"):
        tokenkeep.TokenStore(made, read_only=read_only)
    os.chown(path, 0, 0)
    tokenkeep.TokenStore(made, read_only=read_only).close()


def test_files_owned_like_the_database_are_trusted_by_root(made):
    """`sudo tokenkeep revoke` beside a service's database: the service user's files are fine."""
    for path in (made, made + ".key", made + "-tkfeed"):
        os.chown(path, SCRATCH_UID, SCRATCH_UID)
    tokenkeep.TokenStore(made).close()


def test_a_feed_file_others_can_write_is_refused(made):
    os.chmod(made + "-tkfeed", 0o622)
    with pytest.raises(StoreError, match="must not be writable by group or others"):
        tokenkeep.TokenStore(made)


def test_a_planted_key_beside_a_new_database_is_refused_and_the_new_database_removed(tmp_path):
    db = str(tmp_path / "t.db")
    with open(db + ".key", "w") as f:
        f.write("ab" * 32 + "\n")
    os.chmod(db + ".key", 0o644)
    with pytest.raises(StoreError, match="has mode 0644"):
        tokenkeep.TokenStore(db)
    assert sorted(os.listdir(tmp_path)) == ["t.db.key"]  # the open removed what it made, only


def test_a_database_replaced_by_a_backup_restore_is_noticed_not_served_from_cache(tmp_path):
    """Item 3: a process kept accepting a token revoked through the restored file."""
    db = str(tmp_path / "t.db")
    with tokenkeep.TokenStore(db) as a:
        issued = a.create("alice", "ci", {"device"})
        assert a.check(issued.secret) and a.check(issued.secret)  # cached
        src, dst = sqlite3.connect(db), sqlite3.connect(db + ".restore")
        src.backup(dst)  # the backup holds the token
        src.close(), dst.close()
        os.replace(db + ".restore", db)  # the restore: mv over the open file
        revoke = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, tokenkeep; tokenkeep.TokenStore(sys.argv[1]).revoke('alice', sys.argv[2])",
                db,
                issued.info.id,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert revoke.returncode == 0, revoke.stderr
        with pytest.raises(
            StoreError, match="was replaced or removed after this store opened it; reopen"
        ):
            a.check(issued.secret)
        with pytest.raises(StoreError, match="replaced or removed"):
            a.create("alice", "other", {"device"})
    with tokenkeep.TokenStore(db) as reopened:
        assert not reopened.check(issued.secret)


def test_writes_on_a_deleted_database_raise_instead_of_vanishing(tmp_path):
    db = str(tmp_path / "t.db")
    with tokenkeep.TokenStore(db) as a:
        issued = a.create("alice", "ci", {"device"})
        assert a.check(issued.secret) and a.check(issued.secret)
        os.unlink(db)
        with pytest.raises(StoreError, match="replaced or removed"):
            a.create("alice", "lost", {"device"})
        with pytest.raises(StoreError, match="replaced or removed"):
            a.revoke("alice", issued.info.id)
        time.sleep(0.3)  # the background thread has re-checked: no cache hit either
        with pytest.raises(StoreError, match="replaced or removed"):
            a.check(issued.secret)


def test_a_revoke_through_a_restored_file_is_refused_by_the_next_miss_at_once(tmp_path):
    """Verification's lookup re-stats the file only when the change feed moved (issue 23), not
    on every read: a revoke made through a file moved over the open one moves the feed, so
    the very next verify (a miss: cache_size=0) stats, finds another file and refuses. The
    background re-stat (every 100 ms) is not given time to run first; 20 rounds, 0 accepts."""
    accepted = 0
    for r in range(20):
        db = str(tmp_path / f"t{r}.db")
        with tokenkeep.TokenStore(db, cache_size=0) as a:
            issued = a.create("alice", "ci", {"device"})
            assert a.check(issued.secret)
            src, dst = sqlite3.connect(db), sqlite3.connect(db + ".restore")
            src.backup(dst)
            src.close(), dst.close()
            os.replace(db + ".restore", db)
            with tokenkeep.TokenStore(db) as b:
                b.revoke("alice", issued.info.id)
            with pytest.raises(StoreError, match="replaced or removed"):
                accepted += bool(a.check(issued.secret))
    assert accepted == 0
