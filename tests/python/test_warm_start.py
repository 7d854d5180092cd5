"""Warm start (issue 23): a store opened on a database that already holds tokens loads the ones
used recently into its cache in the background, so a restarted worker answers them from memory;
a token revoked while it loads is never served."""

from __future__ import annotations

import os
import random
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import tokenkeep
from tokenkeep import ManualClock

PEPPER = "7e" * 32


def _used_store(path: str, n: int, used: int | None) -> list:
    """n tokens, the first `used` of them (None: all) verified once, in order (their
    last_used_at persisted)."""
    with tokenkeep.TokenStore(path, pepper=PEPPER, warm_start=False) as s:
        issued = s.create_many("alice", [(f"t{i}", ["device"]) for i in range(n)])
        for i in issued[:used]:
            assert s.check(i.secret, "device:read")
    return issued


def test_a_reopened_store_loads_the_tokens_used_before_and_only_those(db_path_both_backends):
    db = db_path_both_backends
    issued = _used_store(db, 2_000, 500)
    with tokenkeep.TokenStore(db, pepper=PEPPER) as s:
        done, loaded, _ = s._e.warm_wait(30)
        assert (done, loaded) == (True, 500)
        assert s._e.cache_size() == 500
        assert all(s.check(i.secret, "device:read") for i in issued[:500])
        assert s._e.cache_size() == 500  # every one of them was a hit
    with tokenkeep.TokenStore(db, pepper=PEPPER, warm_start=False) as cold:
        assert cold._e.warm_wait(30) == (True, 0, 0)
        assert cold._e.cache_size() == 0


def test_warm_start_is_bounded_by_the_cache_and_by_the_last_seven_days(tmp_path):
    db = str(tmp_path / "w.db")
    clock = ManualClock(datetime(2031, 5, 1, tzinfo=UTC))
    with tokenkeep.TokenStore(db, pepper=PEPPER, clock=clock, warm_start=False) as s:
        issued = s.create_many(
            "alice", [(f"t{i}", ["device"]) for i in range(600)], expires_in=timedelta(days=90)
        )
        for i in issued[:300]:  # used 8 days before the reopen: outside the window
            assert s.check(i.secret)
        s._e.uses_flush()
        clock.advance(timedelta(days=8))
        for i in issued[300:500]:
            assert s.check(i.secret)
        revoked = issued[499]
        s.revoke("alice", revoked.info.id)  # used, but revoked: never loaded
    with tokenkeep.TokenStore(db, pepper=PEPPER, clock=clock) as s:
        assert s._e.warm_wait(30)[:2] == (True, 199)
    with tokenkeep.TokenStore(db, pepper=PEPPER, clock=clock, cache_size=64) as s:
        done, loaded, _ = s._e.warm_wait(30)
        assert done and 0 < loaded <= 64 and s._e.cache_size() == loaded
    with tokenkeep.TokenStore(db, pepper=PEPPER, clock=clock, cache_size=0) as s:
        assert s._e.warm_wait(30) == (True, 0, 0)


def test_a_token_revoked_while_the_cache_loads_is_never_served(db_path_both_backends):
    """Revokes race the load: after a revoke returns, the loading store must refuse the token,
    and still refuse it once the load is over (a row read before the revoke must not enter the
    cache after it; half the victims are not verified until then, so no miss caches their
    revoked row first). The victims are among the tokens used last, which the load reads
    first (newest use first), revoked as soon as the loading store is open: the load is reading
    them as the revokes commit. Counted over 12 reopenings of 40,000 used tokens (10,000 on
    PostgreSQL; 96 revokes); at least some revokes must return while the load is still
    running, or the test would be blind."""
    db = db_path_both_backends
    issued = _used_store(db, 10_000 if db.startswith("postgresql:") else 40_000, None)
    last = issued[-4_000:]  # used last: _used_store verifies them in order
    rng = random.Random(23)
    violations, raced, revokes = 0, 0, 0
    revoked: set[str] = set()
    with tokenkeep.TokenStore(db, pepper=PEPPER, warm_start=False) as writer:
        for _run in range(12):
            victims = rng.sample([i for i in last if i.info.id not in revoked], 8)
            with tokenkeep.TokenStore(db, pepper=PEPPER) as loading:
                for n, v in enumerate(victims):
                    writer.revoke("alice", v.info.id)
                    raced += not loading._e.warm_wait(0)[0]
                    revoked.add(v.info.id)
                    revokes += 1
                    # Half are verified at once; the others only after the load, so that no
                    # miss caches their revoked row before the load offers its older copy.
                    if n % 2:
                        violations += loading.check(v.secret)
                assert loading._e.warm_wait(60)[0]
                violations += sum(loading.check(i.secret) for i in issued if i.info.id in revoked)
    assert violations == 0
    assert revokes == 96 and raced > 0, raced


