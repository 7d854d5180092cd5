"""Where a store lives: spellings of one database, folders, symlinks (issue 10, items 1-2, 4)."""

from __future__ import annotations

import os
import stat

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


@pytest.mark.parametrize("query", ["?mode=ro", "?mode=memory", "?immutable=1", "?vfs=unix-none", "#x"])
def test_file_uri_options_are_refused_as_invalid_path(tmp_path, monkeypatch, query):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgument, match="not supported"):
        tokenkeep.TokenStore("file:" + str(tmp_path / "t.db") + query)
    assert os.listdir(tmp_path) == []


def test_postgres_url_is_a_clear_store_error_without_the_password(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # before the fix these made a ./postgresql:/ tree
    with pytest.raises(StoreError, match="PostgreSQL store not available in this build") as e:
        tokenkeep.TokenStore("postgresql://svc:hunter2@db.example/tokens")
    assert "hunter2" not in str(e.value)
    with pytest.raises(StoreError, match="PostgreSQL"):
        tokenkeep.TokenStore("host=/tmp dbname=tokens")
    assert os.listdir(tmp_path) == []
