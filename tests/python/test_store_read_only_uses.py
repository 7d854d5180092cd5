"""A read-only store records no use, and says so: its verify, get, list and scope usage report
the last recorded use, on SQLite and PostgreSQL (issue 22: `tokenkeep verify --json` printed
last_used_at = now while `show` said "never")."""

from __future__ import annotations

import os

import pytest
import tokenkeep

PG_PEPPER = "5c" * 32


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def location(request, tmp_path, monkeypatch) -> str:
    if request.param == "sqlite":
        return os.path.join(tmp_path, "tokens.db")
    monkeypatch.setenv("TOKENKEEP_PEPPER", PG_PEPPER)
    return request.getfixturevalue("pg_url")


def test_read_only_verifications_report_the_recorded_use(location):
    with tokenkeep.TokenStore(location) as writer:
        fresh = writer.create("alice", "fresh", {"device"})
        used = writer.create("alice", "used", {"device", "policy"})
        writer.verify(used.secret, "device:read")
        writer._e.uses_flush()
        recorded = writer.get("alice", used.info.id).last_used_at
        assert recorded is not None
    with tokenkeep.TokenStore(location, read_only=True) as reader:
        disagree = []
        for _ in range(50):
            for issued, want in ((fresh, None), (used, recorded)):
                seen = [
                    reader.verify(issued.secret, "device:write").last_used_at,
                    reader.get("alice", issued.info.id).last_used_at,
                    next(t for t in reader.list("alice") if t.id == issued.info.id).last_used_at,
                ]
                disagree += [(issued.info.name, s) for s in seen if s != want]
        assert disagree == []
        # the device:write checks above were not recorded either
        assert reader.scope_usage("alice", used.info.id) == frozenset({"device:read"})
    with tokenkeep.TokenStore(location) as writer:  # and nothing reached the database
        assert writer.get("alice", fresh.info.id).last_used_at is None
        assert writer.get("alice", used.info.id).last_used_at == recorded