def test_warm_start_is_off_for_a_store_opened_with_warm_start_false(tmp_path):
    db = str(tmp_path / "w.db")
    issued = _used_store(db, 100, 100)
    with tokenkeep.TokenStore(db, pepper=PEPPER, warm_start=False) as s:
        assert s._e.warm_wait(5) == (True, 0, 0)
        assert s.check(issued[0].secret)
        assert s._e.cache_size() == 1
    assert os.path.exists(db)


# Schema 7 had no warm-start index; schema 8 had one of ids only (tokens_recent_use).
_OLDER_SCHEMAS = {
    7: "DROP INDEX tokens_warm; PRAGMA user_version = 7;",
    8: "DROP INDEX tokens_warm; CREATE INDEX tokens_recent_use ON tokens(last_used_at, revoked_at)"
    " WHERE revoked_at IS NULL AND last_used_at IS NOT NULL; PRAGMA user_version = 8;",
}


@pytest.mark.parametrize("version", sorted(_OLDER_SCHEMAS))
def test_an_older_database_gains_the_covering_warm_index_and_warms_from_it(tmp_path, version):
    db = str(tmp_path / "w.db")
    issued = _used_store(db, 300, 120)
    con = sqlite3.connect(db)
    con.executescript(_OLDER_SCHEMAS[version])
    con.close()
    with tokenkeep.TokenStore(db, pepper=PEPPER) as s:
        assert s._e.warm_wait(30)[:2] == (True, 120)
        assert all(s.check(i.secret, "device:read") for i in issued[:120])
        assert s._e.cache_size() == 120  # every one of them was a hit
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == tokenkeep._core.SCHEMA_VERSION
        names = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "tokens_recent_use" not in names
        (sql,) = con.execute("SELECT sql FROM sqlite_master WHERE name = 'tokens_warm'").fetchone()
        assert "WHERE revoked_at IS NULL AND last_used_at IS NOT NULL" in sql
        # Only live tokens ever used are in it: 120 of 300, each row answered by the index.
        query = (
            "SELECT id, digest, owner, scopes FROM tokens INDEXED BY tokens_warm "
            "WHERE revoked_at IS NULL AND last_used_at > 0"
        )
        assert sorted(con.execute(query)) == sorted(
            con.execute(query.replace("INDEXED BY tokens_warm", "NOT INDEXED"))
        )
        assert len(con.execute(query).fetchall()) == 120
        (plan,) = [r[3] for r in con.execute("EXPLAIN QUERY PLAN " + query)]
        assert "COVERING INDEX tokens_warm" in plan
    finally:
        con.close()


def test_records_stay_out_of_the_cyclic_gc_so_first_verifications_do_not_feed_collections(tmp_path):
    """A restarted worker builds one TokenInfo per token on its first verifications and keeps
    them (verify's memo): tracked, every collection traversed them all (16% of that path,
    perf). They hold only strings, datetimes, None and frozensets of strings, so no cycle can
    pass through one: they are built untracked, and reference counting frees them."""
    import gc
    import sys

    db = str(tmp_path / "w.db")
    issued = _used_store(db, 50, 50)
    s = tokenkeep.TokenStore(db, pepper=PEPPER)
    s._e.warm_wait(30)
    infos = [s.verify(i.secret, "device:read") for i in issued]
    fresh = s.create("alice", "fresh", {"device"})
    records = [*infos, s.get("alice", issued[0].info.id), *s.list("alice"), fresh, fresh.info]
    assert {type(r).__name__ for r in records} == {"TokenInfo", "IssuedToken"}
    assert [r for r in records if gc.is_tracked(r)] == []
    assert [i.id for i in infos] == [i.info.id for i in issued]
    # The memo holds the one a second verification returns; closing the store lets it go.
    one = infos[0]
    assert s.verify(issued[0].secret, "device:read") is one
    held = sys.getrefcount(one)
    s.close()
    assert sys.getrefcount(one) == held - 1


def test_a_postgresql_schema_8_gains_the_warm_index_and_warms_from_it(pg_url):
    import subprocess

    def psql(sql: str) -> str:  # the URL's options set the test's schema as search_path
        return subprocess.run(
            ["psql", "-qtA", pg_url, "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    issued = _used_store(pg_url, 300, 120)
    psql(
        "DROP TABLE tokenkeep_audit_batch; DROP INDEX tokenkeep_tokens_recent;"
        " UPDATE tokenkeep_schema SET version = 8"
    )
    with tokenkeep.TokenStore(pg_url, pepper=PEPPER) as s:
        assert s._e.warm_wait(30)[:2] == (True, 120)
        assert all(s.check(i.secret, "device:read") for i in issued[:120])
        assert s._e.cache_size() == 120  # every one of them was a hit
    out = psql(
        "SELECT version FROM tokenkeep_schema; SELECT indexdef FROM pg_indexes"
        " WHERE indexname = 'tokenkeep_tokens_recent' AND schemaname = current_schema()"
    ).split("\n")
    assert out[0] == "10"
    assert "WHERE ((revoked_at IS NULL) AND (last_used_at IS NOT NULL))" in out[1]
